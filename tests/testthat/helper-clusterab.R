## Shared test helpers.

## A reference package must be installed on CI (CI=true), where a skipped
## reference check would hide a defect; elsewhere a missing one skips.
need <- function(pkg) {
  if (identical(Sys.getenv("CI"), "true") && !requireNamespace(pkg, quietly = TRUE)) {
    stop(sprintf("reference package '%s' must be installed on CI", pkg))
  }
  skip_if_not_installed(pkg)
}

## Largest difference between covariance matrices, relative to the standard
## errors: max |A_ij - B_ij| / sqrt(B_ii B_jj). Names and shape must agree.
expect_vcov_equal <- function(object, expected, tolerance) {
  object <- unclass(as.matrix(object)); expected <- unclass(as.matrix(expected))
  attributes(object) <- attributes(object)[c("dim", "dimnames")]
  attributes(expected) <- attributes(expected)[c("dim", "dimnames")]
  expect_identical(dimnames(object), dimnames(expected))
  scale <- sqrt(abs(outer(diag(expected), diag(expected))))
  expect_lte(max(abs(object - expected) / scale), tolerance)
}

## Elementwise relative difference of two numeric vectors (names must agree).
expect_rel_equal <- function(object, expected, tolerance) {
  expect_identical(names(object), names(expected))
  expect_identical(is.na(object), is.na(expected))
  ok <- !is.na(expected)
  expect_lte(max(abs(object[ok] - expected[ok]) / pmax(abs(expected[ok]), 1e-300)), tolerance)
}

## Random clustered data: unequal cluster sizes (including clusters of one
## row), a cluster-level treatment, weights and a covariate with a large mean.
sim_clustered <- function(G = 30, seed = 1, max_size = 25) {
  set.seed(seed)
  size <- sample(c(1L, 2L, sample(3:max_size, G - 2L, replace = TRUE)))
  g <- rep(seq_len(G), size)
  n <- length(g)
  treat <- rbinom(G, 1, 0.5)[g]
  x1 <- rnorm(n)
  x2 <- runif(n)
  year <- sample(2000:2020, n, replace = TRUE)
  f <- factor(sample(c("a", "b", "c"), n, replace = TRUE))
  y <- 1 + 0.5 * treat + x1 - x2 + 0.1 * (year - 2010) + rnorm(G)[g] + rnorm(n)
  data.frame(g = g, h = sample(1:7, n, replace = TRUE), treat = treat, x1 = x1, x2 = x2,
             year = year, f = f, w = runif(n, 0.5, 2), y = y,
             yb = rbinom(n, 1, plogis(-0.5 + x1 + rnorm(G)[g])),
             yp = rpois(n, exp(0.2 + 0.3 * x1)))
}

## An ill-conditioned design: a calendar year and a timestamp-like covariate
## (large mean, small spread; cond(X) about 3e11), the same data with those
## columns centred, and the map T from centred to original coefficients
## (V = T V_centred T'), for references that are themselves accurate.
sim_ill_conditioned <- function(seed) {
  d <- sim_clustered(G = 40, seed = seed)
  d$time <- 1e6 + 10 * d$x2 + d$x1
  centred <- d
  centred$year <- d$year - mean(d$year)
  centred$time <- d$time - mean(d$time)
  to_original <- diag(4)
  to_original[1, 3:4] <- -c(mean(d$year), mean(d$time))
  list(data = d, centred = centred, to_original = to_original)
}

## A covariance of the centred fit mapped back to original coordinates.
uncentred_reference <- function(V, ill, names) {
  out <- ill$to_original %*% V %*% t(ill$to_original)
  dimnames(out) <- list(names, names)
  out
}

## fixest is compared with only where it is installed (skip_if_not_installed()
## in each test): it is not among Debian's packages and CI does not compile it
## from CRAN, so it is not a declared dependency; its functions are looked up
## by name. Every number checked against fixest is also checked against lm()
## with the dummies and sandwich.
fixest_fun <- function(name) getExportedValue("fixest", name)
