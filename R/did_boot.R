#' Difference in differences with regression and bootstrap intervals
#'
#' The 2x2 difference-in-differences estimate (treated minus control, after
#' minus before) with its regression confidence interval and bootstrap
#' intervals. The estimate is the coefficient of `group:period` in
#' `lm(outcome ~ group * period + covariates)`, which without covariates is
#' the difference of the four cell means
#' `(treated post - treated pre) - (control post - control pre)`.
#'
#' **Which level is which.** `group` and `period` must each have exactly two
#' distinct values. The baseline ("control" for `group`, "pre" for
#' `period`) is, in this order: the value given as `control =` or `pre =`;
#' for a factor, the first of its levels that occur; for a logical,
#' `FALSE`; for numbers 0/1, 0; for labels, the one common baseline label
#' (case-insensitively control, ctrl, baseline, base, A, pre, before, off,
#' no), so that control/treated, control/test, A/B, pre/post and
#' before/after all work. Any other pair of values is taken in sorted order
#' (the first is the baseline) with a message of class
#' `clusterab_baseline_choice` naming the choice and the argument that
#' changes it. The printed result names the levels.
#'
#' **Regression interval.** A t interval for the interaction coefficient:
#' with `cluster`, the cluster-robust HC1 covariance (as
#' `sandwich::vcovCL(fit, cluster, type = "HC1")`, computed by [cluster_lm()]'s
#' engine from per-cluster statistics) and G - 1 degrees of freedom (G
#' clusters), the convention of Stata and fixest for clustered tests and
#' the package's default (as
#' `lmtest::coefci(fit, vcov = vcovCL(fit, cluster, type = "HC1"), df = G - 1)`);
#' without `cluster`, the usual `lm()` covariance and interval with the
#' residual degrees of freedom n - p, as `confint(lm(...))`.
#'
#' **Bootstrap.** `resample = "cluster"` (the default when `cluster` is given)
#' resamples whole clusters with replacement: a unit observed before and after
#' keeps its pre/post correlation. Each replicate draws G clusters uniformly
#' with replacement and sums their per-cluster cross-products, then solves for
#' the coefficient: O(G p^2) per replicate, without touching the rows. This is
#' `boot::boot()` over the cluster ids with a statistic that refits `lm()` on
#' the rows of the drawn clusters. `resample = "iid"` (the default without
#' `cluster`) resamples n rows with replacement (ordinary case resampling, as
#' `boot::boot(data, statistic)`), O(n) per replicate; without covariates a
#' replicate only accumulates the four cell counts and sums. A replicate in
#' which the coefficient is not estimable (a cell of the 2x2 left empty) is
#' `NA` in `$t` and left out of the intervals, with a warning, as
#' `boot::boot.ci()` leaves out non-finite replicates. Covariates that are
#' constant in a replicate are dropped from that replicate's fit, as `lm()`
#' drops aliased columns.
#'
#' **Bootstrap intervals** follow `boot::boot.ci()`: `"perc"` is its
#' percentile interval (with its interpolation of order statistics on the
#' normal scale), `"norm"` its normal interval (bias-corrected, with the
#' bootstrap variance), and `"bca"` its BCa interval with the acceleration
#' computed from jackknife influence values: leave one cluster out for the
#' cluster bootstrap, one row out for the iid bootstrap, exactly as
#' `boot::empinf(b, type = "jack")`. Note that `boot.ci()` by default
#' estimates the influence values by regression on the bootstrap frequencies
#' (`empinf(type = "reg")`), which needs R larger than the number of clusters
#' (rows) and carries Monte Carlo error; our BCa equals
#' `boot.ci(b, type = "bca", L = empinf(b, type = "jack"))` on the same
#' replicates and works for any R.
#'
#' **Clusters and groups.** With `cluster`, every cluster must lie in one
#' group (the group is assigned by cluster, as in a DiD where units or regions
#' are treated), and each group needs at least two clusters.
#'
#' **Two-way fixed effects.** With `fixed_effects = "unit"` (a column of
#' unit ids: users, stores, regions observed in both periods), the unit
#' effects are absorbed and the estimate is the two-way fixed-effects DiD,
#' the coefficient of `group:period` in `outcome ~ period + group:period +
#' covariates | unit` (with two periods the period column is the period
#' effect): `fixest::feols(y ~ post + treated:post | unit, cluster = ~
#' cluster)`, whose clustered covariance (fixest's default small-sample rule:
#' units nested in the clusters are not counted) the regression interval
#' uses. Units must be nested in the clusters (every unit within one
#' cluster) and only the cluster bootstrap is offered: the columns are
#' demeaned within units once, and since resampling clusters keeps every
#' unit's rows together the demeaning of each replicate is the same, so the
#' replicates still sum per-cluster cross-products without touching the
#' rows. Units with one row (singletons) carry no information on the DiD and
#' are dropped, as fixest drops them (counted in `$singletons`).
#'
#' **Replicates and memory.** `R` must be at least 2 (a bootstrap standard
#' error needs two replicates; intervals need about 1000). The replicates
#' are kept in `$t`: a run that would need more than
#' `getOption("clusterab.max_memory", 4e9)` bytes (8 bytes per replicate) is
#' refused before it starts, with the figure; lower `R`.
#'
#' @param data A data frame or data.table with one row per observation (for
#'   panels, one row per unit and period).
#' @param outcome Name of the numeric (or logical) outcome column.
#' @param group Name of the two-valued column telling control from treated.
#' @param period Name of the two-valued column telling before from after.
#' @param cluster Optional clusters (the unit that was assigned to a group: a
#'   user, a store, a region): the name of a column of `data`, a one-sided
#'   formula such as `~ unit`, or a vector with one value per row. Gives
#'   cluster-robust regression intervals and the cluster bootstrap.
#' @param R Number of bootstrap replicates, at least 2.
#' @param resample `"cluster"` (resample clusters; the default when `cluster`
#'   is given) or `"iid"` (resample rows; the default otherwise). Formerly
#'   `type`.
#' @param ci Bootstrap intervals to compute, any of `"perc"`, `"bca"`,
#'   `"norm"`; all by default. The first is the one `plot()` marks.
#' @param conf.level Confidence level. Formerly `level`.
#' @param covariates Optional names of further columns to adjust for
#'   (numeric, logical or factor), added to the regression as in
#'   `lm(outcome ~ group * period + covariates)`. Huge or tiny numeric
#'   covariates are divided by a power of two before the cross-products
#'   (exact: the estimate and its t statistic do not depend on their units;
#'   their own coefficients are reported in the data's units). An outcome
#'   the model fits exactly (a constant one) has a standard error of 0 and
#'   is an error.
#' @param fixed_effects Optional name of a column of unit ids whose effects
#'   are absorbed: the two-way fixed-effects DiD (unit and period effects);
#'   needs `cluster`, in which the units are nested. See "Two-way fixed
#'   effects".
#' @param threads Number of threads; default `getOption("clusterab.threads")`,
#'   else all cores. Results do not depend on it.
#' @param progress Show a progress bar on long runs? Default
#'   `getOption("clusterab.progress", interactive())`.
#' @param control The value of the `group` column that is the control group;
#'   `NULL` chooses by the rule in Details.
#' @param pre The value of the `period` column that is the pre period;
#'   `NULL` chooses by the rule in Details.
#' @param ... Not used; the old argument names `level` and `type` give an
#'   error naming their replacements.
#' @return An object of class `did_boot`, shaped like `htest` (`estimate`,
#'   `std.error`, `statistic`, `parameter` (df), `p.value` and `conf.int` of
#'   the regression) and like a `boot` object: `t` (the R x 1 matrix of
#'   replicates), `t0` (the estimate), `R`, `seed`, `L` (the jackknife
#'   influence values, when BCa was asked for). Also `boot_ci` (a matrix of
#'   the bootstrap intervals), `boot_se`, `bias`, `acceleration`, `z0`,
#'   `failed` (replicates left out), `coefficients` (the regression's
#'   coefficient table), `cells` (rows and means of the 2x2 cells),
#'   `levels`, `nobs` and `n_clusters`. Methods: `print`, `summary`,
#'   `confint` (regression and bootstrap intervals), `tidy`, `glance`,
#'   `as.data.frame` and `plot`.
#' @examples
#' set.seed(1)
#' units <- 40
#' d <- data.frame(unit = rep(seq_len(units), each = 2),
#'                 treated = rep(rep(0:1, each = units / 2), each = 2),
#'                 post = rep(0:1, units))
#' d$y <- rnorm(units)[d$unit] + 0.5 * d$treated * d$post + rnorm(nrow(d))
#' fit <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 500)
#' fit
#' confint(fit)
#' tidy(fit)
#' glance(fit)
#' plot(fit)
#' ## labelled periods: "pre" is the baseline period
#' d$when <- ifelse(d$post == 1, "post", "pre")
#' did_boot(d, "y", "treated", "when", cluster = ~ unit, R = 200, ci = "perc",
#'          conf.level = 0.9)
#' @export
did_boot <- function(data, outcome, group, period, cluster = NULL, R = 2000,
                     resample = c("cluster", "iid"), ci = c("perc", "bca", "norm"),
                     conf.level = 0.95, covariates = NULL, threads = NULL, progress = NULL,
                     control = NULL, pre = NULL, fixed_effects = NULL, ...) {
  renamed_arguments(list(...), c(level = "conf.level", type = "resample"))
  if (!is.data.frame(data)) abort("`data` must be a data frame or data.table.", call. = FALSE)
  if (nrow(data) == 0L) abort("`data` has no rows.", call. = FALSE)
  R <- check_replicates(R, min = 2)
  check_replicate_memory(R, 1)
  check_conf_level(conf.level, "conf.level")
  level <- conf.level
  ci <- arg_match(ci, c("perc", "bca", "norm"), several.ok = TRUE, what = "ci")
  threads <- resolve_threads(threads)
  if (missing(resample)) {
    type <- if (is.null(cluster)) "iid" else "cluster"
  } else {
    type <- arg_match(resample, c("cluster", "iid"), what = "resample")
    if (type == "cluster" && is.null(cluster)) {
      abort('resample = "cluster" resamples clusters: give the clusters in `cluster`, or use resample = "iid".',
           call. = FALSE)
    }
  }

  y <- data_column(data, outcome, "outcome")
  if (!(is.numeric(y) || is.logical(y)) || is.factor(y) || !is.null(dim(y))) {
    abort(sprintf("`outcome` column `%s` must be numeric, not %s.", outcome, class(y)[1L]),
         call. = FALSE)
  }
  check_finite_column(y, "outcome", outcome)
  ## huge or tiny outcomes: fit y / s (s a power of two), scale back at the end
  y_scale <- outcome_scale(y)
  if (y_scale != 1) y <- as.double(y) / y_scale
  grp <- did_levels(data_column(data, group, "group"), "group", group, c("control", "treated"),
                    control, "control", "control group")
  per <- did_levels(data_column(data, period, "period"), "period", period, c("pre", "post"),
                    pre, "pre", "pre period")
  cov_cols <- did_covariates(data, covariates, c(outcome, group, period))
  units <- did_units(data, fixed_effects, cluster, type)  # fe: two-way FE DiD
  ## huge or tiny numeric covariates: divided by powers of two (exact) before
  ## the cross-products are formed; the DiD and its t statistic do not change,
  ## and their own coefficients are scaled back below
  cov_scale <- vapply(cov_cols, function(v) {
    if (is.numeric(v) && !is.object(v) && is.null(dim(v))) outcome_scale(v) else 1
  }, 0)
  for (v in names(cov_scale)[cov_scale != 1]) cov_cols[[v]] <- cov_cols[[v]] / cov_scale[[v]]
  cell <- 2L * grp$second + per$second
  check_cells(cell, grp$levels, per$levels)
  cl <- NULL
  if (!is.null(cluster)) {
    cl_arg <- data_cluster(data, cluster)
    cl_values <- cl_arg$values
    cluster <- cl_arg$name
    check_no_missing(cl_values, "cluster")
    cl <- cluster_codes(cl_values)
    check_cluster_groups(cl, cl_values, grp)
  }

  ## The design of lm(y ~ group * period + covariates): columns named after
  ## the data's columns, the interaction last.
  did_name <- paste0(group, ":", period)
  g01 <- as.double(grp$second)
  p01 <- as.double(per$second)
  frame <- as_frame(c(list(.y = as.double(y), .g = g01, .p = p01), cov_cols,
                      list(.gp = g01 * p01)))
  rhs <- c(if (is.null(units)) ".g", ".p", if (length(cov_cols)) paste0("`", names(cov_cols), "`"), ".gp")
  fml <- stats::as.formula(paste(".y ~", paste(rhs, collapse = " + ")), env = baseenv())
  mc <- model_columns(fml, frame)
  k <- length(mc$columns)
  if (is.null(units)) names(mc$columns)[c(1L, 2L, k)] <- c(group, period, did_name)
  else names(mc$columns)[c(1L, k)] <- c(period, did_name)
  mc$yname <- outcome
  singletons <- 0L
  if (!is.null(units)) {
    ## fe: absorb the unit effects (within-unit demeaning, exact under
    ## cluster resampling); singletons dropped as fixest drops them
    absorbed <- did_absorb_units(mc, units, cl_values, threads)
    mc <- absorbed$mc
    singletons <- absorbed$singletons
    if (singletons > 0L) {
      keep <- absorbed$keep
      cl_values <- cl_values[keep]
      cl <- cluster_codes(cl_values)
      y <- y[keep]
      cell <- cell[keep]
      check_cells(cell, grp$levels, per$levels)
      grp$second <- grp$second[keep]
      check_cluster_groups(cl, cl_values, grp)
    }
  }
  codes <- if (is.null(cl)) list(codes = integer(length(mc$y)), G = 1L, first = 1L) else cl
  if (!is.null(cl)) mc$cluster <- as_frame(stats::setNames(list(cl_values), cluster))
  stats <- compress_columns(mc, codes, all_powers = FALSE, threads = threads, formula = fml)
  if (!is.null(units)) stats$fixef <- absorbed$k  # fe: k as fixest's default (nested units)

  reg <- if (is.null(cl)) classical_fit(stats) else fit_from_stats(stats, "HC1", TRUE, threads)
  if (is.na(reg$coefficients[[did_name]])) {
    abort(sprintf("the difference in differences is not identified: `covariates` are collinear with `%s`; drop the collinear covariates.",
                 did_name), call. = FALSE)
  }
  est <- reg$coefficients[[did_name]]
  se <- sqrt(reg$vcov[did_name, did_name])
  if (!is.finite(se) || se == 0) {
    abort(sprintf("the standard error of the difference in differences is %s: the model fits `outcome` column `%s` exactly (is it constant, or constant within each cell?), so there is no t statistic, p-value or interval.",
                  format(se), outcome), call. = FALSE)
  }
  ## clustered: G - 1 df (Stata, fixest), the package's default; else n - p
  if (!is.null(cl)) reg$df.residual <- cl$G - 1
  df <- reg$df.residual
  tab <- coef_table(reg)
  for (v in intersect(names(cov_scale)[cov_scale != 1], rownames(tab))) {
    tab[v, 1:2] <- tab[v, 1:2] / cov_scale[[v]]
  }

  ## The bootstrap kernels see z = (1, columns, y), centred by `shift`.
  kernel <- list(design = c(if (is.null(units)) 0L, seq_len(k)), shift = c(0, unname(stats$shift)),
                 y_index = k + 1L, tol = 1e-7)
  seed <- draw_seed()
  moments <- stats$moments[["1"]]
  rows_only <- type == "iid" && length(cov_cols) == 0L
  y_centred <- if (rows_only) mc$y - kernel$shift[k + 2L]
  cell_int <- if (rows_only) as.integer(cell)
  work <- if (type == "cluster") ncol(moments) * nrow(moments) else length(mc$y) * (if (rows_only) 2 else nrow(moments))
  chunk <- max(2 * threads, min(1e4, floor(1e8 / work)))
  replicates <- unlist(run_chunks(R, function(begin, end) {
    if (type == "cluster") {
      cpp_did_boot_clusters(moments, kernel$design, kernel$shift, kernel$y_index, kernel$tol,
                            seed, begin, end, threads)
    } else if (rows_only) {
      cpp_did_boot_cells(y_centred, cell_int, seed, begin, end, threads)
    } else {
      cpp_did_boot_rows(mc$columns, mc$y, kernel$design, kernel$shift, kernel$tol,
                        seed, begin, end, threads)
    }
  }, chunk = chunk, progress = progress, label = "Bootstrapping the DiD"))
  replicates[is.nan(replicates)] <- NA_real_
  failed <- sum(is.na(replicates))
  if (failed == R) {
    abort("no bootstrap replicate could estimate the difference in differences (every resample left a cell of the 2x2 empty); use more clusters or rows.",
         call. = FALSE)
  }
  if (failed > 0L) {
    warn(sprintf("%d of %d bootstrap replicates left a cell of the 2x2 empty (or the interaction aliased) and were left out of the intervals.",
                    failed, R), call. = FALSE)
  }

  L <- NULL
  a <- NA_real_
  if ("bca" %in% ci) {
    jack <- if (type == "cluster") {
      cpp_did_jackknife_clusters(moments, kernel$design, kernel$shift, kernel$y_index,
                                 kernel$tol, threads)
    } else {
      cpp_did_jackknife_rows(mc$columns, mc$y, moments, kernel$design, kernel$shift,
                             kernel$tol, threads)
    }
    L <- (length(jack) - 1) * (est - jack)
    L[is.nan(L)] <- NA_real_
    a <- sum(L^3) / (6 * sum(L^2)^1.5)
  }
  t_ok <- replicates[!is.na(replicates)]
  n_cl <- if (is.null(cl)) NA_integer_ else cl$G
  cells <- data.frame(group = rep(unname(grp$levels), each = 2L),
                      period = rep(unname(per$levels), 2L),
                      n = tabulate(cell + 1L, 4L),
                      mean = as.vector(rowsum(as.double(y), cell, reorder = TRUE)) / tabulate(cell + 1L, 4L),
                      stringsAsFactors = FALSE)
  q <- stats::qt((1 + level) / 2, df)
  conf_int <- est + c(-1, 1) * q * se
  attr(conf_int, "conf.level") <- level
  out <- structure(list(
    estimate = stats::setNames(est, did_name), std.error = se,
    statistic = c(t = est / se), parameter = c(df = df),
    p.value = 2 * stats::pt(-abs(est / se), df), conf.int = conf_int,
    method = sprintf("Difference in differences: %s regression interval, %s bootstrap",
                     if (is.null(cl)) "OLS" else "HC1 cluster-robust",
                     if (type == "cluster") "cluster" else "iid (row)"),
    t = matrix(replicates, ncol = 1L, dimnames = list(NULL, did_name)), t0 = stats::setNames(est, did_name),
    R = as.integer(R), seed = seed, L = L, type = type, resample = type, ci = ci, level = level,
    boot_se = stats::sd(t_ok), bias = mean(t_ok) - est, acceleration = a,
    z0 = stats::qnorm(sum(t_ok < est) / length(t_ok)), failed = failed,
    coefficients = tab, vcov_type = if (is.null(cl)) "OLS" else "HC1", cells = cells,
    levels = list(group = grp$levels, period = per$levels),
    names = list(outcome = outcome, group = group, period = period, cluster = cluster,
                 covariates = covariates),
    nobs = length(mc$y), n_clusters = n_cl,
    fixed_effects = if (!is.null(units)) fixed_effects, singletons = singletons), class = "did_boot")
  if (y_scale != 1) {
    for (el in c("estimate", "std.error", "conf.int", "t", "t0", "L", "boot_se", "bias")) {
      if (!is.null(out[[el]])) out[[el]] <- out[[el]] * y_scale
    }
    out$coefficients[, 1:2] <- out$coefficients[, 1:2] * y_scale
    out$cells$mean <- out$cells$mean * y_scale
  }
  out$boot_ci <- boot_intervals(out, ci, level)
  out
}

## fe: the unit ids of a two-way fixed-effects DiD (NULL without
## `fixed_effects`), checked: a column name, no missing values, the cluster
## bootstrap (the demeaning is exact only when whole units are resampled).
did_units <- function(data, fixed_effects, cluster, type) {
  if (is.null(fixed_effects)) return(NULL)
  if (!is.character(fixed_effects) || length(fixed_effects) != 1L || is.na(fixed_effects)) {
    abort("`fixed_effects` must be the name of one column of unit ids, such as \"unit\".", call. = FALSE)
  }
  if (is.null(cluster) || type != "cluster") {
    abort("`fixed_effects` (the two-way fixed-effects DiD) needs the cluster bootstrap: give `cluster` (the units are nested in it) and resample = \"cluster\".",
          call. = FALSE)
  }
  u <- data_column(data, fixed_effects, "fixed_effects")
  check_no_missing(u, "fixed_effects")
  u
}

## fe: demeans the columns of `mc` within units (one exact pass), after
## dropping units with one row; checks that units are nested in the
## clusters. Returns the new `mc`, the rows kept, the singletons and k.
did_absorb_units <- function(mc, units, cl_values, threads) {
  fc <- fixef_codes(list(unit = units))
  keep <- fc$keep
  if (!is.null(keep)) {
    mc <- subset_model_columns(mc, keep)
    cl_values <- cl_values[keep]
  }
  cl <- cluster_codes(cl_values)
  if (!cpp_nested_in(fc$codes[[1L]], cl$codes, fc$levels[[1L]])) {
    abort("`fixed_effects`: some units lie in more than one cluster; the two-way fixed-effects DiD needs every unit within one cluster (cluster by the unit, or by a coarser id that contains it).",
          call. = FALSE)
  }
  res <- cpp_demean(c(mc$columns, list(mc$y)), fc$codes, fc$levels, NULL, 1e-10, 1L, threads)
  m <- length(res$columns)
  cols <- res$columns
  for (j in seq_len(m - 1L)) if (res$left[j] <= 1e-7 * res$spread[j]) cols[[j]] <- numeric(length(mc$y))
  mc$columns <- stats::setNames(cols[-m], names(mc$columns))
  mc$y <- cols[[m]]
  mc$intercept <- FALSE
  list(mc = mc, keep = if (is.null(keep)) seq_along(units) else keep, singletons = fc$singletons,
       k = list(k = 1L, k_full = fc$levels[[1L]], nested = c(unit = TRUE), redundant = c(unit = 0L)))
}

## The two values of a group or period column, and which rows hold the
## second ("treated" or "post"): see did_boot()'s documentation for the rule.
did_levels <- function(x, arg, column, roles, baseline = NULL, baseline_arg = "control",
                       role = "control group") {
  if (!is.atomic(x) || !is.null(dim(x)) || is.complex(x) || is.raw(x)) {
    abort(sprintf("`%s` column `%s` must be a vector with two values, not %s.", arg, column,
                 class(x)[1L]), call. = FALSE)
  }
  check_no_missing(x, arg)
  vals <- arm_values(x, baseline, arg, baseline_arg, role)
  if (length(vals) != 2L) {
    shown <- trimws(format(vals[seq_len(min(6L, length(vals)))]))
    abort(sprintf("`%s` column `%s` must have exactly two levels (%s and %s), but has %d: %s%s.",
                 arg, column, roles[1L], roles[2L], length(vals),
                 paste0('"', shown, '"', collapse = ", "), if (length(vals) > 6L) ", ..." else ""),
         call. = FALSE)
  }
  list(second = x == vals[2L], levels = stats::setNames(as.character(vals), roles))
}

## The covariate columns, checked: named columns of `data`, no missing values.
did_covariates <- function(data, covariates, taken) {
  if (is.null(covariates)) return(list())
  if (!is.character(covariates) || anyNA(covariates) || !length(covariates)) {
    abort("`covariates` must be a character vector of column names, such as c(\"age\", \"region\").",
         call. = FALSE)
  }
  cols <- lapply(stats::setNames(covariates, covariates), function(v) {
    x <- data_column(data, v, "covariates")
    k <- sum(is.na(x))
    if (k > 0L) {
      abort(sprintf("covariate `%s` has %d missing value%s; drop those rows first.", v, k,
                   if (k == 1L) "" else "s"), call. = FALSE)
    }
    x
  })
  bad <- intersect(covariates, taken)
  if (length(bad)) {
    abort(sprintf("`covariates` must not include the outcome, group or period column (%s).",
                 paste0("`", bad, "`", collapse = ", ")), call. = FALSE)
  }
  cols
}

check_cells <- function(cell, group_levels, period_levels) {
  counts <- tabulate(cell + 1L, 4L)
  if (any(counts == 0L)) {
    empty <- which(counts == 0L) - 1L
    labels <- sprintf("%s = \"%s\", %s = \"%s\"", "group", group_levels[empty %/% 2L + 1L],
                      "period", period_levels[empty %% 2L + 1L])
    abort(sprintf("the 2x2 cell%s %s %s no rows; a difference in differences needs rows in all four cells of `group` and `period` (are they different columns, and does `data` hold both periods of both groups?).",
                 if (length(empty) > 1L) "s" else "", paste(labels, collapse = " and "),
                 if (length(empty) > 1L) "have" else "has"), call. = FALSE)
  }
}

## Each cluster must lie in one group, and each group needs two clusters.
check_cluster_groups <- function(cl, cl_values, grp) {
  first_group <- grp$second[cl$first]
  mixed <- grp$second != first_group[cl$codes + 1L]
  if (any(mixed)) {
    bad <- unique(cl$codes[mixed]) + 1L
    abort(sprintf("`group` varies within %d cluster%s (e.g. cluster \"%s\"); each cluster must belong to one group. Cluster by the unit that was assigned to a group, or fix the group of those rows.",
                 length(bad), if (length(bad) > 1L) "s" else "",
                 format(cl_values[cl$first[bad[1L]]])), call. = FALSE)
  }
  per_group <- tabulate(first_group + 1L, 2L)
  if (any(per_group < 2L)) {
    abort(sprintf("each group needs at least 2 clusters for cluster-robust intervals and the cluster bootstrap; %s has %d and %s has %d.",
                 grp$levels[["control"]], per_group[1L], grp$levels[["treated"]], per_group[2L]),
         call. = FALSE)
  }
}

## Least squares with the usual (iid) covariance from the statistics of all
## rows, as lm() and vcov(lm()).
classical_fit <- function(stats) {
  des <- stats_design(stats)
  q <- length(stats$z_names)
  kept <- des$design[!des$sol$aliased]
  k <- length(kept)
  n <- stats$nobs
  if (n - k <= 0) {
    abort(sprintf("the model has no residual degrees of freedom (%d rows, %d coefficients); use fewer `covariates` (a factor or character covariate adds a coefficient per level) or more rows.",
                  as.integer(n), as.integer(k)), call. = FALSE)
  }
  beta <- des$sol$coef
  rss <- des$S[q, q] - sum(beta * des$S[kept + 1L, q])
  V <- max(rss, 0) / (n - k) * des$sol$bread
  dimnames(V) <- list(des$coef_names[!des$sol$aliased], des$coef_names[!des$sol$aliased])
  beta[1L] <- beta[1L] + des$shift[q] - sum(des$shift[kept[-1L] + 1L] * beta[-1L])
  V <- uncentre_vcov(V, TRUE, des$shift[kept[-1L] + 1L])
  coefs <- stats::setNames(rep(NA_real_, length(des$design)), des$coef_names)
  coefs[!des$sol$aliased] <- beta
  list(coefficients = coefs, vcov = V, df.residual = n - k)
}

## The regression's coefficient table (lmtest's columns).
coef_table <- function(fit) {
  est <- fit$coefficients[!is.na(fit$coefficients)]
  se <- sqrt(diag(fit$vcov))[names(est)]
  tval <- est / se
  out <- cbind(est, se, tval, 2 * stats::pt(-abs(tval), fit$df.residual))
  colnames(out) <- c("Estimate", "Std. Error", "t value", "Pr(>|t|)")
  out
}

## boot:::norm.inter(): quantiles of the finite replicates at probabilities
## alpha, interpolating order statistics on the normal scale.
boot_quantile <- function(t, alpha) {
  t <- t[is.finite(t)]
  R <- length(t)
  rk <- (R + 1) * alpha
  if (!all(rk > 1 & rk < R)) {
    warn("extreme order statistics used as endpoints; increase `R`.", call. = FALSE)
  }
  k <- trunc(rk)
  out <- numeric(length(alpha))
  inner <- k[k > 0 & k < R]
  tstar <- sort(t, partial = sort(union(c(1, R), c(inner, inner + 1))))
  exact <- k == rk
  out[exact] <- tstar[k[exact]]
  out[k == 0] <- tstar[1L]
  out[k == R] <- tstar[R]
  mid <- !exact & k != 0 & k != R
  if (any(mid)) {
    lo <- stats::qnorm(k[mid] / (R + 1))
    hi <- stats::qnorm((k[mid] + 1) / (R + 1))
    out[mid] <- tstar[k[mid]] + (stats::qnorm(alpha[mid]) - lo) / (hi - lo) *
      (tstar[k[mid] + 1L] - tstar[k[mid]])
  }
  out
}

## The bootstrap intervals of a did_boot result at `level`, as boot.ci()'s
## "perc", "bca" and "norm" (one row each).
boot_intervals <- function(x, ci, level) {
  t <- x$t[, 1L]
  t <- t[!is.na(t)]
  t0 <- x$t0[[1L]]
  ## huge or tiny replicates: work on t / s (s a power of two, exact)
  s <- outcome_scale(c(t, t0))
  if (s != 1) {
    x$t <- x$t / s
    x$t0 <- x$t0 / s
    return(boot_intervals(x, ci, level) * s)
  }
  alpha <- (1 + c(-level, level)) / 2
  out <- matrix(NA_real_, length(ci), 2L, dimnames = list(ci, c("lower", "upper")))
  for (type in ci) {
    out[type, ] <- switch(type,
      perc = boot_quantile(t, alpha),
      norm = t0 - (mean(t) - t0) + c(-1, 1) * stats::sd(t) * stats::qnorm((1 + level) / 2),
      bca = {
        w <- stats::qnorm(sum(t < t0) / length(t))
        a <- x$acceleration
        if (!is.finite(w) || !is.finite(a)) {
          warn(if (!is.finite(w)) "the BCa interval is not available: the estimate lies outside the bootstrap replicates (bias correction infinite)."
                  else "the BCa interval is not available: a leave-one-out estimate is not estimable, so the acceleration is undefined.",
                  call. = FALSE)
          c(NA_real_, NA_real_)
        } else {
          z <- w + stats::qnorm(alpha)
          boot_quantile(t, stats::pnorm(w + z / (1 - a * z)))
        }
      })
  }
  out
}

interval_labels <- c(perc = "bootstrap percentile", bca = "bootstrap BCa",
                     norm = "bootstrap normal")

#' @export
print.did_boot <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("\nDifference in differences (2x2)\n\n")
  lv <- x$levels
  cat(sprintf("outcome `%s`; group `%s`: \"%s\" (treated) vs \"%s\" (control); period `%s`: \"%s\" (post) vs \"%s\" (pre)\n",
              x$names$outcome, x$names$group, lv$group[["treated"]], lv$group[["control"]],
              x$names$period, lv$period[["post"]], lv$period[["pre"]]))
  if (length(x$names$covariates)) {
    cat(sprintf("adjusted for %s\n", paste0("`", x$names$covariates, "`", collapse = ", ")))
  }
  if (!is.null(x$fixed_effects)) {  # fe
    cat(sprintf("two-way fixed effects: unit effects of `%s` absorbed, with the period effect%s\n",
                x$fixed_effects,
                if (isTRUE(x$singletons > 0L)) sprintf("; %d singleton row(s) dropped", x$singletons) else ""))
  }
  cat(sprintf("%s rows%s\n\n", format(x$nobs, big.mark = ","),
              if (is.na(x$n_clusters)) "" else sprintf(" in %s clusters (`%s`)",
                                                      format(x$n_clusters, big.mark = ","),
                                                      x$names$cluster)))
  means <- matrix(x$cells$mean, 2L, 2L, byrow = TRUE,
                  dimnames = list(paste0(x$names$group, " = ", lv$group),
                                  paste0(x$names$period, " = ", lv$period)))
  cat("Cell means:\n")
  print(signif(means, digits))
  cat(sprintf("\nEstimate (%s): %s\n\n", names(x$estimate), format(signif(x$estimate, digits))))
  tab <- interval_table(x)
  shown <- data.frame(interval = rownames(tab), lower = format(signif(tab[, 1L], digits)),
                      upper = format(signif(tab[, 2L], digits)), stringsAsFactors = FALSE)
  cat(sprintf("%g%% confidence intervals:\n", 100 * x$level))
  print(shown, row.names = FALSE, right = FALSE)
  cat(sprintf("\nRegression: %s standard error %s, t = %s on %s df (%s), p-value %s\n",
              x$vcov_type, format(signif(x$std.error, digits)),
              format(signif(x$statistic, digits)), format(x$parameter, big.mark = ","),
              if (is.na(x$n_clusters)) "n - p" else sprintf("G - 1, %s clusters",
                                                            format(x$n_clusters, big.mark = ",")),
              format.pval(x$p.value, digits = digits)))
  cat(sprintf("Bootstrap: %s replicates resampling %s; standard error %s, bias %s%s\n\n",
              format(x$R, big.mark = ","), if (x$type == "cluster") "clusters" else "rows",
              format(signif(x$boot_se, digits)), format(signif(x$bias, digits)),
              if (x$failed) sprintf(" (%d replicates left out)", x$failed) else ""))
  invisible(x)
}

## Regression and bootstrap intervals, one row each.
interval_table <- function(x, conf.level = x$level) {
  reg <- x$estimate[[1L]] + c(-1, 1) * stats::qt((1 + conf.level) / 2, x$parameter) * x$std.error
  boot <- if (conf.level == x$level) x$boot_ci else boot_intervals(x, x$ci, conf.level)
  out <- rbind(reg, boot)
  rownames(out) <- c(sprintf("regression (%s)", x$vcov_type), interval_labels[x$ci])
  out
}

#' Summarise, tidy and plot a did_boot result
#'
#' @param object,x A [did_boot()] result.
#' @param parm Ignored (there is one parameter, the difference in differences).
#' @param level Confidence level; by default the level of the call.
#' @param conf.level As `level`, for `tidy()`.
#' @param interval For `plot()`, the bootstrap interval to mark: one of the
#'   intervals computed (`"perc"`, `"bca"` or `"norm"`).
#' @param digits Number of significant digits to print.
#' @param ... Ignored by `summary()`, `confint()`, `tidy()` and `glance()`;
#'   passed to [graphics::plot()] by `plot()`.
#' @return `summary()`: an object of class `summary.did_boot` (the result
#'   plus the regression's coefficient table), which prints both.
#'   `confint()`: a matrix with one row per interval (the regression first,
#'   then the bootstrap intervals) and columns named like [confint()]'s.
#'   `tidy()`: a data frame with one row per interval and broom's columns
#'   `term`, `estimate`, `std.error` (regression or bootstrap), `statistic`
#'   and `p.value` (regression only), `conf.low`, `conf.high`, `conf.level`,
#'   `method`. `glance()`: one row with the regression's `estimate`,
#'   `std.error`, `statistic`, `p.value`, `parameter` (df), `conf.low`,
#'   `conf.high`, `conf.level`, `method`, `nobs`, `n.clusters`, `R` and
#'   `failed`. `as.data.frame()`: `tidy()`'s table. `plot()`: invisibly,
#'   what was drawn (see [plot.randomization_test()]); draws the
#'   distribution of the replicates with the estimate and the interval
#'   marked.
#' @name did_boot_methods
NULL

#' @rdname did_boot_methods
#' @export
summary.did_boot <- function(object, ...) {
  structure(list(result = object), class = "summary.did_boot")
}

#' @rdname did_boot_methods
#' @export
print.summary.did_boot <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  print(x$result, digits = digits)
  cat(sprintf("Regression coefficients (%s standard errors, t tests on %s df%s):\n",
              x$result$vcov_type, format(x$result$parameter),
              if (is.na(x$result$n_clusters)) "" else
                sprintf(", G - 1 with %s clusters", format(x$result$n_clusters, big.mark = ","))))
  stats::printCoefmat(x$result$coefficients, digits = digits)
  cat("\n")
  invisible(x)
}

#' @rdname did_boot_methods
#' @export
confint.did_boot <- function(object, parm, level = object$level, ...) {
  check_conf_level(level, "level")
  out <- interval_table(object, level)
  a <- (1 - level) / 2
  colnames(out) <- paste(format(100 * c(a, 1 - a), trim = TRUE, scientific = FALSE, digits = 3L), "%")
  out
}

#' @rdname did_boot_methods
#' @method tidy did_boot
#' @export
tidy.did_boot <- function(x, conf.level = x$level, ...) {
  check_conf_level(conf.level, "conf.level")
  tab <- confint.did_boot(x, level = conf.level)
  k <- nrow(tab)
  data.frame(term = names(x$estimate), estimate = unname(x$estimate),
             std.error = c(x$std.error, rep(x$boot_se, k - 1L)),
             statistic = c(unname(x$statistic), rep(NA_real_, k - 1L)),
             p.value = c(x$p.value, rep(NA_real_, k - 1L)),
             conf.low = unname(tab[, 1L]), conf.high = unname(tab[, 2L]),
             conf.level = conf.level, method = rownames(tab), row.names = NULL,
             stringsAsFactors = FALSE)
}

#' @rdname did_boot_methods
#' @method glance did_boot
#' @export
glance.did_boot <- function(x, ...) {
  data.frame(estimate = unname(x$estimate), std.error = x$std.error,
             statistic = unname(x$statistic), p.value = x$p.value,
             parameter = unname(x$parameter), conf.low = x$conf.int[1L],
             conf.high = x$conf.int[2L], conf.level = x$level, method = x$method,
             nobs = x$nobs, n.clusters = x$n_clusters, R = x$R, failed = x$failed,
             stringsAsFactors = FALSE)
}

#' @rdname did_boot_methods
#' @param row.names,optional As [as.data.frame()]; `optional` is ignored.
#' @export
as.data.frame.did_boot <- function(x, row.names = NULL, optional = FALSE, ...) {
  result_frame(tidy(x), row.names)
}

#' @rdname did_boot_methods
#' @export
plot.did_boot <- function(x, interval = x$ci[1L], ...) {
  if (!is.character(interval) || length(interval) != 1L || !interval %in% x$ci) {
    abort(sprintf("`interval` must be one of the intervals computed: %s.",
                 paste0('"', x$ci, '"', collapse = ", ")), call. = FALSE)
  }
  plot_replicates(x$t[, 1L], x$t0[[1L]], ci = x$boot_ci[interval, ],
                  main = sprintf("Bootstrap of the difference in differences (%s)",
                                 interval_labels[[interval]]),
                  xlab = names(x$t0), ...)
}
