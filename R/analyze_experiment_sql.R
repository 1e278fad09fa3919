## analyze_experiment() on database tables: the per-unit table stays in the
## database (a query from compute_metrics()), and only statistics come back:
## per experiment and arm the count, sums and centred cross-products of the
## metric columns (one GROUP BY); for a clustered analysis the per-cluster
## statistics of cluster_stats() on the connection, and for clustered ratio
## metrics the per-cluster sums. The tests are then those of the in-memory
## analysis, computed from these statistics.

## The tests of every experiment x metric x variant of an
## experiment_units_sql table (see analyze_units()).
analyze_units_sql <- function(units, metrics, control = NULL, cluster = NULL, covariate = NULL,
                              experiment_id = NULL, alpha = 0.05, adjust = "none", split = NULL,
                              correct = TRUE, var.equal = FALSE, type = "HC1", conf.level = 0.95) {
  con <- dbplyr::remote_con(units)
  q <- function(x) sql_id(con, x)
  cols <- units_columns(units)
  e_col <- q(cols[["experiment_id"]])
  v_col <- q(cols[["variant"]])
  defs <- metric_table(metrics)
  cov_map <- covariate_map(covariate, defs)
  posts <- defs[!defs$pre, , drop = FALSE]
  if (!nrow(posts)) abort("`metrics` has no metric measured after exposure to analyse.")
  from <- paste0("(", as.character(dbplyr::sql_render(units)), ")")
  if (!is.null(experiment_id)) {
    from <- paste0("(SELECT * FROM ", from, " cab_r WHERE ", sql_in(con, e_col, experiment_id), ")")
  }
  ## the columns whose moments are needed: the plain metrics analysed, their
  ## covariates, and the numerators and denominators of the ratio metrics
  ratios <- posts[posts$aggregation == "ratio", , drop = FALSE]
  needed <- unique(c(posts$id[posts$aggregation != "ratio"], unname(cov_map), ratios$numerator,
                     ratios$denominator))
  mom <- sql_arm_moments(con, from, e_col, v_col, needed)
  if (!nrow(mom$keys)) abort("the units table has no rows: no experiment to analyse.")
  if (!is.null(experiment_id)) {
    absent <- setdiff(as.character(experiment_id), as.character(mom$keys$e))
    if (length(absent)) {
      abort(sprintf("`experiment_id` \"%s\" is not in the units table; its experiments are %s.", absent[1L],
                    paste0("\"", utils::head(unique(as.character(mom$keys$e)), 20L), "\"", collapse = ", ")))
    }
  }
  ids <- unique(mom$keys$e)
  ids <- ids[order(ids, method = "radix")]
  controls <- experiment_arms(lapply(ids, function(e) mom$keys$v[mom$keys$e == e]), ids, control)
  counts <- data.table::data.table(experiment_id = mom$keys$e, variant = as.character(mom$keys$v),
                                   n = vapply(mom$arms, `[[`, 0, "n"))
  srm_tab <- tidy(srm_from_counts(counts, split, arms = controls))
  cl_counts <- NULL
  if (!is.null(cluster)) {
    cl_col <- q(cluster)
    cl_counts <- sql_query(con, paste0(
      "SELECT ", e_col, " AS cab_e, ", v_col, " AS cab_v, COUNT(DISTINCT ", cl_col, ") AS cab_g FROM ",
      from, " cab_u GROUP BY ", e_col, ", ", v_col), "the number of clusters of each variant")
    G <- sql_query(con, paste0("SELECT ", e_col, " AS cab_e, COUNT(DISTINCT ", cl_col, ") AS cab_g FROM ",
                               from, " cab_u GROUP BY ", e_col), "the number of clusters")
  }
  rows <- list()
  few <- list()
  for (e in ids) {
    arms <- controls[[as.character(e)]]
    at_e <- which(as.character(mom$keys$e) == as.character(e))
    value_of <- function(arm) mom$keys$v[at_e][as.character(mom$keys$v[at_e]) == arm][1L]
    arm_mom <- function(arm) mom$arms[[at_e[as.character(mom$keys$v[at_e]) == arm][1L]]]
    ctl <- arms[1L]
    mc <- arm_mom(ctl)
    out <- list()
    for (v in arms[-1L]) {
      mv <- arm_mom(v)
      pair <- if (!is.null(cluster)) {
        sprintf("(SELECT * FROM %s cab_p WHERE %s = %s AND %s)", from, e_col, sql_value(con, e),
                sql_in(con, v_col, list(value_of(ctl), value_of(v))))
      }
      treat_sql <- sprintf("CASE WHEN %s = %s THEN 1 ELSE 0 END", v_col, sql_value(con, value_of(v)))
      for (k in seq_len(nrow(posts))) {
        m <- posts[k, ]
        pre <- if (m$id %in% names(cov_map)) cov_map[[m$id]] else NULL
        r <- collect_notes(compare_metric_sql(con, m, mc, mv, ctl, v, pre, pair, treat_sql, cluster,
                                              correct, var.equal, type, conf.level))
        few <- c(few, r$notes)
        r <- r$value
        r$metric_id <- m$id
        r$display_name <- m$display_name
        r$control <- ctl
        r$variant <- v
        r$n_control <- mc$n
        r$n_variant <- mv$n
        if (!is.null(cluster)) {
          g_of <- function(arm) {
            as.integer(cl_counts$cab_g[as.character(cl_counts$cab_e) == as.character(e) &
                                         as.character(cl_counts$cab_v) == arm])
          }
          r$clusters_control <- g_of(ctl)
          r$clusters_variant <- g_of(v)
        }
        if (length(cov_map) && is.null(r$variance_reduction)) r$variance_reduction <- NA_real_
        out[[length(out) + 1L]] <- r
      }
    }
    tab <- data.table::rbindlist(out, use.names = TRUE, fill = TRUE)
    tab[, experiment_id := e]
    if (adjust != "none") {
      p <- tab$p.value
      tab[, p.value.unadjusted := p]
      tab[, p.value := stats::p.adjust(p, method = adjust)]
    }
    rows[[length(rows) + 1L]] <- tab
  }
  results_table(rows, srm_tab, units, few, controls, list(
    alpha = alpha, adjust = adjust, conf.level = conf.level, cluster = cluster,
    clusters = if (!is.null(cluster)) stats::setNames(as.integer(G$cab_g), as.character(G$cab_e)),
    type = if (!is.null(cluster)) type, correct = correct, var.equal = var.equal,
    covariate = cov_map, segment = NULL))
}

## Per experiment and arm: the count, the means and the centred
## cross-products of columns `needed`, and their minima, in one query (the
## arm means by window functions, so the products are centred in the
## database). Returns list(keys = data.frame(e, v) in the database's types,
## arms = a list of moments, one per row of keys).
sql_arm_moments <- function(con, from, e_col, v_col, needed) {
  q <- function(x) sql_id(con, x)
  k <- length(needed)
  c_ <- paste0("cab_c", seq_len(k))
  m_ <- paste0("cab_m", seq_len(k))
  part <- sprintf("PARTITION BY %s, %s", e_col, v_col)
  dtype <- sql_double_type(con)
  inner <- paste0("SELECT ", e_col, " AS cab_e, ", v_col, " AS cab_v",
                  paste0(", CAST(", q(needed), " AS ", dtype, ") AS ", c_, collapse = ""),
                  paste0(", SUM(CAST(", q(needed), " AS ", dtype, ")) OVER (", part, ") / COUNT(*) OVER (",
                         part, ") AS ", m_, collapse = ""),
                  " FROM ", from, " cab_u")
  pairs <- which(upper.tri(diag(k), diag = TRUE), arr.ind = TRUE)
  products <- sprintf(", SUM((%s - %s) * (%s - %s)) AS cab_p%d_%d", c_[pairs[, 1L]], m_[pairs[, 1L]],
                      c_[pairs[, 2L]], m_[pairs[, 2L]], pairs[, 1L], pairs[, 2L])
  r <- sql_query(con, paste0(
    "SELECT cab_e, cab_v, COUNT(*) AS cab_n", paste0(", SUM(", c_, ") AS cab_s", seq_len(k), collapse = ""),
    paste0(", MIN(", c_, ") AS cab_min", seq_len(k), collapse = ""),
    if (k) paste(products, collapse = ""),
    " FROM (", inner, ") cab_w GROUP BY cab_e, cab_v"), "the statistics of each variant")
  arms <- lapply(seq_len(nrow(r)), function(i) {
    n <- as.double(r$cab_n[i])
    S <- matrix(0, k, k, dimnames = list(needed, needed))
    for (p in seq_len(nrow(pairs))) {
      a <- pairs[p, 1L]
      b <- pairs[p, 2L]
      S[a, b] <- S[b, a] <- as.double(r[[sprintf("cab_p%d_%d", a, b)]][i])
    }
    list(n = n,
         mean = stats::setNames(vapply(seq_len(k), function(j) as.double(r[[paste0("cab_s", j)]][i]), 0) / n, needed),
         min = stats::setNames(vapply(seq_len(k), function(j) as.double(r[[paste0("cab_min", j)]][i]), 0), needed),
         S = S)
  })
  list(keys = data.frame(e = r$cab_e, v = r$cab_v, stringsAsFactors = FALSE), arms = arms)
}

## One comparison from the statistics: variant v against the control for
## metric m (see compare_metric()). `pair`: for a clustered analysis, the
## rows of the two arms as a derived table; `treat_sql` the indicator.
compare_metric_sql <- function(con, m, mc, mv, ctl, v, pre, pair, treat_sql, cluster, correct,
                               var.equal, type, level) {
  if (mv$n < 2 || mc$n < 2) return(undefined_row(if (m$aggregation == "ratio") "delta" else "Welch t"))
  if (m$aggregation == "ratio") {
    if (is.null(cluster)) return(compare_ratio_moments(mc, mv, m$numerator, m$denominator, ctl, v, level))
    q <- function(x) sql_id(con, x)
    sums <- sql_query(con, paste0(
      "SELECT ", q(cluster), " AS cab_cl, ", treat_sql, " AS cab_treat, SUM(", q(m$numerator), ") AS cab_num, SUM(",
      q(m$denominator), ") AS cab_den FROM ", pair, " cab_q GROUP BY ", q(cluster), ", ", treat_sql),
      sprintf("the cluster sums of metric \"%s\"", m$id))
    return(compare_ratio(sums$cab_num, sums$cab_den, as.double(sums$cab_treat) == 1, ctl, v, sums$cab_cl,
                         level))
  }
  pooled <- pool_moments(mc, mv)
  if (!is.null(cluster)) {
    test <- if (is.null(pre)) "cluster t" else "CUPED cluster t"
    q <- function(x) sql_id(con, x)
    dtype <- sql_double_type(con)
    rows <- DBI::SQL(paste0(
      "(SELECT CAST(", q(m$id), " AS ", dtype, ") AS cab_y, CAST(", treat_sql, " AS ", dtype, ") AS cab_treat",
      if (!is.null(pre)) paste0(", CAST(", q(pre), " AS ", dtype, ") AS cab_x"),
      ", ", q(cluster), " AS cab_cl FROM ", pair, " cab_q) cab_t"))
    st <- cluster_stats(con, if (is.null(pre)) cab_y ~ cab_treat else cab_y ~ cab_treat + cab_x,
                        cluster = "cab_cl", table = rows)
    if (pooled$S[m$id, m$id] == 0 || length(st$cluster) < 2L) return(undefined_row(test))
    fit <- cluster_lm(st, type = type)
    xbar <- if (!is.null(pre)) pooled$mean[[pre]]
    out <- cluster_fit_row(fit, "cab_treat", if (!is.null(pre)) "cab_x", xbar, level, test)
    if (!is.null(pre)) {
      s <- stats::coef(fit)[["cab_x"]]
      S <- pooled$S
      out$variance_reduction <- 1 - (S[m$id, m$id] - 2 * s * S[m$id, pre] + s^2 * S[pre, pre]) / S[m$id, m$id]
    }
    return(out)
  }
  if (!is.null(pre)) return(compare_cuped_moments(mc, mv, pooled, m$id, pre, var.equal, level))
  var_of <- function(a) a$S[m$id, m$id] / (a$n - 1)
  if (m$aggregation == "binary") {
    return(compare_binary(mc$mean[[m$id]] * mc$n, mc$n, mv$mean[[m$id]] * mv$n, mv$n,
                          var_of(mc), var_of(mv), correct, level))
  }
  compare_means(mc$mean[[m$id]], var_of(mc), mc$n, mv$mean[[m$id]], var_of(mv), mv$n,
                var.equal, level, if (var.equal) "Student t" else "Welch t")
}

## The delta-method test of a ratio metric from the arms' moments of its
## numerator and denominator, as ratio_test(method = "delta") on the units.
compare_ratio_moments <- function(mc, mv, num, den, ctl, v, level) {
  arms <- list(mc, mv)
  if (any(vapply(arms, function(a) a$min[[den]] < 0 || a$mean[[den]] == 0, TRUE))) {
    return(undefined_row("delta"))
  }
  stats <- do.call(rbind, lapply(arms, function(a) {
    r <- a$mean[[num]] / a$mean[[den]]
    s2 <- (a$S[num, num] - 2 * r * a$S[num, den] + r^2 * a$S[den, den]) / a$mean[[den]]^2
    data.frame(n = a$n, numerator = a$mean[[num]] * a$n, denominator = a$mean[[den]] * a$n, ratio = r,
               std.error = sqrt(max(s2, 0) / (a$n * (a$n - 1))))
  }))
  stats$group <- c(ctl, v)
  cmp <- tryCatch(ratio_delta(stats, 1L, level, "two.sided"), clusterab_error = function(e) NULL)
  if (is.null(cmp)) return(undefined_row("delta"))
  ratio_row("delta", cmp, stats, ctl, v)
}

## analyze_experiment() with a dbplyr table as `exposures`: the log tables
## (then compute_metrics() writes the per-unit query) or compute_metrics()'s
## experiment_units_sql table.
analyze_experiment_sql <- function(exposures, events, metrics, experiment_id, control, cluster,
                                   covariate, users, segment, alpha, adjust, split, correct,
                                   var.equal, type, conf.level, columns) {
  if (!is.null(segment) || !is.null(users)) {
    abort("`segment` and `users` are not supported for database tables yet: bring the per-unit table into R with dplyr::collect(compute_metrics(...)) and analyse that, or analyse without segments.")
  }
  cluster_name <- NULL
  if (!is.null(cluster)) {
    if (!inherits(cluster, "formula") && !(is.character(cluster) && length(cluster) == 1L)) {
      abort("`cluster` must name a column (a string such as \"household_id\" or ~ household_id) when the data are database tables.")
    }
    cluster_name <- cluster_column_name(cluster)
  }
  units <- exposures
  if (inherits(exposures, "experiment_units_sql")) {
    if (!is.null(cluster_name) && !cluster_name %in% colnames(units)) {
      abort(sprintf("`cluster` = \"%s\" is not a column of the experiment_units_sql table; call compute_metrics(cluster = \"%s\") first.",
                    cluster_name, cluster_name))
    }
    if (is.null(metrics)) metrics <- attr(units, "metrics")
  } else {
    if (is.null(events) || is.null(metrics)) {
      abort("`events` and `metrics` are required unless `exposures` is a per-unit table from compute_metrics().")
    }
    units <- compute_metrics(exposures, events, metrics, columns = columns, experiment_id = experiment_id,
                             cluster = cluster_name)
    metrics <- attr(units, "metrics")
    experiment_id <- NULL
  }
  if (!inherits(metrics, "clusterab_metrics")) metrics <- read_metrics(metrics)
  if (!is.null(cluster_name)) type <- check_vcov_type(type, "HC1")
  analyze_units_sql(units, metrics, control = control, cluster = cluster_name, covariate = covariate,
                    experiment_id = experiment_id, alpha = alpha, adjust = adjust, split = split,
                    correct = correct, var.equal = var.equal, type = type, conf.level = conf.level)
}
