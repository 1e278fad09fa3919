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
