## wald_test(): HTZ, chi-sq and naive-F against clubSandwich::Wald_test().

## 18 clusters of 3 to 25 rows, or (big) one of 500 rows and 17 of 2 to 15;
## a factor `f` (regression_data(), helper-regression-data.R).
wald_data <- function(seed, big = FALSE) {
  regression_data(if (big) "unequal" else "varied", seed, G = 18L, x1_effect = 0.2, factor = TRUE)
}

## clubSandwich's table for a constraint matrix, rows in our order of tests.
cs_wald <- function(fit, cluster, C) {
  ref <- clubSandwich::Wald_test(fit, constraints = C, vcov = "CR2", cluster = cluster,
                                 test = c("HTZ", "chi-sq", "Naive-F"))
  ref <- as.data.frame(ref)[match(c("HTZ", "chi-sq", "Naive-F"), ref$test), ]
  unname(as.matrix(ref[, c("Fstat", "delta", "df_num", "df_denom", "p_val")]))
}

expect_wald_equal <- function(ours, ref, tolerance = 1e-8) {
  o <- unname(as.matrix(as.data.frame(unclass(ours))[, c("Fstat", "delta", "df_num", "df_denom", "p_val")]))
  expect_identical(is.finite(o), is.finite(ref))
  ok <- is.finite(ref)
  expect_lte(max(abs(o[ok] - ref[ok]) / pmax(abs(ref[ok]), 1e-300)), tolerance)
}

test_that("wald_test() equals clubSandwich::Wald_test() (HTZ, chi-sq, naive-F)", {
  need("clubSandwich")
  for (big in c(FALSE, TRUE)) {
    d <- wald_data(31, big)
    for (weighted in c(FALSE, TRUE)) {
      fit <- if (weighted) lm(y ~ trt + x1 + x2 + f, data = d, weights = w) else lm(y ~ trt + x1 + x2 + f, data = d)
      for (cons in list("trt", c("trt", "x1"), c("x1", "fb", "fc"), c("trt", "x1", "x2", "fb", "fc"))) {
        ref <- cs_wald(fit, d$g, clubSandwich::constrain_zero(cons, coefs = coef(fit)))
        ## with the 500-row cluster and five constraints HTZ's df2 is negative:
        ## F = 0 and p = NA, as clubSandwich, with a warning
        ours <- quiet_few(withCallingHandlers(
          wald_test(fit, cons, cluster = ~ g, test = c("HTZ", "chi-sq", "naive-F")),
          clusterab_htz_undefined = function(w) invokeRestart("muffleWarning")))
        expect_s3_class(ours, "wald_tests")
        expect_wald_equal(ours, ref)
        ## one test: an htest with the same numbers
        one <- quiet_few(withCallingHandlers(wald_test(fit, cons, cluster = "g"),
                                             clusterab_htz_undefined = function(w) invokeRestart("muffleWarning")))
        if (!is.finite(ref[1, 5])) {
          expect_warning(quiet_few(wald_test(fit, cons, cluster = "g")), "not positive",
                         class = "clusterab_htz_undefined")
        }
        expect_s3_class(one, c("wald_test", "htest"))
        expect_equal(unname(one$statistic), ours$Fstat[1], tolerance = 1e-12)
        expect_equal(unname(one$parameter), c(ours$df_num[1], ours$df_denom[1]), tolerance = 1e-12)
        expect_equal(one$p.value, ours$p_val[1], tolerance = 1e-12)
      }
      ## a general constraint matrix: trt = x1, x2 = 2 fb
      C <- rbind(c(0, 1, -1, 0, 0, 0), c(0, 0, 0, 1, -2, 0))
      ours <- quiet_few(wald_test(fit, C, cluster = d$g, test = c("HTZ", "chi-sq", "naive-F")))
      expect_wald_equal(ours, cs_wald(fit, d$g, C))
    }
  }
})

test_that("one constraint: HTZ is the square of the Satterthwaite t test", {
  need("clubSandwich")
  d <- wald_data(32, big = TRUE)
  fit <- lm(y ~ trt + x1 + x2, data = d, weights = w)
  ct <- quiet_few(coef_test(fit, cluster = ~ g, type = "CR2"))
  wt <- quiet_few(wald_test(fit, "trt", cluster = ~ g))
  expect_equal(unname(wt$statistic), ct["trt", 3]^2, tolerance = 1e-10)
  expect_equal(unname(wt$parameter[2]), unname(attr(ct, "df")[["trt"]]), tolerance = 1e-10)
  expect_equal(wt$p.value, ct["trt", 4], tolerance = 1e-10)
})

test_that("wald_test() on cluster_lm fits, with rhs, aliased columns and without an intercept", {
  need("clubSandwich")
  d <- wald_data(33)
  d$x3 <- d$x1 - d$x2               # aliased
  for (weighted in c(FALSE, TRUE)) {
    ref_fit <- if (weighted) lm(y ~ trt + x1 + x2 + x3, data = d, weights = w) else lm(y ~ trt + x1 + x2 + x3, data = d)
    cl <- quiet_few(cluster_lm(y ~ trt + x1 + x2 + x3, data = d, cluster = ~ g, type = "CR2",
                               weights = if (weighted) ~ w))
    ref <- cs_wald(ref_fit, d$g, clubSandwich::constrain_zero(c("trt", "x2"), coefs = coef(ref_fit)))
    expect_wald_equal(wald_test(cl, c("trt", "x2"), test = c("HTZ", "chi-sq", "naive-F")), ref)
    expect_wald_equal(quiet_few(wald_test(ref_fit, c("trt", "x2"), cluster = ~ g,
                                          test = c("HTZ", "chi-sq", "naive-F"))), ref)
    ## a matrix over all coefficients (zero weight on the aliased one)
    C <- rbind(c(0, 1, 0, 0, 0), c(0, 0, 0, 1, 0))
    expect_wald_equal(wald_test(cl, C, test = c("HTZ", "chi-sq", "naive-F")), ref)
    ## a cluster_lm of another type asked for CR2
    hc <- quiet_few(cluster_lm(y ~ trt + x1 + x2 + x3, data = d, cluster = ~ g, weights = if (weighted) ~ w))
    expect_wald_equal(wald_test(hc, c("trt", "x2"), test = c("HTZ", "chi-sq", "naive-F")), ref)
  }
  ## rhs: the same as testing the shifted outcome's coefficients
  fit <- lm(y ~ trt + x1 + x2, data = d)
  d2 <- d
  d2$y <- d$y - 0.5 * d$trt - 2 * d$x1
  shifted <- quiet_few(wald_test(lm(y ~ trt + x1 + x2, data = d2), c("trt", "x1"), cluster = ~ g))
  with_rhs <- quiet_few(wald_test(fit, rbind(c(0, 1, 0, 0), c(0, 0, 1, 0)), cluster = ~ g, rhs = c(0.5, 2)))
  expect_equal(unname(with_rhs$statistic), unname(shifted$statistic), tolerance = 1e-10)
  expect_equal(with_rhs$p.value, shifted$p.value, tolerance = 1e-10)
  ## no intercept
  fit0 <- lm(y ~ 0 + trt + x1 + x2, data = d)
  expect_wald_equal(quiet_few(wald_test(fit0, c("trt", "x1"), cluster = ~ g, test = c("HTZ", "chi-sq", "naive-F"))),
                    cs_wald(fit0, d$g, clubSandwich::constrain_zero(c("trt", "x1"), coefs = coef(fit0))))
})

test_that("wald_test(): chi-sq and naive-F with other types, print and tidy", {
  need("sandwich")
  d <- wald_data(34)
  fit <- lm(y ~ trt + x1 + x2, data = d)
  V <- sandwich::vcovCL(fit, cluster = ~ g, type = "HC1")
  b <- coef(fit)[c("trt", "x1")]
  Q <- drop(t(b) %*% solve(V[c("trt", "x1"), c("trt", "x1")]) %*% b)
  res <- quiet_few(wald_test(fit, c("trt", "x1"), cluster = ~ g, type = "HC1", test = c("chi-sq", "naive-F")))
  expect_equal(res$Fstat, c(Q, Q) / 2, tolerance = 1e-10)
  expect_equal(res$p_val, c(pchisq(Q, 2, lower.tail = FALSE), pf(Q / 2, 2, 17, lower.tail = FALSE)),
               tolerance = 1e-10)
  one <- quiet_few(wald_test(fit, c("trt", "x1"), cluster = ~ g))
  expect_output(print(one), "Hotelling's T-squared")
  expect_output(print(one), "Standard errors: CR2, 18 clusters \\(g\\); test: HTZ")
  expect_output(print(res), "HC1, 18 clusters \\(g\\); test: chi-sq, naive-F")
  td <- tidy(one)
  expect_named(td, c("test", "statistic", "num.df", "den.df", "p.value", "delta", "method",
                     "vcov.type", "nclusters"))
  expect_identical(td$nclusters, 18L)
  expect_identical(as.data.frame(one), td)
  expect_identical(tidy(res)$test, c("chi-sq", "naive-F"))
  expect_identical(tidy(res)$vcov.type, c("HC1", "HC1"))
})

test_that("wald_test(): bad input", {
  d <- wald_data(35)
  d$x3 <- d$x1 + d$x2
  fit <- lm(y ~ trt + x1 + x2 + x3, data = d)
  expect_error(wald_test(fit, c("trt", "x9"), cluster = ~ g),
               "`x9`, which is not a coefficient", class = "clusterab_error")
  expect_error(wald_test(fit, c("trt", "x3"), cluster = ~ g),
               "`x3`, which is aliased", class = "clusterab_error")
  expect_error(wald_test(fit, rbind(c(0, 1, 0, 0, 0), c(0, 0, 0, 0, 1)), cluster = ~ g),
               "`x3`.*aliased", class = "clusterab_error")
  expect_error(wald_test(fit, c("trt", "trt"), cluster = ~ g),
               "more than once.*linearly independent", class = "clusterab_error")
  expect_error(wald_test(fit, rbind(c(0, 1, 1, 0), c(0, 2, 2, 0)), cluster = ~ g),
               "not linearly independent", class = "clusterab_error")
  expect_error(wald_test(fit, rbind(c(0, 1, 1, 0), c(0, 0, 0, 0)), cluster = ~ g),
               "not linearly independent", class = "clusterab_error")
  expect_error(wald_test(fit, matrix(1, 1, 3), cluster = ~ g), "3 columns", class = "clusterab_error")
  expect_error(wald_test(fit, "trt", cluster = ~ g, rhs = c(1, 2)), "`rhs`", class = "clusterab_error")
  expect_error(wald_test(fit, "trt", cluster = ~ g, test = "F"), "`test`", class = "clusterab_error")
  expect_error(wald_test(fit, "trt"), "`cluster` is missing", class = "clusterab_error")
  expect_error(wald_test(fit, cluster = ~ g), "`constraints` is missing", class = "clusterab_error")
  expect_error(quiet_few(wald_test(fit, "trt", cluster = ~ g, type = "HC1")),
               'test = "HTZ" needs type = "CR2"', class = "clusterab_error")
  ## a glm: HTZ is for linear models
  gfit <- glm(y ~ trt + x1, data = d)
  expect_error(wald_test(gfit, "trt", cluster = ~ g), "glm.*linear models only",
               class = "clusterab_error")
  expect_error(wald_test(data.frame(a = 1), "trt", cluster = ~ g), "lm\\(\\) or cluster_lm\\(\\)",
               class = "clusterab_error")
  ## fewer than 3 clusters
  two <- d[d$g %in% 1:2, ]
  two$trt <- rnorm(nrow(two))
  expect_error(quiet_few(wald_test(lm(y ~ trt + x1, data = two), "trt", cluster = ~ g)),
               "2 clusters.*at least 3", class = "clusterab_error")
  ## more constraints than the clusters can carry
  few <- d[d$g %in% 1:4, ]
  f6 <- lm(y ~ trt + x1 + x2 + I(x1^2) + I(x2^2) + I(x1 * x2), data = few)
  expect_error(quiet_few(wald_test(f6, names(coef(f6))[-1], cluster = ~ g)),
               "singular", class = "clusterab_error")
})
