## cluster_ttest() against stats::t.test() on cluster means and
## sandwich::vcovCL() on each arm's rows.


## Clustered data with a cluster-level 0/1 treatment; equal sizes if `size`
## is a single number.
ttest_data <- function(G = 20, seed = 1, size = NULL) {
  set.seed(seed)
  if (is.null(size)) size <- sample(c(1L, sample(2:30, G - 1L, replace = TRUE)))
  size <- rep_len(size, G)
  arm <- rep_len(0:1, G)[sample(G)]
  g <- rep(seq_len(G), size)
  data.frame(g = g, treat = arm[g], y = 5 + 0.4 * arm[g] + rnorm(G)[g] + rnorm(length(g)))
}

cluster_means <- function(d) {
  list(y = tapply(d$y, d$g, mean), arm = tapply(d$treat, d$g, function(v) v[1]),
       n = tapply(d$y, d$g, length))
}

test_that("weights = 'equal' is t.test on the cluster means", {
  for (s in 1:3) {
    d <- ttest_data(G = 16 + 3 * s, seed = s)
    cm <- cluster_means(d)
    for (lev in c(0.95, 0.9)) {
      ref <- t.test(cm$y[cm$arm == 1], cm$y[cm$arm == 0], var.equal = FALSE, conf.level = lev)
      ours <- cluster_ttest(d, outcome = "y", treatment = "treat", cluster = "g", conf.level = lev)
      expect_s3_class(ours, c("cluster_ttest", "htest"))
      expect_equal(unname(ours$estimate), unname(ref$estimate[1] - ref$estimate[2]), tolerance = 1e-12)
      expect_identical(names(ours$estimate), "difference in means")
      expect_equal(unname(ours$means), unname(ref$estimate[2:1]), tolerance = 1e-12)
      expect_equal(ours$statistic, ref$statistic, tolerance = 1e-12)
      expect_equal(ours$parameter, ref$parameter, tolerance = 1e-12)
      expect_equal(ours$p.value, ref$p.value, tolerance = 1e-12)
      expect_equal(ours$conf.int, ref$conf.int, tolerance = 1e-12)
      expect_equal(ours$stderr, ref$stderr, tolerance = 1e-12)
      expect_identical(ours$alternative, "two.sided")
      expect_identical(unname(ours$null.value), 0)
      expect_identical(unname(ours$n_clusters), as.vector(table(cm$arm)))
      expect_identical(unname(ours$n_obs), as.vector(tapply(d$y, d$treat, length)))
      expect_identical(names(ours$means), c("0", "1"))
    }
  }
})

test_that("weights = 'size': each arm's variance is vcovCL HC0 with cadjust; df by Welch-Satterthwaite", {
  need("sandwich")
  for (s in 1:3) {
    d <- ttest_data(G = 14 + 4 * s, seed = 20 + s)
    ours <- cluster_ttest(d, "y", "treat", "g", weights = "size", conf.level = 0.9)
    arm_fit <- function(a) {
      rows <- d[d$treat == a, ]
      fit <- lm(y ~ 1, data = rows)
      list(mean = unname(coef(fit)), G = length(unique(rows$g)),
           v = sandwich::vcovCL(fit, cluster = ~ g, type = "HC0", cadjust = TRUE)[1, 1])
    }
    a0 <- arm_fit(0); a1 <- arm_fit(1)
    ## The arm means are the row-level means.
    expect_equal(unname(ours$means), c(mean(d$y[d$treat == 0]), mean(d$y[d$treat == 1])),
                 tolerance = 1e-12)
    expect_equal(unname(ours$estimate), a1$mean - a0$mean, tolerance = 1e-12)
    se <- sqrt(a0$v + a1$v)
    df <- (a0$v + a1$v)^2 / (a0$v^2 / (a0$G - 1) + a1$v^2 / (a1$G - 1))
    tstat <- (a1$mean - a0$mean) / se
    expect_equal(ours$stderr, se, tolerance = 1e-10)
    expect_equal(unname(ours$parameter), df, tolerance = 1e-10)
    expect_equal(unname(ours$statistic), tstat, tolerance = 1e-10)
    expect_equal(ours$p.value, 2 * pt(abs(tstat), df, lower.tail = FALSE), tolerance = 1e-10)
    expect_equal(as.vector(ours$conf.int), (a1$mean - a0$mean) + c(-1, 1) * qt(0.95, df) * se,
                 tolerance = 1e-10)
    expect_identical(attr(ours$conf.int, "conf.level"), 0.9)
  }
})

test_that("equal cluster sizes: 'size' equals 'equal'", {
  d <- ttest_data(G = 22, seed = 7, size = 9L)
  eq <- cluster_ttest(d, "y", "treat", "g", weights = "equal")
  sz <- cluster_ttest(d, "y", "treat", "g", weights = "size")
  for (el in c("estimate", "statistic", "parameter", "p.value", "conf.int", "stderr", "means")) {
    expect_equal(sz[[el]], eq[[el]], tolerance = 1e-12, label = paste("size", el))
  }
  expect_false(identical(sz$method, eq$method))
})

test_that("which arm is treated: TRUE, the larger number, the second factor level, the second sorted string", {
  d <- ttest_data(G = 12, seed = 8)
  ref <- cluster_ttest(d, "y", "treat", "g")
  dl <- d; dl$treat <- d$treat == 1
  expect_equal(cluster_ttest(dl, "y", "treat", "g")$estimate, ref$estimate)
  dn <- d; dn$treat <- ifelse(d$treat == 1, 7, 2)
  expect_equal(cluster_ttest(dn, "y", "treat", "g")$estimate, ref$estimate)
  dc <- d; dc$treat <- ifelse(d$treat == 1, "treatment", "control")
  res <- cluster_ttest(dc, "y", "treat", "g")
  expect_equal(res$estimate, ref$estimate)
  expect_identical(res$arms, c(control = "control", treated = "treatment"))
  ## A factor: the second level is treated, whatever the alphabet says;
  ## unused levels are ignored.
  df <- d; df$treat <- factor(ifelse(d$treat == 1, "a_new", "z_old"), levels = c("none", "z_old", "a_new"))
  expect_equal(cluster_ttest(df, "y", "treat", "g")$estimate, ref$estimate)
  df$treat <- factor(df$treat, levels = c("a_new", "z_old"))
  expect_equal(cluster_ttest(df, "y", "treat", "g")$estimate, -ref$estimate)
})

test_that("data.table input and character cluster ids give the same result", {
  need("data.table")
  d <- ttest_data(G = 14, seed = 9)
  ref <- cluster_ttest(d, "y", "treat", "g", weights = "size")
  expect_equal(cluster_ttest(data.table::as.data.table(d), "y", "treat", "g", weights = "size"), ref)
  d2 <- d; d2$g <- paste0("id", d$g)
  expect_equal(cluster_ttest(d2, "y", "treat", "g", weights = "size")[c("estimate", "statistic", "parameter")],
               ref[c("estimate", "statistic", "parameter")])
})

test_that("print works as htest; tidy has broom's columns", {
  d <- ttest_data(G = 12, seed = 10)
  res <- cluster_ttest(d, "y", "treat", "g")
  expect_output(print(res), "Welch two-sample t-test on cluster means")
  expect_output(print(res), "treated \\(1\\)")
  td <- tidy(res)
  expect_s3_class(td, "data.frame")
  expect_identical(names(td), c("estimate", "statistic", "p.value", "parameter", "conf.low",
                                "conf.high", "method", "alternative"))
  expect_identical(nrow(td), 1L)
  expect_identical(td$estimate, unname(res$estimate))
  expect_identical(td$parameter, unname(res$parameter))
  expect_identical(c(td$conf.low, td$conf.high), as.vector(res$conf.int))
})

test_that("bad inputs give errors that name the argument", {
  d <- ttest_data(G = 12, seed = 11)
  expect_error(cluster_ttest(d, "nope", "treat", "g"), "`outcome` = \"nope\" is not a column of `data`")
  expect_error(cluster_ttest(d, "y", "nope", "g"), "`treatment` = \"nope\" is not a column")
  expect_error(cluster_ttest(d, "y", "treat", 3), "`cluster` must be the name of a column")
  expect_error(cluster_ttest(as.list(d), "y", "treat", "g"), "`data` must be a data frame")
  expect_error(cluster_ttest(d, "y", "treat", "g", weights = "rows"), "should be one of")
  expect_error(cluster_ttest(d, "y", "treat", "g", conf.level = 95), "`conf.level` must be a single number")
  dt <- d; dt$y <- as.character(d$y)
  expect_error(cluster_ttest(dt, "y", "treat", "g"), "`outcome` column 'y' must be numeric")
  dd <- d; dd$treat <- as.Date("2024-01-01") + d$treat
  expect_error(cluster_ttest(dd, "y", "treat", "g"), "`treatment` column 'treat' must be logical, numeric")
  ## Missing values are counted, never dropped.
  dm <- d; dm$y[1:2] <- NA
  expect_error(cluster_ttest(dm, "y", "treat", "g"), "`outcome` has 2 missing values")
  dm <- d; dm$treat[5] <- NA
  expect_error(cluster_ttest(dm, "y", "treat", "g"), "`treatment` has 1 missing value")
  dm <- d; dm$g[c(3, 8, 30)] <- NA
  expect_error(cluster_ttest(dm, "y", "treat", "g"), "`cluster` has 3 missing values")
  ## Treatment varying within clusters: the count and an example id.
  big <- as.numeric(names(which(table(d$g) >= 2)))[2:3]
  dx <- d; dx$treat[dx$g %in% big] <- rep_len(0:1, sum(dx$g %in% big))
  expect_error(cluster_ttest(dx, "y", "treat", "g"),
               sprintf("not constant within 2 clusters \\(for example cluster '%d'\\)", big[1]))
  ## Not exactly two treatment values: the values found are named.
  d3 <- d; d3$treat <- c("a", "b", "c")[(d$g %% 3) + 1]
  expect_error(cluster_ttest(d3, "y", "treat", "g"), "exactly 2 distinct values, but has 3: a, b, c")
  d1 <- d; d1$treat <- 1
  expect_error(cluster_ttest(d1, "y", "treat", "g"), "exactly 2 distinct values, but has 1: 1")
  ## Fewer than two clusters in an arm.
  d2 <- d; d2$treat <- as.integer(d$g == 1)
  expect_error(cluster_ttest(d2, "y", "treat", "g"), "each arm of `treatment` needs at least 2 clusters.*; found 11 \\(0\\) and 1 \\(1\\)")
  ## Constant cluster means in both arms.
  dc <- d; dc$y <- dc$treat
  for (w in c("equal", "size")) {
    expect_error(cluster_ttest(dc, "y", "treat", "g", weights = w), "`outcome` has the same cluster mean in every cluster of each arm")
  }
})
