## Cluster ids -> integer codes. Every estimator sees clusters only as codes
## 0..G-1 (in order of first appearance) plus the number of clusters G.
##
## Accepted ids: integer, double (any values, including non-integer and huge
## ones; -0 and 0 are one cluster), character (compared after conversion to
## UTF-8), logical, factor (unused levels are not clusters), Date, POSIXct
## and POSIXlt (one cluster per instant), bit64::integer64 (by value), and
## other classed atomic vectors by their underlying values. Refused with a
## clusterab_error naming `what`: missing ids (NA, NaN, NA_integer64_), list
## columns, complex and raw vectors, matrices and data frames, NULL.

cluster_codes <- function(x, what = "cluster", threads = 1L) {
  if (is.null(x)) {
    abort(sprintf("`%s` is NULL; give one cluster id per row.", what))
  }
  if (is.factor(x)) {
    x <- as.integer(x)  # unused levels never appear, so they are not counted
  } else if (inherits(x, "POSIXlt") || (inherits(x, c("Date", "POSIXct")) && is.null(dim(x)))) {
    x <- as.double(unclass(as.POSIXct(x)))
  } else if (inherits(x, "integer64")) {
    ## 64-bit integers are stored in doubles' bits: compare them by value,
    ## and see their NA (which is no NaN) as missing.
    x <- as.character(x)
  } else if (is.list(x)) {
    abort(sprintf("`%s` is a list%s; cluster ids must be a vector with one id per row (an integer, character or factor column), not a list column.",
                  what, if (is.data.frame(x)) sprintf(" (a data frame with %d column%s)", length(x),
                                                       if (length(x) == 1L) "" else "s") else ""))
  } else if (!is.null(dim(x)) && length(dim(x)) >= 2L) {
    abort(sprintf("`%s` is a %s matrix; cluster ids must be a vector with one id per row (one column).",
                  what, paste(dim(x), collapse = " x ")))
  } else if (!is.atomic(x) || is.complex(x) || is.raw(x)) {
    abort(sprintf("`%s` must be a vector of cluster ids (integer, numeric, character, logical or factor), not %s.",
                  what, if (is.complex(x)) "complex" else class(x)[1L]))
  } else if (is.character(x)) {
    x <- enc2utf8(x)
  }
  if (is.object(x) || !is.null(dim(x))) x <- as.vector(unclass(x))  # e.g. difftime, a 1-d array
  if (anyNA(x)) {
    abort(sprintf("`%s` has %d missing value(s); drop those rows or give them a cluster id.",
                  what, sum(is.na(x))))
  }
  res <- cpp_cluster_codes(x, threads)
  list(codes = res$codes, G = length(res$first), first = res$first)
}

## The clustering terms of a (multiway) cluster data frame, as sandwich's
## meatCL builds them: every non-empty intersection of the variables, with
## sign (-1)^(size + 1); with multi0 the full intersection is replaced by one
## cluster per observation. The codes of an intersection are built from the
## variables' codes (intersection_codes()), each intersection from the one
## of its first variables, so a three-way term reuses a two-way one.
## `threads` goes to cluster_codes() (the range scan of integer ids).
cluster_terms <- function(cluster, multi0 = FALSE, what = "cluster", threads = 1L) {
  one <- lapply(seq_along(cluster), function(j) {
    cluster_codes(cluster[[j]], if (length(cluster) > 1L) sprintf("%s` variable `%s", what, names(cluster)[j]) else what,
                  threads)
  })
  k <- length(one)
  if (k == 1L) return(list(c(one[[1L]], list(sign = 1L, multi0 = FALSE))))
  sets <- unlist(lapply(seq_len(k), function(i) utils::combn(k, i, simplify = FALSE)),
                 recursive = FALSE)
  built <- list()  # codes of the intersections so far, by their variables
  key <- function(set) paste(set, collapse = " ")
  lapply(seq_along(sets), function(s) {
    set <- sets[[s]]
    sign <- if (length(set) %% 2L == 1L) 1L else -1L
    if (multi0 && s == length(sets)) {
      n <- length(one[[1L]]$codes)
      return(list(codes = seq_len(n) - 1L, G = n, first = seq_len(n),
                  sign = sign, multi0 = TRUE))
    }
    term <- if (length(set) == 1L) one[[set]] else {
      head <- set[-length(set)]
      prior <- if (length(head) == 1L) one[[head]] else built[[key(head)]]
      intersection_codes(prior, one[[set[length(set)]]])
    }
    if (length(set) > 1L) built[[key(set)]] <<- term
    c(term, list(sign = sign, multi0 = FALSE))
  })
}

## Codes of the intersection of two clusterings (lists with codes and G), in
## order of first appearance, from the pairs of codes (src/cluster_codes.cpp).
intersection_codes <- function(a, b) {
  res <- cpp_intersection_codes(a$codes, a$G, b$codes, b$G)
  list(codes = res$codes, G = length(res$first), first = res$first)
}
