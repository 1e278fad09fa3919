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
