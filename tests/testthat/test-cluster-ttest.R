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
  expect_message(res_n <- cluster_ttest(dn, "y", "treat", "g"), class = "clusterab_baseline_choice")
  expect_equal(res_n$estimate, ref$estimate)
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
  expect_error(cluster_ttest(d, "y", "treat", 3), "`cluster` has 1 values but `data` has \\d+ rows",
               class = "clusterab_error")
  expect_error(cluster_ttest(as.list(d), "y", "treat", "g"), "`data` must be a data frame")
  expect_error(cluster_ttest(d, "y", "treat", "g", weights = "rows"), "must be one of")
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

test_that("control: \"treatment\"/\"control\" labels, control = , and a message for other labels", {
  d <- ttest_data(G = 12, seed = 21)
  ref <- cluster_ttest(d, "y", "treat", "g")
  ## "treatment" sorts after "control" but "control" is the control anyway
  ## whatever the order of the rows
  dc <- d[rev(seq_len(nrow(d))), ]
  dc$treat <- ifelse(dc$treat == 1, "treatment", "control")
  expect_silent(res <- cluster_ttest(dc, "y", "treat", "g"))
  expect_equal(res$estimate, ref$estimate, tolerance = 1e-12)
  expect_identical(res$arms, c(control = "control", treated = "treatment"))
  ## labels with no common control label: a message naming the choice and
  ## the argument, silenced by control =
  du <- d
  du$treat <- ifelse(d$treat == 1, "north", "south")
  expect_message(res_u <- cluster_ttest(du, "y", "treat", "g"), "set `control = `",
                 class = "clusterab_baseline_choice")
  expect_identical(res_u$arms, c(control = "north", treated = "south"))
  expect_silent(res_s <- cluster_ttest(du, "y", "treat", "g", control = "south"))
  expect_identical(res_s$arms, c(control = "south", treated = "north"))
  expect_equal(res_s$estimate, ref$estimate, tolerance = 1e-12)
  ## control = reverses the sign of 0/1 codes
  expect_equal(cluster_ttest(d, "y", "treat", "g", control = 1)$estimate, -ref$estimate,
               tolerance = 1e-12)
  expect_error(cluster_ttest(d, "y", "treat", "g", control = "x"), "`control` = \"x\" is not a value",
               class = "clusterab_error")
})

test_that("alternative: one-sided tests equal t.test() on cluster means", {
  d <- ttest_data(G = 16, seed = 22)
  m <- tapply(d$y, d$g, mean)
  arm <- tapply(d$treat, d$g, `[`, 1L)
  for (alt in c("two.sided", "less", "greater")) {
    ours <- cluster_ttest(d, "y", "treat", "g", alternative = alt, conf.level = 0.9)
    ref <- t.test(m[arm == 1], m[arm == 0], alternative = alt, conf.level = 0.9)
    expect_identical(ours$alternative, alt)
    expect_equal(ours$p.value, ref$p.value, tolerance = 1e-12)
    expect_equal(as.vector(ours$conf.int), as.vector(ref$conf.int), tolerance = 1e-12)
    ## size-weighted: the same one-sided rule on its own t and df
    sz <- cluster_ttest(d, "y", "treat", "g", weights = "size", alternative = alt)
    tt <- unname(sz$statistic); df <- unname(sz$parameter)
    expect_equal(sz$p.value, switch(alt, two.sided = 2 * pt(-abs(tt), df), less = pt(tt, df),
                                    greater = pt(tt, df, lower.tail = FALSE)), tolerance = 1e-12)
  }
  expect_identical(cluster_ttest(d, "y", "treat", "g", alternative = "greater")$conf.int[2L], Inf)
  expect_error(cluster_ttest(d, "y", "treat", "g", alternative = "up"), "must be one of")
})

test_that("cluster as a column name, a formula or a vector; Date and POSIXct ids", {
  d <- ttest_data(G = 12, seed = 23)
  ref <- cluster_ttest(d, "y", "treat", "g")
  f <- cluster_ttest(d, "y", "treat", ~ g)
  v <- cluster_ttest(d, "y", "treat", d$g)
  for (el in c("estimate", "statistic", "parameter", "p.value", "conf.int")) {
    expect_identical(f[[el]], ref[[el]])
    expect_identical(v[[el]], ref[[el]])
  }
  expect_identical(f$cluster_name, "g")
  expect_output(print(ref), "12 clusters \\(`g`\\); t on [0-9.]+ df")
  dd <- d; dd$g <- as.Date("2024-01-01") + d$g
  expect_equal(cluster_ttest(dd, "y", "treat", "g")$estimate, ref$estimate)
  dp <- d; dp$g <- as.POSIXct("2024-01-01", tz = "UTC") + 3600 * d$g
  expect_equal(cluster_ttest(dp, "y", "treat", "g")$estimate, ref$estimate)
  expect_error(cluster_ttest(d, "y", "treat", d$g[-1]), "`cluster` has \\d+ values but `data` has",
               class = "clusterab_error")
})

test_that("bad outcomes: matrix, list, Inf, NaN, empty data give classed errors naming the column", {
  d <- ttest_data(G = 12, seed = 24)
  dm <- d; dm$y <- cbind(d$y, d$y)
  expect_error(cluster_ttest(dm, "y", "treat", "g"), "`outcome` column 'y' is a matrix with 2 columns",
               class = "clusterab_error")
  dl <- d; dl$y <- as.list(d$y)
  expect_error(cluster_ttest(dl, "y", "treat", "g"), "`outcome` column 'y' is a list column",
               class = "clusterab_error")
  for (bad in c(Inf, -Inf)) {
    di <- d; di$y[3] <- bad
    expect_error(cluster_ttest(di, "y", "treat", "g"), "`outcome` column 'y' has 1 infinite value",
                 class = "clusterab_error")
  }
  dn <- d; dn$y[3] <- NaN
  expect_error(cluster_ttest(dn, "y", "treat", "g"), "`outcome` has 1 missing value",
               class = "clusterab_error")
  expect_error(cluster_ttest(d[0, ], "y", "treat", "g"), class = "clusterab_error")
  expect_error(cluster_ttest(d[1, ], "y", "treat", "g"), class = "clusterab_error")
  d1 <- d; d1$g <- 1
  expect_error(cluster_ttest(d1, "y", "treat", "g"), class = "clusterab_error")
  dg <- d; dg$g <- as.list(d$g)
  expect_error(cluster_ttest(dg, "y", "treat", "g"), "`cluster` column 'g' is a list column",
               class = "clusterab_error")
})

test_that("glance() and as.data.frame() have broom's names; knitr::kable works", {
  d <- ttest_data(G = 12, seed = 25)
  res <- cluster_ttest(d, "y", "treat", "g")
  gl <- glance(res)
  expect_identical(names(gl), c("estimate", "statistic", "p.value", "parameter", "conf.low",
                                "conf.high", "method", "alternative", "nobs", "n.clusters"))
  expect_identical(gl$n.clusters, 12L)
  expect_identical(gl$nobs, nrow(d))
  expect_identical(as.data.frame(res), tidy(res))
  skip_if_not_installed("knitr")
  expect_true(any(grepl("estimate", knitr::kable(res))))
})
