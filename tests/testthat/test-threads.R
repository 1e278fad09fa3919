## The `threads` argument (R/threads.R): one rule for every function.

test_that("more threads than cores are capped at the number of cores", {
  cores <- RcppParallel::defaultNumThreads()
  expect_identical(clusterab:::resolve_threads(1000), as.integer(min(cores, 1000)))
  expect_identical(clusterab:::resolve_threads(1e10), as.integer(cores))
  expect_identical(clusterab:::resolve_threads(1), 1L)
  expect_identical(clusterab:::resolve_threads(2L), as.integer(min(cores, 2)))
  d <- data.frame(y = c(1, 3, 2, 5, 4, 6), x = c(1, 2, 3, 4, 5, 7), g = c(1, 1, 2, 2, 3, 3))
  expect_identical(quiet_few(coef(cluster_lm(y ~ x, d, cluster = ~ g, threads = 1000))),
                   quiet_few(coef(cluster_lm(y ~ x, d, cluster = ~ g, threads = 1))))
})

test_that("bad thread counts are refused with an error naming `threads`", {
  for (bad in list(0, -1, NA, NA_integer_, 1.5, Inf, "2", TRUE, c(1, 2), numeric(0))) {
    expect_error(clusterab:::resolve_threads(bad), "`threads` must be a single positive whole number",
                 class = "clusterab_error")
  }
  expect_error(clusterab:::resolve_threads("2"), "the string \"2\"", class = "clusterab_error")
})

test_that("a bad option clusterab.threads is named as the option", {
  old <- options(clusterab.threads = "2")
  on.exit(options(old))
  expect_error(clusterab:::resolve_threads(NULL), "option `clusterab.threads`",
               class = "clusterab_error")
  options(clusterab.threads = 1)
  expect_identical(clusterab:::resolve_threads(NULL), 1L)
})
