#' Wild cluster bootstrap test and confidence interval
#'
#' The wild cluster bootstrap-t test of one coefficient of a linear model
#' (Cameron, Gelbach and Miller 2008), with the null hypothesis imposed
#' ("WCR", the default, which MacKinnon and Webb recommend with few
#' clusters) or not ("WCU"), and its confidence interval by test inversion.
#' Everything is computed from per-cluster statistics, never by refitting on
#' the rows (the algebra of Roodman, MacKinnon, Nielsen and Webb 2019, "Fast
#' and wild").
#'
#' **The statistic.** t = (b - `null`) / se, with se from the CR1S (= HC1)
#' cluster-robust covariance, G / (G - 1) (n - 1) / (n - k) times the
#' sandwich: `sandwich::vcovCL(fit, cluster, type = "HC1")`, the same in
#' every replicate. The p-value is two-sided and symmetric: the share of
#' bootstrap t statistics with |t*| >= |t|.
#'
#' **A replicate.** WCR fits the model with the coefficient fixed at `null`
#' (restricted residuals e~); a replicate draws one weight v_g per cluster,
#' takes y* = X b~ + v_g e~_g and computes the t statistic of y* on X with
#' the same covariance. WCU uses the unrestricted fit and residuals and
#' centres t* at the estimate. With the restricted scores s~_g = X_g' W e~_g,
#' M_g = X_g' W X_g and B = (X' W X)^-1, a replicate has b* - b~ = B sum_g
#' v_g s~_g and bootstrap scores v_g s~_g - M_g (b* - b~); only c' B of them
#' is needed (c picks the coefficient), so after precomputing
#' a_g = c' B s~_g, u_g = B s~_g and d_g = M_g B c a replicate costs O(G p)
#' operations: O(B G p) in all, whatever the number of rows (computed as
#' matrix products over blocks of replicates).
#'
#' **Weights.** Rademacher (+1 or -1, each with probability 1/2), Webb's six
#' points (+-sqrt(1/2), +-1, +-sqrt(3/2), each 1/6; better with fewer than
#' about 12 clusters), Mammen's two points, or standard normal.
#'
#' **Full enumeration.** With Rademacher weights there are only 2^G sign
#' vectors, and Webb's 6^G. When that is at most `B` (`enumerate = NULL`),
#' or when `enumerate = TRUE`, every vector is used once, the identity
#' included, so the p-value is exact and deterministic (ties at |t*| = |t|
#' within a relative 1e-10 count as exceeding: the identity always does for
#' WCR). `enumerate = TRUE` with more than 2^24 vectors (G = 25 or more
#' Rademacher) is an error. Otherwise the weights are random, from one
#' stream per replicate seeded from R's RNG: `set.seed()` reproduces the
#' result whatever `threads`.
#'
#' **Confidence interval.** The null values whose WCR p-value exceeds
#' 1 - `conf.level`, found by bisection on each side of the estimate with
#' the same weights for every null value. Each replicate's t* is a ratio of
#' a linear and the square root of a quadratic function of the null value,
#' so five numbers per replicate give its t* at any null without
#' re-running the bootstrap. With WCU the interval is the bootstrap-t
#' interval b -+ q se, q the conf.level quantile of |t*|. An end further than
#' 2^14 standard errors from the estimate is reported as infinite, with a
#' warning of class `clusterab_unbounded_interval` (with Rademacher weights
#' and G clusters the WCR p-value is never below 2 / 2^G, so with G <= 5 the
#' 95% interval is the whole line).
#'
#' @param fit An `lm` fit (with or without weights) or a [cluster_lm()] fit.
#' @param param The coefficient to test: its name (or position).
#' @param cluster The clustering, as in [vcov_cluster()]: a column name, a
#'   one-sided formula or a vector with one id per observation; one
#'   clustering variable. `NULL` uses `attr(fit, "cluster")`, or the fit's
#'   own clusters for a [cluster_lm()] fit.
#' @param B Number of bootstrap replicates (random weights), at least 99;
#'   9999 by default.
#' @param weights `"rademacher"`, `"webb"`, `"mammen"` or `"normal"`.
#' @param impose_null `TRUE` (WCR: the bootstrap reuses the residuals of the
#'   fit with the null imposed) or `FALSE` (WCU).
#' @param conf.int Compute the confidence interval?
#' @param conf.level Its level.
#' @param enumerate `NULL` (enumerate every weight vector when there are at
#'   most `B` of them), `TRUE` (always; Rademacher or Webb weights only) or
#'   `FALSE` (random weights).
#' @param threads Number of threads; default `getOption("clusterab.threads")`,
#'   else all cores. Results do not depend on it.
#' @param progress Show a progress bar on long runs? Default
#'   `getOption("clusterab.progress", interactive())`.
#' @param null The value of the coefficient under the null hypothesis.
#' @param ... Not used.
#' @return An object of class `c("wild_boot", "htest")`: `statistic` (t),
#'   `p.value`, `conf.int`, `estimate`, `null.value`, `alternative`,
#'   `method` (which says WCR or WCU, the weights, the replicates and G),
#'   `data.name`, and `t` (the bootstrap t statistics, in replicate order),
#'   `t0` (t), `std.error` (the CR1 standard error), `B` (the number of
#'   replicates: 2^G or 6^G when enumerated), `G`, `weights`, `enumerated`,
#'   `impose_null`, `seed`. Methods: `print`, `tidy` (broom's columns),
#'   `as.data.frame` and `plot` (the bootstrap distribution of t with the
#'   observed t marked).
#' @references Cameron, Gelbach and Miller (2008), Bootstrap-based
#'   improvements for inference with clustered errors. Roodman, MacKinnon,
#'   Nielsen and Webb (2019), Fast and wild: bootstrap inference in Stata
#'   using boottest. Webb (2023), Reworking wild bootstrap-based inference
#'   for clustered errors.
#' @examples
#' fit <- lm(revenue ~ treated + baseline, data = geo_experiment)
#' set.seed(1)
#' wb <- wild_boot(fit, "treated", cluster = ~ region, B = 999)
#' wb
#' tidy(wb)
#' plot(wb)
#' @export
wild_boot <- function(fit, param, cluster = NULL, B = 9999,
                      weights = c("rademacher", "webb", "mammen", "normal"),
                      impose_null = TRUE, conf.int = TRUE, conf.level = 0.95,
                      enumerate = NULL, threads = NULL, progress = NULL, null = 0, ...) {
  renamed_arguments(list(...), c(R = "B", level = "conf.level"))
  weights <- arg_match(weights)
  check_flag(impose_null, "impose_null")
  check_flag(conf.int, "conf.int")
  check_conf_level(conf.level, "conf.level")
  if (!is.null(enumerate)) check_flag(enumerate, "enumerate")
  if (!is.numeric(null) || length(null) != 1L || !is.finite(null)) {
    abort("`null` must be one finite number, the value of the coefficient under the null hypothesis (0 by default).")
  }
  B <- check_replicates(B, "B")
  threads <- resolve_threads(threads)
  label <- cluster_label(substitute(cluster))
  inp <- wild_inputs(fit, param, cluster, threads)
  G <- inp$G
  if (G < 3L) {
    abort(sprintf("`cluster` has %d clusters; the wild cluster bootstrap needs at least 3 (and is reliable from about 6 with Webb weights). With so few clusters no clustered test is informative.", G))
  }

  count <- switch(weights, rademacher = 2^G, webb = 6^G, Inf)
  if (is.null(enumerate)) enumerate <- count <= B
  if (enumerate) {
    if (!is.finite(count)) {
      abort(sprintf('`enumerate` = TRUE needs weights with finitely many equally likely values: weights = "rademacher" (2^G vectors) or "webb" (6^G), not "%s"; or use enumerate = NULL for random weights.',
                    weights))
    }
    if (count > 2^24) {
      abort(sprintf('`enumerate` = TRUE would use all %s^%d = %s weight vectors of G = %d clusters, too many to enumerate (at most 2^24, about 1.7e7); use random weights instead: enumerate = FALSE (or NULL) with B = %s replicates.',
                    if (weights == "webb") "6" else "2", G, format(count, digits = 3), G,
                    format(B, big.mark = ",", scientific = FALSE)),
            class = "clusterab_enumeration_too_large")
    }
    B <- count
  }
  if (B < 99) {
    warn(sprintf("%s: the p-value is a multiple of 1/%d and too coarse for a test at the usual levels; %s.",
                 if (enumerate) sprintf("there are only %d weight vectors of G = %d clusters", as.integer(B), G)
                 else sprintf("`B` = %d replicates", as.integer(B)),
                 as.integer(B),
                 if (enumerate) 'use weights = "webb" (6^G vectors)' else "use B = 999 or more"),
         class = "clusterab_coarse_pvalue")
  }
  check_replicate_memory(B, if (conf.int) 6 else 1, "B")

  ## The scores the bootstrap reuses and, for WCR, the direction in which
  ## they move with the null value: s~_g(h) = s~_g + h d_g.
  k0 <- (inp$estimate - null) / inp$cBc
  Bd <- inp$bread %*% inp$d
  a1 <- drop(crossprod(inp$Bc, inp$d))
  if (impose_null) {
    a0 <- inp$a_hat + k0 * a1
    u0 <- inp$u_hat + k0 * Bd
  } else {
    a0 <- inp$a_hat
    u0 <- inp$u_hat
  }
  components <- conf.int && impose_null
  u <- if (components) rbind(u0, Bd) else u0
  type_code <- match(weights, c("rademacher", "webb", "mammen", "normal")) - 1L
  seed <- if (enumerate) c(0L, 0L) else draw_seed()
  work <- G * nrow(u0) * (if (components) 4 else 2)
  ## The kernel works on blocks of replicates (matrix products of G x block
  ## weights), chosen from G alone, and chunks are whole blocks: the blocks,
  ## and so every t*, do not depend on the thread count.
  block <- if (G <= 128) 256L else if (G <= 4096) 64L else if (G <= 65536) 16L else 1L
  chunk <- block * max(1, floor(min(1e4, 1e8 / work) / block))
  parts <- run_chunks(B, function(begin, end) {
    cpp_wild_boot(a0, if (components) a1, u, inp$d, inp$adj, type_code, enumerate, seed,
                  begin, end, block, threads)
  }, chunk = chunk, progress = progress, label = "Wild cluster bootstrap")
  t_star <- unlist(lapply(parts, `[[`, "t"), use.names = FALSE)
  t0 <- (inp$estimate - null) / inp$se
  ## a replicate whose bootstrap scores all vanish has no t*: it does not count
  p <- sum(abs(t_star) >= abs(t0) * (1 - 1e-10), na.rm = TRUE) / B

  ci <- NULL
  if (conf.int) {
    comps <- if (components) {
      do.call(cbind, lapply(parts, `[[`, "components"))
    } else {
      ## WCU: t* does not move with the null value
      rbind(t_star, 0, 1 / inp$adj, 0, 0)
    }
    pvalue_at <- function(r) {
      h <- if (impose_null) (null - r) / inp$cBc else rep(0, length(r))
      cpp_wild_pvalues(comps, h, (inp$estimate - r) / inp$se, inp$adj, threads)
    }
    ci <- wild_interval(pvalue_at, inp$estimate, inp$se, 1 - conf.level)
    attr(ci, "conf.level") <- conf.level
  }

  method <- sprintf("Wild cluster bootstrap-t (%s), %s weights, %s, G = %d clusters; t on the CR1 (HC1) covariance",
                    if (impose_null) "WCR: null imposed" else "WCU: null not imposed",
                    wild_weight_labels[[weights]],
                    if (enumerate) sprintf("all %s^G = %s %s", if (weights == "webb") "6" else "2",
                                           format(B, big.mark = ",", scientific = FALSE),
                                           if (weights == "webb") "weight vectors" else "sign vectors")
                    else sprintf("B = %s replicates", format(B, big.mark = ",", scientific = FALSE)),
                    G)
  structure(list(
    statistic = c(t = t0), p.value = p, conf.int = ci,
    estimate = stats::setNames(inp$estimate, inp$param),
    null.value = stats::setNames(null, inp$param), alternative = "two.sided",
    method = method, data.name = sprintf("%s, clustered by %s", inp$param,
                                         if (!is.null(label)) label else inp$cluster_name),
    t = t_star, t0 = t0, std.error = inp$se, B = B, G = G, weights = weights,
    enumerated = enumerate, impose_null = impose_null, seed = if (!enumerate) seed),
    class = c("wild_boot", "htest"))
}

wild_weight_labels <- c(rademacher = "Rademacher", webb = "Webb", mammen = "Mammen",
                        normal = "normal")

## The interval {r : p(r) > alpha} around the estimate: from the estimate
## (where p = 1) outwards by doubling steps of one standard error until
## p <= alpha, then bisection to 1e-8 (relative) standard errors, both sides
## in one pass over the replicates. An end not reached within 2^14 standard
## errors is infinite: further out the restricted scores are so large next
## to the bootstrap's that the tie of the identity vector with t is lost to
## rounding (a WCR p-value with few clusters never falls below 2 / 2^G).
wild_interval <- function(pvalue_at, estimate, se, alpha) {
  side <- c(-1, 1)
  lo <- c(0, 0)                     # in standard errors, below and above
  hi <- c(NA_real_, NA_real_)
  step <- 1
  while (anyNA(hi) && step <= 2^14) {
    open <- which(is.na(hi))
    p <- pvalue_at(estimate + side[open] * step * se)
    hi[open[p <= alpha]] <- step
    lo[open[p > alpha]] <- step
    step <- step * 2
  }
  found <- !is.na(hi)
  while (any(found & hi - lo > 1e-8 * pmax(1, lo))) {
    mid <- (lo + hi) / 2
    use <- which(found)
    p <- pvalue_at(estimate + side[use] * mid[use] * se)
    below <- use[p <= alpha]
    above <- use[p > alpha]
    hi[below] <- mid[below]
    lo[above] <- mid[above]
  }
  out <- ifelse(found, estimate + side * (lo + hi) / 2 * se, side * Inf)
  if (!all(found)) {
    warn("the wild bootstrap p-value does not fall below 1 - conf.level however far the null value is from the estimate: the confidence interval is unbounded.",
         class = "clusterab_unbounded_interval")
  }
  out
}

## What every replicate needs, in the working (centred, scaled) coordinates of
## the fit's per-cluster statistics: the unrestricted scores' a_hat = c'B s_g
## and u_hat = B s_g, d_g = M_g B c, the bread B, c'Bc, the estimate c'b (data
## units), its CR1 standard error, the factor adj and G.
wild_inputs <- function(fit, param, cluster, threads) {
  if (inherits(fit, "glm")) {
    abort("`fit` is a glm: wild_boot() works on linear models only (lm() and cluster_lm() fits); the wild bootstrap of a glm score test is not available.")
  }
  if (inherits(fit, "mlm")) abort("`fit` is a multivariate (mlm) fit; wild_boot() needs one outcome: fit one lm() per outcome.")
  if (inherits(fit, "cluster_lm")) return(wild_inputs_cluster_lm(fit, param, cluster, threads))
  if (!inherits(fit, "lm")) {
    abort(sprintf("`fit` must be an lm or cluster_lm fit, not %s.", class(fit)[1L]))
  }
  param <- wild_param(param, coef(fit))
  rows <- fit_rows(fit, "HC1", threads)
  if (is.null(cluster) && is.null(attr(fit, "cluster"))) {
    abort("`cluster` is required: name the column (or give a formula such as ~ g, or one id per observation) that identifies each observation's cluster.")
  }
  cl <- fit_cluster(fit, cluster, rows)
  if (ncol(cl) != 1L) abort("`cluster` must be one clustering variable: wild_boot() does not do multiway clustering.")
  check_no_missing(cl[[1L]], "cluster")
  term <- cluster_terms(cl)[[1L]]
  ## r1 = X_g' W e_g and P1 = X_g' W X_g of every cluster (what CR3 needs)
  parts <- scores_from_rows(rows, term, "CR3", threads)
  kept <- rownames(rows$bread)
  contrast <- wild_contrast(param, kept, rows$intercept, rows$shift, rows$z_scale, rows$escale)
  wild_algebra(parts$r1, parts$P1, rows$design, rows$bread, contrast, coef(fit)[[param]],
               rows$n, rows$k, term$G, param, names(cl)[1L], threads)
}

wild_inputs_cluster_lm <- function(fit, param, cluster, threads) {
  param <- wild_param(param, fit$coefficients)
  if (!is.null(cluster)) {
    fit <- refit_cluster_lm(fit, cluster, "HC1", TRUE, FALSE, threads, plan = "moments")
  }
  if (length(fit$G) != 1L) abort("`fit` is clustered by several variables: wild_boot() does not do multiway clustering; refit with one `cluster`.")
  stats <- fit_moments(fit, threads = threads)
  sub <- if (identical(fit$formula, stats$formula)) NULL else fit$formula
  sd <- stats_design(stats, sub, units = FALSE)
  sc <- sd$scaled
  kept <- sd$design[!sc$sol$aliased]
  q <- length(stats$z_names)
  coef_names <- sd$coef_names[!sc$sol$aliased]
  bread <- sc$sol$bread
  dimnames(bread) <- list(coef_names, coef_names)
  parts <- scores_from_stats(stats, kept, sc$sol$coef, "CR3", threads)
  intercept <- isTRUE(stats$intercept) && kept[1L] == 0L
  contrast <- wild_contrast(param, coef_names, intercept, sd$shift[kept[kept > 0L] + 1L],
                            sc$z[kept + 1L], sc$z[q])
  wild_algebra(parts$r1, parts$P1, kept, bread, contrast, fit$coefficients[[param]],
               stats$nobs, length(kept),
               length(stats$n), param, if (is.null(stats$cluster_name)) "cluster" else stats$cluster_name,
               threads)
}

## `param` as a coefficient name, checked against the fit's coefficients.
wild_param <- function(param, coefs) {
  if (missing(param) || is.null(param)) {
    abort(sprintf("`param` is required: the name of the coefficient to test, one of %s.",
                  paste0('"', names(coefs), '"', collapse = ", ")))
  }
  if (is.numeric(param) && length(param) == 1L && param == round(param) &&
      param >= 1 && param <= length(coefs)) {
    param <- names(coefs)[param]
  }
  if (!is.character(param) || length(param) != 1L || !(param %in% names(coefs))) {
    abort(sprintf("`param` must name one coefficient of the fit, one of %s; not %s.",
                  paste0('"', names(coefs), '"', collapse = ", "), describe_value(param)))
  }
  if (is.na(coefs[[param]])) {
    abort(sprintf('`param` "%s" is aliased (its column is zero or a combination of the other columns), so it has no estimate to test; drop the collinear columns or test another coefficient.',
                  param))
  }
  param
}

## The vector c with c'b = the coefficient `param` in the data's units, for
## b in the working coordinates: columns centred at `shift` (with an
## intercept) and scaled by `z_scale`, the outcome by `yscale`. For a slope
## c = e_j z_j / yscale; the intercept of the uncentred model is
## b_0 - sum_j shift_j b_j.
wild_contrast <- function(param, kept, intercept, shift, z_scale, yscale) {
  contrast <- numeric(length(kept))
  j <- match(param, kept)
  contrast[j] <- 1
  if (param == "(Intercept)" && intercept && length(shift)) contrast[-1L] <- -shift
  contrast * z_scale / yscale
}

wild_algebra <- function(scores, moments, design, bread, contrast, estimate, n, k, G, param,
                         cluster_name, threads) {
  Bc <- drop(bread %*% contrast)
  cBc <- sum(contrast * Bc)
  q <- (sqrt(8 * nrow(moments) + 1) - 1) / 2
  gamma <- numeric(q)
  gamma[design + 1L] <- Bc
  d <- cpp_stats_scores(moments, as.integer(design), gamma, threads)
  a_hat <- drop(crossprod(Bc, scores))
  adj <- G / (G - 1) * (n - 1) / (n - k)
  se <- sqrt(adj * sum(a_hat^2))
  if (!is.finite(se) || se == 0) {
    abort(sprintf('the cluster-robust standard error of "%s" is %s: the model fits the outcome exactly, so there is no t statistic to bootstrap.',
                  param, format(se)))
  }
  list(a_hat = a_hat, u_hat = bread %*% scores, d = d, bread = unname(bread), Bc = Bc,
       cBc = cBc, estimate = estimate, se = se, adj = adj, G = G, n = n, k = k, param = param,
       cluster_name = cluster_name)
}

#' Methods for wild_boot results
#'
#' @param x A [wild_boot()] result.
#' @param digits Significant digits to print.
#' @param row.names,optional Ignored (for the `as.data.frame()` generic).
#' @param ... Passed to the plotting functions (`plot`), else ignored.
#' @return `print` and `plot` return `x` (`plot`: what was drawn)
#'   invisibly; `tidy` and `as.data.frame` a one-row data frame with broom's
#'   columns `estimate`, `statistic`, `p.value`, `conf.low`, `conf.high`,
#'   `method` and `alternative`.
#' @name wild_boot_methods
#' @examples
#' fit <- lm(revenue ~ treated + baseline, data = geo_experiment)
#' set.seed(1)
#' wb <- wild_boot(fit, "treated", cluster = ~ region, B = 999)
#' tidy(wb)
#' plot(wb)
NULL

#' @rdname wild_boot_methods
#' @export
print.wild_boot <- function(x, digits = getOption("digits"), ...) {
  NextMethod()
  cat(sprintf("CR1 standard error %s; %s bootstrap t statistics in $t\n\n",
              format(signif(x$std.error, digits)), format(x$B, big.mark = ",", scientific = FALSE)))
  invisible(x)
}

#' @rdname wild_boot_methods
#' @method tidy wild_boot
#' @export
tidy.wild_boot <- function(x, ...) {
  ci <- if (is.null(x$conf.int)) c(NA_real_, NA_real_) else x$conf.int
  data.frame(term = names(x$estimate), estimate = unname(x$estimate),
             std.error = x$std.error, statistic = unname(x$statistic), p.value = x$p.value,
             conf.low = ci[1L], conf.high = ci[2L], method = x$method,
             alternative = x$alternative, stringsAsFactors = FALSE)
}

#' @rdname wild_boot_methods
#' @export
as.data.frame.wild_boot <- function(x, row.names = NULL, optional = FALSE, ...) {
  result_frame(tidy.wild_boot(x), row.names)
}

#' @rdname wild_boot_methods
#' @export
plot.wild_boot <- function(x, ...) {
  plot_replicates(x$t, x$t0, ci = NULL,
                  main = sprintf("Wild cluster bootstrap (%s) of `%s`",
                                 if (x$impose_null) "WCR" else "WCU", names(x$estimate)),
                  xlab = "bootstrap t statistic", ...)
}
