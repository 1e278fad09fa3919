## rbind() and c() of cluster_stats shards against the statistics of all the
## rows, and cluster_stats()'s `shift`; the fits from them against lm(),
## sandwich::vcovCL() and clubSandwich::vcovCR().

## Rows split into `k` shards, most clusters in several of them.
split_rows <- function(d, k, seed = 3) {
  set.seed(seed)
  split(d, sample(rep_len(seq_len(k), nrow(d))))
}

shard_stats <- function(parts, formula, ..., shift = NULL) {
  first <- cluster_stats(parts[[1L]], formula, ..., shift = shift, threads = 1)
  c(list(first), lapply(parts[-1L], function(p) {
    cluster_stats(p, formula, ..., shift = if (is.null(shift)) first else shift, threads = 1)
  }))
}

test_that("rbind() of shards equals the statistics of all the rows", {
  d <- sim_clustered(G = 40)
  parts <- split_rows(d, 4)
  whole <- do.call(rbind, parts)          # the rows in shard order
  for (weights in list(NULL, "w")) {
    shards <- shard_stats(parts, y ~ treat + x1 + year + f, cluster = "g", weights = weights)
    merged <- do.call(rbind, shards)
    ref <- cluster_stats(whole, y ~ treat + x1 + year + f, cluster = "g", weights = weights,
                         shift = shards[[1L]], threads = 1)
    expect_same_stats(merged, ref)
    ## clusters in order of first appearance, as for the rows in shard order
    expect_identical(merged$cluster, ref$cluster)
    expect_identical(merged$nobs, nrow(d))
    expect_equal(merged$sum_log_weights, ref$sum_log_weights, tolerance = 1e-12)
    expect_identical(c(shards[[1L]], shards[[2L]], shards[[3L]], shards[[4L]]), merged)
    expect_identical(c(shards[[1L]], shards[-1L]), merged)
    expect_identical(rbind(shards[[1L]]), shards[[1L]])
  }
})

test_that("fits from merged shards equal lm(), sandwich and clubSandwich, and the one-pass fit", {
  need("sandwich"); need("clubSandwich")
  d <- sim_clustered(G = 30, seed = 5)
  parts <- split_rows(d, 3)
  whole <- do.call(rbind, parts)
  merged <- do.call(rbind, shard_stats(parts, y ~ treat + x1 + x2, cluster = "g", weights = "w"))
  one <- cluster_stats(whole, y ~ treat + x1 + x2, cluster = "g", weights = "w", threads = 1)
  ref <- stats::lm(y ~ treat + x1 + x2, data = whole, weights = w)
  for (type in c("HC0", "HC1", "CR2", "CR3")) {
    fit <- cluster_lm(merged, type = type, threads = 1)
    fit1 <- cluster_lm(one, type = type, threads = 1)
    V <- if (type %in% c("HC0", "HC1")) {
      sandwich::vcovCL(ref, cluster = ~ g, type = type)
    } else {
      as.matrix(clubSandwich::vcovCR(ref, cluster = whole$g, type = type))
    }
    expect_equal(coef(fit), coef(ref), tolerance = 1e-10)
    expect_vcov_equal(vcov(fit), V, tolerance = 1e-10)
    expect_equal(coef(fit), coef(fit1), tolerance = 1e-10)
    expect_equal(vcov(fit), vcov(fit1), tolerance = 1e-10)
  }
  ## the mixed model from the same statistics
  m <- ri_lmer(do.call(rbind, shard_stats(parts, y ~ treat + x1 + x2, cluster = "g")), threads = 1)
  m1 <- ri_lmer(cluster_stats(whole, y ~ treat + x1 + x2, cluster = "g", threads = 1), threads = 1)
  expect_equal(fixef(m), fixef(m1), tolerance = 1e-10)
  expect_equal(vcov(m), vcov(m1), tolerance = 1e-10)
  expect_equal(as.numeric(stats::logLik(m)), as.numeric(stats::logLik(m1)), tolerance = 1e-10)
})

test_that("`shift` changes the centring but not the fits", { quiet_few({
  d <- sim_clustered(G = 20, seed = 2)
  st0 <- cluster_stats(d, y ~ treat + year, cluster = "g", threads = 1)
  st1 <- cluster_stats(d, y ~ treat + year, cluster = "g", shift = c(year = 2010, y = 1, treat = 0),
                       threads = 1)
  expect_identical(st1$shift, c(treat = 0, year = 2010, y = 1))
  expect_equal(coef(cluster_lm(st1)), coef(cluster_lm(st0)), tolerance = 1e-10)
  expect_equal(vcov(cluster_lm(st1)), vcov(cluster_lm(st0)), tolerance = 1e-10)
  ## a shift given by statistics copies theirs
  st2 <- cluster_stats(d[d$g > 10, ], y ~ treat + year, cluster = "g", shift = st1, threads = 1)
  expect_identical(st2$shift, st1$shift)
  expect_identical(st2$scale, st1$scale)
  ## without intercept the statistics are not centred: only 0 is accepted
  st3 <- cluster_stats(d, y ~ 0 + treat + year, cluster = "g", shift = c(treat = 0, year = 0, y = 0),
                       threads = 1)
  expect_identical(st3$moments, cluster_stats(d, y ~ 0 + treat + year, cluster = "g", threads = 1)$moments)
})})

test_that("shards of scaled statistics (values beyond 2^64) combine in their scaled units", { quiet_few({
  d <- sim_clustered(G = 20, seed = 4)
  d$x1 <- d$x1 * 1e30
  parts <- split_rows(d, 2)
  shards <- shard_stats(parts, y ~ x1 + treat, cluster = "g")
  expect_false(all(shards[[1L]]$scale == 1))
  merged <- rbind(shards[[1L]], shards[[2L]])
  ref <- cluster_stats(do.call(rbind, parts), y ~ x1 + treat, cluster = "g", shift = shards[[1L]],
                       threads = 1)
  expect_same_stats(merged, ref)
  expect_equal(coef(cluster_lm(merged)), coef(cluster_lm(ref)), tolerance = 1e-10)
})})

test_that("shards that differ are refused, naming what differs", {
  d <- sim_clustered(G = 20)
  a <- cluster_stats(d[d$g <= 10, ], y ~ x1 + treat, cluster = "g", threads = 1)
  b <- function(formula = y ~ x1 + treat, shift = a, ...) {
    cluster_stats(d[d$g > 10, ], formula, cluster = "g", shift = shift, threads = 1, ...)
  }
  expect_s3_class(rbind(a, b()), "cluster_stats")
  expect_error(rbind(a, b(formula = y ~ x1, shift = NULL)), "different `formula`", class = "clusterab_error")
  expect_error(rbind(a, b(formula = y ~ treat + x1, shift = NULL)), "different `formula`",
               class = "clusterab_error")
  expect_error(rbind(a, b(shift = NULL)), "different centring", class = "clusterab_error")
  expect_error(rbind(a, b(weights = "w")), "`weights`", class = "clusterab_error")
  expect_error(rbind(a, cluster_stats(d[d$g > 10, ], y ~ x1 + treat, cluster = "h", shift = a)),
               "different `cluster`", class = "clusterab_error")
  expect_error(rbind(a, d), "only `cluster_stats` objects", class = "clusterab_error")
  ## a factor with other levels in a shard: other design columns
  e1 <- cluster_stats(d[d$f != "c", ], y ~ f, cluster = "g", threads = 1)
  expect_error(rbind(e1, cluster_stats(d, y ~ f, cluster = "g", threads = 1)), "same levels",
               class = "clusterab_error")
  expect_error(cluster_stats(d, y ~ x1, cluster = "g", shift = c(x1 = 0)), "`shift`",
               class = "clusterab_error")
  expect_error(cluster_stats(d, y ~ x1, cluster = "g", shift = a), "`shift`", class = "clusterab_error")
})
