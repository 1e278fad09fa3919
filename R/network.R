## Network interference: how exposed each unit is to treated neighbours, and
## the graph every network function works on (network_graph()): unit ids and
## edge ends -> integer codes once, then in-neighbour lists built in C++
## (src/network.cpp).

#' Exposure of each unit to treated neighbours
#'
#' For every unit of an experiment on a network (a social graph, a
#' marketplace, referrals), the number of neighbours, how many of them are
#' treated and the share treated: the first thing to look at when outcomes
#' may depend on neighbours' treatment, since a control unit with treated
#' neighbours is partly treated.
#'
#' @param edges A data frame of edges, one row per edge, with the two ends in
#'   columns `from` and `to` (ids of any type: integer, numeric, character or
#'   factor; compared as values, factors by their labels).
#' @param treatment Each unit's assignment: a data frame with the unit ids in
#'   column `unit` and the assignment in its one other column, or a vector
#'   named by unit id. The assignment is 0/1, `TRUE`/`FALSE` or a two-level
#'   arm (the control level is recognised as in [randomization_test()]:
#'   control/treatment, A/B, 0/1, factor order). Every unit appearing in
#'   `edges` must be in `treatment`; units with no edges are isolated.
#' @param from,to Names of the columns of `edges` holding its ends.
#' @param weight `NULL` (every edge counts 1) or the name of a column of
#'   `edges` with non-negative edge weights.
#' @param directed `FALSE` (the default): an edge joins its two ends, each a
#'   neighbour of the other. `TRUE`: the treatment of `from` reaches `to` (as a
#'   post from a followed account reaches a follower), so a unit's neighbours
#'   are the units with an edge *to* it.
#' @param unit Name of the column of `treatment` with the unit ids, and of
#'   the id column of the result.
#'
#' @details
#' Self-loops (`from` equal to `to`) are dropped: a unit's own treatment is
#' not exposure. Duplicate edges are merged: a neighbour counts once in
#' `degree` however many edges join the two units (in an undirected graph
#' `a - b` and `b - a` are the same edge), and with `weight` the weights of
#' duplicates are summed. The numbers dropped and merged are kept in the
#' attributes `self_loops` and `duplicates`.
#'
#' The edges are mapped to integer codes once and counted in one C++ pass
#' (1e7 edges on 1e6 units take about 0.6 s on two cores: `bench/bench_network.R`).
#'
#' @return A [data.table][data.table::data.table] with one row per unit of
#'   `treatment`, in its order, and columns `unit` (named by `unit`),
#'   `degree` (the number of distinct neighbours), `treated_neighbours` (how
#'   many of them are treated; with `weight`, the total weight of the edges
#'   from treated neighbours) and `exposure` (the share treated:
#'   `treated_neighbours / degree`, or the treated share of the total weight).
#'   With `weight` there is also `total_weight`. Isolated units (degree 0, or
#'   total weight 0) have `exposure` 0.
#' @seealso [exposure_effects()] for estimates by exposure condition,
#'   [spillover_test()] to test for spillovers, [graph_clusters()] for
#'   graph-cluster randomisation.
#' @examples
#' edges <- data.frame(from = c("a", "a", "b", "c"), to = c("b", "c", "c", "d"))
#' arm <- c(a = 1, b = 0, c = 0, d = 0, e = 1)
#' network_exposure(edges, arm)
#' @export
network_exposure <- function(edges, treatment, from = "from", to = "to", weight = NULL,
                             directed = FALSE, unit = "unit") {
  assigned <- treatment_by_unit(treatment, unit)
  graph <- network_graph(edges, assigned$units, from, to, weight, directed)
  treated <- cpp_network_treated(graph$start, graph$nbr, graph$wt, assigned$treated)
  out <- data.table::data.table(unit = assigned$units, degree = graph$degree,
                                treated_neighbours = treated,
                                exposure = exposure_share(treated, graph$strength))
  if (graph$weighted) data.table::set(out, j = "total_weight", value = graph$strength)
  data.table::setnames(out, "unit", unit)
  data.table::setattr(out, "self_loops", graph$self_loops)
  data.table::setattr(out, "duplicates", graph$duplicates)
  out[]
}

exposure_share <- function(treated, total) ifelse(total > 0, treated / total, 0)

## `treatment` of network_exposure() -> list(units, treated: 0/1 integer),
## from a data frame with the ids in column `unit` and the assignment in its
## one other column, or from a named vector.
treatment_by_unit <- function(treatment, unit = "unit", arg = "treatment") {
  if (!is.character(unit) || length(unit) != 1L || is.na(unit)) {
    abort("`unit` must be the name of the column with the unit ids, such as \"unit\".")
  }
  if (is.data.frame(treatment)) {
    if (!unit %in% names(treatment)) {
      abort(sprintf("`%s` has no column `%s` with the unit ids; its columns are %s. Set `unit = ` to the id column.",
                    arg, unit, paste0("`", names(treatment), "`", collapse = ", ")))
    }
    other <- setdiff(names(treatment), unit)
    if (length(other) != 1L) {
      abort(sprintf("`%s` must have two columns, the unit id `%s` and the assignment; it has %s. Keep only those two (such as %s[, c(\"%s\", \"treated\")]).",
                    arg, unit, if (length(other)) paste0("`", other, "`", collapse = ", ") else "no other",
                    arg, unit))
    }
    ids <- treatment[[unit]]
    values <- treatment[[other]]
  } else if (is.atomic(treatment) && is.null(dim(treatment)) && !is.null(names(treatment))) {
    ids <- names(treatment)
    values <- unname(treatment)
  } else {
    abort(sprintf("`%s` must be a data frame with columns `%s` and the assignment, or a vector of assignments named by unit id.",
                  arg, unit))
  }
  check_unit_ids(ids, arg)
  list(units = ids, treated = binary_assignment(values, arg))
}

## 0/1 integer from 0/1, logical or a two-level arm.
binary_assignment <- function(values, arg) {
  if (!is.atomic(values) || is.null(values) || is.complex(values) || is.raw(values) ||
      !is.null(dim(values))) {
    abort(sprintf("the assignment in `%s` must be 0/1, TRUE/FALSE or a two-level arm.", arg))
  }
  if (anyNA(values)) {
    abort(sprintf("the assignment in `%s` has %d missing value(s); every unit needs an arm (drop the units without one, and their edges).",
                  arg, sum(is.na(values))))
  }
  if (is.logical(values)) return(as.integer(values))
  if (is.numeric(values) && !is.factor(values) && all(values %in% c(0, 1))) return(as.integer(values))
  arms <- unique(as.character(values))
  if (length(arms) > 2L) {
    abort(sprintf("the assignment in `%s` has %d arms (%s); network exposure needs two, treated and control: recode it to 0/1.",
                  arg, length(arms), paste0("\"", utils::head(arms, 4L), "\"", collapse = ", ")))
  }
  if (length(arms) < 2L) {
    abort(sprintf("the assignment in `%s` has one value only (\"%s\"); give it as 0/1 or TRUE/FALSE to say whether that is treatment or control.",
                  arg, arms))
  }
  levels <- arm_values(values, NULL, arg, "control", "control arm")
  as.integer(as.character(values) != as.character(levels[1L]))
}

check_unit_ids <- function(ids, arg) {
  if (!is.atomic(ids) || is.null(ids) || length(ids) == 0L) {
    abort(sprintf("`%s` has no unit ids.", arg))
  }
  if (anyNA(ids)) {
    abort(sprintf("the unit ids of `%s` have %d missing value(s); every unit needs an id.",
                  arg, sum(is.na(ids))))
  }
  dup <- anyDuplicated(ids)
  if (dup) {
    abort(sprintf("unit \"%s\" appears more than once in `%s`; give each unit one row.",
                  format(ids[dup]), arg))
  }
}

## Ids of any type as values that compare equal across vectors: factors by
## their labels, everything else as it is (c() does the rest).
id_values <- function(x) if (is.factor(x)) as.character(x) else x

## The graph of the network functions: the edges' ends matched to `units`
## (codes 0..n-1 in the order of units), in-neighbour lists from C++, and the
## transpose (out-neighbours) when `transpose` is TRUE. The lists are the
## same for any number of `threads`.
network_graph <- function(edges, units, from = "from", to = "to", weight = NULL,
                          directed = FALSE, transpose = FALSE, units_arg = "treatment",
                          threads = resolve_threads(NULL)) {
  if (!is.data.frame(edges)) {
    abort("`edges` must be a data frame with one row per edge (columns `from` and `to`).")
  }
  for (a in c("from", "to")) {
    nm <- get(a)
    if (!is.character(nm) || length(nm) != 1L || is.na(nm)) {
      abort(sprintf("`%s` must be the name of a column of `edges`, such as \"%s\".", a, a))
    }
    if (!nm %in% names(edges)) {
      abort(sprintf("`edges` has no column `%s` (`%s`); its columns are %s.", nm, a,
                    paste0("`", names(edges), "`", collapse = ", ")))
    }
  }
  if (!isTRUE(directed) && !isFALSE(directed)) abort("`directed` must be TRUE or FALSE.")
  a <- edges[[from]]
  b <- edges[[to]]
  for (end in list(list(a, from), list(b, to))) {
    if (!is.atomic(end[[1L]]) || is.complex(end[[1L]]) || is.raw(end[[1L]])) {
      abort(sprintf("column `%s` of `edges` must hold unit ids (integer, numeric, character or factor).",
                    end[[2L]]))
    }
    if (anyNA(end[[1L]])) {
      abort(sprintf("column `%s` of `edges` has %d missing id(s); drop those edges.", end[[2L]],
                    sum(is.na(end[[1L]]))))
    }
  }
  w <- numeric(0)
  if (!is.null(weight)) {
    if (!is.character(weight) || length(weight) != 1L || is.na(weight) || !weight %in% names(edges)) {
      abort(sprintf("`weight` must be NULL or the name of a column of `edges`; %s is not one.",
                    describe_value(weight)))
    }
    w <- edges[[weight]]
    if (!is.numeric(w) || is.object(w)) {
      abort(sprintf("the weights (column `%s` of `edges`) must be numeric.", weight))
    }
    bad <- !is.finite(w) | w < 0
    if (any(bad)) {
      abort(sprintf("the weights (column `%s` of `edges`) must be finite and non-negative; %d are not (the first at row %d).",
                    weight, sum(bad), which(bad)[1L]))
    }
    w <- as.double(w)
  }
  n <- length(units)
  m <- length(a)
  ids <- c(id_values(units), id_values(a), id_values(b))
  coded <- cluster_codes(ids, "the unit ids")
  ## the units come first and are distinct, so any further code is an edge
  ## end that is not a unit
  if (coded$G > n) {
    unknown <- ids[coded$first[coded$first > n]]
    abort(sprintf("`edges` has %d unit id(s) that are not in `%s`, such as %s; give every unit its assignment (0 for units that could not be treated), or drop their edges.",
                  length(unknown), units_arg, paste0("\"", format(utils::head(unknown, 3L)), "\"", collapse = ", ")),
          class = "clusterab_unknown_unit")
  }
  rm(ids)
  g <- cpp_network_graph(coded$codes, n, n, m, w, directed, FALSE, threads)
  g$n <- n
  g$weighted <- !is.null(weight)
  g$directed <- directed
  if (transpose) {
    g$transpose <- if (directed) cpp_network_graph(coded$codes, n, n, m, w, TRUE, TRUE, threads) else g[c("start", "nbr", "wt")]
  }
  g
}

## Whether each unit is exposed under the assignment `z` (one 0/1 per unit):
## the R twin of the C++ Mapping (src/network.h), the same comparisons in
## the same order, so the observed conditions are those the draws produce.
exposed_units <- function(graph, z, threshold) {
  treated <- cpp_network_treated(graph$start, graph$nbr, graph$wt, as.integer(z))
  if (threshold <= 0) treated > 0 else graph$strength > 0 & treated / graph$strength >= threshold
}

## The unit (1-based) whose in-list holds each entry of graph$nbr.
graph_receivers <- function(graph) rep.int(seq_len(graph$n), diff(graph$start))

## `design` of exposure_effects() and spillover_test() -> the assignment
## blocks (units, or the clusters of a cluster-randomised design) as codes
## 0..B-1 per unit, the observed assignment per block, and how the blocks
## are drawn: list(type, bernoulli, p, m, block, n_blocks, block_treated).
## The observed assignment must be one the design can produce.
network_design <- function(design, units, treated, unit = "unit") {
  types <- c("bernoulli", "complete", "cluster")
  if (!is.list(design) || is.data.frame(design) || !is.character(design$type) ||
      length(design$type) != 1L || !design$type %in% types) {
    abort("`design` must be a list naming the randomisation actually used: list(type = \"bernoulli\", p = 0.4), list(type = \"complete\", treated = 500) or list(type = \"cluster\", clusters = <one id per unit>, treated = 20).")
  }
  known <- switch(design$type, bernoulli = c("type", "p"), complete = c("type", "treated"),
                  cluster = c("type", "clusters", "treated"))
  extra <- setdiff(names(design), known)
  if (length(extra)) {
    abort(sprintf("`design` of type \"%s\" takes %s; it also has %s.", design$type,
                  paste0("`", known, "`", collapse = ", "), paste0("`", extra, "`", collapse = ", ")))
  }
  n <- length(units)
  if (design$type == "bernoulli") {
    p <- design$p
    if (!is.numeric(p) || length(p) != 1L || is.na(p) || p <= 0 || p >= 1) {
      abort("in `design`, `p` (the probability that each unit is treated) must be a single number between 0 and 1 (exclusive), such as 0.4.")
    }
    return(list(type = "bernoulli", bernoulli = TRUE, p = p, m = 0L, block = seq_len(n) - 1L,
                n_blocks = n, block_treated = treated))
  }
  if (design$type == "complete") {
    block <- seq_len(n) - 1L
    block_treated <- treated
    what <- "units"
  } else {
    block <- design_clusters(design$clusters, units, unit)
    nb <- max(block) + 1L
    first <- match(seq_len(nb) - 1L, block)
    block_treated <- treated[first]
    mixed <- block_treated[block + 1L] != treated
    if (any(mixed)) {
      bad <- unique(block[mixed])[1L] + 1L
      abort(sprintf("`design` says clusters were randomised, but %d cluster(s) have treated and control units (such as the cluster of unit \"%s\"); check its `clusters` against `treatment`.",
                    length(unique(block[mixed])), format(units[first[bad]])))
    }
    what <- "clusters"
  }
  observed <- sum(block_treated)
  m <- design$treated
  if (is.null(m)) m <- observed
  if (!is.numeric(m) || length(m) != 1L || is.na(m) || m != round(m) || m < 0 ||
      m > length(block_treated)) {
    abort(sprintf("in `design`, `treated` (the number of treated %s) must be a whole number between 0 and %d.",
                  what, length(block_treated)))
  }
  if (m != observed) {
    abort(sprintf("`design` has treated = %d, but %d %s are treated in `treatment`; the design must be the one that produced the assignment.",
                  as.integer(m), observed, what))
  }
  list(type = design$type, bernoulli = FALSE, p = 0, m = as.integer(m), block = block,
       n_blocks = length(block_treated), block_treated = as.integer(block_treated))
}

## The clusters of a cluster design, one per unit (in the order of `units`),
## as codes 0..B-1: a vector with one id per unit, a data frame of unit ids
## and cluster ids (such as the $clusters of graph_clusters()), or a
## graph_clusters() result.
design_clusters <- function(clusters, units, unit = "unit") {
  if (inherits(clusters, "graph_clusters")) clusters <- clusters$clusters
  if (is.data.frame(clusters)) {
    if (!unit %in% names(clusters) || ncol(clusters) != 2L) {
      abort(sprintf("the `clusters` of `design`, as a data frame, must have two columns: the unit id `%s` and the cluster id.",
                    unit))
    }
    at <- match(id_values(units), id_values(clusters[[unit]]))
    if (anyNA(at)) {
      abort(sprintf("the `clusters` of `design` have no cluster for %d unit(s), such as \"%s\"; give every unit a cluster.",
                    sum(is.na(at)), format(units[which(is.na(at))[1L]])))
    }
    clusters <- clusters[[setdiff(names(clusters), unit)]][at]
  }
  if (is.null(clusters) || !is.atomic(clusters) || length(clusters) != length(units)) {
    abort(sprintf("the `clusters` of `design` must give one cluster id per unit (%d values, in the order of the units), or be a data frame of unit and cluster ids.",
                  length(units)))
  }
  cluster_codes(id_values(clusters), "design")$codes
}

## `mapping` -> the threshold of the C++ Mapping: 0 for "any" (exposed with
## at least one treated neighbour), else the share of neighbours (or of
## their weight) that must be treated.
mapping_threshold <- function(mapping) {
  if (identical(mapping, "any")) return(0)
  if (is.numeric(mapping) && length(mapping) == 1L && !is.na(mapping) && mapping > 0 &&
      mapping <= 1) {
    return(as.double(mapping))
  }
  abort(sprintf("`mapping` must be \"any\" (exposed with at least one treated neighbour) or a share in (0, 1], such as 0.5 (exposed when at least half the neighbours are treated), not %s.",
                describe_value(mapping)))
}

## The number of assignments of the free blocks: 2^free (Bernoulli) or
## choose(free, m).
design_assignments <- function(bernoulli, free, m) if (bernoulli) 2^free else choose(free, m)

## exact = NULL: enumerate when there are at most `R` assignments; TRUE:
## always (refused above `limit`); FALSE: never. `exact` has been checked by
## check_exact() at the start of the call.
network_use_exact <- function(exact, total, R, limit = 1e7) {
  if (is.null(exact)) return(total <= R)
  if (exact && total > limit) {
    abort(sprintf("exact enumeration of %s assignments is beyond the limit of %s; use `exact = FALSE` (Monte Carlo with `R` draws).",
                  format(total, big.mark = ",", scientific = total > 1e15),
                  format(limit, big.mark = ",")))
  }
  exact
}

check_exact <- function(exact) {
  if (!is.null(exact) && !isTRUE(exact) && !isFALSE(exact)) {
    abort("`exact` must be NULL, TRUE or FALSE.")
  }
}

## The columns of a data frame of units for exposure_effects() and
## spillover_test(): ids, numeric outcome, 0/1 treatment.
network_units <- function(data, outcome, treatment, unit) {
  if (!is.data.frame(data)) {
    abort("`data` must be a data frame with one row per unit (its id, outcome and treatment).")
  }
  for (a in c("outcome", "treatment", "unit")) {
    nm <- get(a)
    if (!is.character(nm) || length(nm) != 1L || is.na(nm) || !nm %in% names(data)) {
      abort(sprintf("`%s` must be the name of a column of `data`; %s is not one (its columns are %s).",
                    a, describe_value(nm), paste0("`", names(data), "`", collapse = ", ")))
    }
  }
  ids <- data[[unit]]
  check_unit_ids(ids, "data")
  y <- data[[outcome]]
  if (!is.numeric(y) || is.object(y)) abort(sprintf("`outcome` (column `%s`) must be numeric.", outcome))
  bad <- !is.finite(y)
  if (any(bad)) {
    abort(sprintf("`outcome` (column `%s`) has %d missing or infinite value(s); drop those units (and their edges) first.",
                  outcome, sum(bad)))
  }
  list(units = ids, y = as.double(y), treated = binary_assignment(data[[treatment]], "treatment"))
}
