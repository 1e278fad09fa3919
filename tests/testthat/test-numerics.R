## Numerical robustness (issue 8, items 1, 3 and 8): results that do not
## depend on the units of the weights, the outcome or the covariates; CR1p
## with too few clusters; extreme magnitudes never crash and never give a
## silent NaN, Inf or zero.

## Clustered data whose weights vary within clusters.
sim_weighted <- function(seed = 3, G = 24) {
  d <- sim_clustered(G = G, seed = seed, max_size = 12)
  d$w <- d$w * exp(rnorm(nrow(d)))
  d
}

## V of a fit whose outcome was multiplied by cy and covariate `x1` by cx,
## mapped back to the units of the original fit.
back_to_units <- function(V, cy, cx, column = "x1") {
  D <- stats::setNames(rep(1, nrow(V)), rownames(V))
  D[column] <- cx
  D * t(D * V) / cy^2
}

test_that("weighted CR2 does not depend on the scale of the weights", {
  need("clubSandwich")
  d <- sim_weighted()
  fit <- lm(y ~ treat + x1 + f, data = d, weights = w)
  V <- vcov_cluster(fit, cluster = ~ g, type = "CR2")
  expect_vcov_equal(V, as.matrix(clubSandwich::vcovCR(fit, cluster = d$g, type = "CR2")), 1e-10)
  V_lm <- cluster_lm(y ~ treat + x1 + f, data = d, cluster = ~ g, weights = "w", type = "CR2")$vcov
  expect_vcov_equal(V_lm, V, 1e-10)
  population <- d$w / mean(d$w) * 5e6   # population weights with a mean of 5e6
  for (w in list(1e-6 * d$w, 1e5 * d$w, 1e6 * d$w, population)) {
    d$wc <- w
    fit_c <- lm(y ~ treat + x1 + f, data = d, weights = wc)
    ## the same weights up to a constant factor: the same covariance
    ref <- vcov_cluster(lm(y ~ treat + x1 + f, data = d, weights = wc / mean(wc)), cluster = ~ g, type = "CR2")
    expect_vcov_equal(vcov_cluster(fit_c, cluster = ~ g, type = "CR2"), ref, 1e-10)
    expect_vcov_equal(cluster_lm(y ~ treat + x1 + f, data = d, cluster = ~ g, weights = "wc",
                                 type = "CR2")$vcov, ref, 1e-10)
    expect_vcov_equal(ref, as.matrix(clubSandwich::vcovCR(fit_c, cluster = d$g, type = "CR2")), 1e-10)
  }
  for (c in c(1e-6, 1e6)) {
    d$wc <- c * d$w
    expect_vcov_equal(vcov_cluster(lm(y ~ treat + x1 + f, data = d, weights = wc),
                                   cluster = ~ g, type = "CR2"), V, 1e-10)
  }
})

test_that("CR2, CR3, HC2 and HC3 are equivariant in the units of weights, outcome and covariates", {
  need("clubSandwich")
  need("sandwich")
  d <- sim_weighted(seed = 4)
  types <- c("CR2", "CR3", "HC2", "HC3")
  ref_of <- function(fit, data, type) {
    if (startsWith(type, "CR")) as.matrix(clubSandwich::vcovCR(fit, cluster = data$g, type = type))
    else sandwich::vcovCL(fit, cluster = ~ g, type = type)
  }
  base <- lm(y ~ treat + x1 + year, data = d, weights = w)
  V0 <- lapply(stats::setNames(types, types), function(type) vcov_cluster(base, cluster = ~ g, type = type))
  for (type in types) expect_vcov_equal(V0[[type]], ref_of(base, d, type), 1e-8)
  ## moderate factors: also against the references on the rescaled data
  for (c in c(1e-6, 1e6)) {
    dw <- d; dw$w <- c * d$w
    dy <- d; dy$y <- c * d$y
    dx <- d; dx$x1 <- c * d$x1
    for (type in types) {
      fw <- lm(y ~ treat + x1 + year, data = dw, weights = w)
      fy <- lm(y ~ treat + x1 + year, data = dy, weights = w)
      fx <- lm(y ~ treat + x1 + year, data = dx, weights = w)
      expect_vcov_equal(vcov_cluster(fw, cluster = ~ g, type = type), V0[[type]], 1e-10)
      expect_vcov_equal(back_to_units(vcov_cluster(fy, cluster = ~ g, type = type), c, 1), V0[[type]], 1e-10)
      expect_vcov_equal(back_to_units(vcov_cluster(fx, cluster = ~ g, type = type), 1, c), V0[[type]], 1e-10)
      ## (the references lose digits on `year`'s large mean: compare without it)
      fx1 <- lm(y ~ treat + x1, data = dx, weights = w)
      fw1 <- lm(y ~ treat + x1, data = dw, weights = w)
      ## (clubSandwich's CR2 drops eigenvalues below a cut-off relative to
      ## the largest, which moves with a covariate's units: with x1 * 1e6 it
      ## differs from its own unscaled result by 1e-5, while ours is
      ## equivariant, as checked above)
      if (type != "CR2") {
        expect_vcov_equal(vcov_cluster(fx1, cluster = ~ g, type = type), ref_of(fx1, dx, type), 1e-8)
      }
      expect_vcov_equal(vcov_cluster(fw1, cluster = ~ g, type = type), ref_of(fw1, dw, type), 1e-8)
      if (type != "HC3" && type != "HC2") {
        for (dd in list(dw, dy, dx)) {
          ff <- lm(y ~ treat + x1 + year, data = dd, weights = w)
          expect_vcov_equal(cluster_lm(y ~ treat + x1 + year, data = dd, cluster = ~ g,
                                       weights = "w", type = type)$vcov,
                            vcov_cluster(ff, cluster = ~ g, type = type), 1e-10)
        }
      }
    }
  }
  ## extreme factors, whose squares (times squared weights) overflow or
  ## underflow: the same covariance, in the new units
  for (c in c(1e-150, 1e150, 1e-200, 1e200)) {
    dw <- d; dw$w <- c * d$w
    dy <- d; dy$y <- c^0.75 * d$y
    dx <- d; dx$x1 <- c * d$x1
    for (type in types) {
      fw <- lm(y ~ treat + x1 + year, data = dw, weights = w)
      expect_vcov_equal(vcov_cluster(fw, cluster = ~ g, type = type), V0[[type]], 1e-10)
      expect_vcov_equal(cluster_lm(y ~ treat + x1 + year, data = dw, cluster = ~ g, weights = "w",
                                   type = type)$vcov, V0[[type]], 1e-10)
      if (abs(log10(c)) <= 150) {
        fy <- lm(y ~ treat + x1 + year, data = dy, weights = w)
        expect_vcov_equal(back_to_units(vcov_cluster(fy, cluster = ~ g, type = type), c^0.75, 1),
                          V0[[type]], 1e-10)
        expect_vcov_equal(back_to_units(cluster_lm(y ~ treat + x1 + year, data = dy, cluster = ~ g,
                                                   weights = "w", type = type)$vcov, c^0.75, 1),
                          V0[[type]], 1e-10)
        fx <- lm(y ~ treat + x1 + year, data = dx, weights = w)
        expect_vcov_equal(back_to_units(vcov_cluster(fx, cluster = ~ g, type = type), 1, c),
                          V0[[type]], 1e-10)
        expect_vcov_equal(back_to_units(cluster_lm(y ~ treat + x1 + year, data = dx, cluster = ~ g,
                                                   weights = "w", type = type)$vcov, 1, c),
                          V0[[type]], 1e-10)
      }
    }
  }
})

test_that("ill-conditioned weighted designs with rescaled weights match clubSandwich", {
  need("clubSandwich")
  ill <- sim_ill_conditioned(seed = 6)
  for (c in c(1, 1e-6, 1e6)) {
    ill$data$wc <- c * ill$data$w
    ill$centred$wc <- c * ill$centred$w
    fit <- lm(y ~ treat + year + time, data = ill$data, weights = wc)
    ref_fit <- lm(y ~ treat + year + time, data = ill$centred, weights = wc)
    for (type in c("CR2", "CR3")) {
      ref <- uncentred_reference(as.matrix(clubSandwich::vcovCR(ref_fit, cluster = ill$centred$g, type = type)),
                                 ill, names(coef(fit)))
      expect_vcov_equal(vcov_cluster(fit, cluster = ~ g, type = type), ref, 1e-9)
      expect_vcov_equal(cluster_lm(y ~ treat + year + time, data = ill$data, cluster = ~ g,
                                   weights = "wc", type = type)$vcov, ref, 1e-9)
    }
  }
})

test_that("CR1p with no more clusters than coefficients is NaN with a classed warning, as clubSandwich", { quiet_few({
    need("clubSandwich")
    set.seed(7)
    d <- data.frame(g = rep(1:3, each = 6), x1 = rnorm(18), x2 = rnorm(18), x3 = rnorm(18))
    d$y <- rnorm(18)
    fit <- lm(y ~ x1 + x2 + x3, data = d)   # G = 3 < k = 4
    expect_warning(V <- vcov_cluster(fit, cluster = ~ g, type = "CR1p"),
                   class = "clusterab_cr1p_undefined")
    expect_true(all(is.nan(V)))
    ref <- suppressWarnings(as.matrix(clubSandwich::vcovCR(fit, cluster = d$g, type = "CR1p")))
    expect_true(all(is.nan(ref)))
    expect_warning(fit2 <- cluster_lm(y ~ x1 + x2 + x3, data = d, cluster = ~ g, type = "CR1p"),
                   class = "clusterab_cr1p_undefined")
    expect_true(all(is.nan(fit2$vcov)))
    expect_equal(coef(fit2), coef(fit), tolerance = 1e-12)
    ## G = k: the factor is infinite; NaN too
    fit3 <- lm(y ~ x1 + x2, data = d)
    expect_warning(V3 <- vcov_cluster(fit3, cluster = ~ g, type = "CR1p"),
                   class = "clusterab_cr1p_undefined")
    expect_true(all(is.nan(V3)))
    expect_true(all(is.nan(as.matrix(clubSandwich::vcovCR(fit3, cluster = d$g, type = "CR1p")))))
    ## G > k: unchanged
    expect_no_warning(V4 <- quiet_few(vcov_cluster(lm(y ~ x1, data = d), cluster = ~ g, type = "CR1p")))
    expect_vcov_equal(V4, as.matrix(clubSandwich::vcovCR(lm(y ~ x1, data = d), cluster = d$g, type = "CR1p")), 1e-10)
}) })

test_that("weighted CR2 with a weight or covariate above 1e154 does not crash", { quiet_few({
    need("sandwich")
    d <- sim_weighted(seed = 8)
    ## a returned value or a classed error, never a crash
    run <- function(expr) tryCatch(expr, clusterab_error = function(e) e)
    for (big in c(1e155, 1e200)) {
      dw <- d; dw$w[3] <- big
      fit <- lm(y ~ x1, data = dw, weights = w)
      r1 <- run(cluster_lm(y ~ x1, data = dw, cluster = ~ g, weights = "w", type = "CR2"))
      r2 <- run(vcov_cluster(fit, cluster = ~ g, type = "CR2"))
      if (!inherits(r1, "error")) {
        expect_identical(is.na(coef(r1)), is.na(coef(fit)))
        expect_true(all(is.finite(r1$vcov)))
      }
      if (!inherits(r2, "error")) {
        expect_true(all(is.finite(r2)))
        expect_identical(dimnames(r2), dimnames(sandwich::vcovCL(fit, cluster = ~ g, type = "HC0")))
      }
      dx <- d; dx$x1[3] <- big
      fit <- lm(y ~ x1, data = dx, weights = w)
      r3 <- run(cluster_lm(y ~ x1, data = dx, cluster = ~ g, weights = "w", type = "CR2"))
      r4 <- run(vcov_cluster(fit, cluster = ~ g, type = "CR2"))
      if (!inherits(r3, "error")) {
        expect_equal(coef(r3), coef(fit), tolerance = 1e-8)
        expect_true(all(is.finite(r3$vcov)))
      }
      if (!inherits(r4, "error")) expect_true(all(is.finite(r4)))
      expect_true(TRUE)
    }
}) })

test_that("a covariate of 1e155 is not aliased and gives lm()'s coefficients and the right SEs", { quiet_few({
    need("sandwich")
    d <- sim_clustered(G = 20, seed = 9)
    d$xb <- d$x1 * 1e155
    fit <- lm(y ~ treat + xb, data = d)
    ## the reference: sandwich on the covariate in ordinary units
    ref <- sandwich::vcovCL(lm(y ~ treat + x1, data = d), cluster = ~ g, type = "HC1")
    dimnames(ref) <- list(names(coef(fit)), names(coef(fit)))
    for (type in c("HC1", "CR2")) {
      cl <- cluster_lm(y ~ treat + xb, data = d, cluster = ~ g, type = type)
      expect_false(any(is.na(coef(cl))))
      expect_rel_equal(coef(cl), coef(fit), 1e-10)
      expect_true(all(is.finite(sqrt(diag(cl$vcov)))))
      expect_true(all(is.finite(sqrt(diag(vcov_cluster(fit, cluster = ~ g, type = type))))))
    }
    expect_vcov_equal(back_to_units(cluster_lm(y ~ treat + xb, data = d, cluster = ~ g)$vcov, 1, 1e155, "xb"),
                      ref, 1e-10)
    expect_vcov_equal(back_to_units(vcov_cluster(fit, cluster = ~ g), 1, 1e155, "xb"), ref, 1e-10)
}) })

test_that("outcomes whose variances do not fit in a double are a classed error, not SE 0 or Inf", {
  d <- sim_clustered(G = 20, seed = 10)
  for (c in c(1e-170, 1e170)) {
    d$yc <- d$y * c
    expect_error(cluster_lm(yc ~ treat + x1, data = d, cluster = ~ g), class = "clusterab_error")
    expect_error(vcov_cluster(lm(yc ~ treat + x1, data = d), cluster = ~ g), class = "clusterab_error")
    expect_error(cluster_lm(yc ~ treat + x1, data = d, cluster = ~ g, weights = "w", type = "CR2"),
                 class = "clusterab_error")
  }
  ## values whose centred span overflows
  d$yc <- d$y
  d$yc[1:2] <- c(-1.7e308, 1.7e308)
  expect_error(cluster_lm(yc ~ treat + x1, data = d, cluster = ~ g), class = "clusterab_error")
})

test_that("moderately extreme outcomes and weights give lm()'s coefficients and finite SEs", {
  need("sandwich")
  d <- sim_weighted(seed = 11)
  base <- cluster_lm(y ~ treat + x1, data = d, cluster = ~ g, weights = "w", type = "CR2")
  for (c in c(1e-150, 1e150)) {
    d$yc <- d$y * c
    d$wc <- d$w * c
    fit <- lm(yc ~ treat + x1, data = d, weights = wc)
    cl <- cluster_lm(yc ~ treat + x1, data = d, cluster = ~ g, weights = "wc", type = "CR2")
    expect_rel_equal(coef(cl), coef(fit), 1e-10)
    expect_equal(unname(cl$sigma) / c^1.5, unname(base$sigma), tolerance = 1e-10)
    expect_equal(cl$r.squared, base$r.squared, tolerance = 1e-10)
    expect_vcov_equal(cl$vcov / c^2, base$vcov, 1e-10)
  }
})

test_that("one weight 1e14 times the others: the covariance equals sandwich's", {
  need("sandwich")
  d <- sim_clustered(G = 30, seed = 12)
  d$w[5] <- d$w[5] * 1e14
  fit <- lm(y ~ treat + x1 + year, data = d, weights = w)
  ## sandwich's QR-based bread is accurate here
  ref <- sandwich::vcovCL(fit, cluster = ~ g, type = "HC1")
  expect_vcov_equal(vcov_cluster(fit, cluster = ~ g), ref, 1e-7)
  expect_vcov_equal(cluster_lm(y ~ treat + x1 + year, data = d, cluster = ~ g, weights = "w")$vcov,
                    ref, 1e-7)
  expect_rel_equal(coef(cluster_lm(y ~ treat + x1 + year, data = d, cluster = ~ g, weights = "w")),
                   coef(fit), 1e-8)
})

test_that("cluster_stats keeps moments in the data's units; scales are 1 for ordinary data", { quiet_few({
    d <- sim_weighted(seed = 13)
    st <- cluster_stats(d, y ~ treat + x1, cluster = "g", weights = "w")
    expect_true(all(st$scale == 1))
    expect_null(st$moments_scaled)
    ## scaled but representable in the data's units: 1e100 squares to 1e200
    d1 <- d
    d1$x1 <- d1$x1 * 1e100
    st <- cluster_stats(d1, y ~ treat + x1, cluster = "g", weights = "w")
    expect_equal(unname(st$scale[["x1"]]), 2^-round(log2(max(abs(d1$x1 - weighted.mean(d1$x1, d1$w))))))
    expect_false(is.null(st$moments_scaled))
    expect_true(all(is.finite(unlist(st$moments))))
    expect_rel_equal(coef(cluster_lm(st)), coef(lm(y ~ treat + x1, data = d1, weights = w)), 1e-10)
    d$x1 <- d$x1 * 1e160   # squares overflow in the data's units
    d$y <- d$y * 1e15      # so that the variance of x1's coefficient is a normal double
    ## statistics in the data's units would hold Inf: refused, naming the column;
    ## cluster_lm() on the data fits through its scaled path
    expect_error(cluster_stats(d, y ~ treat + x1, cluster = "g", weights = "w"), "`x1`",
                 class = "clusterab_unrepresentable")
    expect_rel_equal(coef(cluster_lm(y ~ treat + x1, data = d, cluster = "g", weights = "w")),
                     coef(lm(y ~ treat + x1, data = d, weights = w)), 1e-10)
    ## the mixed model reads the moments in data units: a classed error, not NaN
    expect_error(ri_lmer(y ~ treat + x1 + (1 | g), data = d), class = "clusterab_error")
    d$x1 <- d$x1 * 1e-160 * 1e-160   # now about 1e-160: squares underflow
    expect_error(ri_lmer(y ~ treat + x1 + (1 | g), data = d), "underflow", class = "clusterab_error")
    d$y <- d$y * 1e-175
    d$x1 <- d$x1 * 1e160
    expect_error(ri_lmer(y ~ treat + x1 + (1 | g), data = d), "underflow", class = "clusterab_error")
}) })

test_that("nearly collinear designs that lm() keeps get a classed warning; ordinary ones do not", {
  d <- sim_clustered(G = 30, seed = 14)
  d$x3 <- d$x1 + 1e-6 * rnorm(nrow(d))   # lm() keeps x3: its QR tolerance is 1e-7
  fit <- lm(y ~ x1 + x3, data = d)
  expect_false(anyNA(coef(fit)))
  expect_warning(cluster_lm(y ~ x1 + x3, data = d, cluster = ~ g), class = "clusterab_ill_conditioned")
  expect_warning(vcov_cluster(fit, cluster = ~ g), class = "clusterab_ill_conditioned")
  ## a calendar year and a timestamp (large mean, small spread) are fine once centred
  ill <- sim_ill_conditioned(seed = 5)
  expect_no_warning(cluster_lm(y ~ treat + year + time, data = ill$data, cluster = ~ g, type = "CR2"))
  expect_no_warning(vcov_cluster(lm(y ~ treat + year + time, data = ill$data), cluster = ~ g, type = "CR2"))
})

test_that("multiway clustering and glm fits are equivariant under extreme units too", { quiet_few({
    need("sandwich")
    d0 <- sim_clustered(G = 15, seed = 22, max_size = 8)
    for (type in c("HC1", "HC2", "HC3")) {
      V0 <- cluster_lm(y ~ treat + x1, data = d0, cluster = ~ g + h, weights = "w", type = type)$vcov
      expect_vcov_equal(V0, sandwich::vcovCL(lm(y ~ treat + x1, data = d0, weights = w),
                                             cluster = ~ g + h, type = type), 1e-10)
      for (mag in c(1e-200, 1e200)) {
        d <- d0
        d$w <- d$w * mag
        d$x1 <- d$x1 * mag^0.7
        d$y <- d$y * mag^0.3
        V <- cluster_lm(y ~ treat + x1, data = d, cluster = ~ g + h, weights = "w", type = type)$vcov
        V2 <- vcov_cluster(lm(y ~ treat + x1, data = d, weights = w), cluster = ~ g + h, type = type)
        expect_vcov_equal(back_to_units(V, mag^0.3, mag^0.7), V0, 1e-10)
        expect_vcov_equal(back_to_units(V2, mag^0.3, mag^0.7), V0, 1e-10)
      }
    }
    G0 <- glm(yp ~ treat + x1, data = d0, family = poisson())
    for (mag in c(1e-140, 1e140)) {   # variances of x1's coefficient near 1e+-280
      d <- d0
      d$x1 <- d$x1 * mag
      G1 <- glm(yp ~ treat + x1, data = d, family = poisson())
      for (type in c("HC0", "HC2", "CR3")) {
        expect_vcov_equal(back_to_units(vcov_cluster(G1, cluster = ~ g, type = type), 1, mag),
                          vcov_cluster(G0, cluster = ~ g, type = type), 1e-8)
      }
    }
}) })

test_that("a fit whose every coefficient is aliased is a classed error, not a crash", {
  set.seed(2)
  d <- data.frame(g = rep(1:10, each = 5), x = 0, y = rnorm(50), w = runif(50))
  for (type in c("HC1", "HC2", "CR2", "CR3")) {
    expect_error(cluster_lm(y ~ 0 + x, data = d, cluster = ~ g, weights = "w", type = type),
                 "aliased", class = "clusterab_error")
    expect_error(vcov_cluster(lm(y ~ 0 + x, data = d, weights = w), cluster = ~ g, type = type),
                 "aliased", class = "clusterab_error")
  }
})

test_that("one weight 1e200 times the others: HC1 keeps the other clusters' scores (their squares underflowed)", {
  need("sandwich")
  set.seed(71)
  g <- rep(1:12, each = 4)
  d <- data.frame(g = g, treat = rep(0:1, 6)[g], x1 = rnorm(48), y = rnorm(12)[g] + rnorm(48),
                  w = runif(48, 0.5, 2))
  d$w[3] <- 1e200
  fit <- lm(y ~ treat + x1, data = d, weights = w)
  V <- quiet_few(suppressWarnings(vcov_cluster(fit, cluster = ~ g, type = "HC1")))
  ref <- sandwich::vcovCL(fit, cluster = ~ g, type = "HC1")
  ok <- diag(ref) > 1e-100   # the coefficients not resting on the heavy row
  expect_true(any(ok))
  expect_equal(diag(V)[ok], diag(ref)[ok], tolerance = 1e-8)
  ## CR2 needs the squared weights, which underflow: refused, naming `weights`
  expect_error(vcov_cluster(fit, cluster = ~ g, type = "CR2"), "`weights` span",
               class = "clusterab_weight_span")
  expect_error(cluster_lm(y ~ treat + x1, data = d, cluster = ~ g, weights = "w", type = "CR2"),
               "`weights` span", class = "clusterab_weight_span")
})

test_that("weighted CR2 with weights spanning more than 1e6 warns that it cannot be computed accurately", {
  set.seed(72)
  g <- rep(1:12, each = 4)
  d <- data.frame(g = g, treat = rep(0:1, 6)[g], x1 = rnorm(48), y = rnorm(12)[g] + rnorm(48),
                  w = runif(48, 0.5, 2))
  fit <- lm(y ~ treat + x1, data = d, weights = w)
  expect_no_warning(quiet_few(vcov_cluster(fit, cluster = ~ g, type = "CR2")))
  d$w[3] <- d$w[3] * 1e14
  fit <- lm(y ~ treat + x1, data = d, weights = w)
  expect_warning(quiet_few(vcov_cluster(fit, cluster = ~ g, type = "CR2")), "`weights` span",
                 class = "clusterab_ill_conditioned")
  expect_warning(quiet_few(cluster_lm(y ~ treat + x1, data = d, cluster = ~ g, weights = "w", type = "CR2")),
                 class = "clusterab_ill_conditioned")
  ## HC1 is exact there (sandwich's value): no such warning
  expect_no_warning(quiet_few(vcov_cluster(fit, cluster = ~ g, type = "HC1")))
})
