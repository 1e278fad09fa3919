#' @title Welch t test on cluster means
#'
#' @description
#' `cluster_ttest()` compares two arms of an experiment randomised by cluster
#' with a Welch two-sample t test whose unit is the cluster, so that rows of
#' the same cluster are not counted as independent.
#'
#' * `weights = "equal"`: each cluster's mean outcome is one observation and
#'   the result is exactly `stats::t.test(treated_means, control_means)`
#'   (Welch, unequal variances). Every cluster counts the same, whatever its
#'   size; the estimand is the mean of cluster means.
#' * `weights = "size"`: the estimate is the difference of the row-level arm
#'   means (cluster means weighted by cluster size). The variance of an arm
#'   mean is the cluster-robust (ratio-estimator) variance
#'   \eqn{G_a/(G_a - 1) \sum_g n_g^2 (\bar y_g - \bar y_a)^2 / (\sum_g n_g)^2},
#'   which is `sandwich::vcovCL(lm(y ~ 1), cluster = ~ g, type = "HC0")` on the
#'   arm's rows; the degrees of freedom are Welch-Satterthwaite's with
#'   \eqn{G_a - 1} per arm. With equal cluster sizes the two choices agree.
#'
#' Which arm is the control (the estimate is treated minus control): the
#' value given as `control =`; otherwise, for a factor, the first of its
#' levels that occur in the data; for a logical, `FALSE`; for numbers 0/1,
#' 0; for labels, the one common control label among them
#' (case-insensitively `control`, `ctrl`, `baseline`, `base`, `A`, `pre`,
#' `before`, `off`, `no`), so that control/treatment, control/test,
#' control/variant and A/B all work. Any other pair of values is taken in
#' sorted order (the first is the control) with a message of class
#' `clusterab_baseline_choice` naming the choice; give `control =` to choose
#' and silence it. The printed result names both arms.
#'
#' Randomisation must be by cluster: a cluster with rows in both arms is an
#' error. Missing or infinite values in `outcome` and missing values in
#' `treatment` or `cluster` are errors (naming the count), never dropped
#' silently. Each arm needs at least two clusters.
#'
#' @param data A data frame or data.table.
#' @param outcome Name of the numeric outcome column (a string).
#' @param treatment Name of the treatment column (a string): logical,
#'   numeric, factor or character, with exactly two distinct values.
#' @param cluster The clusters: the name of a column of `data` (a string), a
#'   one-sided formula such as `~ g`, or a vector with one value per row.
#' @param weights `"equal"` (each cluster weighs the same) or `"size"`
#'   (clusters weighted by their number of rows).
#' @param conf.level Confidence level of the interval for the difference.
#' @param alternative `"two.sided"`, `"less"` or `"greater"`: the
#'   alternative hypothesis for treated minus control, as in
#'   [stats::t.test()] (a one-sided test has a one-sided interval).
#' @param control The value of the `treatment` column that is the control
#'   arm; `NULL` chooses by the rule in Details.
#' @return A list of class `c("cluster_ttest", "htest")` that prints like
#'   [stats::t.test()]: `estimate` (the difference in means, treated minus
#'   control), `statistic` (t), `parameter` (df), `p.value`, `conf.int`
#'   (with attribute `conf.level`), `stderr`, `null.value` (0),
#'   `alternative`, `method`, `data.name`, and also `means`
#'   (the two arm means, control first, named by the treatment values),
#'   `n_clusters` and `n_obs` (per arm, same order), `weights` and `arms`
#'   (`c(control = , treated = )`, the treatment values as strings).
#'   It has `print()`, `tidy()`, `glance()` and `as.data.frame()` methods.
#' @examples
#' set.seed(1)
#' size <- sample(5:30, 24, replace = TRUE)
#' d <- data.frame(g = rep(1:24, size), treat = rep(rep(0:1, 12), size))
#' d$y <- 0.3 * d$treat + rnorm(24)[d$g] + rnorm(nrow(d))
#' cluster_ttest(d, outcome = "y", treatment = "treat", cluster = "g")
#' res <- cluster_ttest(d, "y", "treat", ~ g, weights = "size")
#' tidy(res)
#' glance(res)
#' ## labels: "control" is the control arm whatever the order
#' d$arm <- ifelse(d$treat == 1, "treatment", "control")
#' cluster_ttest(d, "y", "arm", "g", alternative = "greater")
#' @export
cluster_ttest <- function(data, outcome, treatment, cluster, weights = c("equal", "size"),
                          conf.level = 0.95, alternative = c("two.sided", "less", "greater"),
                          control = NULL) {
  weights <- arg_match(weights, c("equal", "size"), what = "weights")
  alternative <- arg_match(alternative, c("two.sided", "less", "greater"), what = "alternative")
  check_conf_level(conf.level, "conf.level")
  cols <- experiment_columns(data, outcome, treatment, cluster)
  y <- cols$y
  tr <- cols$tr
  g <- cols$g
  cluster <- cols$cluster_name
  if (!(is.logical(tr) || is.numeric(tr) || is.factor(tr) || is.character(tr))) {
    abort(sprintf("`treatment` column '%s' must be logical, numeric, factor or character, not %s.",
                 treatment, class(tr)[1L]), call. = FALSE)
  }
  check_finite_column(y, "outcome", outcome)
  check_no_missing(tr, "treatment")
  check_no_missing(g, "cluster")
  check_cluster_ids(g)
  ## huge or tiny outcomes: test y / s (s a power of two), scale back at the end
  y_scale <- outcome_scale(y)
  if (y_scale != 1) y <- y / y_scale

  code <- match(g, unique(g))
  ids <- g[!duplicated(code)]
  G <- length(ids)
  # Clusters with more than one treatment value: count the distinct
  # (cluster, treatment) pairs per cluster.
  tvals <- unique(tr)
  tcode <- match(tr, tvals)
  pair <- !duplicated((code - 1) * length(tvals) + tcode)
  mixed <- which(tabulate(code[pair], G) > 1L)
  if (length(mixed) > 0L) {
    abort(sprintf("`treatment` is not constant within %d cluster%s (for example cluster '%s'); randomisation must be by cluster, so every row of a cluster needs the same treatment.",
                 length(mixed), if (length(mixed) == 1L) "" else "s",
                 format(ids[mixed[1L]])), call. = FALSE)
  }

  arms <- treatment_arms(tr, control)
  treated <- attr(arms, "treated")
  attr(arms, "treated") <- NULL

  # Per-cluster sizes, means and arm.
  n <- tabulate(code, G)
  ybar <- as.vector(rowsum(y, code, reorder = TRUE)) / n
  arm_t <- treated[!duplicated(code)]
  G_arm <- c(sum(!arm_t), sum(arm_t))
  names(G_arm) <- arms
  if (any(G_arm < 2L)) {
    abort(sprintf("each arm of `treatment` needs at least 2 clusters for a t test on cluster means; found %d (%s) and %d (%s).",
                 G_arm[1L], arms[1L], G_arm[2L], arms[2L]), call. = FALSE)
  }
  n_obs <- c(sum(n[!arm_t]), sum(n[arm_t]))
  names(n_obs) <- arms

  if (weights == "equal") {
    # Our own check first, so that constant data give our message, not t.test's.
    check_not_constant(c(stats::var(ybar[!arm_t]) / G_arm[[1L]], stats::var(ybar[arm_t]) / G_arm[[2L]]),
                       c(mean(ybar[!arm_t]), mean(ybar[arm_t])))
    tt <- stats::t.test(ybar[arm_t], ybar[!arm_t], var.equal = FALSE, conf.level = conf.level,
                        alternative = alternative)
    means <- unname(tt$estimate[2:1])
    est <- means[2L] - means[1L]
    se <- tt$stderr
    tstat <- unname(tt$statistic)
    df <- unname(tt$parameter)
    p <- tt$p.value
    ci <- as.vector(tt$conf.int)
    method <- "Welch two-sample t-test on cluster means"
  } else {
    arm_var <- function(k) {
      # Size-weighted arm mean and its cluster-robust (ratio-estimator) variance.
      m <- sum(n[k] * ybar[k]) / sum(n[k])
      Ga <- sum(k)
      c(m, Ga / (Ga - 1) * sum(n[k]^2 * (ybar[k] - m)^2) / sum(n[k])^2)
    }
    ctl <- arm_var(!arm_t)
    trt <- arm_var(arm_t)
    means <- c(ctl[1L], trt[1L])
    v <- c(ctl[2L], trt[2L])
    check_not_constant(v, means)
    est <- means[2L] - means[1L]
    se <- sqrt(sum(v))
    tstat <- est / se
    df <- sum(v)^2 / sum(v^2 / (G_arm - 1))
    p <- switch(alternative, two.sided = 2 * stats::pt(-abs(tstat), df),
                less = stats::pt(tstat, df), greater = stats::pt(tstat, df, lower.tail = FALSE))
    ci <- switch(alternative,
                 two.sided = est + c(-1, 1) * stats::qt(1 - (1 - conf.level) / 2, df) * se,
                 less = c(-Inf, est + stats::qt(conf.level, df) * se),
                 greater = c(est - stats::qt(conf.level, df) * se, Inf))
    method <- "Welch two-sample t-test on cluster means, size-weighted"
  }
  names(means) <- arms
  if (y_scale != 1) {
    means <- means * y_scale
    est <- est * y_scale
    se <- se * y_scale
    ci <- ci * y_scale
  }
  attr(ci, "conf.level") <- conf.level
  structure(list(
    statistic = c(t = tstat), parameter = c(df = df), p.value = p, conf.int = ci,
    estimate = c(`difference in means` = est), null.value = c(`difference in means` = 0),
    stderr = se, alternative = alternative, method = method,
    data.name = sprintf("%s by %s (%s, clusters: %s)", outcome, treatment,
                        paste(arms[["treated"]], "-", arms[["control"]]), cluster),
    means = means, n_clusters = G_arm, n_obs = n_obs, weights = weights, arms = arms,
    cluster_name = cluster
  ), class = c("cluster_ttest", "htest"))
}

## The control and treated values of a two-valued treatment, as strings
## (see cluster_ttest()'s documentation for the rule), with attribute
## "treated": the rows in the treated arm. The comparison is made on the
## original values, not on their string forms, which may coincide for
## numbers.
treatment_arms <- function(tr, control = NULL) {
  vals <- arm_values(tr, control, "treatment", "control", "control arm")
  if (length(vals) != 2L) {
    shown <- format(vals[seq_len(min(5L, length(vals)))])
    abort(sprintf("`treatment` must have exactly 2 distinct values, but has %d: %s%s.",
                 length(vals), paste(trimws(shown), collapse = ", "),
                 if (length(vals) > 5L) ", ..." else ""), call. = FALSE)
  }
  structure(c(control = as.character(vals[1L]), treated = as.character(vals[2L])),
            treated = tr == vals[2L])
}

## The outcome, treatment and cluster columns of `data`, checked: `data` is
## a data frame with rows, the columns exist and the outcome is numeric.
## `cluster` may be a column name, a one-sided formula or a vector.
experiment_columns <- function(data, outcome, treatment, cluster) {
  if (!is.data.frame(data)) {
    abort(sprintf("`data` must be a data frame or a data.table, not %s.", class(data)[1L]),
         call. = FALSE)
  }
  y <- data_column(data, outcome, "outcome")
  tr <- data_column(data, treatment, "treatment")
  cl <- data_cluster(data, cluster)
  if (!is.numeric(y)) {
    abort(sprintf("`outcome` column '%s' must be numeric, not %s; convert it with as.numeric().",
                 outcome, class(y)[1L]), call. = FALSE)
  }
  if (nrow(data) == 0L) abort("`data` has no rows.")
  list(y = y, tr = tr, g = cl$values, cluster_name = cl$name)
}

## Cluster ids must be atomic values (numbers, strings, factors, dates).
check_cluster_ids <- function(g) {
  if (is.complex(g) || is.raw(g) || !is.atomic(g)) {
    abort(sprintf("`cluster` must be a vector of cluster ids (integer, numeric, character, logical, factor or date), not %s.",
                  class(g)[1L]))
  }
}

## As t.test: a standard error that is zero relative to the means leaves the
## t statistic undefined.
check_not_constant <- function(v, means) {
  if (sqrt(sum(v)) < 10 * .Machine$double.eps * max(abs(means))) {
    abort("`outcome` has the same cluster mean in every cluster of each arm, so the t statistic is undefined.",
         call. = FALSE)
  }
}

#' @export
print.cluster_ttest <- function(x, ...) {
  NextMethod()
  cat(sprintf("%d clusters (`%s`); t on %s df (Welch-Satterthwaite, from cluster means)\n",
              as.integer(sum(x$n_clusters)), x$cluster_name,
              format(signif(unname(x$parameter), 4L))))
  m <- format(x$means, digits = max(3L, getOption("digits") - 3L))
  cat(sprintf("control (%s): mean %s, %d clusters, %d rows\n", x$arms[["control"]], m[1L],
              as.integer(x$n_clusters[1L]), as.integer(x$n_obs[1L])))
  cat(sprintf("treated (%s): mean %s, %d clusters, %d rows\n\n", x$arms[["treated"]], m[2L],
              as.integer(x$n_clusters[2L]), as.integer(x$n_obs[2L])))
  invisible(x)
}

#' Tidy a cluster t test
#'
#' @param x A [cluster_ttest()] result.
#' @param ... Ignored.
#' @return A one-row data frame with broom's columns `estimate`,
#'   `statistic`, `p.value`, `parameter`, `conf.low`, `conf.high`, `method`
#'   and `alternative`.
#' @method tidy cluster_ttest
#' @export
tidy.cluster_ttest <- function(x, ...) {
  data.frame(estimate = unname(x$estimate), statistic = unname(x$statistic),
             p.value = x$p.value, parameter = unname(x$parameter),
             conf.low = x$conf.int[1L], conf.high = x$conf.int[2L],
             method = x$method, alternative = x$alternative, stringsAsFactors = FALSE)
}

#' Glance at a cluster t test
#'
#' @param x A [cluster_ttest()] result.
#' @param ... Ignored.
#' @return A one-row data frame with broom's columns for a test
#'   (`estimate`, `statistic`, `p.value`, `parameter`, `conf.low`,
#'   `conf.high`, `method`, `alternative`) and `nobs` (rows) and
#'   `n.clusters`.
#' @method glance cluster_ttest
#' @export
glance.cluster_ttest <- function(x, ...) {
  cbind(tidy.cluster_ttest(x), nobs = sum(x$n_obs), n.clusters = sum(x$n_clusters))
}

#' @export
as.data.frame.cluster_ttest <- function(x, row.names = NULL, optional = FALSE, ...) {
  result_frame(tidy(x), row.names)
}
