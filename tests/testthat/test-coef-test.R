## coef_test() and coef_ci() against lmtest::coeftest() and lmtest::coefci().

test_that("coef_test equals lmtest::coeftest with the same covariance and df", {
  need("lmtest"); need("sandwich")
  d <- sim_clustered(G = 20, seed = 41)
  fit <- lm(y ~ treat + x1, data = d)
  ## lmtest's residual df on request
  ours <- quiet_few(coef_test(fit, cluster = ~ g, df = "residual"))
  ref <- lmtest::coeftest(fit, vcov. = sandwich::vcovCL, cluster = ~ g)
  expect_s3_class(ours, "coeftest")
  expect_equal(unclass(ours)[, ], unclass(ref)[, ], tolerance = 1e-10)
  for (a in c("method", "df", "nobs", "logLik")) expect_equal(attr(ours, a), attr(ref, a))
  ## the default for a clustered covariance: G - 1, as Stata and fixest
  def <- quiet_few(coef_test(fit, cluster = ~ g))
  ref19 <- lmtest::coeftest(fit, vcov. = sandwich::vcovCL(fit, cluster = ~ g), df = 19)
  expect_equal(unclass(def)[, ], unclass(ref19)[, ], tolerance = 1e-10)
  expect_identical(attr(def, "df"), 19)
  expect_identical(attr(def, "df_rule"), "G - 1")
  expect_identical(attr(def, "type"), "HC1")
  expect_identical(attr(def, "clusters"), c(g = 20L))
  for (type in c("CR1", "CR2", "CR3")) {
    need("clubSandwich")
    V <- as.matrix(clubSandwich::vcovCR(fit, cluster = d$g, type = type))
    ## G - 1 on request (the default for CR2 is Satterthwaite: test-satterthwaite.R)
    expect_equal(unclass(quiet_few(coef_test(fit, cluster = ~ g, type = type, df = "cluster")))[, ],
                 unclass(lmtest::coeftest(fit, vcov. = V, df = 19))[, ], tolerance = 1e-8)
  }
  ## a covariance matrix or a foreign function as `vcov`: lmtest's rule
  V <- sandwich::vcovCL(fit, cluster = ~ g, type = "HC0")
  expect_equal(unclass(coef_test(fit, vcov = V))[, ], unclass(lmtest::coeftest(fit, vcov. = V))[, ],
               tolerance = 1e-12)
  expect_equal(unclass(coef_test(fit, vcov = sandwich::vcovCL, cluster = ~ g, type = "HC0"))[, ],
               unclass(lmtest::coeftest(fit, vcov. = V))[, ], tolerance = 1e-12)
  expect_equal(unclass(coef_test(fit, vcov = vcov))[, ], unclass(lmtest::coeftest(fit))[, ],
               tolerance = 1e-12)
  expect_identical(attr(coef_test(fit, vcov = V), "df_rule"), "residual")
  ## vcov = vcov_cluster is ours: G - 1
  expect_identical(attr(quiet_few(coef_test(fit, vcov = vcov_cluster, cluster = ~ g)), "df"), 19)
  ## without clustering (each row its own cluster): residual df
  hc <- coef_test(fit)
  expect_identical(attr(hc, "df"), df.residual(fit))
  expect_equal(unclass(hc)[, ], unclass(lmtest::coeftest(fit, vcov. = sandwich::vcovCL(fit)))[, ],
               tolerance = 1e-10)
  ## prints like lmtest
  expect_output(print(ours), "t test of coefficients")
})

test_that("glm: G - 1 by default, z tests as lmtest with df = 'residual'", {
  need("lmtest"); need("sandwich")
  d <- sim_clustered(G = 20, seed = 42)
  fit <- glm(yb ~ treat + x1, data = d, family = binomial)
  ours <- quiet_few(coef_test(fit, cluster = ~ g, df = "residual"))
  ref <- lmtest::coeftest(fit, vcov. = sandwich::vcovCL, cluster = ~ g)
  expect_identical(colnames(ours), colnames(ref))
  expect_equal(unclass(ours)[, ], unclass(ref)[, ], tolerance = 1e-10)
  expect_identical(attr(ours, "method"), "z test of coefficients")
  def <- quiet_few(coef_test(fit, cluster = ~ g))
  expect_equal(unclass(def)[, ], unclass(lmtest::coeftest(fit, vcov. = sandwich::vcovCL(fit, cluster = ~ g),
                                                           df = 19))[, ], tolerance = 1e-10)
  expect_identical(attr(def, "method"), "t test of coefficients")
})

test_that("df = 'cluster' uses G - 1; numeric df is used as given", {
  need("lmtest"); need("sandwich")
  d <- sim_clustered(G = 20, seed = 43)
  fit <- lm(y ~ treat + x1, data = d)
  V <- sandwich::vcovCL(fit, cluster = ~ g)
  quiet_few({
    expect_equal(unclass(coef_test(fit, cluster = ~ g, df = "cluster"))[, ],
                 unclass(lmtest::coeftest(fit, vcov. = V, df = 19))[, ], tolerance = 1e-10)
    expect_identical(attr(coef_test(fit, cluster = ~ g + h, df = "cluster"), "df"), 6)
    expect_identical(attr(coef_test(fit, cluster = ~ g + h), "df"), 6)
    expect_equal(unclass(coef_test(fit, cluster = ~ g, df = 7))[, ],
                 unclass(lmtest::coeftest(fit, vcov. = V, df = 7))[, ], tolerance = 1e-10)
    expect_identical(attr(coef_test(fit, cluster = ~ g, df = 7), "df_rule"), "given")
    expect_identical(attr(coef_test(fit, cluster = ~ g, df = Inf), "method"), "z test of coefficients")
    expect_equal(coef_ci(fit, cluster = ~ g, df = "cluster", level = 0.9),
                 lmtest::coefci(fit, vcov. = V, df = 19, level = 0.9), tolerance = 1e-10)
    expect_equal(coef_ci(fit, cluster = ~ g, level = 0.9),
                 lmtest::coefci(fit, vcov. = V, df = 19, level = 0.9), tolerance = 1e-10)
    expect_equal(coef_ci(fit, parm = "treat", cluster = ~ g, df = "residual"),
                 lmtest::coefci(fit, parm = "treat", vcov. = V), tolerance = 1e-10)
    ## a matrix with a cluster for df = "cluster" only
    expect_identical(attr(coef_test(fit, vcov = V, cluster = ~ g, df = "cluster"), "df"), 19)
    expect_error(coef_test(fit, df = "cluster"), "needs `cluster`", class = "clusterab_error")
    expect_error(coef_test(fit, cluster = ~ g, df = -1), "`df`", class = "clusterab_error")
    expect_error(coef_test(fit, cluster = ~ g, df = "G-1"), "`df`", class = "clusterab_error")
    expect_error(coef_ci(fit, cluster = ~ g, level = 95), "`level`", class = "clusterab_error")
    expect_error(coef_ci(fit, cluster = ~ g, parm = "nosuch"), "`parm`", class = "clusterab_error")
    expect_error(coef_test(fit, vcov = matrix(1, 2, 3)), "square", class = "clusterab_error")
  })
})

test_that("`cluster` as a column name, a formula or a vector", {
  d <- sim_clustered(G = 20, seed = 45)
  d$region <- paste0("r", d$g)
  fit <- lm(y ~ treat + x1, data = d)
  quiet_few({
    ref <- vcov_cluster(fit, cluster = ~ region, type = "CR2")
    expect_identical(vcov_cluster(fit, cluster = "region", type = "CR2"), ref)
    expect_identical(vcov_cluster(fit, cluster = d$region, type = "CR2"), ref)
    expect_identical(vcov_cluster(fit, cluster = c("g", "h")), vcov_cluster(fit, cluster = ~ g + h))
    expect_identical(unclass(coef_test(fit, cluster = "region", type = "CR2"))[, ],
                     unclass(coef_test(fit, cluster = ~ region, type = "CR2"))[, ])
    expect_identical(coef_ci(fit, cluster = "region"), coef_ci(fit, cluster = ~ region))
    ## subset and missing values are followed for a name as for a formula
    d$y[5] <- NA
    sub <- lm(y ~ treat + x1, data = d, subset = x2 > 0.2)
    expect_identical(vcov_cluster(sub, cluster = "g"), vcov_cluster(sub, cluster = ~ g))
  })
  expect_error(vcov_cluster(fit, cluster = "nosuch"), "`nosuch` in `cluster` was not found",
               class = "clusterab_error")
  expect_error(coef_test(fit, cluster = "nosuch"), "`nosuch`", class = "clusterab_error")
  expect_error(vcov_cluster(fit, cluster = list(1, 2)), "`cluster` must be", class = "clusterab_error")
})

test_that("a `vcov` of the wrong size or with missing values is refused", {
  d <- sim_clustered(G = 20, seed = 46)
  fit <- lm(y ~ treat, data = d)
  expect_error(coef_test(fit, vcov = diag(3)), "`vcov` is 3 x 3 but the model has 2 coefficients",
               class = "clusterab_error")
  V <- vcov(fit)
  V[1, 2] <- V[2, 1] <- NA
  expect_error(coef_test(fit, vcov = V), "`vcov` holds 2 missing", class = "clusterab_error")
  expect_error(coef_test(fit, vcov = function(x) diag(3)), "`vcov` is 3 x 3", class = "clusterab_error")
  named <- diag(2)
  dimnames(named) <- list(c("a", "b"), c("a", "b"))
  expect_error(coef_test(fit, vcov = named), "`vcov` has no row for `\\(Intercept\\)`",
               class = "clusterab_error")
  expect_error(coef_test(fit, vcov = -diag(2)), "negative variances", class = "clusterab_error")
  expect_error(coef_test(fit, vcov = "HC1"), "`vcov` must be a square", class = "clusterab_error")
  ## NA only for aliased coefficients is fine (vcov(lm) with complete = TRUE), as lmtest
  d$t2 <- 2 * d$treat
  al <- lm(y ~ treat + t2, data = d)
  expect_identical(rownames(coef_test(al, vcov = vcov)), c("(Intercept)", "treat", "t2"))
  expect_true(is.na(coef_test(al, vcov = vcov)["t2", 2]))
  expect_identical(rownames(quiet_few(coef_test(al, cluster = ~ g))), c("(Intercept)", "treat"))
})

test_that("tidy() and as.data.frame() of a coef_test: broom's columns and intervals", {
  d <- sim_clustered(G = 20, seed = 44)
  fit <- lm(y ~ treat + x1, data = d)
  ct <- quiet_few(coef_test(fit, cluster = ~ g))
  td <- tidy(ct)
  expect_named(td, c("term", "estimate", "std.error", "statistic", "df", "p.value"))
  expect_identical(td$df, rep(19, 3))
  expect_identical(td$term, c("(Intercept)", "treat", "x1"))
  ci <- tidy(ct, conf.int = TRUE, conf.level = 0.9)
  expect_named(ci, c("term", "estimate", "std.error", "statistic", "df", "p.value", "conf.low", "conf.high"))
  ref <- quiet_few(coef_ci(fit, cluster = ~ g, level = 0.9))
  expect_equal(ci$conf.low, unname(ref[, 1]), tolerance = 1e-12)
  expect_equal(ci$conf.high, unname(ref[, 2]), tolerance = 1e-12)
  ## z tests give normal intervals
  z <- tidy(quiet_few(coef_test(fit, cluster = ~ g, df = Inf)), conf.int = TRUE)
  expect_equal(z$conf.high - z$estimate, qnorm(0.975) * z$std.error, tolerance = 1e-12)
  expect_identical(as.data.frame(ct), td)
  expect_identical(as.data.frame(ct, conf.int = TRUE, conf.level = 0.9), ci)
  expect_error(tidy(ct, conf.int = TRUE, conf.level = 90), "`conf.level`", class = "clusterab_error")
  expect_error(tidy(ct, conf.int = NA), "`conf.int`", class = "clusterab_error")
  skip_if_not_installed("knitr")
  expect_true(any(grepl("treat", knitr::kable(ct))))
  expect_true(any(grepl("conf.low", knitr::kable(as.data.frame(ct, conf.int = TRUE)))))
})

test_that("the printout says the covariance type, the clusters and the df", {
  d <- sim_clustered(G = 20, seed = 47)
  fit <- lm(y ~ treat + x1, data = d)
  expect_output(print(coef_test(fit, cluster = ~ g, type = "CR2", df = "cluster")),
                "Standard errors: CR2, 20 clusters \\(g\\); t tests with 19 df \\(G - 1\\)")
  expect_output(print(coef_test(fit, cluster = ~ g, type = "CR2")),
                "Standard errors: CR2, 20 clusters \\(g\\); t tests with Satterthwaite df \\([0-9.]+ to [0-9.]+\\), per coefficient")
  expect_output(print(coef_test(fit, cluster = d$g, type = "CR2", df = "residual")),
                sprintf("Standard errors: CR2, 20 clusters \\(d\\$g\\); t tests with %d df \\(residual\\)",
                        df.residual(fit)))
  expect_output(print(quiet_few(coef_test(fit, cluster = ~ g + h))),
                "HC1, 20 clusters \\(g\\) and 7 clusters \\(h\\); t tests with 6 df \\(G - 1\\)")
  expect_output(print(coef_test(fit, vcov = vcov(fit))), "from the `vcov` given; t tests with")
  expect_output(print(coef_test(fit, cluster = ~ g, type = "CR2", df = Inf)), "z tests")
  expect_output(print(coef_test(fit)), "HC1 \\(heteroskedasticity-consistent, no clustering\\)")
  ## the few-cluster note is printed under the table
  expect_output(print(quiet_few(coef_test(fit, cluster = ~ g))), "Note: only 20 clusters")
})

test_that("fewer than 30 clusters with an uncorrected type: one classed warning per call", {
  d <- sim_clustered(G = 20, seed = 48)
  fit <- lm(y ~ treat + x1, data = d)
  count <- function(expr) {
    n <- 0L
    withCallingHandlers(expr, clusterab_few_clusters = function(w) {
      n <<- n + 1L
      invokeRestart("muffleWarning")
    })
    n
  }
  for (type in c("HC0", "HC1", "CR0", "CR1", "CR1p", "CR1S")) {
    expect_warning(vcov_cluster(fit, cluster = ~ g, type = type),
                   "only 20 clusters.*CR2.*randomization_test\\(\\).*cluster_ttest\\(\\)",
                   class = "clusterab_few_clusters")
    expect_identical(count(coef_test(fit, cluster = ~ g, type = type)), 1L)
    expect_identical(count(coef_ci(fit, cluster = ~ g, type = type)), 1L)
  }
  ## muffled by class
  expect_silent(suppressWarnings(coef_test(fit, cluster = ~ g), classes = "clusterab_few_clusters"))
  ## the small-sample corrected types, enough clusters, or no clustering: silent
  for (type in c("HC2", "HC3", "CR2", "CR3")) expect_silent(coef_test(fit, cluster = ~ g, type = type))
  many <- sim_clustered(G = 30, seed = 49)
  expect_silent(coef_test(lm(y ~ treat + x1, data = many), cluster = ~ g))
  expect_silent(coef_test(fit))
  expect_silent(vcov_cluster(fit))
  ## a cluster_lm fit warns when fitted, not again in coef_test() or summary()
  expect_identical(count(cl <- cluster_lm(y ~ treat + x1, data = d, cluster = ~ g)), 1L)
  expect_silent(coef_test(cl))
  expect_silent(summary(cl))
  expect_output(print(summary(cl)), "Note: only 20 clusters")
  expect_identical(count(coef_test(cl, type = "CR1")), 1L)
})

test_that("a coefficient resting on a single cluster is named in a warning", {
  d <- sim_clustered(G = 20, seed = 50)
  d$one <- as.numeric(d$g == 4)                   # one treated cluster
  fit <- lm(y ~ one + x1, data = d)
  for (type in c("HC1", "CR2", "CR3")) {
    expect_warning(quiet_few_but_single(vcov_cluster(fit, cluster = ~ g, type = type)),
                   "`one` cannot be estimated without cluster 4 of `g`",
                   class = "clusterab_single_cluster")
  }
  w <- tryCatch(coef_test(fit, cluster = ~ g, type = "CR2"), warning = identity)
  expect_s3_class(w, "clusterab_few_clusters")
  expect_output(print(suppressWarnings(coef_test(fit, cluster = ~ g, type = "CR2"))),
                "Note: `one` cannot be estimated without cluster 4")
  ## the intercept and x1 are fine: only `one` is named
  expect_no_match(conditionMessage(w), "x1|Intercept")
  ## scale-free: the same for a regressor 1e10 times larger, with weights
  d$big <- 1e10 * d$one
  expect_warning(vcov_cluster(lm(y ~ big + x1, data = d, weights = w), cluster = ~ g, type = "CR2"),
                 "`big` cannot be estimated", class = "clusterab_single_cluster")
  ## a regressor nonzero in one cluster only, also a continuous one
  d$z <- ifelse(d$g == 7, rnorm(nrow(d)), 0)
  expect_warning(quiet_few_but_single(vcov_cluster(lm(y ~ treat + z, data = d), cluster = ~ g)),
                 "`z` cannot be estimated without cluster 7", class = "clusterab_single_cluster")
  ## one cluster per arm: both coefficients, and the SEs are degenerate (with
  ## two clusters the Satterthwaite df are refused: G - 1 here)
  two <- d[d$g %in% c(4, 9), ]
  warns <- character(0)
  withCallingHandlers(coef_test(lm(y ~ one, data = two), cluster = ~ g, type = "CR2", df = "cluster"),
                      clusterab_single_cluster = function(w) {
                        warns <<- c(warns, conditionMessage(w))
                        invokeRestart("muffleWarning")
                      })
  expect_length(warns, 1L)
  expect_match(warns, "2 coefficients cannot be estimated.*`\\(Intercept\\)`: cluster 9; `one`: cluster 4")
  ## two treated clusters: no warning
  d$two <- as.numeric(d$g %in% c(4, 5))
  expect_silent(vcov_cluster(lm(y ~ two + x1, data = d), cluster = ~ g, type = "CR2"))
  ## cluster fixed effects: each effect rests on its own cluster, the slope does not
  small <- d[d$g <= 5, ]
  fe <- tryCatch(vcov_cluster(lm(y ~ x1 + factor(g), data = small), cluster = ~ g, type = "CR2"),
                 warning = identity)
  expect_match(conditionMessage(fe), "factor\\(g\\)2")
  expect_no_match(conditionMessage(fe), "`x1`")
  many_fe <- tryCatch(vcov_cluster(lm(y ~ x1 + factor(g), data = d), cluster = ~ g, type = "CR2"),
                      warning = identity)
  expect_match(conditionMessage(many_fe), "20 coefficients cannot be estimated.*; and 15 more\\)")
  ## cluster_lm(): warns when fitted and in summary's printout
  expect_warning(cl <- cluster_lm(y ~ one + x1, data = d, cluster = ~ g, type = "CR2"),
                 "`one` cannot be estimated without cluster 4", class = "clusterab_single_cluster")
  expect_output(print(cl), "Note: `one` cannot be estimated")
  expect_output(print(summary(cl)), "Note: `one` cannot be estimated")
  ## many clusters: cluster_lm() checks from its statistics; lm fits for CR2
  big <- sim_clustered(G = 150, seed = 51, max_size = 5)
  big$one <- as.numeric(big$g == 3)
  expect_warning(cluster_lm(y ~ one + x1, data = big, cluster = ~ g),
                 "`one` cannot be estimated", class = "clusterab_single_cluster")
  expect_warning(vcov_cluster(lm(y ~ one + x1, data = big), cluster = ~ g, type = "CR2"),
                 "`one` cannot be estimated", class = "clusterab_single_cluster")
})

test_that("coef_test() of a constant outcome warns that t is undefined (as lm() warns of a perfect fit)", {
  set.seed(70)
  d <- data.frame(y = 2, x1 = rnorm(60), treat = rep(0:1, 30), g = rep(1:30, each = 2))
  fit <- lm(y ~ x1 + treat, data = d)
  expect_warning(summary(fit), "essentially perfect fit")   # lm()'s own criterion
  expect_warning(coef_test(fit, cluster = ~ g, type = "CR2"), "t statistics and p-values are undefined",
                 class = "clusterab_perfect_fit")
  ## from the statistics the standard errors are exactly zero
  cfit <- suppressWarnings(cluster_lm(y ~ x1 + treat, data = d, cluster = "g"))
  expect_warning(tab <- coef_test(cfit, type = "CR2"), class = "clusterab_perfect_fit")
  expect_true(all(tab[, 2L] == 0))
  d <- sim_clustered(G = 30, seed = 70)
  expect_no_warning(coef_test(lm(y ~ x1 + treat, data = d), cluster = ~ g, type = "CR2"))
})
