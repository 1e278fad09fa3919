## exposure_effects(): probabilities, estimates and the Aronow-Samii variance
## against exact enumeration of every assignment of a small design.

small_units <- function(z, seed = 21) {
  set.seed(seed)
  data.frame(unit = 1:10, treated = z, y = round(rnorm(10, 5) + 2 * z, 3))
}

## the package's results against brute_* (helper-network.R) for one design
check_against_enumeration <- function(design, assignments, z, threshold = 0, weight = NULL,
                                      directed = FALSE) {
  edges <- small_network()
  if (!is.null(weight)) edges$w <- seq(0.5, by = 0.25, length.out = nrow(edges))
  d <- small_units(z)
  nb <- brute_neighbours(d$unit, edges$from, edges$to, if (!is.null(weight)) edges$w, directed)
  pr <- brute_probabilities(d$unit, nb, assignments, threshold)
  cond <- brute_conditions(d$unit, d$treated, nb, threshold)
  fit <- suppressWarnings(exposure_effects(d, "y", "treated", edges, design = design,
                                           mapping = if (threshold > 0) threshold else "any",
                                           weight = weight, directed = directed))
  expect_true(fit$exact || fit$closed_form)
  expect_equal(unname(as.matrix(fit$probabilities[, c("c0", "c1", "t0", "t1")])), pr$marginal,
               tolerance = 1e-12)
  expect_equal(fit$probabilities$condition, c("c0", "c1", "t0", "t1")[cond + 1L])
  for (k in 0:3) {
    ref <- brute_as_mean(d$y, cond, pr, k)
    row <- fit$means[k + 1L, ]
    if (!any(cond == k) || sum(pr$marginal[, k + 1L] > 0) == 0) {
      expect_true(is.na(row$ht))
      next
    }
    expect_equal(row$ht, ref$ht, tolerance = 1e-12)
    expect_equal(row$hajek, ref$hajek, tolerance = 1e-12)
    expect_se_squared(row$std.error, ref$var)
    ## Hajek: the same variance of the residuals from the Hajek mean
    E <- pr$marginal[, k + 1L] > 0
    hajek_var <- brute_as_total_var(d$y - ref$hajek, cond, pr, k, E) / sum(E)^2
    if (sum(cond == k) >= 2) expect_se_squared(row$hajek.std.error, hajek_var)
    else expect_true(is.na(row$hajek.std.error))
  }
  pairs <- list(direct = c(2, 0), spillover = c(1, 0), spillover_treated = c(3, 2), total = c(3, 0))
  for (nm in names(pairs)) {
    row <- fit$contrasts[fit$contrasts$contrast == nm & fit$contrasts$estimator == "ht", ]
    E <- pr$marginal[, pairs[[nm]][1] + 1] > 0 & pr$marginal[, pairs[[nm]][2] + 1] > 0
    if (!any(cond[E] == pairs[[nm]][1]) || !any(cond[E] == pairs[[nm]][2])) {
      expect_true(is.na(row$estimate))
      next
    }
    ref <- brute_as_contrast(d$y, cond, pr, pairs[[nm]][1], pairs[[nm]][2])
    expect_equal(row$estimate, ref$ht, tolerance = 1e-12)
    expect_se_squared(row$std.error, ref$var)
    expect_equal(row$eligible, sum(E))
  }
  invisible(list(fit = fit, pr = pr, cond = cond))
}

## A Horvitz-Thompson variance estimate can be negative: then the standard
## error is NA
expect_se_squared <- function(se, var) {
  if (var < 0) {
    expect_true(is.na(se))
  } else {
    expect_equal(se^2, var, tolerance = 1e-10)
  }
}

z_small <- c(1, 0, 0, 1, 0, 0, 1, 0, 0, 1)

test_that("complete randomisation: probabilities, HT/Hajek and variances equal enumeration", {
  a <- brute_assignments(10, "complete", m = 4)
  check_against_enumeration(list(type = "complete", treated = 4), a, z_small)
  check_against_enumeration(list(type = "complete"), a, z_small, threshold = 0.5)
  check_against_enumeration(list(type = "complete"), a, z_small, directed = TRUE)
  check_against_enumeration(list(type = "complete"), a, z_small, threshold = 0.5, weight = "w",
                            directed = TRUE)
  ## Monte Carlo draws take the same paths (scatter from treated units, or
  ## the in-lists for weighted shares): within simulation error of the exact
  d <- small_units(z_small)
  edges <- transform(small_network(), w = seq(0.5, by = 0.25, length.out = 13))
  for (args in list(list(directed = TRUE), list(weight = "w", mapping = 0.5))) {
    ex <- suppressWarnings(do.call(exposure_effects, c(list(d, "y", "treated", edges,
                                                            design = list(type = "complete")), args)))
    set.seed(4)
    mc <- suppressWarnings(do.call(exposure_effects, c(list(d, "y", "treated", edges,
                                                            design = list(type = "complete"),
                                                            exact = FALSE, R = 20000), args)))
    p <- as.matrix(ex$probabilities[, c("c0", "c1", "t0", "t1")])
    q <- as.matrix(mc$probabilities[, c("c0", "c1", "t0", "t1")])
    expect_true(all(abs(q - p) <= 4 * sqrt(p * (1 - p) / 20000) + 1e-15))
  }
})

test_that("cluster randomisation equals enumeration over the clusters", {
  cl <- c(1, 1, 1, 2, 2, 3, 3, 4, 4, 5)
  z <- as.integer(cl %in% c(2, 4))
  a <- brute_assignments(10, "cluster", m = 2, clusters = cl)
  res <- check_against_enumeration(list(type = "cluster", clusters = cl, treated = 2), a, z)
  ## the clusters as a data frame of unit and cluster ids, in another order
  cf <- data.frame(unit = 10:1, cluster = rev(cl))
  d <- small_units(z)
  alt <- suppressWarnings(exposure_effects(d, "y", "treated", small_network(),
                                           design = list(type = "cluster", clusters = cf)))
  expect_equal(alt$means, res$fit$means)
})

test_that("Bernoulli: the closed form equals enumeration (any, a threshold, weights)", {
  a <- brute_assignments(10, "bernoulli", p = 0.3)
  check_against_enumeration(list(type = "bernoulli", p = 0.3), a, z_small)
  check_against_enumeration(list(type = "bernoulli", p = 0.3), a, z_small, threshold = 0.5)
  res <- check_against_enumeration(list(type = "bernoulli", p = 0.3), a, z_small, weight = "w")
  expect_true(res$fit$closed_form)
  ## weights with a threshold have no closed form: enumerated, 2^10 <= R
  res <- check_against_enumeration(list(type = "bernoulli", p = 0.3), a, z_small,
                                   threshold = 0.4, weight = "w")
  expect_false(res$fit$closed_form)
  expect_true(res$fit$exact)
})

test_that("simulated probabilities are within Monte Carlo error of the exact ones", {
  d <- small_units(z_small)
  edges <- small_network()
  exact <- suppressWarnings(exposure_effects(d, "y", "treated", edges,
                                             design = list(type = "complete")))
  set.seed(5)
  R <- 20000
  sim <- suppressWarnings(exposure_effects(d, "y", "treated", edges,
                                           design = list(type = "complete"), exact = FALSE, R = R))
  expect_false(sim$exact)
  p <- as.matrix(exact$probabilities[, c("c0", "c1", "t0", "t1")])
  q <- as.matrix(sim$probabilities[, c("c0", "c1", "t0", "t1")])
  se <- sqrt(p * (1 - p) / R)
  expect_true(all(abs(q - p) <= 4 * se + 1e-15))
  ## and the standard errors are close (joint probabilities simulated too)
  expect_equal(sim$means$std.error, exact$means$std.error, tolerance = 0.1)
})

test_that("the HT estimator is unbiased and the variance conservative over the design", {
  ## potential outcomes depending on own treatment and exposure; every
  ## assignment of the design enumerated. The brute-force estimator (which
  ## gives an empty condition a sum of zero) is unbiased and its variance
  ## conservative over the design, and ours equals it wherever ours is
  ## defined (both conditions observed, variance not negative).
  edges <- small_network()
  units <- 1:10
  nb <- brute_neighbours(units, edges$from, edges$to)
  set.seed(8)
  base <- rnorm(10, 3)
  po <- cbind(base, base + 1, base + 2, base + 3.5)  # y_i(c0), y_i(c1), y_i(t0), y_i(t1)
  a <- brute_assignments(10, "complete", m = 4)
  pr <- brute_probabilities(units, nb, a)
  ref <- matrix(NA, length(a), 2)
  compared <- 0
  for (r in seq_along(a)) {
    z <- a[[r]]$z
    cond <- brute_conditions(units, z, nb)
    y <- po[cbind(units, cond + 1L)]
    b <- brute_as_contrast(y, cond, pr, 1, 0)
    ref[r, ] <- c(b$ht, b$var)
    if (r %% 7 == 0) {
      d <- data.frame(unit = units, treated = z, y = y)
      fit <- suppressWarnings(exposure_effects(d, "y", "treated", edges,
                                               design = list(type = "complete", treated = 4)))
      row <- fit$contrasts[fit$contrasts$contrast == "spillover" &
                             fit$contrasts$estimator == "ht", ]
      if (!is.na(row$estimate)) {
        expect_equal(row$estimate, b$ht, tolerance = 1e-12)
        if (!is.na(row$std.error)) {
          expect_equal(row$std.error^2, b$var, tolerance = 1e-10)
          compared <- compared + 1
        }
      }
    }
  }
  expect_gt(compared, 10)
  w <- vapply(a, `[[`, 0, "w")
  E <- pr$marginal[, 2] > 0 & pr$marginal[, 1] > 0
  truth <- mean(po[E, 2] - po[E, 1])
  expect_equal(sum(w * ref[, 1]), truth, tolerance = 1e-12)
  expect_gte(sum(w * ref[, 2]), sum(w * (ref[, 1] - truth)^2))
})

test_that("results are identical for any thread count under set.seed()", {
  set.seed(3)
  n <- 120
  edges <- data.frame(from = sample(n, 300, TRUE), to = sample(n, 300, TRUE))
  d <- data.frame(unit = 1:n, treated = sample(rep(0:1, n / 2)), y = rnorm(n))
  run <- function(threads) {
    set.seed(99)
    suppressWarnings(exposure_effects(d, "y", "treated", edges, design = list(type = "complete"),
                                      R = 3000, threads = threads))
  }
  one <- run(1)
  two <- run(2)
  expect_identical(one$means, two$means)
  expect_identical(one$contrasts, two$contrasts)
  expect_identical(one$probabilities, two$probabilities)
  set.seed(99)
  bern <- suppressWarnings(exposure_effects(d, "y", "treated", edges, R = 3000, threads = 2,
                                            design = list(type = "bernoulli", p = 0.5)))
  set.seed(99)
  bern1 <- suppressWarnings(exposure_effects(d, "y", "treated", edges, R = 3000, threads = 1,
                                             design = list(type = "bernoulli", p = 0.5)))
  expect_identical(bern$means, bern1$means)
  ## point estimates without the variance: the same numbers
  set.seed(99)
  nov <- suppressWarnings(exposure_effects(d, "y", "treated", edges, R = 3000, variance = FALSE,
                                           design = list(type = "complete")))
  expect_identical(nov$means$ht, one$means$ht)
  expect_true(all(is.na(nov$means$std.error)))
})

test_that("zero-probability conditions are reported, not dropped", {
  edges <- small_network()  # unit 10 is isolated: never exposed
  d <- small_units(z_small)
  expect_warning(fit <- withCallingHandlers(
    exposure_effects(d, "y", "treated", edges, design = list(type = "complete")),
    clusterab_negative_variance = function(w) invokeRestart("muffleWarning")),
    class = "clusterab_zero_probability")
  expect_equal(fit$probabilities[unit == 10, c1], 0)
  expect_equal(fit$means$eligible[fit$means$condition == "c1"], 9)
  expect_equal(fit$contrasts$eligible[fit$contrasts$contrast == "spillover"], c(9, 9))
  ## with few units per condition the HT variance estimate of c1 is negative
  expect_warning(withCallingHandlers(
    exposure_effects(d, "y", "treated", edges, design = list(type = "complete")),
    clusterab_zero_probability = function(w) invokeRestart("muffleWarning")),
    class = "clusterab_negative_variance")
  expect_true(is.na(fit$means$std.error[fit$means$condition == "c1"]))
})

test_that("printing and tidy()", {
  d <- small_units(z_small)
  fit <- suppressWarnings(exposure_effects(d, "y", "treated", small_network(),
                                           design = list(type = "bernoulli", p = 0.4)))
  expect_output(print(fit), "Bernoulli\\(p = 0.4\\)")
  expect_output(print(fit), "in closed form")
  td <- tidy(fit)
  expect_named(td, c("term", "estimator", "estimate", "std.error", "statistic", "p.value",
                     "conf.low", "conf.high"))
  expect_equal(nrow(td), 8L)
})

test_that("exposure_effects() refuses bad input with classed errors", {
  d <- small_units(z_small)
  edges <- small_network()
  ee <- function(...) exposure_effects(d, "y", "treated", edges, ...)
  expect_error(ee(design = list(type = "bernoulli", p = 1.2)), "between 0 and 1")
  expect_error(ee(design = list(type = "stratified")), class = "clusterab_error")
  expect_error(ee(design = "bernoulli"), "`design` must be a list")
  expect_error(ee(design = list(type = "complete", treated = 5)), "4 units are treated")
  expect_error(ee(design = list(type = "complete", p = 0.5)), "also has `p`")
  expect_error(ee(design = list(type = "cluster", clusters = 1:3)), "one cluster id per unit")
  expect_error(ee(design = list(type = "cluster", clusters = rep(1:5, 2))),
               "treated and control units")
  expect_error(ee(design = list(type = "complete"), mapping = 2), "`mapping`")
  expect_error(ee(design = list(type = "complete"), mapping = "some"), "`mapping`")
  expect_error(ee(design = list(type = "complete"), R = 0), "`R`")
  expect_error(ee(design = list(type = "complete"), exact = "yes"), "`exact`")
  expect_error(ee(design = list(type = "complete"), variance = NA), "`variance`")
  expect_error(exposure_effects(d, "revenue", "treated", edges, design = list(type = "complete")),
               "`outcome`")
  dd <- d
  dd$y[2] <- NA
  expect_error(exposure_effects(dd, "y", "treated", edges, design = list(type = "complete")),
               "missing or infinite")
  expect_error(exposure_effects(d[-10, ], "y", "treated", rbind(edges, c(1, 10)),
                                design = list(type = "complete")),
               class = "clusterab_unknown_unit")
  old <- options(clusterab.max_variance_units = 5)
  on.exit(options(old))
  expect_error(ee(design = list(type = "complete")), class = "clusterab_too_many_units")
  expect_error(ee(design = list(type = "complete")), "variance = FALSE")
  expect_s3_class(suppressWarnings(ee(design = list(type = "complete"), variance = FALSE)),
                  "exposure_effects")
})

test_that("a unit observed in a condition no draw produced is an error, not an infinite weight", {
  ## a star whose centre is exposed under a threshold of 1 only when all 8
  ## leaves are treated: 1 assignment in choose(12, 8) = 495, observed here
  edges <- data.frame(from = rep(1, 8), to = 2:9)
  d <- data.frame(unit = 1:12, treated = c(0, rep(1, 8), 0, 0, 0), y = 1:12)
  set.seed(1)
  expect_error(exposure_effects(d, "y", "treated", edges, mapping = 1,
                                design = list(type = "complete"), exact = FALSE, R = 50),
               class = "clusterab_unobserved_probability")
})
