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

## Results do not depend on the thread count, bit for bit, for both compress
## plans: the global cross-products are summed over row blocks of a fixed size
## in block order, and per-cluster sums in row order (row blocks with few
## clusters, cluster ranges otherwise).
fits_by_threads <- function(plan, ...) {
  old <- options(clusterab.compress_plan = plan)
  on.exit(options(old))
  lapply(1:3, function(th) quiet_few(cluster_lm(..., threads = th)))
}

expect_same_across_threads <- function(fits) {
  for (k in 2:3) {
    expect_identical(coef(fits[[k]]), coef(fits[[1]]))
    expect_identical(vcov(fits[[k]]), vcov(fits[[1]]))
    expect_identical(fits[[k]]$sigma, fits[[1]]$sigma)
  }
}

test_that("fits are bit-identical for 1, 2 and 3 threads under either plan", {
  set.seed(81)
  n <- 70000
  big <- data.frame(g = sample.int(3000, n, replace = TRUE), few = sample.int(5, n, replace = TRUE),
                    x1 = rnorm(n), x2 = runif(n) * 1e3, w = runif(n, 0.5, 2))
  big$y <- 1 + big$x1 + 0.01 * big$x2 + rnorm(3000)[big$g] + rnorm(n)
  big$id <- seq_len(n)
  big$x3 <- big$x1 - big$x2                     # aliased
  for (plan in c("moments", "scores")) {
    expect_same_across_threads(fits_by_threads(plan, y ~ x1 + x2, big, cluster = ~ g))
    expect_same_across_threads(fits_by_threads(plan, y ~ x1 + x2, big, cluster = ~ few))
    expect_same_across_threads(fits_by_threads(plan, y ~ x1 + x2, big, cluster = ~ id))
    expect_same_across_threads(fits_by_threads(plan, y ~ x1 + x2 + x3, big, cluster = ~ g,
                                               weights = ~ w, type = "CR1"))
    huge <- transform(big, x1 = x1 * 1e160, y = y * 1e155)
    expect_same_across_threads(fits_by_threads(plan, y ~ x1 + x2, huge, cluster = ~ g))
  }
  expect_same_across_threads(fits_by_threads("moments", y ~ x1 + x2, big, cluster = ~ g,
                                             weights = ~ w, type = "CR2"))
})

test_that("the C++ passes are bit-identical across thread counts, with one cluster and G = n", {
  set.seed(82)
  n <- 50000
  cols <- list(rnorm(n), runif(n))
  y <- rnorm(n)
  w <- rexp(n)
  for (codes in list(integer(n), seq_len(n) - 1L, sample.int(7, n, TRUE) - 1L,
                     sample.int(20000, n, TRUE) - 1L)) {
    G <- max(codes) + 1L
    run <- function(th) list(
      clusterab:::cpp_global_moments(cols, y, w, codes, c(0.1, 0.2, 0.3), th),
      clusterab:::cpp_residual_scores(cols, TRUE, y, w, codes, G, c(0.1, 0.2), c(1, 2), 0.3, 1, 1,
                                      c(0.5, -1, 2), th),
      clusterab:::cpp_cluster_scores(cols, TRUE, y, codes, G, c(0, 0), th),
      clusterab:::cpp_cluster_moments(cols, y, w, codes, G, c(0, 0, 0), 0:2, th))
    one <- run(1L)
    expect_identical(run(2L), one)
    expect_identical(run(clusterab:::resolve_threads(3)), one)  # capped at the cores, as every R entry point does
    ## the global sums equal the per-cluster ones summed
    expect_equal(drop(one[[1L]]$moments), rowSums(clusterab:::cpp_cluster_moments(
      cols, y, w, codes, G, c(0.1, 0.2, 0.3), 1L, 1L)$moments[[1L]]), tolerance = 1e-12)
  }
})

test_that("per-cluster sums over cluster ranges (many clusters) are bit-identical across threads", {
  set.seed(83)
  n <- 60000
  cols <- replicate(10, rnorm(n), simplify = FALSE)
  y <- rnorm(n)
  w <- runif(n)
  for (codes in list(seq_len(n) - 1L, sample.int(40000, n, TRUE) - 1L)) {
    G <- max(codes) + 1L   # G x 11 sums: more than 2^18, so threads own code ranges
    run <- function(th) list(
      clusterab:::cpp_residual_scores(cols, TRUE, y, w, codes, G, numeric(10), rep(1, 10), 0, 1, 1,
                                      seq(-1, 1, length.out = 11), th),
      clusterab:::cpp_cluster_scores(cols, TRUE, y, codes, G, numeric(10), th))
    one <- run(1L)
    expect_identical(run(2L), one)
    expect_identical(run(clusterab:::resolve_threads(3)), one)  # capped at the cores, as every R entry point does
  }
})

test_that("per-cluster sums over cluster ranges on over 2^20 rows are bit-identical across threads and equal rowsum()", {
  set.seed(84)
  n <- 2^20 + 3
  cols <- list(rnorm(n), runif(n))
  y <- rnorm(n)
  w <- runif(n)
  codes <- sample(c(0:199999, sample.int(2e5, n - 2e5, TRUE) - 1L))  # every cluster present
  G <- 200000L   # G x 3 sums: more than 2^18, so threads own code ranges, over several chunks
  beta <- c(0.5, -1, 2)
  run <- function(th) list(
    clusterab:::cpp_residual_scores(cols, TRUE, y, w, codes, G, c(0.1, 0.2), c(1, 2), 0.3, 1, 1,
                                    beta, th),
    clusterab:::cpp_cluster_scores(cols, TRUE, y, codes, G, c(0, 0), th))
  one <- run(1L)
  expect_identical(run(2L), one)
  z <- cbind(1, (cols[[1]] - 0.1) * 1, (cols[[2]] - 0.2) * 2)
  e <- w * ((y - 0.3) - drop(z %*% beta))
  expect_equal(unname(one[[1L]]), unname(t(rowsum(z * e, codes))), tolerance = 1e-12)
  expect_equal(unname(one[[2L]]), unname(t(rowsum(cbind(1, cols[[1]], cols[[2]]) * y, codes))),
               tolerance = 1e-12)
})

test_that("B S S' B from C++ equals tcrossprod(B %*% S) and does not depend on the thread count", {
  set.seed(13)
  for (G in c(1, 9, 2e5)) for (p in c(1L, 4L)) {  # 2e5 clusters: the threaded path
    B <- crossprod(matrix(rnorm(p * p), p))
    dimnames(B) <- list(letters[seq_len(p)], letters[seq_len(p)])
    S <- matrix(rnorm(p * G) * 10^runif(p * G, -3, 3), p)
    ref <- tcrossprod(B %*% S)
    one <- bread_meat_bread(B, S, 1L)
    expect_equal(one, ref, tolerance = 1e-14)
    expect_identical(dimnames(one), dimnames(ref))
    expect_identical(bread_meat_bread(B, S, 2L), one)
  }
})
