#' t (or z) tests and confidence intervals of coefficients
#'
#' `coef_test()` gives the table of [lmtest::coeftest()]: estimates,
#' standard errors, test statistics and p-values, here with cluster-robust
#' standard errors. The result has class `"coeftest"` (and `"coef_test"`)
#' with lmtest's columns and attributes, and prints like it. `coef_ci()` gives
#' the matching confidence intervals, as [lmtest::coefci()].
#'
#' clubSandwich also has a function called `coef_test()`; when both
#' packages are attached, the one attached last masks the other, so write
#' `clusterab::coef_test()` to be sure.
#'
#' @param x A fitted model: [cluster_lm()], `lm`, `glm`, or anything with
#'   `coef()` and `vcov()` methods.
#' @param vcov The covariance matrix to use, or a function computing it from
#'   `x` (such as [vcov_cluster()], `sandwich::vcovCL` or [stats::vcov()]).
#'   `NULL` uses [vcov_cluster()] with `cluster` and `type`, or the
#'   covariance stored in a [cluster_lm()] fit.
#' @param cluster,type Passed to `vcov` (see [vcov_cluster()]).
#' @param df Degrees of freedom: `NULL` as lmtest (the residual degrees of
#'   freedom for linear models, a z test for `glm`); `"cluster"` for G - 1,
#'   where G is the number of clusters (the smallest number for multiway
#'   clustering), as Stata and fixest do; or a number (`Inf` for z tests).
#' @param ... Further arguments passed to `vcov` when it is a function.
#' @return `coef_test()`: a matrix of class `c("coef_test", "coeftest")`
#'   with columns "Estimate", "Std. Error", "t value" and "Pr(>|t|)" (or z)
#'   and attributes `method`, `df`, `nobs` and `logLik` as lmtest's.
#' @examples
#' fit <- lm(revenue ~ treated + baseline, data = geo_experiment)
#' coef_test(fit, cluster = ~ region)
#' coef_test(fit, cluster = ~ region, type = "CR2", df = "cluster")
#' coef_ci(fit, cluster = ~ region)
#' @export
coef_test <- function(x, vcov = NULL, cluster = NULL, type = NULL, df = NULL, ...) {
  est <- coef(x)
  V <- coef_vcov(x, vcov, cluster, type, ...)
  se <- sqrt(diag(V))
  if (!is.null(names(est)) && !is.null(names(se))) {
    keep <- names(est)[names(est) %in% names(se)]
    est <- est[keep]
    se <- se[keep]
  }
  df <- coef_df(x, df, cluster)
  tval <- as.vector(est) / se
  if (is.finite(df) && df > 0) {
    pval <- 2 * pt(abs(tval), df = df, lower.tail = FALSE)
    cnames <- c("Estimate", "Std. Error", "t value", "Pr(>|t|)")
    mthd <- "t"
  } else {
    pval <- 2 * pnorm(abs(tval), lower.tail = FALSE)
    cnames <- c("Estimate", "Std. Error", "z value", "Pr(>|z|)")
    mthd <- "z"
  }
  rval <- cbind(est, se, tval, pval)
  colnames(rval) <- cnames
  class(rval) <- c("coef_test", "coeftest")
  attr(rval, "method") <- paste(mthd, "test of coefficients")
  attr(rval, "df") <- df
  n <- tryCatch(nobs(x), error = function(e) NULL)
  attr(rval, "nobs") <- n
  ll <- tryCatch(stats::logLik(x), error = function(e) NULL)
  attr(rval, "logLik") <- ll
  rval
}

#' @rdname coef_test
#' @param parm Coefficients to give intervals for (names or positions);
#'   `NULL` for all.
#' @param level Confidence level.
#' @return `coef_ci()`: a matrix with the lower and upper limits, columns
#'   named like [stats::confint()]'s ("2.5 %", "97.5 %").
#' @export
coef_ci <- function(x, parm = NULL, level = 0.95, vcov = NULL, cluster = NULL,
                    type = NULL, df = NULL, ...) {
  if (!is.numeric(level) || length(level) != 1L || is.na(level) || level <= 0 || level >= 1) {
    abort("`level` must be a single number between 0 and 1, such as 0.95.", call. = FALSE)
  }
  tab <- coef_test(x, vcov = vcov, cluster = cluster, type = type, df = df, ...)
  est <- tab[, 1L]
  se <- tab[, 2L]
  a <- (1 - level) / 2
  a <- c(a, 1 - a)
  df <- attr(tab, "df")
  fac <- if (is.finite(df) && df > 0) qt(a, df = df) else qnorm(a)
  ci <- cbind(est + fac[1L] * se, est + fac[2L] * se)
  colnames(ci) <- paste(format(100 * a, trim = TRUE, scientific = FALSE, digits = 3L), "%")
  if (is.null(parm)) parm <- seq_along(est)
  if (is.character(parm)) parm <- which(names(est) %in% parm)
  ci[parm, , drop = FALSE]
}

coef_vcov <- function(x, vcov, cluster, type, ...) {
  if (is.null(vcov)) {
    if (inherits(x, "cluster_lm") && is.null(cluster) &&
        (is.null(type) || identical(type, x$type))) {
      return(x$vcov)
    }
    return(vcov_cluster(x, cluster = cluster, type = type, ...))
  }
  if (is.function(vcov)) {
    args <- c(list(x), if (!is.null(cluster)) list(cluster = cluster),
              if (!is.null(type)) list(type = type), list(...))
    return(do.call(vcov, args))
  }
  if (!is.matrix(vcov) || nrow(vcov) != ncol(vcov)) {
    abort("`vcov` must be a square covariance matrix or a function that computes one.",
         call. = FALSE)
  }
  vcov
}

## lmtest's rule, plus df = "cluster" (G - 1).
coef_df <- function(x, df, cluster) {
  if (is.null(df)) {
    if (inherits(x, "glm")) return(Inf)
    df <- tryCatch(df.residual(x), error = function(e) NULL)
    return(if (is.null(df)) 0 else df)
  }
  if (identical(df, "cluster")) {
    G <- if (!is.null(cluster)) {
      n_clusters(x, cluster)
    } else if (inherits(x, "cluster_lm")) {
      min(x$G)
    } else {
      abort('df = "cluster" needs `cluster` (or a cluster_lm fit).', call. = FALSE)
    }
    return(G - 1)
  }
  if (!is.numeric(df) || length(df) != 1L || is.na(df) || df <= 0) {
    abort('`df` must be NULL, "cluster" or a single positive number.', call. = FALSE)
  }
  df
}

## The number of clusters (smallest over the variables) of `cluster` for fit x.
n_clusters <- function(x, cluster) {
  if (inherits(x, "cluster_lm")) {
    if (is.character(cluster) || inherits(cluster, "formula")) {
      vars <- if (is.character(cluster)) cluster else all.vars(cluster)
      if (all(vars %in% names(x$G))) return(min(x$G[vars]))
    }
    abort('df = "cluster" with a new `cluster` for a cluster_lm fit: refit cluster_lm() with that clustering.',
         call. = FALSE)
  }
  w <- if (inherits(x, "glm")) x$prior.weights else x$weights
  rows <- list(n_fit = length(x$residuals),
               keep = if (!is.null(w) && any(w == 0)) which(w > 0))
  cl <- fit_cluster(x, cluster, rows)
  min(vapply(cl, function(v) cluster_codes(v)$G, integer(1L)))
}

#' @export
print.coef_test <- function(x, ...) {
  mthd <- attr(x, "method")
  if (is.null(mthd)) mthd <- "Test of coefficients"
  cat(paste("\n", mthd, ":\n\n", sep = ""))
  stats::printCoefmat(x, ...)
  cat("\n")
  invisible(x)
}

#' Tidy a coefficient test
#'
#' @param x A [coef_test()] result.
#' @param ... Ignored. (For confidence limits call `tidy(conf.int = TRUE)` on
#'   the [cluster_lm()] fit.)
#' @return A data frame with broom's columns.
#' @method tidy coef_test
#' @export
tidy.coef_test <- function(x, ...) tidy_coef_test(x)

tidy_coef_test <- function(tab, ci = NULL) {
  out <- data.frame(term = rownames(tab), estimate = unname(tab[, 1L]),
                    std.error = unname(tab[, 2L]), statistic = unname(tab[, 3L]),
                    p.value = unname(tab[, 4L]), stringsAsFactors = FALSE)
  if (!is.null(ci)) {
    out$conf.low <- unname(ci[, 1L])
    out$conf.high <- unname(ci[, 2L])
  }
  out
}
