#' Per-cluster sufficient statistics
#'
#' Compresses a data set to one row of statistics per cluster: the number
#' of rows and the weighted cross-products of `(1, x, y)`, where `x` are
#' the columns of the design matrix of `formula` and `y` its outcome. Every
#' estimator in this package depends on the data only through these
#' statistics, so [cluster_lm()] can be fitted from them, and they can be
#' computed where the data live: `data` may also be a DBI connection, with
#' `table` naming a table there, and then the statistics are computed by one
#' SQL `GROUP BY` query in the database and only one row per cluster comes
#' back.
#'
#' When the model has an intercept, `x` and `y` are centred at their overall
#' (weighted) means before the cross-products are taken (the shift is stored),
#' so that a covariate with a large mean and a small spread (a year, a
#' timestamp) loses no precision. Columns and weights so large or small that
#' their squares would overflow or underflow (beyond about 2^64 or 2^-64) are
#' multiplied by a power of two first, which is exact (`scale`, with the
#' scaled cross-products in `moments_scaled`); `moments` are always in the
#' units of the data. Where those cannot be represented (a value of 1e200,
#' whose square overflows; a column of 1e-170, whose squares underflow; weights
#' spanning so much that the weighted sums overflow), `cluster_stats()` stops
#' with an error of class `clusterab_unrepresentable` naming the columns (or
#' `weights`): rescale them first (multiply or divide by a power of ten), or
#' fit with [cluster_lm()] on the data, which works in scaled units
#' throughout. The database method refuses such columns before its query.
#' With weights, the cross-products are also kept unweighted
#' and with squared weights, which the "HC2", "HC3" and "CR2" corrections
#' need when weights vary within clusters.
#'
#' Missing values are handled as by [stats::na.omit()]: a row with a missing
#' value in any variable of `formula` or in `weights` is dropped. A missing
#' cluster id is an error. Rows with zero weight are dropped.
#'
#' The arguments may come in either order: `cluster_stats(data, y ~ x,
#' cluster = "g")` (for pipes) and `cluster_stats(y ~ x, data, cluster = "g")`
#' (as model functions take them) are the same call.
#'
#' @param data A data frame or data.table, or a DBI connection (or the
#'   formula, when the data come second).
#' @param formula A model formula, as for [lm()] (or the data, when the
#'   formula comes first).
#' @param cluster The cluster of each row: a column name (`"g"`), a one-sided
#'   formula (`~ g`) or a vector with one id per row. One clustering variable.
#' @param weights Optional non-negative weights: a column name, a one-sided
#'   formula or a numeric vector.
#' @param contrasts Data frames only: as for [lm()], `NULL` or a list naming
#'   factors of the formula with their contrasts (such as `list(f =
#'   "contr.sum")`); a factor's [contrasts()] attribute and
#'   `options("contrasts")` are honoured as by [lm()].
#' @param threads Number of threads (data frames only); default
#'   `getOption("clusterab.threads")`, else all cores. Results do not depend
#'   on it.
#' @param shift The centring: `NULL` (the default) centres at the (weighted)
#'   means of the rows used; a `cluster_stats` object centres (and scales)
#'   as it does; a named numeric vector gives the value subtracted from each
#'   design column and the outcome (0 for all of them in a model without
#'   intercept). Shards computed with a common `shift` can be combined with
#'   [rbind()][rbind.cluster_stats]; the fits do not depend on it, up to
#'   rounding.
#' @param ... Ignored.
#' @return An object of class `cluster_stats`: `moments` (a list of packed
#'   cross-product matrices, one column per cluster, named by weight power),
#'   `n` (rows per cluster), `cluster` (the ids), `z_names` (the variables of
#'   the cross-products), `shift`, `scale`, `intercept`, `weighted` and `nobs`.
#'   `as.data.frame()` and `data.table::as.data.table()` give one row per
#'   cluster with readable column names.
#' @examples
#' st <- cluster_stats(geo_experiment, revenue ~ treated + baseline, cluster = "region")
#' st
#' ## the same, formula first
#' cluster_stats(revenue ~ treated + baseline, geo_experiment, cluster = ~ region)
#' head(as.data.frame(st))
#' cluster_lm(st)
#' @export
cluster_stats <- function(data, formula, cluster, weights = NULL, ...) {
  UseMethod("cluster_stats")
}

#' @export
cluster_stats.default <- function(data, formula, cluster, weights = NULL, ...) {
  abort(sprintf("`data` must be a data frame, a data.table or a DBI connection, not %s.",
               class(data)[1L]), call. = FALSE)
}

## (formula, data, ...): the model-function order, swapped to (data, formula).
#' @export
cluster_stats.formula <- function(data, formula, cluster, weights = NULL, ...) {
  if (missing(formula)) {
    abort("`data` is required: cluster_stats(y ~ x, data, cluster = \"g\") or cluster_stats(data, y ~ x, cluster = \"g\").",
          call. = FALSE)
  }
  if (inherits(formula, "formula")) {
    abort("cluster_stats() was given two formulas; give the formula and the data, as cluster_stats(y ~ x, data, cluster = \"g\").",
          call. = FALSE)
  }
  cluster_stats(formula, data, cluster = if (!missing(cluster)) cluster, weights = weights, ...)
}

#' @rdname cluster_stats
#' @export
cluster_stats.data.frame <- function(data, formula, cluster, weights = NULL, threads = NULL,
                                     contrasts = NULL, shift = NULL, ...) {
  if (missing(cluster) || is.null(cluster)) {
    abort("`cluster` is required: name the column that identifies each row's cluster.",
         call. = FALSE)
  }
  if (missing(formula)) {
    abort("`formula` is required: cluster_stats(data, y ~ x, cluster = \"g\").", call. = FALSE)
  }
  mc <- model_columns(formula, data, weights = weights, cluster = cluster,
                      contrasts = contrasts, threads = resolve_threads(threads))
  if (ncol(mc$cluster) != 1L) {
    stop_one_cluster_variable()
  }
  stats <- compress_columns(mc, cluster_codes(mc$cluster[[1L]]), all_powers = TRUE,
                            threads = resolve_threads(threads), formula = formula,
                            centre = centre_argument(shift))
  check_representable(stats)
  stats
}

## The statistics are kept in the data's units (`moments`); where those
## overflow (a value of 1e200: its square is beyond the largest double) or
## underflow (a column of 1e-170: its squares are below the smallest normal
## double), the statistics cannot be represented: a classed error naming the
## columns, as the database method refuses them before its query. cluster_lm()
## on the data still fits them, through its internally scaled path.
check_representable <- function(stats) {
  if (is.null(stats$moments_scaled)) return(invisible(stats))
  z <- stats$z_names
  q <- length(z)
  pairs <- which(upper.tri(diag(q), diag = TRUE), arr.ind = TRUE)
  pairs <- pairs[order(pairs[, "col"], pairs[, "row"]), , drop = FALSE]
  ## the columns z of which some per-cluster cross-product is not representable
  bad_in <- function(k) {
    m <- stats$moments[[k]]
    m_s <- stats$moments_scaled[[k]]
    lost <- rowSums(!is.finite(m)) > 0
    on_diag <- pairs[, "row"] == pairs[, "col"]
    lost[on_diag] <- lost[on_diag] | rowSums(m_s[on_diag, , drop = FALSE] > 0 &
                                               abs(m[on_diag, , drop = FALSE]) < .Machine$double.xmin) > 0
    out <- logical(q)
    out[c(pairs[lost, "row"], pairs[lost, "col"])] <- TRUE
    out[1L] <- FALSE
    out
  }
  if (stats$weighted && "0" %in% names(stats$moments)) {
    bad_z <- bad_in("0")
    bad_w <- any(vapply(setdiff(names(stats$moments), "0"), function(k) any(bad_in(k) & !bad_z),
                        logical(1L)))
  } else {
    bad_z <- Reduce(`|`, lapply(names(stats$moments), bad_in))
    bad_w <- FALSE
  }
  if (!any(bad_z) && !bad_w) return(invisible(stats))
  bad <- c(if (any(bad_z)) paste0("`", z[bad_z], "`"), if (bad_w) "`weights`")
  abort(sprintf("the per-cluster statistics of %s cannot be represented in double precision in the data's units (their sums of squares overflow or underflow); rescale %s (multiply or divide by a power of ten) first, or fit with cluster_lm() on the data, which scales internally.",
                paste(bad, collapse = ", "), if (length(bad) > 1L) "them" else "it"),
        class = "clusterab_unrepresentable", call. = FALSE)
}

## The compress step on prepared columns: shift, finiteness check and the
## C++ pass. With all_powers, weighted data also get the unweighted and
## squared-weight moments. With weights, the columns are centred at their
## weighted means: centring at the plain mean leaves the weighted
## cross-products far from centred when one weight dwarfs the others, and they
## then cancel catastrophically.
## With plan = "scores" only the global cross-products are accumulated (one
## column, row blocks summed in a fixed order) and their split by the parity
## of the cluster code (`split`, for the few-cluster screen); the per-cluster
## scores then come from a second pass over the rows (compress_scores()).
## Such statistics (`plan` "scores", `G` the number of clusters) are the
## fit's internal state only: they are never returned to the user.
## `centre` (cluster_stats()'s `shift`, see centre_argument()) fixes the shift,
## and optionally the scale, instead of the means of these rows: shards
## compressed with the same centre can be combined by rbind().
compress_columns <- function(mc, codes, all_powers, threads, formula, plan = "moments",
                             centre = NULL) {
  cols <- mc$columns
  checked <- c(cols, stats::setNames(list(mc$y), mc$yname),
               if (!is.null(mc$w)) list(weights = mc$w))
  means <- check_finite(checked, threads, mc$w)
  weighted <- !is.null(mc$w)
  cs <- centring(means, attr(means, "min"), attr(means, "max"), mc$intercept, weighted, centre)
  shift <- cs$shift
  scale <- cs$scale
  scaled <- any(scale != 1)
  powers <- if (weighted && all_powers) 0:2 else 1L
  if (plan == "scores") {
    m <- cpp_global_moments(cols, mc$y, mc$w, codes$codes, unname(shift), threads,
                            if (scaled) unname(scale[c(-1L, -length(scale))]),
                            scale[["(weights)"]])
    m$moments <- list("1" = m$moments)
  } else {
    m <- cpp_cluster_moments(cols, mc$y, mc$w, codes$codes, codes$G, unname(shift),
                             powers, threads,
                             if (scaled) unname(scale[c(-1L, -length(scale))]),
                             scale[["(weights)"]])
    names(m$moments) <- as.character(powers)
  }
  stats <- new_cluster_stats(
    moments = m$moments, n = m$n, cluster = mc$cluster[[1L]][codes$first],
    cluster_name = names(mc$cluster)[1L], z_names = c("(1)", names(cols), mc$yname),
    intercept = mc$intercept, shift = stats::setNames(unname(shift), c(names(cols), mc$yname)),
    weighted = weighted, weight_varies = any(m$weight_varies), nobs = length(mc$y),
    dropped = length(mc$dropped), formula = formula,
    sum_log_weights = if (weighted) sum(log(mc$w)) else 0,
    assign = stats::setNames(mc$assign, names(cols)),
    term_labels = attr(mc$terms, "term.labels"),
    scale = if (scaled) unname(scale))
  if (plan == "scores") {
    stats$plan <- "scores"
    stats$G <- codes$G
    stats$split <- m$split          # scaled units, as moments_scaled
    stats$n <- NULL
  }
  stats
}

## The scores plan's second pass: per-cluster scores X_g' W e_g (p x G, in the
## scaled units of stats_scaled()) of the design `design` (0-based positions
## in z) at the scaled coefficients `beta`, the residuals formed row by row.
compress_scores <- function(mc, codes, stats, design, beta, threads) {
  q <- length(stats$z_names)
  sc <- stats$scale
  cols <- design[design > 0L]
  cpp_residual_scores(mc$columns[cols], 0L %in% design, mc$y, mc$w, codes$codes, codes$G,
                      unname(stats$shift[cols]), unname(sc[cols + 1L]),
                      unname(stats$shift[[q - 1L]]), unname(sc[[q]]), unname(sc[[q + 1L]]),
                      unname(beta), threads)
}

## The shift and scale of the compress step from the columns' means, minima
## and maxima (of z[-1], then of the weights when `weighted`): centred at the
## means when the model has an intercept, unless `centre` fixes the shift
## (and perhaps the scale); the scale brings the centred columns and the
## weights near 1 (power_of_two_scale()).
centring <- function(means, lo, hi, intercept, weighted, centre = NULL) {
  m_z <- length(means) - weighted
  shift <- if (intercept) means[seq_len(m_z)] else stats::setNames(numeric(m_z), names(means)[seq_len(m_z)])
  if (!is.null(centre)) shift <- centre_shift(centre, shift, intercept)
  spread <- pmax(hi[seq_len(m_z)] - shift, shift - lo[seq_len(m_z)])
  overflow <- !is.finite(spread)
  if (any(overflow)) {
    abort(sprintf("%s span(s) more than the largest double (about 1.8e308) once centred; rescale them (divide by a power of ten) first.",
                 paste0("`", names(shift)[overflow], "`", collapse = ", ")), call. = FALSE)
  }
  scale <- c("(1)" = 1, stats::setNames(power_of_two_scale(spread), names(shift)),
             "(weights)" = if (weighted) power_of_two_scale(hi[m_z + 1L], even = TRUE) else 1)
  if (!is.null(centre$scale)) scale[] <- centre$scale
  list(shift = shift, scale = scale)
}

## Number of clusters of statistics (of either plan).
stats_G <- function(stats) if (is.null(stats$G)) length(stats$n) else stats$G

## Scale factors 2^-e that bring the magnitudes `m` near 1, for magnitudes
## whose squares (times weights, summed over many rows) could overflow or
## underflow: beyond 2^+-64. Powers of two scale exactly, so they change no
## digit of the results; ordinary data get 1 and bit-for-bit the same sums.
## `even` makes e even, so that square roots of weight sums stay exact.
power_of_two_scale <- function(m, even = FALSE) {
  e <- ifelse(is.finite(m) & m > 0, round(log2(m)), 0)
  if (even) e <- 2 * round(e / 2)
  e[abs(e) <= 64] <- 0
  2^-e
}

## The cross-products in scaled units, as the least-squares engine uses them:
## `moments` (per-cluster, packed), `z` (the scale of each of z = (1, x, y),
## the intercept's being 1) and `w` (the weights' scale); moments[[k]] =
## w^k * diag(z) S_k diag(z) for the moments S_k in the units of the data.
## Statistics from a database, or ordinary data, have all scales 1.
stats_scaled <- function(stats) {
  q <- length(stats$z_names)
  sc <- stats$scale
  if (is.null(sc) || all(sc == 1)) {
    return(list(moments = stats$moments, z = rep(1, q), w = 1))
  }
  list(moments = stats$moments_scaled, z = sc[seq_len(q)], w = sc[[q + 1L]])
}

## Packed factors 1 / (z_a z_b) that take packed scaled moments to data units.
packed_unscale <- function(z) {
  f <- 1 / outer(z, z)
  f[upper.tri(f, diag = TRUE)]
}

stop_one_cluster_variable <- function() {
  abort("`cluster` must name one clustering variable: cluster_stats() takes one; for multiway clustering use cluster_lm() on the data.",
       call. = FALSE)
}

## The one constructor of cluster_stats objects (data frames and databases).
## `sum_log_weights` (the log-likelihood of weighted mixed models needs it) is
## NA when unknown; `assign` maps the design columns to `term_labels`.
## `scale` (NULL: all 1) holds the powers of two, one per z and last one for the
## weights, by which `moments` were multiplied when accumulated (see
## compress_columns()); then `moments` are converted to the data's units (where
## those overflow or underflow they hold Inf or 0: consumers reading
## `moments` directly must check) and the scaled ones are kept in
## `moments_scaled`, which the least-squares engine reads via stats_scaled().
new_cluster_stats <- function(moments, n, cluster, cluster_name, z_names, intercept,
                              shift, weighted, weight_varies, nobs, dropped, formula,
                              sum_log_weights = if (weighted) NA_real_ else 0,
                              assign = NULL, term_labels = NULL, scale = NULL) {
  x_names <- z_names[-c(1L, length(z_names))]
  if (is.null(assign)) {
    assign <- stats::setNames(seq_along(x_names), x_names)
    term_labels <- x_names
  }
  moments_scaled <- NULL
  if (is.null(scale)) {
    scale <- rep(1, length(z_names) + 1L)
  } else if (any(scale != 1)) {
    moments_scaled <- moments
    unscale <- packed_unscale(scale[seq_along(z_names)])
    w <- scale[[length(z_names) + 1L]]
    moments <- stats::setNames(lapply(names(moments), function(k) {
      moments[[k]] * (unscale / w^as.integer(k))
    }), names(moments))
  }
  names(scale) <- c(z_names, "(weights)")
  structure(list(moments = moments, n = n, cluster = cluster, cluster_name = cluster_name,
                 z_names = z_names, intercept = intercept, shift = shift,
                 weighted = weighted, weight_varies = weight_varies, nobs = nobs,
                 dropped = dropped, formula = formula, sum_log_weights = sum_log_weights,
                 assign = assign, term_labels = term_labels, scale = scale,
                 moments_scaled = moments_scaled),
            class = "cluster_stats")
}

#' @export
print.cluster_stats <- function(x, ...) {
  cat("Per-cluster statistics of ", deparse1(x$formula), "\n", sep = "")
  cat(sprintf("  %s clusters, %s rows%s, %d design columns%s\n",
              format(length(x$n), big.mark = ","), format(x$nobs, big.mark = ","),
              if (x$dropped) sprintf(" (%s dropped)", format(x$dropped, big.mark = ",")) else "",
              length(x$z_names) - 2L + x$intercept,
              if (x$weighted) ", weighted" else ""))
  sizes <- range(x$n)
  cat(sprintf("  cluster sizes %s to %s\n", format(sizes[1L], big.mark = ","),
              format(sizes[2L], big.mark = ",")))
  invisible(x)
}

#' @export
as.data.frame.cluster_stats <- function(x, row.names = NULL, optional = FALSE, ...) {
  z <- x$z_names
  q <- length(z)
  pairs <- which(upper.tri(diag(q), diag = TRUE), arr.ind = TRUE)
  pairs <- pairs[order(pairs[, "col"], pairs[, "row"]), , drop = FALSE]
  label <- function(a, b) {
    parts <- c(z[a], z[b])
    parts <- parts[parts != "(1)"]
    paste(c("w", parts), collapse = "*")
  }
  names_packed <- vapply(seq_len(nrow(pairs)), function(i) label(pairs[i, 1L], pairs[i, 2L]), "")
  out <- data.frame(cluster = x$cluster, n = x$n)
  for (power in names(x$moments)) {
    block <- as.data.frame(t(x$moments[[power]]))
    names(block) <- switch(power,
      "0" = sub("^w\\*?", "1*", names_packed),
      "1" = names_packed,
      "2" = sub("^w", "w^2", names_packed))
    out <- cbind(out, block)
  }
  out
}

#' @importFrom data.table as.data.table
#' @export
as.data.table.cluster_stats <- function(x, keep.rownames = FALSE, ...) {
  data.table::setDT(as.data.frame(x))[]
}

## The few-cluster screen of a scores-plan fit: TRUE when no coefficient of
## `fit` can rest on a single cluster, decided from the global cross-products
## of the clusters of even and of odd code (stats$split) without M_g.
## single_cluster_coefs() flags cluster g when K_g = L^-1 M_g L^-T (M = L L')
## has an eigenvalue above 1 - 1e-8. If both halves see every direction, each
## with at least a share lambda > 1e-6 of M (lambda the smallest eigenvalue of
## L^-1 M_half L^-T), then M - M_g >= lambda M for every g (g lies in one
## half, the other half is left whole), so no eigenvalue of K_g exceeds
## 1 - 1e-6. Otherwise (FALSE) the notes need M_g.
single_cluster_screen <- function(stats, fit) {
  split <- stats$split
  z <- stats$z_names
  kept <- names(fit$coefficients)[!fit$aliased]
  design <- ifelse(kept == "(Intercept)", 0L, match(kept, z[-c(1L, length(z))]))
  if (is.null(split) || !length(design) || anyNA(design)) return(FALSE)
  d1 <- design + 1L
  pos <- outer(d1, d1, function(i, j) {
    a <- pmin(i, j); b <- pmax(i, j)
    b * (b - 1L) / 2L + a
  })
  k <- length(design)
  A <- matrix(split[pos, 1L], k, k)
  B <- matrix(split[pos, 2L], k, k)
  M <- A + B
  s <- sqrt(diag(M))
  if (!all(is.finite(s)) || any(s <= 0)) return(FALSE)
  L <- tryCatch(t(chol(M / outer(s, s))), error = function(e) NULL)
  if (is.null(L)) return(FALSE)
  Linv <- forwardsolve(L, diag(k))
  smallest <- function(H) {
    K <- Linv %*% (H / outer(s, s)) %*% t(Linv)
    min(eigen((K + t(K)) / 2, symmetric = TRUE, only.values = TRUE)$values)
  }
  smallest(A) > 1e-6 && smallest(B) > 1e-6
}
