## Cluster ids -> integer codes. Every estimator sees clusters only as codes
## 0..G-1 (in order of first appearance) plus the number of clusters G.

cluster_codes <- function(x, what = "cluster") {
  if (is.factor(x)) {
    x <- as.integer(x)  # unused levels never appear, so they are not counted
  } else if (is.character(x)) {
    x <- enc2utf8(x)
  } else if (inherits(x, c("Date", "POSIXt"))) {
    x <- unclass(as.POSIXct(x))
  } else if (!is.atomic(x) || is.complex(x) || !is.null(dim(x)) || is.raw(x)) {
    abort(sprintf("`%s` must be a vector of cluster ids (integer, numeric, character, logical or factor), not %s.",
                 what, class(x)[1L]), call. = FALSE)
  }
  if (anyNA(x)) {
    abort(sprintf("`%s` has %d missing value(s); drop those rows or give them a cluster id.",
                 what, sum(is.na(x))), call. = FALSE)
  }
  res <- cpp_cluster_codes(x)
  list(codes = res$codes, G = length(res$first), first = res$first)
}

## The clustering terms of a (multiway) cluster data frame, as sandwich's
## meatCL builds them: every non-empty intersection of the variables, with
## sign (-1)^(size + 1); with multi0 the full intersection is replaced by one
## cluster per observation.
cluster_terms <- function(cluster, multi0 = FALSE, what = "cluster") {
  one <- lapply(seq_along(cluster), function(j) {
    cluster_codes(cluster[[j]], if (length(cluster) > 1L) sprintf("%s` variable `%s", what, names(cluster)[j]) else what)
  })
  k <- length(one)
  if (k == 1L) return(list(c(one[[1L]], list(sign = 1L, multi0 = FALSE))))
  sets <- unlist(lapply(seq_len(k), function(i) utils::combn(k, i, simplify = FALSE)),
                 recursive = FALSE)
  lapply(seq_along(sets), function(s) {
    set <- sets[[s]]
    sign <- if (length(set) %% 2L == 1L) 1L else -1L
    if (multi0 && s == length(sets)) {
      n <- length(one[[1L]]$codes)
      return(list(codes = seq_len(n) - 1L, G = n, first = seq_len(n),
                  sign = sign, multi0 = TRUE))
    }
    term <- one[[set[1L]]]
    for (j in set[-1L]) {
      combined <- as.double(term$codes) * one[[j]]$G + one[[j]]$codes
      term <- cluster_codes(combined)
    }
    c(term, list(sign = sign, multi0 = FALSE))
  })
}
