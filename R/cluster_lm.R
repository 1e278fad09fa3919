#' Linear regression with cluster-robust standard errors, fast
#'
#' Fits a linear model by least squares and computes its cluster-robust
#' covariance in one parallel C++ pass over the data, without building a
#' model frame or an `lm` object. The coefficients equal [lm()]'s and the
#' covariance equals `sandwich::vcovCL(lm(...), cluster = ..., type = type)`
#' (or `clubSandwich::vcovCR()` for the "CR" types); see [vcov_cluster()] for
#' the types and their small-sample adjustments.
#'
#' Plain numeric columns are read in place; factors, interactions and
#' transformations such as `log(x)` go through [model.matrix()], which codes
#' them as [lm()] does. Rows with missing values in any variable of the
#' formula or in the weights are dropped (as by [na.omit()]); a missing
#' cluster id is an error. Aliased (collinear) columns get `NA` coefficients,
#' decided as [lm()] decides them.
#'
#' @section Absorbed fixed effects:
#' With fixest's syntax, `y ~ x1 + x2 | unit + period`, the effects after
#' `|` are absorbed, not expanded into dummy columns: the outcome and the
#' covariates are demeaned within them (weighted, with weights) in C++, and
#' the model is fitted to the demeaned columns without an intercept. The
#' slopes, and their covariance under a given count of parameters, equal
#' those of [lm()] with the dummies. One effect is removed exactly; two or
#' more by alternating projections (Gauss-Seidel sweeps over the effects,
#' accelerated as fixest does, Irons and Tuck), until no coefficient of the
#' effects changes by more than `fixef.tol` times the root mean square of
#' the column (a relative criterion); without convergence in `fixef.iter`
#' sweeps a warning of class `clusterab_fixef_not_converged` gives the
#' change reached. Columns are demeaned independently, so the result does not
#' depend on `threads`. The effects may be variables of any id type
#' (numbers, strings, factors, dates) or combinations `a^b`; a row with a
#' missing value in one is dropped, as by [na.omit()]. Rows alone in their
#' level of some effect (singletons) are dropped, repeatedly, as fixest
#' does by default; their number is in `fit$fixef_info$singletons` and in
#' the printout. A covariate the effects absorb (constant within them) gets
#' an `NA` coefficient and a message (class `clusterab_fixef_collinear`), as
#' fixest removes it. [fixef()] gives the estimated effects.
#'
#' `ssc` decides how many parameters the absorbed effects add to k, which
#' enters HC1's (n - 1) / (n - k), CR1S, CR1p and `df.residual`:
#' `"nested"` (default; fixest's default, Stata's `xtreg, fe`): effects
#' nested in a clustering variable (every level within one cluster) are not
#' counted, the others count their levels less one, plus one for the
#' intercept; when no effect is nested, as `"full"`. `"full"` (Stata's
#' `areg`, fixest's `ssc(K.fixef = "full")`): every level, less the
#' redundant ones (for two effects, one per connected group of levels,
#' exactly as the rank of the dummies in [lm()]; one more per further
#' effect). `"none"`: none. With `"full"`, HC1 and CR1 equal
#' `sandwich::vcovCL()` on the regression with the dummies.
#'
#' "CR2" and "CR3" with absorbed effects need every effect nested in the
#' clusters: then the adjustment computed from the demeaned columns equals
#' clubSandwich's on the regression with the dummies (Pustejovsky and Tipton
#' 2018, who show the absorbed effects drop out; clubSandwich's own `plm`
#' method does the same). An effect not nested in the clusters enters
#' clubSandwich's adjustment through its dummies; add it as a factor covariate
#' (`y ~ x + factor(period) | unit`) to get that. With weights, the CR2 of
#' the demeaned columns is clubSandwich's CR2 of the weighted within
#' regression (`lm(y_dm ~ 0 + x_dm, weights = w)`), which differs slightly
#' from its CR2 of the weighted regression with the dummies. "HC2" and "HC3"
#' are not available with absorbed effects (their leverages include them).
#'
#' @param formula A model formula such as `y ~ treated + x`, or a
#'   [cluster_stats()] object (then `data` and `cluster` are not needed).
#' @param data A data frame or data.table; or a [cluster_stats()] object, in
#'   which case `formula` may name a subset of its columns.
#' @param cluster The clustering: a column name (`"g"`), a one-sided formula
#'   (`~ g`, or `~ g1 + g2` for multiway clustering) or a vector with one id
#'   per row.
#' @param weights Optional non-negative weights: a column name, a one-sided
#'   formula or a numeric vector. Rows with zero weight are dropped.
#' @param type Covariance type, as in [vcov_cluster()]; default "HC1"
#'   (Stata's and sandwich's default for linear models).
#' @param cadjust The cluster adjustment G / (G - 1) of the "HC" types:
#'   `TRUE`, `FALSE` or, for multiway clustering, `"min"` (every term uses the
#'   smallest number of clusters, as fixest); see [vcov_cluster()].
#' @param threads Number of threads; default `getOption("clusterab.threads")`,
#'   else all cores. Results do not depend on it.
#' @param contrasts As for [lm()]: `NULL` or a list naming factors of the
#'   formula, each with a contrast function, its name or a matrix (such as
#'   `list(f = "contr.sum")`). A factor's own [contrasts()] attribute and
#'   `options("contrasts")` are honoured as by [lm()].
#' @param ssc With absorbed fixed effects (`y ~ x | unit`), how many of
#'   their parameters count in k: `"nested"` (default, fixest's default),
#'   `"full"` (Stata's `areg`) or `"none"`; see "Absorbed fixed effects".
#'   Without `|` it changes nothing.
#' @param fixef.tol Relative tolerance of the demeaning with two or more
#'   fixed effects (as fixest's `fixef.tol`, but relative to each column's
#'   spread); the default 1e-10 gives coefficients equal to [lm()]'s with
#'   the dummies to about 1e-8 or better.
#' @param fixef.iter Maximum number of sweeps of the demeaning.
#' @return An object of class `cluster_lm` with methods for `print`,
#'   `summary`, `coef`, `vcov`, `confint`, `nobs`, `df.residual`, `tidy` and
#'   `predict` (see [predict.cluster_lm()]), and usable with [coef_test()]
#'   and `lmtest::coeftest()`. It keeps no rows: `fitted()`, `residuals()`
#'   and `model.frame()` are errors. It keeps `terms`, `contrasts` and
#'   `xlevels` as [lm()] does, for predictions on new data. With absorbed
#'   fixed effects it also holds `fixef_info` (the effects' `names`, numbers
#'   of `levels`, `nested` in the clusters or not, `redundant` levels, `k`
#'   counted by `ssc` and `k_full`, `singletons` dropped, demeaning
#'   `iterations`, `converged`, `tol`, and covariates `absorbed`),
#'   `within.r.squared` and `adj.r.squared` (as fixest), and [fixef()] gives
#'   the effects; `predict()` is not available for it.
#' @examples
#' fit <- cluster_lm(revenue ~ treated + baseline, data = geo_experiment,
#'                   cluster = ~ region)
#' fit
#' summary(fit)
#' confint(fit)
#' ## absorbed fixed effects (fixest's syntax)
#' fit_fe <- cluster_lm(revenue ~ baseline | region, data = geo_experiment,
#'                      cluster = ~ region)
#' fit_fe
#' @export
cluster_lm <- function(formula, data, cluster, weights = NULL, type = "HC1",
                       cadjust = TRUE, threads = NULL, contrasts = NULL,
                       ssc = c("nested", "full", "none"), fixef.tol = 1e-10,
                       fixef.iter = 10000L) {
  type <- check_vcov_type(type, "HC1")
  check_cadjust(cadjust)
  threads <- resolve_threads(threads)
  call <- match.call()
  formula <- force_formula(formula)
  ssc <- arg_match(ssc)  # fe
  fixef_control <- check_fixef_control(fixef.tol, fixef.iter)  # fe
  if (inherits(formula, "cluster_stats") || (!missing(data) && inherits(data, "cluster_stats"))) {
    stats <- if (inherits(formula, "cluster_stats")) formula else data
    sub <- if (inherits(formula, "formula")) formula else NULL
    if (!is.null(contrasts)) {
      abort("`contrasts` cannot be given with cluster_stats(): the statistics hold the columns as they were coded; give `contrasts` to cluster_stats().",
            call. = FALSE)
    }
    fit <- fit_from_stats(stats, type, cadjust, threads, sub)
    return(new_cluster_lm(fit, call))
  }
  if (missing(data)) abort("`data` is required.", call. = FALSE)
  if (missing(cluster) || is.null(cluster)) {
    abort("`cluster` is required: name the column that identifies each row's cluster (for independent rows use lm()).",
         call. = FALSE)
  }
  mc <- model_columns(formula, data, weights = weights, cluster = cluster,
                      contrasts = contrasts, allow_fixef = TRUE, threads = threads)
  new_cluster_lm(fit_cluster_lm(mc, type, cadjust, multi0 = FALSE, threads, formula,
                                ssc = ssc, fixef_control = fixef_control), call)
}

## cluster_lm() on prepared columns: compress by the first clustering
## variable, then fit from the statistics (further multiway terms from rows).
## The plan (compress_plan()) decides whether the per-cluster cross-products
## M_g are accumulated ("moments") or only the global ones, with the
## per-cluster scores from a second pass over the rows ("scores"); a scores
## fit keeps no per-cluster statistics (`stats` is NULL; fit_moments()
## recomputes them for the consumers that need them) but the global ones
## (`global_stats`).
fit_cluster_lm <- function(mc, type, cadjust, multi0, threads, formula, plan = NULL,
                           ssc = "nested", fixef_control = default_fixef_control()) {
  ## fe: absorbed fixed effects are demeaned away first (R/fixed_effects.R)
  if (!is.null(mc[["fixef"]])) mc <- absorb_fixed_effects(mc, threads, fixef_control)
  terms <- cluster_terms(mc$cluster, multi0, threads = threads)
  check_cluster_terms(terms, type)
  check_weight_span(mc$w, type)
  fe <- NULL  # fe
  if (!is.null(mc$fixef_info)) {
    fe <- fixef_k(mc$fixef_info, lapply(terms[seq_len(ncol(mc$cluster))], `[[`, "codes"), ssc)
    check_fixef_type(type, fe$nested, mc$fixef_info$names)
  }
  all_powers <- type %in% c("HC2", "HC3", "CR2")
  if (is.null(plan)) plan <- compress_plan(type, length(mc$y), terms[[1L]]$G, length(mc$columns) + 2L)
  stats <- compress_columns(mc, terms[[1L]], all_powers = all_powers,
                            threads = threads, formula = formula, plan = plan)
  if (!is.null(fe)) stats$fixef <- fe  # fe: absorbed parameters counted in k
  scores <- if (plan == "scores") {
    function(design, beta) compress_scores(mc, terms[[1L]], stats, design, beta, threads)
  }
  fit <- fit_from_stats(stats, type, cadjust, threads, NULL, more_terms = terms[-1L], mc = mc,
                        scores = scores)
  if (plan == "scores") {
    fit$global_stats <- fit$stats
    fit$stats <- NULL
    ## the few-cluster notes need M_g only when the split screen cannot rule
    ## out a coefficient resting on one cluster (then they are computed here,
    ## from the rows at hand)
    if (!single_cluster_screen(stats, fit)) {
      fit$stats <- compress_columns(mc, terms[[1L]], all_powers = TRUE, threads = threads,
                                    formula = formula)
      if (!is.null(fe)) fit$stats$fixef <- fe  # fe
    }
  }
  fit$G <- stats::setNames(vapply(seq_along(mc$cluster), function(j) terms[[j]]$G, integer(1L)),
                           names(mc$cluster))
  ## what predict() needs to code new data as lm() would
  fit$terms <- mc$terms
  fit$contrasts <- mc$contrasts
  fit$xlevels <- mc$xlevels
  if (!is.null(fe)) fit <- add_fixef_info(fit, mc$fixef_info, fe, ssc)  # fe
  fit
}

## Which statistics the compress step accumulates. Types with leverages
## (HC2, HC3, CR2, CR3) need the per-cluster cross-products M_g ("moments");
## the others need only the global cross-products and the per-cluster scores
## X_g' W e_g ("scores"), a second pass over the rows. The moments plan
## reads the rows once but does q (q + 1) / 2 multiply-adds per row into
## per-cluster arrays (G q (q + 1) / 2 doubles); the scores plan does the
## global products as vectorised dot products on row blocks and then about
## 2 q per row. Measured on 1e6 rows with q = 12 and G = 20 to 5e5 (one
## thread), the scores plan takes 0.3 to 0.7 times as long, and as long
## for q = 4, G = 100. On small data (up to 5e4 rows, with M_g of at most 1e6
## doubles) either plan takes milliseconds and the moments plan is chosen: the
## fit then holds M_g, which the other types, wild_boot() and
## cluster_diagnostics() reuse instead of reading the data again.
## The option clusterab.compress_plan ("moments" or "scores") forces a plan
## (internal: the tests use it to show that the plan does not change results).
compress_plan <- function(type, n, G, q) {
  if (type %in% c("HC2", "HC3", "CR2", "CR3")) return("moments")
  forced <- getOption("clusterab.compress_plan")
  if (!is.null(forced)) return(match.arg(forced, c("moments", "scores")))
  if (n <= 5e4 && G * q * (q + 1) / 2 <= 1e6) "moments" else "scores"
}

## The per-cluster statistics of a cluster_lm fit (all weight powers when the
## fit is weighted and `all_powers`): the fit's own when it holds them, else
## recomputed from the data of the call (a scores-plan fit holds none). Every
## consumer that needs M_g (the CR2 basis, other covariance types,
## wild_boot(), cluster_diagnostics(), the few-cluster notes) reads them here.
fit_moments <- function(fit, all_powers = FALSE, threads = NULL) {
  st <- fit$stats
  if (!is.null(st) && (!all_powers || !isTRUE(st$weighted) || length(st$moments) == 3L)) {
    return(st)
  }
  if (is.null(fit$call)) {
    abort("internal error: fit_moments() needs the fit's call to recompute its statistics.",
          call. = FALSE)
  }
  mc <- call_model_columns(fit, NULL)
  threads <- resolve_threads(threads)
  if (!is.null(mc[["fixef"]])) mc <- absorb_fixed_effects(mc, threads, fixef_control_of(fit), quiet = TRUE)  # fe
  st <- compress_columns(mc, cluster_codes(mc$cluster[[1L]]), all_powers = TRUE,
                         threads = threads, formula = fit$formula)
  st$fixef <- fit$fixef_k  # fe: the absorbed parameters counted in k
  check_same_data(fit, st)
  st
}

## Statistics recomputed from the call's data must be those the fit was made
## from: the data may have changed (or another `d` be found) since. The
## numbers of rows and clusters, the shifts and the global cross-products
## are compared, each cross-product relative to the geometric mean of its
## two diagonal entries (a scale-free bound: |S_ab| <= sqrt(S_aa S_bb)).
check_same_data <- function(fit, st) {
  g <- fit$global_stats
  if (is.null(g)) return(invisible(TRUE))
  q <- length(st$z_names)
  a <- rowSums(stats_scaled(st)$moments[["1"]])
  b <- stats_scaled(g)$moments[["1"]][, 1L]
  same_shape <- st$nobs == g$nobs && length(st$n) == fit$G[[1L]] &&
    identical(st$z_names, g$z_names) && length(a) == length(b) &&
    isTRUE(all.equal(unname(st$scale), unname(g$scale)))
  if (same_shape) {
    diag_pos <- cumsum(seq_len(q))  # packed positions of the diagonal
    d <- pmax(abs(b[diag_pos]), .Machine$double.xmin)
    bound <- sqrt(outer(d, d))[upper.tri(diag(q), diag = TRUE)]
    shift_ok <- all(abs(st$shift - g$shift) <= 1e-8 * pmax(abs(g$shift), sqrt(d[-1L] / g$nobs)))
    same_shape <- shift_ok && all(abs(a - b) <= 1e-8 * bound)
  }
  if (!same_shape) {
    abort("the data of this cluster_lm fit have changed since it was fitted: the per-cluster statistics this request needs are recomputed from `data` of the call (a fit of more than 5e4 rows keeps only per-cluster scores), and they no longer match the fit. Fit cluster_lm() again on the current data.",
          class = "clusterab_data_changed", call. = FALSE)
  }
  invisible(TRUE)
}

## Least squares and the cluster-robust covariance from per-cluster
## statistics. The algebra runs in the centred (and, for extreme magnitudes,
## scaled) coordinates of the statistics and the result is mapped back at the
## end. `sub` is an optional formula naming a subset of the columns;
## `more_terms` are further clustering terms (multiway), whose scores come
## from the rows in `mc`.
## `scores` (the scores plan): a function(design, beta) giving the first
## term's per-cluster scores from the rows, in place of the moments.
fit_from_stats <- function(stats, type, cadjust, threads, sub = NULL,
                           more_terms = list(), mc = NULL, scores = NULL) {
  z <- stats$z_names
  q <- length(z)
  sd <- stats_design(stats, sub, units = FALSE)
  design <- sd$design
  coef_names <- sd$coef_names
  sc <- sd$scaled
  S <- sc$S
  shift <- sd$shift
  sol <- sc$sol
  kept <- design[!sol$aliased]
  n <- stats$nobs
  k <- length(kept)
  if (k == 0L) stop_nothing_estimable("formula")
  ## fe: absorbed fixed effects count in k by the `ssc` rule (R/fixed_effects.R)
  k_fe <- if (!is.null(stats$fixef)) stats$fixef$k else 0L
  if (!is.null(stats$fixef)) check_fixef_type(type, stats$fixef$nested, names(stats$fixef$nested))
  k <- k + k_fe
  if (n - k <= 0) {
    abort(sprintf("the model has no residual degrees of freedom: `formula` has %d estimable coefficient(s) but %d observation(s) are left; cluster-robust covariance needs more observations than coefficients (check `formula` and `data`).",
                  k, n), call. = FALSE)
  }
  warn_ill_conditioned(sol$pivot_ratio[!sol$aliased], coef_names[!sol$aliased])
  beta <- sol$coef
  bread <- sol$bread
  dimnames(bread) <- list(coef_names[!sol$aliased], coef_names[!sol$aliased])
  fit <- list(design = kept, bread = bread)
  term <- list(G = stats_G(stats), sign = 1L, multi0 = FALSE)
  check_cluster_terms(list(term), type)
  G_min <- min_clusters(c(list(term), more_terms))
  parts <- if (is.null(scores)) scores_from_stats(stats, kept, beta, type, threads) else
    list(r1 = scores(kept, beta))
  meat <- term_adjustment(term, type, cadjust, n, k, G_min) *
    bread_meat_bread(bread, adjusted_scores(parts, type, fit, threads), threads)
  z_scale <- sc$z[kept + 1L]
  if (length(more_terms)) {
    ## the rows' design holds only the kept (non-aliased) columns; scores
    ## from the rows are taken in the scaled units of the statistics
    cols <- kept[kept > 0L]
    factors <- vapply(more_terms, function(t) t$sign * term_adjustment(t, type, cadjust, n, k, G_min),
                      numeric(1L))
    beta_units <- z_scale * beta / sc$z[q]
    rows <- list(columns = mc$columns[cols], intercept = 0L %in% kept,
                 design = c(if (0L %in% kept) 0L, seq_along(cols)), w = mc$w,
                 shift = unname(stats$shift[cols]), bread = bread,
                 scale = sc$z[cols + 1L], escale = sc$z[q], wscale = sc$w)
    if (multiway_scores_only(type, !is.null(mc$w))) {
      ## all further terms in one C++ call, the residuals formed once (R/multiway.R)
      meat <- meat + multiway_meat(rows, more_terms, factors, threads, y = mc$y,
                                   y_shift = stats$shift[q - 1L], beta = beta_units)
    } else {
      rows$e <- fitted_residuals(mc, stats, kept, beta_units)
      for (i in seq_along(more_terms)) {
        term_scores <- adjusted_scores(scores_from_rows(rows, more_terms[[i]], type, threads), type,
                                       rows, threads)
        meat <- meat + factors[i] * bread_meat_bread(bread, term_scores, threads)
      }
    }
  }
  if (type == "HC1") meat <- meat * (n - 1) / (n - k)
  V <- unscale_vcov(symmetric_vcov(meat, bread), z_scale, sc$z[q], z[q])
  ## Residual and total sums of squares (scaled units), for sigma and R^2.
  shift_s <- shift * sc$z
  t_vec <- S[kept + 1L, q]
  rss <- S[q, q] - sum(sol$coef * t_vec)
  tss <- if (stats$intercept) S[q, q] - S[1L, q]^2 / S[1L, 1L] else S[q, q] + 2 * shift_s[q] * S[1L, q] + shift_s[q]^2 * S[1L, 1L]
  ## Back from scaled, centred coordinates: the intercept absorbs the shifts.
  beta <- z_scale * beta / sc$z[q]
  if (stats$intercept && kept[1L] == 0L) {
    beta[1L] <- beta[1L] + shift[q] - sum(shift[kept[-1L] + 1L] * beta[-1L])
  }
  V <- uncentre_vcov(V, stats$intercept && kept[1L] == 0L, shift[kept[-1L] + 1L])
  if (!cr1p_undefined(type, term$G, k)) check_finite_fit(beta, V, z[kept + 1L], z[q])
  coefs <- stats::setNames(rep(NA_real_, length(design)), coef_names)
  coefs[!sol$aliased] <- beta
  ## what the Satterthwaite df of CR2 need besides the statistics (the moments
  ## are read from `stats` when needed: R/satterthwaite.R)
  cr2 <- if (type == "CR2" && !length(more_terms)) {
    list(design = kept, bread = bread, intercept = stats$intercept && kept[1L] == 0L,
         shift = shift[kept[kept > 0L] + 1L], z_scale = z_scale)
  }
  list(coefficients = coefs, vcov = V, type = type, cadjust = cadjust, nobs = n, cr2 = cr2,
       rank = k - k_fe, df.residual = n - k, G = stats::setNames(stats_G(stats), stats$cluster_name),
       sigma = sqrt(max(rss, 0) / (n - k - k_fe + (if (is.null(stats$fixef)) 0L else stats$fixef$k_full))) /
         (sc$z[q] * sqrt(sc$w)),  # fe: sigma counts every absorbed level, as lm() with the dummies
       r.squared = 1 - max(rss, 0) / tss,
       intercept = stats$intercept, weighted = stats$weighted, aliased = sol$aliased,
       stats = stats, yname = z[q], formula = if (is.null(sub)) stats$formula else sub)
}

## The design of a fit from statistics: the positions in z of its columns
## (all, or those `sub` names), their names, the summed cross-products `S`,
## the shifts and the least-squares solution with lm()'s aliasing. The solve
## runs on the scaled statistics (`scaled`: S, sol, and the scales z, w), so
## that no square overflows or underflows; `S` and `sol` are in the units of
## the data. With `units`, cross-products that do not fit in a double in
## those units (a covariate of 1e160, whose square overflows, or of 1e-160,
## whose square underflows) are an error; the least-squares engine needs only
## the scaled ones (units = FALSE).
stats_design <- function(stats, sub = NULL, units = TRUE) {
  z <- stats$z_names
  q <- length(z)
  x_names <- z[-c(1L, q)]
  all_columns <- c(if (stats$intercept) 0L, seq_along(x_names))
  design <- if (is.null(sub)) all_columns else sub_design(sub, stats, x_names)
  coef_names <- c(if (stats$intercept) "(Intercept)", x_names)[match(design, all_columns)]
  sc <- stats_scaled(stats)
  S_s <- unpack_sum(sc$moments[["1"]], seq_len(q) - 1L)
  if (!all(is.finite(S_s))) stop_overflow(z[colSums(!is.finite(S_s)) > 0 & z != "(1)"])
  shift <- c(0, stats$shift)
  shift_s <- shift * sc$z
  ## lm() decides aliasing on the uncentred columns: norms before the shift.
  norm2 <- diag(S_s) + 2 * shift_s * S_s[1L, ] + shift_s^2 * S_s[1L, 1L]
  sol_s <- cpp_solve_stats(S_s, design, q - 1L, norm2[design + 1L], 1e-7)
  if (all(sc$z == 1) && sc$w == 1) {
    S <- S_s
    sol <- sol_s
  } else {
    S <- S_s / outer(sc$z, sc$z) / sc$w
    z_kept <- sc$z[design[!sol_s$aliased] + 1L]
    sol <- sol_s
    sol$coef <- z_kept * sol_s$coef / sc$z[q]
    sol$bread <- sc$w * (z_kept * t(z_kept * sol_s$bread))
  }
  if (units && !all(is.finite(S))) stop_overflow(z[colSums(!is.finite(S)) > 0 & z != "(1)"])
  tiny <- diag(S_s) > 0 & diag(S) < .Machine$double.xmin
  if (units && any(tiny)) {
    bad <- z[tiny]
    abort(sprintf("the squares of %s underflow in double precision; rescale %s (multiply by a power of ten) first.",
                 paste0("`", bad, "`", collapse = ", "), if (length(bad) > 1L) "them" else "it"),
         call. = FALSE)
  }
  list(design = design, coef_names = coef_names, S = S, shift = shift, sol = sol,
       scaled = list(S = S_s, sol = sol_s, z = sc$z, w = sc$w))
}

## `what`: the argument holding the model, "formula" or "x" (a fitted model).
stop_nothing_estimable <- function(what = "formula") {
  abort(sprintf("every coefficient of %s is aliased (its column is zero or a combination of the others), so there is no covariance to compute; check the formula and the data.",
                if (what == "x") "`x`, the fitted model," else "`formula`"),
       call. = FALSE)
}

stop_overflow <- function(bad) {
  abort(sprintf("the cross-products of %s overflow in double precision; rescale %s (divide by a power of ten) first.",
               paste0("`", bad, "`", collapse = ", "), if (length(bad) > 1L) "them" else "it"),
       call. = FALSE)
}

## Normal equations lose about log10(1 / pivot ratio) digits (see
## cpp_solve_stats()); below 1e-10, fewer than 6 correct digits may be left in
## the coefficients of those columns although lm() (a QR) keeps them: warn.
warn_ill_conditioned <- function(ratio, names) {
  bad <- !is.na(ratio) & ratio < 1e-10
  if (any(bad)) {
    warn(sprintf("the design is nearly collinear in %s (%s of its variance is explained by the other columns); the coefficients and standard errors may have lost digits. Drop or combine nearly collinear columns, or fit with lm().",
                 paste0("`", names[bad], "`", collapse = ", "),
                 paste0(format(100 * (1 - min(ratio[bad])), digits = 12), "%")),
         class = "clusterab_ill_conditioned")
  }
}

## Coefficients and covariance that are not finite although the data are:
## magnitudes beyond what a double holds. An error naming the columns, not a
## silent NaN or Inf.
check_finite_fit <- function(beta, V, coef_columns, yname) {
  bad <- !is.finite(beta) | !is.finite(diag(V)) | rowSums(!is.finite(V)) > 0
  if (any(bad)) {
    cols <- setdiff(coef_columns[bad], "(1)")
    abort(sprintf("the coefficients or their covariance do not fit in double precision: the outcome `%s` and %s differ too much in magnitude; rescale the outcome or those columns (multiply or divide by a power of ten) first.",
                 yname, if (length(cols)) paste0("`", cols, "`", collapse = ", ") else "the intercept"),
         call. = FALSE)
  }
}

## Positions (in the statistics' z) of the columns named by a sub-formula.
sub_design <- function(sub, stats, x_names) {
  tt <- terms(sub)
  labels <- attr(tt, "term.labels")
  missing <- setdiff(labels, x_names)
  if (length(missing)) {
    abort(sprintf("`formula` names %s, which the statistics do not hold; they hold %s.",
                 paste0("`", missing, "`", collapse = ", "),
                 paste0("`", x_names, "`", collapse = ", ")), call. = FALSE)
  }
  if (attr(tt, "response") == 1L && !identical(deparse1(sub[[2L]]), stats$z_names[length(stats$z_names)])) {
    abort(sprintf("the outcome of `formula` must be `%s`, the outcome the statistics were computed for.",
                 stats$z_names[length(stats$z_names)]), call. = FALSE)
  }
  if (attr(tt, "intercept") == 1L && !stats$intercept) {
    abort("the statistics were computed without an intercept; `formula` cannot add one.", call. = FALSE)
  }
  if (attr(tt, "intercept") == 0L && stats$intercept) {
    abort("the statistics were computed with an intercept (and centred); `formula` cannot drop it.", call. = FALSE)
  }
  c(if (stats$intercept) 0L, match(labels, x_names))
}

## Residuals y - X beta of the rows, in the centred coordinates.
fitted_residuals <- function(mc, stats, kept, beta) {
  shift <- stats$shift
  q <- length(stats$z_names)
  e <- mc$y - shift[q - 1L]
  for (i in seq_along(kept)) {
    j <- kept[i]
    e <- if (j == 0L) e - beta[i] else e - beta[i] * (mc$columns[[j]] - shift[j])
  }
  unname(e)
}

new_cluster_lm <- function(fit, call) {
  fit$call <- call
  class(fit) <- "cluster_lm"
  signal_notes(cluster_lm_notes(fit))
  v <- diag(fit$vcov)
  v[warn_negative_variance(v)] <- NA  # a negative multiway variance is not a zero SE
  warn_zero_se(sqrt(v))
  fit
}

#' @rdname vcov_cluster
#' @export
vcov_cluster.cluster_lm <- function(x, cluster = NULL, type = NULL, cadjust = TRUE,
                                    multi0 = FALSE, fix = FALSE, threads = NULL, ...) {
  res <- vcov_cluster_cluster_lm_result(x, cluster, type, cadjust, multi0, fix, threads,
                                        label = cluster_label(substitute(cluster)))
  signal_notes(res$notes)
  res$vcov
}

## vcov_cluster() of a cluster_lm fit with its type, numbers of clusters and
## few-cluster notes. The fit's own covariance comes back without notes:
## cluster_lm() gave them when it was fitted, and print() shows them.
vcov_cluster_cluster_lm_result <- function(x, cluster = NULL, type = NULL, cadjust = TRUE,
                                           multi0 = FALSE, fix = FALSE, threads = NULL,
                                           label = NULL, ...) {
  type <- check_vcov_type(type, x$type)   # NULL: the fit's own type
  check_cadjust(cadjust); check_flag(multi0, "multi0"); check_flag(fix, "fix")
  threads <- resolve_threads(threads)
  same_fit <- is.null(cluster) && type == x$type && identical(cadjust, x$cadjust) &&
    (!multi0 || length(x$G) == 1L)
  if (same_fit) {
    V <- x$vcov
    G <- cluster_lm_G(x)
    notes <- list()
    fit <- x
  } else {
    ## from the fit's per-cluster statistics when it holds them (or the type
    ## needs them anyway); else from the rows with the plan of the new type
    leverage <- type %in% c("HC2", "HC3", "CR2", "CR3")
    fit <- if (is.null(cluster) && length(x$G) == 1L && (leverage || !is.null(x$stats))) {
      fit_from_stats(fit_moments(x, all_powers = type %in% c("HC2", "HC3", "CR2"), threads),
                     type, cadjust, threads)
    } else {
      refit_cluster_lm(x, cluster, type, cadjust, multi0, threads)
    }
    V <- fit$vcov
    G <- if (is.null(cluster)) cluster_lm_G(x) else fit$G
    if (!is.null(label) && identical(names(G), "cluster")) names(G) <- label
    fit$G <- G
    notes <- cluster_lm_notes(fit)
  }
  list(vcov = if (fix) fix_psd(V) else V, type = type, G = G, notes = notes,
       cr2 = cluster_lm_cr2_basis(fit, type))
}

## The CR2 basis (R/satterthwaite.R) of a cluster_lm fit from its statistics;
## NULL for other types. A fit made before the basis was stored gets it
## recomputed.
cluster_lm_cr2_basis <- function(fit, type) {
  if (type != "CR2" || length(fit$G) > 1L) return(NULL)
  b <- fit$cr2
  stats <- fit_moments(fit, all_powers = TRUE)
  if (is.null(b)) {
    sub <- if (!identical(fit$formula, stats$formula)) fit$formula
    b <- fit_from_stats(stats, "CR2", TRUE, 1L, sub)$cr2
  }
  if (is.null(b)) return(NULL)
  moments <- stats_scaled(stats)$moments
  cr2_basis(if (fit$weighted) moments[["0"]], moments[["1"]], if (fit$weighted) moments[["2"]],
            b$design, b$bread, b$intercept, b$shift, b$z_scale)
}

## The numbers of clusters of a fit, named by the clustering variables; ids
## given as a vector are named by the expression of the call (`d$g`).
cluster_lm_G <- function(x) {
  G <- x$G
  if (length(G) == 1L && (is.null(names(G)) || names(G) %in% c("", "cluster"))) {
    label <- if (!is.null(x$call)) cluster_label(x$call$cluster)
    if (!is.null(label)) names(G) <- label
  }
  G
}

## The few-cluster notes of a cluster_lm fit (or a refit): too few clusters
## for its type, and coefficients resting on a single cluster of the first
## clustering variable (whose per-cluster statistics the fit holds; a
## scores-plan fit holds them only when its split screen could not rule such
## coefficients out: single_cluster_screen()).
cluster_lm_notes <- function(fit) {
  stats <- fit$stats
  single <- NULL
  if (!is.null(stats) && !is.null(stats$moments[["1"]]) && is.null(stats$plan)) {
    kept <- names(fit$coefficients)[!fit$aliased]
    z <- stats$z_names
    x_names <- z[-c(1L, length(z))]
    design <- ifelse(kept == "(Intercept)", 0L, match(kept, x_names))
    if (!anyNA(design)) {
      G <- cluster_lm_G(fit)
      single <- single_cluster_table(stats$moments[["1"]], as.integer(design), kept,
                                     isTRUE(stats$intercept),
                                     unname(stats$shift[design[design > 0L]]), stats$cluster,
                                     names(G)[1L])
    }
  }
  few_cluster_notes(cluster_lm_G(fit), fit$type, single)
}

## Fits again from the data of the original call, with new covariance options
## (and optionally a forced compress plan).
refit_cluster_lm <- function(x, cluster, type, cadjust, multi0, threads, plan = NULL) {
  mc <- call_model_columns(x, cluster)
  fit_cluster_lm(mc, type, cadjust, multi0, threads, x$formula, plan = plan,
                 ssc = if (is.null(x$fixef_info)) "nested" else x$fixef_info$ssc,  # fe
                 fixef_control = fixef_control_of(x))
}

## The model columns of the original call of a cluster_lm fit (with another
## `cluster` when given): the data are evaluated again in the formula's
## environment.
call_model_columns <- function(x, cluster) {
  call <- x$call
  from_stats <- !is.null(x$stats) && inherits(x$stats$formula, "cluster_stats")
  if (is.null(call$data) || from_stats) {
    abort("this cluster_lm fit was made from cluster_stats(); a different `cluster` needs the data: call cluster_lm() on the data.",
         call. = FALSE)
  }
  env <- environment(x$formula)
  data <- eval(call$data, env)
  if (inherits(data, "cluster_stats")) {
    abort("this cluster_lm fit was made from cluster_stats(); a different `cluster` needs the data: call cluster_lm() on the data.",
         call. = FALSE)
  }
  if (is.null(cluster)) cluster <- eval(call$cluster, env)
  weights <- eval(call$weights, env)
  model_columns(x$formula, data, weights = weights, cluster = cluster,
                contrasts = x$contrasts, allow_fixef = TRUE)  # fe
}

#' @export
coef.cluster_lm <- function(object, ...) object$coefficients

#' @export
vcov.cluster_lm <- function(object, complete = TRUE, ...) {
  V <- object$vcov
  if (!complete || !any(object$aliased)) return(V)
  nm <- names(object$coefficients)
  full <- matrix(NA_real_, length(nm), length(nm), dimnames = list(nm, nm))
  full[rownames(V), colnames(V)] <- V
  full
}

#' @export
nobs.cluster_lm <- function(object, ...) object$nobs

#' Predictions from a cluster_lm fit
#'
#' As [predict.lm()] on new data, with the fit's cluster-robust covariance
#' `V` in place of the model-based one: the prediction is `X b` for the
#' design `X` of `newdata` (coded as in the fit: the same factor levels,
#' contrasts and `poly()` or `scale()` parameters), its standard error
#' `sqrt(diag(X V X'))`, and the confidence interval uses the t distribution
#' with the degrees of freedom [coef_test()] uses by default: G - 1, G the
#' number of clusters (the smallest number for multiway clustering), as Stata
#' and fixest do; for a fit with `type = "CR2"` the Satterthwaite degrees of
#' freedom of each prediction, the linear combination `x0' b` of its row
#' `x0` (equal to `clubSandwich::linear_contrast()` of that row), which are
#' far below G - 1 where the prediction rests on few clusters. They cost
#' O(G k^2) operations for each distinct row of `newdata` (rows that give the
#' same design row share them). Prediction
#' intervals (for a new row rather than its mean) are not offered: they need
#' a model of the row-level variance that a cluster-robust fit does not make.
#'
#' A `cluster_lm` fit keeps no rows, so `newdata` is required: for the fitted
#' values of the data the model was fitted to, use `predict(fit, newdata =
#' data)`. For a fit from [cluster_stats()] the design is rebuilt only when
#' every variable of the formula is a numeric column of `newdata` (the
#' statistics do not record how factors were coded); otherwise fit
#' [cluster_lm()] on the data.
#'
#' @param object A [cluster_lm()] fit.
#' @param newdata A data frame or data.table with the variables of the
#'   formula (the outcome and the cluster are not needed).
#' @param interval `"none"` (the predictions) or `"confidence"` (also the
#'   limits of the confidence interval of the mean).
#' @param level Confidence level.
#' @param se.fit Also return the standard errors, as [predict.lm()] does?
#' @param df Degrees of freedom of the intervals: `NULL` (the default) is
#'   Satterthwaite's for a "CR2" fit and G - 1 otherwise;
#'   `"Satterthwaite"` ("CR2" fits only); `"cluster"` is G - 1; or a
#'   positive number. Satterthwaite df need at least 3 clusters.
#' @param ... Ignored.
#' @return As [predict.lm()]: a named vector, or with `interval =
#'   "confidence"` a matrix with columns `fit`, `lwr` and `upr`; with
#'   `se.fit = TRUE` a list with `fit`, `se.fit`, `df` (one number, or with
#'   Satterthwaite df one per row of `newdata`) and `residual.scale`.
#' @examples
#' fit <- cluster_lm(revenue ~ treated + baseline, data = geo_experiment,
#'                   cluster = ~ region)
#' new <- data.frame(treated = c(0, 1), baseline = median(geo_experiment$baseline))
#' predict(fit, new, interval = "confidence")
#' fit2 <- cluster_lm(revenue ~ treated + baseline, data = geo_experiment,
#'                    cluster = ~ region, type = "CR2")
#' predict(fit2, new, se.fit = TRUE)$df   # Satterthwaite, per row
#' @export
predict.cluster_lm <- function(object, newdata, interval = c("none", "confidence"),
                               level = 0.95, se.fit = FALSE, df = NULL, ...) {
  interval <- arg_match(interval)
  if (!is.null(object$fixef_info)) {  # fe: the absorbed effects are not in the coefficients
    abort("predict() is not available for a cluster_lm fit with absorbed fixed effects (`|` in the formula): the effects are not coefficients of the fit; get them with fixef(), or fit the effects as factors (`y ~ x + factor(unit)`) to predict.",
          call. = FALSE)
  }
  check_flag(se.fit, "se.fit")
  check_conf_level(level, "level")
  check_prediction_df(df, object$type)
  if (missing(newdata) || is.null(newdata)) {
    abort("predict() of a cluster_lm fit needs `newdata`: cluster_lm() keeps no rows (it fits from per-cluster statistics); for the fitted values of the data use predict(fit, newdata = data).",
          class = "clusterab_no_rows", call. = FALSE)
  }
  if (!is.data.frame(newdata)) abort("`newdata` must be a data frame or data.table.", call. = FALSE)
  V <- object$vcov
  kept <- colnames(V)
  if (any(object$aliased)) {
    warn("prediction from a rank-deficient fit may be misleading (as predict.lm() warns): the aliased columns are left out.",
         class = "clusterab_rank_deficient")
  }
  X <- prediction_design(object, newdata)
  missing_cols <- setdiff(kept, colnames(X))
  if (length(missing_cols)) {
    abort(sprintf("the design of `newdata` lacks the column(s) %s of the fit; code the variables as in the data the model was fitted to.",
                  paste0("`", missing_cols, "`", collapse = ", ")), call. = FALSE)
  }
  offset <- attr(X, "offset")
  X <- X[, kept, drop = FALSE]
  fit <- drop(X %*% object$coefficients[kept])
  if (!is.null(offset)) fit <- fit + offset
  names(fit) <- rownames(X)
  if (interval == "none" && !se.fit) return(fit)
  se <- sqrt(rowSums((X %*% V) * X))
  names(se) <- names(fit)
  df <- prediction_df(object, X, df)
  if (interval == "confidence") {
    half <- stats::qt((1 + level) / 2, df) * se
    half[!is.na(se) & se == 0] <- 0   # a row that determines nothing: no df either
    fit <- cbind(fit = fit, lwr = fit - half, upr = fit + half)
  }
  if (!se.fit) return(fit)
  list(fit = fit, se.fit = se, df = df, residual.scale = object$sigma)
}

## The design matrix of new data for a cluster_lm fit (with attribute
## "offset"): from the fit's terms, levels and contrasts, as predict.lm()
## builds it; for a fit from statistics, from the formula when every variable
## is a plain numeric column.
prediction_design <- function(object, newdata) {
  if (!is.null(object$terms)) {
    tt <- stats::delete.response(object$terms)
    newdata <- without_contrasts(newdata)
    frame <- tryCatch(stats::model.frame(tt, newdata, na.action = stats::na.pass,
                                         xlev = object$xlevels),
                      error = function(e) abort("`newdata` does not fit the model: ",
                                                conditionMessage(e), call. = FALSE))
    X <- stats::model.matrix(tt, frame, contrasts.arg = object$contrasts)
  } else {
    tt <- stats::delete.response(terms(object$formula))
    vars <- as.list(attr(tt, "variables"))[-1L]
    plain <- vapply(vars, function(v) {
      is.name(v) && as.character(v) %in% names(newdata) &&
        is.numeric(x <- newdata[[as.character(v)]]) && is.null(dim(x)) && !is.factor(x)
    }, NA)
    if (!all(plain)) {
      abort(sprintf("this cluster_lm fit was made from cluster_stats(), which do not record how %s were coded; predict() rebuilds the design of `newdata` only from numeric columns named in the formula: fit cluster_lm() on the data to predict with factors or transformations.",
                    paste0("`", vapply(vars[!plain], deparse1, ""), "`", collapse = ", ")),
            call. = FALSE)
    }
    frame <- stats::model.frame(tt, newdata, na.action = stats::na.pass)
    X <- stats::model.matrix(tt, frame)
  }
  attr(X, "offset") <- stats::model.offset(frame)
  X
}

## `newdata` with the contrasts() attributes of its factors removed: the
## fit's contrasts code them, and model.frame() would warn about each
## attribute it drops when it re-levels a factor.
without_contrasts <- function(newdata) {
  has <- vapply(newdata, function(x) is.factor(x) && !is.null(attr(x, "contrasts")), NA)
  if (!any(has)) return(newdata)
  cols <- as.list(newdata)
  for (j in which(has)) attr(cols[[j]], "contrasts") <- NULL
  out <- as_frame(cols)
  attr(out, "row.names") <- attr(newdata, "row.names")
  out
}

## A cluster_lm fit keeps no rows: fitted(), residuals() and model.frame()
## say so instead of returning NULL.
no_rows_error <- function(what) {
  abort(sprintf("%s() is not available for a cluster_lm fit: cluster_lm() keeps no rows (it fits from per-cluster statistics). For fitted values use predict(fit, newdata = data); for residuals or the model frame fit lm() to the data.",
                what), class = "clusterab_no_rows", call. = FALSE)
}

#' @export
fitted.cluster_lm <- function(object, ...) no_rows_error("fitted")

#' @export
residuals.cluster_lm <- function(object, ...) no_rows_error("residuals")

#' @export
model.frame.cluster_lm <- function(formula, ...) no_rows_error("model.frame")

#' @export
df.residual.cluster_lm <- function(object, ...) object$df.residual

#' @export
formula.cluster_lm <- function(x, ...) x$formula

#' Confidence intervals of a cluster_lm fit
#'
#' @param object A [cluster_lm()] fit.
#' @param parm Coefficients (names or positions); all by default.
#' @param level Confidence level.
#' @param df Degrees of freedom, as in [coef_test()]: by default G - 1, and
#'   for type "CR2" the Satterthwaite df of each coefficient.
#' @param ... Ignored.
#' @return A matrix with the lower and upper limits.
#' @export
confint.cluster_lm <- function(object, parm, level = 0.95, df = NULL, ...) {
  coef_ci(object, parm = if (missing(parm)) NULL else parm, level = level, df = df)
}

#' @export
print.cluster_lm <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("\nCall:\n", paste(deparse(x$call), sep = "\n", collapse = "\n"), "\n\n", sep = "")
  cat("Coefficients:\n")
  print.default(format(x$coefficients, digits = digits), print.gap = 2L, quote = FALSE)
  if (!is.null(x$fixef_info)) cat("\n", fixef_text(x$fixef_info), sep = "")  # fe
  G <- cluster_lm_G(x)
  df <- if (identical(x$type, "CR2") && length(G) == 1L) "Satterthwaite df" else
    sprintf("%s df (G - 1)", format(min(G) - 1L, big.mark = ","))
  cat(sprintf("\n%s cluster-robust standard errors, clustered by %s; summary() tests with %s\n",
              x$type, cluster_count_text(G), df))
  print_notes(note_text(cluster_lm_notes(x)))
  invisible(x)
}

cluster_count_text <- function(G) {
  labels <- if (is.null(names(G))) rep("", length(G)) else names(G)
  counts <- vapply(G, format, "", big.mark = ",")
  paste0(ifelse(labels == "", "", paste0(labels, " ")),
         "(", counts, " clusters)", collapse = " and ")
}

#' Summarise a cluster_lm fit
#'
#' @param object A [cluster_lm()] fit.
#' @param df Degrees of freedom for the t tests, as in [coef_test()]: `NULL`
#'   (the default) is G - 1, the number of clusters less one (the smallest
#'   number for multiway clustering), as Stata and fixest, and for type "CR2"
#'   the Satterthwaite df of each coefficient (clubSandwich's test);
#'   `"cluster"` is G - 1 always; `"residual"` the residual degrees of
#'   freedom, as `lmtest::coeftest()`; or a number.
#' @param x A `summary.cluster_lm` object.
#' @param digits Number of significant digits to print.
#' @param ... Ignored.
#' @return An object of class `summary.cluster_lm` with the coefficient table
#'   (a [coef_test()] result, which says the covariance type, the number of
#'   clusters and the df), sigma, R-squared and the few-cluster notes. The
#'   notes were given as warnings by [cluster_lm()] when the model was
#'   fitted; `summary()` does not repeat them but prints them under the table.
#' @examples
#' fit <- cluster_lm(revenue ~ treated + baseline, data = geo_experiment,
#'                   cluster = ~ region, type = "CR2")
#' summary(fit)                    # CR2: t tests with Satterthwaite df
#' summary(fit, df = "cluster")    # G - 1 df
#' summary(fit, df = "residual")   # lmtest's residual df
#' @export
summary.cluster_lm <- function(object, df = NULL, ...) {
  structure(list(call = object$call, coefficients = coef_test(object, df = df),
                 type = object$type, G = cluster_lm_G(object), nobs = object$nobs,
                 sigma = object$sigma, df.residual = object$df.residual,
                 r.squared = object$r.squared,
                 adj.r.squared = if (!is.null(object$adj.r.squared)) object$adj.r.squared else  # fe
                   1 - (1 - object$r.squared) * (object$nobs - object$intercept) / object$df.residual,
                 aliased = object$aliased,
                 fixef_info = object$fixef_info, within.r.squared = object$within.r.squared),  # fe
            class = "summary.cluster_lm")
}

#' @rdname summary.cluster_lm
#' @export
print.summary.cluster_lm <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("\nCall:\n", paste(deparse(x$call), sep = "\n", collapse = "\n"), "\n", sep = "")
  if (any(x$aliased)) {
    cat(sprintf("\nCoefficients: (%d not defined because of singularities)", sum(x$aliased)))
  }
  ## the table says the covariance type, the clusters, the df and the notes
  print(x$coefficients, digits = digits)
  if (!is.null(x$fixef_info)) cat(fixef_text(x$fixef_info))  # fe
  cat(sprintf("Residual standard error: %s on %s degrees of freedom (%s observations)\n",
              format(signif(x$sigma, digits)), format(x$df.residual, big.mark = ","),
              format(x$nobs, big.mark = ",")))
  cat(sprintf("Multiple R-squared: %s,\tAdjusted R-squared: %s%s\n\n",
              formatC(x$r.squared, digits = digits), formatC(x$adj.r.squared, digits = digits),
              if (is.null(x$within.r.squared)) "" else  # fe
                sprintf(",\tWithin R-squared: %s", formatC(x$within.r.squared, digits = digits))))
  invisible(x)
}

#' @importFrom generics tidy
#' @export
generics::tidy

#' @importFrom generics glance
#' @export
generics::glance

#' Tidy a cluster_lm fit
#'
#' @param x A [cluster_lm()] fit.
#' @param conf.int Add confidence limits?
#' @param conf.level Their level.
#' @param df Degrees of freedom, as in [coef_test()]: by default G - 1, and
#'   for type "CR2" the Satterthwaite df of each coefficient.
#' @param ... Ignored.
#' @return A data frame with broom's columns `term`, `estimate`,
#'   `std.error`, `statistic`, `df` (the t tests' degrees of freedom),
#'   `p.value` (and `conf.low`, `conf.high`).
#'   `as.data.frame()` gives the same.
#' @method tidy cluster_lm
#' @export
tidy.cluster_lm <- function(x, conf.int = FALSE, conf.level = 0.95, df = NULL, ...) {
  tidy.coef_test(coef_test(x, df = df), conf.int = conf.int, conf.level = conf.level)
}

#' @rdname tidy.cluster_lm
#' @param row.names,optional Ignored (for the `as.data.frame()` generic).
#' @export
as.data.frame.cluster_lm <- function(x, row.names = NULL, optional = FALSE, ...) {
  tidy.cluster_lm(x, ...)
}

#' Glance at a cluster_lm fit
#'
#' One row with the fit's summary statistics, named as broom's `glance.lm()`
#' where they mean the same.
#'
#' @param x A [cluster_lm()] fit.
#' @param ... Ignored.
#' @return A data frame with `r.squared`, `adj.r.squared`, `sigma`, `nobs`,
#'   `df.residual`, `nclusters` (the number of clusters; the smallest for
#'   multiway clustering) and `vcov.type` (the covariance type).
#' @examples
#' fit <- cluster_lm(revenue ~ treated + baseline, data = geo_experiment,
#'                   cluster = ~ region, type = "CR2")
#' glance(fit)
#' @method glance cluster_lm
#' @export
glance.cluster_lm <- function(x, ...) {
  data.frame(r.squared = x$r.squared,
             adj.r.squared = if (!is.null(x$adj.r.squared)) x$adj.r.squared else  # fe
               1 - (1 - x$r.squared) * (x$nobs - x$intercept) / x$df.residual,
             sigma = x$sigma, nobs = x$nobs, df.residual = x$df.residual,
             nclusters = min(x$G), vcov.type = x$type, stringsAsFactors = FALSE)
}
