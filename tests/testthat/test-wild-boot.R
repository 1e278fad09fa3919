## wild_boot(): checked against an independent brute force that builds y* for
## every weight vector and refits with lm(), with the CR1 (HC1) t statistic
## from sandwich::vcovCL().

## Clustered data with clusters 1..G in row order (so the weights' cluster
## order is the order of the ids), unequal sizes, a cluster-level treatment.
wild_data <- function(G, seed = 1) {
  set.seed(seed)
  size <- sample(3:9, G, replace = TRUE)
  g <- rep(seq_len(G), size)
  n <- length(g)
  tr <- rep(rep_len(0:1, G)[sample(G)], size)
  x <- rnorm(n)
  z <- rnorm(G)[g] + rnorm(n)
  data.frame(g = g, x = x, z = z, tr = tr, w = runif(n, 0.5, 2),
             y = 1 + 0.3 * x + 0.2 * tr + rnorm(G)[g] + rnorm(n))
}

## The bootstrap t statistics of `param` for the weight vectors in the
## columns of `V` (G x R), and the p-value, by refitting lm() on y*.
brute_wild <- function(formula, data, param, V, impose_null = TRUE, null = 0,
                       weighted = FALSE) {
  w <- if (weighted) data$w else NULL
  fit <- if (weighted) lm(formula, data, weights = w) else lm(formula, data)
  X <- model.matrix(fit)
  y <- model.response(model.frame(fit))
  j <- match(param, colnames(X))
  if (impose_null) {
    y_r <- y - null * X[, j]
    Xr <- X[, -j, drop = FALSE]
    f0 <- if (weighted) lm(y_r ~ Xr - 1, weights = w) else lm(y_r ~ Xr - 1)
    fitted0 <- drop(Xr %*% coef(f0)) + null * X[, j]
    centre <- null
  } else {
    fitted0 <- fitted(fit)
    centre <- coef(fit)[[j]]
  }
  e0 <- y - fitted0
  t_star <- apply(V, 2L, function(v) {
    ys <- fitted0 + v[data$g] * e0
    fs <- if (weighted) lm(ys ~ X - 1, weights = w) else lm(ys ~ X - 1)
    (coef(fs)[[j]] - centre) / sqrt(sandwich::vcovCL(fs, cluster = data$g, type = "HC1")[j, j])
  })
  t0 <- (coef(fit)[[j]] - null) /
    sqrt(sandwich::vcovCL(fit, cluster = data$g, type = "HC1")[j, j])
  list(t = unname(t_star), t0 = t0, p = mean(abs(t_star) >= abs(t0) * (1 - 1e-10)))
}

all_signs <- function(G) t(as.matrix(expand.grid(rep(list(c(1, -1)), G))))
webb_points <- c(1, -1, sqrt(0.5), -sqrt(0.5), sqrt(1.5), -sqrt(1.5))
all_webb <- function(G) t(as.matrix(expand.grid(rep(list(webb_points), G))))

expect_wild_equal <- function(wb, ref) {
  expect_equal(wb$p.value, ref$p, tolerance = 1e-12)
  expect_equal(unname(wb$statistic), ref$t0, tolerance = 1e-12)
  expect_equal(sort(wb$t), sort(ref$t), tolerance = 1e-12)
}

test_that("full enumeration at G = 8 and G = 10 equals the brute force, WCR", {
  need("sandwich")
  for (G in c(8, 10)) {
    d <- wild_data(G, seed = G)
    fit <- lm(y ~ x + tr + z, d)
    wb <- wild_boot(fit, "x", cluster = ~ g, threads = 1)
    expect_true(wb$enumerated)
    expect_identical(wb$B, 2^G)
    expect_length(wb$t, 2^G)
    expect_equal(wb$t[1L], unname(wb$statistic), tolerance = 1e-12)  # the identity
    expect_wild_equal(wb, brute_wild(y ~ x + tr + z, d, "x", all_signs(G)))
    expect_match(wb$method, "WCR")
    expect_match(wb$method, sprintf("all 2^G = %s sign vectors", format(2^G, big.mark = ",")),
                 fixed = TRUE)
    expect_match(wb$method, sprintf("G = %d", G))
  }
})

test_that("enumeration equals the brute force: WCU, the intercept, a cluster-level treatment, a null value", {
  need("sandwich")
  d <- wild_data(8, seed = 3)
  fit <- lm(y ~ x + tr + z, d)
  wu <- wild_boot(fit, "x", cluster = "g", impose_null = FALSE, threads = 1)
  expect_match(wu$method, "WCU")
  expect_wild_equal(wu, brute_wild(y ~ x + tr + z, d, "x", all_signs(8), impose_null = FALSE))
  wi <- wild_boot(fit, "(Intercept)", cluster = d$g, threads = 1)
  expect_wild_equal(wi, brute_wild(y ~ x + tr + z, d, "(Intercept)", all_signs(8)))
  wt <- wild_boot(fit, "tr", cluster = ~ g, null = 0.4, threads = 1)
  expect_wild_equal(wt, brute_wild(y ~ x + tr + z, d, "tr", all_signs(8), null = 0.4))
  expect_equal(unname(wt$null.value), 0.4)
  ## no intercept (the bread from the fit's QR)
  f0 <- lm(y ~ x + tr - 1, d)
  expect_wild_equal(wild_boot(f0, "tr", cluster = ~ g, threads = 1),
                    brute_wild(y ~ x + tr - 1, d, "tr", all_signs(8)))
})

test_that("weighted lm and cluster_lm fits equal the brute force", {
  need("sandwich")
  d <- wild_data(8, seed = 4)
  fw <- lm(y ~ x + tr + z, d, weights = w)
  ref <- brute_wild(y ~ x + tr + z, d, "x", all_signs(8), weighted = TRUE)
  expect_wild_equal(wild_boot(fw, "x", cluster = ~ g, threads = 1), ref)
  cf <- suppressWarnings(cluster_lm(y ~ x + tr + z, d, cluster = ~ g, weights = ~ w),
                         classes = "clusterab_few_clusters")
  wc <- wild_boot(cf, "x", threads = 1)
  expect_wild_equal(wc, ref)
  expect_match(wc$data.name, "clustered by g")
  cu <- suppressWarnings(cluster_lm(y ~ x + tr + z, d, cluster = "g"),
                         classes = "clusterab_few_clusters")
  expect_wild_equal(wild_boot(cu, "tr", impose_null = FALSE, threads = 1),
                    brute_wild(y ~ x + tr + z, d, "tr", all_signs(8), impose_null = FALSE))
  ## `cluster` given again: the fit is recompressed by it
  expect_equal(wild_boot(cu, "x", cluster = ~ g, threads = 1)$t, wild_boot(cu, "x", threads = 1)$t,
               tolerance = 1e-12)
  ## a fit from cluster_stats()
  st <- cluster_stats(d, y ~ x + tr + z, cluster = "g")
  cs <- suppressWarnings(cluster_lm(st), classes = "clusterab_few_clusters")
  expect_equal(wild_boot(cs, "x", threads = 1)$t, wild_boot(cu, "x", threads = 1)$t,
               tolerance = 1e-12)
})

test_that("rows dropped for missing values and factor covariates are handled as lm() does", {
  d <- wild_data(9, seed = 17)
  d$f <- factor(sample(c("a", "b", "c"), nrow(d), replace = TRUE))
  d$x[c(2, 15)] <- NA
  fit <- lm(y ~ x + f + tr, d)
  complete <- d[!is.na(d$x), ]
  a <- wild_boot(fit, "x", cluster = ~ g, threads = 1)
  b <- wild_boot(lm(y ~ x + f + tr, complete), "x", cluster = complete$g, threads = 1)
  expect_equal(a$t, b$t, tolerance = 1e-12)
  expect_equal(a$p.value, b$p.value)
  expect_equal(wild_boot(fit, "fb", cluster = d$g, conf.int = FALSE, threads = 1)$t,
               wild_boot(fit, 3, cluster = "g", conf.int = FALSE, threads = 1)$t)
})

test_that("Webb weights: 6^G enumeration equals the brute force", {
  need("sandwich")
  d <- wild_data(4, seed = 5)
  fit <- lm(y ~ x + z, d)
  wb <- wild_boot(fit, "x", cluster = ~ g, weights = "webb", threads = 1)
  expect_true(wb$enumerated)
  expect_identical(wb$B, 6^4)
  expect_match(wb$method, "6^G = 1,296", fixed = TRUE)
  expect_wild_equal(wb, brute_wild(y ~ x + z, d, "x", all_webb(4)))
})

test_that("random weights equal the brute force with the same weights (all four kinds)", {
  need("sandwich")
  d <- wild_data(12, seed = 6)
  fit <- lm(y ~ x + tr + z, d)
  for (kind in c("rademacher", "webb", "mammen", "normal")) {
    set.seed(11)
    wb <- wild_boot(fit, "x", cluster = ~ g, B = 150, weights = kind, enumerate = FALSE,
                    conf.int = FALSE, threads = 1)
    expect_false(wb$enumerated)
    type <- match(kind, c("rademacher", "webb", "mammen", "normal")) - 1L
    V <- clusterab:::cpp_wild_weights(12L, type, FALSE, wb$seed, 0, 150)
    ref <- brute_wild(y ~ x + tr + z, d, "x", V)
    expect_equal(wb$p.value, ref$p, tolerance = 1e-12)
    expect_equal(wb$t, ref$t, tolerance = 1e-12)   # in replicate order
  }
  ## the weights have the right distributions
  V <- clusterab:::cpp_wild_weights(50L, 2L, FALSE, c(3L, 4L), 0, 2000)
  s5 <- sqrt(5)
  expect_setequal(unique(round(c(V), 12)), round(c(-(s5 - 1) / 2, (s5 + 1) / 2), 12))
  expect_equal(mean(V), 0, tolerance = 0.02)
  expect_equal(mean(V^2), 1, tolerance = 0.02)
  N <- clusterab:::cpp_wild_weights(51L, 3L, FALSE, c(3L, 4L), 0, 2000)
  expect_gt(suppressWarnings(ks.test(c(N), "pnorm")$p.value), 1e-4)
  W <- clusterab:::cpp_wild_weights(50L, 1L, FALSE, c(3L, 4L), 0, 2000)
  expect_setequal(unique(round(c(W), 12)), round(webb_points, 12))
})

test_that("random-weight p-values are within 4 Monte Carlo SEs of enumeration", {
  d <- wild_data(12, seed = 7)
  fit <- lm(y ~ x + tr + z, d)
  exact <- wild_boot(fit, "x", cluster = ~ g, B = 2^12, threads = 1, conf.int = FALSE)
  expect_true(exact$enumerated)
  expect_gt(exact$p.value, 0.01)
  set.seed(2)
  rand <- wild_boot(fit, "x", cluster = ~ g, B = 3000, threads = 1, conf.int = FALSE)
  expect_false(rand$enumerated)
  p <- exact$p.value
  expect_lte(abs(rand$p.value - p), 4 * sqrt(p * (1 - p) / 3000))
  ## Webb: 6^5 vectors enumerated against random draws
  d5 <- wild_data(5, seed = 8)
  f5 <- lm(y ~ x + z, d5)
  exact <- wild_boot(f5, "x", cluster = ~ g, weights = "webb", B = 6^5, threads = 1,
                     conf.int = FALSE)
  expect_true(exact$enumerated)
  set.seed(3)
  rand <- wild_boot(f5, "x", cluster = ~ g, weights = "webb", B = 3000, threads = 1,
                    conf.int = FALSE)
  p <- exact$p.value
  expect_lte(abs(rand$p.value - p), 4 * sqrt(p * (1 - p) / 3000) + 1e-12)
})

test_that("set.seed() reproduces the result whatever the thread count", {
  d <- wild_data(40, seed = 9)
  fit <- lm(y ~ x + tr + z, d)
  for (kind in c("rademacher", "normal")) {
    set.seed(42)
    a <- wild_boot(fit, "tr", cluster = ~ g, B = 999, weights = kind, threads = 1)
    set.seed(42)
    b <- wild_boot(fit, "tr", cluster = ~ g, B = 999, weights = kind, threads = 2)
    expect_identical(a$t, b$t)
    expect_identical(a$p.value, b$p.value)
    expect_identical(a$conf.int, b$conf.int)
  }
  ## more clusters: smaller blocks of replicates, and several chunks
  d2 <- wild_data(300, seed = 18)
  f2 <- lm(y ~ x + tr + z, d2)
  set.seed(44)
  a2 <- wild_boot(f2, "x", cluster = ~ g, B = 2999, weights = "webb", threads = 1)
  set.seed(44)
  b2 <- wild_boot(f2, "x", cluster = ~ g, B = 2999, weights = "webb", threads = 2)
  expect_identical(a2$t, b2$t)
  expect_identical(a2$conf.int, b2$conf.int)
  set.seed(43)
  c1 <- wild_boot(fit, "tr", cluster = ~ g, B = 999, threads = 1)
  expect_false(identical(c1$t, a$t))
})

test_that("the interval inverts the test: the p-value at its ends is 1 - conf.level", {
  d <- wild_data(30, seed = 10)
  fit <- lm(y ~ x + tr + z, d)
  B <- 999
  for (impose in c(TRUE, FALSE)) {
    set.seed(5)
    wb <- wild_boot(fit, "x", cluster = ~ g, B = B, impose_null = impose, threads = 1)
    ci <- wb$conf.int
    expect_equal(attr(ci, "conf.level"), 0.95)
    expect_true(ci[1L] < wb$estimate && wb$estimate < ci[2L])
    p_at <- function(r) {
      set.seed(5)
      wild_boot(fit, "x", cluster = ~ g, B = B, impose_null = impose, null = r,
                conf.int = FALSE, threads = 1)$p.value
    }
    eps <- 1e-6 * wb$std.error
    for (end in ci) {
      inside <- p_at(end + sign(wb$estimate - end) * eps)
      outside <- p_at(end - sign(wb$estimate - end) * eps)
      expect_gt(inside, 0.05)
      expect_lte(outside, 0.05)
      expect_lte(abs(inside - 0.05), 2 / B)
    }
  }
  ## WCU: the bootstrap-t interval estimate -+ q se
  q <- sort(abs(wb$t))
  expect_true(any(abs((wb$estimate - ci[1L]) / wb$std.error - q) < 1e-6))
  ## enumeration at G = 8
  d8 <- wild_data(8, seed = 12)
  f8 <- lm(y ~ x + tr + z, d8)
  w8 <- wild_boot(f8, "x", cluster = ~ g, conf.level = 0.9, threads = 1)
  for (end in w8$conf.int) {
    p <- wild_boot(f8, "x", cluster = ~ g, null = end + sign(w8$estimate - end) * 1e-7 *
                     w8$std.error, conf.int = FALSE, threads = 1)$p.value
    expect_gt(p, 0.1)
    expect_lte(p, 0.1 + 2 / 256)
  }
})

test_that("print(), tidy(), as.data.frame() and plot()", {
  d <- wild_data(20, seed = 13)
  fit <- lm(y ~ x + tr + z, d)
  set.seed(1)
  wb <- wild_boot(fit, "tr", cluster = ~ g, B = 499, weights = "webb", threads = 1)
  expect_s3_class(wb, c("wild_boot", "htest"))
  expect_output(print(wb), "Wild cluster bootstrap-t \\(WCR")
  expect_output(print(wb), "Webb weights")
  expect_output(print(wb), "CR1 standard error")
  tab <- tidy(wb)
  expect_named(tab, c("term", "estimate", "std.error", "statistic", "p.value", "conf.low",
                      "conf.high", "method", "alternative"))
  expect_equal(tab$p.value, wb$p.value)
  expect_equal(as.data.frame(wb), tab)
  expect_equal(wb$std.error, sqrt(sandwich::vcovCL(fit, cluster = ~ g, type = "HC1")["tr", "tr"]),
               tolerance = 1e-10)
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  drawn <- plot(wb)
  expect_identical(drawn$type, "histogram")
})

test_that("bad input gives classed errors and warnings", {
  d <- wild_data(12, seed = 14)
  fit <- lm(y ~ x + tr + z, d)
  expect_error(wild_boot(fit, "nope", cluster = ~ g), class = "clusterab_error",
               regexp = "`param` must name one coefficient")
  expect_error(wild_boot(fit, cluster = ~ g), class = "clusterab_error", regexp = "`param` is required")
  d$x2 <- 2 * d$x
  fa <- lm(y ~ x + x2 + z, d)
  expect_error(wild_boot(fa, "x2", cluster = ~ g), class = "clusterab_error", regexp = "aliased")
  d2 <- d
  d2$g <- ifelse(d2$g <= 6, 1, 2)
  f2 <- lm(y ~ x + tr + z, d2)
  expect_error(wild_boot(f2, "x", cluster = ~ g), class = "clusterab_error",
               regexp = "at least 3")
  d40 <- wild_data(40, seed = 15)
  f40 <- lm(y ~ x + z, d40)
  expect_error(wild_boot(f40, "x", cluster = ~ g, enumerate = TRUE),
               class = "clusterab_enumeration_too_large", regexp = "random weights")
  expect_error(wild_boot(f40, "x", cluster = ~ g, enumerate = TRUE), class = "clusterab_error")
  expect_error(wild_boot(fit, "x", cluster = ~ g, weights = "mammen", enumerate = TRUE),
               class = "clusterab_error", regexp = "rademacher")
  set.seed(1)
  expect_warning(wild_boot(f40, "x", cluster = ~ g, B = 50, threads = 1),
                 class = "clusterab_coarse_pvalue", regexp = "coarse")
  d4 <- wild_data(4, seed = 16)
  expect_warning(wild_boot(lm(y ~ x, d4), "x", cluster = ~ g, conf.int = FALSE, threads = 1),
                 class = "clusterab_coarse_pvalue", regexp = "only 16 weight vectors")
  ## with 16 sign vectors the WCR p-value is at least 2/16 (the identity and
  ## its mirror image): no null value is rejected at 5%
  w4 <- suppressWarnings(wild_boot(lm(y ~ x, d4), "x", cluster = ~ g, threads = 1),
                         classes = c("clusterab_coarse_pvalue", "clusterab_unbounded_interval"))
  expect_warning(suppressWarnings(wild_boot(lm(y ~ x, d4), "x", cluster = ~ g, threads = 1),
                                  classes = "clusterab_coarse_pvalue"),
                 class = "clusterab_unbounded_interval")
  expect_equal(as.vector(w4$conf.int), c(-Inf, Inf))
  gl <- glm(tr ~ x, family = binomial, data = d)
  expect_error(wild_boot(gl, "x", cluster = ~ g), class = "clusterab_error",
               regexp = "linear models only")
  expect_error(wild_boot(fit, "x", cluster = ~ g, weights = "gauss"), class = "clusterab_error",
               regexp = "`weights` must be one of")
  expect_error(wild_boot(fit, "x"), class = "clusterab_error", regexp = "`cluster` is required")
  expect_error(wild_boot(fit, "x", cluster = ~ g + tr), class = "clusterab_error",
               regexp = "multiway")
  expect_error(wild_boot(fit, "x", cluster = ~ g, B = 0), class = "clusterab_error",
               regexp = "`B`")
  expect_error(wild_boot(fit, "x", cluster = ~ g, null = NA), class = "clusterab_error",
               regexp = "`null`")
  expect_error(wild_boot(fit, "x", cluster = ~ g, R = 100), class = "clusterab_error",
               regexp = "renamed `B`")
})
