# Absorbed fixed effects: cluster_lm(y ~ x | fe1 + fe2, ...) against lm()
# with the dummies, sandwich, clubSandwich and fixest.
# The fixest checks use skip_if_not_installed() and not need(): fixest is not
# among Debian's packages, and compiling it from CRAN would take a third of
# CI's time, so CI skips them (the issue allows it); every number they check
# is also checked against lm() with the dummies and sandwich, which CI has.

## An unbalanced panel: units (nested in groups g) seen in a random subset
## of the periods; covariates correlated with both effects.
fe_panel <- function(units = 60, periods = 8, seed = 1, keep = 0.7) {
  set.seed(seed)
  d <- expand.grid(unit = seq_len(units), period = seq_len(periods))
  d <- d[stats::runif(nrow(d)) < keep, ]
  n <- nrow(d)
  d$g <- (d$unit - 1L) %/% 3L
  d$x1 <- stats::rnorm(n) + d$unit / 20
  d$x2 <- stats::rnorm(n) + d$period / 2
  d$y <- 1 + d$x1 - 0.5 * d$x2 + sin(d$unit) + d$period / 3 + stats::rnorm(n) * (1 + d$g %% 3)
  d$w <- stats::runif(n, 0.5, 2)
  d$unit_id <- sprintf("u%03d", d$unit)   # string ids
  rownames(d) <- NULL
  d
}

## (fits whose data fixef() or a refit reads again are made directly: the
## call must name the data, not a `...` of a wrapper)
quiet_fit <- function(...) suppressWarnings(cluster_lm(...))

test_that("one fixed effect: slopes equal lm() with dummies; ssc = 'full' equals vcovCL", {
  skip_if_not_installed("sandwich")
  d <- fe_panel()
  fit <- quiet_fit(y ~ x1 + x2 | unit_id, d, cluster = ~ g, ssc = "full")
  l <- lm(y ~ factor(unit_id) + x1 + x2, d)
  expect_equal(coef(fit), coef(l)[c("x1", "x2")], tolerance = 1e-10)
  V <- sandwich::vcovCL(l, cluster = ~ g, type = "HC1")[c("x1", "x2"), c("x1", "x2")]
  expect_equal(fit$vcov, V, tolerance = 1e-10)
  expect_equal(df.residual(fit), df.residual(l))
  expect_equal(fit$sigma, summary(l)$sigma, tolerance = 1e-10)
  expect_equal(unname(fit$r.squared), summary(l)$r.squared, tolerance = 1e-10)
  V0 <- sandwich::vcovCL(l, cluster = ~ g, type = "HC0")[c("x1", "x2"), c("x1", "x2")]
  expect_equal(suppressWarnings(vcov_cluster(fit, type = "CR1")), V0, tolerance = 1e-10)
  expect_equal(fit$fixef_info$levels, c(unit_id = 60L))
  expect_true(fit$fixef_info$nested[["unit_id"]])
})

test_that("two-way fixed effects on an unbalanced panel equal lm() with dummies and vcovCL", {
  skip_if_not_installed("sandwich")
  d <- fe_panel(seed = 2)
  fit <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g, ssc = "full")
  l <- lm(y ~ factor(unit) + factor(period) + x1 + x2, d)
  expect_equal(coef(fit), coef(l)[c("x1", "x2")], tolerance = 1e-8)
  V <- sandwich::vcovCL(l, cluster = ~ g, type = "HC1")[c("x1", "x2"), c("x1", "x2")]
  expect_equal(fit$vcov, V, tolerance = 1e-8)
  expect_equal(fit$fixef_info$k, l$rank - 2L)
  expect_equal(df.residual(fit), df.residual(l))
  ## threads change nothing, bit for bit
  f1 <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g, threads = 1)
  f2 <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g, threads = 2)
  expect_identical(coef(f1), coef(f2))
  expect_identical(f1$vcov, f2$vcov)
})

test_that("the redundant levels of two effects are counted exactly (disconnected panel)", {
  skip_if_not_installed("sandwich")
  d <- fe_panel(seed = 3, keep = 1)
  ## units 1-30 only in periods 1-4, units 31-60 only in periods 5-8: two groups
  d <- d[(d$unit <= 30) == (d$period <= 4), ]
  fit <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g, ssc = "full")
  l <- lm(y ~ factor(unit) + factor(period) + x1 + x2, d)
  expect_equal(fit$fixef_info$redundant[["period"]], 2L)
  expect_equal(fit$fixef_info$k + 2L, l$rank)
  expect_equal(fit$vcov, sandwich::vcovCL(l, cluster = ~ g, type = "HC1")[c("x1", "x2"), c("x1", "x2")],
               tolerance = 1e-8)
})

test_that("weights: weighted demeaning equals weighted lm() with dummies", {
  skip_if_not_installed("sandwich")
  d <- fe_panel(seed = 4)
  l <- lm(y ~ factor(unit) + factor(period) + x1 + x2, d, weights = w)
  fit <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g, weights = ~ w, ssc = "full")
  expect_equal(coef(fit), coef(l)[c("x1", "x2")], tolerance = 1e-8)
  expect_equal(fit$vcov, sandwich::vcovCL(l, cluster = ~ g, type = "HC1")[c("x1", "x2"), c("x1", "x2")],
               tolerance = 1e-8)
  l1 <- lm(y ~ factor(unit) + x1 + x2, d, weights = w)
  fit1 <- quiet_fit(y ~ x1 + x2 | unit, d, cluster = ~ g, weights = "w", ssc = "full")
  expect_equal(coef(fit1), coef(l1)[c("x1", "x2")], tolerance = 1e-10)
  expect_equal(fit1$vcov, sandwich::vcovCL(l1, cluster = ~ g, type = "HC1")[c("x1", "x2"), c("x1", "x2")],
               tolerance = 1e-10)
})

test_that("ssc rules match fixest: default (nested) and K.fixef = 'full'", {
  skip_if_not_installed("fixest")
  d <- fe_panel(seed = 5)
  for (w in list(NULL, ~ w)) {
    fx <- fixest_fun("feols")(y ~ x1 + x2 | unit + period, d, cluster = ~ g, weights = w,
                        fixef.tol = 1e-10, notes = FALSE)
    fit <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g, weights = w)
    expect_equal(coef(fit), coef(fx), tolerance = 1e-8)
    expect_equal(fit$vcov, unclass(vcov(fx))[c("x1", "x2"), c("x1", "x2")], tolerance = 1e-8,
                 ignore_attr = TRUE)
    fx_full <- fixest_fun("feols")(y ~ x1 + x2 | unit + period, d, cluster = ~ g, weights = w,
                             fixef.tol = 1e-10, notes = FALSE, ssc = fixest_fun("ssc")(K.fixef = "full"))
    fit_full <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g, weights = w, ssc = "full")
    expect_equal(fit_full$vcov, unclass(vcov(fx_full)), tolerance = 1e-8, ignore_attr = TRUE)
    fx_none <- fixest_fun("feols")(y ~ x1 + x2 | unit + period, d, cluster = ~ g, weights = w,
                             fixef.tol = 1e-10, notes = FALSE, ssc = fixest_fun("ssc")(K.fixef = "none"))
    fit_none <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g, weights = w, ssc = "none")
    expect_equal(fit_none$vcov, unclass(vcov(fx_none)), tolerance = 1e-8, ignore_attr = TRUE)
  }
  ## no effect nested in the clusters (clustered by period): "nested" is "full"
  fx <- fixest_fun("feols")(y ~ x1 + x2 | unit, d, cluster = ~ period, notes = FALSE)
  fit <- quiet_fit(y ~ x1 + x2 | unit, d, cluster = ~ period)
  expect_false(fit$fixef_info$nested[["unit"]])
  expect_equal(fit$vcov, unclass(vcov(fx)), tolerance = 1e-10, ignore_attr = TRUE)
  ## one effect nested in the cluster
  fx1 <- fixest_fun("feols")(y ~ x1 + x2 | unit, d, cluster = ~ g, notes = FALSE)
  fit1 <- quiet_fit(y ~ x1 + x2 | unit, d, cluster = ~ g)
  expect_equal(fit1$fixef_info$k, 1L)
  expect_equal(coef(fit1), coef(fx1), tolerance = 1e-10)
  expect_equal(fit1$vcov, unclass(vcov(fx1)), tolerance = 1e-10, ignore_attr = TRUE)
})

test_that("CR2 with effects nested in the clusters equals clubSandwich on the dummy regression", {
  skip_if_not_installed("clubSandwich")
  d <- fe_panel(seed = 6)
  fit <- quiet_fit(y ~ x1 + x2 | unit, d, cluster = ~ g, type = "CR2")
  l <- lm(y ~ factor(unit) + x1 + x2, d)
  V <- clubSandwich::vcovCR(l, cluster = d$g, type = "CR2")
  expect_equal(fit$vcov, as.matrix(V)[c("x1", "x2"), c("x1", "x2")], tolerance = 1e-10)
  ct <- clubSandwich::coef_test(l, vcov = V, test = "Satterthwaite")
  ours <- coef_test(fit)
  expect_equal(unname(attr(ours, "df")), ct$df_Satt[match(c("x1", "x2"), ct$Coef)], tolerance = 1e-8)
  ## a non-nested effect as a factor covariate beside the absorbed nested one
  fit2 <- quiet_fit(y ~ x1 + x2 + factor(period) | unit, d, cluster = ~ g, type = "CR2")
  l2 <- lm(y ~ factor(unit) + factor(period) + x1 + x2, d)
  V2 <- as.matrix(clubSandwich::vcovCR(l2, cluster = d$g, type = "CR2"))
  nm <- rownames(fit2$vcov)
  expect_equal(fit2$vcov, V2[nm, nm], tolerance = 1e-10)
  ## weights: the CR2 of the weighted within regression
  dm <- function(v) v - stats::ave(v * d$w, d$unit, FUN = sum) / stats::ave(d$w, d$unit, FUN = sum)
  dd <- data.frame(y = dm(d$y), x1 = dm(d$x1), x2 = dm(d$x2), w = d$w)
  fitw <- quiet_fit(y ~ x1 + x2 | unit, d, cluster = ~ g, type = "CR2", weights = ~ w)
  lw <- lm(y ~ 0 + x1 + x2, dd, weights = w)
  expect_equal(fitw$vcov, as.matrix(clubSandwich::vcovCR(lw, cluster = d$g, type = "CR2")),
               tolerance = 1e-10, ignore_attr = TRUE)
})

test_that("CR2 with an effect not nested in the clusters, and HC2, are refused", {
  d <- fe_panel(seed = 7)
  expect_error(cluster_lm(y ~ x1 + x2 | unit + period, d, cluster = ~ g, type = "CR2"),
               class = "clusterab_error", regexp = "`period` is not")
  expect_error(cluster_lm(y ~ x1 + x2 | unit, d, cluster = ~ g, type = "HC2"),
               class = "clusterab_error", regexp = "HC2")
  fit <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g)
  expect_error(vcov_cluster(fit, type = "CR2"), class = "clusterab_error", regexp = "nested")
})

test_that("singleton groups are dropped as fixest drops them, and counted", {
  d <- fe_panel(seed = 8)
  extra <- d[1:3, ]
  extra$unit <- 900 + 1:3
  extra$unit_id <- sprintf("u%03d", extra$unit)
  d2 <- rbind(d, extra)
  fit <- quiet_fit(y ~ x1 + x2 | unit + period, d2, cluster = ~ g)
  expect_equal(fit$fixef_info$singletons, 3L)
  expect_equal(nobs(fit), nrow(d))
  expect_output(print(fit), "3 singleton row\\(s\\) dropped")
  ref <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g)
  expect_equal(coef(fit), coef(ref), tolerance = 1e-10)
  expect_equal(fit$vcov, ref$vcov, tolerance = 1e-10)
  skip_if_not_installed("fixest")
  fx <- fixest_fun("feols")(y ~ x1 + x2 | unit + period, d2, cluster = ~ g, notes = FALSE)
  expect_equal(nobs(fit), nobs(fx))
})

test_that("fixef() returns the effects as fixest's fixef()", {
  d <- fe_panel(seed = 9)
  fit <- suppressWarnings(cluster_lm(y ~ x1 + x2 | unit_id, d, cluster = ~ g))
  fe <- fixef(fit)
  expect_named(fe, "unit_id")
  l <- lm(y ~ 0 + factor(unit_id) + x1 + x2, d)
  expect_equal(unname(fe$unit_id), unname(coef(l)[seq_len(60)]), tolerance = 1e-10)
  expect_equal(names(fe$unit_id), sort(unique(d$unit_id)))
  skip_if_not_installed("fixest")
  fit2 <- suppressWarnings(cluster_lm(y ~ x1 + x2 | unit + period, d, cluster = ~ g))
  fx <- fixest_fun("feols")(y ~ x1 + x2 | unit + period, d, fixef.tol = 1e-10, notes = FALSE)
  fe2 <- fixef(fit2)
  fxe <- fixest_fun("fixef")(fx)
  expect_equal(fe2$unit, fxe$unit, tolerance = 1e-7)
  expect_equal(fe2$period, fxe$period, tolerance = 1e-7)
  expect_equal(fe2$period[[as.character(d$period[1])]], 0)
  expect_error(fixef(quiet_fit(y ~ x1, d, cluster = ~ g)), class = "clusterab_error", regexp = "no absorbed")
})

test_that("fits with absorbed effects work with vcov_cluster, coef_test, summary, tidy, glance, print", {
  d <- fe_panel(seed = 10)
  fit <- suppressWarnings(cluster_lm(y ~ x1 + x2 | unit + period, d, cluster = ~ g))
  expect_output(print(fit), "Absorbed fixed effects: unit \\(60 levels, nested in the clusters\\), period \\(8 levels\\)")
  expect_output(print(fit), "ssc = \"nested\"")
  expect_s3_class(summary(fit), "summary.cluster_lm")
  expect_equal(tidy(fit)$term, c("x1", "x2"))
  expect_equal(nrow(glance(fit)), 1L)
  expect_equal(nrow(as.data.frame(coef_test(fit))), 2L)
  ## vcov_cluster with another type refits from the statistics, keeping k
  f_cr1s <- suppressWarnings(cluster_lm(y ~ x1 + x2 | unit + period, d, cluster = ~ g, type = "CR1S"))
  expect_equal(suppressWarnings(vcov_cluster(fit, type = "CR1S")), f_cr1s$vcov, tolerance = 1e-12)
  ## another clustering refits from the data
  f_p <- suppressWarnings(cluster_lm(y ~ x1 + x2 | unit + period, d, cluster = ~ period))
  expect_equal(suppressWarnings(vcov_cluster(fit, cluster = ~ period)), f_p$vcov, tolerance = 1e-12)
})

test_that("multiway clustering with absorbed effects equals vcovCL on the dummy regression", {
  skip_if_not_installed("sandwich")
  d <- fe_panel(seed = 11)
  fit <- quiet_fit(y ~ x1 + x2 | unit, d, cluster = ~ g + period, ssc = "full")
  l <- lm(y ~ factor(unit) + x1 + x2, d)
  V <- sandwich::vcovCL(l, cluster = ~ g + period, type = "HC1")[c("x1", "x2"), c("x1", "x2")]
  expect_equal(fit$vcov, V, tolerance = 1e-10)
})

test_that("bad input: a fixed effect that does not exist", {
  d <- fe_panel()
  expect_error(cluster_lm(y ~ x1 | nosuch, d, cluster = ~ g), class = "clusterab_error",
               regexp = "fixed effect `nosuch`")
  expect_error(cluster_lm(y ~ x1 | unit + nosuch2, d, cluster = ~ g), class = "clusterab_error",
               regexp = "nosuch2")
  expect_error(cluster_lm(y ~ x1 | unit[x2], d, cluster = ~ g), class = "clusterab_error",
               regexp = "not supported")
  expect_error(cluster_lm(y ~ x1 | unit, d, cluster = ~ g, ssc = "areg"), class = "clusterab_error",
               regexp = "`ssc`")
  expect_error(cluster_lm(y ~ x1 | unit, d, cluster = ~ g, fixef.tol = 0), class = "clusterab_error",
               regexp = "fixef.tol")
  expect_error(cluster_stats(d, y ~ x1 | unit, cluster = "g"), class = "clusterab_error",
               regexp = "only cluster_lm")
})

test_that("bad input: a covariate absorbed by the effects is reported as collinear (NA)", {
  d <- fe_panel(seed = 12)
  d$unit_level <- d$unit %% 7 + 0.5   # constant within unit
  expect_message(fit <- quiet_fit(y ~ x1 + unit_level | unit, d, cluster = ~ g),
                 class = "clusterab_fixef_collinear", regexp = "unit_level")
  expect_true(is.na(coef(fit)[["unit_level"]]))
  ref <- quiet_fit(y ~ x1 | unit, d, cluster = ~ g)
  expect_equal(coef(fit)[["x1"]], coef(ref)[["x1"]], tolerance = 1e-12)
  expect_equal(fit$vcov, ref$vcov, tolerance = 1e-12)
  skip_if_not_installed("fixest")
  fx <- suppressMessages(fixest_fun("feols")(y ~ x1 + unit_level | unit, d, cluster = ~ g))
  expect_equal(fx$collin.var, "unit_level")
})

test_that("bad input: NA in a fixed effect drops the row (na.omit) and is counted", {
  d <- fe_panel(seed = 13)
  d$period[c(2, 5, 9)] <- NA
  fit <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g)
  expect_equal(nobs(fit), nrow(d) - 3L)
  expect_equal(fit$stats$dropped, 3L)
  ref <- quiet_fit(y ~ x1 + x2 | unit + period, d[-c(2, 5, 9), ], cluster = ~ g)
  expect_equal(coef(fit), coef(ref), tolerance = 1e-12)
})

test_that("bad input: demeaning that does not converge warns with the change reached", {
  d <- fe_panel(seed = 14)
  d$g <- d$unit  # 60 clusters: no few-cluster warning
  expect_warning(cluster_lm(y ~ x1 + x2 | unit + period, d, cluster = ~ g, type = "CR1",
                            fixef.iter = 1),
                 class = "clusterab_fixef_not_converged", regexp = "relative change reached is")
})

test_that("did_boot(fixed_effects = ) is the two-way fixed-effects DiD of fixest", {
  set.seed(15)
  units <- 80
  d <- data.frame(unit = rep(seq_len(units), each = 4), post = rep(c(0, 0, 1, 1), units))
  d$region <- (d$unit - 1) %/% 4
  d$treated <- as.integer(d$region %% 2 == 0)
  d$x <- stats::rnorm(nrow(d))
  d <- d[-c(5, 6, 7), ]   # unit 2 keeps one row: a singleton
  d$y <- stats::rnorm(units)[d$unit] + 0.5 * d$treated * d$post + 0.3 * d$post + d$x +
    stats::rnorm(nrow(d))
  fit <- did_boot(d, "y", "treated", "post", cluster = "region", R = 99, fixed_effects = "unit",
                  covariates = "x", ci = "perc")
  expect_equal(fit$singletons, 1L)
  expect_equal(fit$nobs, nrow(d) - 1L)
  expect_output(print(fit), "unit effects of `unit` absorbed")
  set.seed(3)
  f2 <- did_boot(d, "y", "treated", "post", cluster = "region", R = 99, fixed_effects = "unit",
                 covariates = "x", ci = "perc", threads = 1)
  set.seed(3)
  expect_identical(f2$t, did_boot(d, "y", "treated", "post", cluster = "region", R = 99,
                                  fixed_effects = "unit", covariates = "x", ci = "perc",
                                  threads = 2)$t)
  expect_error(did_boot(d, "y", "treated", "post", R = 99, fixed_effects = "unit"),
               class = "clusterab_error", regexp = "cluster bootstrap")
  d$unit2 <- d$unit %% 7   # units spread over clusters
  expect_error(did_boot(d, "y", "treated", "post", cluster = "region", R = 99, fixed_effects = "unit2"),
               class = "clusterab_error", regexp = "more than one cluster")
  expect_error(did_boot(d, "y", "treated", "post", cluster = "region", R = 99, fixed_effects = "nosuch"),
               class = "clusterab_error", regexp = "nosuch")
  skip_if_not_installed("fixest")
  fx <- fixest_fun("feols")(y ~ post + treated:post + x | unit, d, cluster = ~ region, notes = FALSE)
  expect_equal(unname(fit$estimate), unname(coef(fx)[["post:treated"]]), tolerance = 1e-10)
  expect_equal(fit$std.error, unname(fixest_fun("se")(fx)[["post:treated"]]), tolerance = 1e-10)
})

test_that("effects of any id type and combinations a^b; R-squared as fixest; predict refuses", {
  d <- fe_panel(seed = 16)
  d$unit_f <- factor(d$unit_id)
  d$day <- as.Date("2024-01-01") + d$period
  f1 <- quiet_fit(y ~ x1 + x2 | unit_f + day, d, cluster = ~ g)
  f2 <- quiet_fit(y ~ x1 + x2 | unit + period, d, cluster = ~ g)
  expect_equal(coef(f1), coef(f2), tolerance = 1e-12)
  d$region <- d$unit %% 4
  f3 <- quiet_fit(y ~ x1 + x2 | region^period, d, cluster = ~ g)
  l3 <- lm(y ~ factor(paste(region, period)) + x1 + x2, d)
  expect_equal(coef(f3), coef(l3)[c("x1", "x2")], tolerance = 1e-10)
  expect_equal(f3$fixef_info$levels[["region^period"]], length(unique(paste(d$region, d$period))))
  expect_error(predict(f2, newdata = d), class = "clusterab_error", regexp = "fixef")
  expect_output(print(summary(f2)), "Within R-squared")
  skip_if_not_installed("fixest")
  fx <- fixest_fun("feols")(y ~ x1 + x2 | unit + period, d, cluster = ~ g, fixef.tol = 1e-10, notes = FALSE)
  expect_equal(unname(f2$r.squared), unname(fixest_fun("r2")(fx, "r2")), tolerance = 1e-8)
  expect_equal(unname(f2$within.r.squared), unname(fixest_fun("r2")(fx, "wr2")), tolerance = 1e-8)
  expect_equal(unname(f2$adj.r.squared), unname(fixest_fun("r2")(fx, "ar2")), tolerance = 1e-8)
  expect_equal(glance(f2)$adj.r.squared, unname(fixest_fun("r2")(fx, "ar2")), tolerance = 1e-8)
})

test_that("absorbed effects give the same fit under both compress plans", {
  d <- fe_panel(seed = 17)
  withr_plan <- function(plan, expr) {
    old <- options(clusterab.compress_plan = plan)
    on.exit(options(old))
    expr
  }
  fm <- withr_plan("moments", suppressWarnings(cluster_lm(y ~ x1 + x2 | unit + period, d, cluster = ~ g)))
  fs <- withr_plan("scores", suppressWarnings(cluster_lm(y ~ x1 + x2 | unit + period, d, cluster = ~ g)))
  expect_equal(coef(fs), coef(fm), tolerance = 1e-12)
  expect_equal(fs$vcov, fm$vcov, tolerance = 1e-12)
  expect_equal(df.residual(fs), df.residual(fm))
  ## consumers of M_g recompute the statistics from the call's data, absorbed
  f_cr1s <- suppressWarnings(cluster_lm(y ~ x1 + x2 | unit + period, d, cluster = ~ g, type = "CR1S"))
  expect_equal(withr_plan("scores", suppressWarnings(vcov_cluster(fs, type = "CR1S"))), f_cr1s$vcov,
               tolerance = 1e-12)
  f1m <- withr_plan("moments", suppressWarnings(cluster_lm(y ~ x1 + x2 | unit, d, cluster = ~ g)))
  f1s <- withr_plan("scores", suppressWarnings(cluster_lm(y ~ x1 + x2 | unit, d, cluster = ~ g)))
  f_cr2 <- suppressWarnings(cluster_lm(y ~ x1 + x2 | unit, d, cluster = ~ g, type = "CR2"))
  expect_equal(suppressWarnings(vcov_cluster(f1s, type = "CR2")), f_cr2$vcov, tolerance = 1e-12)
  expect_equal(suppressWarnings(vcov_cluster(f1m, type = "CR2")), f_cr2$vcov, tolerance = 1e-12)
  expect_equal(attr(suppressWarnings(coef_test(f1s, type = "CR2")), "df"), attr(coef_test(f_cr2), "df"), tolerance = 1e-10)
})

test_that("fixef() with weights and with a combination a^b", {
  d <- fe_panel(seed = 18)
  fit <- suppressWarnings(cluster_lm(y ~ x1 + x2 | unit, d, cluster = ~ g, weights = ~ w))
  l <- lm(y ~ 0 + factor(unit) + x1 + x2, d, weights = w)
  expect_equal(unname(fixef(fit)$unit), unname(coef(l)[seq_len(60)]), tolerance = 1e-10)
  d$region <- d$unit %% 4
  fit2 <- suppressWarnings(cluster_lm(y ~ x1 + x2 | region^period, d, cluster = ~ g))
  fe <- fixef(fit2)[["region^period"]]
  expect_true(all(grepl("^[0-9]+_[0-9]+$", names(fe))))
  skip_if_not_installed("fixest")
  fx <- fixest_fun("feols")(y ~ x1 + x2 | unit, d, weights = ~ w, notes = FALSE)
  expect_equal(fixef(fit)$unit, fixest_fun("fixef")(fx)$unit, tolerance = 1e-10, ignore_attr = TRUE)
})

test_that("three fixed effects equal lm() with the dummies (connected design)", {
  skip_if_not_installed("sandwich")
  d <- fe_panel(seed = 19)
  d <- d[stats::ave(d$unit, d$unit, FUN = length) > 1, ]   # no singletons, so lm() sees the same rows
  d$shift <- sample(letters[1:5], nrow(d), TRUE)
  fit <- suppressWarnings(cluster_lm(y ~ x1 + x2 | unit + period + shift, d, cluster = ~ g, ssc = "full"))
  expect_equal(fit$fixef_info$singletons, 0L)
  l <- lm(y ~ factor(unit) + factor(period) + factor(shift) + x1 + x2, d)
  expect_equal(coef(fit), coef(l)[c("x1", "x2")], tolerance = 1e-8)
  expect_equal(fit$fixef_info$k + 2L, l$rank)
  expect_equal(fit$vcov, sandwich::vcovCL(l, cluster = ~ g, type = "HC1")[c("x1", "x2"), c("x1", "x2")],
               tolerance = 1e-8)
})
