## spillover_test(): exact p-values against brute-force enumeration of the
## re-randomisations, Monte Carlo within its error, the level under no
## interference, thread independence.

## The brute-force p-value: focal units keep z, every assignment of the
## others under the design (given as a list of (z, w) over all units,
## filtered to those agreeing with z on the focal units) is scored.
brute_spillover_p <- function(units, z, y, nb, focal, assignments, threshold = 0,
                              alternative = "two.sided") {
  stat <- function(zz) {
    ex <- brute_exposure(units, zz, nb)
    e <- if (threshold <= 0) ex$treated > 0 else ex$total > 0 & ex$treated / ex$total >= threshold
    e <- e[focal]
    if (all(e) || !any(e)) return(NaN)
    mean(y[focal][e]) - mean(y[focal][!e])
  }
  y[focal] <- y[focal] - ave(y[focal], z[focal])  # centred within own arm
  t0 <- stat(z)
  keep <- Filter(function(a) all(a$z[focal] == z[focal]), assignments)
  w <- vapply(keep, `[[`, 0, "w")
  w <- w / sum(w)
  t <- vapply(keep, function(a) stat(a$z), 0)
  tol <- 1e-9 * max(abs(t0), abs(y[focal]))
  ext <- switch(alternative, two.sided = abs(t) >= abs(t0) - tol, greater = t >= t0 - tol,
                less = t <= t0 + tol)
  ext[is.na(t)] <- TRUE
  list(t0 = t0, p = sum(w[ext]), n = length(keep))
}

spill_data <- function(z, seed = 4) {
  set.seed(seed)
  data.frame(unit = 1:10, treated = z, y = round(rnorm(10) + z, 3))
}

test_that("exact p-values equal brute-force enumeration: complete, Bernoulli, cluster", {
  edges <- small_network()
  units <- 1:10
  nb <- brute_neighbours(units, edges$from, edges$to)
  z <- c(1, 0, 0, 1, 0, 0, 1, 0, 0, 1)
  d <- spill_data(z)
  focal <- c(2, 4, 7, 9, 10)
  for (alt in c("two.sided", "greater", "less")) {
    ref <- brute_spillover_p(units, z, d$y, nb, focal, brute_assignments(10, "complete", m = 4),
                             alternative = alt)
    st <- spillover_test(d, "y", "treated", edges, focal = focal,
                         design = list(type = "complete"), alternative = alt)
    expect_true(st$exact)
    expect_equal(st$n.assignments, ref$n)
    expect_equal(unname(st$statistic), ref$t0, tolerance = 1e-12)
    expect_equal(st$p.value, ref$p, tolerance = 1e-12)
  }
  ref <- brute_spillover_p(units, z, d$y, nb, focal, brute_assignments(10, "bernoulli", p = 0.35))
  st <- spillover_test(d, "y", "treated", edges, focal = focal,
                       design = list(type = "bernoulli", p = 0.35))
  expect_equal(st$p.value, ref$p, tolerance = 1e-12)
  expect_equal(sum(st$weights), 1, tolerance = 1e-12)
  ## a threshold mapping, focal units as a logical vector
  f5 <- c(2, 3, 6, 7, 9)
  ref <- brute_spillover_p(units, z, d$y, nb, f5, brute_assignments(10, "complete", m = 4),
                           threshold = 0.5)
  st <- spillover_test(d, "y", "treated", edges, focal = units %in% f5, mapping = 0.5,
                       design = list(type = "complete"))
  expect_equal(st$p.value, ref$p, tolerance = 1e-12)
  ## clusters: the clusters of focal units keep their arm
  cl <- c(1, 1, 2, 2, 3, 3, 4, 4, 5, 5)
  zc <- as.integer(cl %in% c(1, 4))
  dc <- spill_data(zc)
  fc <- c(3, 4, 9)  # exposed, not exposed, exposed; clusters 2 and 5 fixed
  ref <- brute_spillover_p(units, zc, dc$y, nb, fc, brute_assignments(10, "cluster", m = 2, clusters = cl))
  st <- spillover_test(dc, "y", "treated", edges, focal = fc,
                       design = list(type = "cluster", clusters = cl))
  expect_equal(st$p.value, ref$p, tolerance = 1e-12)
})

test_that("Monte Carlo p-values are within 4 standard errors of the exact one", {
  set.seed(6)
  n <- 16
  edges <- data.frame(from = sample(n, 30, TRUE), to = sample(n, 30, TRUE))
  z <- sample(rep(0:1, n / 2))
  d <- data.frame(unit = 1:n, treated = z, y = rnorm(n) + z)
  focal <- c(1, 3, 5, 7, 9, 11)
  ex <- spillover_test(d, "y", "treated", edges, focal = focal, design = list(type = "complete"),
                       R = 1e5)
  expect_true(ex$exact)
  set.seed(7)
  R <- 20000
  mc <- spillover_test(d, "y", "treated", edges, focal = focal, design = list(type = "complete"),
                       exact = FALSE, R = R)
  expect_false(mc$exact)
  expect_length(mc$t, R)
  expect_lte(abs(mc$p.value - ex$p.value), 4 * sqrt(ex$p.value * (1 - ex$p.value) / R) + 1 / R)
})

test_that("with no interference the test rejects at about its level; with spillovers it rejects", {
  set.seed(10)
  n <- 60
  edges <- data.frame(from = sample(n, 60, TRUE), to = sample(n, 60, TRUE))
  p <- replicate(200, {
    z <- rbinom(n, 1, 0.5)
    d <- data.frame(unit = 1:n, treated = z, y = rnorm(n) + 2 * z)
    spillover_test(d, "y", "treated", edges, design = list(type = "bernoulli", p = 0.5),
                   R = 199)$p.value
  })
  ## level 0.1: 200 draws, binomial standard error 0.021
  expect_lt(mean(p <= 0.1), 0.1 + 3 * 0.0212)
  expect_gt(mean(p <= 0.1), 0.1 - 3 * 0.0212)
  z <- rbinom(n, 1, 0.5)
  ex <- network_exposure(edges, data.frame(unit = 1:n, treated = z))
  d <- data.frame(unit = 1:n, treated = z, y = rnorm(n, sd = 0.3) + z + 2 * (ex$treated_neighbours > 0))
  expect_lt(spillover_test(d, "y", "treated", edges, design = list(type = "bernoulli", p = 0.5),
                           R = 999)$p.value, 0.01)
})

test_that("results are identical for any thread count under set.seed(); default focal units", {
  set.seed(12)
  n <- 200
  edges <- data.frame(from = sample(n, 500, TRUE), to = sample(n, 500, TRUE))
  z <- rbinom(n, 1, 0.4)
  d <- data.frame(unit = 1:n, treated = z, y = rnorm(n))
  run <- function(threads) {
    set.seed(3)
    spillover_test(d, "y", "treated", edges, design = list(type = "bernoulli", p = 0.4),
                   R = 5000, threads = threads)
  }
  one <- run(1)
  two <- run(2)
  expect_identical(one$t, two$t)
  expect_identical(one$p.value, two$p.value)
  expect_identical(one$focal, two$focal)
  ## the default focal units: no two are neighbours, and no other unit with
  ## neighbours can be added (isolated ones are never exposed: left out)
  f <- one$focal
  expect_false(any(edges$from %in% f & edges$to %in% f & edges$from != edges$to))
  nbrs <- function(u) unique(c(edges$to[edges$from == u], edges$from[edges$to == u]))
  connected <- unique(unlist(edges[edges$from != edges$to, ]))
  others <- setdiff(connected, f)
  expect_true(all(vapply(others, function(u) any(nbrs(u) %in% f), TRUE)))
})

test_that("cluster designs: default focal clusters, units with a neighbour outside", {
  set.seed(13)
  n <- 120
  cl <- rep(1:12, each = 10)
  within <- data.frame(from = sample(n, 300, TRUE))
  within$to <- (cl[within$from] - 1) * 10 + sample(10, 300, TRUE)
  across <- data.frame(from = sample(n, 20, TRUE), to = sample(n, 20, TRUE))
  edges <- rbind(within, across)
  z <- as.integer(cl %in% sample(12, 6))
  d <- data.frame(unit = 1:n, treated = z, y = rnorm(n))
  st <- spillover_test(d, "y", "treated", edges, design = list(type = "cluster", clusters = cl),
                       R = 999)
  ## every focal unit has a neighbour in another cluster
  outside <- unique(c(across$to[cl[across$from] != cl[across$to]],
                      across$from[cl[across$from] != cl[across$to]]))
  expect_true(all(st$focal %in% outside))
  expect_true(st$p.value > 0 && st$p.value <= 1)
})

test_that("print, tidy and plot", {
  edges <- small_network()
  d <- spill_data(c(1, 0, 0, 1, 0, 0, 1, 0, 0, 1))
  st <- spillover_test(d, "y", "treated", edges, focal = c(2, 4, 7, 9, 10),
                       design = list(type = "complete"))
  expect_output(print(st), "Exact randomisation test of no spillovers")
  expect_named(tidy(st), c("estimate", "statistic", "p.value", "method", "alternative", "n.focal"))
  pdf(NULL)
  on.exit(grDevices::dev.off())
  drawn <- plot(st)
  expect_equal(drawn$type, "bars")
  bern <- spillover_test(d, "y", "treated", edges, focal = c(2, 4, 7, 9, 10),
                         design = list(type = "bernoulli", p = 0.4))
  drawn <- plot(bern)
  expect_equal(sum(drawn$height), 1 - sum(bern$weights[is.na(bern$t)]), tolerance = 1e-12)
})

test_that("spillover_test() refuses bad input with classed errors", {
  edges <- small_network()
  d <- spill_data(c(1, 0, 0, 1, 0, 0, 1, 0, 0, 1))
  st <- function(...) spillover_test(d, "y", "treated", edges, design = list(type = "complete"), ...)
  expect_error(st(focal = c(2, 99)), "not units of `data`")
  expect_error(st(focal = c(TRUE, FALSE)), "one TRUE/FALSE per row")
  expect_error(st(focal = 2), "at least two units")
  expect_error(st(focal = 1:10), "nothing is re-randomised")
  ## focal units 10 (isolated) and 9 with no treated neighbour: none exposed
  expect_error(st(focal = c(9, 10)), class = "clusterab_undefined_statistic")
  expect_error(st(focal = c(2, 4), alternative = "both"), "`alternative`")
  expect_error(st(focal = c(2, 4), R = -1), "`R`")
  expect_error(st(focal = c(2, 4), exact = TRUE, mapping = 0), "`mapping`")
  expect_error(spillover_test(d, "y", "treated", edges, design = list(type = "complete", treated = 3)),
               "the design must be the one")
})
