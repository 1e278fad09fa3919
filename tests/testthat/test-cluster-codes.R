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

## ---- multiway: intersection codes (cpp_intersection_codes) ------------------

## The intersection as it was built before: the pairs pasted into strings.
pasted_codes <- function(...) clusterab:::cluster_codes(paste(..., sep = "\r"))

test_that("intersection codes equal the pasted codes, in first-appearance order, on both paths", {
  set.seed(101)
  n <- 20000
  g1 <- sample.int(300, n, TRUE); g2 <- sample.int(50, n, TRUE); g3 <- sample.int(7, n, TRUE)
  terms <- clusterab:::cluster_terms(data.frame(g1, g2, g3))
  expect_length(terms, 7L)
  expect_identical(vapply(terms, `[[`, integer(1L), "sign"), c(1L, 1L, 1L, -1L, -1L, -1L, 1L))
  ref <- list(pasted_codes(g1), pasted_codes(g2), pasted_codes(g3), pasted_codes(g1, g2),
              pasted_codes(g1, g3), pasted_codes(g2, g3), pasted_codes(g1, g2, g3))
  for (i in seq_along(ref)) {
    ## the same codes, not only up to relabelling: the numbering is first appearance
    expect_identical(terms[[i]][c("codes", "G", "first")], ref[[i]])
  }
  a <- clusterab:::cluster_codes(g1); b <- clusterab:::cluster_codes(g2)
  for (limit in c(0, 1e15)) {  # the hash and the dense table
    res <- clusterab:::cpp_intersection_codes(a$codes, a$G, b$codes, b$G, limit)
    expect_identical(res$codes, ref[[4L]]$codes)
    expect_identical(res$first, ref[[4L]]$first)
  }
})

test_that("intersections of ids of mixed types equal the pasted codes", {
  set.seed(102)
  n <- 5000
  ch <- sample(c(letters, LETTERS), n, TRUE)
  int <- sample(c(-3L, 0L, 7L, 100000L), n, TRUE)
  f <- factor(sample(c("b", "a", "c"), n, TRUE), levels = c("c", "b", "a", "unused"))
  dates <- as.Date("2024-02-27") + sample(0:5, n, TRUE)
  t1 <- clusterab:::cluster_terms(data.frame(ch, int, stringsAsFactors = FALSE))
  expect_identical(t1[[3L]][c("codes", "G", "first")], pasted_codes(ch, int))
  t2 <- clusterab:::cluster_terms(data.frame(f, dates))
  expect_identical(t2[[3L]][c("codes", "G", "first")], pasted_codes(f, dates))
  expect_identical(t2[[1L]]$G, 3L)  # the unused level is no cluster
})

test_that("intersections of more than 2^31 (and 2^32) possible pairs are exact", {
  set.seed(103)
  n <- 70000L
  g1 <- sample.int(n); g2 <- sample.int(n)        # 70000^2 = 4.9e9 > 2^32 pairs
  g2[1:100] <- g2[101:200]; g1[1:100] <- g1[101:200]  # some pairs repeat
  terms <- clusterab:::cluster_terms(data.frame(g1, g2))
  expect_gt(as.double(terms[[1L]]$G) * terms[[2L]]$G, 2^32)
  expect_identical(terms[[3L]][c("codes", "G", "first")], pasted_codes(g1, g2))
  expect_identical(terms[[3L]]$G, n - 100L)
  h1 <- g1 %% 40000L; h2 <- g2 %% 60000L          # 2.4e9: between 2^31 and 2^32
  terms <- clusterab:::cluster_terms(data.frame(h1, h2))
  pairs <- as.double(terms[[1L]]$G) * terms[[2L]]$G
  expect_gt(pairs, 2^31); expect_lt(pairs, 2^32)
  expect_identical(terms[[3L]][c("codes", "G", "first")], pasted_codes(h1, h2))
})

test_that("integer ids with negative values and huge ranges give first-appearance codes for any thread count", {
  set.seed(12)
  n <- 2e5  # several pieces of the parallel range scan
  ref_codes <- function(x) match(x, unique(x)) - 1L
  cases <- list(
    negative = sample(-50L:50L, n, TRUE),
    huge = sample(c(-.Machine$integer.max, .Machine$integer.max, 0L, 17L), n, TRUE),
    extremes_at_ends = c(.Machine$integer.max, sample.int(10L, n - 2L, TRUE), -.Machine$integer.max),
    one_id = rep(-3L, n),
    short = c(5L, -5L)
  )
  for (x in cases) {
    for (th in c(1L, 2L)) {
      res <- cluster_codes(x, threads = th)
      expect_identical(res$codes, ref_codes(x))
      expect_identical(res$first, which(!duplicated(x)))
      expect_identical(res$G, length(unique(x)))
    }
  }
  expect_identical(cluster_codes(integer(0))$G, 0L)
})
