## Statistics computed in pieces (files, days, partitions, database shards)
## and combined: the per-cluster sums of products add up, so rbind() of
## shards with the same formula and the same centring is exact. The centring
## is the one thing shards must agree on beforehand: cluster_stats()'s
## `shift` fixes it (the CSV path computes it in a first pass).

#' Combine per-cluster statistics of shards
#'
#' `rbind()` and `c()` of [cluster_stats()] objects computed from disjoint
#' parts of one data set (files, days, partitions, database shards) give the
#' statistics of the whole: the rows of a cluster that appears in several
#' shards are added up, so the result equals `cluster_stats()` on all the
#' rows, up to the order of floating-point additions. Clusters come in order
#' of first appearance, shard by shard.
#'
#' The shards must have the same formula, cluster variable and weighting, and
#' the same centring: by default `cluster_stats()` centres each shard at its
#' own means, so compute the shards with a common `shift`, e.g. the
#' statistics of the first shard (`shift = st1`) or a named vector of values
#' near the means (`shift = c(treated = 0.5, x = 10, y = 100)`). Shards that
#' differ are refused with an error of class `clusterab_error`.
#' `cluster_stats()` on a vector of CSV files does all of this itself.
#'
#' @param ... `cluster_stats` objects (for `c()`, also lists of them).
#' @param deparse.level Ignored.
#' @return A `cluster_stats` object.
#' @examples
#' west <- geo_experiment[geo_experiment$region %in% c("R01", "R02", "R03"), ]
#' rest <- geo_experiment[!(geo_experiment$region %in% c("R01", "R02", "R03")), ]
#' st1 <- cluster_stats(west, revenue ~ treated + baseline, cluster = "region")
#' st2 <- cluster_stats(rest, revenue ~ treated + baseline, cluster = "region", shift = st1)
#' all <- rbind(st1, st2)
#' coef(cluster_lm(all))
#' @name rbind.cluster_stats
#' @export
rbind.cluster_stats <- function(..., deparse.level = 1) {
  combine_cluster_stats(list(...))
}

#' @rdname rbind.cluster_stats
#' @export
c.cluster_stats <- function(...) {
  shards <- list(...)
  nested <- vapply(shards, function(s) is.list(s) && !inherits(s, "cluster_stats"), NA)
  if (any(nested)) {
    shards <- do.call(c, lapply(shards, function(s) if (inherits(s, "cluster_stats")) list(s) else s))
  }
  combine_cluster_stats(shards)
}

## The shards must agree on everything but the clusters and their sums.
combine_cluster_stats <- function(shards) {
  shards <- unname(shards[!vapply(shards, is.null, NA)])
  not_stats <- !vapply(shards, inherits, NA, what = "cluster_stats")
  if (any(not_stats)) {
    abort(sprintf("only `cluster_stats` objects can be combined by rbind() and c(); argument %d is %s.",
                  which(not_stats)[1L], class(shards[[which(not_stats)[1L]]])[1L]), call. = FALSE)
  }
  if (length(shards) == 0L) abort("give at least one cluster_stats object to combine.", call. = FALSE)
  if (any(vapply(shards, function(s) identical(s$plan, "scores"), NA))) {
    abort("these statistics are a fit's internal state and cannot be combined; use cluster_stats().",
          call. = FALSE)
  }
  first <- shards[[1L]]
  if (length(shards) == 1L) return(first)
  for (i in seq_along(shards)[-1L]) check_same_shard(first, shards[[i]], i)
  ids <- do.call(c_ids, lapply(shards, `[[`, "cluster"))
  codes <- cluster_codes(ids)
  group <- codes$codes + 1L
  ## the sums of the shards' columns per cluster, in the scaled units in which
  ## they were accumulated when the shards were scaled (then as they are)
  scaled <- !is.null(first$moments_scaled)
  field <- if (scaled) "moments_scaled" else "moments"
  moments <- stats::setNames(lapply(names(first$moments), function(k) {
    M <- do.call(cbind, lapply(shards, function(s) s[[field]][[k]]))
    t(rowsum(t(M), group, reorder = FALSE))
  }), names(first$moments))
  moments <- lapply(moments, function(M) { dimnames(M) <- NULL; M })
  n <- as.vector(rowsum(unlist(lapply(shards, `[[`, "n")), group, reorder = FALSE))
  total <- function(what) sum(vapply(shards, function(s) as.double(s[[what]]), 0))
  as_count <- function(x) if (x <= .Machine$integer.max) as.integer(x) else x
  ## a cluster split across weighted shards may have different weights in
  ## each: its weights are then taken to vary (the flag only ever errs this way)
  split_cluster <- anyDuplicated(ids) > 0L
  new_cluster_stats(
    moments = moments, n = if (all(n <= .Machine$integer.max)) as.integer(n) else n,
    cluster = ids[codes$first], cluster_name = first$cluster_name, z_names = first$z_names,
    intercept = first$intercept, shift = first$shift, weighted = first$weighted,
    weight_varies = any(vapply(shards, `[[`, NA, "weight_varies")) || (first$weighted && split_cluster),
    nobs = as_count(total("nobs")), dropped = as_count(total("dropped")), formula = first$formula,
    sum_log_weights = total("sum_log_weights"), assign = first$assign,
    term_labels = first$term_labels, scale = if (scaled) unname(first$scale))
}

## Cluster ids of several shards: of one type (factors become their labels).
c_ids <- function(...) {
  ids <- list(...)
  if (all(vapply(ids, is.factor, NA))) ids <- lapply(ids, as.character)
  kinds <- unique(vapply(ids, function(x) if (is.numeric(x)) "numeric" else class(x)[1L], ""))
  if (length(kinds) > 1L) {
    abort(sprintf("the shards' `cluster` ids are of different types (%s); read the cluster column with the same type in every shard.",
                  paste(kinds, collapse = ", ")), call. = FALSE)
  }
  do.call(c, ids)
}

check_same_shard <- function(a, b, i) {
  differ <- function(what, hint) {
    abort(sprintf("shard %d has %s from shard 1, so the shards cannot be combined; %s", i, what, hint),
          call. = FALSE)
  }
  if (!identical(deparse1(a$formula), deparse1(b$formula)) || !identical(a$z_names, b$z_names) ||
      !identical(a$intercept, b$intercept) || !identical(unname(a$assign), unname(b$assign))) {
    differ(sprintf("a different `formula` (`%s`, not `%s`)", deparse1(b$formula), deparse1(a$formula)),
           if (identical(deparse1(a$formula), deparse1(b$formula)))
             "its design has other columns (a factor with other levels?): give factors the same levels in every shard."
           else "compute every shard with the same `formula`.")
  }
  if (!identical(a$cluster_name, b$cluster_name)) {
    differ(sprintf("a different `cluster` variable (`%s`, not `%s`)", b$cluster_name, a$cluster_name),
           "compute every shard with the same `cluster`.")
  }
  if (!identical(a$weighted, b$weighted) || !identical(names(a$moments), names(b$moments))) {
    differ(if (b$weighted) "`weights` and shard 1 has none" else "no `weights` and shard 1 has",
           "compute every shard with the same `weights`.")
  }
  if (!identical(unname(a$shift), unname(b$shift)) || !identical(unname(a$scale), unname(b$scale))) {
    differ(if (identical(unname(a$shift), unname(b$shift))) "a different scale" else "a different centring (`shift`)",
           "compute the shards with a common centring, cluster_stats(..., shift = st1) with st1 the statistics of the first shard.")
  }
}

## cluster_stats()'s `shift`: NULL (centre at the means), a cluster_stats
## object (its shift and scale) or a named numeric vector (one value per
## design column and the outcome).
centre_argument <- function(shift) {
  if (is.null(shift)) return(NULL)
  if (inherits(shift, "cluster_stats")) {
    return(list(shift = shift$shift, scale = unname(shift$scale), from = "stats"))
  }
  if (!is.numeric(shift) || is.null(names(shift)) || anyNA(shift) || any(!is.finite(shift)) ||
      anyDuplicated(names(shift))) {
    abort("`shift` must be NULL, a cluster_stats object (whose centring is used) or a named numeric vector with one finite value per design column and the outcome, such as c(treated = 0.5, y = 10).",
          call. = FALSE)
  }
  list(shift = shift, scale = NULL, from = "vector")
}

## The shift of `centre` in the order of `default` (the means, named by z[-1]).
centre_shift <- function(centre, default, intercept) {
  want <- names(default)
  have <- names(centre$shift)
  if (!setequal(want, have) || length(want) != length(have)) {
    abort(sprintf("`shift` %s columns %s, but the design and outcome are %s; %s",
                  if (identical(centre$from, "stats")) "comes from statistics with" else "names",
                  paste0("`", have, "`", collapse = ", "), paste0("`", want, "`", collapse = ", "),
                  if (identical(centre$from, "stats")) "use statistics of the same formula."
                  else "give one value for each."), call. = FALSE)
  }
  out <- centre$shift[want]
  if (!intercept && any(out != 0)) {
    abort("`shift` must be 0 for every column of a model without intercept (such statistics are not centred).",
          call. = FALSE)
  }
  if (!is.null(centre$scale) && length(centre$scale) != length(want) + 2L) {
    abort("`shift` comes from statistics of another design; use statistics of the same formula.",
          call. = FALSE)
  }
  stats::setNames(unname(out), want)
}
