#' t (or z) tests and confidence intervals of coefficients
#'
#' `coef_test()` gives the table of [lmtest::coeftest()]: estimates,
#' standard errors, test statistics and p-values, here with cluster-robust
#' standard errors. The result has class `"coeftest"` (and `"coef_test"`)
#' with lmtest's columns and attributes, and prints like it, with a line
#' saying which covariance type, how many clusters and which degrees of
#' freedom it used. `coef_ci()` gives the matching confidence intervals, as
#' [lmtest::coefci()].
#'
#' @section Degrees of freedom:
#' With a clustered covariance computed here (`vcov = NULL` or
#' `vcov = vcov_cluster` with a `cluster`, or a [cluster_lm()] fit) the
#' tests use a t distribution with G - 1 degrees of freedom, G being the
#' number of clusters (the smallest number for multiway clustering), as Stata
#' and fixest do, for every type except "CR2", also for `glm` fits. This
#' differs from `lmtest::coeftest()`, which uses the residual degrees of
#' freedom (z tests for `glm`): `df = "residual"` gives lmtest's choice.
#'
#' For "CR2" on `lm` and [cluster_lm()] fits the default is the
#' Satterthwaite degrees of freedom of each coefficient (Bell and McCaffrey
#' 2002; Pustejovsky and Tipton 2018), equal to
#' `clubSandwich::coef_test(fit, vcov = "CR2", test = "Satterthwaite")`:
#' the df of the chi-squared distribution whose first two moments match
#' those of the CR2 variance under a working model of independent errors
#' with constant variance. They can be far below G - 1 when a coefficient
#' rests on few clusters (a treatment given to few clusters, very unequal
#' cluster sizes), which is what keeps the test honest there. They are
#' computed from per-cluster cross-products in O(G k^3) operations, from
#' the same eigen-decomposition of each cluster as the CR2 adjustment. For a
#' `glm` the "CR2" default stays G - 1 (`df = "Satterthwaite"` is an error
#' there). `df = "cluster"` gives G - 1 for "CR2" too. With fewer than 3
#' clusters Satterthwaite df are degenerate (with 2 they are about 1 whatever
#' the data): they are then an error, whether by default or asked for, that
#' suggests `df = "cluster"` or a number.
#'
#' Without clustering (each observation its own cluster), and
#' when `vcov` is a matrix or a function from another package, the default is
#' lmtest's rule. The printout says which was used.
#'
#' @section Too few clusters:
#' The warnings of [vcov_cluster()] (class `"clusterab_few_clusters"`) are
#' given once per call; the result keeps their text in `attr(, "notes")`
#' and prints it under the table. For a [cluster_lm()] fit they were given
#' when it was fitted and are not repeated.
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
#'   covariance stored in a [cluster_lm()] fit. A matrix must be square with
#'   one row per (non-aliased) coefficient and hold no missing values.
#' @param cluster,type Passed to `vcov` (see [vcov_cluster()]): `cluster` is a
#'   column name (`"g"`), a one-sided formula (`~ g`) or a vector with one id
#'   per observation.
#' @param df Degrees of freedom: `NULL` (the default) is G - 1 for a
#'   clustered covariance (Satterthwaite for "CR2") and lmtest's rule
#'   otherwise (see "Degrees of freedom"); `"Satterthwaite"` (type "CR2"
#'   only, `lm` and [cluster_lm()] fits); `"cluster"` is G - 1 always;
#'   `"residual"` is lmtest's rule (the residual degrees of freedom for
#'   linear models, a z test for `glm`); a number is used as given (`Inf`
#'   for z tests).
#' @param ... Further arguments passed to `vcov` when it is a function, or to
#'   [vcov_cluster()] (`cadjust`, `multi0`, `fix`, `threads`).
#' @return `coef_test()`: a matrix of class `c("coef_test", "coeftest")`
#'   with columns "Estimate", "Std. Error", "t value" and "Pr(>|t|)" (or z)
#'   and attributes `method`, `df` (one number, or with Satterthwaite df a
#'   vector named by the coefficients), `nobs` and `logLik` as lmtest's, plus
#'   `type` (the covariance type; `NA` for a `vcov` given), `clusters` (the
#'   numbers of clusters, named by the clustering variables), `df_rule`
#'   ("G - 1", "Satterthwaite", "residual" or "given") and `notes`. `tidy()`
#'   and `as.data.frame()` turn it into a data frame with broom's columns
#'   and a `df` column.
#' @examples
#' fit <- lm(revenue ~ treated + baseline, data = geo_experiment)
#' coef_test(fit, cluster = ~ region, type = "CR2")   # Satterthwaite df
#' coef_test(fit, cluster = ~ region, type = "CR2", df = "cluster")   # G - 1
#' coef_test(fit, cluster = "region", type = "CR2", df = "residual")
#' coef_ci(fit, cluster = ~ region, type = "CR2")
#' tidy(coef_test(fit, cluster = ~ region, type = "CR2"), conf.int = TRUE)
#' @export
coef_test <- function(x, vcov = NULL, cluster = NULL, type = NULL, df = NULL, ...) {
  info <- coef_vcov(x, vcov, cluster, type, label = cluster_label(substitute(cluster)),
                    satterthwaite = is.null(df) || identical(df, "Satterthwaite"), ...)
  if (isTRUE(info$signal)) signal_notes(info$notes)
  est <- coef(x)
  V <- info$vcov
  se <- sqrt(diag(V))
  if (!is.null(names(est)) && !is.null(names(se))) {
    keep <- names(est)[names(est) %in% names(se)]
    est <- est[keep]
    se <- se[keep]
  } else if (length(se) != length(est)) {
    est <- est[!is.na(est)]
  }
  dfs <- coef_df(x, df, info, cluster, names(se), threads = list(...)$threads)
  df <- dfs$df
  warn_zero_se(se, perfect_lm_fit(x))
  tval <- as.vector(est) / se
  if (any(is.finite(df) & df > 0)) {
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
  attr(rval, "logLik") <- fit_logLik(x)
  attr(rval, "type") <- info$type
  attr(rval, "clusters") <- info$G
  attr(rval, "df_rule") <- dfs$rule
  attr(rval, "notes") <- note_text(info$notes)
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
  check_conf_level(level, "level")
  tab <- coef_test(x, vcov = vcov, cluster = cluster, type = type, df = df, ...)
  ci <- coef_limits(tab, level)
  if (is.null(parm)) return(ci)
  if (is.character(parm)) {
    unknown <- setdiff(parm, rownames(ci))
    if (length(unknown)) {
      abort(sprintf("`parm` names %s, which %s not among the coefficients (%s).",
                    paste0("`", unknown, "`", collapse = ", "),
                    if (length(unknown) > 1L) "are" else "is",
                    paste0("`", rownames(ci), "`", collapse = ", ")))
    }
    parm <- which(rownames(ci) %in% parm)
  } else if (!is.numeric(parm) || anyNA(parm) || any(parm < 1 | parm > nrow(ci))) {
    abort(sprintf("`parm` must name coefficients or give their positions (1 to %d).", nrow(ci)))
  }
  ci[parm, , drop = FALSE]
}

## Standard errors of exactly zero: the outcome is fitted exactly (a constant
## outcome, or one that is an exact combination of the columns), so t = 0/0 is
## undefined. lm() warns "essentially perfect fit"; a classed warning here.
## `perfect`: an lm() fit that summary.lm() calls an "essentially perfect
## fit", whose standard errors are zero up to rounding.
warn_zero_se <- function(se, perfect = FALSE) {
  zero <- !is.na(se) & se == 0
  if (perfect) zero <- !is.na(se)
  if (!any(zero)) return(invisible())
  what <- if (all(zero | is.na(se))) "the standard errors are zero" else
    sprintf("the standard errors of %s are zero", paste0("`", names(se)[zero], "`", collapse = ", "))
  if (perfect) what <- paste(what, "(up to rounding)")
  warn(sprintf("%s because the outcome is fitted exactly (the residuals that bear on %s are zero), so the t statistics and p-values are undefined (NaN); check the outcome (is it constant?) and the formula.",
               what, if (all(zero | is.na(se))) "them" else "those coefficients"), class = "clusterab_perfect_fit")
}

## A multiway covariance (V_1 + V_2 - V_12, ...) can have negative
## variances; their standard errors are NaN, as in sandwich and lmtest, and
## this says why and what to do (not that the standard error is zero).
## Returns which variances are negative (invisibly).
warn_negative_variance <- function(v) {
  neg <- !is.na(v) & v < 0
  if (!any(neg)) return(invisible(neg))
  warn(sprintf("the multiway covariance has negative variances for %s (the intersection terms outweigh the others), so their standard errors are NaN; vcov_cluster(fit, fix = TRUE) gives the nearest positive semi-definite covariance (sandwich's fix = TRUE), or cluster by fewer variables.",
               paste0("`", names(v)[neg], "`", collapse = ", ")),
       class = "clusterab_negative_variance")
  invisible(neg)
}

## summary.lm()'s test for an "essentially perfect fit": a residual variance
## below 1e-30 times the fitted values' mean square, mean(f)^2 + var(f).
## That is at most sum(f^2) / (n - 1), so one sum of squares rules out the
## common case; summary.lm()'s own expression decides the rest.
perfect_lm_fit <- function(x) {
  if (!inherits(x, "lm") || inherits(x, "glm") || inherits(x, "mlm")) return(FALSE)
  r <- x$residuals
  f <- x$fitted.values
  w <- x$weights
  if (is.null(r) || is.null(f) || !length(r)) return(FALSE)
  if (!is.null(w)) {
    keep <- w != 0
    r <- sqrt(w[keep]) * r[keep]
    f <- sqrt(w[keep]) * f[keep]
  }
  rdf <- x$df.residual
  if (is.null(rdf) || rdf <= 0 || length(f) < 2L) return(FALSE)
  resvar <- sum(r * r) / rdf
  if (!is.finite(resvar)) return(FALSE)
  bound <- sum(f * f) / (length(f) - 1L)
  if (is.finite(bound) && resvar >= 2e-30 * bound) return(FALSE)
  f <- as.vector(f)
  isTRUE(resvar < (mean(f)^2 + stats::var(f)) * 1e-30)
}

## logLik() of the fit for the "logLik" attribute (as lmtest's coeftest()
## keeps it). For an unweighted lm the value of stats:::logLik.lm() without
## its vectors of ones (the same number: the weights are all 1).
fit_logLik <- function(x) {
  if (identical(class(x), "lm") && is.null(x$weights) && !is.null(x$residuals) && !is.null(x$rank)) {
    N <- length(x$residuals)
    val <- 0.5 * (0 - N * (log(2 * pi) + 1 - log(N) + log(sum(x$residuals^2))))
    return(structure(val, nall = N, nobs = N, df = x$rank + 1, class = "logLik"))
  }
  tryCatch(stats::logLik(x), error = function(e) NULL)
}

## Confidence limits from a coef_test() table, with its df.
coef_limits <- function(tab, level) {
  est <- tab[, 1L]
  se <- tab[, 2L]
  a <- (1 - level) / 2
  a <- c(a, 1 - a)
  df <- attr(tab, "df")
  if (is.null(df)) df <- Inf
  df <- rep_len(unname(df), length(est))
  t_ok <- is.finite(df) & df > 0
  lower <- ifelse(t_ok, qt(a[1L], df = pmax(df, 1e-300)), qnorm(a[1L]))
  upper <- ifelse(t_ok, qt(a[2L], df = pmax(df, 1e-300)), qnorm(a[2L]))
  lower[is.nan(df)] <- NaN
  upper[is.nan(df)] <- NaN
  ci <- cbind(est + lower * se, est + upper * se)
  rownames(ci) <- rownames(tab)
  colnames(ci) <- paste(format(100 * a, trim = TRUE, scientific = FALSE, digits = 3L), "%")
  ci
}

## The covariance of a coef_test() call and what the printout says about it:
## `vcov`, `type` (NA when given by the user), `G` (numbers of clusters,
## empty when not clustered here), `notes` and whether to signal them now.
## `satterthwaite`: the df will be wanted (an lm's CR2 basis then holds them).
coef_vcov <- function(x, vcov, cluster, type, label = NULL, satterthwaite = FALSE, ...) {
  if (is.null(vcov) || identical(vcov, vcov_cluster)) {
    if (inherits(x, "cluster_lm")) {
      if (is.null(cluster) && (is.null(type) || identical(type, x$type)) && !...length()) {
        ## the fit's own covariance: its notes were given by cluster_lm()
        return(list(vcov = x$vcov, type = x$type, G = cluster_lm_G(x),
                    notes = cluster_lm_notes(x), signal = FALSE,
                    cr2 = cluster_lm_cr2_basis(x, x$type)))
      }
      res <- vcov_cluster_cluster_lm_result(x, cluster = cluster, type = type, ..., label = label)
    } else if (inherits(x, "lm")) {
      res <- vcov_cluster_lm_result(x, cluster = cluster, type = type, ..., label = label,
                                    satterthwaite = satterthwaite)
    } else {
      res <- list(vcov = vcov_cluster(x, cluster = cluster, type = type, ...),  # the default's error
                  type = NA_character_, G = integer(0), notes = list())
    }
    res$signal <- TRUE
    return(res)
  }
  if (is.function(vcov)) {
    args <- c(list(x), if (!is.null(cluster)) list(cluster = cluster),
              if (!is.null(type)) list(type = type), list(...))
    V <- do.call(vcov, args)
  } else {
    V <- vcov
  }
  list(vcov = check_vcov_matrix(V, coef(x)), type = NA_character_, G = integer(0),
       notes = list(), signal = FALSE)
}

## A covariance matrix given by the user: numeric, square, one row per
## coefficient (or per non-aliased one), finite except in aliased rows.
check_vcov_matrix <- function(V, est) {
  V <- tryCatch(as.matrix(V), error = function(e) NULL)
  if (is.null(V) || !is.numeric(V) || nrow(V) != ncol(V)) {
    abort("`vcov` must be a square covariance matrix or a function that computes one.")
  }
  k_all <- length(est)
  kept <- !is.na(est)
  if (!is.null(rownames(V)) && !is.null(names(est))) {
    missing <- setdiff(names(est)[kept], rownames(V))
    if (length(missing)) {
      abort(sprintf("`vcov` has no row for %s: it must have one row and column per coefficient (%s).",
                    paste0("`", missing, "`", collapse = ", "),
                    paste0("`", names(est)[kept], "`", collapse = ", ")))
    }
    inner <- V[names(est)[kept], names(est)[kept], drop = FALSE]
  } else if (nrow(V) == k_all) {
    inner <- V[kept, kept, drop = FALSE]
  } else if (nrow(V) == sum(kept)) {
    inner <- V
  } else {
    abort(sprintf("`vcov` is %d x %d but the model has %d coefficients%s; give one row and column per coefficient.",
                  nrow(V), ncol(V), k_all,
                  if (sum(kept) < k_all) sprintf(" (%d not aliased)", sum(kept)) else ""))
  }
  if (any(!is.finite(inner))) {
    abort(sprintf("`vcov` holds %d missing or infinite value(s) for the estimated coefficients; give a finite covariance matrix.",
                  sum(!is.finite(inner))))
  }
  if (any(diag(inner) < 0)) {
    abort("`vcov` has negative variances on its diagonal; it is not a covariance matrix.")
  }
  V
}

## The degrees of freedom and the rule that gave them (see ?coef_test):
## one number, or for Satterthwaite one per coefficient (named by `terms`).
coef_df <- function(x, df, info, cluster, terms = NULL, threads = NULL) {
  residual <- function() {
    if (inherits(x, "glm")) return(Inf)
    r <- tryCatch(df.residual(x), error = function(e) NULL)
    if (is.null(r)) 0 else r
  }
  satterthwaite <- function() {
    check_satterthwaite_clusters(min(info$G), is.null(df))
    out <- info$cr2$coef_df   # computed with the covariance (vcov_cluster_lm_result())
    if (is.null(out)) {
      C <- identity_contrasts(info$cr2$names)
      out <- cr2_satterthwaite(info$cr2, C, resolve_threads(threads))
    }
    if (!is.null(terms)) out <- out[terms]
    list(df = out, rule = "Satterthwaite")
  }
  if (is.null(df)) {
    if (!is.null(info$cr2) && length(info$G)) return(satterthwaite())
    if (length(info$G)) return(list(df = min(info$G) - 1, rule = "G - 1"))
    return(list(df = residual(), rule = "residual"))
  }
  if (identical(df, "Satterthwaite")) {
    if (inherits(x, "glm")) check_cr2_fit(x, "x")
    if (!identical(info$type, "CR2") || !length(info$G)) {
      abort(sprintf('df = "Satterthwaite" is defined for the CR2 covariance only (type = "CR2" with a `cluster`, computed here with vcov = NULL), but %s; use type = "CR2", or df = "cluster" (G - 1) or df = "residual" with the other types ("HC0" to "HC3", "CR0", "CR1", "CR1p", "CR1S", "CR3").',
                    if (is.na(info$type)) "`vcov` was given" else if (!length(info$G)) "there is no `cluster`" else sprintf('type = "%s"', info$type)))
    }
    if (is.null(info$cr2)) check_cr2_fit(x, "x")
    return(satterthwaite())
  }
  if (identical(df, "residual")) return(list(df = residual(), rule = "residual"))
  if (identical(df, "cluster")) {
    G <- if (length(info$G)) {
      min(info$G)
    } else if (!is.null(cluster)) {
      n_clusters(x, cluster)
    } else if (inherits(x, "cluster_lm")) {
      min(x$G)
    } else {
      abort('df = "cluster" needs `cluster` (or a cluster_lm fit).')
    }
    return(list(df = G - 1, rule = "G - 1"))
  }
  if (!is.numeric(df) || length(df) != 1L || is.na(df) || df <= 0) {
    abort('`df` must be NULL, "Satterthwaite", "cluster", "residual" or a single positive number.')
  }
  list(df = df, rule = "given")
}

## Satterthwaite df with fewer than 3 clusters: with 2 the CR2 variance of
## every coefficient rests on one difference of two cluster scores, and its
## Satterthwaite df are about 1 whatever the data (clubSandwich gives 1.0 to
## 1.02): degenerate, not information. Refused whether chosen by default or
## asked for; df = "cluster" gives the same G - 1 = 1 openly.
check_satterthwaite_clusters <- function(G, by_default) {
  if (G >= 3L) return(invisible())
  abort(sprintf('`cluster` has %d clusters: Satterthwaite degrees of freedom%s are undefined or degenerate with fewer than 3 clusters (with 2 they are about 1 whatever the data). Give `df` yourself (df = "cluster" for G - 1 = %d, or a number), or use more clusters; with so few clusters prefer randomization_test() or cluster_ttest().',
                G, if (by_default) ' (the default for type = "CR2")' else "", G - 1L))
}

## The number of clusters (smallest over the variables) of `cluster` for fit x.
n_clusters <- function(x, cluster) {
  if (inherits(x, "cluster_lm")) {
    if (is.character(cluster) || inherits(cluster, "formula")) {
      vars <- if (is.character(cluster)) cluster else all.vars(cluster)
      if (all(vars %in% names(x$G))) return(min(x$G[vars]))
    }
    abort('df = "cluster" with a new `cluster` for a cluster_lm fit: refit cluster_lm() with that clustering.')
  }
  w <- if (inherits(x, "glm")) x$prior.weights else x$weights
  rows <- list(n_fit = length(x$residuals),
               keep = if (!is.null(w) && any(w == 0)) which(w > 0))
  cl <- fit_cluster(x, cluster, rows)
  min(vapply(cl, function(v) cluster_codes(v)$G, integer(1L)))
}

## "Standard errors: CR2, 40 clusters (region); t tests with 39 df (G - 1)"
## or "...; t tests with Satterthwaite df (6.1 to 21.4)"
coef_test_footer <- function(x) {
  if (is.null(attr(x, "df_rule"))) return(NULL)
  df <- attr(x, "df")
  sprintf("Standard errors: %s; %s", vcov_text(attr(x, "type"), attr(x, "clusters")),
          if (identical(attr(x, "df_rule"), "Satterthwaite")) satterthwaite_text(df) else df_text(df, attr(x, "df_rule")))
}

satterthwaite_text <- function(df) {
  ok <- df[is.finite(df)]
  range <- if (!length(ok)) "" else if (length(unique(signif(ok, 3L))) == 1L) {
    sprintf(" (%s)", format(signif(ok[1L], 3L)))
  } else {
    sprintf(" (%s to %s)", format(signif(min(ok), 3L)), format(signif(max(ok), 3L)))
  }
  paste0("t tests with Satterthwaite df", range, ", per coefficient")
}

#' @export
print.coef_test <- function(x, ...) {
  mthd <- attr(x, "method")
  if (is.null(mthd)) mthd <- "Test of coefficients"
  cat(paste("\n", mthd, ":\n\n", sep = ""))
  stats::printCoefmat(x, ...)
  footer <- coef_test_footer(x)
  if (!is.null(footer)) cat(footer, "\n", sep = "")
  print_notes(attr(x, "notes"))
  cat("\n")
  invisible(x)
}

#' Tidy a coefficient test
#'
#' @param x A [coef_test()] result.
#' @param conf.int Add confidence limits (`conf.low`, `conf.high`), from the
#'   table's estimates, standard errors and degrees of freedom?
#' @param conf.level Their level.
#' @param row.names,optional Ignored (for the `as.data.frame()` generic).
#' @param ... Ignored.
#' @return A data frame with broom's columns `term`, `estimate`,
#'   `std.error`, `statistic`, `df` (the degrees of freedom of each test:
#'   per coefficient with Satterthwaite df, `NA` for z tests), `p.value`
#'   (and `conf.low`, `conf.high`), as broom's `tidy.coeftest()` plus `df`. `as.data.frame()` gives the same, so
#'   `knitr::kable()` works on a [coef_test()] result.
#' @method tidy coef_test
#' @export
tidy.coef_test <- function(x, conf.int = FALSE, conf.level = 0.95, ...) {
  check_flag(conf.int, "conf.int")
  if (conf.int) check_conf_level(conf.level, "conf.level")
  tidy_coef_test(x, if (conf.int) coef_limits(x, conf.level))
}

#' @rdname tidy.coef_test
#' @export
as.data.frame.coef_test <- function(x, row.names = NULL, optional = FALSE, ...) {
  if (is.null(rownames(x))) {
    ## knitr::kable() formats a matrix through as.data.frame() of it with the
    ## row names removed and expects the same columns back: the plain table
    return(as.data.frame(matrix(unclass(x), nrow(x), dimnames = list(NULL, colnames(x))),
                         optional = optional))
  }
  tidy.coef_test(x, ...)
}

tidy_coef_test <- function(tab, ci = NULL) {
  ## NA for z tests (no t distribution) and for undefined df
  df <- attr(tab, "df")
  df <- if (is.null(df)) rep(NA_real_, nrow(tab)) else rep_len(unname(df), nrow(tab))
  df[!is.finite(df)] <- NA_real_
  out <- data.frame(term = rownames(tab), estimate = unname(tab[, 1L]),
                    std.error = unname(tab[, 2L]), statistic = unname(tab[, 3L]),
                    df = df, p.value = unname(tab[, 4L]), stringsAsFactors = FALSE)
  if (!is.null(ci)) {
    out$conf.low <- unname(ci[, 1L])
    out$conf.high <- unname(ci[, 2L])
  }
  out
}
