## ratio_test(): ratio-of-sums metrics, delta method and bootstrap.

## Units (users) with sessions and conversions; `lift` raises the conversion
## rate of the groups after the first.
sim_sessions <- function(n, groups = c("A", "B"), lift = 0.1, max_sessions = 8, seed = 1) {
  set.seed(seed)
  g <- rep(groups, length.out = n)
  s <- sample.int(max_sessions, n, replace = TRUE)
  p <- 0.05 * ifelse(g == groups[1L], 1, 1 + lift)
  data.frame(variant = g, sessions = s, conversions = rbinom(n, s, p), stringsAsFactors = FALSE)
}

## Units with skewed revenue over orders: almost every unit distinct.
sim_revenue <- function(n_per_group, seed = 2) {
  set.seed(seed)
  g <- rep(c("control", "treatment"), each = n_per_group)
  orders <- rpois(2 * n_per_group, 2) + 1
  revenue <- orders * rlnorm(2 * n_per_group, ifelse(g == "treatment", 3.1, 3), 0.8)
  data.frame(g = g, orders = orders, revenue = revenue, stringsAsFactors = FALSE)
}

## The delta-method variance of sum(x) / sum(y), written out as GrowthBook
## does: sample variances and covariance (divisor n - 1), divided by n.
hand_ratio_var <- function(x, y) {
  n <- length(x)
  mx <- mean(x); my <- mean(y)
  (var(x) / my^2 - 2 * cov(x, y) * mx / my^3 + var(y) * mx^2 / my^4) / n
}

test_that("delta-method standard errors equal the hand-derived formula", {
  d <- sim_sessions(3000, groups = c("A", "B", "C"))
  res <- ratio_test(d, "conversions", "sessions", "variant")
  expect_s3_class(res, "ratio_test")
  ratio <- function(k) sum(d$conversions[d$variant == k]) / sum(d$sessions[d$variant == k])
  v <- function(k) hand_ratio_var(d$conversions[d$variant == k], d$sessions[d$variant == k])
  cmp <- res$comparisons
  expect_identical(cmp$group, c("B", "C"))
  expect_identical(cmp$control, c("A", "A"))
  for (k in c("B", "C")) {
    i <- match(k, cmp$group)
    diff <- ratio(k) - ratio("A")
    se <- sqrt(v(k) + v("A"))
    lift_se <- sqrt(v(k) / ratio("A")^2 + v("A") * ratio(k)^2 / ratio("A")^4)
    expect_equal(cmp$estimate[i], diff, tolerance = 1e-12)
    expect_equal(cmp$std.error[i], se, tolerance = 1e-12)
    expect_equal(cmp$lift[i], ratio(k) / ratio("A") - 1, tolerance = 1e-12)
    expect_equal(cmp$lift.std.error[i], lift_se, tolerance = 1e-12)
    expect_equal(cmp$p.value[i], 2 * pnorm(-abs(diff / se)), tolerance = 1e-12)
    expect_equal(c(cmp$conf.low[i], cmp$conf.high[i]), diff + c(-1, 1) * qnorm(0.975) * se,
                 tolerance = 1e-12)
    expect_equal(c(cmp$lift.conf.low[i], cmp$lift.conf.high[i]),
                 ratio(k) / ratio("A") - 1 + c(-1, 1) * qnorm(0.975) * lift_se, tolerance = 1e-12)
  }
  expect_equal(res$groups$std.error, sqrt(c(v("A"), v("B"), v("C"))), tolerance = 1e-12)
  expect_equal(res$groups$n, as.vector(table(d$variant)))

  ## another control, another level, one-sided
  res2 <- ratio_test(d, "conversions", "sessions", "variant", control = "C", conf.level = 0.9,
                     alternative = "greater")
  expect_identical(res2$comparisons$group, c("A", "B"))
  se <- sqrt(v("A") + v("C"))
  z <- (ratio("A") - ratio("C")) / se
  expect_equal(res2$comparisons$p.value[1], pnorm(z, lower.tail = FALSE), tolerance = 1e-12)
  expect_equal(res2$comparisons$conf.low[1], ratio("A") - ratio("C") - qnorm(0.9) * se,
               tolerance = 1e-12)
  expect_identical(res2$comparisons$conf.high[1], Inf)
  res3 <- ratio_test(d, "conversions", "sessions", "variant", alternative = "less")
  expect_equal(res3$p.value[["B - A"]], pnorm(res$comparisons$statistic[1]), tolerance = 1e-12)

  ## a factor orders the groups by its levels; data.table input
  d$f <- factor(d$variant, levels = c("C", "A", "B"))
  expect_identical(ratio_test(d, "conversions", "sessions", "f")$comparisons$group, c("A", "B"))
  dt <- data.table::as.data.table(d)
  expect_equal(ratio_test(dt, "conversions", "sessions", "variant")$comparisons, res$comparisons)
  ## confint() at another level
  ci <- confint(res, level = 0.8)
  expect_equal(unname(ci[1, ]), cmp$estimate[1] + c(-1, 1) * qnorm(0.9) * cmp$std.error[1],
               tolerance = 1e-12)
  expect_identical(rownames(ci), c("B - A", "C - A"))
})

test_that("negative numerators are allowed and units with zero denominators are kept", {
  d <- sim_revenue(400)
  d$revenue[c(3, 500)] <- -c(20, 35)  # refunds
  d$orders[c(5, 6, 450)] <- 0         # units without orders, still randomised
  res <- ratio_test(d, "revenue", "orders", "g")
  x <- function(k) d$revenue[d$g == k]
  y <- function(k) d$orders[d$g == k]
  expect_equal(res$groups$n, c(400, 400))
  expect_equal(res$comparisons$std.error,
               sqrt(hand_ratio_var(x("treatment"), y("treatment")) + hand_ratio_var(x("control"), y("control"))),
               tolerance = 1e-12)
  expect_equal(res$groups$ratio[1], sum(x("control")) / sum(y("control")), tolerance = 1e-14)
})

test_that("bootstrap standard errors agree with the delta method on large data", {
  ## 2e5 users per group; 0/1-ish conversions over 1..8 sessions, so cells.
  ## With R replicates of a nearly normal statistic the relative Monte Carlo
  ## error of a standard deviation is 1 / sqrt(2 R) = 0.011 at R = 4000; the
  ## bootstrap's plug-in variance differs from the delta method's by the
  ## factor (n - 1) / n, negligible here. Tolerance: 4 Monte Carlo SEs, 4.5%.
  ## The p-values agree within 4 SEs of a proportion, sqrt(p (1 - p) / R),
  ## plus 0.01 for the normal approximation.
  d <- sim_sessions(4e5, lift = 0.015, seed = 3)
  delta <- ratio_test(d, "conversions", "sessions", "variant")
  set.seed(10)
  boot <- ratio_test(d, "conversions", "sessions", "variant", method = "bootstrap", R = 4000,
                     threads = 2)
  expect_identical(boot$groups$resampling, c("cells", "cells"))
  tol <- 4 / sqrt(2 * 4000)
  expect_lt(abs(sd(boot$t[, 1]) / delta$comparisons$std.error - 1), tol)
  expect_lt(abs(sd(boot$t_lift[, 1]) / delta$comparisons$lift.std.error - 1), tol)
  expect_equal(boot$comparisons$std.error, sd(boot$t[, 1]))
  expect_lt(abs(mean(boot$t[, 1]) - boot$t0), 4 * delta$comparisons$std.error / sqrt(4000))
  p <- delta$p.value[[1]]
  expect_lt(abs(boot$p.value[[1]] - p), 4 * sqrt(p * (1 - p) / 4000) + 0.01)
  ## the p-value is (1 + #{|t* - t0| >= |t0|}) / (R + 1)
  expect_equal(boot$p.value[[1]],
               (1 + sum(abs(boot$t[, 1] - boot$t0) >= abs(boot$t0))) / 4001)
})

test_that("percentile and BCa intervals agree with boot::boot(strata = ) and boot.ci()", {
  need("boot")
  ## Skewed revenue per order, every unit distinct (units resampled one by
  ## one); equal group sizes, where boot.ci()'s acceleration formula is the
  ## several-sample one we use.
  ## Monte Carlo tolerance: an endpoint at probability p from R replicates
  ## has standard error sqrt(p (1 - p) / R) / f(q_p), about 2.7 sigma /
  ## sqrt(R) at p = 0.025 for a normal statistic with sd sigma, so the
  ## difference of two independent runs has SE 3.8 sigma / sqrt(R). BCa
  ## adds the noise of z0 (sd 1.25 / sqrt(R), moving the endpoint by about
  ## 2 sigma z0): SE of the difference about 5.2 sigma / sqrt(R). Tolerance
  ## 4 SEs.
  d <- sim_revenue(300)
  R <- 4000
  set.seed(11)
  ours_p <- ratio_test(d, "revenue", "orders", "g", method = "bootstrap", R = R, threads = 1)
  set.seed(11)
  ours_b <- ratio_test(d, "revenue", "orders", "g", method = "bootstrap", R = R, ci = "bca",
                       threads = 1)
  expect_identical(ours_p$groups$resampling, c("units", "units"))
  expect_identical(ours_p$t, ours_b$t)
  treated <- d$g == "treatment"
  stat <- function(dat, i) {
    tr <- treated[i]
    sum(dat$revenue[i][tr]) / sum(dat$orders[i][tr]) -
      sum(dat$revenue[i][!tr]) / sum(dat$orders[i][!tr])
  }
  set.seed(12)
  ref <- boot::boot(d, stat, R = R, strata = factor(d$g))
  expect_equal(ref$t0, ours_p$t0[[1]], tolerance = 1e-12)
  sigma <- sd(ours_p$t[, 1])
  perc <- boot::boot.ci(ref, conf = 0.95, type = "perc")$percent[4:5]
  expect_lt(max(abs(ours_p$conf.int[1, ] - perc)), 4 * 3.8 * sigma / sqrt(R))
  L <- boot::empinf(ref, type = "jack")
  bca <- boot::boot.ci(ref, conf = 0.95, type = "bca", L = L)$bca[4:5]
  expect_lt(max(abs(ours_b$conf.int[1, ] - bca)), 4 * 5.2 * sigma / sqrt(R))
  ## the analytic acceleration against boot's jackknife one: they differ by
  ## O(1/n) relative (jackknife influence values are the analytic ones
  ## evaluated at leave-one-out ratios)
  expect_equal(ours_b$acceleration$difference, sum(L^3) / (6 * sum(L^2)^1.5), tolerance = 0.02)
  ## BCa endpoints are the percentile endpoints at the adjusted levels
  t <- ours_b$t[, 1]
  z0 <- qnorm(mean(t < ours_b$t0))
  a <- ours_b$acceleration$difference
  z <- qnorm(c(0.025, 0.975))
  expect_equal(unname(ours_b$conf.int[1, ]),
               quantile(t, pnorm(z0 + (z0 + z) / (1 - a * (z0 + z))), type = 6, names = FALSE))
})

test_that("BCa works with fewer replicates than units", {
  d <- sim_revenue(1000)
  set.seed(4)
  res <- ratio_test(d, "revenue", "orders", "g", method = "bootstrap", R = 200, ci = "bca",
                    threads = 1)
  expect_true(all(is.finite(res$conf.int)))
  expect_true(all(is.finite(c(res$comparisons$lift.conf.low, res$comparisons$lift.conf.high))))
  expect_lt(res$conf.int[1, 1], res$t0[[1]])
  expect_gt(res$conf.int[1, 2], res$t0[[1]])
  ## where boot.ci() cannot estimate the acceleration
  need("boot")
  treated <- d$g == "treatment"
  stat <- function(dat, i) {
    tr <- treated[i]
    sum(dat$revenue[i][tr]) / sum(dat$orders[i][tr]) -
      sum(dat$revenue[i][!tr]) / sum(dat$orders[i][!tr])
  }
  ref <- boot::boot(d, stat, R = 200, strata = factor(d$g))
  expect_error(boot::boot.ci(ref, type = "bca"))
})

test_that("a zero control ratio or a zero standard error is reported, not hidden", {
  d <- sim_sessions(400)
  d$conversions[d$variant == "A"] <- 0
  res <- ratio_test(d, "conversions", "sessions", "variant")
  expect_true(is.na(res$lift[[1]]))
  expect_true(is.na(res$comparisons$lift.conf.low))
  expect_true(is.finite(res$p.value[[1]]))
  ## every unit with the same ratio: no p-value at all, so a classed error
  ## (it was a warning and an NA p-value)
  d$conversions <- 0
  expect_error(ratio_test(d, "conversions", "sessions", "variant"),
               "standard error of every difference is zero.*`numerator`", class = "clusterab_error")
  expect_error(ratio_test(d, "conversions", "sessions", "variant", method = "bootstrap", R = 50,
                          threads = 1),
               "standard error of every difference is zero", class = "clusterab_error")
  ## one comparison of several degenerate: a warning, the others reported
  d3 <- sim_sessions(600, groups = c("A", "B", "C"))
  d3$conversions[d3$variant %in% c("A", "B")] <- 0
  expect_warning(res <- ratio_test(d3, "conversions", "sessions", "variant", control = "A"),
                 "standard error of a difference is zero", class = "clusterab_warning")
  expect_true(is.na(res$p.value[["B - A"]]))
  expect_true(is.finite(res$p.value[["C - A"]]))
})

test_that("resampling cells is exactly the unit bootstrap in distribution", {
  ns_boot <- function(d, resample, R, seed) {
    units <- ratio_units(d, "conversions", "sessions", "variant", NULL)
    stats <- ratio_group_stats(units$cells, units$levels)
    out <- list(comparisons = ratio_delta(stats, 1L, 0.95, "two.sided"), conf.level = 0.95,
                ci = "perc", alternative = "two.sided",
                groups = stats[c("group", "n", "ratio", "std.error")])
    set.seed(seed)
    ratio_bootstrap(out, units, stats, R, 2L, FALSE, resample)
  }
  ## Four units (0, 1), (0, 1), (1, 1), (1, 2): cells of counts 2, 1, 1.
  ## The resampled cell counts are multinomial(4; 1/2, 1/4, 1/4), so the
  ## exact distribution of the resampled ratio is known; both ways of
  ## drawing must match it (chi-square goodness of fit, 20000 replicates).
  k <- expand.grid(a = 0:4, b = 0:4)
  k <- k[k$a + k$b <= 4, ]
  k$c <- 4 - k$a - k$b
  prob <- apply(k, 1, function(m) dmultinom(m, prob = c(2, 1, 1) / 4))
  value <- format((k$b + k$c) / (k$a + k$b + 2 * k$c), digits = 12)
  exact <- tapply(prob, value, sum)
  seed <- c(123L, 456L)
  by_cells <- cpp_ratio_boot(c(0, 1, 1), c(1, 1, 2), c(2, 1, 1), c(0L, 3L), 4L, 1L, seed,
                             0L, 20000L, 2L)
  by_units <- cpp_ratio_boot(c(0, 0, 1, 1), c(1, 1, 1, 2), rep(1, 4), c(0L, 4L), 4L, 0L, seed,
                             0L, 20000L, 2L)
  for (draws in list(by_cells, by_units)) {
    observed <- table(factor(format(draws[, 1], digits = 12), levels = names(exact)))
    expect_identical(sum(observed), 20000L)
    expect_gt(chisq.test(observed, p = exact)$p.value, 1e-4)
  }

  ## Larger data: mean and sd of the replicate differences agree within 4
  ## Monte Carlo SEs (mean: sigma sqrt(2 / R); sd: relative sqrt(2 / (2 R))).
  d <- sim_sessions(6000, seed = 6)
  R <- 4000
  cells <- ns_boot(d, "cells", R, 7)
  units <- ns_boot(d, "units", R, 8)
  expect_identical(cells$groups$resampling, c("cells", "cells"))
  expect_identical(units$groups$resampling, c("units", "units"))
  sigma <- sd(units$t[, 1])
  expect_lt(abs(mean(cells$t[, 1]) - mean(units$t[, 1])), 4 * sigma * sqrt(2 / R))
  expect_lt(abs(sd(cells$t[, 1]) / sigma - 1), 4 / sqrt(R))
})

test_that("results are identical with 1 and 2 threads and do not depend on row order", {
  d <- sim_sessions(3000, groups = c("A", "B", "C"), seed = 8)
  set.seed(1)
  one <- ratio_test(d, "conversions", "sessions", "variant", method = "bootstrap", R = 500,
                    threads = 1, ci = "bca")
  set.seed(1)
  two <- ratio_test(d, "conversions", "sessions", "variant", method = "bootstrap", R = 500,
                    threads = 2, ci = "bca")
  expect_identical(one, two)
  expect_identical(dim(one$t), c(500L, 2L))
  shuffled <- d[sample(nrow(d)), ]
  set.seed(1)
  shuffled <- ratio_test(shuffled, "conversions", "sessions", "variant",
                         method = "bootstrap", R = 500, threads = 2, ci = "bca")
  expect_identical(shuffled$t, one$t)
  ## units resampled one by one, and a mix of units and cells
  r <- sim_revenue(200)
  r$orders[r$g == "control"] <- 1
  r$revenue[r$g == "control"] <- round(r$revenue[r$g == "control"] / 50)
  set.seed(2)
  one <- ratio_test(r, "revenue", "orders", "g", method = "bootstrap", R = 300, threads = 1)
  set.seed(2)
  two <- ratio_test(r, "revenue", "orders", "g", method = "bootstrap", R = 300, threads = 2)
  expect_identical(one$groups$resampling, c("cells", "units"))
  expect_identical(one, two)
})

test_that("methods: print, summary, tidy, confint, plot", {
  d <- sim_sessions(2000)
  set.seed(3)
  res <- ratio_test(d, "conversions", "sessions", "variant", method = "bootstrap", R = 300,
                    threads = 1)
  expect_output(print(res), "Bootstrap of a ratio of sums")
  expect_output(print(summary(res)), "acceleration")
  expect_output(print(ratio_test(d, "conversions", "sessions", "variant")), "Delta-method")
  expect_output(print(res$tests[[1]]), "difference in ratios")
  td <- tidy(res)
  expect_named(td, c("group", "control", "estimate", "std.error", "statistic", "p.value",
                     "conf.low", "conf.high", "lift", "lift.std.error", "lift.conf.low",
                     "lift.conf.high", "method", "alternative"))
  expect_equal(td$conf.low, res$conf.int[1, 1])
  expect_equal(unname(confint(res)), unname(res$conf.int), ignore_attr = TRUE)
  expect_equal(unname(confint(res, level = 0.8)[1, ]),
               quantile(res$t[, 1], c(0.1, 0.9), type = 6, names = FALSE))
  expect_equal(unname(confint(res, type = "lift")[1, ]),
               c(res$comparisons$lift.conf.low, res$comparisons$lift.conf.high))
  pdf(NULL)
  on.exit(dev.off())
  expect_type(plot(res), "list")
  expect_type(plot(res, which = "B - A", type = "lift"), "list")
  expect_error(plot(res, which = 3), "one of the comparisons")
  expect_error(plot(ratio_test(d, "conversions", "sessions", "variant")), "method = \"bootstrap\"")
})

test_that("bad inputs give errors that name the argument", {
  d <- sim_sessions(200)
  ## zero denominators: kept (tested above); a group whose denominators sum
  ## to zero has no ratio
  z <- d
  z$sessions[z$variant == "B"] <- 0
  z$conversions[z$variant == "B"] <- 0
  expect_error(ratio_test(z, "conversions", "sessions", "variant"), "sum to zero")
  ## a replicate that resamples only zero denominators is left out, with a warning
  few <- data.frame(variant = c("A", "A", "B", "B", "B"), conversions = c(0, 1, 0, 1, 1),
                    sessions = c(0, 2, 1, 1, 2))
  set.seed(1)
  expect_warning(res <- ratio_test(few, "conversions", "sessions", "variant",
                                   method = "bootstrap", R = 200, threads = 1),
                 "only zero denominators")
  expect_true(any(is.nan(res$t[, 1])))
  expect_true(all(is.finite(res$conf.int)))
  ## missing values, with counts
  m <- d
  m$conversions[1:3] <- NA
  expect_error(ratio_test(m, "conversions", "sessions", "variant"), "`numerator` has 3 missing values")
  m <- d
  m$sessions[7] <- NA
  expect_error(ratio_test(m, "conversions", "sessions", "variant"), "`denominator` has 1 missing value")
  m <- d
  m$variant[2:3] <- NA
  expect_error(ratio_test(m, "conversions", "sessions", "variant"), "`group` has 2 missing values")
  m <- d
  m$sessions[1] <- Inf
  expect_error(ratio_test(m, "conversions", "sessions", "variant"), "infinite")
  ## replicates
  expect_error(ratio_test(d, "conversions", "sessions", "variant", method = "bootstrap", R = 0),
               "`R` must be a positive whole number")
  expect_error(ratio_test(d, "conversions", "sessions", "variant", method = "bootstrap", R = -10),
               "`R` must be a positive whole number")
  ## a single group; a group of one unit; an unknown control
  expect_error(ratio_test(d[d$variant == "A", ], "conversions", "sessions", "variant"),
               "single group")
  expect_error(ratio_test(rbind(d[d$variant == "A", ], d[d$variant == "B", ][1, ]),
                          "conversions", "sessions", "variant"),
               "group 'B' has a single unit")
  expect_error(ratio_test(d, "conversions", "sessions", "variant", control = "Z"),
               "`control` must be one of the groups")
  ## negative denominators
  m <- d
  m$sessions[4:5] <- -1
  expect_error(ratio_test(m, "conversions", "sessions", "variant"), "2 negative values")
  ## column names and types
  expect_error(ratio_test(d, "nope", "sessions", "variant"), "is not a column")
  m <- d
  m$conversions <- as.character(m$conversions)
  expect_error(ratio_test(m, "conversions", "sessions", "variant"), "numeric or logical")
  expect_error(ratio_test(as.list(d), "conversions", "sessions", "variant"), "data frame")
  expect_error(ratio_test(d, "conversions", "sessions", "variant", conf.level = 1.5), "conf.level")
})

test_that("denominator = NULL: the two-sample z test of means (Welch's statistic, normal reference)", {
  d <- sim_revenue(300, seed = 31)
  res <- ratio_test(d, "revenue", group = "g")
  x1 <- d$revenue[d$g == "treatment"]; x0 <- d$revenue[d$g == "control"]
  tt <- t.test(x1, x0)
  se <- sqrt(var(x1) / length(x1) + var(x0) / length(x0))
  expect_equal(res$estimate[["treatment - control"]], mean(x1) - mean(x0), tolerance = 1e-12)
  expect_equal(res$comparisons$statistic, unname(tt$statistic), tolerance = 1e-12)
  expect_equal(res$comparisons$std.error, se, tolerance = 1e-12)
  expect_equal(res$p.value[[1L]], 2 * pnorm(-abs(unname(tt$statistic))), tolerance = 1e-12)
  expect_equal(as.vector(res$conf.int), mean(x1) - mean(x0) + c(-1, 1) * qnorm(0.975) * se,
               tolerance = 1e-12)
  expect_match(res$method, "z test of means")
  expect_identical(res$data.name, "mean of revenue by g")
  ## a proportion: the unpooled variance p (1 - p) / (n - 1)
  s <- sim_sessions(2000, seed = 32)
  s$converted <- s$conversions > 0
  pr <- ratio_test(s, "converted", group = "variant")
  p <- tapply(s$converted, s$variant, mean); n <- tapply(s$converted, s$variant, length)
  expect_equal(pr$comparisons$std.error, sqrt(sum(p * (1 - p) / (n - 1))), tolerance = 1e-12)
  ## the bootstrap resamples units, bit-identical for any thread count
  set.seed(3); b1 <- ratio_test(s, "converted", group = "variant", method = "bootstrap", R = 300,
                                threads = 1)
  set.seed(3); b2 <- ratio_test(s, "converted", group = "variant", method = "bootstrap", R = 300,
                                threads = 2)
  expect_identical(b1$t, b2$t)
  expect_equal(b1$estimate, pr$estimate)
})

test_that("R: at least 2 for a bootstrap; a run that cannot fit in memory is refused", {
  d <- sim_sessions(400, seed = 33)
  expect_error(ratio_test(d, "conversions", "sessions", "variant", method = "bootstrap", R = 1),
               "`R` = 1 is too few replicates", class = "clusterab_error")
  ## the delta method does not use R
  expect_s3_class(ratio_test(d, "conversions", "sessions", "variant", R = 1), "ratio_test")
  expect_error(ratio_test(d, "conversions", "sessions", "variant", method = "bootstrap", R = 1e9),
               "32 GB.*lower `R`", class = "clusterab_too_many_replicates")
})

test_that("control: the common labels, a message otherwise, control = silences it", {
  d <- sim_sessions(400, groups = c("treatment", "control"), seed = 34)
  expect_silent(res <- ratio_test(d, "conversions", "sessions", "variant"))
  expect_identical(res$control, "control")
  d$variant <- ifelse(d$variant == "control", "south", "north")
  expect_message(res <- ratio_test(d, "conversions", "sessions", "variant"),
                 "taking \"north\" as the control group", class = "clusterab_baseline_choice")
  expect_silent(res2 <- ratio_test(d, "conversions", "sessions", "variant", control = "south"))
  expect_identical(res2$control, "south")
  expect_equal(res2$estimate[[1L]], -res$estimate[[1L]], tolerance = 1e-12)
})

test_that("NaN, Inf, matrix and list columns; empty data: classed errors naming the argument", {
  d <- sim_sessions(200, seed = 35)
  for (bad in c(NaN, Inf)) {
    m <- d; m$conversions[3] <- bad
    expect_error(ratio_test(m, "conversions", "sessions", "variant"), "`numerator`",
                 class = "clusterab_error")
  }
  m <- d; m$conversions <- cbind(d$conversions, d$conversions)
  expect_error(ratio_test(m, "conversions", "sessions", "variant"), "is a matrix",
               class = "clusterab_error")
  m <- d; m$variant <- as.list(d$variant)
  expect_error(ratio_test(m, "conversions", "sessions", "variant"), "list column",
               class = "clusterab_error")
  expect_error(ratio_test(d[0, ], "conversions", "sessions", "variant"), "no rows",
               class = "clusterab_error")
  expect_error(ratio_test(d[1, ], "conversions", "sessions", "variant"), class = "clusterab_error")
})

test_that("glance() and as.data.frame() have broom's names", {
  d <- sim_sessions(400, seed = 36)
  res <- ratio_test(d, "conversions", "sessions", "variant")
  gl <- glance(res)
  expect_identical(names(gl), c("method", "alternative", "conf.level", "nobs", "n.groups",
                                "n.comparisons", "p.value", "R"))
  expect_identical(gl$nobs, 400L)
  expect_identical(as.data.frame(res), tidy(res))
})

test_that("one huge denominator: finite differences, SEs and lifts (they overflowed to Inf)", {
  d <- sim_sessions(200)
  for (big in c(1e200, 1e155)) {
    d1 <- d; d1$sessions[3] <- big
    for (method in c("delta", "bootstrap")) {
      res <- ratio_test(d1, "conversions", "sessions", "variant", method = method, R = 99,
                        threads = 1)
      comp <- res$comparisons
      expect_true(all(is.finite(unlist(comp[c("estimate", "std.error", "conf.low", "conf.high",
                                              "lift", "lift.std.error")]))))
      expect_true(all(is.finite(res$groups$std.error)))
    }
    ## the delta-method SE of the control's tiny ratio, by hand in rescaled units
    res <- ratio_test(d1, "conversions", "sessions", "variant")
    a <- d1[d1$variant == "A", ]
    s <- 2^round(log2(big))
    r <- sum(a$conversions) / sum(a$sessions / s)
    l <- (a$conversions - r * a$sessions / s) / mean(a$sessions / s)
    expect_equal(res$groups$std.error[1] * s, sqrt(sum(l^2) / (nrow(a) * (nrow(a) - 1))),
                 tolerance = 1e-12)
  }
})

test_that("bootstrap p-values do not change with the units (ties counted alike)", {
  ## the bad-input sweep's data: one replicate ties with the observed
  ## difference in exact arithmetic, and the old count depended on rounding
  ## in the data's units (0.630 for numerators times 1e155, 0.635 here)
  set.seed(8)
  size <- rep_len(c(3L, 4L, 5L, 6L, 4L), 10L)
  g <- rep(1:10, size)
  n <- length(g)
  trt <- rep(rep_len(0:1, 10L), size)
  d <- data.frame(y = 0.3 * trt + rnorm(10)[g] + rnorm(n), x = rnorm(n), w = runif(n, 0.5, 2),
                  trt = trt, num = rpois(n, 2), den = rpois(n, 4) + 1)
  set.seed(20261201)
  ref <- ratio_test(d, "num", "den", "trt", method = "bootstrap", R = 199, threads = 1)
  expect_identical(unname(ref$p.value), 127 / 200)
  for (col in c("num", "den")) for (s in c(1e155, 1e-200, 3)) {
    ds <- d; ds[[col]] <- d[[col]] * s
    set.seed(20261201)
    res <- ratio_test(ds, "num", "den", "trt", method = "bootstrap", R = 199, threads = 1)
    expect_identical(res$p.value, ref$p.value)
  }
})
