## coef_test() and coef_ci() against lmtest::coeftest() and lmtest::coefci().

test_that("coef_test equals lmtest::coeftest with the same covariance", {
  need("lmtest"); need("sandwich")
  d <- sim_clustered(G = 20, seed = 41)
  fit <- lm(y ~ treat + x1, data = d)
  ours <- coef_test(fit, cluster = ~ g)
  ref <- lmtest::coeftest(fit, vcov. = sandwich::vcovCL, cluster = ~ g)
  expect_s3_class(ours, "coeftest")
  expect_equal(unclass(ours)[, ], unclass(ref)[, ], tolerance = 1e-10)
  for (a in c("method", "df", "nobs", "logLik")) expect_equal(attr(ours, a), attr(ref, a))
  ## a covariance matrix or a function as `vcov`
  V <- sandwich::vcovCL(fit, cluster = ~ g, type = "HC0")
  expect_equal(unclass(coef_test(fit, vcov = V))[, ], unclass(lmtest::coeftest(fit, vcov. = V))[, ],
               tolerance = 1e-12)
  expect_equal(unclass(coef_test(fit, vcov = sandwich::vcovCL, cluster = ~ g, type = "HC0"))[, ],
               unclass(lmtest::coeftest(fit, vcov. = V))[, ], tolerance = 1e-12)
  expect_equal(unclass(coef_test(fit, vcov = vcov))[, ], unclass(lmtest::coeftest(fit))[, ],
               tolerance = 1e-12)
  ## prints like lmtest
  expect_output(print(ours), "t test of coefficients")
})

test_that("glm gives z tests, as lmtest", {
  need("lmtest"); need("sandwich")
  d <- sim_clustered(G = 20, seed = 42)
  fit <- glm(yb ~ treat + x1, data = d, family = binomial)
  ours <- coef_test(fit, cluster = ~ g)
  ref <- lmtest::coeftest(fit, vcov. = sandwich::vcovCL, cluster = ~ g)
  expect_identical(colnames(ours), colnames(ref))
  expect_equal(unclass(ours)[, ], unclass(ref)[, ], tolerance = 1e-10)
  expect_identical(attr(ours, "method"), "z test of coefficients")
})

test_that("df = 'cluster' uses G - 1; numeric df is used as given", {
  need("lmtest"); need("sandwich")
  d <- sim_clustered(G = 20, seed = 43)
  fit <- lm(y ~ treat + x1, data = d)
  V <- sandwich::vcovCL(fit, cluster = ~ g)
  expect_equal(unclass(coef_test(fit, cluster = ~ g, df = "cluster"))[, ],
               unclass(lmtest::coeftest(fit, vcov. = V, df = 19))[, ], tolerance = 1e-10)
  expect_identical(attr(coef_test(fit, cluster = ~ g + h, df = "cluster"), "df"), 6)
  expect_equal(unclass(coef_test(fit, cluster = ~ g, df = 7))[, ],
               unclass(lmtest::coeftest(fit, vcov. = V, df = 7))[, ], tolerance = 1e-10)
  expect_identical(attr(coef_test(fit, cluster = ~ g, df = Inf), "method"), "z test of coefficients")
  expect_equal(coef_ci(fit, cluster = ~ g, df = "cluster", level = 0.9),
               lmtest::coefci(fit, vcov. = V, df = 19, level = 0.9), tolerance = 1e-10)
  expect_equal(coef_ci(fit, parm = "treat", cluster = ~ g),
               lmtest::coefci(fit, parm = "treat", vcov. = V), tolerance = 1e-10)
  expect_error(coef_test(fit, df = "cluster"), "needs `cluster`")
  expect_error(coef_test(fit, cluster = ~ g, df = -1), "`df`")
  expect_error(coef_ci(fit, cluster = ~ g, level = 95), "`level`")
  expect_error(coef_test(fit, vcov = matrix(1, 2, 3)), "square")
})

test_that("tidy() of a coef_test has broom's columns", {
  d <- sim_clustered(G = 20, seed = 44)
  fit <- lm(y ~ treat + x1, data = d)
  td <- tidy(coef_test(fit, cluster = ~ g))
  expect_named(td, c("term", "estimate", "std.error", "statistic", "p.value"))
  expect_identical(td$term, c("(Intercept)", "treat", "x1"))
})
