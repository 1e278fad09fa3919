## The shared resampling engine: per-replicate streams and seeds.

test_that("replicate streams depend on the seed and replicate only, not on threads", {
  set.seed(1)
  seed <- draw_seed()
  one <- cpp_replicate_uniforms(seed, 200L, 50L, 1L)
  two <- cpp_replicate_uniforms(seed, 200L, 50L, 2L)
  expect_identical(one, two)
  set.seed(1)
  expect_identical(draw_seed(), seed)
  ## uniform on [0, 1), and replicates are not copies of each other
  expect_true(all(one >= 0 & one < 1))
  expect_equal(mean(one), 0.5, tolerance = 0.02)
  expect_lt(abs(stats::cor(one[, 1], one[, 2])), 0.5)
  expect_false(any(duplicated(one[1, ])))
  expect_false(identical(cpp_replicate_uniforms(seed + 1L, 5L, 5L, 1L), one[1:5, 1:5]))
  ## a Kolmogorov-Smirnov check of the pooled draws
  expect_gt(stats::ks.test(as.vector(one), "punif")$p.value, 1e-4)
})

test_that("the number of replicates is checked", {
  expect_error(check_replicates(0), "positive whole number")
  expect_error(check_replicates(-5), "positive whole number")
  expect_error(check_replicates(2.5), "positive whole number")
  expect_error(check_replicates(NA), "positive whole number")
  expect_error(check_replicates("10"), "positive whole number")
  expect_identical(check_replicates(2000L), 2000)
})

test_that("run_chunks() visits every replicate once, in order", {
  seen <- run_chunks(25, function(begin, end) seq(begin, end - 1), chunk = 7, progress = FALSE)
  expect_equal(unlist(seen), 0:24)
})

test_that("huge and tiny outcomes give the results of exact arithmetic, scaled (no NaN, no false 'constant')", {
  set.seed(7)
  d <- data.frame(g = rep(1:12, each = 4), treat = rep(rep(0:1, 6), each = 4), post = rep(0:1, 24))
  d$y <- rnorm(48) + d$treat
  d$s <- rpois(48, 3) + 1
  base <- list(tt = cluster_ttest(d, "y", "treat", "g"), icc = icc(d, "y", "g"),
               rat = ratio_test(d, "y", "s", "treat"),
               rt = randomization_test(d, "y", "treat", "g", threads = 1))
  set.seed(1)
  base$did <- did_boot(d, "y", "treat", "post", cluster = "g", R = 50, ci = "norm", threads = 1)
  for (k in c(2^700, 2^-700, 1e200, 1e-200)) {
    dk <- d
    dk$y <- d$y * k
    tt <- cluster_ttest(dk, "y", "treat", "g")
    expect_equal(tt$p.value, base$tt$p.value, tolerance = 1e-12)
    expect_equal(tt$estimate / k, base$tt$estimate, tolerance = 1e-12)
    expect_equal(as.vector(tt$conf.int) / k, as.vector(base$tt$conf.int), tolerance = 1e-12)
    expect_equal(icc(dk, "y", "g")$estimate, base$icc$estimate, tolerance = 1e-12)
    rat <- ratio_test(dk, "y", "s", "treat")
    expect_equal(rat$p.value, base$rat$p.value, tolerance = 1e-12)
    expect_equal(rat$estimate / k, base$rat$estimate, tolerance = 1e-12)
    expect_equal(randomization_test(dk, "y", "treat", "g", threads = 1)$p.value, base$rt$p.value)
    set.seed(1)
    did <- did_boot(dk, "y", "treat", "post", cluster = "g", R = 50, ci = "norm", threads = 1)
    expect_equal(did$p.value, base$did$p.value, tolerance = 1e-10)
    expect_equal(did$estimate / k, base$did$estimate, tolerance = 1e-10)
    expect_equal(did$t / k, base$did$t, tolerance = 1e-10)
    expect_equal(did$boot_ci / k, base$did$boot_ci, tolerance = 1e-10)
  }
})

test_that("plot_replicates draws a discrete distribution as bars and a continuous one as a histogram", {
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off(), add = TRUE)
  ## values that differ by rounding only are one attained value
  t <- c(rep(c(-1, 0, 1), c(10, 30, 10)), 1 + 1e-15, -1 - 1e-15)
  bars <- clusterab:::plot_replicates(t, 0.2)
  expect_identical(bars$type, "bars")
  expect_equal(bars$at, c(-1, 0, 1))
  expect_equal(bars$height, c(11, 30, 11) / 52)
  set.seed(1)
  h <- clusterab:::plot_replicates(rnorm(5000), 0.5, ci = c(-2, 2))
  expect_identical(h$type, "histogram")
  expect_gt(min(diff(h$breaks)), 0)
  expect_equal(sum(h$density * diff(h$breaks)), 1)
  expect_error(clusterab:::plot_replicates(c(NaN, Inf), 0), class = "clusterab_error")
})

test_that("check_replicate_memory refuses with the figure and the way out; the option is honoured", {
  expect_error(clusterab:::check_replicate_memory(1e9, 3), "about 24 GB.*lower `R`",
               class = "clusterab_too_many_replicates")
  expect_silent(clusterab:::check_replicate_memory(1e6, 3))
  old <- options(clusterab.max_memory = 1e12)
  on.exit(options(old), add = TRUE)
  expect_silent(clusterab:::check_replicate_memory(1e9, 3))
  options(clusterab.max_memory = "a lot")
  expect_error(clusterab:::check_replicate_memory(10, 1), "clusterab.max_memory", class = "clusterab_error")
})

test_that("choice arguments and progress give classed errors naming the argument", {
  d <- data.frame(g = rep(1:8, each = 3), treat = rep(rep(0:1, 4), each = 3), post = rep(0:1, 12))
  set.seed(2)
  d$y <- rnorm(24)
  d$s <- 1 + rpois(24, 2)
  expect_error(cluster_ttest(d, "y", "treat", "g", weights = 1), "`weights` must be one of",
               class = "clusterab_error")
  expect_error(cluster_ttest(d, "y", "treat", "g", alternative = "up"),
               "`alternative` must be one of .*not the string \"up\"", class = "clusterab_error")
  expect_error(did_boot(d, "y", "treat", "post", R = 10, ci = c("perc", "basic")),
               "`ci` must be one or more of", class = "clusterab_error")
  expect_error(ratio_test(d, "y", "s", "treat", method = NA), "`method` must be one of",
               class = "clusterab_error")
  expect_error(randomization_test(d, "y", "treat", "g", stat = c("t", "diff_means")),
               "`stat` must be one of", class = "clusterab_error")
  ## partial matching as match.arg
  expect_identical(cluster_ttest(d, "y", "treat", "g", alternative = "g")$alternative, "greater")
  expect_error(did_boot(d, "y", "treat", "post", R = 20000, progress = "yes"), "`progress` must be",
               class = "clusterab_error")
  expect_error(did_boot(d, "y", "treat", "post", R = 10, threads = Inf), "`threads`",
               class = "clusterab_error")
})

test_that("a duplicated column name is a classed error, not the first of the columns", {
  d <- data.frame(g = rep(1:6, each = 3), treat = rep(0:1, 9), y = rnorm(18), y2 = rnorm(18))
  names(d)[4] <- "y"
  expect_error(cluster_ttest(d, "y", "treat", "g"), "`outcome` = \"y\" names 2 columns",
               class = "clusterab_error")
  expect_error(icc(d, "y", "g"), "`outcome` = \"y\" names 2 columns", class = "clusterab_error")
})

test_that("data_cluster: the three forms, expressions, and refusals", {
  d <- data.frame(a = rep(1:3, each = 2), b = rep(1:2, 3))
  expect_identical(clusterab:::data_cluster(d, "a")$values, d$a)
  expect_identical(clusterab:::data_cluster(d, ~ a)$name, "a")
  expect_identical(clusterab:::data_cluster(d, ~ interaction(a, b))$values, interaction(d$a, d$b))
  expect_identical(clusterab:::data_cluster(d, d$b)$name, "cluster")
  expect_error(clusterab:::data_cluster(d, ~ a + b), "several variables", class = "clusterab_error")
  expect_error(clusterab:::data_cluster(d, y ~ a), "one-sided", class = "clusterab_error")
  expect_error(clusterab:::data_cluster(d, ~ nope), "not a column", class = "clusterab_error")
  expect_error(clusterab:::data_cluster(d, 1:5), "has 5 values but `data` has 6 rows",
               class = "clusterab_error")
  expect_error(clusterab:::data_cluster(d, list(1, 2)), class = "clusterab_error")
  expect_error(clusterab:::data_cluster(d, NULL), "`cluster` is required", class = "clusterab_error")
})
