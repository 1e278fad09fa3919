## analyze_experiment() on database tables: the per-unit table stays in the
## database (a query from compute_metrics()), and only statistics come back:
## per experiment and arm the count, sums and centred cross-products of the
## metric columns (one GROUP BY); for a clustered analysis the same per
## experiment, arm and cluster (a second GROUP BY), from which the
## per-cluster statistics of each comparison are assembled as cluster_stats()
## would compute them. The tests are then those of the in-memory analysis,
## computed from these statistics. Each query evaluates the per-unit query
## once, so the analysis costs two passes over the logs whatever the number
## of metrics and variants.

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
    check_experiment_ids(experiment_id)
    from <- paste0("(SELECT * FROM ", from, " cab_r WHERE ", sql_in(con, e_col, experiment_id), ")")
  }
  ## the columns whose moments are needed: the plain metrics analysed, their
  ## covariates, and the numerators and denominators of the ratio metrics
  ratios <- posts[posts$aggregation == "ratio", , drop = FALSE]
  needed <- unique(c(posts$id[posts$aggregation != "ratio"], unname(cov_map), ratios$numerator,
                     ratios$denominator))
  mom <- sql_arm_moments(con, from, e_col, v_col, needed)
  if (!is.null(experiment_id)) {
    absent <- setdiff(as.character(experiment_id), as.character(mom$keys$e))
    if (length(absent)) {
      have <- sql_query(con, paste0("SELECT DISTINCT ", e_col, " AS cab_e FROM (",
                                    as.character(dbplyr::sql_render(units)), ") cab_r"), "the experiment ids")$cab_e
      abort(sprintf("`experiment_id` \"%s\" is not in the units table; its experiments are %s.", absent[1L],
                    paste0("\"", utils::head(sort(as.character(have)), 20L), "\"", collapse = ", ")))
    }
  }
  if (!nrow(mom$keys)) abort("the units table has no rows: no experiment to analyse.")
  ids <- unique(mom$keys$e)
  ids <- ids[order(ids, method = "radix")]
  controls <- experiment_arms(lapply(ids, function(e) mom$keys$v[mom$keys$e == e]), ids, control)
  counts <- data.table::data.table(experiment_id = mom$keys$e, variant = as.character(mom$keys$v),
                                   n = vapply(mom$arms, `[[`, 0, "n"))
  srm_tab <- tidy(srm_from_counts(counts, split, arms = controls))
  cs <- if (!is.null(cluster)) sql_cluster_sums(con, from, e_col, v_col, q(cluster), needed)
  rows <- list()
  few <- list()
  for (e in ids) {
    arms <- controls[[as.character(e)]]
    at_e <- which(as.character(mom$keys$e) == as.character(e))
    arm_mom <- function(arm) mom$arms[[at_e[as.character(mom$keys$v[at_e]) == arm][1L]]]
    ctl <- arms[1L]
    mc <- arm_mom(ctl)
    out <- list()
    for (v in arms[-1L]) {
      mv <- arm_mom(v)
      pair <- if (!is.null(cluster)) {
        cluster_rows(cs, as.character(cs$e) == as.character(e) & as.character(cs$v) %in% c(ctl, v))
      }
      for (k in seq_len(nrow(posts))) {
        m <- posts[k, ]
        pre <- if (m$id %in% names(cov_map)) cov_map[[m$id]] else NULL
        r <- collect_notes(compare_metric_sql(m, mc, mv, ctl, v, pre, pair, cluster, correct, var.equal,
                                              type, conf.level))
        few <- c(few, r$notes)
        clusters <- if (!is.null(cluster)) c(sum(as.character(pair$v) == ctl), sum(as.character(pair$v) == v))
        out[[length(out) + 1L]] <- labelled_row(r$value, m, ctl, v, c(mc$n, mv$n), clusters, length(cov_map) > 0L)
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
    clusters = if (!is.null(cluster)) {
      vapply(as.character(ids), function(e) length(unique(cs$cl[as.character(cs$e) == e])), 0L)
    },
    type = if (!is.null(cluster)) type, correct = correct, var.equal = var.equal,
    covariate = cov_map, segment = NULL))
}

## Per experiment and arm: the count, the means, the minima and the
## centred cross-products of columns `needed` (see sql_group_moments()).
## Returns list(keys = data.frame(e, v) in the database's types, arms = a
## list of moments, one per row of keys).
sql_arm_moments <- function(con, from, e_col, v_col, needed) {
  g <- sql_group_moments(con, from, c(cab_e = e_col, cab_v = v_col), c(e_col, v_col), needed,
                         "the statistics of each variant")
  arms <- lapply(seq_along(g$n), function(i) {
    list(n = g$n[i], mean = g$centre[i, ] + g$sums[i, ] / g$n[i], min = g$min[i, ],
         S = matrix(g$products[i, , ], length(needed), length(needed), dimnames = list(needed, needed)))
  })
  list(keys = data.frame(e = g$keys$cab_e, v = g$keys$cab_v, stringsAsFactors = FALSE), arms = arms)
}

## One query: per group of `keys` (named SQL expressions), the count, and
## the minima, sums and cross-products of columns `needed` centred at their
## means over `partition` (window functions, so the products are centred in
## the database). Returns list(keys (a data frame, in the database's types),
## n, centre, sums, min (rows x columns), products (rows x columns x
## columns)).
sql_group_moments <- function(con, from, keys, partition, needed, what) {
  q <- function(x) sql_id(con, x)
  k <- length(needed)
  c_ <- paste0("cab_c", seq_len(k))
  m_ <- paste0("cab_m", seq_len(k))
  part <- paste("PARTITION BY", paste(partition, collapse = ", "))
  inner <- paste0("SELECT ", paste(keys, "AS", names(keys), collapse = ", "),
                  paste0(", ", sql_double(con, q(needed)), " AS ", c_, collapse = ""),
                  paste0(", SUM(", sql_double(con, q(needed)), ") OVER (", part, ") / COUNT(*) OVER (",
                         part, ") AS ", m_, collapse = ""),
                  " FROM ", from, " cab_u")
  pairs <- which(upper.tri(diag(k), diag = TRUE), arr.ind = TRUE)
  group <- paste(names(keys), collapse = ", ")
  r <- sql_query(con, paste0(
    "SELECT ", group, ", COUNT(*) AS cab_n",
    paste0(", MIN(", m_, ") AS cab_mean", seq_len(k), collapse = ""),
    paste0(", SUM(", c_, " - ", m_, ") AS cab_s", seq_len(k), collapse = ""),
    paste0(", MIN(", c_, ") AS cab_min", seq_len(k), collapse = ""),
    paste(sprintf(", SUM((%s - %s) * (%s - %s)) AS cab_p%d_%d", c_[pairs[, 1L]], m_[pairs[, 1L]],
                  c_[pairs[, 2L]], m_[pairs[, 2L]], pairs[, 1L], pairs[, 2L]), collapse = ""),
    " FROM (", inner, ") cab_w GROUP BY ", group), what)
  get <- function(prefix) {
    matrix(vapply(seq_len(k), function(j) as.double(r[[paste0(prefix, j)]]), numeric(nrow(r))),
           nrow(r), k, dimnames = list(NULL, needed))
  }
  P <- array(0, c(nrow(r), k, k), dimnames = list(NULL, needed, needed))
  for (p in seq_len(nrow(pairs))) {
    a <- pairs[p, 1L]
    b <- pairs[p, 2L]
    P[, a, b] <- P[, b, a] <- as.double(r[[sprintf("cab_p%d_%d", a, b)]])
  }
  list(keys = r[names(keys)], n = as.double(r$cab_n), centre = get("cab_mean"), sums = get("cab_s"),
       min = get("cab_min"), products = P)
}

## One comparison from the statistics: variant v against the control for
## metric m (see compare_metric()). `pair`: for a clustered analysis, the
## rows of sql_cluster_sums() of the two arms.
compare_metric_sql <- function(m, mc, mv, ctl, v, pre, pair, cluster, correct, var.equal, type, level) {
  if (mv$n < 2 || mc$n < 2) return(undefined_row(if (m$aggregation == "ratio") "delta" else "Welch t"))
  treat <- as.character(pair$v) == v
  if (m$aggregation == "ratio") {
    if (is.null(cluster)) return(compare_ratio_moments(mc, mv, m$numerator, m$denominator, ctl, v, level))
    total <- function(col) pair$sums[, col] + pair$n * pair$mean[, col]
    return(compare_ratio(total(m$numerator), total(m$denominator), treat, ctl, v, pair$cl, level))
  }
  pooled <- pool_moments(mc, mv)
  if (!is.null(cluster)) {
    test <- if (is.null(pre)) "cluster t" else "CUPED cluster t"
    if (pooled$S[m$id, m$id] == 0 || length(unique(pair$cl)) < 2L) return(undefined_row(test))
    fit <- cluster_lm(pair_cluster_stats(pair, treat, m$id, pre), type = type)
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

## Per experiment, arm and cluster: the count, and the sums and
## cross-products of columns `needed` centred at the experiment's means (see
## sql_group_moments()). Returns list(e, v, cl: the keys in the database's
## types; n; mean (the centres), sums: rows x columns; products: rows x
## columns x columns).
sql_cluster_sums <- function(con, from, e_col, v_col, cl_col, needed) {
  g <- sql_group_moments(con, from, c(cab_e = e_col, cab_v = v_col, cab_cl = cl_col), e_col, needed,
                         "the statistics of each cluster")
  if (anyNA(g$keys$cab_cl)) {
    abort("the cluster column has missing values in the per-unit table; give every unit a cluster.")
  }
  list(e = g$keys$cab_e, v = g$keys$cab_v, cl = g$keys$cab_cl, n = g$n, mean = g$centre, sums = g$sums,
       products = g$products)
}

## The rows `keep` of sql_cluster_sums()'s result.
cluster_rows <- function(cs, keep) {
  list(e = cs$e[keep], v = cs$v[keep], cl = cs$cl[keep], n = cs$n[keep], mean = cs$mean[keep, , drop = FALSE],
       sums = cs$sums[keep, , drop = FALSE], products = cs$products[keep, , , drop = FALSE])
}

## The per-cluster statistics of the regression of metric y on the variant
## indicator (and the covariate x), as cluster_stats(cab_y ~ cab_treat [+
## cab_x], cluster = ...) would give them on the rows of the two arms, from
## the per-arm-and-cluster sums `pair` (`treat`: which rows are the variant).
## The centring is the experiment's means (0 for the indicator): the fit
## does not depend on it.
pair_cluster_stats <- function(pair, treat, y, x) {
  cols <- c(x, y)
  t <- as.double(treat)
  ## z = (1, treat, x, y): the sums of z_a z_b of each (arm, cluster) row
  first <- cbind(pair$n, pair$n * t, pair$sums[, cols, drop = FALSE])
  z_names <- c("(1)", "cab_treat", if (!is.null(x)) "cab_x", "cab_y")
  q <- length(z_names)
  product <- function(a, b) {
    if (a <= 2L && b <= 2L) return(if (a == 1L && b == 1L) pair$n else pair$n * t)
    if (a <= 2L) return(first[, b] * (if (a == 2L) t else 1))
    pair$products[, cols[a - 2L], cols[b - 2L]]
  }
  rows <- do.call(cbind, lapply(seq_len(q), function(b) {
    do.call(cbind, lapply(seq_len(b), function(a) product(a, b)))
  }))
  ids <- unique(pair$cl)
  ids <- ids[order(ids, method = "radix")]
  g <- match(pair$cl, ids)
  M <- t(rowsum(rows, g, reorder = TRUE))
  dimnames(M) <- NULL
  n <- as.vector(rowsum(pair$n, g, reorder = TRUE))
  shift <- stats::setNames(c(0, pair$mean[1L, cols]), z_names[-1L])
  new_cluster_stats(moments = list("1" = M), n = as.integer(n), cluster = ids, cluster_name = "cab_cl",
                    z_names = z_names, intercept = TRUE, shift = shift, weighted = FALSE,
                    weight_varies = FALSE, nobs = as.integer(sum(n)), dropped = 0L,
                    formula = if (is.null(x)) cab_y ~ cab_treat else cab_y ~ cab_treat + cab_x)
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
  cluster_name <- if (!is.null(cluster)) cluster_column_name(cluster)
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
