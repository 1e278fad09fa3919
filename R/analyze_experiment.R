utils::globalVariables(c(":=", "variant", "n", "experiment_id", ".N", ".SD",
                         ".treat", ".y", ".x", ".cluster", "metric_id", "p.value", "arm",
                         "p.value.unadjusted", "significant", "segment", "num", "den",
                         "group", "cluster", "clusters", "variance_reduction", "std.error"))

#' Analyse an experiment from its event logs
#'
#' `analyze_experiment()` turns exposures, events and metric definitions into
#' tested results: one row per experiment x metric x variant (x segment),
#' each variant compared with the control. Metrics are computed by
#' [compute_metrics()] (never here); the analysis is the one the notebooks
#' do by hand, with the tests of R's reference functions:
#'
#' * binary metrics: the chi-square test of the 2 x 2 table (variant x
#'   converted), as `chisq.test()`, with Yates' continuity correction unless
#'   `correct = FALSE`; the interval for the difference in proportions is
#'   `prop.test(c(x_v, x_c), c(n_v, n_c), correct = correct)$conf.int` (the
#'   Wald interval, with the continuity correction when `correct`).
#' * sum and count metrics: Welch's t test, as `t.test(x_v, x_c)`
#'   (Student's with `var.equal = TRUE`), computed from the means and
#'   variances of the arms.
#' * ratio metrics (numerator / denominator, both metrics): the delta
#'   method at the unit level, as `ratio_test(method = "delta")` on the
#'   per-unit numerator and denominator (a z test; `df` is `NA`).
#'
#' `estimate` is the difference variant - control of the metric's value
#' (`control_value`, `variant_value`: a rate for binary metrics, a mean per
#' unit for sums and counts, a ratio of sums for ratio metrics). `lift` is
#' `variant_value / control_value - 1`, with a delta-method normal interval:
#' its variance is \eqn{V_v / m_c^2 + m_v^2 V_c / m_c^4 - 2 m_v C / m_c^3},
#' \eqn{V} the variances of the arm values (\eqn{s^2 / n}) and \eqn{C} their
#' covariance (zero unless clustered). `significant` is `p.value < alpha`
#' (after the adjustment).
#'
#' @section Clustered experiments:
#' With `cluster` (a column of the exposures such as a household or region
#' id: the unit of randomisation), every test becomes its cluster-robust
#' form: the regression of the unit-level metric on the variant indicator
#' (the control's and that variant's units only), with the cluster-robust
#' covariance of [vcov_cluster()] of type `type` and t tests with G - 1
#' degrees of freedom, G the number of clusters in the two arms (the
#' Satterthwaite df for `type = "CR2"`, as [coef_test()]): equal to
#' `coef_test(lm(y ~ treat, d), cluster = ~ household_id, type = type)` and
#' its [coef_ci()] (test `"cluster t"`). Ratio metrics use the delta method
#' over clusters (test `"cluster delta"`): the cluster sums of numerator and
#' denominator are the units, as `ratio_test()` on the cluster-summed table
#' (this assumes every cluster lies in one variant, as when clusters are
#' randomised; a warning says when some do not). The control and variant
#' values are the regression's fitted arm means, and the lift's interval
#' includes their covariance. Fewer than 30 clusters give the package's
#' warning of class `clusterab_few_clusters` (once per experiment).
#'
#' @section Covariate adjustment (CUPED):
#' `covariate = c(revenue_14d = "pre_revenue_14d")` adjusts a metric by a
#' pre-exposure metric (a window ending at or before exposure): with
#' \eqn{\theta = cov(x, y) / var(x)} over the units of the two arms compared
#' and \eqn{y_{adj} = y - \theta (x - \bar x)}{y_adj = y - theta (x - mean(x))},
#' Welch's t test on \eqn{y_{adj}}{y_adj} (test `"CUPED Welch t"`; Student's
#' with `var.equal = TRUE`). Binary metrics with a covariate are tested the
#' same way (the chi-square test has no adjusted form). `control_value` and
#' `variant_value` are then the adjusted means (which average to the
#' unadjusted overall mean), so the lift is the adjusted lift. Clustered:
#' the regression `y ~ treat + x` with the cluster-robust covariance (test
#' `"CUPED cluster t"`), the arm values being the fitted means at
#' \eqn{\bar x}{mean(x)}. Column `variance_reduction` gives
#' \eqn{1 - var(y_{adj}) / var(y)}{1 - var(y_adj) / var(y)} over the two arms
#' (for the clustered form, with \eqn{\theta} the regression's slope). A
#' single unnamed metric id adjusts every binary, sum and count metric.
#' Ratio metrics cannot be adjusted.
#'
#' @section Segments:
#' `segment` names a column of `users` (joined on the unit id) or of the
#' exposures (its value at the unit's first exposure row; it must be constant
#' per unit and experiment). The analysis is repeated within each segment
#' value (column `segment`; units without a value form the segment `NA`),
#' the CUPED \eqn{\theta} estimated within the segment; p-values are adjusted
#' within experiment x segment.
#'
#' @section Sample-ratio mismatch:
#' Every analysis runs [srm_test()] on the units analysed, against `split`;
#' the table is `attr(result, "srm")`, printed with each experiment. A p-value
#' below 0.001 gives a warning of class `clusterab_srm`. The test counts
#' units; when whole clusters were assigned, units are not independent
#' draws and the test flags too often, so read it beside the clusters per
#' arm (`clusters_control`, `clusters_variant`).
#'
#' @section Undefined tests:
#' A comparison whose statistic is undefined (every unit has the same value,
#' as all-zero metrics from an empty events table; an arm with fewer than two
#' units in a segment; a ratio whose denominators sum to zero) gets `NaN` or
#' `NA` statistics and p-values and `significant = FALSE`, not an error.
#' Pre-exposure metrics are covariates and are not tested themselves.
#'
#' @section Database tables:
#' With dbplyr tables as `exposures` and `events` (see "Database tables" in
#' [compute_metrics()]), or the `experiment_units_sql` table that
#' [compute_metrics()] returns for them, the per-unit table stays in the
#' database and only statistics come back: per experiment and variant the
#' count, sums and centred cross-products of the metric columns (one
#' `GROUP BY`), and for a clustered analysis the same per experiment, variant
#' and cluster (a second `GROUP BY`), from which the per-cluster statistics
#' of [cluster_stats()] are assembled for each comparison. Every test is then computed
#' as for a data frame, and the results equal the in-memory analysis up to
#' rounding (1e-10). `segment` and `users` need the rows in R
#' ([dplyr::collect()] the per-unit table first).
#' @param exposures The exposures table (see [compute_metrics()]), or an
#'   `experiment_units` table returned by [compute_metrics()]; then `events`
#'   and `metrics` may be `NULL` (the metrics are taken from the table). Also
#'   a database table, or the `experiment_units_sql` table of
#'   [compute_metrics()] (see "Database tables").
#' @param events The events table (see [compute_metrics()]).
#' @param metrics Metric definitions: a [read_metrics()] result, a path to a
#'   JSON file or a JSON string.
#' @param experiment_id Optional: the experiments to analyse.
#' @param control The control variant: one label for every experiment, or a
#'   character vector named by experiment id. By default the package's rule
#'   (a variant called "control", "A", "baseline", ...; factor order; else
#'   the first sorted, with a message).
#' @param cluster The column of the exposures holding the cluster (unit of
#'   randomisation), as a string or one-sided formula (`~ household_id`), or
#'   a vector with one value per exposure row. Clustering is used exactly
#'   when `cluster` is given (also for an `experiment_units` table, which
#'   must then hold the column).
#' @param covariate CUPED covariates: a character vector naming, for each
#'   adjusted metric, its pre-exposure metric (`c(revenue_14d =
#'   "pre_revenue_14d")`), or one unnamed pre-exposure metric for all.
#' @param users Optional users table (one row per unit), for `segment`.
#' @param segment Optional: a column of `users` or of the exposures.
#' @param alpha Significance level, in (0, 1).
#' @param adjust Multiple-comparison adjustment of the p-values across the
#'   metrics x variants of each experiment (x segment): `"none"`, `"holm"`,
#'   `"BH"` or `"bonferroni"` ([p.adjust()]). The raw p-values are kept in
#'   `p.value.unadjusted`.
#' @param split Planned shares of the variants, for the SRM test (see
#'   [srm_test()]); equal by default.
#' @param correct Yates' continuity correction for binary metrics.
#' @param var.equal Student's t instead of Welch's for sums and counts.
#' @param type Cluster-robust covariance type (see [vcov_cluster()]), used
#'   with `cluster`.
#' @param conf.level Confidence level of the intervals; `1 - alpha` by
#'   default.
#' @param columns Optional renaming of the log columns, as in
#'   [compute_metrics()].
#' @return A data.table of class `experiment_results`, one row per
#'   experiment x metric x (segment) x non-control variant, with columns
#'   `experiment_id, metric_id, display_name, [segment], control, variant,
#'   test, statistic, df, p.value, [p.value.unadjusted], control_value,
#'   variant_value, estimate, conf.low, conf.high, lift, lift.conf.low,
#'   lift.conf.high, significant, n_control, n_variant, [clusters_control,
#'   clusters_variant], [variance_reduction]`. Attributes: `srm` (the
#'   [srm_test()] table), `units` (the `experiment_units` table analysed),
#'   `settings` (the options used, and the control of each experiment).
#'   Methods: `print()`, `summary()`, `tidy()`, `glance()`, `plot()` (a
#'   forest plot of the lifts) and `as.data.frame()`.
#' @examples
#' set.seed(1)
#' n <- 2000
#' exposures <- data.frame(user_id = 1:n, experiment_id = "checkout",
#'                         variant = rep(c("control", "treatment"), each = n / 2),
#'                         exposure_time = as.POSIXct("2026-03-01", tz = "UTC"))
#' buyers <- sample(n, 300)
#' events <- data.frame(user_id = buyers, event_name = "purchase",
#'                      event_time = as.POSIXct("2026-03-02", tz = "UTC"),
#'                      event_value = round(rexp(300, 1 / 40), 2))
#' metrics <- read_metrics('{
#'   "conversion_7d": {"event": {"name": "purchase"}, "aggregation": "binary",
#'                     "window": {"start": "0 days", "end": "7 days"}},
#'   "revenue_7d":    {"event": {"name": "purchase"}, "aggregation": "sum",
#'                     "window": {"start": "0 days", "end": "7 days"}}}')
#' res <- analyze_experiment(exposures, events, metrics)
#' res
#' tidy(res)
#' glance(res)
#' plot(res)
#' @importFrom stats var
#' @export
analyze_experiment <- function(exposures, events = NULL, metrics = NULL, experiment_id = NULL,
                               control = NULL, cluster = NULL, covariate = NULL, users = NULL,
                               segment = NULL, alpha = 0.05, adjust = "none", split = NULL,
                               correct = TRUE, var.equal = FALSE, type = "HC1",
                               conf.level = 1 - alpha, columns = NULL) {
  if (!is.numeric(alpha) || length(alpha) != 1L || is.na(alpha) || alpha <= 0 || alpha >= 1) {
    abort("`alpha` must be a single number between 0 and 1, such as 0.05.")
  }
  adjust <- arg_match(adjust, c("none", "holm", "BH", "bonferroni"))
  check_conf_level(conf.level, "conf.level")
  check_flag(correct, "correct")
  check_flag(var.equal, "var.equal")
  if (is_sql_table(exposures)) {
    return(analyze_experiment_sql(exposures, events, metrics, experiment_id, control, cluster,
                                  covariate, users, segment, alpha, adjust, split, correct,
                                  var.equal, type, conf.level, columns))
  }
  if (!is.data.frame(exposures)) {
    abort(sprintf("`exposures` must be a data frame or data.table, not %s.", class(exposures)[1L]))
  }
  cluster_name <- NULL
  if (inherits(exposures, "experiment_units")) {
    units <- exposures
    if (!is.null(experiment_id)) {
      units <- keep_units(units, experiment_id)
    }
    if (!is.null(cluster)) {
      cluster_name <- cluster_column_name(cluster)
      if (!cluster_name %in% names(units)) {
        abort(sprintf("`cluster` = \"%s\" is not a column of the experiment_units table; call compute_metrics(cluster = \"%s\") first.",
                      cluster_name, cluster_name))
      }
    }
    if (is.null(metrics)) metrics <- attr(units, "metrics")
  } else {
    if (!is.null(cluster)) {
      if (!inherits(cluster, "formula") && !(is.character(cluster) && length(cluster) == 1L)) {
        ## a vector with one id per exposure row: a column of a copy
        info <- data_cluster(exposures, cluster, "cluster", "exposures")
        exposures <- data.table::copy(data.table::as.data.table(exposures))
        exposures[, cluster := info$values]
        cluster_name <- "cluster"
      } else {
        cluster_name <- cluster_column_name(cluster)
      }
    }
    if (is.null(events) || is.null(metrics)) {
      abort("`events` and `metrics` are required unless `exposures` is an experiment_units table from compute_metrics().")
    }
    units <- compute_metrics(exposures, events, metrics, columns = columns,
                             experiment_id = experiment_id, cluster = cluster_name)
    metrics <- attr(units, "metrics")
  }
  if (!inherits(metrics, "clusterab_metrics")) metrics <- read_metrics(metrics)
  seg <- NULL
  if (!is.null(segment)) seg <- segment_values(units, exposures, users, segment)
  if (!is.null(cluster_name)) type <- check_vcov_type(type, "HC1")
  analyze_units(units, metrics, control = control, cluster = cluster_name,
                covariate = covariate, segment = seg, segment_name = segment, alpha = alpha,
                adjust = adjust, split = split, correct = correct, var.equal = var.equal,
                type = type, conf.level = conf.level)
}

## An experiment_units table restricted to experiments `ids` (attributes kept).
keep_units <- function(units, ids) {
  cols <- units_columns(units)
  have <- unique(as.character(units[[cols[["experiment_id"]]]]))
  bad <- setdiff(as.character(ids), have)
  if (length(bad)) {
    abort(sprintf("`experiment_id` %s not in the data; the experiments are %s.",
                  paste0("\"", bad, "\"", collapse = ", "),
                  paste0("\"", utils::head(have, 20L), "\"", collapse = ", ")))
  }
  keep <- as.character(units[[cols[["experiment_id"]]]]) %in% as.character(ids)
  out <- take_rows(units, keep)
  for (a in c("metrics", "columns", "excluded", "cluster")) attr(out, a) <- attr(units, a)
  class(out) <- class(units)
  out
}

## The name of a cluster column given as a string or a one-sided formula.
cluster_column_name <- function(cluster) {
  if (inherits(cluster, "formula")) {
    v <- all.vars(cluster)
    if (length(cluster) != 2L || length(v) != 1L) {
      abort("`cluster` must name one column of the exposures, such as \"household_id\" or ~ household_id.")
    }
    return(v)
  }
  if (!is.character(cluster) || length(cluster) != 1L || is.na(cluster)) {
    abort("`cluster` must name one column of the exposures, such as \"household_id\" or ~ household_id.")
  }
  cluster
}

## The segment of each row of `units`: from `users` (joined on the unit id),
## from the exposures (first row of the unit in the experiment) or from the
## units table itself.
segment_values <- function(units, exposures, users, segment) {
  if (!is.character(segment) || length(segment) != 1L || is.na(segment)) {
    abort("`segment` must name one column of `users` or of the exposures, such as \"device\".")
  }
  cols <- units_columns(units)
  uid <- cols[["user_id"]]
  eid <- cols[["experiment_id"]]
  if (!is.null(users) && segment %in% names(users)) {
    if (!uid %in% names(users)) {
      abort(sprintf("`users` has no column '%s' to join on; rename it or set `columns`.", uid))
    }
    u <- data.table::as.data.table(users)[, c(uid, segment), with = FALSE]
    if (anyDuplicated(u[[uid]])) {
      abort(sprintf("`users` has %d repeated values of '%s'; give one row per unit.",
                    sum(duplicated(u[[uid]])), uid))
    }
    return(u[[segment]][match(units[[uid]], u[[uid]])])
  }
  if (segment %in% names(units)) return(units[[segment]])
  if (!inherits(exposures, "experiment_units") && segment %in% names(exposures)) {
    ex <- unique(data.table::as.data.table(exposures)[, c(eid, uid, segment), with = FALSE])
    if (anyDuplicated(ex[, c(eid, uid), with = FALSE])) {
      abort(sprintf("`segment` column '%s' of the exposures takes several values for some units of an experiment; it must be constant per unit (or give it in `users`).",
                    segment))
    }
    key <- paste(ex[[eid]], ex[[uid]], sep = "\r")
    return(ex[[segment]][match(paste(units[[eid]], units[[uid]], sep = "\r"), key)])
  }
  abort(sprintf("`segment` = \"%s\" is not a column of %s; name a column such as \"device\".",
                segment, if (is.null(users)) "the exposures (and no `users` table was given)"
                         else "`users` or of the exposures"))
}

## The metric definitions as a table: id, display name, aggregation,
## numerator, denominator and whether the window ends at or before exposure.
metric_table <- function(metrics) {
  get <- function(m, f) {
    v <- m[[f]]
    if (is.null(v) || length(v) == 0L) NA else v[[1L]]
  }
  data.frame(id = vapply(metrics, function(m) as.character(get(m, "id")), ""),
             display_name = vapply(metrics, function(m) {
               d <- get(m, "display_name")
               if (is.na(d)) as.character(get(m, "id")) else as.character(d)
             }, ""),
             aggregation = vapply(metrics, function(m) as.character(get(m, "aggregation")), ""),
             numerator = vapply(metrics, function(m) as.character(get(m, "numerator")), ""),
             denominator = vapply(metrics, function(m) as.character(get(m, "denominator")), ""),
             pre = vapply(metrics, function(m) {
               if (!is.null(m$pre_exposure)) return(isTRUE(m$pre_exposure))
               isTRUE(as.numeric(get(m, "end")) <= 0)
             }, TRUE),
             stringsAsFactors = FALSE, row.names = NULL)
}

## `covariate` checked: a named character vector post metric -> pre metric.
covariate_map <- function(covariate, defs) {
  if (is.null(covariate)) return(stats::setNames(character(0), character(0)))
  if (!is.character(covariate) || anyNA(covariate) || !length(covariate)) {
    abort("`covariate` must be a character vector such as c(revenue_14d = \"pre_revenue_14d\"), or one pre-exposure metric id.")
  }
  adjustable <- defs$id[!defs$pre & defs$aggregation != "ratio"]
  if (is.null(names(covariate))) {
    if (length(covariate) != 1L) {
      abort("`covariate` must be named by the metrics it adjusts (c(revenue_14d = \"pre_revenue_14d\")) unless it is a single metric id, which adjusts every binary, sum and count metric.")
    }
    covariate <- stats::setNames(rep(covariate, length(adjustable)), adjustable)
  }
  ids <- defs$id
  unknown <- setdiff(c(names(covariate), unname(covariate)), ids)
  if (length(unknown)) {
    abort(sprintf("`covariate` names metric%s %s, which %s not among the metrics (%s).",
                  if (length(unknown) > 1L) "s" else "", paste0("\"", unknown, "\"", collapse = ", "),
                  if (length(unknown) > 1L) "are" else "is", paste0("\"", ids, "\"", collapse = ", ")))
  }
  pre <- defs$pre[match(covariate, ids)]
  if (!all(pre)) {
    bad <- unname(covariate[!pre][1L])
    abort(sprintf("`covariate` \"%s\" is not a pre-exposure metric (its window does not end at or before exposure); a CUPED covariate must be measured before exposure, such as a window from \"-14 days\" to \"0 days\".",
                  bad))
  }
  post <- names(covariate)
  if (any(post == "") || anyDuplicated(post)) {
    abort("`covariate` must name each adjusted metric once: c(revenue_14d = \"pre_revenue_14d\").")
  }
  bad <- post[!post %in% adjustable]
  if (length(bad)) {
    what <- defs$aggregation[match(bad[1L], ids)]
    abort(sprintf("`covariate` adjusts metric \"%s\", which is %s; only binary, sum and count metrics measured after exposure can be adjusted.",
                  bad[1L], if (what == "ratio") "a ratio metric" else "itself a pre-exposure metric"))
  }
  covariate
}

## The engine: the tests of every experiment x segment x metric x variant of a
## per-unit table. `segment`: the segment of each row, or NULL.
analyze_units <- function(units, metrics, control = NULL, cluster = NULL, covariate = NULL,
                          segment = NULL, segment_name = NULL, alpha = 0.05, adjust = "none",
                          split = NULL, correct = TRUE, var.equal = FALSE, type = "HC1",
                          conf.level = 0.95) {
  cols <- units_columns(units)
  ecol <- cols[["experiment_id"]]
  vcol <- cols[["variant"]]
  defs <- metric_table(metrics)
  ## ratio metrics are tested from their numerator and denominator columns
  missing <- setdiff(defs$id[defs$aggregation != "ratio"], names(units))
  if (length(missing)) {
    abort(sprintf("the units table has no column for metric%s %s; compute it with compute_metrics() and these metrics.",
                  if (length(missing) > 1L) "s" else "", paste0("\"", missing, "\"", collapse = ", ")))
  }
  cov_map <- covariate_map(covariate, defs)
  posts <- defs[!defs$pre, , drop = FALSE]
  if (!nrow(posts)) abort("`metrics` has no metric measured after exposure to analyse.")
  d <- if (data.table::is.data.table(units)) units else data.table::as.data.table(units)
  if (is.null(segment)) segment <- rep(NA, nrow(d))
  ids <- unique(d[[ecol]])
  if (!length(ids)) abort("the units table has no rows: no experiment to analyse.")
  controls <- experiment_arms(lapply(ids, function(e) d[[vcol]][d[[ecol]] == e]), ids, control)
  counts <- d[, list(n = .N), by = c(ecol, vcol)]
  data.table::setnames(counts, c("experiment_id", "variant", "n"))
  counts[, variant := as.character(variant)]
  srm_tab <- tidy(srm_from_counts(counts, split, arms = controls))
  rows <- list()
  few <- list()
  segmented <- !is.null(segment_name)
  for (e in ids) {
    arms <- controls[[as.character(e)]]
    idx <- which(d[[ecol]] == e)
    segs <- if (!segmented) NA else sort(unique(segment[idx]), na.last = TRUE)
    for (s in segs) {
      at <- if (!segmented) idx else if (is.na(s)) idx[is.na(segment[idx])] else
        idx[!is.na(segment[idx]) & segment[idx] == s]
      ds <- take_rows(d, at)
      part <- analyze_segment(ds, posts, arms, vcol, cluster, cov_map, correct, var.equal, type,
                              conf.level)
      few <- c(few, part$notes)
      tab <- part$rows
      tab[, experiment_id := e]
      if (segmented) tab[, segment := if (is.na(s)) NA_character_ else as.character(s)]
      p <- tab$p.value
      if (adjust != "none") {
        tab[, p.value.unadjusted := p]
        tab[, p.value := stats::p.adjust(p, method = adjust)]
      }
      rows[[length(rows) + 1L]] <- tab
    }
  }
  G <- if (!is.null(cluster)) {
    d[, list(G = data.table::uniqueN(.SD[[1L]])), by = ecol, .SDcols = cluster]
  }
  results_table(rows, srm_tab, units, few, controls, list(
    alpha = alpha, adjust = adjust, conf.level = conf.level, cluster = cluster,
    clusters = if (!is.null(G)) stats::setNames(G$G, as.character(G[[1L]])),
    type = if (!is.null(cluster)) type, correct = correct, var.equal = var.equal,
    covariate = cov_map, segment = segment_name))
}

## The variants of each experiment, control first, by the package's one
## rule. `variants`: the variant values of each experiment `ids`.
experiment_arms <- function(variants, ids, control) {
  controls <- list()
  for (i in seq_along(ids)) {
    e <- ids[[i]]
    v <- variants[[i]]
    ctl <- control_for(control, e)
    if (!is.null(ctl) && !as.character(ctl) %in% as.character(unique(v))) {
      abort(sprintf("`control` = \"%s\" is not a variant of experiment \"%s\", whose variants are %s.",
                    ctl, e, paste0("\"", sort(unique(as.character(v))), "\"", collapse = ", ")))
    }
    arms <- as.character(arm_values(as_label(v), ctl, "variant", "control", "control variant"))
    if (length(arms) < 2L) {
      abort(sprintf("experiment \"%s\" has a single variant (\"%s\"); a comparison needs a control and at least one other variant.",
                    e, arms))
    }
    controls[[as.character(e)]] <- arms
  }
  controls
}

## The result: the rows of every experiment in one table with the columns in
## order, the few-cluster notes and the SRM warning signalled, and the
## attributes set. `settings`: the options used (the controls are added).
results_table <- function(rows, srm_tab, units, few, controls, settings) {
  res <- data.table::rbindlist(rows, use.names = TRUE)
  res[, significant := !is.na(p.value) & p.value < settings$alpha]
  order <- c("experiment_id", "metric_id", "display_name", if (!is.null(settings$segment)) "segment",
             "control", "variant", "test", "statistic", "df", "p.value",
             if (settings$adjust != "none") "p.value.unadjusted", "control_value", "variant_value",
             "estimate", "conf.low", "conf.high", "lift", "lift.conf.low", "lift.conf.high",
             "significant", "n_control", "n_variant",
             if (!is.null(settings$cluster)) c("clusters_control", "clusters_variant"),
             if (length(settings$covariate)) "variance_reduction")
  res <- res[, order, with = FALSE]
  signal_analysis_notes(few)
  flagged <- srm_tab[srm_tab[["srm"]] %in% TRUE]
  if (nrow(flagged)) {
    warn(sprintf("sample-ratio mismatch in experiment%s %s (p < %g): the units are not split between the variants as planned, so the assignment or the logging is broken; find the cause before trusting these results.",
                 if (nrow(flagged) > 1L) "s" else "", paste0("\"", flagged$experiment_id, "\"", collapse = ", "),
                 srm_threshold),
         class = "clusterab_srm")
  }
  settings$control <- vapply(controls, `[[`, "", 1L)
  data.table::setattr(res, "srm", srm_tab)
  data.table::setattr(res, "units", units)
  data.table::setattr(res, "settings", settings)
  data.table::setattr(res, "class", c("experiment_results", "data.table", "data.frame"))
  res
}

## Rows of a data.table by an index vector. In `dt[i]` a symbol is looked
## up among the columns first, and a metric may be called anything (such as
## "keep"): the index is passed under a name no column has.
take_rows <- function(dt, .clusterab_rows) dt[.clusterab_rows]

control_for <- function(control, e) {
  if (is.null(control)) return(NULL)
  if (!is.null(names(control))) {
    ctl <- control[as.character(e)]
    return(if (is.na(ctl)) NULL else unname(ctl))
  }
  if (length(control) != 1L || is.na(control)) {
    abort("`control` must be one variant label, or a vector of labels named by experiment id.")
  }
  control
}

## Each few-cluster note once.
signal_analysis_notes <- function(notes) {
  msgs <- vapply(notes, `[[`, "", "message")
  signal_notes(notes[!duplicated(msgs)])
}

## The rows of one experiment (x segment): every post-exposure metric x
## non-control variant.
analyze_segment <- function(ds, posts, arms, vcol, cluster, cov_map, correct, var.equal, type,
                            level) {
  ctl <- arms[1L]
  lab <- as.character(ds[[vcol]])
  plain <- posts$id[posts$aggregation != "ratio"]
  ## the arms' moments of every plain metric, in one grouped pass
  mom <- NULL
  if (length(plain) && is.null(cluster)) {
    mom <- ds[, c(list(.N), lapply(.SD, mean), lapply(.SD, var)), by = vcol, .SDcols = plain]
    names(mom) <- c("arm", "n", paste0("mean.", plain), paste0("var.", plain))
    mom[, arm := as.character(arm)]
  }
  out <- list()
  notes <- list()
  for (v in arms[-1L]) {
    keep <- lab %in% c(ctl, v)
    sub <- take_rows(ds, keep)
    treat <- lab[keep] == v
    n_c <- sum(!treat)
    n_v <- sum(treat)
    for (k in seq_len(nrow(posts))) {
      m <- posts[k, ]
      pre <- if (m$id %in% names(cov_map)) cov_map[[m$id]] else NULL
      r <- collect_notes(compare_metric(m, sub, treat, vcol, ctl, v, mom, cluster, pre, correct,
                                        var.equal, type, level))
      notes <- c(notes, r$notes)
      clusters <- if (!is.null(cluster)) {
        c(data.table::uniqueN(sub[[cluster]][!treat]), data.table::uniqueN(sub[[cluster]][treat]))
      }
      out[[length(out) + 1L]] <- labelled_row(r$value, m, ctl, v, c(n_c, n_v), clusters, length(cov_map) > 0L)
    }
  }
  list(rows = data.table::rbindlist(out, use.names = TRUE, fill = TRUE), notes = notes)
}

## A comparison row with what it compares: the metric, the arms, their
## units and clusters (NULL when not clustered); a variance reduction column
## when any metric has a covariate.
labelled_row <- function(r, m, ctl, v, units, clusters, covariates) {
  r$metric_id <- m$id
  r$display_name <- m$display_name
  r$control <- ctl
  r$variant <- v
  r$n_control <- units[1L]
  r$n_variant <- units[2L]
  if (!is.null(clusters)) {
    r$clusters_control <- clusters[1L]
    r$clusters_variant <- clusters[2L]
  }
  if (covariates && is.null(r$variance_reduction)) r$variance_reduction <- NA_real_
  r
}

## One comparison: variant v against the control for metric m, dispatching
## on the aggregation, the clustering and the covariate.
compare_metric <- function(m, sub, treat, vcol, ctl, v, mom, cluster, pre, correct, var.equal,
                           type, level) {
  if (sum(treat) < 2L || sum(!treat) < 2L) return(undefined_row(if (m$aggregation == "ratio") "delta" else "Welch t"))
  if (m$aggregation == "ratio") {
    return(compare_ratio(sub[[m$numerator]], sub[[m$denominator]], treat, ctl, v,
                         if (!is.null(cluster)) sub[[cluster]], level))
  }
  y <- as.double(sub[[m$id]])
  x <- if (!is.null(pre)) as.double(sub[[pre]])
  if (!is.null(cluster)) return(compare_cluster(y, x, treat, sub[[cluster]], cluster, type, level))
  if (!is.null(pre)) return(compare_cuped(y, x, treat, var.equal, level))
  mc <- mom[mom$arm == ctl]
  mv <- mom[mom$arm == v]
  col <- function(tab, what) tab[[paste0(what, ".", m$id)]]
  if (m$aggregation == "binary") {
    return(compare_binary(col(mc, "mean") * mc$n, mc$n, col(mv, "mean") * mv$n, mv$n,
                          col(mc, "var"), col(mv, "var"), correct, level))
  }
  compare_means(col(mc, "mean"), col(mc, "var"), mc$n, col(mv, "mean"), col(mv, "var"), mv$n,
                var.equal, level, if (var.equal) "Student t" else "Welch t")
}

undefined_row <- function(test) {
  list(test = test, statistic = NaN, df = NA_real_, p.value = NA_real_, control_value = NA_real_,
       variant_value = NA_real_, estimate = NA_real_, conf.low = NA_real_, conf.high = NA_real_,
       lift = NA_real_, lift.conf.low = NA_real_, lift.conf.high = NA_real_, std.error = NA_real_)
}

## The relative lift m_v / m_c - 1 and its delta-method normal interval from
## the variances of the arm values and their covariance.
lift_interval <- function(m_c, m_v, var_c, var_v, cov = 0, level) {
  lift <- m_v / m_c - 1
  se <- sqrt(var_v / m_c^2 + m_v^2 * var_c / m_c^4 - 2 * m_v * cov / m_c^3)
  q <- stats::qnorm((1 + level) / 2)
  list(lift = lift, lift.conf.low = lift - q * se, lift.conf.high = lift + q * se)
}

## Welch's (or Student's) t test of the difference of means from the arms'
## moments, as t.test(x_v, x_c).
compare_means <- function(m_c, v_c, n_c, m_v, v_v, n_v, var.equal, level, test) {
  est <- m_v - m_c
  if (var.equal) {
    df <- n_c + n_v - 2
    s2 <- ((n_c - 1) * v_c + (n_v - 1) * v_v) / df
    se <- sqrt(s2 * (1 / n_c + 1 / n_v))
  } else {
    a <- v_c / n_c
    b <- v_v / n_v
    se <- sqrt(a + b)
    df <- (a + b)^2 / (a^2 / (n_c - 1) + b^2 / (n_v - 1))
  }
  t <- est / se
  q <- stats::qt((1 + level) / 2, df)
  c(list(test = test, statistic = t, df = df, p.value = 2 * stats::pt(-abs(t), df),
         control_value = m_c, variant_value = m_v, estimate = est,
         conf.low = est - q * se, conf.high = est + q * se, std.error = se),
    lift_interval(m_c, m_v, v_c / n_c, v_v / n_v, 0, level))
}

## The chi-square test of the 2 x 2 table (arm x converted), as chisq.test(),
## and prop.test()'s interval for the difference in proportions.
compare_binary <- function(x_c, n_c, x_v, n_v, var_c, var_v, correct, level) {
  O <- matrix(c(n_c - x_c, n_v - x_v, x_c, x_v), 2L)
  E <- outer(rowSums(O), colSums(O)) / sum(O)
  yates <- if (correct) min(0.5, abs(O - E)) else 0
  stat <- sum((abs(O - E) - yates)^2 / E)
  p_c <- x_c / n_c
  p_v <- x_v / n_v
  est <- p_v - p_c
  ## prop.test(c(x_v, x_c), c(n_v, n_c), correct = correct)$conf.int
  inv <- 1 / n_v + 1 / n_c
  cc <- if (correct) min(0.5, abs(est) / inv) else 0
  width <- stats::qnorm((1 + level) / 2) * sqrt(p_v * (1 - p_v) / n_v + p_c * (1 - p_c) / n_c) + cc * inv
  c(list(test = "chi-squared", statistic = stat, df = 1, p.value = stats::pchisq(stat, 1, lower.tail = FALSE),
         control_value = p_c, variant_value = p_v, estimate = est,
         conf.low = max(est - width, -1), conf.high = min(est + width, 1),
         std.error = sqrt(var_v / n_v + var_c / n_c)),
    lift_interval(p_c, p_v, var_c / n_c, var_v / n_v, 0, level))
}

## The moments of two groups together (Chan, Golub and LeVeque's update).
pool_moments <- function(a, b) {
  n <- a$n + b$n
  d <- b$mean - a$mean
  list(n = n, mean = a$mean + d * b$n / n, S = a$S + b$S + outer(d, d) * a$n * b$n / n)
}

## The moments of the columns of a matrix of unit values.
moments_of <- function(x) {
  m <- colMeans(x)
  xc <- sweep(x, 2L, m)
  list(n = nrow(x), mean = m, S = crossprod(xc))
}

## CUPED: y adjusted by the pre-exposure covariate x with theta pooled over
## the two arms, then Welch's (Student's) t on the adjusted values.
compare_cuped <- function(y, x, treat, var.equal, level) {
  yx <- cbind(y = y, x = x)
  mc <- moments_of(yx[!treat, , drop = FALSE])
  mv <- moments_of(yx[treat, , drop = FALSE])
  compare_cuped_moments(mc, mv, pool_moments(mc, mv), "y", "x", var.equal, level)
}

## CUPED from the arms' moments (`pooled`: both arms together) of the metric
## `y` and its covariate `x`: the adjusted values y - theta (x - mean(x))
## have arm means ybar - theta (xbar_arm - xbar) and variances
## (Syy - 2 theta Sxy + theta^2 Sxx) / (n - 1).
compare_cuped_moments <- function(mc, mv, pooled, y, x, var.equal, level) {
  S <- pooled$S
  theta <- if (is.finite(S[x, x]) && S[x, x] > 0) S[x, y] / S[x, x] else 0
  adj_var <- function(S, n) (S[y, y] - 2 * theta * S[x, y] + theta^2 * S[x, x]) / (n - 1)
  adj_mean <- function(a) a$mean[[y]] - theta * (a$mean[[x]] - pooled$mean[[x]])
  out <- compare_means(adj_mean(mc), adj_var(mc$S, mc$n), mc$n, adj_mean(mv), adj_var(mv$S, mv$n), mv$n,
                       var.equal, level, if (var.equal) "CUPED Student t" else "CUPED Welch t")
  out$variance_reduction <- 1 - adj_var(S, pooled$n) / (S[y, y] / (pooled$n - 1))
  out
}

## The clustered form: the regression of y on the variant indicator (and the
## covariate) with the cluster-robust covariance, t tests with G - 1 df, as
## coef_test(lm(y ~ treat), cluster = , type = ) and coef_ci().
compare_cluster <- function(y, x, treat, cl, cluster, type, level) {
  test <- if (is.null(x)) "cluster t" else "CUPED cluster t"
  if (stats::var(y) == 0 || data.table::uniqueN(cl) < 2L) return(undefined_row(test))
  df <- data.frame(.y = y, .treat = as.double(treat))
  if (!is.null(x)) df$.x <- x
  df[[cluster]] <- cl
  formula <- if (is.null(x)) .y ~ .treat else .y ~ .treat + .x
  fit <- cluster_lm(formula, data = df, cluster = cluster, type = type)
  out <- cluster_fit_row(fit, ".treat", if (!is.null(x)) ".x", if (!is.null(x)) mean(x), level, test)
  if (!is.null(x)) {
    slope <- stats::coef(fit)[[".x"]]
    out$variance_reduction <- 1 - stats::var(y - slope * (x - mean(x))) / stats::var(y)
  }
  out
}

## The comparison row of a clustered fit of y on the indicator `treat` (and
## the covariate `x`, whose mean is `xbar`): the coefficient test, its
## interval, the arm values at the covariate's mean and the lift.
cluster_fit_row <- function(fit, treat, x, xbar, level, test) {
  tab <- coef_test(fit)
  ci <- coef_ci(fit, parm = treat, level = level)
  b <- stats::coef(fit)
  V <- stats::vcov(fit)
  l_c <- c(1, 0, xbar)
  l_v <- c(1, 1, xbar)
  m_c <- sum(l_c * b)
  m_v <- sum(l_v * b)
  ## CR2: Satterthwaite df, one per coefficient
  df_t <- attr(tab, "df")
  if (length(df_t) > 1L) df_t <- unname(df_t[[treat]])
  c(list(test = test, statistic = tab[treat, 3L], df = df_t,
         p.value = tab[treat, 4L], control_value = m_c, variant_value = m_v,
         estimate = b[[treat]], conf.low = ci[1L, 1L], conf.high = ci[1L, 2L],
         std.error = tab[treat, 2L]),
    lift_interval(m_c, m_v, drop(l_c %*% V %*% l_c), drop(l_v %*% V %*% l_v),
                  drop(l_c %*% V %*% l_v), level))
}

## Ratio metrics: ratio_test(method = "delta") on the units, or on the
## cluster sums of numerator and denominator when clustered.
compare_ratio <- function(num, den, treat, ctl, v, cl, level) {
  test <- if (is.null(cl)) "delta" else "cluster delta"
  group <- rep(ctl, length(treat))
  group[treat] <- v
  d <- data.table::data.table(num = as.double(num), den = as.double(den), group = group)
  if (!is.null(cl)) {
    d[, .cluster := cl]
    if (any(d[, data.table::uniqueN(group), by = ".cluster"]$V1 > 1L)) {
      warn(sprintf("some clusters hold units of both \"%s\" and \"%s\"; the clustered ratio test treats each cluster's units in each variant as one unit, which ignores their correlation across variants.",
                   ctl, v), class = "clusterab_clusters_across_variants")
    }
    d <- d[, list(num = sum(num), den = sum(den)), by = c(".cluster", "group")]
  }
  sums <- d[, list(den = sum(den), n = .N), by = group]
  if (any(sums$den == 0) || any(sums$n < 2L)) return(undefined_row(test))
  rt <- tryCatch(ratio_test(d, "num", "den", "group", method = "delta", control = ctl,
                            conf.level = level),
                 clusterab_error = function(e) NULL)
  if (is.null(rt)) return(undefined_row(test))
  ratio_row(test, rt$comparisons, rt$groups, ctl, v)
}

## A comparison row from ratio_delta()'s comparison and the groups' ratios.
ratio_row <- function(test, cmp, groups, ctl, v) {
  list(test = test, statistic = cmp$statistic, df = NA_real_, p.value = cmp$p.value,
       control_value = groups$ratio[groups$group == ctl], variant_value = groups$ratio[groups$group == v],
       estimate = cmp$estimate, conf.low = cmp$conf.low, conf.high = cmp$conf.high,
       lift = cmp$lift, lift.conf.low = cmp$lift.conf.low, lift.conf.high = cmp$lift.conf.high,
       std.error = cmp$std.error)
}

## The value of `expr` and the few-cluster notes it signalled (muffled), so
## that each is given once for the whole analysis.
collect_notes <- function(expr) {
  notes <- list()
  value <- withCallingHandlers(expr, clusterab_few_clusters = function(w) {
    notes[[length(notes) + 1L]] <<- list(message = conditionMessage(w),
                                         class = setdiff(class(w), c("clusterab_warning", "warning", "condition")))
    invokeRestart("muffleWarning")
  })
  list(value = value, notes = notes)
}

## ---- methods ---------------------------------------------------------------

#' @export
print.experiment_results <- function(x, digits = 3L, ...) {
  settings <- attr(x, "settings")
  if (is.null(settings)) {
    ## a subset made with `[`: a plain table
    print(data.table::as.data.table(unclass_results(x)), ...)
    return(invisible(x))
  }
  srm_tab <- attr(x, "srm")
  units <- attr(x, "units")
  excluded <- attr(units, "excluded")
  for (e in unique(x$experiment_id)) {
    rows <- x[x$experiment_id == e]
    at <- as.character(srm_tab$experiment_id) == as.character(e)
    s <- srm_tab[at]
    cat(sprintf("\nExperiment \"%s\": control \"%s\"\n", e, settings$control[[as.character(e)]]))
    if (nrow(s)) {
      counts <- strsplit(s$units, " / ", fixed = TRUE)[[1L]]
      arms <- strsplit(s$variants, " / ", fixed = TRUE)[[1L]]
      cat(sprintf("Units: %s\n", paste(sprintf("%s %s", arms, format(as.numeric(counts), big.mark = ",", trim = TRUE)),
                                       collapse = ", ")))
    }
    if (!is.null(excluded)) {
      at <- as.character(excluded[[1L]]) == as.character(e)
      ex <- excluded[at]
      if (nrow(ex)) {
        cat(sprintf("Excluded: %s unit%s seen in more than one variant; %s unit%s exposed more than once (kept, first exposure used)\n",
                    format(ex$units_multiple_variants, big.mark = ","), if (ex$units_multiple_variants == 1) "" else "s",
                    format(ex$exposures_repeated, big.mark = ","), if (ex$exposures_repeated == 1) "" else "s"))
      }
    }
    if (nrow(s)) {
      cat(sprintf("SRM: X-squared = %s, df = %d, p = %s%s\n", format(signif(s$statistic, 4)), as.integer(s$df),
                  format.pval(s$p.value, digits = digits),
                  if (s$srm) sprintf("  ** SAMPLE RATIO MISMATCH (p < %g) **", srm_threshold) else ": no sample-ratio mismatch"))
    }
    if (!is.null(settings$cluster)) {
      G <- settings$clusters[[as.character(e)]]
      dfs <- unique(rows$df[rows$test %in% c("cluster t", "CUPED cluster t") & is.finite(rows$df)])
      satt <- identical(settings$type, "CR2")
      cat(sprintf("Cluster-robust at the %s level: %s clusters, %s, t tests with %s df%s; ratio metrics by the delta method over clusters (z)\n",
                  settings$cluster, format(G, big.mark = ","), settings$type,
                  if (satt) "Satterthwaite" else "G - 1",
                  if (length(dfs) == 1L) sprintf(" (%s)", format(signif(dfs, if (satt) 3L else 15L), big.mark = ",")) else ""))
    }
    if (length(settings$covariate) && "variance_reduction" %in% names(rows)) {
      cov <- settings$covariate
      vr <- rows[!is.na(rows$variance_reduction)]
      if (nrow(vr)) {
        red <- vr[, list(v = mean(variance_reduction)), by = metric_id]
        cat(sprintf("CUPED: %s\n", paste(sprintf("%s adjusted by %s (variance reduction %.1f%%)", red$metric_id,
                                                 cov[red$metric_id], 100 * red$v), collapse = "; ")))
      }
    }
    shown <- data.frame(metric = rows$metric_id, stringsAsFactors = FALSE)
    if ("segment" %in% names(rows)) shown$segment <- rows$segment
    ## one variant: named in the header line instead of a column
    several <- data.table::uniqueN(rows$variant) > 1L
    if (several) shown$variant <- rows$variant
    shown$test <- rows$test
    shown$control <- format_value(rows$control_value, digits)
    shown$variant_value <- format_value(rows$variant_value, digits)
    shown$lift <- sprintf("%s [%s, %s]", format_percent(rows$lift), format_percent(rows$lift.conf.low),
                          format_percent(rows$lift.conf.high))
    shown$p.value <- paste0(ifelse(is.na(rows$p.value), "NA", format.pval(rows$p.value, digits = digits, eps = 1e-4)),
                            ifelse(rows$significant, " *", ""))
    names(shown)[names(shown) == "variant_value"] <- if (several) "variant.value" else rows$variant[1L]
    names(shown)[names(shown) == "lift"] <- "lift [interval]"
    cat("\n")
    ## one line per test, rather than a table folded in two
    old <- options(width = max(getOption("width"), 120L))
    print(shown, row.names = FALSE, right = FALSE)
    options(old)
  }
  cat(sprintf("\n%g%% intervals; * significant at alpha = %g%s.\n", 100 * settings$conf.level, settings$alpha,
              if (settings$adjust != "none") sprintf(" after %s adjustment across metrics x variants of each experiment%s",
                                                     settings$adjust, if (!is.null(settings$segment)) " and segment" else "")
              else ""))
  invisible(x)
}

## The standard errors of the differences, from the intervals (which are
## estimate -/+ q se; t quantiles with the test's df, normal for the delta
## method) and for binary metrics the unpooled Wald standard error of
## prop.test()'s interval.
results_std_error <- function(tab, level) {
  if (is.null(level)) level <- 0.95
  df <- tab$df
  q <- ifelse(is.finite(df) & tab$test != "chi-squared", stats::qt((1 + level) / 2, pmax(df, 1e-8)),
              stats::qnorm((1 + level) / 2))
  se <- (tab$conf.high - tab$conf.low) / (2 * q)
  binary <- tab$test == "chi-squared"
  pc <- tab$control_value[binary]
  pv <- tab$variant_value[binary]
  se[binary] <- sqrt(pc * (1 - pc) / tab$n_control[binary] + pv * (1 - pv) / tab$n_variant[binary])
  se
}

format_value <- function(v, digits) ifelse(is.na(v), "NA", formatC(v, digits = digits + 1L, format = "g"))
format_percent <- function(v) ifelse(is.na(v), "NA", sprintf("%+.1f%%", 100 * v))

unclass_results <- function(x) {
  y <- x
  data.table::setattr(y, "class", c("data.table", "data.frame"))
  y
}

#' Summarise an experiment analysis
#'
#' @param object An [analyze_experiment()] result.
#' @param x A `summary.experiment_results` object.
#' @param digits Significant digits.
#' @param ... Ignored.
#' @return `summary()`: the results with class `summary.experiment_results`
#'   in front; printed, it shows the analysis (as `print()`), the full table
#'   of tests (statistic, df, difference and its interval) and the SRM
#'   table.
#' @examples
#' set.seed(1)
#' n <- 2000
#' exposures <- data.frame(user_id = 1:n, experiment_id = "checkout",
#'                         variant = rep(c("control", "treatment"), each = n / 2),
#'                         exposure_time = as.POSIXct("2026-03-01", tz = "UTC"))
#' buyers <- sample(n, 300)
#' events <- data.frame(user_id = buyers, event_name = "purchase",
#'                      event_time = as.POSIXct("2026-03-02", tz = "UTC"),
#'                      event_value = round(rexp(300, 1 / 40), 2))
#' metrics <- read_metrics('{
#'   "conversion_7d": {"event": {"name": "purchase"}, "aggregation": "binary",
#'                     "window": {"start": "0 days", "end": "7 days"}},
#'   "revenue_7d":    {"event": {"name": "purchase"}, "aggregation": "sum",
#'                     "window": {"start": "0 days", "end": "7 days"}}}')
#' res <- analyze_experiment(exposures, events, metrics)
#' summary(res)
#' @export
summary.experiment_results <- function(object, ...) {
  out <- data.table::copy(object)
  for (a in c("srm", "units", "settings")) data.table::setattr(out, a, attr(object, a))
  data.table::setattr(out, "class", c("summary.experiment_results", class(object)))
  out
}

#' @rdname summary.experiment_results
#' @export
print.summary.experiment_results <- function(x, digits = 4L, ...) {
  y <- x
  data.table::setattr(y, "class", setdiff(class(x), "summary.experiment_results"))
  print.experiment_results(y, digits = digits)
  cat("\nTests:\n")
  tab <- as.data.frame(unclass_results(y))
  keep <- intersect(c("experiment_id", "metric_id", "segment", "variant", "test", "statistic", "df", "p.value",
                      "p.value.unadjusted", "estimate", "conf.low", "conf.high", "n_control", "n_variant",
                      "clusters_control", "clusters_variant", "variance_reduction"), names(tab))
  print(format(tab[keep], digits = digits), row.names = FALSE)
  cat("\nSample-ratio mismatch:\n")
  print(as.data.frame(attr(x, "srm")), row.names = FALSE, digits = digits)
  cat("\n")
  invisible(x)
}

#' Tidy an experiment analysis
#'
#' @param x An [analyze_experiment()] result.
#' @param row.names,optional Ignored (for the `as.data.frame()` generic).
#' @param ... Ignored.
#' @return `tidy()`: a data.table with broom's names, one row per test:
#'   `experiment_id`, (`segment`), `term` (the metric id), `variant`,
#'   `control`, `test`, `estimate` (the difference), `std.error`,
#'   `statistic`, `df`, `p.value`, `conf.low`, `conf.high`, `lift`,
#'   `lift.conf.low`, `lift.conf.high`, `significant`. `std.error` is the
#'   standard error of the difference behind its interval (Welch's, the
#'   cluster-robust or the delta-method one); for binary metrics tested by
#'   chi-square, the unpooled Wald standard error of `prop.test()`'s
#'   interval.
#'   `as.data.frame()`: the whole results table as a plain data frame.
#' @examples
#' set.seed(1)
#' n <- 2000
#' exposures <- data.frame(user_id = 1:n, experiment_id = "checkout",
#'                         variant = rep(c("control", "treatment"), each = n / 2),
#'                         exposure_time = as.POSIXct("2026-03-01", tz = "UTC"))
#' buyers <- sample(n, 300)
#' events <- data.frame(user_id = buyers, event_name = "purchase",
#'                      event_time = as.POSIXct("2026-03-02", tz = "UTC"),
#'                      event_value = round(rexp(300, 1 / 40), 2))
#' metrics <- read_metrics('{
#'   "conversion_7d": {"event": {"name": "purchase"}, "aggregation": "binary",
#'                     "window": {"start": "0 days", "end": "7 days"}},
#'   "revenue_7d":    {"event": {"name": "purchase"}, "aggregation": "sum",
#'                     "window": {"start": "0 days", "end": "7 days"}}}')
#' res <- analyze_experiment(exposures, events, metrics)
#' tidy(res)
#' as.data.frame(res)
#' @method tidy experiment_results
#' @export
tidy.experiment_results <- function(x, ...) {
  tab <- data.table::as.data.table(as.data.frame(unclass_results(data.table::copy(x))))
  tab[, std.error := results_std_error(tab, attr(x, "settings")$conf.level)]
  data.table::setnames(tab, "metric_id", "term")
  keep <- intersect(c("experiment_id", "segment", "term", "variant", "control", "test", "estimate", "std.error",
                      "statistic", "df", "p.value", "conf.low", "conf.high", "lift", "lift.conf.low",
                      "lift.conf.high", "significant"), names(tab))
  tab[, keep, with = FALSE]
}

#' @rdname tidy.experiment_results
#' @export
as.data.frame.experiment_results <- function(x, row.names = NULL, optional = FALSE, ...) {
  tab <- as.data.frame(unclass_results(data.table::copy(x)))
  attr(tab, "srm") <- attr(tab, "units") <- attr(tab, "settings") <- NULL
  if (!is.null(row.names)) row.names(tab) <- row.names
  tab
}

#' Glance at an experiment analysis
#'
#' @param x An [analyze_experiment()] result.
#' @param ... Ignored.
#' @return A data.table, one row per experiment: `experiment_id`,
#'   `control`, `units`, `variants` (number of variants, control included),
#'   `metrics`, `tests`, `significant` (tests significant), `srm.p.value`,
#'   `srm`, and `clusters` when clustered.
#' @examples
#' set.seed(1)
#' n <- 2000
#' exposures <- data.frame(user_id = 1:n, experiment_id = "checkout",
#'                         variant = rep(c("control", "treatment"), each = n / 2),
#'                         exposure_time = as.POSIXct("2026-03-01", tz = "UTC"))
#' buyers <- sample(n, 300)
#' events <- data.frame(user_id = buyers, event_name = "purchase",
#'                      event_time = as.POSIXct("2026-03-02", tz = "UTC"),
#'                      event_value = round(rexp(300, 1 / 40), 2))
#' metrics <- read_metrics('{
#'   "conversion_7d": {"event": {"name": "purchase"}, "aggregation": "binary",
#'                     "window": {"start": "0 days", "end": "7 days"}},
#'   "revenue_7d":    {"event": {"name": "purchase"}, "aggregation": "sum",
#'                     "window": {"start": "0 days", "end": "7 days"}}}')
#' res <- analyze_experiment(exposures, events, metrics)
#' glance(res)
#' @method glance experiment_results
#' @export
glance.experiment_results <- function(x, ...) {
  settings <- attr(x, "settings")
  srm_tab <- attr(x, "srm")
  ids <- unique(x$experiment_id)
  out <- data.table::rbindlist(lapply(ids, function(e) {
    rows <- x[x$experiment_id == e]
    at <- as.character(srm_tab$experiment_id) == as.character(e)
    s <- srm_tab[at]
    data.table::data.table(experiment_id = e, control = settings$control[[as.character(e)]],
                           units = sum(as.numeric(strsplit(s$units, " / ", fixed = TRUE)[[1L]])),
                           variants = length(strsplit(s$variants, " / ", fixed = TRUE)[[1L]]),
                           metrics = data.table::uniqueN(rows$metric_id), tests = nrow(rows),
                           significant = sum(rows$significant), srm.p.value = s$p.value, srm = s$srm)
  }))
  if (!is.null(settings$cluster)) out[, clusters := unname(settings$clusters[as.character(experiment_id)])]
  out
}

#' Forest plot of the lifts of an experiment analysis
#'
#' One panel per experiment: each metric x variant (x segment) is a row,
#' its relative lift a point and its interval a line; significant results
#' are filled and coloured, and the dotted line marks no change.
#'
#' @param x An [analyze_experiment()] result.
#' @param experiment_id Optional: the experiments to draw.
#' @param ... Passed to [graphics::plot()] (such as `main` or `xlim`).
#' @return `x`, invisibly.
#' @examples
#' set.seed(1)
#' n <- 2000
#' exposures <- data.frame(user_id = 1:n, experiment_id = "checkout",
#'                         variant = rep(c("control", "treatment"), each = n / 2),
#'                         exposure_time = as.POSIXct("2026-03-01", tz = "UTC"))
#' buyers <- sample(n, 300)
#' events <- data.frame(user_id = buyers, event_name = "purchase",
#'                      event_time = as.POSIXct("2026-03-02", tz = "UTC"),
#'                      event_value = round(rexp(300, 1 / 40), 2))
#' metrics <- read_metrics('{
#'   "conversion_7d": {"event": {"name": "purchase"}, "aggregation": "binary",
#'                     "window": {"start": "0 days", "end": "7 days"}},
#'   "revenue_7d":    {"event": {"name": "purchase"}, "aggregation": "sum",
#'                     "window": {"start": "0 days", "end": "7 days"}}}')
#' res <- analyze_experiment(exposures, events, metrics)
#' plot(res)
#' @export
plot.experiment_results <- function(x, experiment_id = NULL, ...) {
  ids <- unique(x$experiment_id)
  if (!is.null(experiment_id)) {
    bad <- setdiff(as.character(experiment_id), as.character(ids))
    if (length(bad)) abort(sprintf("`experiment_id` \"%s\" is not in the results; they hold %s.", bad[1L],
                                   paste0("\"", ids, "\"", collapse = ", ")))
    ids <- ids[as.character(ids) %in% as.character(experiment_id)]
  }
  level <- attr(x, "settings")$conf.level
  if (is.null(level)) level <- 0.95
  old <- graphics::par(mfrow = c(length(ids), 1L), mar = c(4, 12, 3, 1))
  on.exit(graphics::par(old))
  for (e in ids) {
    rows <- x[x$experiment_id == e]
    k <- nrow(rows)
    labels <- if (data.table::uniqueN(rows$variant) > 1L) paste(rows$metric_id, rows$variant, sep = ": ")
              else rows$metric_id
    if ("segment" %in% names(rows)) labels <- paste0(labels, " [", rows$segment, "]")
    lo <- 100 * rows$lift.conf.low
    hi <- 100 * rows$lift.conf.high
    est <- 100 * rows$lift
    range <- range(c(0, lo, hi, est), finite = TRUE, na.rm = TRUE)
    if (!all(is.finite(range))) range <- c(-1, 1)
    y <- rev(seq_len(k))
    args <- utils::modifyList(list(x = range, y = c(1, k), type = "n", xlim = range,
                                   ylim = c(0.5, k + 0.5), yaxt = "n",
                                   xlab = sprintf("lift (%%) with %g%% interval", 100 * level), ylab = "",
                                   main = sprintf("Experiment \"%s\"", e)), list(...))
    do.call(graphics::plot, args)
    graphics::abline(v = 0, lty = 3)
    ok <- is.finite(lo) & is.finite(hi)
    graphics::segments(lo[ok], y[ok], hi[ok], y[ok], lwd = 2, col = ifelse(rows$significant[ok], "#d95f02", "grey40"))
    graphics::points(est, y, pch = ifelse(rows$significant, 19, 21), bg = "white",
                     col = ifelse(rows$significant, "#d95f02", "black"))
    graphics::axis(2, at = y, labels = labels, las = 1, cex.axis = 0.8)
  }
  invisible(x)
}
