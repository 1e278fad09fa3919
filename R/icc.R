#' @title Intraclass correlation of an outcome within clusters
#'
#' @description
#' `icc()` estimates the intraclass correlation (ICC) of `outcome` within
#' `cluster` with the one-way ANOVA estimator
#' \deqn{ICC = (MSB - MSW) / (MSB + (n_0 - 1) MSW),}
#' where MSB and MSW are the between- and within-cluster mean squares and
#' \eqn{n_0 = (N - \sum_g n_g^2 / N) / (G - 1)} is the "average" cluster size
#' for unequal sizes (it equals the common size k when all clusters have k
#' rows). The estimate can be negative (when clusters are less alike than
#' chance). The confidence interval is Searle's F-based interval: with
#' \eqn{F = MSB/MSW} and \eqn{a = 1 - conf.level}, \eqn{F_L = F / F_{1-a/2}(G-1, N-G)} and
#' \eqn{F_U = F \cdot F_{1-a/2}(N-G, G-1)}, the limits are
#' \eqn{(F_L - 1)/(F_L + n_0 - 1)} and \eqn{(F_U - 1)/(F_U + n_0 - 1)}.
#' On balanced data the estimate and interval are those of the ICC1
#' ("Single_raters_absolute") row of `psych::ICC()`; on unbalanced data the
#' interval, with \eqn{n_0} in place of k, is an approximation.
#'
#' Missing values are not dropped silently: a missing `outcome` or `cluster`
#' is an error that names the count, so that the rows used are always the
#' rows given. Drop them first (for example with `na.omit()` on the two
#' columns) if that is what you want. An infinite (or `NaN`) outcome is an
#' error naming the column, and so is a matrix or list column.
#'
#' When there is no variation within any cluster (MSW = 0) but the cluster
#' means differ, the ICC is 1: `icc()` returns 1 with the degenerate interval
#' \[1, 1\] and a warning, because the F-based interval is undefined there.
#'
#' For a random-intercept model fitted by [ri_lmer()], the ICC is
#' \eqn{\sigma_b^2 / (\sigma_b^2 + \sigma^2)} from the model's variance
#' components (REML or ML, as fitted; with covariates, conditional on them).
#' Its interval is the profile-likelihood interval of
#' \eqn{\theta = \sigma_b / \sigma}, mapped by
#' \eqn{\theta^2 / (1 + \theta^2)}: the values where the profiled criterion
#' rises by `qchisq(conf.level, 1)`, with 0 as the lower limit when the
#' criterion at \eqn{\theta = 0} is within that. The result then has no
#' ANOVA fields (`n0`, `MSB`, `MSW`, `F`) but has `variance`
#' (between and within).
#'
#' @param x A data frame or data.table (then `outcome` and `cluster` name its
#'   columns), or a fitted model of class `"ri_lmer"`.
#' @param outcome Name of the numeric outcome column (a string).
#' @param cluster The clusters: the name of a column of `x` (a string), a
#'   one-sided formula such as `~ g`, or a vector with one value per row.
#'   Any type of id is accepted (numbers, strings, factors, dates); its
#'   distinct values are the clusters.
#' @param conf.level Confidence level of the interval, in (0, 1). (Formerly
#'   `level`.)
#' @return An object of class `"clusterab_icc"`: a list with `estimate` (the
#'   ICC), `conf.int` (lower and upper limits, with attribute `conf.level`),
#'   `method`, `n_clusters` (G), `n_obs` (N), `n0`, `MSB`, `MSW` and `F`
#'   (MSB / MSW), `parameter` (the F test's df, G - 1 and N - G) and
#'   `cluster_name`. It has `print()`, `tidy()`, `glance()` and
#'   `as.data.frame()` methods.
#' @examples
#' set.seed(1)
#' d <- data.frame(g = rep(1:20, times = sample(3:8, 20, replace = TRUE)))
#' d$y <- rnorm(20)[d$g] + rnorm(nrow(d), sd = 2)
#' res <- icc(d, outcome = "y", cluster = "g")
#' res
#' tidy(res)
#' icc(d, "y", cluster = ~ g, conf.level = 0.9)
#' design_effect(20, icc = res)
#' @export
icc <- function(x, outcome = NULL, cluster = NULL, conf.level = 0.95) {
  check_conf_level(conf.level, "conf.level")
  if (inherits(x, "ri_lmer")) return(icc_ri_lmer(x, conf.level))
  if (!is.data.frame(x)) {
    abort(sprintf("`x` must be a data frame, a data.table or an ri_lmer fit, not %s.",
                 class(x)[1L]), call. = FALSE)
  }
  if (nrow(x) == 0L) {
    abort("`x` (the data) has no rows; the ICC needs at least 2 clusters, some with 2 or more rows.",
          call. = FALSE)
  }
  y <- data_column(x, outcome, "outcome", "x")
  cl <- data_cluster(x, cluster, "cluster", "x")
  g <- cl$values
  if (!is.numeric(y)) {
    abort(sprintf("`outcome` column '%s' must be numeric, not %s; convert it with as.numeric().",
                 outcome, class(y)[1L]), call. = FALSE)
  }
  check_finite_column(y, "outcome", outcome)
  check_no_missing(g, "cluster")
  ## the ICC does not depend on the outcome's unit: huge or tiny outcomes are
  ## divided by a power of two (exact) so that squares neither overflow nor
  ## underflow; the mean squares are reported in the outcome's unit
  y_scale <- outcome_scale(y)
  if (y_scale != 1) y <- y / y_scale

  code <- match(g, unique(g))
  G <- max(code, 0L)
  N <- length(y)
  if (G < 2L) {
    abort(sprintf("`cluster` has %d distinct value%s; the ICC needs at least 2 clusters.",
                 G, if (G == 1L) "" else "s"), call. = FALSE)
  }
  if (N == G) {
    abort("`cluster` puts every row in a cluster of its own, so the within-cluster variance is undefined; the ICC needs some clusters with 2 or more rows.",
         call. = FALSE)
  }

  n <- tabulate(code, G)
  # Centre first: sums of squares of deviations, not of raw values, so a
  # large mean does not cancel digits away.
  y <- y - mean(y)
  ybar_g <- as.vector(rowsum(y, code, reorder = TRUE)) / n
  ybar <- mean(y)
  # Exact test for "no within-cluster variation": the cluster means may be
  # off by rounding, so compare each value with its cluster's first value.
  constant_within <- all(y == y[!duplicated(code)][code])
  SSW <- if (constant_within) 0 else sum((y - ybar_g[code])^2)
  SSB <- sum(n * (ybar_g - ybar)^2)
  MSB <- SSB / (G - 1)
  MSW <- SSW / (N - G)
  # n0 is exactly k on balanced data (avoids rounding in the formula).
  n0 <- if (all(n == n[1L])) as.double(n[1L]) else (N - sum(n^2) / N) / (G - 1)

  if (MSW == 0) {
    if (MSB == 0) {
      abort("`outcome` is constant, so the ICC is undefined (0/0).", call. = FALSE)
    }
    warn("`outcome` does not vary within any cluster (MSW = 0): the ICC is 1 and the confidence interval is the degenerate [1, 1].",
            call. = FALSE)
    est <- 1
    ci <- c(1, 1)
    Fstat <- Inf
  } else {
    est <- (MSB - MSW) / (MSB + (n0 - 1) * MSW)
    Fstat <- MSB / MSW
    a <- 1 - conf.level
    FL <- Fstat / stats::qf(1 - a / 2, G - 1, N - G)
    FU <- Fstat * stats::qf(1 - a / 2, N - G, G - 1)
    ci <- c((FL - 1) / (FL + n0 - 1), (FU - 1) / (FU + n0 - 1))
  }
  attr(ci, "conf.level") <- conf.level
  MSB <- MSB * y_scale^2
  MSW <- MSW * y_scale^2
  structure(list(estimate = est, conf.int = ci,
                 method = "One-way ANOVA ICC with Searle's F-based interval",
                 n_clusters = G, n_obs = N, n0 = n0, MSB = MSB, MSW = MSW, F = Fstat,
                 parameter = c(df1 = G - 1, df2 = N - G), cluster_name = cl$name),
            class = "clusterab_icc")
}

#' @export
print.clusterab_icc <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("\n", x$method, "\n\n", sep = "")
  lev <- attr(x$conf.int, "conf.level")
  cat(sprintf("ICC = %s, %s%% CI [%s, %s]\n", format(x$estimate, digits = digits),
              format(100 * lev), format(x$conf.int[1L], digits = digits),
              format(x$conf.int[2L], digits = digits)))
  # An ri_lmer result may not carry the ANOVA quantities.
  if (!is.null(x$n_clusters) && !is.null(x$n_obs)) {
    cat(sprintf("%d clusters%s, %d observations", as.integer(x$n_clusters),
                if (is.null(x$cluster_name)) "" else sprintf(" (`%s`)", x$cluster_name),
                as.integer(x$n_obs)))
    if (!is.null(x$n0)) cat(sprintf(", n0 = %s", format(x$n0, digits = digits)))
    if (!is.null(x$parameter)) {
      cat(sprintf("; F = %s on %s and %s df", format(x$F, digits = digits),
                  format(x$parameter[[1L]]), format(x$parameter[[2L]])))
    }
    cat("\n")
  }
  cat("\n")
  invisible(x)
}

#' Tidy an ICC estimate
#'
#' @param x An [icc()] result.
#' @param ... Ignored.
#' @return A one-row data frame with columns `estimate`, `conf.low`,
#'   `conf.high` and `method`.
#' @method tidy clusterab_icc
#' @export
tidy.clusterab_icc <- function(x, ...) {
  data.frame(estimate = x$estimate, conf.low = x$conf.int[1L],
             conf.high = x$conf.int[2L], method = x$method, stringsAsFactors = FALSE)
}

#' Glance at an ICC estimate
#'
#' @param x An [icc()] result.
#' @param ... Ignored.
#' @return A one-row data frame with broom's column names: `estimate`,
#'   `conf.low`, `conf.high`, `conf.level`, `statistic` (the F ratio MSB /
#'   MSW; `NA` for an ri_lmer fit), `df`, `df.residual` (G - 1 and N - G),
#'   `nobs`, `n.clusters` and `method`.
#' @method glance clusterab_icc
#' @export
glance.clusterab_icc <- function(x, ...) {
  num <- function(v) if (is.null(v)) NA_real_ else as.double(v)
  data.frame(estimate = x$estimate, conf.low = x$conf.int[1L], conf.high = x$conf.int[2L],
             conf.level = num(attr(x$conf.int, "conf.level")), statistic = num(x$F),
             df = num(x$parameter[1L]), df.residual = num(x$parameter[2L]),
             nobs = num(x$n_obs), n.clusters = num(x$n_clusters), method = x$method,
             stringsAsFactors = FALSE)
}

#' @export
as.data.frame.clusterab_icc <- function(x, row.names = NULL, optional = FALSE, ...) {
  result_frame(tidy(x), row.names)
}

#' @title Design effect of cluster randomisation
#'
#' @description
#' `design_effect()` gives the factor by which clustering inflates the
#' variance of a mean (or difference of means) relative to independent rows.
#' For a single cluster size m it is Kish's \eqn{1 + (m - 1) ICC}. For a
#' vector of cluster sizes it is the unequal-size version of Eldridge, Ashby
#' and Kerry (2006), \eqn{1 + ((CV^2 + 1) \bar m - 1) ICC}, where
#' \eqn{\bar m} is the mean size and \eqn{CV = s / \bar m}.
#'
#' Here s is the standard deviation of the given sizes with denominator n
#' (the population SD, `sqrt(mean((m - mean(m))^2))`), not `sd()`'s n - 1:
#' with it \eqn{(CV^2 + 1) \bar m = \sum m^2 / \sum m} exactly, which is the
#' quantity in the derivation of the formula, and equal sizes give Kish's
#' value exactly. (With `sd()` the factor would be slightly larger; the
#' difference vanishes as the number of clusters grows.)
#'
#' @param cluster_size One cluster size, or the sizes of all clusters
#'   (positive finite numbers; the mean may be fractional). Huge or tiny
#'   sizes are divided by a power of two before they are squared.
#' @param icc The intraclass correlation: a single number in \[-1, 1\], or
#'   an [icc()] result (its estimate is used). It
#'   must also be large enough for the design effect to be positive (above
#'   \eqn{-1 / ((CV^2 + 1) \bar m - 1)}).
#' @return A single number, the design effect.
#' @references Eldridge SM, Ashby D, Kerry S (2006). Sample size for cluster
#'   randomized trials: effect of coefficient of variation of cluster size and
#'   analysis method. International Journal of Epidemiology 35, 1292-1300.
#'
#'   Kish L (1965). Survey Sampling. Wiley.
#' @examples
#' design_effect(20, icc = 0.05)
#' design_effect(c(10, 20, 30, 40), icc = 0.05)
#' ## from an estimated ICC
#' set.seed(1)
#' d <- data.frame(g = rep(1:20, each = 10))
#' d$y <- rnorm(20)[d$g] + rnorm(200, sd = 2)
#' design_effect(10, icc = icc(d, "y", "g"))
#' @export
design_effect <- function(cluster_size, icc) {
  icc <- icc_value(icc)
  if (!is.numeric(cluster_size) || length(cluster_size) == 0L ||
      anyNA(cluster_size) || any(!is.finite(cluster_size)) || any(cluster_size <= 0)) {
    abort("`cluster_size` must be one or more positive finite numbers (one size, or the size of each cluster).",
         call. = FALSE)
  }
  if (!is.numeric(icc) || length(icc) != 1L || is.na(icc) || icc < -1 || icc > 1) {
    abort("`icc` must be a single number between -1 and 1.", call. = FALSE)
  }
  m <- if (length(cluster_size) == 1L) {
    cluster_size
  } else {
    ## sizes divided by a power of two (exact, and 1 for ordinary sizes), so
    ## that squares of huge or tiny sizes neither overflow nor underflow
    s <- outcome_scale(cluster_size)
    u <- cluster_size / s
    mbar <- mean(u)
    cv2 <- mean((u - mbar)^2) / mbar^2  # population SD: see the docs
    (cv2 + 1) * mbar * s
  }
  de <- 1 + (m - 1) * icc
  if (!is.finite(de)) {
    abort(sprintf("the design effect for these `cluster_size` values and `icc` = %s is not representable in double precision (it would be about %s); check `cluster_size`.",
                  format(icc), format(m * icc)), call. = FALSE)
  }
  if (de <= 0) {
    abort(sprintf("`icc` = %s is too negative for these cluster sizes: the design effect would be %s; the ICC must be above %s.",
                 format(icc), format(de), format(-1 / (m - 1))), call. = FALSE)
  }
  de
}

#' @title Effective sample size under clustering
#'
#' @description
#' `effective_n()` is the number of independent rows that would give the same
#' precision as `n` clustered rows: `n / design_effect(cluster_size, icc)`.
#'
#' @param n Total number of rows (a single positive number).
#' @inheritParams design_effect
#' @return A single number (not rounded). A result beyond the largest double
#'   (a huge `n` with a design effect below 1) is an error naming `n`.
#' @examples
#' effective_n(1000, cluster_size = 20, icc = 0.05)
#' effective_n(1000, cluster_size = c(10, 20, 30, 40), icc = 0.05)
#' set.seed(1)
#' d <- data.frame(g = rep(1:20, each = 10))
#' d$y <- rnorm(20)[d$g] + rnorm(200, sd = 2)
#' effective_n(200, cluster_size = 10, icc = icc(d, "y", "g"))
#' @export
effective_n <- function(n, cluster_size, icc) {
  icc <- icc_value(icc)
  if (!is.numeric(n) || length(n) != 1L || is.na(n) || !is.finite(n) || n <= 0) {
    abort("`n` must be a single positive finite number, the total number of rows.", call. = FALSE)
  }
  out <- n / design_effect(cluster_size, icc)
  ## a design effect below 1 (a negative ICC) raises n: it may overflow
  if (!is.finite(out)) {
    abort(sprintf("`n` = %s divided by the design effect %s (a negative `icc`) is beyond the largest double (%s); give a smaller `n`.",
                  format(n), format(design_effect(cluster_size, icc)), format(.Machine$double.xmax)),
          call. = FALSE)
  }
  out
}

## The ICC as a number: an icc() result gives its estimate.
icc_value <- function(icc) {
  if (inherits(icc, "clusterab_icc")) {
    est <- icc$estimate
    if (!is.finite(est)) abort("`icc` is an icc() result whose estimate is not finite.")
    return(est)
  }
  icc
}

## Shared argument checks (also used by cluster_ttest()).

## The column of `data` named by `name` (argument `arg`), with an error that
## says what to pass. A column must be a plain vector: a matrix column (such
## as a two-column outcome) or a list column is refused, since its values
## would otherwise be read as a longer vector.
data_column <- function(data, name, arg, data_arg = "data") {
  if (!is.character(name) || length(name) != 1L || is.na(name)) {
    abort(sprintf("`%s` must be the name of a column of `%s`, as a string (such as \"y\").",
                 arg, data_arg), call. = FALSE)
  }
  if (!name %in% names(data)) {
    shown <- names(data)[seq_len(min(10L, length(names(data))))]
    abort(sprintf("`%s` = \"%s\" is not a column of `%s`; its columns include: %s.", arg, name,
                 data_arg, paste(shown, collapse = ", ")), call. = FALSE)
  }
  if (sum(names(data) == name) > 1L) {
    abort(sprintf("`%s` = \"%s\" names %d columns of `%s`; give the columns distinct names.",
                  arg, name, sum(names(data) == name), data_arg))
  }
  check_vector_column(data[[name]], arg, name)
}

check_vector_column <- function(v, arg, name) {
  if (!is.null(dim(v)) || (is.list(v) && !is.data.frame(v)) || is.data.frame(v)) {
    what <- if (is.list(v) && is.null(dim(v))) "a list column" else
      sprintf("a %s with %d columns", if (is.data.frame(v)) "data frame" else "matrix", NCOL(v))
    abort(sprintf("`%s` column '%s' is %s; it must be a plain vector with one value per row (use one column of it).",
                  arg, name, what), call. = FALSE)
  }
  v
}

## The cluster ids of the rows of `data`, given in any of the three forms of
## `cluster`: a column name, a one-sided formula (`~ g`) or a vector with one
## value per row. Returns list(values, name), the name being the column's
## (or the deparsed expression, or "cluster" for a vector).
data_cluster <- function(data, cluster, arg = "cluster", data_arg = "data") {
  if (is.null(cluster)) {
    abort(sprintf("`%s` is required: a column name of `%s`, a one-sided formula such as ~ g, or a vector with one value per row.",
                  arg, data_arg), call. = FALSE)
  }
  n <- nrow(data)
  if (inherits(cluster, "formula")) {
    if (length(cluster) != 2L) {
      abort(sprintf("`%s` must be a one-sided formula such as ~ g, not a two-sided one.", arg),
            call. = FALSE)
    }
    expr <- cluster[[2L]]
    if (is.call(expr) && identical(expr[[1L]], as.name("+"))) {
      abort(sprintf("`%s` = %s names several variables; this function takes one clustering variable (combine them first, e.g. ~ interaction(a, b)).",
                    arg, deparse1(cluster)))
    }
    if (is.name(expr)) {
      return(list(values = data_column(data, as.character(expr), arg, data_arg),
                  name = as.character(expr)))
    }
    v <- tryCatch(eval(expr, as.list(data), environment(cluster)),
                  error = function(e) abort(sprintf("`%s` = %s could not be evaluated in `%s`: %s",
                                                    arg, deparse1(cluster), data_arg,
                                                    conditionMessage(e)), call. = FALSE))
    name <- deparse1(expr)
  } else if (is.character(cluster) && length(cluster) == 1L &&
             (n != 1L || cluster %in% names(data))) {
    return(list(values = data_column(data, cluster, arg, data_arg), name = cluster))
  } else {
    v <- cluster
    name <- arg
  }
  if (!is.atomic(v) && !is.factor(v)) {
    abort(sprintf("`%s` must be a column name, a one-sided formula or a vector with one value per row, not %s.",
                  arg, class(v)[1L]), call. = FALSE)
  }
  check_vector_column(v, arg, name)
  if (length(v) != n) {
    abort(sprintf("`%s` has %d values but `%s` has %d rows; give one cluster id per row, or a column name.",
                  arg, length(v), data_arg, n), call. = FALSE)
  }
  list(values = v, name = name)
}

check_no_missing <- function(v, arg) {
  k <- sum(is.na(v))
  if (k > 0L) {
    what <- if (arg == "cluster") " or give them a cluster id" else ""
    abort(sprintf("`%s` has %d missing value%s; drop those rows%s.", arg, k,
                 if (k == 1L) "" else "s", what), call. = FALSE)
  }
}

## A numeric column without NA, NaN or infinite values (which would give
## non-finite sums and a confusing error later).
check_finite_column <- function(v, arg, name) {
  check_no_missing(v, arg)
  k <- sum(!is.finite(v))
  if (k > 0L) {
    abort(sprintf("`%s` column '%s' has %d infinite value%s; drop or fix those rows.",
                  arg, name, k, if (k == 1L) "" else "s"), call. = FALSE)
  }
}
