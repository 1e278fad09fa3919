## Clusters of a graph for graph-cluster randomisation (Ugander, Karrer,
## Backstrom and Kleinberg 2013): community detection is igraph's (Suggests);
## this file turns edges into an igraph graph and the membership into one
## cluster id per unit with the share of edges cut.

#' Clusters of a graph for graph-cluster randomisation
#'
#' Splits the units of a network into clusters with few edges between them,
#' so that randomising whole clusters leaves most neighbours in the same arm
#' (graph-cluster randomisation; Ugander, Karrer, Backstrom and Kleinberg
#' 2013). Community detection is done by 'igraph'.
#'
#' @inheritParams network_exposure
#' @param method `"louvain"` (the default, [igraph::cluster_louvain()]),
#'   `"components"` (connected components, [igraph::components()]),
#'   `"walktrap"` ([igraph::cluster_walktrap()]) or `"label_prop"`
#'   ([igraph::cluster_label_prop()]).
#' @param units `NULL` (the units are the ids in `edges`) or a vector of all
#'   unit ids, so that units without edges get clusters of their own.
#' @param ... Passed to the igraph function (such as `resolution` of
#'   Louvain, `steps` of walktrap).
#'
#' @details
#' The graph is taken as undirected, with self-loops dropped and duplicate
#' edges merged (their weights summed), as in [network_exposure()]. The
#' algorithms other than `"components"` are randomised: they use R's RNG, so
#' `set.seed()` reproduces the clusters. The result can be given to a
#' cluster design, `list(type = "cluster", clusters = <result>, treated = 20)`,
#' of [exposure_effects()] and [spillover_test()], and its `$clusters$cluster`
#' column is the cluster variable of [cluster_lm()], [vcov_cluster()] or
#' [randomization_test()] once the units are joined to it.
#'
#' @return A list of class `graph_clusters` with `clusters`, a
#'   [data.table][data.table::data.table] with one row per unit (columns
#'   `unit`, named by `unit`, and `cluster`, an integer id), `n_clusters`,
#'   `sizes` (units per cluster), `cut_share` (the share of edges joining two
#'   clusters), `cut_weight_share` (the share of the edge weight, with
#'   `weight`) and `method`.
#' @references Ugander, J., Karrer, B., Backstrom, L. and Kleinberg, J.
#'   (2013). Graph cluster randomization: network exposure to multiple
#'   universes. *Proceedings of KDD 2013*, 329-337.
#' @seealso [network_exposure()], [exposure_effects()].
#' @examples
#' if (requireNamespace("igraph", quietly = TRUE)) {
#'   set.seed(1)
#'   edges <- data.frame(from = c(1, 1, 2, 4, 4, 5, 3), to = c(2, 3, 3, 5, 6, 6, 4))
#'   gc <- graph_clusters(edges)
#'   print(gc)
#'   print(gc$clusters)
#' }
#' @export
graph_clusters <- function(edges, method = c("louvain", "components", "walktrap", "label_prop"),
                           from = "from", to = "to", weight = NULL, units = NULL,
                           unit = "unit", ...) {
  method <- arg_match(method, c("louvain", "components", "walktrap", "label_prop"),
                      what = "method")
  if (!requireNamespace("igraph", quietly = TRUE)) {
    abort("graph_clusters() needs the 'igraph' package: install.packages(\"igraph\").",
          class = "clusterab_missing_package")
  }
  if (!is.character(unit) || length(unit) != 1L || is.na(unit)) {
    abort("`unit` must be a single column name for the unit ids, such as \"unit\".")
  }
  if (is.null(units)) {
    if (!is.data.frame(edges)) abort("`edges` must be a data frame with one row per edge (columns `from` and `to`).")
    ends <- c(id_values(edges[[from]]), id_values(edges[[to]]))
    units <- ends[!duplicated(ends)]
    if (length(units) == 0L) abort("`edges` has no edges; give `units` to cluster units without edges.")
  } else {
    check_unit_ids(units, "units")
  }
  graph <- network_graph(edges, units, from, to, weight, directed = FALSE, units_arg = "units")
  n <- graph$n
  ## each undirected edge once: the in-list entries with the neighbour's code
  ## above the unit's
  to_code <- graph_receivers(graph)
  keep <- graph$nbr + 1L > to_code
  a <- to_code[keep]
  b <- graph$nbr[keep] + 1L
  w <- if (graph$weighted) graph$wt[keep] else rep(1, sum(keep))
  g <- igraph::make_empty_graph(n = n, directed = FALSE)
  g <- igraph::add_edges(g, as.vector(rbind(a, b)))
  ew <- if (graph$weighted) w else NULL
  membership <- switch(method,
    louvain = igraph::membership(igraph::cluster_louvain(g, weights = ew, ...)),
    components = igraph::components(g, ...)$membership,
    walktrap = igraph::membership(igraph::cluster_walktrap(g, weights = ew, ...)),
    label_prop = igraph::membership(igraph::cluster_label_prop(g, weights = ew, ...)))
  membership <- as.integer(membership)
  ## clusters numbered by first appearance among the units
  cluster <- match(membership, unique(membership))
  cut <- cluster[a] != cluster[b]
  clusters <- data.table::data.table(unit = units, cluster = cluster)
  data.table::setnames(clusters, "unit", unit)
  structure(list(clusters = clusters, n_clusters = max(cluster, 0L),
                 sizes = tabulate(cluster, max(cluster, 0L)),
                 cut_share = if (length(a)) mean(cut) else 0,
                 cut_weight_share = if (graph$weighted) {
                   if (sum(w) > 0) sum(w[cut]) / sum(w) else 0
                 },
                 method = method, n_edges = length(a)),
            class = "graph_clusters")
}

#' @export
print.graph_clusters <- function(x, ...) {
  cat(sprintf("Graph clusters (%s): %s units in %s clusters (sizes %s to %s, median %s)\n",
              x$method, format(sum(x$sizes), big.mark = ","), format(x$n_clusters, big.mark = ","),
              min(x$sizes), max(x$sizes), format(stats::median(x$sizes))))
  cat(sprintf("%s of %s edges cut (%.1f%%)%s\n", format(round(x$cut_share * x$n_edges), big.mark = ","),
              format(x$n_edges, big.mark = ","), 100 * x$cut_share,
              if (!is.null(x$cut_weight_share)) sprintf("; %.1f%% of the edge weight", 100 * x$cut_weight_share) else ""))
  invisible(x)
}
