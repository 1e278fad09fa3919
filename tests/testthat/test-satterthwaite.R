## Satterthwaite degrees of freedom of CR2 against clubSandwich.

## The data sets of the issue (regression_data(), helper-regression-data.R):
## balanced; very unequal sizes with one cluster of 500 rows; a cluster-level
## treatment; weights varying within clusters.

## clubSandwich's df and p for every coefficient of `fit`.
cs_satterthwaite <- function(fit, cluster) {
  ref <- clubSandwich::coef_test(fit, vcov = "CR2", cluster = cluster, test = "Satterthwaite")
  list(df = stats::setNames(ref$df_Satt, ref$Coef), p = stats::setNames(ref$p_Satt, ref$Coef))
}

## clubSandwich's Satterthwaite df of the contrasts in the rows of C: its
## linear_contrast() fails for weighted lm fits (clubSandwich 0.5.x), so the
## single-constraint HTZ test, whose denominator df is the same quantity.
cs_contrast_df <- function(fit, cluster, C) {
  if (is.null(fit$weights)) {
    return(clubSandwich::linear_contrast(fit, vcov = "CR2", cluster = cluster, contrasts = C)$df)
  }
  vapply(seq_len(nrow(C)), function(i) {
    clubSandwich::Wald_test(fit, constraints = C[i, , drop = FALSE], vcov = "CR2",
                            cluster = cluster, test = "HTZ")$df_denom
  }, numeric(1))
}

expect_satterthwaite_equal <- function(ours, ref, tolerance = 1e-8) {
  expect_identical(attr(ours, "df_rule"), "Satterthwaite")
  expect_rel_equal(attr(ours, "df"), ref$df, tolerance)
  expect_rel_equal(stats::setNames(ours[, 4], rownames(ours)), ref$p, tolerance)
}

test_that("coef_test(type = 'CR2') gives clubSandwich's Satterthwaite df and p by default", {
  need("clubSandwich")
  for (kind in c("balanced", "unequal", "varied")) {
    d <- regression_data(kind, seed = 11)
    for (weighted in c(FALSE, TRUE)) {
      fit <- if (weighted) lm(y ~ trt + x1 + x2, data = d, weights = w) else lm(y ~ trt + x1 + x2, data = d)
      ref <- cs_satterthwaite(fit, d$g)
      ours <- quiet_few(coef_test(fit, cluster = ~ g, type = "CR2"))
      expect_satterthwaite_equal(ours, ref)
      ## explicit, and the three forms of `cluster`
      expect_identical(quiet_few(coef_test(fit, cluster = "g", type = "CR2", df = "Satterthwaite")), ours)
      expect_equal(attr(quiet_few(coef_test(fit, cluster = d$g, type = "CR2")), "df"), attr(ours, "df"))
      ## tidy() has the per-coefficient df
      expect_identical(tidy(ours)$df, unname(attr(ours, "df")))
      ## the internal function others call
      expect_equal(clusterab:::cr2_satterthwaite_df(fit, ~ g), attr(ours, "df"), tolerance = 1e-12)
    }
  }
})

test_that("the unequal design: the big cluster drives the df far below G - 1", {
  need("clubSandwich")
  d <- regression_data("unequal", seed = 12)
  expect_identical(max(table(d$g)), 500L)
  fit <- lm(y ~ trt + x1, data = d)
  ours <- quiet_few(coef_test(fit, cluster = ~ g, type = "CR2"))
  expect_satterthwaite_equal(ours, cs_satterthwaite(fit, d$g))
  expect_true(all(attr(ours, "df") < 19))
})

test_that("Satterthwaite df with an aliased column and with factors", {
  need("clubSandwich")
  d <- regression_data("varied", seed = 13)
  d$x3 <- 2 * d$x1 - d$trt          # aliased
  d$f <- factor(sample(c("a", "b", "c"), nrow(d), replace = TRUE))
  for (weighted in c(FALSE, TRUE)) {
    fit <- if (weighted) lm(y ~ trt + x1 + x3 + f, data = d, weights = w) else lm(y ~ trt + x1 + x3 + f, data = d)
    expect_true(is.na(coef(fit)[["x3"]]))
    ours <- quiet_few(coef_test(fit, cluster = ~ g, type = "CR2"))
    expect_false("x3" %in% rownames(ours))
    expect_satterthwaite_equal(ours, cs_satterthwaite(fit, d$g))
  }
})

test_that("Satterthwaite df without an intercept and on an ill-conditioned design", {
  need("clubSandwich")
  d <- regression_data("balanced", seed = 14)
  fit <- lm(y ~ 0 + trt + x1 + x2, data = d)
  expect_satterthwaite_equal(quiet_few(coef_test(fit, cluster = ~ g, type = "CR2")),
                             cs_satterthwaite(fit, d$g))
  ## a year and a timestamp-like covariate: the df of the slopes do not depend
  ## on centring, the intercept's is that of a contrast of the centred fit
  ill <- sim_ill_conditioned(seed = 15)
  for (weighted in c(FALSE, TRUE)) {
    f <- if (weighted) function(data) lm(y ~ x1 + year + time, data = data, weights = w) else
      function(data) lm(y ~ x1 + year + time, data = data)
    ours <- quiet_few(coef_test(suppressWarnings(f(ill$data)), cluster = ~ g, type = "CR2"))
    centred <- f(ill$centred)
    ref <- cs_satterthwaite(centred, ill$centred$g)
    expect_rel_equal(attr(ours, "df")[-1], ref$df[-1], 1e-8)
    lc <- cs_contrast_df(centred, ill$centred$g, ill$to_original[1, , drop = FALSE])
    expect_lte(abs(attr(ours, "df")[[1]] / lc - 1), 1e-8)
  }
})

test_that("cluster_lm() fits: summary, confint, tidy and coef_test use Satterthwaite df for CR2", {
  need("clubSandwich")
  d <- regression_data("unequal", seed = 16)
  for (weighted in c(FALSE, TRUE)) {
    ref_fit <- if (weighted) lm(y ~ trt + x1 + x2, data = d, weights = w) else lm(y ~ trt + x1 + x2, data = d)
    ref <- cs_satterthwaite(ref_fit, d$g)
    fit <- quiet_few(cluster_lm(y ~ trt + x1 + x2, data = d, cluster = ~ g, type = "CR2",
                                weights = if (weighted) ~ w))
    expect_satterthwaite_equal(coef_test(fit), ref)
    s <- summary(fit)
    expect_satterthwaite_equal(s$coefficients, ref)
    expect_output(print(s), "t tests with Satterthwaite df")
    expect_output(print(fit), "summary\\(\\) tests with Satterthwaite df")
    td <- tidy(fit, conf.int = TRUE)
    expect_rel_equal(stats::setNames(td$df, td$term), ref$df, 1e-8)
    ## intervals with the per-coefficient t quantiles
    ci <- confint(fit, level = 0.9)
    tab <- coef_test(fit)
    expect_equal(unname(ci[, 2] - tab[, 1]), unname(qt(0.95, ref$df) * tab[, 2]), tolerance = 1e-10)
    expect_equal(unname(as.matrix(td[, c("conf.low", "conf.high")])), unname(confint(fit)),
                 tolerance = 1e-12)
    expect_equal(td$conf.high - td$estimate, unname(qt(0.975, ref$df) * tab[, 2]), tolerance = 1e-10)
    ## G - 1 on request
    expect_identical(attr(summary(fit, df = "cluster")$coefficients, "df"), 19)
    ## from statistics: the same df
    st <- cluster_stats(y ~ trt + x1 + x2, data = d, cluster = "g", weights = if (weighted) "w")
    expect_rel_equal(attr(coef_test(quiet_few(cluster_lm(st, type = "CR2"))), "df"), ref$df, 1e-8)
    ## a cluster_lm fit of another type, asked for CR2
    hc <- quiet_few(cluster_lm(y ~ trt + x1 + x2, data = d, cluster = ~ g, weights = if (weighted) ~ w))
    expect_satterthwaite_equal(coef_test(hc, type = "CR2"), ref)
  }
})

test_that("coef_ci() uses each coefficient's Satterthwaite df", {
  need("clubSandwich")
  d <- regression_data("varied", seed = 17)
  fit <- lm(y ~ trt + x1, data = d)
  ref <- clubSandwich::conf_int(fit, vcov = "CR2", cluster = d$g, level = 0.9)
  ci <- quiet_few(coef_ci(fit, cluster = ~ g, type = "CR2", level = 0.9))
  expect_equal(unname(ci[, 1]), ref$CI_L, tolerance = 1e-8)
  expect_equal(unname(ci[, 2]), ref$CI_U, tolerance = 1e-8)
  expect_equal(quiet_few(coef_ci(fit, "trt", cluster = ~ g, type = "CR2", level = 0.9)),
               ci["trt", , drop = FALSE])
})

test_that("satterthwaite_df() of several contrasts equals clubSandwich::linear_contrast()", {
  need("clubSandwich")
  d <- regression_data("unequal", seed = 18)
  C <- rbind(c(0, 1, 0, 0), c(0, 1, -1, 0), c(1, 0.5, 0.5, 2), c(0, 0, 1, 1))
  for (weighted in c(FALSE, TRUE)) {
    fit <- if (weighted) lm(y ~ trt + x1 + x2, data = d, weights = w) else lm(y ~ trt + x1 + x2, data = d)
    ref <- list(df = cs_contrast_df(fit, d$g, C))
    ours <- clusterab:::cr2_satterthwaite_df(fit, ~ g, C)
    expect_lte(max(abs(unname(ours) / ref$df - 1)), 1e-8)
    cl <- quiet_few(cluster_lm(y ~ trt + x1 + x2, data = d, cluster = ~ g, type = "CR2",
                               weights = if (weighted) ~ w))
    expect_lte(max(abs(unname(clusterab:::cr2_satterthwaite_df(cl, NULL, C)) / ref$df - 1)), 1e-8)
  }
  ## contrasts over all coefficients, the aliased one with weight zero
  d$x3 <- d$x1 + d$x2
  fit <- lm(y ~ trt + x1 + x2 + x3, data = d)
  ref <- clubSandwich::linear_contrast(fit, vcov = "CR2", cluster = d$g, contrasts = C)
  expect_lte(max(abs(unname(clusterab:::cr2_satterthwaite_df(fit, ~ g, cbind(C, 0))) / ref$df - 1)), 1e-8)
  expect_error(clusterab:::cr2_satterthwaite_df(fit, ~ g, cbind(C, 1)), "`x3`.*aliased",
               class = "clusterab_error")
  expect_error(clusterab:::cr2_satterthwaite_df(fit, ~ g, C[, 1:3]), "3 columns", class = "clusterab_error")
})

test_that("Satterthwaite df do not depend on the units or on the thread count", {
  d <- regression_data("unequal", seed = 19)
  fit <- lm(y ~ trt + x1 + x2, data = d, weights = w)
  df1 <- attr(quiet_few(coef_test(fit, cluster = ~ g, type = "CR2")), "df")
  d2 <- d
  d2$x1 <- d2$x1 * 1e8
  d2$w <- d2$w * 1e-6
  d2$y <- d2$y * 1e5
  df2 <- attr(quiet_few(coef_test(lm(y ~ trt + x1 + x2, data = d2, weights = w), cluster = ~ g, type = "CR2")), "df")
  expect_equal(df2, df1, tolerance = 1e-9)
  ## a column in units of 1e155 (its squares overflow; the statistics are scaled)
  d3 <- d
  d3$x1 <- d3$x1 * 1e155
  big <- quiet_few(cluster_lm(y ~ trt + x1 + x2, data = d3, cluster = ~ g, weights = ~ w, type = "CR2"))
  expect_equal(attr(coef_test(big), "df"), df1, tolerance = 1e-9)
  expect_equal(unname(wald_test(big, c("trt", "x1"))$parameter),
               unname(quiet_few(wald_test(fit, c("trt", "x1"), cluster = ~ g))$parameter), tolerance = 1e-9)
  df3 <- attr(quiet_few(coef_test(fit, cluster = ~ g, type = "CR2", threads = 1L)), "df")
  df4 <- attr(quiet_few(coef_test(fit, cluster = ~ g, type = "CR2", threads = 2L)), "df")
  expect_identical(df3, df4)
})

test_that("df = 'Satterthwaite': bad input", {
  d <- regression_data("balanced", seed = 20)
  fit <- lm(y ~ trt + x1, data = d)
  expect_error(quiet_few(coef_test(fit, cluster = ~ g, type = "HC1", df = "Satterthwaite")),
               'df = "Satterthwaite" is defined for the CR2 covariance only.*type = "HC1"',
               class = "clusterab_error")
  expect_error(quiet_few(coef_test(fit, cluster = ~ g, type = "CR1", df = "Satterthwaite")),
               '"CR1"', class = "clusterab_error")
  expect_error(coef_test(fit, vcov = vcov(fit), df = "Satterthwaite"),
               "`vcov` was given", class = "clusterab_error")
  expect_error(coef_ci(fit, cluster = ~ g, type = "HC2", df = "Satterthwaite"),
               "CR2 covariance only", class = "clusterab_error")
  expect_error(coef_test(fit, type = "CR2", df = "Satterthwaite"),
               "there is no `cluster`", class = "clusterab_error")
  expect_error(coef_test(fit, cluster = ~ g, type = "CR2", df = "satterthwaite"),
               '"Satterthwaite"', class = "clusterab_error")
  ## a glm: linear models only (the default for CR2 stays G - 1 there)
  gfit <- glm(y ~ trt + x1, data = d)
  expect_error(coef_test(gfit, cluster = ~ g, type = "CR2", df = "Satterthwaite"),
               "glm.*linear models only", class = "clusterab_error")
  expect_identical(attr(quiet_few(coef_test(gfit, cluster = ~ g, type = "CR2")), "df_rule"), "G - 1")
  expect_error(clusterab:::cr2_satterthwaite_df(gfit, ~ g), "glm", class = "clusterab_error")
})

test_that("cluster fixed effects: the singular directions of I - H_gg are dropped, as clubSandwich", {
  need("clubSandwich")
  set.seed(21)
  G <- 12
  g <- rep(seq_len(G), sample(5:20, G, replace = TRUE))
  d <- data.frame(g = g, x1 = rnorm(length(g)), trt = rbinom(length(g), 1, 0.5),
                  w = runif(length(g), 0.5, 2))
  d$y <- d$x1 + rnorm(nrow(d))
  for (weighted in c(FALSE, TRUE)) {
    fit <- if (weighted) lm(y ~ x1 + trt + factor(g), data = d, weights = w) else
      lm(y ~ x1 + trt + factor(g), data = d)
    ours <- quiet_few_but_single(suppressWarnings(coef_test(fit, cluster = ~ g, type = "CR2"),
                                                  classes = "clusterab_single_cluster"))
    expect_satterthwaite_equal(ours, cs_satterthwaite(fit, d$g))
  }
})

test_that("the df computed with the CR2 adjustment (one decomposition per cluster) equal the separate computation", {
  d <- regression_data("unequal", seed = 22)
  for (weighted in c(FALSE, TRUE)) {
    fit <- if (weighted) lm(y ~ trt + x1 + x2, data = d, weights = w) else lm(y ~ trt + x1 + x2, data = d)
    tab <- quiet_few(coef_test(fit, cluster = ~ g, type = "CR2"))
    expect_identical(attr(tab, "df"), clusterab:::cr2_satterthwaite_df(fit, ~ g))
    expect_identical(unname(tab[, 2]), unname(sqrt(diag(quiet_few(vcov_cluster(fit, cluster = ~ g, type = "CR2"))))))
    ## the log-likelihood kept for lmtest is logLik()'s
    expect_identical(attr(tab, "logLik"), logLik(fit))
  }
})

test_that("Satterthwaite df with fewer than 3 clusters: an error naming `cluster`, by default or asked for", {
  need("clubSandwich")
  d <- regression_data("balanced", seed = 23, G = 2L)
  fit <- lm(y ~ trt + x1, data = d)
  ## clubSandwich gives df of about 1 whatever the data: degenerate
  ref <- cs_satterthwaite(fit, d$g)
  expect_true(all(abs(ref$df - 1) < 0.1))
  for (df in list(NULL, "Satterthwaite")) {
    expect_error(quiet_few(coef_test(fit, cluster = ~ g, type = "CR2", df = df)),
                 "`cluster` has 2 clusters.*Satterthwaite.*fewer than 3.*df = \"cluster\"",
                 class = "clusterab_error")
    expect_error(quiet_few(coef_ci(fit, cluster = ~ g, type = "CR2", df = df)), "`cluster` has 2 clusters",
                 class = "clusterab_error")
  }
  expect_error(quiet_few(coef_test(fit, cluster = ~ g, type = "CR2")), "the default for type = \"CR2\"",
               class = "clusterab_error")
  expect_error(quiet_few(wald_test(fit, c("trt", "x1"), cluster = ~ g)), "`cluster` has 2 clusters",
               class = "clusterab_error")
  ## the ways out the message names
  expect_identical(attr(quiet_few(coef_test(fit, cluster = ~ g, type = "CR2", df = "cluster")), "df"), 1)
  expect_identical(attr(quiet_few(coef_test(fit, cluster = ~ g, type = "CR2", df = 1)), "df"), 1)
  ## a cluster_lm fit
  cl <- quiet_few(suppressWarnings(cluster_lm(y ~ trt + x1, data = d, cluster = ~ g, type = "CR2"),
                                   classes = "clusterab_single_cluster"))
  expect_error(coef_test(cl), "`cluster` has 2 clusters", class = "clusterab_error")
  expect_error(predict(cl, d[1:2, ], interval = "confidence"), "`cluster` has 2 clusters",
               class = "clusterab_error")
  expect_identical(predict(cl, d[1:2, ], se.fit = TRUE, df = "cluster")$df, 1)
  ## 3 clusters: computed, as clubSandwich
  d3 <- regression_data("balanced", seed = 24, G = 3L)
  fit3 <- lm(y ~ trt + x1, data = d3)
  expect_satterthwaite_equal(quiet_few(coef_test(fit3, cluster = ~ g, type = "CR2")),
                             cs_satterthwaite(fit3, d3$g))
})

test_that("predict() of a CR2 cluster_lm fit: Satterthwaite df of each row's x0' b, as clubSandwich", {
  need("clubSandwich")
  d <- regression_data("unequal", seed = 25)
  new <- data.frame(trt = c(0, 1, 1, 0, 1), x1 = c(0, 0, 2, -1, 0), x2 = c(0.5, 0.5, 0.1, 0.9, 0.5))
  X0 <- cbind(1, as.matrix(new))
  for (weighted in c(FALSE, TRUE)) {
    ref_fit <- if (weighted) lm(y ~ trt + x1 + x2, data = d, weights = w) else lm(y ~ trt + x1 + x2, data = d)
    fit <- quiet_few(cluster_lm(y ~ trt + x1 + x2, data = d, cluster = ~ g, type = "CR2",
                                weights = if (weighted) ~ w))
    ref_df <- cs_contrast_df(ref_fit, d$g, X0)
    p <- predict(fit, new, interval = "confidence", level = 0.9, se.fit = TRUE)
    expect_lte(max(abs(unname(p$df) / ref_df - 1)), 1e-8)
    expect_identical(names(p$df), rownames(p$fit))
    expect_identical(unname(p$df[2]), unname(p$df[5]))       # the same row, the same df
    expect_true(all(p$df < min(fit$G) - 1))                  # far below G - 1 = 19
    half <- unname(qt(0.95, ref_df) * p$se.fit)
    expect_equal(unname(p$fit[, "upr"] - p$fit[, "fit"]), half, tolerance = 1e-10)
    expect_equal(unname(p$fit[, "fit"] - p$fit[, "lwr"]), half, tolerance = 1e-10)
    if (!weighted) {
      lc <- clubSandwich::linear_contrast(ref_fit, vcov = "CR2", cluster = d$g, contrasts = X0, level = 0.9)
      expect_equal(unname(p$fit[, "lwr"]), lc$CI_L, tolerance = 1e-8)
      expect_equal(unname(p$fit[, "upr"]), lc$CI_U, tolerance = 1e-8)
    }
    ## G - 1 on request, and for other types
    expect_identical(predict(fit, new, se.fit = TRUE, df = "cluster")$df, 19)
    hc <- quiet_few(cluster_lm(y ~ trt + x1 + x2, data = d, cluster = ~ g, weights = if (weighted) ~ w))
    expect_identical(predict(hc, new, se.fit = TRUE)$df, 19)
  }
  ## a missing value in newdata: NA for that row only
  new$x1[3] <- NA
  p <- predict(fit, new, se.fit = TRUE)
  expect_true(is.na(p$df[3]) && all(is.finite(p$df[-3])))
  ## bad df
  expect_error(predict(hc, new, df = "Satterthwaite"), 'CR2 covariance only', class = "clusterab_error")
  expect_error(predict(fit, new, df = "nope"), "`df` must be", class = "clusterab_error")
  expect_error(predict(fit, new, df = -1), "`df` must be", class = "clusterab_error")
})

test_that("predict() of a CR2 fit on many rows: memory linear in the rows, the same df as row by row", {
  d <- regression_data("varied", seed = 26)
  fit <- quiet_few(cluster_lm(y ~ trt + x1 + x2, data = d, cluster = ~ g, type = "CR2"))
  set.seed(27)
  new <- data.frame(trt = rbinom(3000, 1, 0.5), x1 = rnorm(3000), x2 = runif(3000))
  ## one contrast per row: 3000 contrasts in one pass (q x q per cluster would be 9e6 doubles)
  df <- predict(fit, new, se.fit = TRUE)$df
  expect_length(df, 3000L)
  expect_true(all(is.finite(df) & df > 0))
  expect_equal(unname(df[c(1, 1234, 3000)]),
               unname(predict(fit, new[c(1, 1234, 3000), ], se.fit = TRUE)$df), tolerance = 1e-12)
})
