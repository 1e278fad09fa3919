#' Random-intercept linear mixed models, fast
#'
#' Fits `y ~ x + (1 | g)`, the linear mixed model with one random intercept
#' per group, by REML or maximum likelihood, with the same estimates as
#' `lme4::lmer()`: fixed effects, variance components, conditional modes,
#' the REML criterion or deviance and the log-likelihood. The data are
#' compressed once to per-group statistics ([cluster_stats()]); after that
#' every evaluation of the profiled criterion costs O(G p^2) for G groups and
#' p fixed effects, whatever the number of rows, and its first and second
#' derivatives are exact, so the optimum is found to machine precision.
#' Degrees of freedom for the fixed effects (Satterthwaite, as lmerTest;
#' Kenward-Roger, as pbkrtest; or by counting groups) come from the same
#' statistics: see [summary.ri_lmer()] and [anova.ri_lmer()].
#'
#' The formula takes lme4's syntax with exactly one random-effects term,
#' `(1 | g)`, where `g` is a column of `data`; any other random-effects term
#' (random slopes, several grouping factors, nested `(1 | a/b)`) is an error
#' that points to lme4. The fixed part is read as by [cluster_lm()]: plain
#' numeric columns in place, factors and transformations through
#' [model.matrix()]. Aliased fixed-effect columns are dropped with a message,
#' as lme4 drops them.
#'
#' A model without fixed effects (`y ~ 0 + (1 | g)` or `y ~ -1 + (1 | g)`)
#' is fitted as lme4 fits it: no fixed effects, only the variance
#' components. Factors are coded as by lme4 (and [lm()]): by the
#' `contrasts` argument, else by their [contrasts()] attribute, else by
#' `options("contrasts")`.
#'
#' A fit on the boundary (random-intercept standard deviation theta below
#' 1e-4 residual standard deviations; with weights, of the weights scaled
#' near 1, see [isSingular()]) gives lme4's message "boundary (singular)
#' fit: see help('isSingular')" (class `clusterab_singular`).
#' When the fixed effects fit every group mean exactly (a group-level
#' treatment with two groups, say), the REML criterion does not depend on the
#' variance of the random intercept at all: it is not identified, and is set
#' to 0 with a warning (class `clusterab_not_identified`); lme4 then returns
#' wherever its optimiser stopped. With fewer than 5 groups the variance of
#' the random intercept is poorly estimated, and a warning (class
#' `clusterab_few_clusters`) says so.
#'
#' Rows with a missing value in any variable of the fixed part or in the
#' weights are dropped (`na.action = na.omit`, the default; `na.exclude` pads
#' fitted values and residuals with `NA`; `na.fail` stops). A missing value of
#' the grouping variable is an error: give those rows a group or drop them
#' (lme4 drops them). Rows with zero weight are dropped. With `weights`, the
#' residual variance of a row is sigma^2 / weight, as in lme4. Multiplying
#' the weights by c changes neither the fixed effects, their covariance and
#' tests, the conditional modes nor the log-likelihood; sigma scales by
#' sqrt(c) and theta by 1 / sqrt(c), as in lme4. The fit works with the
#' weights multiplied by a power of two that brings them near 1, so weights
#' in any units (1e-200 to 1e200) give the same inference.
#'
#' Data too large for memory can be compressed elsewhere (for example by
#' [cluster_stats()] on a database table) and fitted from the statistics:
#' pass the `cluster_stats()` object as `formula` or `data`. Fitted values,
#' residuals and `predict()` without `newdata` then are not available, since
#' the rows are not.
#'
#' @param formula A formula such as `y ~ treated + x + (1 | g)` (or the same
#'   as a string); or a [cluster_stats()] object (then the random intercept
#'   is for its clusters).
#' @param data A data frame or data.table; or a [cluster_stats()] object, in
#'   which case the fixed part of `formula` may name a subset of its columns
#'   and `(1 | g)` must name its clustering variable.
#' @param REML Fit by restricted maximum likelihood (default) or, if
#'   `FALSE`, by maximum likelihood.
#' @param weights Optional positive weights: a column name, a one-sided
#'   formula or a numeric vector (as in lme4, precision weights).
#' @param subset Optional expression selecting rows, evaluated in `data`: a
#'   logical vector (one value, such as `TRUE`, is recycled, as in lme4) or
#'   row numbers.
#' @param na.action `na.omit` (default), `na.exclude` or `na.fail`, as a
#'   function or its name.
#' @param threads Number of threads for the compress step; default
#'   `getOption("clusterab.threads")`, else all cores. Results do not depend
#'   on it.
#' @param contrasts As for `lme4::lmer()` and [lm()]: `NULL` or a list naming
#'   factors of the fixed part with a contrast function, its name or a
#'   matrix (such as `list(f = "contr.sum")`).
#' @return An object of class `ri_lmer`, with methods for `print`,
#'   `summary`, `anova`, `fixef`, `ranef`, `VarCorr`, `sigma`, `vcov`,
#'   `logLik`, `AIC`, `BIC`, `deviance`, [REMLcrit()], `nobs`, [ngrps()],
#'   `coef`, `fitted`, `residuals`, `predict`, `confint`, [isSingular()],
#'   `tidy`, `glance` and `as.data.frame` (the `tidy()` table); and [icc()]
#'   gives its intra-cluster correlation.
#' @seealso [cluster_lm()] for cluster-robust least squares; [icc()],
#'   [design_effect()].
#' @examples
#' fit <- ri_lmer(revenue ~ treated + baseline + (1 | region), data = geo_experiment)
#' fit
#' summary(fit)
#' summary(fit, ddf = "Kenward-Roger")
#' VarCorr(fit)
#' icc(fit)
#' head(ranef(fit)$region)
#' @export
ri_lmer <- function(formula, data, REML = TRUE, weights = NULL, subset, na.action,
                    threads = NULL, contrasts = NULL) {
  check_flag(REML, "REML")
  threads <- resolve_threads(threads)
  call <- match.call()
  if (!missing(formula) && is.character(formula) && length(formula) == 1L && !is.na(formula)) {
    ## as lme4: a formula given as a string, evaluated in the caller's frame
    formula <- tryCatch(stats::as.formula(formula, env = parent.frame()),
                        error = function(e) abort("`formula` is not a valid formula: ",
                                                  conditionMessage(e), call. = FALSE))
  }
  if (missing(formula)) {
    if (!missing(data) && inherits(data, "cluster_stats")) formula <- data
    else abort("`formula` is required, such as `y ~ treated + (1 | g)`.", call. = FALSE)
  }
  if (inherits(formula, "cluster_stats") || (!missing(data) && inherits(data, "cluster_stats"))) {
    stats <- if (inherits(formula, "cluster_stats")) formula else data
    sub <- NULL
    if (inherits(formula, "formula")) {
      parts <- random_intercept_formula(formula)
      if (!identical(parts$group, stats$cluster_name)) {
        abort(sprintf("the statistics are per `%s`, so the random intercept must be `(1 | %s)`, not `(1 | %s)`.",
                     stats$cluster_name, stats$cluster_name, parts$group), call. = FALSE)
      }
      sub <- parts$fixed
    }
    if (!is.null(weights)) {
      abort("`weights` cannot be given with cluster_stats(); compute the statistics with weights instead.",
           call. = FALSE)
    }
    if (!is.null(contrasts)) {
      abort("`contrasts` cannot be given with cluster_stats(): the statistics hold the columns as they were coded; give `contrasts` to cluster_stats().",
           call. = FALSE)
    }
    fit <- fit_ri_lmer(stats, REML, sub)
    fit$call <- call
    return(report_fit(fit))
  }
  if (!inherits(formula, "formula")) {
    abort("`formula` must be a formula such as `y ~ treated + (1 | g)`, or a cluster_stats() object.",
         call. = FALSE)
  }
  if (missing(data)) abort("`data` is required.", call. = FALSE)
  if (!is.data.frame(data)) abort("`data` must be a data frame or data.table.", call. = FALSE)
  parts <- random_intercept_formula(formula)
  env <- environment(formula)
  if (!missing(subset)) {
    rows <- eval(substitute(subset), data, parent.frame())
    if (!(is.logical(rows) || is.numeric(rows))) {
      abort("`subset` must be a logical or numeric row selection.", call. = FALSE)
    }
    if (is.logical(rows)) {
      ## recycled as `[.data.frame` (and so lme4's model frame) recycles it
      if (length(rows) == 1L) rows <- rep(rows, nrow(data))
      if (length(rows) != nrow(data)) {
        abort(sprintf("`subset` has %d values but `data` has %d rows.", length(rows), nrow(data)),
              call. = FALSE)
      }
      rows <- which(rows & !is.na(rows))
    }
    if (is.numeric(weights) && length(weights) == nrow(data)) weights <- weights[rows]
    data <- as.data.frame(data)[rows, , drop = FALSE]
  }
  na_action <- if (missing(na.action)) "na.omit" else check_na_action(na.action)
  group <- stats::as.formula(call("~", as.name(parts$group)), env = env)
  if (na_action == "na.fail") {
    used <- unique(c(all.vars(parts$fixed), parts$group))
    used <- used[used %in% names(data)]
    if (is.character(weights)) used <- c(used, weights)
    if (any(vapply(used, function(v) anyNA(data[[v]]), NA))) {
      abort("missing values in `data` and `na.action = na.fail`; drop those rows or use na.omit.",
           call. = FALSE)
    }
  }
  mc <- model_columns(parts$fixed, data, weights = weights, cluster = group, env = env,
                      contrasts = contrasts)
  ids <- mc$cluster[[1L]]
  if (anyNA(ids)) {
    abort(sprintf("the grouping variable `%s` of `(1 | %s)` has %d missing value(s) in the rows used; drop those rows (lme4 drops them) or give them a group.",
                 parts$group, parts$group, sum(is.na(ids))), call. = FALSE)
  }
  codes <- cluster_codes(ids, what = parts$group)
  if (!missing(subset) && codes$G < 2L) {
    abort(sprintf("after `subset`, the grouping factor `%s` has only %d level%s (%d row%s); a random intercept needs at least two groups: select more rows.",
                 parts$group, codes$G, if (codes$G == 1L) "" else "s", length(ids),
                 if (length(ids) == 1L) "" else "s"), call. = FALSE)
  }
  stats <- compress_columns(mc, codes, all_powers = FALSE, threads = threads,
                            formula = parts$fixed)
  ## the group is named as in the formula, whatever model_columns() called it
  stats$cluster_name <- parts$group
  rows <- list(columns = mc$columns, y = mc$y, offset = mc$offset, w = mc$w, codes = codes$codes,
               dropped = mc$dropped, n_data = nrow(data), na_action = na_action,
               terms = stats::delete.response(mc$terms),
               xlevels = mc$xlevels, contrasts = mc$contrasts)
  fit <- fit_ri_lmer(stats, REML, NULL, rows)
  fit$call <- call
  fit$formula <- formula
  report_fit(fit)
}

## What lme4 says about a fit (a singular fit), and what it does not say but
## should (a variance from fewer than 5 groups, or one the data cannot
## identify).
report_fit <- function(fit) {
  if (isTRUE(fit$optimisation$flat)) {
    warn(sprintf("the variance of the random intercept is not identified: the fixed effects fit the mean of every group of `%s` exactly, so the REML criterion does not depend on it; it is set to 0. Drop the group-level terms, or fit lm() or cluster_lm().",
                 fit$group_name), class = "clusterab_not_identified")
  }
  if (fit$ngrps < 5L) {
    warn(sprintf("the variance of the random intercept is poorly estimated with %d groups of `%s`; consider cluster_lm() with type = \"CR2\", or randomization_test().",
                 fit$ngrps, fit$group_name), class = "clusterab_few_clusters")
  }
  if (isSingular(fit)) inform("boundary (singular) fit: see help('isSingular')", class = "clusterab_singular")
  fit
}

## Splits an lme4 formula into its fixed part and the one `(1 | g)` term.
random_intercept_formula <- function(formula) {
  if (!inherits(formula, "formula") || length(formula) != 3L) {
    abort("`formula` must be a two-sided formula such as `y ~ treated + (1 | g)`.", call. = FALSE)
  }
  parts <- split_bars(formula[[3L]])
  if (length(parts$random) == 0L) {
    abort("`formula` has no random-effects term; add a random intercept such as `(1 | g)`, or use cluster_lm() or lm() for a model without one.",
         call. = FALSE)
  }
  text <- vapply(parts$random, function(e) paste0("(", deparse1(e), ")"), "")
  if (length(parts$random) > 1L) {
    abort(sprintf("ri_lmer() fits one random intercept `(1 | g)`, but `formula` has %d random-effects terms: %s; use lme4::lmer() for this model.",
                 length(text), paste(text, collapse = ", ")), call. = FALSE)
  }
  bar <- parts$random[[1L]]
  lhs <- bar[[2L]]
  if (!(is.numeric(lhs) && length(lhs) == 1L && lhs == 1)) {
    abort(sprintf("ri_lmer() fits only a random intercept `(1 | g)`; `%s` has a random slope or a different intercept term; use lme4::lmer() for this model.",
                 text), call. = FALSE)
  }
  if (!is.name(bar[[3L]])) {
    abort(sprintf("the grouping factor in `%s` must be one variable; for nested or crossed groups use lme4::lmer(), or make a column holding the group (for example with interaction()).",
                 text), call. = FALSE)
  }
  fixed_rhs <- if (is.null(parts$fixed)) 1 else parts$fixed
  fixed <- formula
  fixed[[3L]] <- fixed_rhs
  list(fixed = fixed, group = as.character(bar[[3L]]))
}

## The terms of a formula's right-hand side, split into fixed terms (one
## expression) and random-effects terms `(lhs | g)` (a list).
split_bars <- function(expr) {
  is_op <- function(e, op) is.call(e) && identical(e[[1L]], as.name(op))
  if (is_op(expr, "+") && length(expr) == 3L) {
    left <- split_bars(expr[[2L]])
    right <- split_bars(expr[[3L]])
    fixed <- if (is.null(left$fixed)) right$fixed else if (is.null(right$fixed)) left$fixed
             else call("+", left$fixed, right$fixed)
    return(list(fixed = fixed, random = c(left$random, right$random)))
  }
  if (is_op(expr, "-") && length(expr) == 3L) {
    left <- split_bars(expr[[2L]])
    return(list(fixed = call("-", if (is.null(left$fixed)) 1 else left$fixed, expr[[3L]]),
                random = left$random))
  }
  inner <- expr
  while (is_op(inner, "(")) inner <- inner[[2L]]
  if (is_op(inner, "|") || is_op(inner, "||")) return(list(fixed = NULL, random = list(inner)))
  list(fixed = expr, random = list())
}

check_na_action <- function(na.action) {
  name <- if (is.function(na.action)) {
    hit <- vapply(c("na.omit", "na.exclude", "na.fail"),
                  function(f) identical(na.action, get(f, envir = asNamespace("stats"))), NA)
    if (any(hit)) names(hit)[hit][1L] else ""
  } else if (is.character(na.action) && length(na.action) == 1L) {
    na.action
  } else ""
  if (!name %in% c("na.omit", "na.exclude", "na.fail")) {
    abort("`na.action` must be na.omit, na.exclude or na.fail.", call. = FALSE)
  }
  name
}

## The fit from per-cluster statistics. `sub` selects columns; `rows` (data
## fits only) keeps what fitted values and residuals need.
fit_ri_lmer <- function(stats, REML, sub = NULL, rows = NULL) {
  z <- stats$z_names
  q <- length(z)
  G <- length(stats$n)
  n <- stats$nobs
  if (G < 2L) {
    abort(sprintf("the grouping factor `%s` has only one level; a random intercept needs at least two groups.",
                 stats$cluster_name), call. = FALSE)
  }
  if (G >= n) {
    abort(sprintf("the grouping factor `%s` has as many levels as there are rows (%s), so the random intercept cannot be told apart from the residual; fit lm() instead.",
                 stats$cluster_name, format(n, big.mark = ",")), call. = FALSE)
  }
  sd <- stats_design(stats, sub)
  aliased <- sd$sol$aliased
  if (any(aliased)) {
    message(sprintf("fixed-effect model matrix is rank deficient so dropping %d column%s / coefficient%s: %s",
                    sum(aliased), if (sum(aliased) > 1L) "s" else "", if (sum(aliased) > 1L) "s" else "",
                    paste(sd$coef_names[aliased], collapse = ", ")))
  }
  kept <- sd$design[!aliased]
  coef_names <- sd$coef_names[!aliased]
  p <- length(kept)
  ## without fixed effects the REML criterion is the deviance, and lme4 calls
  ## such a fit a maximum-likelihood one
  if (p == 0L) REML <- FALSE
  if (REML && n - p <= 0) {
    abort(sprintf("`formula` has %d fixed effects for %s rows; REML needs more rows than fixed effects: drop terms (is a factor with a level per row in the formula?), or fit with REML = FALSE.",
                 p, format(n, big.mark = ",")), call. = FALSE)
  }
  rm <- ri_moments(stats)
  wscale <- rm$wscale
  prep <- cpp_ri_prepare(rm$moments, c(kept, q - 1L))
  check_within_precision(prep, rm$moments, q, z[q], stats$weighted)
  ols <- cpp_ri_criterion(prep$within, prep$sums, prep$n, 0, n, REML, 0L)
  ## the (centred, with an intercept) sum of squares of y, in the weights'
  ## scale of `ols`
  yy <- sum(rm$moments[packed_position(q - 1L, q - 1L), ])
  if (!(yy > 0 && ols$r2 > 1e-13 * yy)) {
    abort(sprintf("the outcome `%s` has zero variance, or the fixed effects fit it exactly; there is no variance left to split between groups and residual.",
                 z[q]), call. = FALSE)
  }
  ## rho, sigma, r2 and A below are those of the weights times `wscale` (a
  ## power of two bringing them near 1): rho scales as 1 / weight, sigma as
  ## sqrt(weight); the fixed effects, their covariance, the conditional modes
  ## and the likelihood do not change
  opt <- ri_optimise(prep, n, REML)
  rho <- opt$rho
  crit <- cpp_ri_criterion(prep$within, prep$sums, prep$n, rho, n, REML, 2L)
  dfres <- if (REML) n - p else n
  sigma_s <- sqrt(crit$r2 / dfres)
  sigma <- sigma_s / sqrt(wscale)
  to_original <- diag(p)
  centred <- stats$intercept && kept[1L] == 0L
  if (centred) to_original[1L, -1L] <- -sd$shift[kept[-1L] + 1L]
  beta <- drop(to_original %*% crit$beta)
  if (centred) beta[1L] <- beta[1L] + sd$shift[q]
  names(beta) <- coef_names
  A_inv <- if (p > 0L) solve_symmetric(crit$A) else matrix(0, 0L, 0L)
  V <- sigma_s^2 * to_original %*% A_inv %*% t(to_original)
  dimnames(V) <- list(coef_names, coef_names)
  ## Conditional modes b_g = w_g e_g, e_g the cluster's weighted residual sum.
  e <- prep$sums[p + 1L, ] - drop(crossprod(crit$beta, prep$sums[seq_len(p), , drop = FALSE]))
  shrink <- rho / (1 + rho * prep$n)
  b <- shrink * e
  ussq <- sum(rho * (e / (1 + rho * prep$n))^2)
  ldW <- stats$sum_log_weights + n * log(wscale)
  criterion <- crit$deviance - ldW
  dev_ml <- crit$ldL2 + n * (1 + log(2 * pi * crit$r2 / n)) - ldW
  dev_reml <- crit$ldL2 + crit$ldA + (n - p) * (1 + log(2 * pi * crit$r2 / (n - p))) - ldW
  devcomp <- list(
    cmp = c(ldL2 = crit$ldL2, ldRX2 = crit$ldA - p * log(wscale),
            wrss = (crit$r2 - ussq) / wscale, ussq = ussq / wscale,
            pwrss = crit$r2 / wscale, drsum = NA, REML = if (REML) criterion else NA,
            dev = if (REML) NA else criterion, sigmaML = sqrt(crit$r2 / n / wscale),
            sigmaREML = sqrt(crit$r2 / (n - p) / wscale)),
    dims = c(N = n, n = n, p = p, nmp = n - p, q = G, nth = 1L, useSc = 1L, reTrms = 1L,
             spFe = 0L, REML = if (REML) p else 0L, GLMM = 0L, NLMM = 0L))
  order <- order(stats$cluster)
  structure(list(
    coefficients = beta, vcov = V, theta = sqrt(rho * wscale), sigma = sigma,
    ranef = b, condvar = sigma_s^2 * shrink, cluster = stats$cluster, group_order = order,
    group_name = stats$cluster_name, ngrps = G, nobs = n, REML = REML,
    criterion = criterion, deviance_ml = dev_ml, criterion_reml = dev_reml,
    devcomp = devcomp, singular = rho == 0, aliased = stats::setNames(aliased, sd$coef_names),
    assign = column_terms(stats, kept), term_labels = stats$term_labels,
    yname = z[q], weighted = stats$weighted, optimisation = opt,
    ## for degrees of freedom: the statistics in centred coordinates
    ## theta and sigma of the scaled weights, as `prep` and `crit` hold them
    parts = list(prep = prep, crit = crit, to_original = to_original, kept = kept,
                 shift = sd$shift, intercept = centred,
                 M = wscale * sd$S[kept + 1L, kept + 1L, drop = FALSE],
                 theta = sqrt(rho), sigma = sigma_s, wscale = wscale),
    rows = rows, formula = with_random_intercept(if (is.null(sub)) stats$formula else sub,
                                                 stats$cluster_name)),
    class = "ri_lmer")
}

## The per-cluster moments the fit reads (packed, as cpp_ri_prepare() takes
## them): the columns in the data's units, the weights times `wscale`, a
## power of two that brings their typical (median per-group mean) value near
## 1. The criterion's search over rho (in units of 1 / weight) then does not
## depend on the units of the weights, and neither do the sums overflow or
## underflow when the weights are multiplied by 1e200 or 1e-200. Powers of
## two change no digit.
ri_moments <- function(stats) {
  sc <- stats_scaled(stats)
  m <- sc$moments[["1"]]
  q <- length(stats$z_names)
  if (any(sc$z != 1)) m <- m * packed_unscale(sc$z)
  wscale <- sc$w
  if (stats$weighted) {
    typical <- stats::median(m[1L, ] / stats$n)
    if (is.finite(typical) && typical > 0) {
      extra <- 2^-round(log2(typical))
      m <- m * extra
      wscale <- wscale * extra
    }
  }
  if (!all(is.finite(m))) {
    S <- unpack_sum(m, seq_len(q) - 1L)
    bad <- stats$z_names[colSums(!is.finite(S)) > 0 & stats$z_names != "(1)"]
    what <- if (length(bad)) paste0("`", bad, "`", collapse = ", ") else "`weights`"
    abort(sprintf("the (weighted) cross-products of %s overflow in double precision; rescale (divide by a power of ten) first.",
                 what), call. = FALSE)
  }
  list(moments = m, wscale = wscale)
}

## Within-group sums of squares are differences of sums; when one row's
## weight is so large (1e200 beside 1) that its square swamps the others,
## the outcome's within-group variation is lost to rounding and any estimate
## would be noise: refuse. (Its rounding is a few eps times the sum of the
## per-group sums of squares.)
check_within_precision <- function(prep, moments, q, yname, weighted) {
  if (!weighted) return(invisible())
  yy <- sum(abs(moments[packed_position(q - 1L, q - 1L), ]))
  k <- nrow(prep$within)
  if (!(prep$within[k, k] > 64 * .Machine$double.eps * yy)) {
    abort(sprintf("the within-group variation of `%s` is lost to rounding: is it constant within groups, or do a few rows carry almost all the `weights` (beyond the range of double precision)? Drop or cap the extreme weights.",
                 yname), call. = FALSE)
  }
  invisible()
}

## Position (1-based) of entry (a, b), 0-based with a <= b, in a packed
## upper triangle stored column by column.
packed_position <- function(a, b) b * (b + 1L) / 2L + a + 1L

## `fixed` with `+ (1 | group)` added: the fit's formula, as lme4 shows it.
with_random_intercept <- function(fixed, group) {
  fixed[[3L]] <- call("+", fixed[[3L]], call("(", call("|", 1, as.name(group))))
  fixed
}

## The term of each kept column (for anova), from the statistics' `assign`.
column_terms <- function(stats, kept) {
  c(if (0L %in% kept) 0L, unname(stats$assign[kept[kept > 0L]]))
}

## The minimum of the profiled criterion over rho = theta^2 >= 0: a grid over
## log(rho) finds the best basin, then the root of the exact derivative is
## found to machine precision. A minimum at rho = 0 is a singular fit.
## `around` (a previous optimum, for profiling) narrows the grid to two
## decades either side when the minimum is inside them. A criterion that is
## the same over the whole grid (to rounding) does not depend on rho at all:
## the fixed effects fit every group mean, and the REML criterion is then
## constant; rho is set to 0 and the result says `flat`.
ri_optimise <- function(prep, nobs, REML, around = NULL) {
  evaluations <- 0L
  crit <- function(rho, order = 0L) {
    evaluations <<- evaluations + 1L
    cpp_ri_criterion(prep$within, prep$sums, prep$n, rho, nobs, REML, order)
  }
  slope <- function(rho) crit(rho, 1L)$d1
  on_grid <- function(grid) vapply(grid, function(r) crit(r)$deviance, 0)
  ## a change of the deviance too small to carry information (see below)
  flat <- function(change, level) change <= 1e-6 + 1e-12 * abs(level)
  grid <- NULL
  if (!is.null(around) && around > 1e-6) {
    grid <- c(0, around * 10^seq(-2, 2, by = 0.5))
    dev <- on_grid(grid)
    i <- which.min(dev)
    if (i <= 2L || i == length(grid)) grid <- NULL
  }
  if (is.null(grid)) {
    grid <- c(0, 10^seq(-8, 8, by = 0.5))
    dev <- on_grid(grid)
    i <- which.min(dev)
    ## differences of the criterion are scale-free (it is a log-likelihood);
    ## on a flat criterion rounding moves it by up to about 1e-7 for rho up
    ## to 1e4 (more for an ill-conditioned design, and more beyond 1e4, where
    ## A loses its between-group part), so flatness is judged there: a
    ## deviance that moves by less than 1e-6 over 12 decades of rho carries
    ## no information about rho
    near <- dev[grid <= 1e4]
    if (all(is.finite(near)) && flat(max(near) - min(near), dev[1L])) {
      return(list(rho = 0, evaluations = evaluations, boundary = TRUE, flat = TRUE))
    }
  }
  if (i == length(grid) && is.finite(dev[1L]) && flat(dev[1L] - dev[i], dev[1L])) {
    ## the "minimum" at the end of the grid is rounding drift on a flat criterion
    return(list(rho = 0, evaluations = evaluations, boundary = TRUE, flat = TRUE))
  }
  if (i == length(grid)) {
    abort("the random-intercept variance is unbounded: the outcome hardly varies within groups; check the data (is the outcome constant within each group?).",
         call. = FALSE)
  }
  if (i == 1L) {
    s0 <- slope(0)
    if (s0 >= 0) {
      return(list(rho = 0, evaluations = evaluations, boundary = TRUE))
    }
    s1 <- slope(grid[2L])
    if (s1 <= 0) {
      ## no sign change: the slopes are rounding noise on a criterion flat
      ## near 0, so take the smallest value
      best <- stats::optimize(function(r) crit(r)$deviance, c(0, grid[2L]), tol = 1e-300)
      rho <- if (best$objective < dev[1L]) best$minimum else 0
      return(list(rho = rho, evaluations = evaluations, boundary = rho == 0))
    }
    root <- stats::uniroot(slope, c(0, grid[2L]), f.lower = s0, f.upper = s1,
                           tol = 1e-300, maxiter = 200L)
    return(list(rho = root$root, evaluations = evaluations, boundary = FALSE))
  }
  lower <- grid[i - 1L]
  upper <- grid[i + 1L]
  if (lower == 0) lower <- grid[i] * 1e-3
  log_slope <- function(u) exp(u) * slope(exp(u))
  ends <- c(log_slope(log(lower)), log_slope(log(upper)))
  if (ends[1L] < 0 && ends[2L] > 0) {
    root <- stats::uniroot(log_slope, log(c(lower, upper)), f.lower = ends[1L],
                           f.upper = ends[2L], tol = 1e-13, maxiter = 200L)
    rho <- exp(root$root)
  } else {
    best <- stats::optimize(function(u) crit(exp(u))$deviance, log(c(lower, upper)), tol = 1e-12)
    rho <- exp(best$minimum)
  }
  list(rho = rho, evaluations = evaluations, boundary = FALSE)
}
