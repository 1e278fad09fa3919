#' Which clusters drive the estimate? Leverage, influence and the effective
#' number of clusters
#'
#' Cluster-level diagnostics of a linear regression, after MacKinnon,
#' Nielsen and Webb (2023) and Carter, Schnepel and Steigerwald (2017): how
#' much of the fit and of the coefficient `param` rests on each cluster, what
#' the estimate would be without it, and how many clusters the data are
#' effectively worth. Everything comes from the per-cluster cross-products
#' M_g = X_g' W X_g and scores s_g = X_g' W e_g, in p x p algebra per cluster:
#' no refits and no n_g x n_g matrices, so it is as fast at a million rows as
#' at a hundred, and works on [cluster_lm()] fits (also fits from
#' [cluster_stats()] computed in a database).
#'
#' @section Definitions:
#' With B = (X'WX)^-1 (W the weights, identity without) and, for the
#' coefficient j of `param`:
#' * `n`: rows of the cluster (with nonzero weight).
#' * `leverage`: tr(H_gg) = tr(M_g B), the cluster's share of the fitted
#'   values' degrees of freedom; the leverages add up to k, the number of
#'   estimated coefficients, so their average is k / G.
#' * `partial_leverage`: (B M_g B)_jj / B_jj, which (by Frisch-Waugh-Lovell)
#'   is the share of the residualised regressor's (weighted) sum of squares
#'   that lies in cluster g: the definition of summclust (MacKinnon, Nielsen
#'   and Webb), x~_g' W x~_g / x~' W x~. The partial leverages add up to 1.
#' * `estimate_without`: the estimate of `param` with the cluster left out,
#'   beta_(g) = (M - M_g)^-1 (t - t_g) = beta - (M - M_g)^-1 s_g, where
#'   M = sum M_g and t = X'Wy: exactly what [lm()] gives when refitted
#'   without the cluster. When the design without the cluster is singular
#'   (a regressor seen in that cluster only, a cluster fixed effect) and
#'   `param` cannot be estimated without it, the value is `NA` (with a note
#'   in the printout); when `param` is still estimable, its value is the
#'   one of any least-squares solution, as [lm()] gives after dropping the
#'   aliased column.
#' * `G`: the number of clusters; `cv_size`: the coefficient of variation
#'   of the cluster sizes, sd / mean with the population standard deviation
#'   (divisor G): the G clusters are the whole population described, not a
#'   sample, and this is the `cv` of Eldridge's unequal-size design effect
#'   that [design_effect()] computes, so the two agree.
#' * `G_star`: the effective number of clusters of Carter, Schnepel and
#'   Steigerwald (2017) for `param`, G* = G / (1 + Gamma) with
#'   Gamma = (1 / G) sum_g (gamma_g - mean(gamma))^2 / mean(gamma)^2,
#'   equivalently G* = (sum_g gamma_g)^2 / sum_g gamma_g^2, where
#'   gamma_g = e_j' B X_g' Omega_g X_g B e_j and Omega_g = (1 - rho) I +
#'   rho 1 1' (a common within-cluster correlation `rho`). The default
#'   `rho = 0` is their G*(0): gamma_g = (B M_g B)_jj, proportional to the
#'   partial leverage, so G*(0) = 1 / sum of squared partial leverages.
#'   `rho = 1` is their conservative G*(1). With weights, Omega_g is the
#'   variance of a weighted least-squares model with a cluster effect,
#'   (1 - rho) W_g^-1 + rho 1 1' with the weights scaled to mean 1, so that
#'   gamma_g = (1 - rho) (B M_g B)_jj + rho (e_j' B X_g' W_g 1)^2 (for
#'   `rho = 0` the scale of the weights does not matter). G* equals G for
#'   balanced designs and falls when a few clusters carry most of the
#'   regressor's variation; a G* below about 20 to 30 calls for CR2 with
#'   Satterthwaite df or the wild cluster bootstrap, whatever G is.
#'
#' @section Flagging dominant clusters:
#' `print()` flags (and the `dominant` column marks) a cluster when any of
#' * its leverage exceeds 3 k / G (three times the average leverage);
#' * its partial leverage exceeds 3 / G (three times the average);
#' * leaving it out moves the estimate by more than one CR1 standard error
#'   of the full-sample estimate (CR1: clubSandwich's, with G / (G - 1));
#' holds for `param` (any of several params). These are rules of thumb,
#' not tests: with a dominant cluster, the CR1 t test with G - 1 df
#' over-rejects. Use `coef_test(fit, cluster, type = "CR2")` (CR2 with
#' Satterthwaite df, which accounts for leverage) or `wild_boot()` (the wild
#' cluster bootstrap with the null imposed), and report how the estimate
#' moves without the flagged clusters.
#'
#' @param fit An `lm` fit (with or without weights) or a [cluster_lm()]
#'   fit. `glm` fits are not supported (the diagnostics are those of least
#'   squares).
#' @param cluster The clustering: a column name, a one-sided formula (`~ g`)
#'   or a vector with one id per observation, as in [vcov_cluster()]. One
#'   clustering variable. `NULL` uses the fit's own clustering
#'   (`attr(fit, "cluster")` for `lm`, the first clustering variable of a
#'   [cluster_lm()] fit).
#' @param param Names of coefficients (one or more). `NULL` is the first
#'   coefficient that is not the intercept (the printout says so).
#' @param rho Within-cluster correlation assumed by `G_star`, between 0 and 1;
#'   default 0 (Carter, Schnepel and Steigerwald's G*(0)).
#' @param threads Number of threads; default `getOption("clusterab.threads")`,
#'   else all cores. Results do not depend on it.
#' @return An object of class `cluster_diagnostics`: a list with `clusters`
#'   (a data frame with one row per cluster: `cluster` (the id), `n`,
#'   `leverage`, `partial_leverage`, `estimate_without` and `dominant`; with
#'   several params, `partial_leverage.<param>` and `estimate_without.<param>`
#'   for each), `G`, `cv_size`, `G_star` (named by param), `param`,
#'   `estimate` (full-sample estimates of `param`), `std.error` (their CR1
#'   standard errors), `k`, `rho`, `rules` (the thresholds used) and `notes`.
#'   Methods: `print()`, `plot()` (the leave-one-cluster-out estimates),
#'   `tidy()` and `as.data.frame()` (both the `clusters` table).
#' @references
#' Carter, A. V., Schnepel, K. T. and Steigerwald, D. G. (2017). Asymptotic
#' behavior of a t-test robust to cluster heterogeneity. *Review of
#' Economics and Statistics* 99(4), 698-709.
#'
#' MacKinnon, J. G., Nielsen, M. O. and Webb, M. D. (2023). Leverage,
#' influence, and the jackknife in clustered regression models: reliable
#' inference using summclust. *Stata Journal* 23(4), 942-982.
#' @seealso [coef_test()] with `type = "CR2"`, `wild_boot()`,
#'   [randomization_test()].
#' @examples
#' fit <- lm(revenue ~ treated + baseline, data = geo_experiment)
#' dg <- cluster_diagnostics(fit, cluster = ~ region)
#' dg
#' head(tidy(dg))
#' plot(dg)
#' @export
cluster_diagnostics <- function(fit, cluster = NULL, param = NULL, rho = 0, threads = NULL) {
  if (inherits(fit, "glm")) {
    abort("`fit` is a glm: cluster_diagnostics() is for least-squares fits (lm() with or without weights, or cluster_lm()); refit the model with lm() or cluster_lm().",
          call. = FALSE)
  }
  if (inherits(fit, "mlm")) {
    abort("`fit` is a multivariate (mlm) fit, with a matrix outcome; cluster_diagnostics() needs one outcome: fit one lm() per outcome.",
          call. = FALSE)
  }
  if (!inherits(fit, c("lm", "cluster_lm"))) {
    abort(sprintf("`fit` must be an lm() or cluster_lm() fit, not %s.", class(fit)[1L]), call. = FALSE)
  }
  if (!is.numeric(rho) || length(rho) != 1L || is.na(rho) || rho < 0 || rho > 1) {
    abort("`rho` must be one number between 0 and 1 (the within-cluster correlation assumed by G*; 0 gives G*(0)).",
          call. = FALSE)
  }
  threads <- resolve_threads(threads)
  label <- cluster_label(substitute(cluster))
  parts <- if (inherits(fit, "cluster_lm")) {
    diagnostic_parts_stats(fit, cluster, threads)
  } else {
    diagnostic_parts_lm(fit, cluster, threads)
  }
  if (!is.null(label)) parts$label <- label
  G <- length(parts$n)
  if (G < 3L) {
    abort(sprintf("`cluster` has %d clusters; cluster diagnostics (leave-one-cluster-out estimates, G*) need at least 3.",
                  G), call. = FALSE)
  }
  chosen <- choose_params(param, parts$coefficients)
  param <- chosen$param
  pos <- match(param, parts$kept)
  fun <- param_functionals(pos, parts)
  Fm <- fun$F
  inf <- cpp_cluster_influence(parts$packed, parts$design, parts$bread, parts$scores, Fm,
                               0L, 1e-8, threads)
  fBf <- colSums(Fm * (parts$bread %*% Fm))
  partial <- sweep(inf$quad, 2L, fBf, "/")
  estimate <- parts$coefficients[param]
  without <- sweep(-sweep(inf$delta, 2L, fun$units, "*"), 2L, estimate, "+")
  ## CR1 standard errors of the estimates (clubSandwich's CR1: G / (G - 1))
  proj <- crossprod(parts$scores, parts$bread %*% Fm)
  se <- fun$units * sqrt(G / (G - 1) * colSums(proj^2))
  ## G*: with weights normalised to mean 1 (the scaled moments' total weight)
  wbar <- sum(parts$packed[1L, ]) / sum(parts$n)
  gamma <- (1 - rho) * inf$quad * wbar + if (rho > 0) rho * inf$lin^2 else 0
  G_star <- colSums(gamma)^2 / colSums(gamma^2)
  k <- length(parts$kept)
  rules <- c(leverage = 3 * k / G, partial_leverage = 3 / G, shift_se = 1)
  moved <- abs(without - matrix(estimate, G, length(param), byrow = TRUE)) >
    matrix(se, G, length(param), byrow = TRUE)
  dominant <- inf$leverage > rules[["leverage"]] |
    rowSums(partial > rules[["partial_leverage"]]) > 0 | rowSums(moved & !is.na(moved)) > 0
  sizes <- parts$n
  clusters <- data.frame(cluster = parts$ids, n = sizes, leverage = inf$leverage,
                         stringsAsFactors = FALSE)
  suffix <- if (length(param) == 1L) "" else paste0(".", param)
  for (j in seq_along(param)) {
    clusters[[paste0("partial_leverage", suffix[j])]] <- partial[, j]
  }
  for (j in seq_along(param)) {
    clusters[[paste0("estimate_without", suffix[j])]] <- without[, j]
  }
  clusters$dominant <- dominant
  rownames(clusters) <- NULL
  notes <- character(0)
  lost <- which(rowSums(inf$lost) > 0)
  if (length(lost)) {
    notes <- c(notes, sprintf(
      "%s cannot be estimated without cluster%s %s (the design without %s is singular): estimate_without is NA there.",
      paste0("`", param[colSums(inf$lost) > 0], "`", collapse = ", "),
      if (length(lost) > 1L) "s" else "",
      paste(utils::head(format(parts$ids[lost], trim = TRUE), 10L), collapse = ", "),
      if (length(lost) > 1L) "any one of them" else "it"))
  }
  structure(list(clusters = clusters, G = G, cv_size = size_cv(sizes),
                 G_star = stats::setNames(G_star, param), param = param,
                 estimate = stats::setNames(unname(estimate), param),
                 std.error = stats::setNames(se, param), k = k, rho = rho, rules = rules,
                 param_default = chosen$default, cluster_label = parts$label,
                 nobs = sum(sizes), notes = notes),
            class = "cluster_diagnostics")
}

## The coefficient of variation of cluster sizes, population SD (divisor G),
## as design_effect() uses it.
size_cv <- function(n) sqrt(mean((n - mean(n))^2)) / mean(n)

## `param` checked against the coefficients (NA = aliased); NULL is the first
## estimable coefficient that is not the intercept (the intercept alone when
## there is nothing else).
choose_params <- function(param, coefficients) {
  nm <- names(coefficients)
  if (is.null(param)) {
    candidates <- nm[nm != "(Intercept)" & !is.na(coefficients)]
    if (!length(candidates)) candidates <- nm[!is.na(coefficients)]
    return(list(param = candidates[1L], default = TRUE))
  }
  if (!is.character(param) || !length(param) || anyNA(param)) {
    abort(sprintf("`param` must name coefficients of the fit (a character vector), such as \"%s\"; its coefficients are %s.",
                  utils::tail(nm, 1L), paste0("`", nm, "`", collapse = ", ")), call. = FALSE)
  }
  param <- unique(param)
  unknown <- setdiff(param, nm)
  if (length(unknown)) {
    abort(sprintf("`param` names %s, which %s not a coefficient of the fit; its coefficients are %s.",
                  paste0("`", unknown, "`", collapse = ", "),
                  if (length(unknown) > 1L) "are" else "is", paste0("`", nm, "`", collapse = ", ")),
          call. = FALSE)
  }
  aliased <- param[is.na(coefficients[param])]
  if (length(aliased)) {
    abort(sprintf("`param` names %s, which %s aliased (NA: a combination of the other columns), so %s no estimate to diagnose; choose an estimated coefficient or drop the collinear column.",
                  paste0("`", aliased, "`", collapse = ", "),
                  if (length(aliased) > 1L) "are" else "is",
                  if (length(aliased) > 1L) "they have" else "it has"), call. = FALSE)
  }
  list(param = param, default = FALSE)
}

## The linear functionals (columns) that take the centred, scaled
## coefficients of the engine to the coefficients `pos` (positions among the
## kept ones) in the data's units: a slope is its scaled coefficient times
## z_scale / escale; the intercept of a centred fit absorbs the shifts,
## beta_0 = beta~_0 - sum_j c_j beta_j. Returned as directions `F` (columns of
## largest entry 1, so that quadratic forms in them neither overflow nor
## underflow) and the factors `units` that take a value in those directions to
## the data's units (`F * units` per column is the functional).
param_functionals <- function(pos, parts) {
  p <- length(parts$kept)
  Fm <- matrix(0, p, length(pos))
  units <- numeric(length(pos))
  slopes <- which(parts$design > 0L)
  for (j in seq_along(pos)) {
    i <- pos[j]
    if (parts$design[i] == 0L) {
      Fm[i, j] <- 1
      if (length(slopes)) Fm[slopes, j] <- -parts$shift * parts$z_scale[slopes]
      top <- max(abs(Fm[, j]))
      Fm[, j] <- Fm[, j] / top
      units[j] <- top / parts$escale
    } else {
      Fm[i, j] <- 1
      units[j] <- parts$z_scale[i] / parts$escale
    }
  }
  list(F = Fm, units = units)
}

## What the diagnostics need from an lm fit, in the engine's centred and
## scaled units: packed per-cluster moments of z = (1, columns), the design,
## the bread, the scores, the scales and shifts, and per cluster its id and
## rows.
diagnostic_parts_lm <- function(fit, cluster, threads) {
  if (is.null(cluster) && is.null(attr(fit, "cluster"))) {
    abort("`cluster` is required: name the column (or give the vector or `~ g` formula) that identifies each observation's cluster.",
          call. = FALSE)
  }
  rows <- fit_rows(fit, "CR3", threads)
  cl <- fit_cluster(fit, cluster, rows)
  if (length(cl) != 1L) {
    abort("`cluster` must be one clustering variable: cluster_diagnostics() takes one (run it once per variable for multiway clustering).",
          call. = FALSE)
  }
  term <- cluster_terms(cl)[[1L]]
  got <- scores_from_rows(rows, term, "CR3", threads)
  coefs <- coef(fit)
  list(packed = got$P1, design = as.integer(rows$design), bread = rows$bread, scores = got$r1,
       kept = rownames(rows$bread), coefficients = coefs,
       shift = rows$shift, z_scale = rows$z_scale, escale = rows$escale,
       n = tabulate(term$codes + 1L, term$G), ids = cl[[1L]][term$first],
       label = names(cl)[1L])
}

## The same from a cluster_lm fit's statistics (by its first clustering
## variable), or from statistics recomputed for another `cluster`.
diagnostic_parts_stats <- function(fit, cluster, threads) {
  if (!is.null(cluster)) {
    fit <- refit_cluster_lm(fit, cluster, "HC1", TRUE, FALSE, threads, plan = "moments")
    if (length(fit$G) != 1L) {
      abort("`cluster` must be one clustering variable: cluster_diagnostics() takes one (run it once per variable for multiway clustering).",
            call. = FALSE)
    }
  }
  stats <- fit_moments(fit, threads = threads)
  if (is.null(stats) || is.null(stats$moments[["1"]])) {
    abort("this cluster_lm fit holds no per-cluster statistics; refit it with cluster_lm() on the data.",
          call. = FALSE)
  }
  sub <- if (identical(fit$formula, stats$formula)) NULL else fit$formula
  sd <- stats_design(stats, sub, units = FALSE)
  sol <- sd$scaled$sol
  kept <- sd$design[!sol$aliased]
  coefs <- fit$coefficients
  if (!identical(sd$coef_names, names(coefs))) {
    abort("internal error: the statistics of the cluster_lm fit do not match its coefficients.", call. = FALSE)
  }
  q <- length(stats$z_names)
  gamma <- numeric(q)
  gamma[kept + 1L] <- -sol$coef
  gamma[q] <- 1
  packed <- stats_scaled(stats)$moments[["1"]]
  bread <- sol$bread
  dimnames(bread) <- list(names(coefs)[!sol$aliased], names(coefs)[!sol$aliased])
  list(packed = packed, design = as.integer(kept), bread = bread,
       scores = cpp_stats_scores(packed, as.integer(kept), gamma, threads),
       kept = rownames(bread), coefficients = coefs,
       shift = unname(stats$shift[kept[kept > 0L]]), z_scale = sd$scaled$z[kept + 1L],
       escale = sd$scaled$z[q], n = stats$n, ids = stats$cluster,
       label = if (is.null(cluster)) names(cluster_lm_G(fit))[1L] else names(fit$G)[1L])
}

#' @export
print.cluster_diagnostics <- function(x, digits = max(3L, getOption("digits") - 3L),
                                      max_rows = 10L, ...) {
  cl <- x$clusters
  fmt <- function(v) format(v, digits = digits)
  id <- function(i) format(cl$cluster[i], trim = TRUE)
  sizes <- range(cl$n)
  label <- x$cluster_label
  cat(sprintf("Cluster diagnostics: %d clusters%s, %s rows, sizes %s to %s (coefficient of variation %s)\n",
              x$G, if (is.null(label) || label %in% c("", "cluster")) "" else sprintf(" (%s)", label),
              format(x$nobs, big.mark = ","), format(sizes[1L], big.mark = ","),
              format(sizes[2L], big.mark = ","), fmt(x$cv_size)))
  top <- which.max(cl$leverage)
  cat(sprintf("  leverage tr(H_gg): average k / G = %s (k = %d), largest %s (cluster %s)\n",
              fmt(x$k / x$G), x$k, fmt(cl$leverage[top]), id(top)))
  suffix <- if (length(x$param) == 1L) "" else paste0(".", x$param)
  for (j in seq_along(x$param)) {
    p <- x$param[j]
    cat(sprintf("\n`%s`%s: estimate %s, CR1 SE %s\n", p,
                if (x$param_default) " (the first coefficient after the intercept; choose with `param =`)" else "",
                fmt(x$estimate[[p]]), fmt(x$std.error[[p]])))
    cat(sprintf("  effective number of clusters G*(%s) = %s (Carter, Schnepel and Steigerwald)\n",
                format(x$rho), fmt(x$G_star[[p]])))
    pl <- cl[[paste0("partial_leverage", suffix[j])]]
    est <- cl[[paste0("estimate_without", suffix[j])]]
    top <- which.max(pl)
    cat(sprintf("  partial leverage: largest %s (cluster %s)\n", fmt(pl[top]), id(top)))
    if (any(!is.na(est))) {
      lo <- which.min(est); hi <- which.max(est)
      cat(sprintf("  leave-one-cluster-out estimates: %s (without %s) to %s (without %s)\n",
                  fmt(est[lo]), id(lo), fmt(est[hi]), id(hi)))
    }
  }
  flagged <- cl[cl$dominant, , drop = FALSE]
  cat(sprintf(paste0("\nDominant clusters (leverage > 3 k / G = %s, partial leverage > 3 / G = %s, ",
                     "or an estimate that moves by more than one CR1 SE without the cluster): %s\n"),
              fmt(x$rules[["leverage"]]), fmt(x$rules[["partial_leverage"]]),
              if (nrow(flagged)) nrow(flagged) else "none"))
  if (nrow(flagged)) {
    shown <- utils::head(flagged[order(-flagged$leverage), , drop = FALSE], max_rows)
    shown$dominant <- NULL
    print(shown, digits = digits, row.names = FALSE)
    if (nrow(flagged) > max_rows) cat(sprintf("  ... and %d more (see tidy()).\n", nrow(flagged) - max_rows))
  }
  if (nrow(flagged) || min(x$G_star) < few_clusters_limit) {
    cat(sprintf(paste0(
      "\nWith %s, CR1 t tests with G - 1 df reject too often. Prefer CR2 with Satterthwaite df ",
      "(coef_test(fit, cluster, type = \"CR2\")) or the wild cluster bootstrap (wild_boot()), ",
      "and report how the estimate moves without the dominant clusters.\n"),
      if (nrow(flagged)) "dominant clusters" else
        sprintf("an effective number of clusters below %d", few_clusters_limit)))
  }
  if (length(x$notes)) cat(paste0("Note: ", x$notes, "\n"), sep = "")
  invisible(x)
}

#' Plot leave-one-cluster-out estimates
#'
#' One point per cluster: the estimate of the parameter with that cluster
#' left out, against the cluster's partial leverage, with the full-sample
#' estimate as a solid line and one CR1 standard error either side as
#' dashed lines. Dominant clusters (see [cluster_diagnostics()]) are drawn
#' filled and labelled.
#'
#' @param x A [cluster_diagnostics()] result.
#' @param param The parameter to show (one of `x$param`; default the first).
#' @param main,xlab,ylab Title and axis labels.
#' @param ... Passed to [graphics::plot()].
#' @return `x`, invisibly.
#' @export
plot.cluster_diagnostics <- function(x, param = x$param[1L], main = NULL, xlab = NULL,
                                     ylab = NULL, ...) {
  if (!is.character(param) || length(param) != 1L || !(param %in% x$param)) {
    abort(sprintf("`param` must be one of %s.", paste0("\"", x$param, "\"", collapse = ", ")),
          call. = FALSE)
  }
  suffix <- if (length(x$param) == 1L) "" else paste0(".", param)
  cl <- x$clusters
  est <- cl[[paste0("estimate_without", suffix)]]
  lev <- cl[[paste0("partial_leverage", suffix)]]
  full <- x$estimate[[param]]
  se <- x$std.error[[param]]
  if (is.null(main)) main <- sprintf("Leave-one-cluster-out estimates of %s", param)
  if (is.null(xlab)) xlab <- "partial leverage of the cluster left out"
  if (is.null(ylab)) ylab <- sprintf("estimate of %s without the cluster", param)
  ylim <- range(c(est, full - se, full + se), na.rm = TRUE)
  graphics::plot(lev, est, pch = ifelse(cl$dominant, 19, 1), ylim = ylim,
                 main = main, xlab = xlab, ylab = ylab, ...)
  graphics::abline(h = full, lwd = 2)
  graphics::abline(h = full + c(-1, 1) * se, lty = 2)
  graphics::mtext("solid: full-sample estimate; dashed: one CR1 SE either side; filled: dominant clusters",
                  side = 3, line = 0.3, cex = 0.75)
  if (any(cl$dominant & !is.na(est))) {
    d <- cl$dominant & !is.na(est)
    graphics::text(lev[d], est[d], labels = format(cl$cluster[d], trim = TRUE), pos = 4, cex = 0.8)
  }
  invisible(x)
}

#' Tidy cluster diagnostics
#'
#' @param x A [cluster_diagnostics()] result.
#' @param ... Ignored.
#' @return The per-cluster table `x$clusters`: `cluster`, `n`, `leverage`,
#'   `partial_leverage`, `estimate_without` and `dominant`.
#' @method tidy cluster_diagnostics
#' @export
tidy.cluster_diagnostics <- function(x, ...) x$clusters

#' @export
as.data.frame.cluster_diagnostics <- function(x, row.names = NULL, optional = FALSE, ...) {
  result_frame(x$clusters, row.names)
}
