## did_boot(): the regression against lm() + sandwich + lmtest, the bootstrap
## against boot::boot() + boot.ci() on the same resampling scheme.

## A panel: units observed several times before and after, in two groups
## assigned by unit; unit levels and unit-specific changes (so whole-unit
## resampling matters) and skewed noise.
sim_panel <- function(units = 30, seed = 1) {
  set.seed(seed)
  per_period <- sample(2:5, units, replace = TRUE)
  unit <- rep(rep(seq_len(units), per_period), 2L)
  post <- rep(0:1, each = sum(per_period))
  treated <- as.integer(unit > units / 2)
  level <- rnorm(units, sd = 2)
  change <- rnorm(units, sd = 1)
  y <- level[unit] + change[unit] * post + 0.8 * treated * post + rexp(length(unit)) - 1
  data.frame(unit = unit, treated = treated, post = post, x = rnorm(length(unit)),
             f = factor(sample(c("a", "b", "c"), length(unit), replace = TRUE)), y = y)
}

## The statistic boot() refits: the group:period coefficient of lm() on the
## rows of the drawn clusters (lm.fit drops aliased columns as lm() does).
did_coef <- function(X, y) unname(lm.fit(X, y)$coefficients[["treated:post"]])

cluster_statistic <- function(d, formula) {
  X <- model.matrix(formula, d)
  rows <- split(seq_len(nrow(d)), d$unit)
  function(ids, i) {
    r <- unlist(rows[ids[i]], use.names = FALSE)
    did_coef(X[r, , drop = FALSE], d$y[r])
  }
}

## Monte Carlo tolerances for comparing two independent bootstrap runs (ours
## with R1 replicates t1, boot's with R2), at 4 standard errors.
## A quantile at probability p estimated from R replicates has standard error
## sqrt(p (1 - p) / R) / f(q_p) (f the density of the replicates, estimated
## from the larger run by a kernel density estimate).
density_at <- function(t, q) {
  vapply(q, function(v) stats::density(t, from = v, to = v, n = 1)$y, numeric(1L))
}
perc_tolerance <- function(t1, R2, p) {
  q <- stats::quantile(t1, p)
  4 * sqrt(p * (1 - p) * (1 / length(t1) + 1 / R2)) / density_at(t1, q)
}
## BCa: the endpoint is the quantile at p' = pnorm(w + (w + z)/(1 - a (w + z))),
## and w = qnorm(p0), p0 = mean(t < t0), is itself estimated, with standard
## error sqrt(p0 (1 - p0) / R) / dnorm(w); its error moves p' by
## dnorm(u) (1 + 1 / (1 - a (w + z))^2) times that. The two errors of one run
## are added (a bound whatever their correlation), the two runs combined.
bca_tolerance <- function(t1, t0, a, R2, alpha) {
  p0 <- mean(t1 < t0)
  w <- stats::qnorm(p0)
  z <- w + stats::qnorm(alpha)
  p <- stats::pnorm(w + z / (1 - a * z))
  dp_dw <- stats::dnorm(w + z / (1 - a * z)) * (1 + 1 / (1 - a * z)^2)
  run_se <- function(R) {
    sqrt(p * (1 - p) / R) + dp_dw * sqrt(p0 * (1 - p0) / R) / stats::dnorm(w)
  }
  4 * sqrt(run_se(length(t1))^2 + run_se(R2)^2) / density_at(t1, stats::quantile(t1, p))
}
## Normal interval 2 t0 - mean(t) -/+ z sd(t): the mean has standard error
## s / sqrt(R) and the standard deviation s sqrt((kurtosis - 1) / (4 R)).
norm_tolerance <- function(t1, R2, level) {
  s <- stats::sd(t1)
  kurt <- mean((t1 - mean(t1))^4) / mean((t1 - mean(t1))^2)^2
  z <- stats::qnorm((1 + level) / 2)
  run_se <- function(R) s / sqrt(R) + z * s * sqrt((kurt - 1) / (4 * R))
  4 * sqrt(run_se(length(t1))^2 + run_se(R2)^2)
}

## Our replicates in a boot object, so boot.ci() computes its intervals from them.
with_our_replicates <- function(b, fit) {
  b$t <- fit$t
  b$t0 <- unname(fit$t0)
  b$R <- fit$R
  b
}

test_that("the regression estimate and interval equal lm() with sandwich::vcovCL and lmtest", {
  need("sandwich"); need("lmtest")
  d <- sim_panel()
  fit <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 200, ci = "perc", threads = 1)
  m <- lm(y ~ treated * post, data = d)
  V <- sandwich::vcovCL(m, cluster = ~ unit, type = "HC1")
  ## clustered: G - 1 df (Stata, fixest), the package's default
  G <- length(unique(d$unit))
  ct <- lmtest::coeftest(m, vcov = V, df = G - 1)
  expect_equal(unname(fit$estimate), unname(coef(m)[["treated:post"]]), tolerance = 1e-10)
  expect_equal(fit$std.error, ct["treated:post", "Std. Error"], tolerance = 1e-10)
  expect_equal(unname(fit$statistic), ct["treated:post", "t value"], tolerance = 1e-10)
  expect_equal(fit$p.value, ct["treated:post", "Pr(>|t|)"], tolerance = 1e-10)
  expect_equal(unname(fit$parameter), G - 1)
  expect_equal(as.vector(fit$conf.int),
               unname(lmtest::coefci(m, vcov = V, df = G - 1)["treated:post", ]), tolerance = 1e-10)
  expect_equal(unname(confint(fit)[1L, ]), as.vector(fit$conf.int))
  ## the whole coefficient table
  expect_equal(unname(fit$coefficients), unname(ct[, 1:4]), tolerance = 1e-10)
  ## without covariates, the 2x2 difference of cell means
  cm <- tapply(d$y, list(d$treated, d$post), mean)
  expect_equal(unname(fit$estimate), (cm[2, 2] - cm[2, 1]) - (cm[1, 2] - cm[1, 1]), tolerance = 1e-12)
  expect_equal(fit$cells$mean, as.vector(t(cm)), tolerance = 1e-12)
  ## another level: confint() recomputes
  expect_equal(unname(confint(fit, level = 0.9)[1L, ]),
               unname(lmtest::coefci(m, vcov = V, level = 0.9, df = G - 1)["treated:post", ]),
               tolerance = 1e-10)
  expect_output(print(fit), sprintf("on %d df \\(G - 1, %d clusters\\)", G - 1, G))
})

test_that("covariates (numeric and factor) and an ill-conditioned covariate match lm()", {
  need("sandwich"); need("lmtest")
  d <- sim_panel(seed = 2)
  d$stamp <- 1e9 + runif(nrow(d)) / 100  # large mean, small spread
  fit <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 200, ci = "perc",
                  covariates = c("x", "f", "stamp"), threads = 1)
  m <- lm(y ~ treated * post + x + f + stamp, data = d)
  V <- sandwich::vcovCL(m, cluster = ~ unit, type = "HC1")
  G <- length(unique(d$unit))
  expect_equal(unname(fit$estimate), unname(coef(m)[["treated:post"]]), tolerance = 1e-10)
  expect_equal(as.vector(fit$conf.int),
               unname(lmtest::coefci(m, vcov = V, df = G - 1)["treated:post", ]), tolerance = 1e-10)
  expect_equal(unname(fit$coefficients), unname(lmtest::coeftest(m, vcov = V, df = G - 1)[, 1:4]),
               tolerance = 1e-8)
  ## an exactly collinear covariate is dropped, as lm() drops it
  d$x2 <- 2 * d$x
  fit2 <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 200, ci = "perc",
                   covariates = c("x", "x2"), threads = 1)
  m2 <- lm(y ~ treated * post + x + x2, data = d)
  expect_identical(rownames(fit2$coefficients), names(coef(m2))[!is.na(coef(m2))])
  expect_equal(unname(fit2$estimate), unname(coef(m2)[["treated:post"]]), tolerance = 1e-10)
})

test_that("without a cluster the interval is lm()'s and the bootstrap resamples rows", {
  d <- sim_panel(seed = 3)
  fit <- did_boot(d, "y", "treated", "post", R = 200, threads = 1)
  m <- lm(y ~ treated * post, data = d)
  expect_identical(fit$type, "iid")
  expect_equal(unname(fit$estimate), unname(coef(m)[["treated:post"]]), tolerance = 1e-10)
  expect_equal(fit$std.error, sqrt(vcov(m)["treated:post", "treated:post"]), tolerance = 1e-10)
  expect_equal(as.vector(fit$conf.int), unname(confint(m)["treated:post", ]), tolerance = 1e-10)
  fit2 <- did_boot(d, "y", "treated", "post", R = 200, covariates = c("x", "f"), threads = 1)
  m2 <- lm(y ~ treated * post + x + f, data = d)
  expect_equal(as.vector(fit2$conf.int), unname(confint(m2)["treated:post", ]), tolerance = 1e-10)
})

test_that("which level is treated / post: factor order, logical, numbers; data.table input", {
  need("sandwich")
  d <- sim_panel(seed = 4)
  d$arm <- factor(ifelse(d$treated == 1, "new", "old"), levels = c("old", "new"))
  d$after <- d$post == 1
  fit <- did_boot(d, "y", "arm", "after", cluster = "unit", R = 200, ci = "perc", threads = 1)
  ref <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 200, ci = "perc", threads = 1)
  expect_equal(unname(fit$estimate), unname(ref$estimate), tolerance = 1e-12)
  expect_identical(fit$levels$group, c(control = "old", treated = "new"))
  expect_identical(fit$levels$period, c(pre = "FALSE", post = "TRUE"))
  ## reversing the factor levels reverses which group is treated
  d$arm2 <- factor(d$arm, levels = c("new", "old"))
  rev_fit <- did_boot(d, "y", "arm2", "post", cluster = "unit", R = 200, ci = "perc", threads = 1)
  expect_equal(unname(rev_fit$estimate), -unname(ref$estimate), tolerance = 1e-12)
  ## as lm() with the same factor
  m <- lm(y ~ arm2 * post, data = d)
  expect_equal(unname(rev_fit$estimate), unname(coef(m)[["arm2old:post"]]), tolerance = 1e-10)
  skip_if_not_installed("data.table")
  set.seed(5)
  a <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 200, threads = 1)
  set.seed(5)
  b <- did_boot(data.table::as.data.table(d), "y", "treated", "post", cluster = "unit", R = 200, threads = 1)
  expect_identical(a, b)
})

test_that("the cluster bootstrap agrees with boot() over clusters (percentile, BCa, normal)", {
  need("boot")
  d <- sim_panel(units = 30, seed = 6)
  set.seed(60)
  fit <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 20000, threads = 2)
  stat <- cluster_statistic(d, y ~ treated * post)
  ids <- unique(d$unit)
  set.seed(61)
  R2 <- 10000
  b <- boot::boot(ids, stat, R = R2)
  expect_equal(b$t0, unname(fit$t0), tolerance = 1e-10)
  ## the jackknife influence values are boot's leave-one-cluster-out values
  L_jack <- boot::empinf(b, type = "jack")
  expect_equal(fit$L, L_jack, tolerance = 1e-8)
  ci_boot <- boot::boot.ci(b, type = c("perc", "bca", "norm"), L = L_jack)
  t1 <- fit$t[, 1L]
  alpha <- c(0.025, 0.975)
  expect_lt(max(abs(fit$boot_ci["perc", ] - ci_boot$percent[4:5]) - perc_tolerance(t1, R2, alpha)), 0)
  expect_lt(max(abs(fit$boot_ci["bca", ] - ci_boot$bca[4:5]) -
                  bca_tolerance(t1, fit$t0, fit$acceleration, R2, alpha)), 0)
  expect_lt(max(abs(fit$boot_ci["norm", ] - ci_boot$normal[2:3])) - norm_tolerance(t1, R2, 0.95), 0)
  ## the test can tell the schemes apart: resampling rows breaks each unit's
  ## pre/post pairing, so its spread is far from the cluster bootstrap's here
  iid <- did_boot(d, "y", "treated", "post", cluster = "unit", resample = "iid", R = 2000, ci = "perc")
  expect_gt(abs(log(fit$boot_se / iid$boot_se)), log(1.3))
  ## the interval formulas are boot.ci()'s, exactly, on our replicates
  ours <- boot::boot.ci(with_our_replicates(b, fit), type = c("perc", "bca", "norm"), L = fit$L)
  expect_equal(unname(fit$boot_ci["perc", ]), ours$percent[4:5], tolerance = 1e-12)
  expect_equal(unname(fit$boot_ci["bca", ]), ours$bca[4:5], tolerance = 1e-12)
  expect_equal(unname(fit$boot_ci["norm", ]), ours$normal[2:3], tolerance = 1e-12)
  ours90 <- boot::boot.ci(with_our_replicates(b, fit), conf = 0.9, type = c("perc", "bca", "norm"), L = fit$L)
  expect_equal(unname(confint(fit, level = 0.9)[-1L, ]),
               rbind(ours90$percent[4:5], ours90$bca[4:5], ours90$normal[2:3]), tolerance = 1e-12)
})

test_that("the cluster bootstrap with covariates agrees with boot() refitting lm()", {
  need("boot")
  d <- sim_panel(units = 24, seed = 7)
  set.seed(70)
  fit <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 10000, ci = c("perc", "bca"),
                  covariates = c("x", "f"), threads = 2)
  stat <- cluster_statistic(d, y ~ treated * post + x + f)
  set.seed(71)
  R2 <- 2000
  b <- boot::boot(unique(d$unit), stat, R = R2)
  expect_equal(b$t0, unname(fit$t0), tolerance = 1e-10)
  expect_equal(fit$L, boot::empinf(b, type = "jack"), tolerance = 1e-8)
  ci_boot <- boot::boot.ci(b, type = "perc")
  expect_lt(max(abs(fit$boot_ci["perc", ] - ci_boot$percent[4:5]) -
                  perc_tolerance(fit$t[, 1L], R2, c(0.025, 0.975))), 0)
})

test_that("the row bootstrap agrees with boot() resampling rows, without and with covariates", {
  need("boot")
  d <- sim_panel(units = 20, seed = 8)
  set.seed(80)
  fit <- did_boot(d, "y", "treated", "post", R = 20000, threads = 2)
  cell_did <- function(dd, i) {
    m <- tapply(dd$y[i], list(dd$treated[i], dd$post[i]), mean)
    (m[2, 2] - m[2, 1]) - (m[1, 2] - m[1, 1])
  }
  set.seed(81)
  R2 <- 3000
  b <- boot::boot(d, cell_did, R = R2)
  L_jack <- boot::empinf(b, type = "jack")
  expect_equal(fit$L, L_jack, tolerance = 1e-8)
  ci_boot <- boot::boot.ci(b, type = c("perc", "bca", "norm"), L = L_jack)
  t1 <- fit$t[, 1L]
  alpha <- c(0.025, 0.975)
  expect_lt(max(abs(fit$boot_ci["perc", ] - ci_boot$percent[4:5]) - perc_tolerance(t1, R2, alpha)), 0)
  expect_lt(max(abs(fit$boot_ci["bca", ] - ci_boot$bca[4:5]) -
                  bca_tolerance(t1, fit$t0, fit$acceleration, R2, alpha)), 0)
  expect_lt(max(abs(fit$boot_ci["norm", ] - ci_boot$normal[2:3])) - norm_tolerance(t1, R2, 0.95), 0)

  set.seed(82)
  fit2 <- did_boot(d, "y", "treated", "post", R = 10000, covariates = "x", threads = 2)
  X <- model.matrix(y ~ treated * post + x, d)
  set.seed(83)
  b2 <- boot::boot(d, function(dd, i) did_coef(X[i, , drop = FALSE], dd$y[i]), R = 2000)
  expect_equal(fit2$L, boot::empinf(b2, type = "jack"), tolerance = 1e-8)
  expect_lt(max(abs(fit2$boot_ci["perc", ] - boot::boot.ci(b2, type = "perc")$percent[4:5]) -
                  perc_tolerance(fit2$t[, 1L], 2000, alpha)), 0)
})

test_that("results are identical with 1 and 2 threads and reproduced by set.seed()", {
  d <- sim_panel(seed = 9)
  run <- function(threads, ...) {
    set.seed(90)
    did_boot(d, "y", "treated", "post", R = 300, threads = threads, ...)
  }
  expect_identical(run(1, cluster = "unit"), run(2, cluster = "unit"))
  expect_identical(run(1, cluster = "unit", covariates = "x"), run(2, cluster = "unit", covariates = "x"))
  expect_identical(run(1), run(2))
  expect_identical(run(1, covariates = c("x", "f")), run(2, covariates = c("x", "f")))
  expect_identical(run(2, cluster = "unit"), run(2, cluster = "unit"))
  set.seed(91)
  other <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 300)
  expect_false(identical(other$t, run(2, cluster = "unit")$t))
})

test_that("replicates with an empty cell are NA and left out, with warnings", {
  ## 12 rows, 2 in the treated-post cell: about 11% of resamples miss it
  d <- data.frame(g = c(0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1),
                  p = c(0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1),
                  y = c(1, 2, 3, 5, 4, 2, 3, 4, 8, 6, 7, 9))
  set.seed(10)
  expect_warning(fit <- did_boot(d, "y", "g", "p", R = 200, ci = c("perc", "norm"), threads = 1),
                 "left out of the intervals")
  expect_gt(fit$failed, 0L)
  expect_identical(fit$failed, sum(is.na(fit$t)))
  ok <- fit$t[!is.na(fit$t), 1L]
  expect_equal(unname(fit$boot_ci["norm", ]),
               2 * unname(fit$t0) - mean(ok) + c(-1, 1) * qnorm(0.975) * sd(ok), tolerance = 1e-12)
  ## a cell with a single row: leaving it out is not estimable, so no BCa
  d1 <- rbind(d[d$g == 0 | d$p == 0, ], d[d$g == 1 & d$p == 1, ][1L, ])
  warned <- capture_warnings(fit1 <- did_boot(d1, "y", "g", "p", R = 100, ci = "bca", threads = 1))
  expect_match(warned, "left out of the intervals", all = FALSE)
  expect_match(warned, "BCa interval is not available", all = FALSE)
  expect_true(all(is.na(fit1$boot_ci["bca", ])))
})

test_that("print, summary, confint, tidy and plot work", {
  d <- sim_panel(seed = 11)
  set.seed(11)
  fit <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 200, covariates = "x")
  expect_output(print(fit), "Difference in differences")
  expect_output(print(fit), "200 replicates resampling clusters")
  expect_output(print(summary(fit)), "Regression coefficients")
  ci <- confint(fit)
  expect_identical(dim(ci), c(4L, 2L))
  expect_identical(colnames(ci), c("2.5 %", "97.5 %"))
  td <- tidy(fit)
  expect_identical(names(td), c("term", "estimate", "std.error", "statistic", "p.value",
                                "conf.low", "conf.high", "conf.level", "method"))
  expect_identical(td$term, rep("treated:post", 4L))
  expect_equal(td$conf.low, unname(ci[, 1L]))
  expect_equal(td$std.error[-1L], rep(sd(fit$t[, 1L]), 3L))
  expect_identical(dim(fit$t), c(200L, 1L))
  expect_identical(fit$R, 200L)
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off(), add = TRUE)
  expect_identical(plot(fit)$type, "histogram")
  expect_identical(plot(fit, interval = "bca")$type, "histogram")
  expect_error(plot(fit, interval = "basic"), "`interval` must be one of")
})

test_that("bad inputs give clear errors", {
  d <- sim_panel(seed = 12)
  call_did <- function(data = d, R = 10, ...) did_boot(data, "y", "treated", "post", R = R, ...)
  ## more (or fewer) than two levels, named
  d3 <- d
  d3$treated <- c("a", "b", "c")[d3$unit %% 3 + 1]
  expect_error(call_did(d3), '`group` column `treated` must have exactly two levels \\(control and treated\\), but has 3: "a", "b", "c"')
  d3 <- d
  d3$post <- d3$post + (d3$unit == 1)
  expect_error(call_did(d3), '`period` column `post` must have exactly two levels \\(pre and post\\), but has 3: "0", "1", "2"')
  d1 <- d
  d1$post <- 1
  expect_error(call_did(d1), "but has 1: \"1\"")
  ## an empty cell
  expect_error(call_did(d[!(d$treated == 1 & d$post == 0), ]),
               'cell group = "1", period = "0" has no rows')
  ## one cluster in an arm
  one <- d[d$treated == 0 | d$unit == max(d$unit), ]
  expect_error(call_did(one, cluster = "unit"), "each group needs at least 2 clusters.*; 0 has 15 and 1 has 1")
  ## a cluster whose group differs between its rows
  mixed <- d
  mixed$treated[mixed$unit == 3 & mixed$post == 1] <- 1
  expect_error(call_did(mixed, cluster = "unit"), '`group` varies within 1 cluster \\(e.g. cluster "3"\\)')
  ## missing values
  for (v in c("y", "treated", "post", "unit")) {
    dn <- d
    dn[[v]][c(2, 5)] <- NA
    arg <- c(y = "outcome", treated = "group", post = "period", unit = "cluster")[[v]]
    expect_error(call_did(dn, cluster = "unit"), sprintf("`%s` has 2 missing values; drop those rows", arg))
  }
  dn <- d
  dn$x[3] <- NA
  expect_error(call_did(dn, covariates = "x"), "covariate `x` has 1 missing value")
  ## replicates
  expect_error(call_did(R = 0), "`R` must be a positive whole number")
  expect_error(call_did(R = -5), "`R` must be a positive whole number")
  ## other arguments
  expect_error(call_did(resample = "cluster"), 'resample = "cluster" resamples clusters',
               class = "clusterab_error")
  expect_error(call_did(conf.level = 95), "`conf.level` must be a single number between 0 and 1",
               class = "clusterab_error")
  ## the old names say what they became
  expect_error(call_did(type = "cluster"), "`type` has been renamed `resample`",
               class = "clusterab_error")
  expect_error(call_did(level = 0.9), "`level` has been renamed `conf.level`",
               class = "clusterab_error")
  expect_error(call_did(levl = 0.9), "unused argument: `levl`", class = "clusterab_error")
  expect_error(did_boot(d, "f", "treated", "post"), "`outcome` column `f` must be numeric")
  expect_error(did_boot(d, "nope", "treated", "post"), "is not a column of `data`")
  expect_error(call_did(ci = "basic"), "`ci` must be one or more of")
  dc <- d
  dc$tp <- dc$treated * dc$post
  expect_error(call_did(dc, covariates = "tp"), "not identified: `covariates` are collinear")
  expect_error(call_did(covariates = "treated"), "must not include the outcome, group or period")
  expect_error(did_boot(as.matrix(d), "y", "treated", "post"), "`data` must be a data frame")
})

test_that("pre/post and before/after: the earlier period is the baseline, as lm() on ordered factors", {
  d <- sim_panel(seed = 21)
  d$arm <- ifelse(d$treated == 1, "treatment", "control")
  for (labels in list(c("pre", "post"), c("before", "after"), c("Pre", "Post"))) {
    d$when <- ifelse(d$post == 1, labels[2L], labels[1L])
    expect_silent(fit <- did_boot(d, "y", "arm", "when", cluster = "unit", R = 50, ci = "perc",
                                  threads = 1))
    m <- lm(y ~ factor(arm, c("control", "treatment")) * factor(when, labels), data = d)
    expect_equal(unname(fit$estimate), unname(coef(m)[4L]), tolerance = 1e-10)
    expect_identical(fit$levels$period, c(pre = labels[1L], post = labels[2L]))
    expect_identical(fit$levels$group, c(control = "control", treated = "treatment"))
  }
  ## labels outside the rule: a message naming the choice and the argument
  d$when <- ifelse(d$post == 1, "june", "may")
  d$side <- ifelse(d$treated == 1, "east", "west")
  msgs <- character()
  withCallingHandlers(
    fit <- did_boot(d, "y", "side", "when", cluster = "unit", R = 50, ci = "perc", threads = 1),
    clusterab_baseline_choice = function(m) {
      msgs <<- c(msgs, conditionMessage(m))
      invokeRestart("muffleMessage")
    })
  expect_length(msgs, 2L)
  expect_match(msgs[1L], "`group`: taking \"east\" as the control group.*`control = `")
  expect_match(msgs[2L], "`period`: taking \"june\" as the pre period.*`pre = `")
  ## control = and pre = choose and silence it
  expect_silent(fit2 <- did_boot(d, "y", "side", "when", cluster = "unit", R = 50, ci = "perc",
                                 threads = 1, control = "west", pre = "may"))
  m <- lm(y ~ factor(side, c("west", "east")) * factor(when, c("may", "june")), data = d)
  expect_equal(unname(fit2$estimate), unname(coef(m)[4L]), tolerance = 1e-10)
  expect_equal(unname(fit2$estimate), unname(fit$estimate), tolerance = 1e-10)  # two flips
  expect_error(did_boot(d, "y", "side", "when", R = 50, control = "west", pre = "april"),
               "`pre` = \"april\" is not a value of `period`", class = "clusterab_error")
})

test_that("cluster as a name, a formula or a vector; resample and conf.level", {
  d <- sim_panel(seed = 22)
  set.seed(1); a <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 100, threads = 1)
  set.seed(1); b <- did_boot(d, "y", "treated", "post", cluster = ~ unit, R = 100, threads = 1)
  set.seed(1); v <- did_boot(d, "y", "treated", "post", cluster = d$unit, R = 100, threads = 2)
  expect_identical(a$t, b$t)
  expect_identical(a$t, v$t)
  expect_identical(a$conf.int, v$conf.int)
  expect_identical(b$names$cluster, "unit")
  set.seed(1); r <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 100, resample = "iid",
                             conf.level = 0.9, threads = 1)
  expect_identical(r$type, "iid")
  expect_identical(attr(r$conf.int, "conf.level"), 0.9)
  expect_identical(tidy(r)$conf.level[1L], 0.9)
  dd <- d; dd$unit <- as.Date("2021-01-01") + d$unit
  expect_equal(did_boot(dd, "y", "treated", "post", cluster = "unit", R = 20, ci = "norm")$estimate,
               a$estimate)
})

test_that("R: at least 2, and a run that cannot fit in memory is refused before it starts", {
  d <- sim_panel(seed = 23)
  expect_error(did_boot(d, "y", "treated", "post", R = 1), "`R` = 1 is too few replicates",
               class = "clusterab_error")
  expect_error(did_boot(d, "y", "treated", "post", R = 1e9), "8 GB.*lower `R`",
               class = "clusterab_too_many_replicates")
  old <- options(clusterab.max_memory = 1000)
  on.exit(options(old), add = TRUE)
  expect_error(did_boot(d, "y", "treated", "post", R = 200), "at most 125 here",
               class = "clusterab_error")
})

test_that("Inf, NaN, matrix and list outcomes and list clusters are classed errors", {
  d <- sim_panel(seed = 24)
  for (bad in c(Inf, NaN)) {
    di <- d; di$y[4] <- bad
    expect_error(did_boot(di, "y", "treated", "post", R = 10), "`outcome`", class = "clusterab_error")
  }
  dm <- d; dm$y <- cbind(d$y, d$y)
  expect_error(did_boot(dm, "y", "treated", "post", R = 10), "is a matrix", class = "clusterab_error")
  dl <- d; dl$unit <- as.list(d$unit)
  expect_error(did_boot(dl, "y", "treated", "post", cluster = "unit", R = 10), "list column",
               class = "clusterab_error")
  expect_error(did_boot(d[1, ], "y", "treated", "post", R = 10), class = "clusterab_error")
  expect_error(did_boot(d[0, ], "y", "treated", "post", R = 10), class = "clusterab_error")
})

test_that("glance() and as.data.frame() have broom's names", {
  d <- sim_panel(seed = 25)
  fit <- did_boot(d, "y", "treated", "post", cluster = "unit", R = 50, ci = "perc", threads = 1)
  gl <- glance(fit)
  expect_identical(names(gl), c("estimate", "std.error", "statistic", "p.value", "parameter",
                                "conf.low", "conf.high", "conf.level", "method", "nobs",
                                "n.clusters", "R", "failed"))
  expect_identical(gl$n.clusters, 30L)
  expect_identical(gl$parameter, 29)
  expect_identical(as.data.frame(fit), tidy(fit))
})

sweep_like_did <- function(seed = 8L) {
  set.seed(seed)
  size <- rep_len(c(3L, 4L, 5L, 6L, 4L), 10L)
  g <- rep(1:10, size)
  trt <- rep(rep_len(0:1, 10L), size)
  data.frame(y = 0.3 * trt + rnorm(10)[g] + rnorm(length(g)), x = rnorm(length(g)), g = g,
             trt = trt, per = unlist(lapply(size, function(s) rep_len(0:1, s))))
}

test_that("a constant outcome is a classed error naming `outcome` (it gave NaN t and p)", {
  d <- sweep_like_did()
  d$y <- 2
  expect_error(did_boot(d, "y", "trt", "per", cluster = "g", R = 50, threads = 1),
               "standard error of the difference in differences is 0.*`outcome`",
               class = "clusterab_error")
})

test_that("covariates with power-of-ten units give the same DiD inference", {
  d <- sweep_like_did()
  ref <- did_boot(d, "y", "trt", "per", R = 99, covariates = "x", threads = 1)
  for (s in c(1e200, 1e155, 1e-170, 1e-200)) {
    ds <- d; ds$x <- d$x * s
    set.seed(1)
    res <- did_boot(ds, "y", "trt", "per", R = 99, covariates = "x", threads = 1)
    expect_equal(unname(res$statistic), unname(ref$statistic), tolerance = 1e-10)
    expect_equal(res$p.value, ref$p.value, tolerance = 1e-10)
    expect_equal(unname(res$estimate), unname(ref$estimate), tolerance = 1e-10)
    ## the covariate's own coefficient in the data's units
    expect_equal(res$coefficients["x", 1:2] * s, ref$coefficients["x", 1:2], tolerance = 1e-10)
  }
  ## against lm() with the huge covariate
  ds <- d; ds$x <- d$x * 1e200
  res <- did_boot(ds, "y", "trt", "per", R = 99, covariates = "x", threads = 1)
  fit <- lm(y ~ trt * per + x, data = ds)
  expect_equal(unname(res$estimate), unname(coef(fit)[["trt:per"]]), tolerance = 1e-10)
  expect_equal(res$std.error, sqrt(vcov(fit)["trt:per", "trt:per"]), tolerance = 1e-10)
  ## the clustered path (HC1) against sandwich
  skip_if_not_installed("sandwich")
  res <- suppressWarnings(did_boot(ds, "y", "trt", "per", cluster = "g", R = 99, covariates = "x",
                                   threads = 1))
  V <- sandwich::vcovCL(lm(y ~ trt * per + x, data = d), cluster = ~ g, type = "HC1")
  expect_equal(res$std.error, sqrt(V["trt:per", "trt:per"]), tolerance = 1e-10)
  expect_equal(res$coefficients["x", 1] * 1e200, unname(coef(fit)[["x"]]) * 1e200, tolerance = 1e-10)
})

test_that("errors name `covariates`, `period` and `conf.level`", {
  d <- sweep_like_did()
  dc <- d; dc$x <- as.character(d$x)
  expect_error(did_boot(dc, "y", "trt", "per", R = 50, covariates = "x", threads = 1),
               "no residual degrees of freedom.*`covariates`", class = "clusterab_error")
  expect_error(did_boot(d, "y", "trt", "trt", cluster = "g", R = 50, threads = 1),
               "`period`", class = "clusterab_error")
  expect_error(did_boot(d[c(1, nrow(d)), ], "y", "trt", "per", R = 50, threads = 1),
               "`group` and `period`.*`data`", class = "clusterab_error")
  fit <- did_boot(d, "y", "trt", "per", cluster = "g", R = 199, ci = "perc", threads = 1)
  expect_error(tidy(fit, conf.level = 2), "`conf.level`", class = "clusterab_error")
})
