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
