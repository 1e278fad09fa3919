## The compress step: per-cluster statistics and cluster codes.

test_that("statistics equal direct per-cluster cross-products", {
  d <- sim_clustered(G = 12, seed = 51)
  d$g <- paste0("id", d$g)                 # character ids in any order
  st <- cluster_stats(d, y ~ x1 + f, cluster = "g", weights = "w")
  X <- model.matrix(~ x1 + f, d)
  ## weighted data are centred at the weighted means
  expect_equal(unname(st$shift), unname(c(apply(X[, -1], 2, weighted.mean, w = d$w),
                                          weighted.mean(d$y, d$w))), tolerance = 1e-14)
  Z <- cbind(1, sweep(cbind(X[, -1], d$y), 2, st$shift))
  packed <- function(A) A[upper.tri(A, diag = TRUE)]
  for (j in seq_along(st$cluster)) {
    rows <- d$g == st$cluster[j]
    expect_identical(st$n[j], sum(rows))
    for (power in 0:2) {
      direct <- crossprod(Z[rows, , drop = FALSE] * d$w[rows]^power, Z[rows, , drop = FALSE])
      expect_equal(st$moments[[as.character(power)]][, j], packed(direct), tolerance = 1e-12)
    }
  }
  expect_identical(st$z_names, c("(1)", "x1", "fb", "fc", "y"))
  expect_true(st$weighted)
  expect_identical(st$nobs, nrow(d))
  df <- as.data.frame(st)
  expect_identical(nrow(df), 12L)
  expect_true(all(c("cluster", "n", "w", "w*x1", "w*y*y", "1*x1*fb", "w^2*y*y") %in% names(df)))
  expect_output(print(st), "12 clusters")
})

test_that("unweighted statistics keep only the weight-1 moments; no intercept means no centring", {
  d <- sim_clustered(G = 10, seed = 52)
  st <- cluster_stats(d, y ~ 0 + x1 + x2, cluster = ~ g)
  expect_identical(names(st$moments), "1")
  expect_identical(unname(st$shift), c(0, 0, 0))
  expect_false(st$intercept)
})

test_that("cluster codes: any id type, first-appearance order, unused levels dropped", {
  codes <- clusterab:::cluster_codes
  expect_identical(codes(c(5L, 3L, 5L, 9L))$codes, c(0L, 1L, 0L, 2L))
  expect_identical(codes(c(5, 3.5, 5, -0))$G, 3L)
  expect_identical(codes(c(0, -0))$G, 1L)
  expect_identical(codes(c(1e12, 5, 1e12))$codes, c(0L, 1L, 0L))
  expect_identical(codes(c("b", "a", "b"))$codes, c(0L, 1L, 0L))
  expect_identical(codes(factor(c("x", "y"), levels = c("x", "y", "z")))$G, 2L)
  expect_identical(codes(c(TRUE, FALSE, TRUE))$G, 2L)
  big <- sample(c(-2^30, 2^30, 7L), 100, replace = TRUE)
  expect_identical(codes(big)$G, length(unique(big)))
  ## UTF-8 and latin1 spellings of one string are one cluster
  latin <- iconv("caf\u00e9", "UTF-8", "latin1")
  expect_identical(codes(c(latin, "caf\u00e9"))$G, 1L)
  expect_error(codes(list(1, 2)), "cluster ids")
  expect_error(codes(c(1, NA)), "1 missing")
})

test_that("statistics do not depend on the number of threads", {
  d <- sim_clustered(G = 50, seed = 53)
  a <- cluster_stats(d, y ~ x1 + f, cluster = "g", weights = "w", threads = 1)
  b <- cluster_stats(d, y ~ x1 + f, cluster = "g", weights = "w", threads = 2)
  expect_identical(a, b)
})

test_that("(formula, data) and (data, formula) give the same statistics", { quiet_few({
    d <- sim_clustered(G = 15, seed = 54)
    a <- cluster_stats(d, y ~ x1 + f, cluster = "g", weights = "w")
    expect_identical(cluster_stats(y ~ x1 + f, d, cluster = "g", weights = "w"), a)
    expect_identical(cluster_stats(formula = y ~ x1 + f, data = d, cluster = "g", weights = "w"), a)
    expect_identical(cluster_stats(y ~ x1 + f, data = d, cluster = "g", weights = "w"), a)
    expect_identical(cluster_stats(y ~ x1 + f, d, cluster = "g", weights = "w", threads = 1), a)
    fit <- cluster_lm(cluster_stats(y ~ x1 + f, d, cluster = ~ g))
    expect_equal(coef(fit), coef(lm(y ~ x1 + f, d)), tolerance = 1e-10)
    expect_error(cluster_stats(y ~ x1, d), "`cluster` is required", class = "clusterab_error")
    expect_error(cluster_stats(y ~ x1), "`data` is required", class = "clusterab_error")
    expect_error(cluster_stats(y ~ x1, y ~ x2, cluster = "g"), "two formulas", class = "clusterab_error")
    expect_error(cluster_stats(d, cluster = "g"), "`formula` is required", class = "clusterab_error")
    ## formula first reaches the database method too
    need("DBI"); need("RSQLite")
    con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
    on.exit(DBI::dbDisconnect(con))
    DBI::dbWriteTable(con, "rows", d)
    expect_identical(cluster_stats(y ~ x1 + x2, con, cluster = "g", table = "rows"),
                     cluster_stats(con, y ~ x1 + x2, cluster = "g", table = "rows"))
}) })

test_that("cluster as a column name, a one-sided formula or a vector gives the same statistics", {
  d <- sim_clustered(G = 15, seed = 55)
  d$x1[3] <- NA  # a dropped row: the vector is subset with the data
  by_name <- cluster_stats(d, y ~ x1 + x2, cluster = "g")
  by_formula <- cluster_stats(d, y ~ x1 + x2, cluster = ~ g)
  by_vector <- cluster_stats(d, y ~ x1 + x2, cluster = d$g)
  expect_identical(by_formula$moments, by_name$moments)
  expect_identical(by_vector$moments, by_name$moments)
  expect_identical(by_vector$n, by_name$n)
  expect_identical(by_vector$cluster, by_name$cluster)
  expect_identical(cluster_stats(y ~ x1 + x2, d, cluster = d$g)$moments, by_name$moments)
  expect_error(cluster_stats(d, y ~ x1, cluster = d$g[-1]), "values but `data` has",
               class = "clusterab_error")
  expect_error(cluster_stats(d, y ~ x1, cluster = "nothere"), "nothere", class = "clusterab_error")
  expect_error(cluster_stats(d, y ~ x1, cluster = ~ g + h), "one clustering variable",
               class = "clusterab_error")
})

test_that("statistics that cannot be represented in the data's units are refused, naming the column", {
  d <- sim_clustered(G = 30, seed = 64)
  for (col in c("y", "x1")) {
    for (big in c(1e155, 1e200)) {
      d1 <- d
      d1[[col]][3] <- big
      expect_error(cluster_stats(d1, y ~ x1 + treat, cluster = "g", weights = "w"),
                   sprintf("`%s`", col), class = "clusterab_unrepresentable")
    }
    d1 <- d
    d1[[col]] <- d1[[col]] * 1e-170   # squares underflow
    expect_error(cluster_stats(d1, y ~ x1 + treat, cluster = "g"), sprintf("`%s`", col),
                 class = "clusterab_unrepresentable")
  }
  d1 <- d
  d1$w <- d1$w * 1e200
  expect_error(cluster_stats(d1, y ~ x1 + treat, cluster = "g", weights = "w"), "`weights`",
               class = "clusterab_unrepresentable")
  d1 <- d
  d1$w[3] <- 1e155
  expect_error(cluster_stats(d1, y ~ x1 + treat, cluster = "g", weights = "w"), "`weights`",
               class = "clusterab_unrepresentable")
})

test_that("more than one clustering variable is refused naming `cluster`", {
  d <- sim_clustered(G = 30, seed = 65)
  expect_error(cluster_stats(d, y ~ x1, cluster = ~ g + h), "`cluster` must name one",
               class = "clusterab_error")
  expect_error(cluster_stats(d, y ~ x1, cluster = c("g", "h")), "`cluster` must name one",
               class = "clusterab_error")
})

## The compress plan (R/cluster_lm.R compress_plan()): HC0/HC1/CR0/CR1/CR1S/
## CR1p fits either accumulate M_g ("moments") or only the global
## cross-products and per-cluster scores from a second pass ("scores"). The
## option clusterab.compress_plan forces one.
with_plan <- function(plan, code) {
  old <- options(clusterab.compress_plan = plan)
  on.exit(options(old))
  code
}

plan_fits <- function(formula, data, ..., threads = 1L) {
  lapply(c(moments = "moments", scores = "scores"), function(p) {
    with_plan(p, quiet_few(cluster_lm(formula, data, ..., threads = threads)))
  })
}

expect_plans_equal <- function(fits, tolerance = 1e-12) {
  expect_rel_equal(coef(fits$scores), coef(fits$moments), tolerance)
  expect_vcov_equal(fits$scores$vcov, fits$moments$vcov, tolerance)
  expect_equal(fits$scores$sigma, fits$moments$sigma, tolerance = tolerance)
  expect_equal(fits$scores$r.squared, fits$moments$r.squared, tolerance = tolerance)
  expect_identical(fits$scores$G, fits$moments$G)
}

test_that("the scores plan gives the moments plan's fit for every type it serves", {
  d <- sim_clustered(G = 40, seed = 71)
  for (type in c("HC0", "HC1", "CR0", "CR1", "CR1S", "CR1p")) {
    fits <- plan_fits(y ~ treat + x1 + x2 + year + f, d, cluster = ~ g, type = type)
    expect_null(fits$scores$stats)
    expect_false(is.null(fits$moments$stats))
    expect_plans_equal(fits)
    w <- plan_fits(y ~ treat + x1 + x2 + year, d, cluster = ~ g, weights = ~ w, type = type)
    expect_plans_equal(w)
  }
})

test_that("the plans agree for one row per cluster, few large clusters and aliased columns", {
  d <- sim_clustered(G = 60, seed = 72)
  d$id <- seq_len(nrow(d))
  expect_plans_equal(plan_fits(y ~ x1 + x2, d, cluster = ~ id))
  d$two <- d$g %% 2
  expect_plans_equal(plan_fits(y ~ x1 + x2, d, cluster = ~ two, type = "CR1"))
  d$x3 <- d$x1 + 2 * d$x2
  fits <- plan_fits(y ~ x1 + x2 + x3 + treat, d, cluster = ~ g)
  expect_identical(fits$scores$aliased, fits$moments$aliased)
  expect_plans_equal(fits)
  ## no intercept
  expect_plans_equal(plan_fits(y ~ 0 + x1 + x2, d, cluster = ~ g))
})

test_that("the plans agree on the internally scaled path (huge and tiny magnitudes)", {
  d <- sim_clustered(G = 30, seed = 73)
  huge <- transform(d, x1 = x1 * 1e155, y = y * 1e150)
  expect_plans_equal(plan_fits(y ~ x1 + x2 + year, huge, cluster = ~ g), 1e-11)
  tiny <- transform(d, x2 = x2 * 1e-30)
  expect_plans_equal(plan_fits(y ~ x1 + x2 + year, tiny, cluster = ~ g), 1e-11)
  heavy <- transform(d, w = w * 1e200)
  expect_plans_equal(plan_fits(y ~ x1 + x2 + year, heavy, cluster = ~ g, weights = ~ w), 1e-11)
})

test_that("consumers of a scores-plan fit equal those of a moments-plan fit", {
  need("sandwich")
  d <- sim_clustered(G = 30, seed = 74)
  ## called directly: fit_moments() evaluates the call's arguments again
  fits <- list(
    moments = with_plan("moments", quiet_few(cluster_lm(y ~ treat + x1 + x2, d, cluster = ~ g,
                                                        weights = ~ w))),
    scores = with_plan("scores", quiet_few(cluster_lm(y ~ treat + x1 + x2, d, cluster = ~ g,
                                                      weights = ~ w))))
  expect_null(fits$scores$stats)
  for (type in c("CR2", "HC2", "CR3", "CR1")) {
    expect_vcov_equal(quiet_few(vcov_cluster(fits$scores, type = type)),
                      quiet_few(vcov_cluster(fits$moments, type = type)), 1e-12)
  }
  expect_vcov_equal(quiet_few(vcov_cluster(fits$scores, cluster = ~ h)),
                    quiet_few(vcov_cluster(fits$moments, cluster = ~ h)), 1e-12)
  a <- quiet_few(coef_test(fits$scores, type = "CR2"))
  b <- quiet_few(coef_test(fits$moments, type = "CR2"))
  expect_equal(unclass(a)[, ], unclass(b)[, ], tolerance = 1e-10)
  set.seed(5)
  wa <- quiet_few(wild_boot(fits$scores, "treat", B = 199, conf.int = FALSE))
  set.seed(5)
  wb <- quiet_few(wild_boot(fits$moments, "treat", B = 199, conf.int = FALSE))
  expect_equal(wa$p.value, wb$p.value, tolerance = 1e-12)
  expect_equal(wa$statistic, wb$statistic, tolerance = 1e-10)
  da <- cluster_diagnostics(fits$scores)
  db <- cluster_diagnostics(fits$moments)
  expect_equal(da$clusters, db$clusters, tolerance = 1e-10)
  ## fit_moments() returns the statistics cluster_stats() gives
  st <- clusterab:::fit_moments(fits$scores)
  ref <- cluster_stats(d, y ~ treat + x1 + x2, cluster = "g", weights = "w", threads = 1)
  expect_equal(st$moments, ref$moments, tolerance = 1e-12)
  expect_identical(st$n, ref$n)
})

test_that("the single-cluster note is given under the scores plan too", {
  d <- sim_clustered(G = 40, seed = 75)
  d$only <- ifelse(d$g == 3, d$x1, 0)     # nonzero in one cluster only
  for (plan in c("moments", "scores")) {
    with_plan(plan, {
      expect_warning(cluster_lm(y ~ x1 + only, d, cluster = ~ g, type = "CR1"),
                     "cannot be estimated without cluster 3", class = "clusterab_single_cluster")
    })
  }
  ## and a fit whose halves both see every direction holds no M_g
  d2 <- sim_clustered(G = 200, seed = 76)
  fit <- with_plan("scores", cluster_lm(y ~ x1 + x2 + treat, d2, cluster = ~ g))
  expect_null(fit$stats)
  notes <- clusterab:::cluster_lm_notes(fit)
  expect_length(notes, 0L)
})

test_that("the plan is chosen by size; types with leverages always take the moments", {
  plan <- clusterab:::compress_plan
  expect_identical(plan("HC1", 1e3, 10, 5), "moments")
  expect_identical(plan("HC1", 1e6, 1e4, 12), "scores")
  expect_identical(plan("CR2", 1e6, 1e4, 12), "moments")
  expect_identical(with_plan("scores", plan("CR3", 10, 2, 3)), "moments")
  expect_identical(with_plan("scores", plan("CR1", 10, 2, 3)), "scores")
})
