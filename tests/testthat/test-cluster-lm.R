## cluster_lm(): coefficients as lm(), covariance as sandwich/clubSandwich.

test_that("coefficients equal lm() for many kinds of terms", {
  d <- sim_clustered(G = 30, seed = 21)
  d$flag <- d$x1 > 0
  d$chr <- as.character(d$f)
  formulas <- list(y ~ treat + x1 + x2,
                   y ~ treat * f + log(x2) + I(x1^2),
                   y ~ 0 + f + x1,
                   y ~ x1 + flag + chr,
                   y ~ poly(x1, 2) + x2:f,
                   y ~ treat + offset(x2))
  for (fm in formulas) {
    fit <- cluster_lm(fm, data = d, cluster = ~ g)
    ref <- lm(fm, data = d)
    expect_rel_equal(coef(fit), coef(ref), 1e-10)
    expect_identical(nobs(fit), nobs(ref))
    expect_identical(df.residual(fit), df.residual(ref))
  }
  fw <- cluster_lm(y ~ treat + x1 + f, data = d, cluster = ~ g, weights = ~ w)
  expect_rel_equal(coef(fw), coef(lm(y ~ treat + x1 + f, data = d, weights = w)), 1e-10)
})

test_that("covariance equals sandwich::vcovCL for HC0-HC3, with and without weights", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 30, seed = 22)
  for (weighted in c(FALSE, TRUE)) {
    ref_fit <- if (weighted) lm(y ~ treat + x1 + f, data = d, weights = w) else lm(y ~ treat + x1 + f, data = d)
    for (type in c("HC0", "HC1", "HC2", "HC3")) {
      for (cadjust in c(TRUE, FALSE)) {
        fit <- cluster_lm(y ~ treat + x1 + f, data = d, cluster = "g", type = type, cadjust = cadjust,
                          weights = if (weighted) "w")
        expect_vcov_equal(vcov(fit), sandwich::vcovCL(ref_fit, cluster = ~ g, type = type, cadjust = cadjust), 1e-10)
      }
      fit2 <- cluster_lm(y ~ treat + x1 + f, data = d, cluster = ~ g + h, type = type,
                         weights = if (weighted) ~ w)
      expect_vcov_equal(vcov(fit2), sandwich::vcovCL(ref_fit, cluster = ~ g + h, type = type), 1e-10)
    }
  }
}) })

test_that("CR types equal clubSandwich::vcovCR, with and without weights", {
  need("clubSandwich")
  d <- sim_clustered(G = 30, seed = 23)
  for (weighted in c(FALSE, TRUE)) {
    ref_fit <- if (weighted) lm(y ~ treat + x1, data = d, weights = w) else lm(y ~ treat + x1, data = d)
    for (type in c("CR0", "CR1", "CR1p", "CR1S", "CR2", "CR3")) {
      fit <- cluster_lm(y ~ treat + x1, data = d, cluster = ~ g, type = type,
                        weights = if (weighted) d$w)
      expect_vcov_equal(vcov(fit), as.matrix(clubSandwich::vcovCR(ref_fit, cluster = d$g, type = type)), 1e-8)
    }
  }
})

test_that("PetersenCL: equal to lm() + vcovCL() one- and two-way", { quiet_few({
  need("sandwich")
  e <- new.env()
  utils::data("PetersenCL", package = "sandwich", envir = e)
  ref <- lm(y ~ x, data = e$PetersenCL)
  fit <- cluster_lm(y ~ x, data = e$PetersenCL, cluster = ~ firm)
  expect_rel_equal(coef(fit), coef(ref), 1e-10)
  expect_vcov_equal(vcov(fit), sandwich::vcovCL(ref, cluster = ~ firm), 1e-10)
  fit2 <- cluster_lm(y ~ x, data = e$PetersenCL, cluster = ~ firm + year)
  expect_vcov_equal(vcov(fit2), sandwich::vcovCL(ref, cluster = ~ firm + year), 1e-10)
  expect_equal(fit2$G, c(firm = 500L, year = 10L))
}) })

test_that("an ill-conditioned design: coefficients and covariance stay accurate", {
  need("sandwich")
  ill <- sim_ill_conditioned(seed = 24)
  ref_fit <- lm(y ~ treat + year + time, data = ill$centred)
  fit <- cluster_lm(y ~ treat + year + time, data = ill$data, cluster = ~ g)
  ## slopes from the well-conditioned refit; the intercept mapped back
  ref_coef <- drop(ill$to_original %*% coef(ref_fit))
  names(ref_coef) <- names(coef(ref_fit))
  expect_rel_equal(coef(fit), ref_coef, 1e-10)
  expect_rel_equal(coef(fit), coef(lm(y ~ treat + year + time, data = ill$data)), 1e-8)
  expect_vcov_equal(vcov(fit), uncentred_reference(sandwich::vcovCL(ref_fit, cluster = ~ g), ill,
                                                   names(ref_coef)), 1e-10)
})

test_that("aliased columns are NA as in lm(); the covariance covers the rest", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 20, seed = 25)
  d$x3 <- d$x1 + d$x2
  d$x4 <- 3 * d$treat
  ref <- lm(y ~ treat + x1 + x2 + x3 + x4 + f, data = d)
  fit <- cluster_lm(y ~ treat + x1 + x2 + x3 + x4 + f, data = d, cluster = ~ g)
  expect_rel_equal(coef(fit), coef(ref), 1e-10)
  expect_vcov_equal(vcov(fit, complete = FALSE), sandwich::vcovCL(ref, cluster = ~ g), 1e-10)
  V <- vcov(fit)
  expect_identical(dim(V), c(8L, 8L))
  expect_true(all(is.na(V["x3", ])))
  expect_output(print(summary(fit)), "2 not defined because of singularities")
  two_way <- cluster_lm(y ~ treat + x1 + x2 + x3 + x4 + f, data = d, cluster = ~ g + h, type = "HC2")
  expect_vcov_equal(vcov(two_way, complete = FALSE),
                    sandwich::vcovCL(ref, cluster = ~ g + h, type = "HC2"), 1e-10)
}) })

test_that("rows with missing values are dropped as by na.omit", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 20, seed = 26)
  d$y[c(2, 7)] <- NA
  d$x1[11] <- NA
  d$f[30] <- NA
  d$w[40] <- NA
  ref <- lm(y ~ treat + x1 + f, data = d, weights = w)
  fit <- cluster_lm(y ~ treat + x1 + f, data = d, cluster = ~ g, weights = ~ w)
  expect_identical(nobs(fit), nobs(ref))
  expect_rel_equal(coef(fit), coef(ref), 1e-10)
  expect_vcov_equal(vcov(fit), sandwich::vcovCL(ref, cluster = ~ g), 1e-10)
}) })

test_that("methods: confint, coef_test, tidy, summary, print and lmtest", { quiet_few({
  need("sandwich"); need("lmtest")
  d <- sim_clustered(G = 20, seed = 27)
  fit <- cluster_lm(y ~ treat + x1, data = d, cluster = ~ g)
  ref <- lm(y ~ treat + x1, data = d)
  V <- sandwich::vcovCL(ref, cluster = ~ g)
  expect_equal(confint(fit, df = "residual"), lmtest::coefci(ref, vcov. = V), tolerance = 1e-10)
  expect_equal(confint(fit, "treat", level = 0.9, df = "residual"),
               lmtest::coefci(ref, parm = "treat", level = 0.9, vcov. = V), tolerance = 1e-10)
  ## the default: G - 1
  expect_equal(confint(fit), lmtest::coefci(ref, vcov. = V, df = 19), tolerance = 1e-10)
  expect_equal(unclass(lmtest::coeftest(fit))[, ], unclass(lmtest::coeftest(ref, vcov. = V))[, ],
               tolerance = 1e-10)
  td <- tidy(fit, conf.int = TRUE)
  expect_named(td, c("term", "estimate", "std.error", "statistic", "df", "p.value", "conf.low", "conf.high"))
  expect_equal(td$std.error, unname(sqrt(diag(V))), tolerance = 1e-10)
  expect_output(print(fit), "HC1 cluster-robust standard errors, clustered by g \\(20 clusters\\)")
  s <- summary(fit)
  expect_equal(s$r.squared, summary(ref)$r.squared, tolerance = 1e-10)
  expect_equal(s$adj.r.squared, summary(ref)$adj.r.squared, tolerance = 1e-10)
  expect_equal(s$sigma, summary(ref)$sigma, tolerance = 1e-10)
  expect_output(print(s), "Residual standard error")
  expect_identical(attr(summary(fit, df = "cluster")$coefficients, "df"), 19)
}) })

test_that("vcov_cluster() on a cluster_lm fit: other types and clusterings", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 20, seed = 28)
  fit <- cluster_lm(y ~ treat + x1, data = d, cluster = ~ g)
  ref <- lm(y ~ treat + x1, data = d)
  expect_identical(vcov_cluster(fit), vcov(fit))
  expect_vcov_equal(vcov_cluster(fit, type = "HC2"), sandwich::vcovCL(ref, cluster = ~ g, type = "HC2"), 1e-10)
  expect_vcov_equal(vcov_cluster(fit, cluster = ~ h), sandwich::vcovCL(ref, cluster = ~ h), 1e-10)
  expect_vcov_equal(vcov_cluster(fit, cluster = ~ g + h, multi0 = TRUE),
                    sandwich::vcovCL(ref, cluster = ~ g + h, multi0 = TRUE), 1e-10)
}) })

test_that("fits from cluster_stats() equal fits from the data, also for sub-models", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 25, seed = 29)
  st <- cluster_stats(d, y ~ treat + x1 + x2 + year, cluster = "g")
  a <- cluster_lm(st)
  b <- cluster_lm(y ~ treat + x1 + x2 + year, data = d, cluster = ~ g)
  expect_identical(coef(a), coef(b))
  expect_identical(vcov(a), vcov(b))
  sub <- cluster_lm(y ~ treat + x2, data = st, type = "HC2")
  ref <- lm(y ~ treat + x2, data = d)
  expect_rel_equal(coef(sub), coef(ref), 1e-10)
  expect_vcov_equal(vcov(sub), sandwich::vcovCL(ref, cluster = ~ g, type = "HC2"), 1e-10)
  expect_error(cluster_lm(y ~ treat + zz, data = st), "`zz`")
  expect_error(cluster_lm(x1 ~ treat, data = st), "outcome")
  ## weighted statistics carry what HC2 and CR2 need
  sw <- cluster_stats(d, y ~ treat + x1, cluster = "g", weights = "w")
  rw <- lm(y ~ treat + x1, data = d, weights = w)
  expect_vcov_equal(vcov(cluster_lm(sw, type = "HC2")), sandwich::vcovCL(rw, cluster = ~ g, type = "HC2"), 1e-10)
  expect_error(vcov_cluster(cluster_lm(sw), cluster = ~ h), "cluster_stats")
}) })

test_that("results do not depend on the number of threads", {
  d <- sim_clustered(G = 40, seed = 30)
  for (type in c("HC1", "HC2", "CR2")) {
    a <- cluster_lm(y ~ treat + x1 + f, data = d, cluster = ~ g, weights = ~ w, type = type, threads = 1)
    b <- cluster_lm(y ~ treat + x1 + f, data = d, cluster = ~ g, weights = ~ w, type = type, threads = 2)
    expect_identical(coef(a), coef(b))
    expect_identical(vcov(a), vcov(b))
  }
  old <- options(clusterab.threads = 1)
  on.exit(options(old))
  expect_identical(vcov(cluster_lm(y ~ x1, data = d, cluster = ~ g)),
                   vcov(cluster_lm(y ~ x1, data = d, cluster = ~ g, threads = 2)))
})

test_that("data.table input works like a data frame", { quiet_few({
  skip_if_not_installed("data.table")
  d <- sim_clustered(G = 15, seed = 31)
  dt <- data.table::as.data.table(d)
  expect_identical(vcov(cluster_lm(y ~ treat + x1 + f, data = dt, cluster = ~ g)),
                   vcov(cluster_lm(y ~ treat + x1 + f, data = d, cluster = ~ g)))
}) })

test_that("bad input: clear errors naming the argument, never a crash", { quiet_few({
  d <- sim_clustered(G = 10, seed = 32)
  with_na <- d
  with_na$g[3] <- NA
  expect_error(cluster_lm(y ~ x1, data = with_na, cluster = "g"), "`cluster` has 1 missing value")
  expect_error(cluster_lm(y ~ x1, data = d, cluster = d$g[-1]),
               sprintf("`cluster` has %d values but `data` has %d rows", nrow(d) - 1L, nrow(d)))
  expect_error(cluster_lm(y ~ x1, data = d, cluster = rep("a", nrow(d))), "single cluster")
  expect_error(cluster_lm(y ~ x1, data = d, cluster = "nosuch"), "`cluster` names column\\(s\\) `nosuch`")
  expect_error(cluster_lm(y ~ x1, data = d, cluster = ~ nosuch), "`nosuch`")
  expect_error(cluster_lm(y ~ nosuch, data = d, cluster = "g"), "variable `nosuch` in `formula` was not found")
  expect_error(cluster_lm(y ~ x1, data = d), "`cluster` is required")
  ## weights: negative is an error, zero drops the row (as clubSandwich), NA drops it (na.omit)
  neg <- d
  neg$w[2] <- -1
  expect_error(cluster_lm(y ~ x1, data = neg, cluster = "g", weights = "w"), "`weights` must be non-negative")
  zero <- d
  zero$w[c(2, 9)] <- 0
  fz <- cluster_lm(y ~ x1, data = zero, cluster = "g", weights = "w")
  expect_identical(nobs(fz), nrow(d) - 2L)
  expect_identical(coef(fz), coef(cluster_lm(y ~ x1, data = zero[zero$w > 0, ], cluster = "g", weights = "w")))
  all_zero <- d
  all_zero$w[] <- 0
  expect_error(cluster_lm(y ~ x1, data = all_zero, cluster = "g", weights = "w"), "no rows left")
  expect_error(cluster_lm(y ~ x1, data = d, cluster = "g", weights = d$w[-1]), "`weights` has")
  ## infinite values
  inf <- d
  inf$x1[4] <- Inf
  expect_error(cluster_lm(y ~ x1, data = inf, cluster = "g"), "`x1` contain\\(s\\) infinite values")
  inf <- d
  inf$y[4] <- -Inf
  expect_error(cluster_lm(y ~ x1, data = inf, cluster = "g"), "`y` contain\\(s\\) infinite values")
  ## empty data, all rows missing, too few rows
  expect_error(cluster_lm(y ~ x1, data = d[0, ], cluster = "g"), "`data` has no rows")
  none <- d
  none$y[] <- NA
  expect_error(cluster_lm(y ~ x1, data = none, cluster = "g"), "no rows left")
  tiny <- data.frame(y = c(1, 2, 4), x = c(0, 1, 3), g = c(1, 1, 2))
  expect_error(cluster_lm(y ~ poly(x, 2), data = tiny, cluster = "g"), "no residual degrees of freedom")
  ## non-numeric outcome, bad formula, bad data, bad type
  chr <- d
  chr$y <- as.character(chr$y)
  expect_error(cluster_lm(y ~ x1, data = chr, cluster = "g"), "outcome `y` must be a numeric vector, not character")
  chr$y <- factor(chr$y)
  expect_error(cluster_lm(y ~ x1, data = chr, cluster = "g"), "not factor")
  expect_error(cluster_lm(~ x1, data = d, cluster = "g"), "two-sided formula")
  expect_error(cluster_lm(y ~ x1, data = list(y = 1), cluster = "g"), "`data` must be a data frame")
  expect_error(cluster_lm(y ~ x1, data = d, cluster = "g", type = "HC9"), "`type` must be one of")
  expect_error(cluster_lm(y ~ x1, data = d, cluster = list(1, 2)), "`cluster` must be")
  expect_error(cluster_lm(y ~ f, data = transform(d, f = factor("a")), cluster = "g"), "`formula` could not be expanded")
  expect_error(cluster_stats(1:3, y ~ x1, cluster = "g"), "`data` must be a data frame")
  expect_error(cluster_stats(d, y ~ x1, cluster = ~ g + h), "one clustering variable")
}) })

test_that("intercept-only and no-intercept models", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 20, seed = 33)
  for (fm in list(y ~ 1, y ~ 0 + x1)) {
    ref <- lm(fm, data = d)
    for (type in c("HC1", "HC2")) {
      fit <- cluster_lm(fm, data = d, cluster = "g", type = type)
      expect_rel_equal(coef(fit), coef(ref), 1e-10)
      expect_vcov_equal(vcov(fit), sandwich::vcovCL(ref, cluster = ~ g, type = type), 1e-10)
      expect_vcov_equal(vcov_cluster(ref, cluster = ~ g, type = type),
                        sandwich::vcovCL(ref, cluster = ~ g, type = type), 1e-10)
    }
  }
}) })

test_that("summary, tidy and confint use G - 1 df by default, 'residual' as lmtest", {
  need("sandwich"); need("lmtest")
  d <- sim_clustered(G = 20, seed = 34)
  fit <- quiet_few(cluster_lm(y ~ treat + x1, data = d, cluster = ~ g))
  ref <- lm(y ~ treat + x1, data = d)
  V <- sandwich::vcovCL(ref, cluster = ~ g)
  expect_equal(unclass(summary(fit)$coefficients)[, ],
               unclass(lmtest::coeftest(ref, vcov. = V, df = 19))[, ], tolerance = 1e-10)
  expect_equal(unclass(summary(fit, df = "residual")$coefficients)[, ],
               unclass(lmtest::coeftest(ref, vcov. = V))[, ], tolerance = 1e-10)
  expect_equal(unclass(coef_test(fit))[, ], unclass(lmtest::coeftest(ref, vcov. = V, df = 19))[, ],
               tolerance = 1e-10)
  td <- tidy(fit, conf.int = TRUE, conf.level = 0.9)
  expect_equal(td$p.value, unname(lmtest::coeftest(ref, vcov. = V, df = 19)[, 4]), tolerance = 1e-10)
  expect_equal(td$conf.low, unname(lmtest::coefci(ref, vcov. = V, df = 19, level = 0.9)[, 1]),
               tolerance = 1e-10)
  tr <- tidy(fit, df = "residual")
  expect_equal(tr$p.value, unname(lmtest::coeftest(ref, vcov. = V)[, 4]), tolerance = 1e-10)
  expect_equal(confint(fit, df = 7), lmtest::coefci(ref, vcov. = V, df = 7), tolerance = 1e-10)
  ## the printouts say so
  expect_output(print(summary(fit)), "Standard errors: HC1, 20 clusters \\(g\\); t tests with 19 df \\(G - 1\\)")
  expect_output(print(summary(fit, df = "residual")),
                sprintf("t tests with %d df \\(residual\\)", df.residual(ref)))
  expect_output(print(fit), "clustered by g \\(20 clusters\\); summary\\(\\) tests with 19 df \\(G - 1\\)")
})

test_that("glance() and as.data.frame() of a cluster_lm fit", {
  d <- sim_clustered(G = 30, seed = 35)
  fit <- cluster_lm(y ~ treat + x1, data = d, cluster = "g", type = "CR2")
  ref <- summary(lm(y ~ treat + x1, data = d))
  gl <- glance(fit)
  expect_named(gl, c("r.squared", "adj.r.squared", "sigma", "nobs", "df.residual", "nclusters", "vcov.type"))
  expect_equal(gl$r.squared, ref$r.squared, tolerance = 1e-10)
  expect_equal(gl$adj.r.squared, ref$adj.r.squared, tolerance = 1e-10)
  expect_equal(gl$sigma, ref$sigma, tolerance = 1e-10)
  expect_identical(gl$nobs, nrow(d))
  expect_identical(gl$nclusters, 30L)
  expect_identical(gl$vcov.type, "CR2")
  expect_identical(as.data.frame(fit), tidy(fit))
  expect_identical(as.data.frame(fit, conf.int = TRUE), tidy(fit, conf.int = TRUE))
  skip_if_not_installed("knitr")
  expect_true(any(grepl("treat", knitr::kable(fit))))
})

test_that("print() names a cluster given as a vector; notes for too few clusters", {
  d <- sim_clustered(G = 20, seed = 36)
  expect_warning(fit <- cluster_lm(y ~ treat + x1, data = d, cluster = d$g), "only 20 clusters \\(`d\\$g`\\)",
                 class = "clusterab_few_clusters")
  expect_output(print(fit), "clustered by d\\$g \\(20 clusters\\)")
  expect_output(print(fit), "Note: only 20 clusters")
  expect_output(print(summary(fit)), "HC1, 20 clusters \\(d\\$g\\)")
  ## the fit's own covariance is returned without a second warning
  expect_silent(vcov_cluster(fit))
  expect_silent(summary(fit))
  expect_silent(tidy(fit))
  ## CR2 does not warn about the number of clusters
  expect_silent(cluster_lm(y ~ treat + x1, data = d, cluster = "g", type = "CR2"))
  ## a new clustering or type warns for itself
  expect_warning(vcov_cluster(fit, type = "CR1"), "CR1 standard errors", class = "clusterab_few_clusters")
  d$one <- as.numeric(d$g == 2)
  expect_warning(vcov_cluster(cluster_lm(y ~ one + x1, data = d, cluster = "h", type = "CR2"), cluster = ~ g),
                 "`one` cannot be estimated without cluster 2 of `g`", class = "clusterab_single_cluster")
  ## from statistics
  st <- cluster_stats(d, y ~ one + x1, cluster = "g")
  expect_warning(quiet_few_but_single(cluster_lm(st)), "`one` cannot be estimated",
                 class = "clusterab_single_cluster")
  expect_warning(quiet_few_but_single(cluster_lm(y ~ x1, data = st)), NA)
})

test_that("refusals about the model name `formula`; a huge outcome names the outcome", {
  d <- sim_clustered(G = 30, seed = 68)
  expect_error(cluster_lm(y ~ x1 + treat, data = d[match(1:3, d$g), ], cluster = "g"),
               "no residual degrees of freedom: `formula` has 3", class = "clusterab_error")
  expect_error(cluster_lm(y ~ 0, data = d, cluster = "g"),
               "every coefficient of `formula` is aliased", class = "clusterab_error")
  d$y <- d$y * 1e200
  expect_error(cluster_lm(y ~ x1 + treat, data = d, cluster = "g"), "the outcome `y`",
               class = "clusterab_error")
})

test_that("a constant outcome (zero standard errors, t = 0/0) gets a classed warning", {
  d <- sim_clustered(G = 30, seed = 69)
  d$y <- 5
  expect_warning(fit <- cluster_lm(y ~ x1 + treat, data = d, cluster = "g"),
                 "outcome is fitted exactly", class = "clusterab_perfect_fit")
  expect_true(all(vcov(fit) == 0))
  expect_warning(cluster_lm(y ~ x1 + treat, data = d, cluster = "g", weights = "w", type = "CR2"),
                 class = "clusterab_perfect_fit")
  d <- sim_clustered(G = 30, seed = 69)
  expect_no_warning(cluster_lm(y ~ x1 + treat, data = d, cluster = "g"))
})

test_that("a negative multiway variance gets its own warning (not a zero standard error) and NaN, as sandwich", {
  skip_if_not_installed("sandwich")
  set.seed(1)
  n <- 40
  d <- data.frame(a = sample.int(4, n, TRUE), b = sample.int(4, n, TRUE), x = rnorm(n))
  d$y <- rnorm(n)
  ref <- sandwich::vcovCL(lm(y ~ x, d), cluster = ~ a + b, type = "HC0")
  expect_lt(ref["x", "x"], 0)   # the case: V_a + V_b - V_ab < 0 for x
  seen <- character(0)
  fit <- withCallingHandlers(cluster_lm(y ~ x, d, cluster = ~ a + b, type = "HC0"),
                             warning = function(w) {
                               seen <<- c(seen, class(w)[1L])
                               if (inherits(w, "clusterab_negative_variance")) {
                                 expect_match(conditionMessage(w), "negative variances for `x`")
                               }
                               invokeRestart("muffleWarning")
                             })
  expect_true("clusterab_negative_variance" %in% seen)
  expect_false("clusterab_perfect_fit" %in% seen)
  expect_equal(unname(vcov(fit)), unname(ref), tolerance = 1e-10)
  tab <- suppressWarnings(coef_test(fit))
  expect_true(is.nan(tab["x", "Std. Error"]))
  expect_equal(tab["(Intercept)", "Std. Error"], sqrt(ref[1, 1]), tolerance = 1e-10)
})

## The compress plan (issue 11): a scores-plan fit keeps only the global
## cross-products; print, summary, tidy, glance, confint and predict give what
## a moments-plan fit gives, and consumers that need M_g recompute them from
## the call's data (fit_moments()).
test_that("a scores-plan fit prints, summarises and predicts as a moments-plan fit", { quiet_few({
  d <- sim_clustered(G = 35, seed = 91)
  fit_with <- function(plan) {
    old <- options(clusterab.compress_plan = plan)
    on.exit(options(old))
    cluster_lm(y ~ treat + x1 + f, data = d, cluster = ~ g, weights = ~ w)
  }
  a <- fit_with("moments")
  b <- fit_with("scores")
  expect_null(b$stats)
  expect_false(is.null(b$global_stats))
  expect_identical(ncol(b$global_stats$moments[["1"]]), 1L)
  expect_equal(summary(b)$coefficients[, ], summary(a)$coefficients[, ], tolerance = 1e-12)
  expect_equal(tidy(b), tidy(a), tolerance = 1e-12)
  expect_equal(glance(b), glance(a), tolerance = 1e-12)
  expect_equal(confint(b), confint(a), tolerance = 1e-12)
  expect_equal(predict(b, d[1:5, ], interval = "confidence"),
               predict(a, d[1:5, ], interval = "confidence"), tolerance = 1e-12)
  expect_output(print(b), "HC1 cluster-robust standard errors")
  ## another covariance type from the data of the call, then the fit's own
  expect_vcov_equal(vcov_cluster(b, type = "CR2"), vcov_cluster(a, type = "CR2"), 1e-12)
  expect_vcov_equal(vcov_cluster(b, type = "CR0"), vcov_cluster(a, type = "CR0"), 1e-12)
  expect_identical(vcov_cluster(b), vcov(b))
  st <- clusterab:::fit_moments(b, all_powers = TRUE)
  expect_identical(names(st$moments), c("0", "1", "2"))
  expect_identical(length(st$n), 35L)
}) })

test_that("fit_moments() of a fit from cluster_stats() returns those statistics", { quiet_few({
  d <- sim_clustered(G = 20, seed = 92)
  st <- cluster_stats(d, y ~ x1 + x2, cluster = "g")
  fit <- cluster_lm(st)
  expect_identical(clusterab:::fit_moments(fit), st)
}) })

test_that("statistics recomputed for a scores-plan fit refuse data changed since the fit", {
  old <- options(clusterab.compress_plan = "scores")
  on.exit(options(old))
  set.seed(11)
  d <- data.frame(x = rnorm(400), g = sample(40, 400, TRUE))
  d$y <- d$x + rnorm(400)
  fit <- cluster_lm(y ~ x, d, cluster = ~ g)
  expect_null(fit$stats)
  ## unchanged data: the recomputed statistics are accepted
  expect_equal(vcov_cluster(fit, type = "CR2"),
               vcov_cluster(cluster_lm(y ~ x, d, cluster = ~ g, type = "CR2")), tolerance = 1e-12)
  d$y[1] <- d$y[1] + 1
  expect_error(vcov_cluster(fit, type = "CR2"), class = "clusterab_data_changed")
  expect_error(vcov_cluster(fit, type = "CR2"), "changed since it was fitted", class = "clusterab_error")
})
