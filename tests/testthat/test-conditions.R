## Classed conditions (R/conditions.R).

test_that("arg_match() works as match.arg() and raises a classed error naming the argument", {
  f <- function(type = c("alpha", "beta"), ci = c("perc", "bca", "norm")) {
    list(clusterab:::arg_match(type), clusterab:::arg_match(ci, several.ok = TRUE))
  }
  expect_identical(f(), list("alpha", c("perc", "bca", "norm")))
  expect_identical(f("b", c("norm", "bca")), list("beta", c("norm", "bca")))
  expect_identical(f(NULL), list("alpha", c("perc", "bca", "norm")))
  expect_error(f("nope"), "`type` must be one of \"alpha\", \"beta\", not the string \"nope\"",
               class = "clusterab_error")
  expect_error(f(NA), "`type` must be one of", class = "clusterab_error")
  expect_error(f(1), "not 1\\.", class = "clusterab_error")
  expect_error(f(c("alpha", "alpha")), "not a character vector of length 2", class = "clusterab_error")
  expect_error(f(ci = "x"), "`ci` must be one or more of", class = "clusterab_error")
  g <- function(m) clusterab:::arg_match(m, c("delta", "bootstrap"), what = "method")
  expect_error(g("z"), "`method` must be one of", class = "clusterab_error")
})

test_that("arg_match() replaces match_choice(): several choices once each, the callers' errors classed", {
  f <- function(ci = c("perc", "bca", "norm")) clusterab:::arg_match(ci, several.ok = TRUE)
  expect_identical(f(c("perc", "perc", "norm")), c("perc", "norm"))
  expect_false(exists("match_choice", envir = asNamespace("clusterab"), inherits = FALSE))
  d <- data.frame(g = rep(1:8, each = 3), treat = rep(rep(0:1, 4), each = 3), y = rnorm(24))
  expect_error(randomization_test(d, "y", "treat", "g", weights = "nope"),
               "`weights` must be one of \"equal\", \"size\", not the string \"nope\"",
               class = "clusterab_error")
})
