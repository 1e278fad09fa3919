## analyze_experiment(): every test against R's reference computed here on
## the per-unit table of compute_metrics(); the metrics themselves are
## tested in test-metrics.R.

logs <- sim_experiment_logs(n = 300, seed = 11)
metrics <- experiment_metrics()
units <- compute_metrics(logs$exposures, logs$events, metrics, cluster = "household_id")
u <- as.data.frame(units)
tol <- 1e-10

quiet_across <- function(code) {
  withCallingHandlers(code, clusterab_clusters_across_variants = function(w) invokeRestart("muffleWarning"))
}

row_of <- function(res, metric, variant = "treatment") {
  r <- as.data.frame(res)
  r[r$metric_id == metric & r$variant == variant, , drop = FALSE]
}

test_that("binary metrics: chisq.test() on the 2 x 2 table and prop.test()'s interval", {
  for (correct in c(TRUE, FALSE)) {
    res <- analyze_experiment(logs$exposures, logs$events, metrics, correct = correct)
    r <- row_of(res, "conversion_7d")
    tab <- table(u$variant, u$conversion_7d)
    ref <- suppressWarnings(chisq.test(tab, correct = correct))
    expect_equal(r$test, "chi-squared")
    expect_equal(r$statistic, unname(ref$statistic), tolerance = tol)
    expect_equal(r$df, 1)
    expect_equal(r$p.value, ref$p.value, tolerance = tol)
    x <- tapply(u$conversion_7d, u$variant, sum)
    n <- tapply(u$conversion_7d, u$variant, length)
    pt <- prop.test(c(x[["treatment"]], x[["control"]]), c(n[["treatment"]], n[["control"]]),
                    correct = correct)
    expect_equal(c(r$conf.low, r$conf.high), as.vector(pt$conf.int), tolerance = tol)
    expect_equal(r$estimate, unname(pt$estimate[1] - pt$estimate[2]), tolerance = tol)
    expect_equal(c(r$control_value, r$variant_value), unname(c(x / n)), tolerance = tol)
    expect_equal(c(r$n_control, r$n_variant), unname(as.vector(n)))
  }
  ## without correction the interval is the plain Wald interval
  res <- analyze_experiment(units, correct = FALSE)
  r <- row_of(res, "conversion_7d")
  p <- tapply(u$conversion_7d, u$variant, mean)
  n <- tapply(u$conversion_7d, u$variant, length)
  se <- sqrt(sum(p * (1 - p) / n))
  d <- p[["treatment"]] - p[["control"]]
  expect_equal(c(r$conf.low, r$conf.high), d + c(-1, 1) * qnorm(0.975) * se, tolerance = tol)
})

test_that("sum and count metrics: Welch's (and Student's) t.test()", {
  for (var.equal in c(FALSE, TRUE)) {
    res <- analyze_experiment(units, var.equal = var.equal, conf.level = 0.9)
    for (m in c("revenue_14d", "session_7d")) {
      r <- row_of(res, m)
      ref <- t.test(u[[m]][u$variant == "treatment"], u[[m]][u$variant == "control"],
                    var.equal = var.equal, conf.level = 0.9)
      expect_equal(r$test, if (var.equal) "Student t" else "Welch t")
      expect_equal(r$statistic, unname(ref$statistic), tolerance = tol)
      expect_equal(r$df, unname(ref$parameter), tolerance = tol)
      expect_equal(r$p.value, ref$p.value, tolerance = tol)
      expect_equal(c(r$conf.low, r$conf.high), as.vector(ref$conf.int), tolerance = tol)
      expect_equal(c(r$variant_value, r$control_value), unname(ref$estimate), tolerance = tol)
    }
  }
})

test_that("ratio metrics: ratio_test(method = \"delta\") on the per-unit numerator and denominator", {
  res <- analyze_experiment(units, conf.level = 0.9)
  r <- row_of(res, "revenue_per_session")
  ref <- ratio_test(u, "revenue_14d", "session_7d", "variant", method = "delta",
                    control = "control", conf.level = 0.9)$comparisons
  expect_equal(r$test, "delta")
  expect_equal(r$statistic, ref$statistic, tolerance = tol)
  expect_equal(r$p.value, ref$p.value, tolerance = tol)
  expect_equal(c(r$estimate, r$conf.low, r$conf.high), c(ref$estimate, ref$conf.low, ref$conf.high),
               tolerance = tol)
  expect_equal(c(r$lift, r$lift.conf.low, r$lift.conf.high),
               c(ref$lift, ref$lift.conf.low, ref$lift.conf.high), tolerance = tol)
  expect_equal(r$variant_value, sum(u$revenue_14d[u$variant == "treatment"]) /
                 sum(u$session_7d[u$variant == "treatment"]), tolerance = tol)
  ## pre-exposure metrics are covariates, not tested
  expect_false("pre_revenue_14d" %in% res$metric_id)
})

test_that("the lift's delta-method interval, computed independently", {
  res <- analyze_experiment(units, conf.level = 0.8)
  for (m in c("conversion_7d", "revenue_14d", "session_7d")) {
    r <- row_of(res, m)
    yv <- u[[m]][u$variant == "treatment"]
    yc <- u[[m]][u$variant == "control"]
    mv <- mean(yv); mc <- mean(yc)
    se <- sqrt(var(yv) / length(yv) / mc^2 + mv^2 * var(yc) / length(yc) / mc^4)
    expect_equal(r$lift, mv / mc - 1, tolerance = tol)
    expect_equal(c(r$lift.conf.low, r$lift.conf.high), mv / mc - 1 + c(-1, 1) * qnorm(0.9) * se,
                 tolerance = tol)
  }
})

test_that("several variants, each against the control; the control by the package's rule or given", {
  l3 <- sim_experiment_logs(n = 200, arms = c("control", "blue", "red"), seed = 3)
  u3 <- compute_metrics(l3$exposures, l3$events, metrics)
  res <- analyze_experiment(u3)
  expect_setequal(unique(res$variant), c("blue", "red"))
  expect_true(all(res$control == "control"))
  expect_equal(nrow(res), 2L * 4L)
  d3 <- as.data.frame(u3)
  for (v in c("blue", "red")) {
    r <- row_of(res, "revenue_14d", v)
    ref <- t.test(d3$revenue_14d[d3$variant == v], d3$revenue_14d[d3$variant == "control"])
    expect_equal(r$p.value, ref$p.value, tolerance = tol)
  }
  res_blue <- analyze_experiment(u3, control = "blue")
  expect_setequal(unique(res_blue$variant), c("control", "red"))
  r <- row_of(res_blue, "session_7d", "red")
  ref <- t.test(d3$session_7d[d3$variant == "red"], d3$session_7d[d3$variant == "blue"])
  expect_equal(r$statistic, unname(ref$statistic), tolerance = tol)
  expect_equal(attr(res_blue, "settings")$control[["e1"]], "blue")
  ## labels without a common control label: a message names the choice
  l4 <- l3
  l4$exposures$variant <- c(control = "x", blue = "y", red = "z")[l3$exposures$variant]
  expect_message(analyze_experiment(l4$exposures, l4$events, metrics),
                 class = "clusterab_baseline_choice")
})

test_that("clustered: coef_test(lm(y ~ treat), cluster = ~ household_id) and coef_ci()", {
  lc <- sim_experiment_logs(n = 240, clustered = TRUE, seed = 5)
  uc <- compute_metrics(lc$exposures, lc$events, metrics, cluster = "household_id")
  d <- arm_pair(as.data.frame(uc), "treatment")
  for (type in c("HC1", "CR2")) {
    res <- analyze_experiment(uc, cluster = "household_id", type = type, conf.level = 0.9)
    for (m in c("conversion_7d", "revenue_14d", "session_7d")) {
      r <- row_of(res, m)
      fit <- lm(reformulate("treat", m), data = d)
      ct <- coef_test(fit, cluster = ~ household_id, type = type)
      ci <- coef_ci(fit, parm = "treat", level = 0.9, cluster = ~ household_id, type = type)
      expect_equal(r$test, "cluster t")
      expect_equal(r$estimate, ct["treat", 1], tolerance = tol)
      expect_equal(r$statistic, ct["treat", 3], tolerance = tol)
      expect_equal(r$p.value, ct["treat", 4], tolerance = tol)
      G <- length(unique(d$household_id))
      expect_equal(r$df, if (type == "CR2") unname(attr(ct, "df")[["treat"]]) else G - 1)
      expect_equal(c(r$conf.low, r$conf.high), unname(ci[1, ]), tolerance = tol)
      expect_equal(r$clusters_control + r$clusters_variant, G)
      ## the lift from the regression's arm means, with their covariance
      V <- vcov_cluster(fit, cluster = ~ household_id, type = type)
      b <- coef(fit)
      mc <- b[[1]]; mv <- b[[1]] + b[[2]]
      se <- sqrt((V[1, 1] + 2 * V[1, 2] + V[2, 2]) / mc^2 + mv^2 * V[1, 1] / mc^4 -
                   2 * mv * (V[1, 1] + V[1, 2]) / mc^3)
      expect_equal(c(r$control_value, r$variant_value), c(mc, mv), tolerance = tol)
      expect_equal(c(r$lift.conf.low, r$lift.conf.high), mv / mc - 1 + c(-1, 1) * qnorm(0.95) * se,
                   tolerance = tol)
    }
    ## ratio metrics: the delta method over clusters
    r <- row_of(res, "revenue_per_session")
    s <- aggregate(cbind(revenue_14d, session_7d) ~ household_id + variant, data = d, FUN = sum)
    ref <- ratio_test(s, "revenue_14d", "session_7d", "variant", method = "delta",
                      control = "control", conf.level = 0.9)$comparisons
    expect_equal(r$test, "cluster delta")
    expect_equal(c(r$statistic, r$p.value, r$estimate, r$conf.low, r$conf.high, r$lift,
                   r$lift.conf.low, r$lift.conf.high),
                 c(ref$statistic, ref$p.value, ref$estimate, ref$conf.low, ref$conf.high, ref$lift,
                   ref$lift.conf.low, ref$lift.conf.high), tolerance = tol)
  }
  ## the printout names the level, G, the type and the df
  out <- capture.output(print(res))
  G <- length(unique(d$household_id))
  expect_true(any(grepl(sprintf("cluster-robust at the household_id level: %d clusters, CR2, t tests with Satterthwaite df",
                                G), out, ignore.case = TRUE)))
  ## from the raw logs, with the cluster as a formula: the same numbers
  raw <- analyze_experiment(lc$exposures, lc$events, metrics, cluster = ~ household_id, type = "CR2",
                            conf.level = 0.9)
  expect_equal(as.data.frame(raw), as.data.frame(res), tolerance = tol)
  ## clustering is used only when asked for
  naive <- analyze_experiment(uc)
  expect_false("clusters_control" %in% names(naive))
  expect_equal(row_of(naive, "revenue_14d")$test, "Welch t")
})

test_that("fewer than 30 clusters: the package's few-cluster warning, once", {
  lf <- sim_experiment_logs(n = 30, clustered = TRUE, seed = 8)
  uf <- compute_metrics(lf$exposures, lf$events, metrics, cluster = "household_id")
  seen <- character(0)
  res <- withCallingHandlers(analyze_experiment(uf, cluster = "household_id"),
                             clusterab_few_clusters = function(w) {
                               seen <<- c(seen, conditionMessage(w))
                               invokeRestart("muffleWarning")
                             })
  expect_length(seen, 1L)
  expect_match(seen, "only 20 clusters")
  expect_no_warning(analyze_experiment(uf, cluster = "household_id", type = "CR2"))
})

test_that("CUPED: theta pooled over the two arms, Welch's t on the adjusted metric", {
  res <- analyze_experiment(units, covariate = c(revenue_14d = "pre_revenue_14d"))
  r <- row_of(res, "revenue_14d")
  y <- u$revenue_14d; x <- u$pre_revenue_14d
  theta <- cov(x, y) / var(x)
  adj <- y - theta * (x - mean(x))
  ref <- t.test(adj[u$variant == "treatment"], adj[u$variant == "control"])
  expect_equal(r$test, "CUPED Welch t")
  expect_equal(c(r$statistic, r$df, r$p.value), unname(c(ref$statistic, ref$parameter, ref$p.value)),
               tolerance = tol)
  expect_equal(c(r$conf.low, r$conf.high), as.vector(ref$conf.int), tolerance = tol)
  expect_equal(r$variance_reduction, 1 - var(adj) / var(y), tolerance = tol)
  expect_gt(r$variance_reduction, 0.05)
  ## other metrics are not adjusted
  expect_true(is.na(row_of(res, "session_7d")$variance_reduction))
  expect_equal(row_of(res, "session_7d")$test, "Welch t")
  out <- capture.output(print(res))
  expect_true(any(grepl("CUPED: revenue_14d adjusted by pre_revenue_14d (variance reduction",
                        out, fixed = TRUE)))
  ## one unnamed covariate adjusts every binary, sum and count metric
  all <- analyze_experiment(units, covariate = "pre_revenue_14d")
  expect_equal(row_of(all, "conversion_7d")$test, "CUPED Welch t")
  expect_equal(row_of(all, "revenue_per_session")$test, "delta")
  yb <- u$conversion_7d
  adjb <- yb - cov(x, yb) / var(x) * (x - mean(x))
  refb <- t.test(adjb[u$variant == "treatment"], adjb[u$variant == "control"])
  expect_equal(row_of(all, "conversion_7d")$p.value, refb$p.value, tolerance = tol)
  ## clustered: the regression y ~ treat + x
  ## households span both arms here (users were randomised): the clustered
  ## ratio test says so
  expect_warning(cl <- analyze_experiment(units, covariate = c(revenue_14d = "pre_revenue_14d"),
                                          cluster = "household_id"),
                 class = "clusterab_clusters_across_variants")
  r <- row_of(cl, "revenue_14d")
  d <- arm_pair(u, "treatment")
  fit <- lm(revenue_14d ~ treat + pre_revenue_14d, data = d)
  ct <- coef_test(fit, cluster = ~ household_id)
  expect_equal(r$test, "CUPED cluster t")
  expect_equal(c(r$estimate, r$statistic, r$p.value), unname(ct["treat", c(1, 3, 4)]), tolerance = tol)
  expect_equal(unname(c(r$conf.low, r$conf.high)),
               unname(coef_ci(fit, parm = "treat", level = 0.95, cluster = ~ household_id)[1, ]),
               tolerance = tol)
})

test_that("segments: one set of rows per value, CUPED within the segment", {
  users <- data.frame(user_id = unique(logs$exposures$user_id))
  users$device <- ifelse(users$user_id %% 3 == 0, "mobile", "desktop")
  res <- analyze_experiment(units, users = users, segment = "device",
                            covariate = c(revenue_14d = "pre_revenue_14d"), adjust = "holm")
  expect_setequal(unique(res$segment), c("desktop", "mobile"))
  expect_equal(nrow(res), 2L * 4L)
  r <- as.data.frame(res)
  r <- r[r$metric_id == "revenue_14d" & r$segment == "mobile", ]
  s <- u[u$user_id %% 3 == 0, ]
  theta <- cov(s$pre_revenue_14d, s$revenue_14d) / var(s$pre_revenue_14d)
  adj <- s$revenue_14d - theta * (s$pre_revenue_14d - mean(s$pre_revenue_14d))
  ref <- t.test(adj[s$variant == "treatment"], adj[s$variant == "control"])
  expect_equal(r$p.value.unadjusted, ref$p.value, tolerance = tol)
  expect_equal(r$n_control + r$n_variant, nrow(s))
  ## holm within the segment
  m <- as.data.frame(res)
  m <- m[m$segment == "mobile", ]
  expect_equal(m$p.value, p.adjust(m$p.value.unadjusted, "holm"), tolerance = tol)
  ## a segment column of the exposures works too
  ex <- logs$exposures
  ex$device <- ifelse(ex$user_id %% 3 == 0, "mobile", "desktop")
  res2 <- analyze_experiment(ex, logs$events, metrics, segment = "device",
                             covariate = c(revenue_14d = "pre_revenue_14d"), adjust = "holm")
  expect_equal(as.data.frame(res2)$p.value, as.data.frame(res)$p.value, tolerance = tol)
})

test_that("adjust: p.adjust() across metrics x variants within each experiment", {
  l3 <- sim_experiment_logs(n = 200, arms = c("control", "blue", "red"), seed = 4)
  u3 <- compute_metrics(l3$exposures, l3$events, metrics)
  raw <- analyze_experiment(u3)
  for (method in c("holm", "BH", "bonferroni")) {
    res <- analyze_experiment(u3, adjust = method, alpha = 0.1)
    expect_equal(res$p.value.unadjusted, raw$p.value, tolerance = tol)
    expect_equal(res$p.value, p.adjust(raw$p.value, method), tolerance = tol)
    expect_equal(res$significant, res$p.value < 0.1)
  }
  expect_false("p.value.unadjusted" %in% names(raw))
  expect_error(analyze_experiment(u3, adjust = "fdr-ish"), class = "clusterab_error",
               regexp = "`adjust` must be one of")
})

test_that("several experiments in one table; SRM with every analysis", {
  a <- sim_experiment_logs(n = 200, experiment = "alpha", seed = 21)
  b <- sim_experiment_logs(n = 150, experiment = "beta", seed = 22, offset = 100)  # shares users
  ex <- rbind(a$exposures, b$exposures)
  ev <- rbind(a$events, b$events)
  res <- analyze_experiment(ex, ev, metrics, adjust = "BH")
  expect_setequal(unique(res$experiment_id), c("alpha", "beta"))
  ua <- as.data.frame(compute_metrics(ex, ev, metrics, experiment_id = "beta"))
  r <- as.data.frame(res)
  r <- r[r$experiment_id == "beta" & r$metric_id == "session_7d", ]
  ref <- t.test(ua$session_7d[ua$variant == "treatment"], ua$session_7d[ua$variant == "control"])
  expect_equal(r$p.value.unadjusted, ref$p.value, tolerance = tol)
  beta <- as.data.frame(res)[res$experiment_id == "beta", ]
  expect_equal(beta$p.value, p.adjust(beta$p.value.unadjusted, "BH"), tolerance = tol)
  srm <- attr(res, "srm")
  expect_equal(srm$experiment_id, c("alpha", "beta"))
  ref_srm <- chisq.test(table(ua$variant))
  expect_equal(srm$p.value[2], ref_srm$p.value, tolerance = tol)
  expect_equal(srm, tidy(srm_test(ex, experiment_id = c("alpha", "beta"))))
  ## only one experiment
  one <- analyze_experiment(ex, ev, metrics, experiment_id = "beta")
  expect_equal(unique(one$experiment_id), "beta")
  g <- glance(res)
  expect_equal(g$experiment_id, c("alpha", "beta"))
  expect_equal(g$units, c(400, 300))
})

test_that("a sample-ratio mismatch is flagged, printed and warned about", {
  l <- sim_experiment_logs(n = 300, seed = 31)
  drop <- which(l$exposures$variant == "treatment")[1:80]
  ex <- l$exposures[-drop, ]
  expect_warning(res <- analyze_experiment(ex, l$events, metrics), class = "clusterab_srm")
  srm <- attr(res, "srm")
  ref <- chisq.test(c(300, 220))
  expect_equal(srm$p.value, ref$p.value, tolerance = tol)
  expect_true(srm$srm)
  expect_true(any(grepl("SAMPLE RATIO MISMATCH", capture.output(print(res)))))
  ## the planned split: 300 / 220 is what was planned here
  expect_no_warning(res2 <- analyze_experiment(ex, l$events, metrics,
                                               split = c(control = 300, treatment = 220)))
  expect_equal(attr(res2, "srm")$p.value, chisq.test(c(300, 220), p = c(300, 220) / 520)$p.value,
               tolerance = tol)
})

test_that("an empty events table gives all-zero metrics and a sane analysis", {
  ev <- logs$events[0, ]
  res <- analyze_experiment(logs$exposures, ev, metrics)
  expect_equal(nrow(res), 4L)
  expect_true(all(res$control_value == 0 | is.na(res$control_value)))
  expect_true(all(!res$significant))
  expect_true(all(is.na(res$p.value)))
  expect_equal(res$n_control + res$n_variant, rep(600, 4))
  expect_output(print(res), "Experiment")
  res_cl <- quiet_across(analyze_experiment(logs$exposures, ev, metrics, cluster = "household_id"))
  expect_true(all(is.na(res_cl$p.value)))
})

test_that("methods: print, summary, tidy, glance, as.data.frame, plot", {
  res <- analyze_experiment(units, adjust = "holm")
  out <- capture.output(print(res))
  expect_true(any(grepl("Experiment \"e1\": control \"control\"", out, fixed = TRUE)))
  expect_true(any(grepl("SRM: X-squared", out, fixed = TRUE)))
  expect_true(any(grepl("holm", out, fixed = TRUE)))
  expect_output(print(summary(res)), "Sample-ratio mismatch")
  td <- tidy(res)
  expect_true(all(c("term", "estimate", "std.error", "statistic", "p.value", "conf.low", "conf.high")
                  %in% names(td)))
  expect_equal(td$term, res$metric_id)
  r <- row_of(res, "revenue_14d")
  yv <- u$revenue_14d[u$variant == "treatment"]; yc <- u$revenue_14d[u$variant == "control"]
  expect_equal(td$std.error[td$term == "revenue_14d"], sqrt(var(yv) / length(yv) + var(yc) / length(yc)),
               tolerance = tol)
  pc <- mean(u$conversion_7d[u$variant == "control"]); pv <- mean(u$conversion_7d[u$variant == "treatment"])
  expect_equal(td$std.error[td$term == "conversion_7d"],
               sqrt(pc * (1 - pc) / sum(u$variant == "control") + pv * (1 - pv) / sum(u$variant == "treatment")),
               tolerance = tol)
  ref <- ratio_test(u, "revenue_14d", "session_7d", "variant", control = "control")$comparisons
  expect_equal(td$std.error[td$term == "revenue_per_session"], ref$std.error, tolerance = tol)
  ## a subset keeps its methods
  sub <- res[res$metric_id == "revenue_14d"]
  expect_equal(tidy(sub)$std.error, td$std.error[td$term == "revenue_14d"])
  expect_output(print(sub), "revenue_14d")
  g <- glance(res)
  expect_equal(nrow(g), 1L)
  expect_equal(g$srm.p.value, attr(res, "srm")$p.value)
  df <- as.data.frame(res)
  expect_s3_class(df, "data.frame")
  expect_false(inherits(df, "data.table"))
  expect_equal(names(df)[1:6], c("experiment_id", "metric_id", "display_name", "control", "variant", "test"))
  expect_equal(df$display_name[df$metric_id == "conversion_7d"], "7-day conversion")
  expect_s3_class(res, "experiment_results")
  expect_s3_class(res, "data.table")
  expect_identical(attr(res, "units"), units)
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  expect_identical(plot(res), res)
})

test_that("the column order of the contract", {
  res <- quiet_across(analyze_experiment(units, cluster = "household_id", covariate = "pre_revenue_14d",
                                         adjust = "BH", segment = "device",
                                         users = data.frame(user_id = u$user_id, device = "d")))
  expect_equal(names(res), c("experiment_id", "metric_id", "display_name", "segment", "control", "variant",
                             "test", "statistic", "df", "p.value", "p.value.unadjusted", "control_value",
                             "variant_value", "estimate", "conf.low", "conf.high", "lift", "lift.conf.low",
                             "lift.conf.high", "significant", "n_control", "n_variant", "clusters_control",
                             "clusters_variant", "variance_reduction"))
})

test_that("bad input: classed errors that name the problem", {
  ex <- logs$exposures
  ev <- logs$events
  expect_error(analyze_experiment(ex, ev, metrics, split = c(control = 0.5, purple = 0.5)),
               class = "clusterab_error", regexp = "\"purple\", which has no exposures")
  expect_error(analyze_experiment(ex, ev, metrics, split = c(0.3, 0.3, 0.4)),
               class = "clusterab_error", regexp = "3 shares but the data have 2 variants")
  expect_error(analyze_experiment(ex, ev, metrics, split = c(-0.5, 1.5)),
               class = "clusterab_error", regexp = "negative")
  expect_error(analyze_experiment(ex, ev, metrics, control = "baseline"),
               class = "clusterab_error", regexp = "\"baseline\" is not a variant of experiment \"e1\"")
  expect_error(analyze_experiment(ex, ev, metrics, experiment_id = "nope"),
               class = "clusterab_error", regexp = "nope")
  expect_error(analyze_experiment(units, experiment_id = "nope"),
               class = "clusterab_error", regexp = "\"nope\" not in the data")
  expect_error(analyze_experiment(units, covariate = c(revenue_14d = "session_7d")),
               class = "clusterab_error", regexp = "\"session_7d\" is not a pre-exposure metric")
  expect_error(analyze_experiment(units, covariate = c(revenue_14d = "pre_revenue_28d")),
               class = "clusterab_error", regexp = "\"pre_revenue_28d\", which is not among the metrics")
  expect_error(analyze_experiment(units, covariate = c(revenue_per_session = "pre_revenue_14d")),
               class = "clusterab_error", regexp = "ratio metric")
  expect_error(analyze_experiment(units, segment = "country"),
               class = "clusterab_error", regexp = "\"country\" is not a column")
  expect_error(analyze_experiment(units, users = data.frame(user_id = 1, device = "a"), segment = "country"),
               class = "clusterab_error", regexp = "\"country\" is not a column of `users`")
  for (a in list(0, 1, -0.1, NA, c(0.05, 0.1), "0.05")) {
    expect_error(analyze_experiment(units, alpha = a), class = "clusterab_error",
                 regexp = "`alpha` must be a single number between 0 and 1")
  }
  expect_error(analyze_experiment(units, adjust = "fdr"), class = "clusterab_error",
               regexp = "`adjust` must be one of \"none\", \"holm\", \"BH\", \"bonferroni\"")
  one <- ex[ex$variant == "control", ]
  expect_error(analyze_experiment(one, ev, metrics), class = "clusterab_error",
               regexp = "single variant")
  expect_error(analyze_experiment(units, cluster = "region"), class = "clusterab_error",
               regexp = "\"region\" is not a column")
  expect_error(analyze_experiment(ex), class = "clusterab_error", regexp = "`events` and `metrics` are required")
  expect_error(analyze_experiment(units, type = "HC9", cluster = "household_id"), class = "clusterab_error",
               regexp = "`type` must be one of")
})

test_that("end to end on the bundled data: references on the per-unit table", {
  path <- function(f) system.file("extdata", f, package = "clusterab")
  skip_if(path("exposures.csv") == "", "bundled data not installed")
  ex <- read.csv(path("exposures.csv"), stringsAsFactors = FALSE)
  ev <- read.csv(path("events.csv"), stringsAsFactors = FALSE)
  users <- read.csv(path("users.csv"), stringsAsFactors = FALSE)
  m <- read_metrics(path("metrics.json"))
  res <- analyze_experiment(ex, ev, m, covariate = c(revenue_14d = "pre_revenue_14d"), adjust = "holm")
  expect_setequal(unique(res$experiment_id), c("checkout_redesign", "household_pricing"))
  u <- as.data.frame(compute_metrics(ex, ev, m, experiment_id = "checkout_redesign"))
  r <- as.data.frame(res)
  r <- r[r$experiment_id == "checkout_redesign", ]
  conv <- r[r$metric_id == "conversion_7d", ]
  expect_equal(conv$p.value.unadjusted, chisq.test(table(u$variant, u$conversion_7d))$p.value, tolerance = tol)
  s7 <- r[r$metric_id == "session_7d", ]
  expect_equal(s7$p.value.unadjusted, t.test(u$session_7d[u$variant == "treatment"],
                                             u$session_7d[u$variant == "control"])$p.value, tolerance = tol)
  rps <- r[r$metric_id == "revenue_per_session", ]
  ref <- ratio_test(u, "revenue_14d", "session_14d", "variant", control = "control")$comparisons
  expect_equal(rps$p.value.unadjusted, ref$p.value, tolerance = tol)
  expect_equal(r$p.value, p.adjust(r$p.value.unadjusted, "holm"), tolerance = tol)
  expect_equal(attr(res, "srm")$p.value[1], chisq.test(table(u$variant))$p.value, tolerance = tol)
  ## the household experiment clustered
  hp <- analyze_experiment(ex, ev, m, experiment_id = "household_pricing", cluster = "household_id")
  uh <- as.data.frame(compute_metrics(ex, ev, m, experiment_id = "household_pricing", cluster = "household_id"))
  uh$treat <- as.numeric(uh$variant == "treatment")
  ct <- coef_test(lm(revenue_14d ~ treat, uh), cluster = ~ household_id)
  r <- row_of(hp, "revenue_14d")
  expect_equal(c(r$estimate, r$statistic, r$p.value), unname(ct["treat", c(1, 3, 4)]), tolerance = tol)
  expect_equal(r$df, length(unique(uh$household_id)) - 1)
  ## segments by device from the users table
  seg <- analyze_experiment(ex, ev, m, users = users, segment = "device", experiment_id = "checkout_redesign")
  expect_setequal(unique(seg$segment), unique(users$device))
  expect_output(print(seg), "checkout_redesign")
})

test_that("control per experiment, and the cluster as a vector of ids", {
  a <- sim_experiment_logs(n = 100, experiment = "a", seed = 41)
  b <- sim_experiment_logs(n = 100, arms = c("old", "new"), experiment = "b", seed = 42, offset = 1000)
  ex <- rbind(a$exposures, b$exposures)
  ev <- rbind(a$events, b$events)
  res <- analyze_experiment(ex, ev, metrics, control = c(a = "treatment", b = "new"))
  expect_equal(attr(res, "settings")$control, c(a = "treatment", b = "new"))
  expect_equal(unique(res$variant), c("control", "old"))
  expect_error(analyze_experiment(ex, ev, metrics, control = "control"), class = "clusterab_error",
               regexp = "not a variant of experiment \"b\"")
  lc <- sim_experiment_logs(n = 120, clustered = TRUE, seed = 43)
  by_name <- analyze_experiment(lc$exposures, lc$events, metrics, cluster = "household_id")
  by_vector <- analyze_experiment(lc$exposures, lc$events, metrics, cluster = lc$exposures$household_id)
  expect_equal(as.data.frame(by_vector)$p.value, as.data.frame(by_name)$p.value, tolerance = tol)
})

test_that("the engine on a per-unit table made by hand, with the user's column names", {
  set.seed(51)
  n <- 240
  hand <- data.table::data.table(exp = "x1", visitor = seq_len(n), arm = rep(c("A", "B", "C"), n / 3),
                                 spend = rexp(n), bought = rbinom(n, 1, 0.4))
  data.table::setattr(hand, "columns", c(user_id = "visitor", experiment_id = "exp", variant = "arm",
                                         exposure_time = "exposure_time"))
  data.table::setattr(hand, "class", c("experiment_units", "data.table", "data.frame"))
  defs <- read_metrics('{"spend": {"event": {"name": "buy"}, "aggregation": "sum",
                                   "window": {"start": "0 days", "end": "7 days"}},
                         "bought": {"event": {"name": "buy"}, "aggregation": "binary",
                                    "window": {"start": "0 days", "end": "7 days"}}}')
  res <- analyze_experiment(hand, metrics = defs)
  expect_equal(res$control, rep("A", 4))
  h <- as.data.frame(hand)
  for (v in c("B", "C")) {
    r <- row_of(res, "spend", v)
    expect_equal(r$p.value, t.test(h$spend[h$arm == v], h$spend[h$arm == "A"])$p.value, tolerance = tol)
    r <- row_of(res, "bought", v)
    d <- h[h$arm %in% c("A", v), ]
    expect_equal(r$p.value, chisq.test(table(d$arm, d$bought))$p.value, tolerance = tol)
  }
  expect_equal(attr(res, "srm")$p.value, chisq.test(table(h$arm))$p.value, tolerance = tol)
  ## renamed log columns through compute_metrics()
  ex <- logs$exposures
  names(ex)[names(ex) == "user_id"] <- "visitor"
  names(ex)[names(ex) == "variant"] <- "arm"
  ev <- logs$events
  names(ev)[names(ev) == "user_id"] <- "visitor"
  ren <- analyze_experiment(ex, ev, metrics, columns = c(user_id = "visitor", variant = "arm"))
  base <- analyze_experiment(logs$exposures, logs$events, metrics)
  expect_equal(as.data.frame(ren), as.data.frame(base), tolerance = tol)
})

test_that("metrics named like the engine's local variables are analysed as themselves", {
  set.seed(52)
  n <- 200
  hand <- data.table::data.table(experiment_id = "x", user_id = seq_len(n), variant = rep(c("control", "test"), n / 2),
                                 keep = rexp(n), at = rpois(n, 2))
  data.table::setattr(hand, "class", c("experiment_units", "data.table", "data.frame"))
  defs <- read_metrics('{"keep": {"event": {"name": "buy"}, "aggregation": "sum",
                                  "window": {"start": "0 days", "end": "7 days"}},
                         "at": {"event": {"name": "visit"}, "aggregation": "count",
                                "window": {"start": "0 days", "end": "7 days"}}}')
  res <- analyze_experiment(hand, metrics = defs, experiment_id = "x")
  h <- as.data.frame(hand)
  expect_equal(row_of(res, "keep", "test")$p.value,
               t.test(h$keep[h$variant == "test"], h$keep[h$variant == "control"])$p.value, tolerance = tol)
  expect_equal(row_of(res, "at", "test")$n_variant, 100)
})
