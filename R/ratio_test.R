#' @title Tests for ratio-of-sums metrics (conversions per session and the like)
#'
#' @description
#' `ratio_test()` compares a ratio metric such as conversions per session,
#' revenue per order or clicks per impression between the groups of an
#' experiment randomised by unit (user). Each row of `data` is one unit; the
#' metric of a group is
#' \deqn{r_g = \sum_{i \in g} x_i / \sum_{i \in g} y_i}{r_g = sum(x_i) / sum(y_i)}
#' (the ratio of sums, not the mean of per-unit ratios), with \eqn{x} the
#' numerator and \eqn{y} the denominator. Each group other than `control` is
#' compared with the control: the absolute difference \eqn{r_g - r_c} and
#' the relative lift \eqn{r_g / r_c - 1}, each with a confidence interval,
#' and a p-value for "no difference".
#'
#' @section Delta method:
#' With \eqn{n} units in a group, \eqn{\bar x, \bar y}{xbar, ybar} the means,
#' \eqn{s_x^2, s_y^2, s_{xy}}{s_x^2, s_y^2, s_xy} the sample variances and
#' covariance (divisor \eqn{n - 1})
#' of the per-unit numerators and denominators, the variance of the group
#' ratio is the one GrowthBook's engine (gbstats `RatioStatistic`) uses:
#' \deqn{V = \frac{1}{n}\left(\frac{s_x^2}{\bar y^2} - 2\frac{s_{xy}\bar x}{\bar y^3}
#'   + \frac{s_y^2 \bar x^2}{\bar y^4}\right)
#'   = \frac{\sum_i (x_i - r y_i)^2}{n (n - 1) \bar y^2}}{V = (s_x^2/ybar^2 -
#'   2 s_xy xbar/ybar^3 + s_y^2 xbar^2/ybar^4) / n = sum_i (x_i - r y_i)^2 /
#'   (n (n - 1) ybar^2)}
#' (computed in the second, cancellation-free form). Groups are independent,
#' so the difference has variance \eqn{V_g + V_c}; the lift is the delta
#' method on the ratio \eqn{r_g / r_c} (not on its log), as GrowthBook:
#' \eqn{V_g / r_c^2 + V_c r_g^2 / r_c^4}. Intervals and p-values are normal
#' (z), not GrowthBook's Welch t, since the units number in the thousands in
#' the experiments this is meant for. The p-value tests the difference.
#'
#' @section Bootstrap:
#' Units are resampled with replacement within each group (the group sizes
#' stay fixed, as in `boot::boot(strata = group)`); each replicate computes
#' every group's ratio and from them the differences (`$t`) and lifts. The
#' p-value is \eqn{(1 + \#\{|t^* - \hat t| \ge |\hat t|\}) / (R + 1)}{(1 +
#' #{|t* - t0| >= |t0|}) / (R + 1)} from the centred bootstrap distribution (one-sided versions count one
#' tail). Percentile intervals take the \eqn{(R + 1)\alpha}-th order
#' statistics (`quantile(type = 6)`). BCa intervals take the bias correction
#' \eqn{z_0 = \Phi^{-1}(\#\{t^* < \hat t\} / R)}{z0 = qnorm(#{t* < t0} / R)}
#' and the acceleration from the analytic influence values of the ratios,
#' \eqn{l_i = (x_i - r y_i) / \bar y}{l_i = (x_i - r y_i) / ybar}, as
#' \eqn{a = \sum_g n_g^{-3} \sum_i l_i^3 / (6 (\sum_g n_g^{-2}
#' \sum_i l_i^2)^{3/2})}{a = sum_g n_g^-3 sum_i l_i^3 / (6 (sum_g n_g^-2
#' sum_i l_i^2)^(3/2))} (Davison and Hinkley, 1997, for several samples;
#' this is `boot.ci()`'s formula when the groups have equal sizes). No
#' jackknife or regression on the replicates is needed, so BCa works with
#' fewer replicates than units, where `boot::boot.ci()` fails.
#'
#' Units that share the same (numerator, denominator) pair, such as 0/1
#' conversions over 1 to 20 sessions, are collapsed into cells with counts,
#' and a replicate draws the multinomial over cells (sequential binomials):
#' exactly the unit bootstrap in distribution, at a cost per replicate
#' proportional to the number of cells instead of units. This is used for a
#' group when it has at most an eighth as many cells as units; otherwise
#' units are drawn one by one. Each replicate draws from its own random
#' stream keyed by a seed from R's RNG and the replicate's index, so
#' `set.seed()` reproduces the result exactly, whatever `threads`.
#'
#' @section Means and proportions (no denominator):
#' With `denominator = NULL` every unit's denominator is 1, so the ratio of
#' a group is the mean of `numerator` (a proportion for a 0/1 or logical
#' numerator) and the delta-method variance reduces to \eqn{s^2 / n}. The
#' delta-method test is then the two-sample z test with unequal variances:
#' its statistic is exactly Welch's t statistic
#' (`t.test(x_g, x_c)$statistic`), referred to the normal distribution
#' rather than Welch's t, and its interval is \eqn{\bar x_g - \bar x_c \pm
#' z_{1-\alpha/2} \sqrt{s_g^2/n_g + s_c^2/n_c}}{xbar_g - xbar_c +-
#' z sqrt(s_g^2/n_g + s_c^2/n_c)}. For a proportion, \eqn{s^2 = n \hat p (1 -
#' \hat p) / (n - 1)}, the unpooled variance (not `prop.test()`'s pooled
#' one). The bootstrap resamples the units as before.
#'
#' @section Replicates and memory:
#' The bootstrap needs `R` of at least 2 (for a standard error; intervals
#' need about 1000). It keeps, per replicate, every group's ratio and each
#' comparison's difference and lift: a run that would need more than
#' `getOption("clusterab.max_memory", 4e9)` bytes (8 bytes per number) is
#' refused before it starts, with the figure; lower `R`.
#'
#' @section Zero denominators and other inputs:
#' Units with a zero denominator (users with no sessions) are kept: they
#' count in \eqn{n}, add their numerator (normally 0) to the numerator sum
#' and nothing to the denominator sum; dropping them would condition on a
#' post-randomisation outcome. A group whose denominators sum to zero has no
#' ratio and is an error. A bootstrap replicate whose resampled denominators
#' of some group are all zero has no ratio either: its value is `NaN` in
#' `$t`, it is left out of intervals and p-values, and a warning gives the
#' count. Negative denominators are an error; negative numerators (revenue
#' net of refunds) are allowed. Missing or infinite values are errors naming
#' the count. The lift is `NA` when the control ratio is zero; a replicate
#' whose resampled control ratio is zero has no lift and is left out of the
#' lift's interval. When every unit has the same ratio (a constant
#' numerator of 0, say) every difference has standard error 0 and no test:
#' an error; when only some comparisons are so, a warning and `NA` for
#' their statistics and p-values. Huge or tiny numerators, denominators and
#' group ratios (beyond 1e+-100) are divided by powers of two before
#' anything is squared, so results do not depend on the units, and
#' bootstrap p-values count a replicate that ties with the observed
#' difference within a relative 1e-9.
#'
#' @param data A data frame or data.table, one row per unit.
#' @param numerator Name of the numerator column (a string): numeric or
#'   logical, such as conversions or revenue per user.
#' @param denominator Name of the denominator column (a string): numeric,
#'   not negative, such as sessions per user; or `NULL` (the default) to
#'   compare the means (proportions) of `numerator`: see the section on
#'   means.
#' @param group Name of the column with each unit's group (a string).
#' @param method `"delta"` (analytic) or `"bootstrap"`.
#' @param R Number of bootstrap replicates (used by `method = "bootstrap"`),
#'   at least 2.
#' @param control The control group, one of the values of the `group`
#'   column. By default: a factor's first level; `FALSE`; 0 (for 0/1, ...);
#'   the one common control label among the values (case-insensitively
#'   control, ctrl, baseline, base, A, ...); otherwise the first sorted value,
#'   with a message of class `clusterab_baseline_choice` naming it.
#' @param ci Bootstrap interval: `"perc"` (percentile) or `"bca"`.
#' @param conf.level Confidence level of the intervals.
#' @param alternative `"two.sided"`, `"less"` or `"greater"` (each group
#'   minus the control).
#' @param threads Number of threads for the bootstrap; by default
#'   `getOption("clusterab.threads")`, else RcppParallel's default.
#' @param progress Show a progress bar on long bootstrap runs; by default
#'   `getOption("clusterab.progress", interactive())`.
#' @return A list of class `"ratio_test"` with
#'   * `comparisons`: a data frame, one row per comparison, with columns
#'     `group`, `control`, `estimate` (the difference), `std.error`, `lift`,
#'     `lift.std.error`, `conf.low`, `conf.high`, `lift.conf.low`,
#'     `lift.conf.high`, `statistic` (z; `NA` for the bootstrap) and
#'     `p.value`. The standard errors of the bootstrap are the standard
#'     deviations of the replicates.
#'   * `groups`: per group `group`, `n` (units), `numerator` and
#'     `denominator` (sums), `ratio`, `std.error` (delta method) and, for the
#'     bootstrap, `resampling` (`"cells"` or `"units"`) and `cells`.
#'   * `tests`: one `htest` object per comparison (`estimate`, `statistic`,
#'     `p.value`, `conf.int` with attribute `conf.level`, `stderr`,
#'     `null.value`, `alternative`, `method`, `data.name`).
#'   * `estimate`, `lift`, `p.value` (named by comparison, "B - A"),
#'     `conf.int` (a matrix, one row per comparison, attribute
#'     `conf.level`), `method`, `type` (`"delta"` or `"bootstrap"`), `ci`,
#'     `conf.level`, `alternative`, `control`, `data.name`.
#'   * `t0`: the observed differences; for the bootstrap also `t` (an
#'     `R` x comparisons matrix of replicate differences), `t_lift` and
#'     `t0_lift` (the same for the lift), `acceleration` (BCa's \eqn{a} per
#'     comparison, for the difference and the lift), `R` and `seed`.
#'
#'   Methods: `print()`, `summary()`, `tidy()`, `glance()`,
#'   `as.data.frame()`, `confint()` (any level, for the difference or the
#'   lift) and, for the bootstrap, `plot()`.
#' @references Davison, A. C. and Hinkley, D. V. (1997). *Bootstrap Methods
#'   and their Application*. Cambridge University Press.
#' @examples
#' set.seed(1)
#' n <- 4000
#' d <- data.frame(variant = rep(c("A", "B"), each = n / 2),
#'                 sessions = rpois(n, 3) + 1)
#' d$conversions <- rbinom(n, d$sessions, ifelse(d$variant == "B", 0.055, 0.05))
#' ratio_test(d, "conversions", "sessions", "variant")
#' res <- ratio_test(d, "conversions", "sessions", "variant",
#'                   method = "bootstrap", R = 1000, ci = "bca", threads = 1)
#' tidy(res)
#' confint(res, type = "lift")
#' glance(res)
#' ## a proportion: conversion per user (no denominator)
#' d$converted <- d$conversions > 0
#' ratio_test(d, "converted", group = "variant")
#' @export
ratio_test <- function(data, numerator, denominator = NULL, group, method = c("delta", "bootstrap"),
                       R = 2000, control = NULL, ci = c("perc", "bca"), conf.level = 0.95,
                       alternative = c("two.sided", "less", "greater"), threads = NULL,
                       progress = NULL) {
  method <- arg_match(method, c("delta", "bootstrap"), what = "method")
  ci <- arg_match(ci, c("perc", "bca"), what = "ci")
  alternative <- arg_match(alternative, c("two.sided", "less", "greater"), what = "alternative")
  check_conf_level(conf.level, "conf.level")
  if (method == "bootstrap") {
    R <- check_replicates(R, min = 2)
    threads <- resolve_threads(threads)
  }
  units <- ratio_units(data, numerator, denominator, group, control)
  if (method == "bootstrap") {
    K <- length(units$levels)
    check_replicate_memory(R, K + 2 * (K - 1))
  }
  stats <- ratio_group_stats(units$cells, units$levels)
  comp <- ratio_delta(stats, units$control, conf.level, alternative)
  out <- list(comparisons = comp, groups = stats[c("group", "n", "numerator", "denominator",
                                                   "ratio", "std.error")],
              type = method, ci = if (method == "bootstrap") ci else NA_character_,
              conf.level = conf.level, alternative = alternative,
              control = units$levels[units$control],
              data.name = if (is.null(denominator)) sprintf("mean of %s by %s", numerator, group)
                          else sprintf("%s / %s by %s", numerator, denominator, group),
              t0 = stats::setNames(comp$estimate, ratio_comparison_names(comp)))
  what <- if (is.null(denominator)) "a mean" else "a ratio of sums"
  if (method == "delta") {
    out$method <- if (is.null(denominator)) "Two-sample z test of means, unequal variances (delta method)"
                  else "Delta-method z test for a ratio of sums"
  } else {
    out$method <- sprintf("Bootstrap of %s, units resampled within group (%s interval)",
                          what, if (ci == "perc") "percentile" else "BCa")
    out <- ratio_bootstrap(out, units, stats, R, threads, progress)
  }
  ratio_finish(ratio_unscale(out, units$scale))
}

## The columns of `data`, checked; the units sorted by group, numerator and
## denominator, and collapsed to cells: one per distinct (group, numerator,
## denominator) with its count. The order depends on the data only (not on
## the row order), and so do the bootstrap draws.
ratio_units <- function(data, numerator, denominator, group, control) {
  if (!is.data.frame(data)) {
    abort(sprintf("`data` must be a data frame or a data.table, not %s.", class(data)[1L]),
         call. = FALSE)
  }
  if (nrow(data) == 0L) abort("`data` has no rows.")
  x <- ratio_column(data, numerator, "numerator")
  y <- if (is.null(denominator)) rep(1, length(x)) else ratio_column(data, denominator, "denominator")
  g <- data_column(data, group, "group")
  check_no_missing(g, "group")
  if (!is.atomic(g) || is.complex(g) || is.raw(g)) {
    abort(sprintf("`group` column '%s' must be a vector of group labels, not %s.", group,
                  class(g)[1L]))
  }
  if (any(y < 0)) {
    abort(sprintf("`denominator` column '%s' has %d negative value%s; a denominator counts sessions, orders or exposure and cannot be negative.",
                 denominator, sum(y < 0), if (sum(y < 0) == 1L) "" else "s"), call. = FALSE)
  }
  if (length(unique(g)) < 2L) {
    abort(sprintf("`group` column '%s' has a single group ('%s'); a comparison needs a control and at least one other group.",
                 group, format(g[1L])), call. = FALSE)
  }
  if (!is.null(control) && (length(control) != 1L || is.na(control) ||
                            !as.character(control) %in% as.character(unique(g)))) {
    shown <- as.character(arm_values(g))
    shown <- shown[seq_len(min(10L, length(shown)))]
    abort(sprintf("`control` must be one of the groups in column '%s': %s.", group,
                 paste(shown, collapse = ", ")), call. = FALSE)
  }
  ## huge or tiny values: divide by powers of two (exact), see ratio_unscale()
  scale <- c(numerator = outcome_scale(x), denominator = outcome_scale(y))
  x <- x / scale[["numerator"]]
  y <- y / scale[["denominator"]]
  ## the control first, by the package's one rule (explicit, factor order,
  ## FALSE/0, common labels, else sorted with a message)
  levels <- as.character(arm_values(g, control, "group", "control", "control group"))
  code <- match(as.character(g), levels)
  control <- 1L
  ## Sorting by (group, numerator, denominator) puts equal units next to
  ## each other; each run is a cell.
  n <- length(code)
  o <- order(code, x, y, method = "radix")
  units <- list(g = code[o], x = x[o], y = y[o])
  new <- c(TRUE, units$g[-1L] != units$g[-n] | units$x[-1L] != units$x[-n] |
             units$y[-1L] != units$y[-n])
  first <- which(new)
  cells <- list(g = units$g[first], x = units$x[first], y = units$y[first],
                count = diff(c(first, n + 1L)))
  list(cells = cells, units = units, levels = levels, control = control, scale = scale)
}

## Huge or tiny numerators or denominators were divided by powers of two
## (exact) so that squares neither overflow nor underflow: give the results
## back in the data's units. Lifts, statistics and p-values do not change.
ratio_unscale <- function(out, scale) {
  k <- scale[["numerator"]] / scale[["denominator"]]
  if (k == 1 && all(scale == 1)) return(out)
  for (col in c("estimate", "std.error", "conf.low", "conf.high")) {
    out$comparisons[[col]] <- out$comparisons[[col]] * k
  }
  out$groups$numerator <- out$groups$numerator * scale[["numerator"]]
  out$groups$denominator <- out$groups$denominator * scale[["denominator"]]
  out$groups$ratio <- out$groups$ratio * k
  out$groups$std.error <- out$groups$std.error * k
  out$t0 <- out$t0 * k
  if (!is.null(out$t)) out$t <- out$t * k
  out
}

## A numeric (or logical) column without missing or infinite values.
ratio_column <- function(data, name, arg) {
  v <- data_column(data, name, arg)
  if (is.logical(v)) v <- as.double(v)
  if (!is.numeric(v)) {
    abort(sprintf("`%s` column '%s' must be numeric or logical, not %s; convert it with as.numeric().",
                 arg, name, class(v)[1L]), call. = FALSE)
  }
  check_no_missing(v, arg)
  k <- sum(!is.finite(v))
  if (k > 0L) {
    abort(sprintf("`%s` column '%s' has %d infinite value%s; drop or fix those rows.",
                 arg, name, k, if (k == 1L) "" else "s"), call. = FALSE)
  }
  as.double(v)
}

## Per-group sums, ratio, delta-method variance and the sums of powers of the
## influence values l_i = (x_i - r y_i) / ybar that the BCa acceleration needs.
ratio_group_stats <- function(cells, levels) {
  g <- cells$g
  w <- cells$count
  sum_by <- function(v) as.vector(rowsum(v, g, reorder = TRUE))  # every group has rows
  n <- sum_by(w)
  sx <- sum_by(w * cells$x)
  sy <- sum_by(w * cells$y)
  bad <- which(sy == 0)
  if (length(bad) > 0L) {
    abort(sprintf("the denominators of group%s %s sum to zero, so %s no ratio; drop %s or check `denominator`.",
                 if (length(bad) == 1L) "" else "s", paste0("'", levels[bad], "'", collapse = ", "),
                 if (length(bad) == 1L) "it has" else "they have",
                 if (length(bad) == 1L) "that group" else "those groups"), call. = FALSE)
  }
  small <- which(n < 2)
  if (length(small) > 0L) {
    abort(sprintf("group '%s' has a single unit (row of `data`); every group of `group` needs at least 2 units for a variance.",
                 levels[small[1L]]), call. = FALSE)
  }
  r <- sx / sy
  ybar <- sy / n
  l <- (cells$x - r[g] * cells$y) / ybar[g]
  ## Groups may differ in scale by far more than the data's columns do (one
  ## huge denominator): the influence values of each group are divided by a
  ## power of two of their own (1 for ordinary data) before they are squared.
  ## `l_scale` keeps it; s2 and s3 are the sums of the scaled powers.
  l_scale <- vapply(seq_along(levels), function(k) outcome_scale(l[g == k]), 0)
  ls <- l / l_scale[g]
  s2 <- sum_by(w * ls^2)
  s3 <- sum_by(w * ls^3)
  data.frame(group = levels, n = n, numerator = sx, denominator = sy, ratio = r,
             std.error = l_scale * sqrt(s2 / (n * (n - 1))), s2 = s2, s3 = s3,
             l_scale = l_scale, stringsAsFactors = FALSE)
}

## sqrt(a^2 + b^2) without overflow or underflow of the squares: a and b are
## divided by a power of two (1 for ordinary values, so those are exact).
scaled_hypot <- function(a, b) {
  m <- pmax(abs(a), abs(b))
  s <- vapply(m, outcome_scale, 0)
  s * sqrt((a / s)^2 + (b / s)^2)
}

## sd() of finite values whose squares might overflow or underflow.
scaled_sd <- function(v) {
  s <- outcome_scale(v)
  s * stats::sd(v / s)
}

## Delta-method comparisons of every group with the control.
ratio_delta <- function(stats, control, level, alternative) {
  others <- setdiff(seq_len(nrow(stats)), control)
  rc <- stats$ratio[control]
  sc <- stats$std.error[control]
  rg <- stats$ratio[others]
  sg <- stats$std.error[others]
  est <- rg - rc
  ## sqrt(vg + vc) and sqrt(vg / rc^2 + vc rg^2 / rc^4), without squaring
  ## standard errors that may be huge or tiny
  se <- scaled_hypot(sg, sc)
  lift <- if (rc != 0) rg / rc - 1 else rep(NA_real_, length(others))
  lift_se <- if (rc != 0) scaled_hypot(sg / rc, sc * (rg / rc) / rc) else rep(NA_real_, length(others))
  z <- est / se
  if (all(se == 0)) {
    abort(sprintf("the standard error of every difference is zero: every unit has the same `numerator` / `denominator` ratio (%s), so no z statistic, p-value or interval is defined.",
                  format(rc)), call. = FALSE)
  }
  if (any(se == 0)) {
    warn("the standard error of a difference is zero (every unit has the same numerator / denominator ratio); its z statistic and p-value are undefined.",
            call. = FALSE)
    z[se == 0] <- NA_real_
  }
  p <- switch(alternative,
              two.sided = 2 * stats::pnorm(-abs(z)),
              less = stats::pnorm(z),
              greater = stats::pnorm(z, lower.tail = FALSE))
  d_ci <- normal_interval(est, se, level, alternative)
  l_ci <- normal_interval(lift, lift_se, level, alternative)
  data.frame(group = stats$group[others], control = stats$group[control], estimate = est,
             std.error = se, lift = lift, lift.std.error = lift_se,
             conf.low = d_ci[, 1L], conf.high = d_ci[, 2L],
             lift.conf.low = l_ci[, 1L], lift.conf.high = l_ci[, 2L],
             statistic = z, p.value = p, stringsAsFactors = FALSE)
}

normal_interval <- function(est, se, level, alternative) {
  if (alternative == "two.sided") {
    q <- stats::qnorm((1 + level) / 2)
    cbind(est - q * se, est + q * se)
  } else {
    q <- stats::qnorm(level)
    if (alternative == "greater") cbind(est - q * se, Inf) else cbind(-Inf, est + q * se)
  }
}

ratio_comparison_names <- function(comp) paste(comp$group, "-", comp$control)

## Bootstrap replicates of the group ratios (C++), then the differences and
## lifts, their intervals and p-values, replacing the delta-method columns.
ratio_bootstrap <- function(out, units, stats, R, threads, progress, resample = "auto") {
  cells <- units$cells
  K <- length(units$levels)
  n_cells <- tabulate(cells$g, K)
  ## A binomial draw costs about as much as 8 unit draws (measured), so
  ## cells pay when there are at most an eighth as many as units.
  use_cells <- switch(resample, auto = n_cells * 8 <= stats$n, cells = rep(TRUE, K),
                      units = rep(FALSE, K))
  ## Entries per group: the cells, or every unit (count 1) of the groups
  ## resampled unit by unit.
  if (all(use_cells)) {
    entries <- list(g = cells$g, x = cells$x, y = cells$y, count = as.double(cells$count))
  } else {
    u <- units$units
    keep_cells <- use_cells[cells$g]
    keep_units <- !use_cells[u$g]
    g_all <- c(cells$g[keep_cells], u$g[keep_units])
    o <- order(g_all, method = "radix")
    entries <- list(g = g_all[o], x = c(cells$x[keep_cells], u$x[keep_units])[o],
                    y = c(cells$y[keep_cells], u$y[keep_units])[o],
                    count = c(as.double(cells$count[keep_cells]), rep(1, sum(keep_units)))[o])
  }
  start <- c(0L, cumsum(tabulate(entries$g, K)))
  seed <- draw_seed()
  ## About 2e7 draws per chunk: a fraction of a second between interrupt checks.
  work <- sum(ifelse(use_cells, n_cells, stats$n))
  chunk <- max(1, min(R, ceiling(2e7 / work)))
  parts <- run_chunks(R, function(begin, end) {
    cpp_ratio_boot(entries$x, entries$y, entries$count, as.integer(start), as.integer(stats$n),
                   as.integer(use_cells), seed, as.integer(begin), as.integer(end), threads)
  }, chunk = chunk, progress = progress, label = "Bootstrapping ratios")
  ratios <- do.call(rbind, parts)
  colnames(ratios) <- units$levels

  comp <- out$comparisons
  ctl <- units$control
  others <- setdiff(seq_len(K), ctl)
  nm <- ratio_comparison_names(comp)
  t <- ratios[, others, drop = FALSE] - ratios[, ctl]
  t_lift <- ratios[, others, drop = FALSE] / ratios[, ctl] - 1
  t_lift[which(!is.finite(t_lift) | ratios[, ctl] == 0)] <- NaN
  dimnames(t) <- dimnames(t_lift) <- list(NULL, nm)
  failed <- sum(!is.finite(rowSums(ratios)))
  if (failed > 0L) {
    warn(sprintf("%d of %d bootstrap replicates resampled only zero denominators in some group, so that group's ratio is undefined; they are left out (NaN in `$t`).",
                    failed, as.integer(R)), call. = FALSE)
  }
  acc <- ratio_acceleration(stats, ctl, others)
  out$t <- t
  out$t_lift <- t_lift
  out$t0_lift <- stats::setNames(comp$lift, nm)
  out$acceleration <- acc
  out$R <- R
  out$seed <- seed
  out$groups$resampling <- ifelse(use_cells, "cells", "units")
  out$groups$cells <- n_cells

  for (k in seq_along(others)) {
    d_ci <- boot_interval(t[, k], comp$estimate[k], out$conf.level, out$ci, out$alternative,
                          acc$difference[k])
    comp$conf.low[k] <- d_ci[1L]
    comp$conf.high[k] <- d_ci[2L]
    l_ci <- if (is.na(comp$lift[k])) c(NA_real_, NA_real_) else
      boot_interval(t_lift[, k], comp$lift[k], out$conf.level, out$ci, out$alternative,
                    acc$lift[k])
    comp$lift.conf.low[k] <- l_ci[1L]
    comp$lift.conf.high[k] <- l_ci[2L]
    comp$p.value[k] <- boot_p_value(t[, k], comp$estimate[k], out$alternative)
    comp$std.error[k] <- scaled_sd(t[is.finite(t[, k]), k])
    comp$lift.std.error[k] <- scaled_sd(t_lift[is.finite(t_lift[, k]), k])
  }
  comp$statistic <- NA_real_
  out$comparisons <- comp
  out
}

## BCa acceleration of each difference and lift from the influence values of
## the group ratios (several-sample formula; see ?ratio_test).
ratio_acceleration <- function(stats, ctl, others) {
  n <- stats$n
  ## s2 and s3 are sums of powers of influence values divided by l_scale; the
  ## acceleration is homogeneous of degree 0, so both weights are divided by
  ## a common power of two first
  accel <- function(scale_g, scale_c) {
    a_g <- scale_g * stats$l_scale[others] / n[others]
    a_c <- scale_c * stats$l_scale[ctl] / n[ctl]
    m <- vapply(pmax(abs(a_g), abs(a_c)), outcome_scale, 0)
    a_g <- a_g / m
    a_c <- a_c / m
    num <- a_g^3 * stats$s3[others] + a_c^3 * stats$s3[ctl]
    den <- a_g^2 * stats$s2[others] + a_c^2 * stats$s2[ctl]
    num / (6 * den^1.5)
  }
  rc <- stats$ratio[ctl]
  rg <- stats$ratio[others]
  list(difference = accel(1, -1),
       lift = if (rc != 0) accel(1 / rc, -rg / rc^2) else rep(NA_real_, length(others)))
}

## Percentile or BCa interval from the finite replicates t of a statistic
## observed as t0.
boot_interval <- function(t, t0, level, type, alternative, a) {
  t <- t[is.finite(t)]
  probs <- switch(alternative,
                  two.sided = c((1 - level) / 2, (1 + level) / 2),
                  greater = 1 - level,
                  less = level)
  if (type == "bca") {
    z0 <- stats::qnorm(mean(t < t0))
    if (!is.finite(z0) || !is.finite(a)) {
      warn("the BCa interval is undefined (every replicate lies on one side of the estimate); use ci = \"perc\" or more replicates.",
              call. = FALSE)
      return(c(NA_real_, NA_real_))
    }
    z <- stats::qnorm(probs)
    probs <- stats::pnorm(z0 + (z0 + z) / (1 - a * (z0 + z)))
  }
  q <- stats::quantile(t, probs, type = 6, names = FALSE)
  switch(alternative, two.sided = q, greater = c(q, Inf), less = c(-Inf, q))
}

## (1 + #{replicates at least as far from t0 as t0 is from 0}) / (R + 1):
## the centred bootstrap distribution stands in for the null distribution.
boot_p_value <- function(t, t0, alternative) {
  t <- t[is.finite(t)]
  centred <- t - t0
  ## a relative tolerance: a replicate that ties in exact arithmetic (such as
  ## equal ratios in both groups) counts whatever the rounding in the
  ## data's units
  tol <- 1e-9 * max(abs(t0), abs(t))
  hits <- switch(alternative,
                 two.sided = sum(abs(centred) >= abs(t0) - tol),
                 greater = sum(centred >= t0 - tol),
                 less = sum(centred <= t0 + tol))
  (1 + hits) / (length(t) + 1)
}

## The summary fields and one htest per comparison.
ratio_finish <- function(out) {
  comp <- out$comparisons
  nm <- ratio_comparison_names(comp)
  out$estimate <- stats::setNames(comp$estimate, nm)
  out$lift <- stats::setNames(comp$lift, nm)
  out$p.value <- stats::setNames(comp$p.value, nm)
  out$conf.int <- structure(cbind(comp$conf.low, comp$conf.high), dimnames = list(nm, c("lower", "upper")),
                            conf.level = out$conf.level)
  out$tests <- stats::setNames(lapply(seq_len(nrow(comp)), function(k) {
    ci <- c(comp$conf.low[k], comp$conf.high[k])
    attr(ci, "conf.level") <- out$conf.level
    structure(list(
      statistic = if (out$type == "delta") c(z = comp$statistic[k]) else NULL,
      p.value = comp$p.value[k], conf.int = ci,
      estimate = c(`difference in ratios` = comp$estimate[k]),
      null.value = c(`difference in ratios` = 0), stderr = comp$std.error[k],
      alternative = out$alternative, method = out$method,
      data.name = sprintf("%s: %s vs %s", out$data.name, comp$group[k], comp$control[k])
    ), class = "htest")
  }), nm)
  structure(out, class = "ratio_test")
}

#' @export
print.ratio_test <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("\n\t", x$method, "\n\n", sep = "")
  cat("data: ", x$data.name, "\n", sep = "")
  if (x$type == "bootstrap") {
    cat(sprintf("%d replicates; %s\n", as.integer(x$R),
                paste(sprintf("%s: %s", x$groups$group, x$groups$resampling), collapse = ", ")))
  }
  cat("\nGroups:\n")
  g <- x$groups[c("group", "n", "numerator", "denominator", "ratio", "std.error")]
  print(format(g, digits = digits), row.names = FALSE)
  side <- switch(x$alternative, two.sided = "two-sided", less = "one-sided, less",
                 greater = "one-sided, greater")
  cat(sprintf("\nEach group vs control '%s' (%g%% intervals, %s p-values):\n", x$control,
              100 * x$conf.level, side))
  comp <- x$comparisons
  shown <- data.frame(group = comp$group, difference = comp$estimate, conf.low = comp$conf.low,
                      conf.high = comp$conf.high, lift = comp$lift,
                      lift.conf.low = comp$lift.conf.low, lift.conf.high = comp$lift.conf.high,
                      p.value = format.pval(comp$p.value, digits = digits),
                      stringsAsFactors = FALSE)
  print(format(shown, digits = digits), row.names = FALSE)
  cat("\n")
  invisible(x)
}

#' Summarise a ratio test
#'
#' The printed summary adds the standard errors and, for the bootstrap, the
#' BCa acceleration and the replicates left out.
#'
#' @param object A [ratio_test()] result.
#' @param ... Ignored.
#' @return `object`, with class `"summary.ratio_test"` added in front.
#' @export
summary.ratio_test <- function(object, ...) {
  structure(object, class = c("summary.ratio_test", class(object)))
}

#' @export
print.summary.ratio_test <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  print.ratio_test(x, digits = digits)
  comp <- x$comparisons
  cat(if (x$type == "bootstrap") "Standard errors (standard deviations of the replicates):\n"
      else "Standard errors (delta method):\n")
  se <- data.frame(comparison = names(x$estimate), difference = comp$std.error,
                   lift = comp$lift.std.error, stringsAsFactors = FALSE)
  if (x$type == "delta") se$z <- comp$statistic
  if (x$type == "bootstrap") {
    se$acceleration <- x$acceleration$difference
    se$finite <- colSums(is.finite(x$t))
  }
  print(format(se, digits = digits), row.names = FALSE)
  cat("\n")
  invisible(x)
}

#' Tidy a ratio test
#'
#' @param x A [ratio_test()] result.
#' @param ... Ignored.
#' @return A data frame, one row per comparison, with columns `group`,
#'   `control`, `estimate` (the difference of ratios), `std.error`,
#'   `statistic`, `p.value`, `conf.low`, `conf.high`, `lift`,
#'   `lift.std.error`, `lift.conf.low`, `lift.conf.high`, `method` and
#'   `alternative`.
#' @method tidy ratio_test
#' @export
tidy.ratio_test <- function(x, ...) {
  comp <- x$comparisons
  data.frame(comp[c("group", "control", "estimate", "std.error", "statistic", "p.value",
                    "conf.low", "conf.high", "lift", "lift.std.error", "lift.conf.low",
                    "lift.conf.high")],
             method = x$method, alternative = x$alternative, stringsAsFactors = FALSE)
}

#' Glance at a ratio test
#'
#' @param x A [ratio_test()] result.
#' @param ... Ignored.
#' @return A one-row data frame: `method`, `alternative`, `conf.level`,
#'   `nobs` (units), `n.groups`, `n.comparisons`, the smallest `p.value`
#'   of the comparisons, and `R` (`NA` for the delta method).
#' @method glance ratio_test
#' @export
glance.ratio_test <- function(x, ...) {
  data.frame(method = x$method, alternative = x$alternative, conf.level = x$conf.level,
             nobs = sum(x$groups$n), n.groups = nrow(x$groups),
             n.comparisons = nrow(x$comparisons),
             p.value = suppressWarnings(min(x$comparisons$p.value, na.rm = TRUE)),
             R = if (is.null(x$R)) NA_real_ else as.double(x$R), stringsAsFactors = FALSE)
}

#' @export
as.data.frame.ratio_test <- function(x, row.names = NULL, optional = FALSE, ...) {
  result_frame(tidy(x), row.names)
}

#' Confidence intervals of a ratio test
#'
#' Intervals at any level for the differences or the lifts: normal for the
#' delta method, from the stored replicates (percentile or BCa, as the
#' test) for the bootstrap. The test's `alternative` decides the sides.
#'
#' @param object A [ratio_test()] result.
#' @param parm Comparisons (names such as `"B - A"`, or numbers); all by
#'   default.
#' @param level Confidence level.
#' @param type `"difference"` or `"lift"`.
#' @param ... Ignored.
#' @return A matrix with one row per comparison and columns named by the
#'   percentiles, as [stats::confint()].
#' @export
confint.ratio_test <- function(object, parm, level = object$conf.level,
                               type = c("difference", "lift"), ...) {
  type <- arg_match(type, c("difference", "lift"), what = "type")
  check_conf_level(level, "level")
  comp <- object$comparisons
  nm <- names(object$estimate)
  est <- if (type == "difference") comp$estimate else comp$lift
  if (object$type == "delta") {
    se <- if (type == "difference") comp$std.error else comp$lift.std.error
    ci <- normal_interval(est, se, level, object$alternative)
  } else {
    t <- if (type == "difference") object$t else object$t_lift
    a <- object$acceleration[[type]]
    ci <- t(vapply(seq_along(nm), function(k) {
      if (is.na(est[k])) return(c(NA_real_, NA_real_))
      boot_interval(t[, k], est[k], level, object$ci, object$alternative, a[k])
    }, numeric(2)))
  }
  a <- (1 - level) / 2
  if (object$alternative != "two.sided") a <- 1 - level
  probs <- switch(object$alternative, two.sided = c(a, 1 - a), greater = c(a, 1), less = c(0, level))
  dimnames(ci) <- list(nm, paste(format(100 * probs, trim = TRUE, scientific = FALSE, digits = 3), "%"))
  if (missing(parm)) parm <- seq_along(nm)
  ci[parm, , drop = FALSE]
}

#' Plot the bootstrap distribution of a ratio test
#'
#' A histogram of the replicate differences (or lifts) of one comparison,
#' with the observed value and the interval marked.
#'
#' @param x A [ratio_test()] result with `method = "bootstrap"`.
#' @param which The comparison: a number or a name such as `"B - A"`.
#' @param type `"difference"` or `"lift"`.
#' @param ... Passed to [graphics::plot()].
#' @return Invisibly, what was drawn (see [plot.randomization_test()]): a
#'   histogram, or bars at the attained values when the replicates take at
#'   most 50 distinct values.
#' @export
plot.ratio_test <- function(x, which = 1L, type = c("difference", "lift"), ...) {
  type <- arg_match(type, c("difference", "lift"), what = "type")
  if (x$type != "bootstrap") {
    abort("`x` is a delta-method test, which has no replicates to plot; rerun ratio_test() with method = \"bootstrap\".",
         call. = FALSE)
  }
  nm <- names(x$estimate)
  k <- if (is.character(which)) match(which, nm) else which
  if (length(k) != 1L || is.na(k) || k < 1L || k > length(nm)) {
    abort(sprintf("`which` must be one of the comparisons: %s.", paste(nm, collapse = ", ")),
         call. = FALSE)
  }
  if (type == "difference") {
    t <- x$t[, k]; t0 <- x$estimate[[k]]
    ci <- x$conf.int[k, ]
  } else {
    t <- x$t_lift[, k]; t0 <- x$lift[[k]]
    ci <- c(x$comparisons$lift.conf.low[k], x$comparisons$lift.conf.high[k])
  }
  plot_replicates(t, t0, ci[is.finite(ci)], main = sprintf("%s: %s", x$data.name, nm[k]),
                  xlab = if (type == "difference") "difference in ratios" else "relative lift", ...)
}
