## Cluster ids of every type -> integer codes (R/cluster_codes.R).

codes_of <- function(x) clusterab:::cluster_codes(x)$codes

test_that("ids of every type R keeps them in give the same codes", {
  g <- c(3, 1, 1, 2, 3)
  want <- c(0L, 1L, 1L, 2L, 0L)
  t0 <- as.POSIXct("2024-01-01", tz = "UTC")
  for (ids in list(g, as.integer(g), as.character(g), factor(g), factor(g, levels = 0:9),
                   as.Date("2024-01-01") + g, t0 + 3600 * g, as.POSIXlt(t0 + 3600 * g),
                   g * 1e300, g + 0.5, -g, as.difftime(g, units = "days"), array(g))) {
    expect_identical(codes_of(ids), want)
  }
})

test_that("missing ids are refused, whatever their type", {
  for (ids in list(c(1, NA), c(1, NaN), c("a", NA), factor(c("a", NA)), c(TRUE, NA),
                   as.Date(c("2024-01-01", NA)), as.POSIXlt(c("2024-01-01", NA), tz = "UTC"))) {
    expect_error(clusterab:::cluster_codes(ids), "`cluster` has 1 missing value",
                 class = "clusterab_error")
  }
})

test_that("list columns, matrices, complex ids and NULL are refused, naming the argument", {
  expect_error(clusterab:::cluster_codes(list(1, 2), "g"), "`g` is a list", class = "clusterab_error")
  expect_error(clusterab:::cluster_codes(data.frame(a = 1:2)), "data frame with 1 column",
               class = "clusterab_error")
  expect_error(clusterab:::cluster_codes(cbind(1:2, 1:2)), "`cluster` is a 2 x 2 matrix",
               class = "clusterab_error")
  expect_error(clusterab:::cluster_codes(1i), "not complex", class = "clusterab_error")
  expect_error(clusterab:::cluster_codes(as.raw(1)), "`cluster` must be a vector",
               class = "clusterab_error")
  expect_error(clusterab:::cluster_codes(NULL), "`cluster` is NULL", class = "clusterab_error")
  d <- data.frame(y = rnorm(6), x = rnorm(6))
  d$g <- I(as.list(c(1, 1, 2, 2, 3, 3)))
  expect_error(cluster_lm(y ~ x, d, cluster = "g", threads = 1), "`cluster` is a list",
               class = "clusterab_error")
})
