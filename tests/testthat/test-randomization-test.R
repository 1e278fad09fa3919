## randomization_test(): exact counts against brute-force enumeration with
## combn(), Monte Carlo against exact, thread invariance, the confidence
## interval against a brute-force p-value curve, and bad inputs.

## Clustered data: G clusters of unequal sizes, treated clusters `treated`
## (a logical vector over clusters), optional blocks (a vector over clusters).
ri_data <- function(G, treated, blocks = NULL, seed = 1, binary = FALSE) {
  set.seed(seed)
  size <- sample(2:9, G, replace = TRUE)
  g <- rep(seq_len(G), size)
  y <- if (binary) rbinom(length(g), 1, 0.4) else 0.4 * treated[g] + rnorm(G)[g] + rnorm(length(g))
  d <- data.frame(g = g, treat = as.integer(treated[g]), y = y)
  if (!is.null(blocks)) d$b <- blocks[g]
  d
}

## The statistic of assignment z (logical over clusters) from its definition.
ri_bf_stat <- function(ybar, n, z, block, stat, weights) {
  B <- sort(unique(block))
  w <- if (weights == "equal") rep(1, length(ybar)) else n
  omega <- vapply(B, function(b) if (weights == "equal") mean(block == b) else sum(n[block == b]) / sum(n), 0)
  diff <- v <- numeric(length(B))
  for (i in seq_along(B)) {
    k <- block == B[i]
    t1 <- k & z; t0 <- k & !z
    diff[i] <- stats::weighted.mean(ybar[t1], w[t1]) - stats::weighted.mean(ybar[t0], w[t0])
    if (stat == "t") v[i] <- stats::var(ybar[t1]) / sum(t1) + stats::var(ybar[t0]) / sum(t0)
  }
  if (stat == "t") sum(omega * diff) / sqrt(sum(omega^2 * v)) else sum(omega * diff)
}

## Every assignment with the observed treated count per block: a logical
## matrix, one column per assignment.
ri_bf_assignments <- function(z, block) {
  B <- sort(unique(block))
  per_block <- lapply(B, function(b) {
    idx <- which(block == b)
    utils::combn(idx, sum(z[idx]), simplify = FALSE)
  })
  grid <- expand.grid(lapply(per_block, seq_along))
  apply(grid, 1, function(r) {
    zz <- rep(FALSE, length(z))
    for (i in seq_along(B)) zz[per_block[[i]][[r[i]]]] <- TRUE
    zz
  })
}

## Brute-force counts (two-sided, greater, less) with the documented tolerance.
ri_brute_force <- function(d, stat = "diff_means", weights = "equal", blocks = FALSE) {
  ybar <- as.vector(tapply(d$y, d$g, mean))
  n <- as.vector(table(d$g))
  z <- as.vector(tapply(d$treat, d$g, max)) == 1
  block <- if (blocks) as.vector(tapply(d$b, d$g, function(v) v[1])) else rep(1, length(z))
  Z <- ri_bf_assignments(z, block)
  Ts <- apply(Z, 2, function(zz) ri_bf_stat(ybar, n, zz, block, stat, weights))
  t0 <- ri_bf_stat(ybar, n, z, block, stat, weights)
  s <- if (stat == "t") 1 else max(abs(ybar - stats::ave(ybar, block)))
  tol <- 1e-9 * max(abs(t0), s)
  list(counts = c(two.sided = sum(abs(Ts) >= abs(t0) - tol), greater = sum(Ts >= t0 - tol),
                  less = sum(Ts <= t0 + tol)),
       total = length(Ts), t0 = t0, Ts = Ts, Z = Z, ybar = ybar, n = n, z = z, block = block)
}

test_that("the revolving-door walk visits every subset once, one swap at a time, as unranking does", {
  for (m in 1:9) for (k in 1:m) {
    r <- cpp_rand_revolving_door(m, k)
    expect_identical(r$stepped, r$unranked)
    expect_equal(nrow(unique(r$stepped)), choose(m, k))
    if (nrow(r$stepped) > 1L) {
      swaps <- vapply(2:nrow(r$stepped), function(i) length(setdiff(r$stepped[i, ], r$stepped[i - 1L, ])), 0L)
      expect_true(all(swaps == 1L))
    }
  }
})

test_that("exact p-values equal brute-force enumeration with combn(), without blocks", {
  cases <- list(list(G = 8, k = 4), list(G = 10, k = 3), list(G = 12, k = 6), list(G = 12, k = 8))
  for (cs in cases) {
    treated <- seq_len(cs$G) %in% sample(cs$G, cs$k)
    d <- ri_data(cs$G, treated, seed = cs$G + cs$k)
    for (st in c("diff_means", "t")) for (wt in c("equal", "size")) {
      if (st == "t" && wt == "size") next
      bf <- ri_brute_force(d, st, wt)
      res <- randomization_test(d, "y", "treat", "g", stat = st, weights = wt, threads = 2)
      expect_true(res$exact)
      expect_identical(res$n.assignments, as.double(bf$total))
      expect_identical(res$counts, bf$counts / 1 + 0)
      expect_identical(res$p.values, bf$counts / bf$total)
      expect_equal(unname(res$statistic), bf$t0, tolerance = 1e-12)
      ## the exact histogram holds every assignment, between the exact extremes
      expect_equal(sum(res$distribution$counts), bf$total)
      expect_equal(range(res$distribution$breaks), range(bf$Ts), tolerance = 1e-12)
    }
  }
})

test_that("exact p-values equal brute force with blocks, pairs and mirror-image ties", {
  ## unequal blocks (3, 4, 5 clusters), the treated arm the larger one in a block
  block <- rep(1:3, c(3, 4, 5))
  treated <- c(TRUE, FALSE, FALSE, TRUE, TRUE, FALSE, FALSE, TRUE, TRUE, TRUE, FALSE, FALSE)
  d <- ri_data(12, treated, blocks = block, seed = 3)
  for (wt in c("equal", "size")) {
    bf <- ri_brute_force(d, "diff_means", wt, blocks = TRUE)
    res <- randomization_test(d, "y", "treat", "g", blocks = "b", weights = wt, threads = 2)
    expect_identical(res$n.assignments, as.double(bf$total))
    expect_identical(res$p.values, bf$counts / bf$total)
  }
  ## Welch t within blocks of 4 (two treated each), G = 8 and 12
  for (G in c(8, 12)) {
    block <- rep(seq_len(G / 4), each = 4)
    treated <- rep(c(TRUE, FALSE, TRUE, FALSE), G / 4)
    d <- ri_data(G, treated, blocks = block, seed = G)
    bf <- ri_brute_force(d, "t", "equal", blocks = TRUE)
    res <- randomization_test(d, "y", "treat", "g", blocks = "b", stat = "t", threads = 1)
    expect_identical(res$p.values, bf$counts / bf$total)
  }
  ## paired design, G = 10: 2^5 assignments, each the mirror of another
  treated <- rep(c(TRUE, FALSE), 5)
  d <- ri_data(10, treated, blocks = rep(1:5, each = 2), seed = 4)
  bf <- ri_brute_force(d, "diff_means", "equal", blocks = TRUE)
  res <- randomization_test(d, "y", "treat", "g", blocks = "b")
  expect_identical(res$n.assignments, 32)
  expect_identical(res$p.values, bf$counts / bf$total)
  ## binary outcomes: many exactly tied statistics
  d <- ri_data(10, rep(c(TRUE, FALSE), 5), seed = 5, binary = TRUE)
  bf <- ri_brute_force(d)
  expect_identical(randomization_test(d, "y", "treat", "g")$p.values, bf$counts / bf$total)
})

test_that("the observed statistics agree with cluster_ttest() and the row-level means", {
  treated <- rep(c(TRUE, FALSE), 6)
  d <- ri_data(12, treated, seed = 6)
  tt <- cluster_ttest(d, "y", "treat", "g")
  expect_equal(unname(randomization_test(d, "y", "treat", "g", stat = "t")$statistic),
               unname(tt$statistic), tolerance = 1e-10)
  rs <- randomization_test(d, "y", "treat", "g", weights = "size")
  expect_equal(unname(rs$estimate), mean(d$y[d$treat == 1]) - mean(d$y[d$treat == 0]),
               tolerance = 1e-10)
})

test_that("Monte Carlo p-values are within 4 standard errors of the exact ones", {
  treated <- rep(c(TRUE, FALSE), 6)
  d <- ri_data(12, treated, seed = 7)
  d$y <- d$y + 0.8 * d$treat
  for (alt in c("two.sided", "greater", "less")) {
    ex <- randomization_test(d, "y", "treat", "g", alternative = alt)
    set.seed(11)
    mc <- randomization_test(d, "y", "treat", "g", alternative = alt, exact = FALSE, R = 4000)
    expect_false(mc$exact)
    expect_length(mc$t, 4000)
    se <- sqrt(ex$p.value * (1 - ex$p.value) / 4000)
    expect_lte(abs(mc$p.value - ex$p.value), 4 * se + 1 / 4001)
    expect_equal(mc$mc.std.error, sqrt(mc$p.value * (1 - mc$p.value) / 4000))
    expect_identical(mc$p.value, (sum(switch(alt, two.sided = abs(mc$t) >= abs(mc$t0) - mc$tolerance,
                                              greater = mc$t >= mc$t0 - mc$tolerance,
                                              less = mc$t <= mc$t0 + mc$tolerance)) + 1) / 4001)
  }
  ## with blocks too
  d$b <- rep(1:3, each = 4)[d$g]
  ex <- randomization_test(d, "y", "treat", "g", blocks = "b")
  set.seed(12)
  mc <- randomization_test(d, "y", "treat", "g", blocks = "b", exact = FALSE, R = 4000)
  expect_lte(abs(mc$p.value - ex$p.value), 4 * sqrt(ex$p.value * (1 - ex$p.value) / 4000) + 1 / 4001)
})

test_that("results are identical with 1 and 2 threads, and set.seed() reproduces them", {
  treated <- rep(c(TRUE, FALSE), 8)
  d <- ri_data(16, treated, seed = 8)
  d$b <- rep(1:2, each = 8)[d$g]
  set.seed(1)
  one <- randomization_test(d, "y", "treat", "g", exact = FALSE, R = 3000, threads = 1)
  set.seed(1)
  two <- randomization_test(d, "y", "treat", "g", exact = FALSE, R = 3000, threads = 2)
  expect_identical(one, two)
  ## exact: 12,870 assignments, enough for several pieces per chunk
  one <- randomization_test(d, "y", "treat", "g", threads = 1)
  two <- randomization_test(d, "y", "treat", "g", threads = 2)
  expect_identical(one, two)
  one <- randomization_test(d, "y", "treat", "g", blocks = "b", stat = "t", threads = 1)
  two <- randomization_test(d, "y", "treat", "g", blocks = "b", stat = "t", threads = 2)
  expect_identical(one, two)
})

test_that("pieces started by unranking give the counts of one uninterrupted walk", {
  treated <- rep(c(TRUE, FALSE), 7)
  d <- ri_data(14, treated, seed = 9)
  res <- randomization_test(d, "y", "treat", "g", conf.int = FALSE)
  design <- clusterab:::rand_design(clusterab:::rand_clusters(d, "y", "treat", "g", NULL), "diff_means", "equal")
  thr <- c(abs(res$t0) - res$tolerance, res$t0 - res$tolerance, res$t0 + res$tolerance)
  whole <- cpp_rand_enumerate(design, 0, 3432, thr, numeric(0), numeric(0), numeric(0),
                            numeric(0), numeric(0), 3432, 1L)
  small <- cpp_rand_enumerate(design, 0, 3432, thr, numeric(0), numeric(0), numeric(0),
                            numeric(0), numeric(0), 7, 2L)
  expect_identical(whole[1:3], unname(res$counts))
  expect_identical(small[1:3], unname(res$counts))
})

test_that("the confidence interval inverts the brute-force p-value curve", {
  treated <- rep(c(TRUE, FALSE), 5)
  d <- ri_data(10, treated, seed = 10)
  d$y <- d$y + 1 * d$treat
  res <- randomization_test(d, "y", "treat", "g")
  expect_identical(res$ci_method, "stored pairs")
  bf <- ri_brute_force(d)
  A <- bf$Ts
  Bz <- apply(bf$Z, 2, function(zz) ri_bf_stat(as.double(bf$z), bf$n, zz, bf$block, "diff_means", "equal"))
  p_at <- function(tau) {
    adj <- abs(bf$t0 - tau)
    mean(abs(A - tau * Bz) >= adj - 1e-9 * max(adj, max(abs(bf$ybar - mean(bf$ybar)))))
  }
  sd0 <- sd(A)
  ci <- as.vector(res$conf.int)
  expect_lt(ci[1], unname(res$estimate))
  expect_gt(ci[2], unname(res$estimate))
  expect_lte(p_at(ci[1] - 1e-4 * sd0), 0.05)
  expect_gt(p_at(ci[1] + 1e-4 * sd0), 0.05)
  expect_lte(p_at(ci[2] + 1e-4 * sd0), 0.05)
  expect_gt(p_at(ci[2] - 1e-4 * sd0), 0.05)
  ## re-enumeration (pairs not stored) gives the same interval
  old <- options(clusterab.randomization_pairs_limit = 0)
  on.exit(options(old))
  again <- randomization_test(d, "y", "treat", "g", conf.int = TRUE)
  expect_identical(again$ci_method, "re-enumeration")
  expect_equal(again$conf.int, res$conf.int, tolerance = 1e-12)
  skipped <- randomization_test(d, "y", "treat", "g")
  expect_null(skipped$conf.int)
  expect_identical(skipped$ci_method, "skipped")
  expect_output(print(skipped), "conf.int = TRUE")
  ## Monte Carlo interval from the stored draws is close to the exact one
  options(old)
  set.seed(3)
  mc <- randomization_test(d, "y", "treat", "g", exact = FALSE, R = 5000)
  expect_equal(as.vector(mc$conf.int), ci, tolerance = 0.5 * sd0 / max(abs(ci)))
  ## too few assignments for 95%: infinite ends
  d4 <- ri_data(4, c(TRUE, FALSE, TRUE, FALSE), seed = 2)
  expect_identical(as.vector(randomization_test(d4, "y", "treat", "g")$conf.int), c(-Inf, Inf))
})

test_that("print, summary, tidy, confint and plot work for exact and Monte Carlo results", {
  treated <- rep(c(TRUE, FALSE), 5)
  d <- ri_data(10, treated, seed = 12)
  ex <- randomization_test(d, "y", "treat", "g")
  set.seed(2)
  mc <- randomization_test(d, "y", "treat", "g", exact = FALSE, R = 500)
  expect_s3_class(ex, c("randomization_test", "htest"))
  expect_null(ex$t)
  expect_null(ex$seed)
  expect_identical(ex$t0, unname(ex$statistic))
  expect_output(print(ex), "all 252 assignments enumerated")
  expect_output(print(mc), "Monte Carlo standard error")
  expect_output(print(summary(mc)), "p-values: two.sided")
  td <- tidy(ex)
  expect_named(td, c("estimate", "statistic", "p.value", "mc.std.error", "conf.low", "conf.high",
                     "n.assignments", "exact", "method", "alternative"))
  expect_identical(td$p.value, ex$p.value)
  expect_equal(unname(confint(ex)[1, ]), as.vector(ex$conf.int))
  ## data.table input gives the same result
  expect_identical(randomization_test(data.table::as.data.table(d), "y", "treat", "g"), ex)
  ## `exact` as a threshold: 252 assignments are more than 100, so Monte Carlo
  set.seed(2)
  expect_identical(randomization_test(d, "y", "treat", "g", exact = 100, R = 500), mc)
  expect_true(randomization_test(d, "y", "treat", "g", exact = 252)$exact)
  pdf(NULL)
  on.exit(dev.off())
  expect_type(plot(ex), "list")
  expect_type(plot(mc), "list")
})

test_that("bad inputs give errors that name the argument and the fix", {
  d <- ri_data(8, rep(c(TRUE, FALSE), 4), seed = 13)
  all_treated <- transform(d, treat = 1L)
  expect_error(randomization_test(all_treated, "y", "treat", "g"), "all 8 clusters are in the same arm")
  mixed <- d
  mixed$treat[1] <- 1L - mixed$treat[1]
  expect_error(randomization_test(mixed, "y", "treat", "g"), "`treatment` is not constant within 1 cluster")
  for (col in c("y", "treat", "g")) {
    bad <- d
    bad[[col]][2:3] <- NA
    arg <- c(y = "outcome", treat = "treatment", g = "cluster")[[col]]
    expect_error(randomization_test(bad, "y", "treat", "g"), sprintf("`%s` has 2 missing values", arg))
  }
  expect_error(randomization_test(d, "y", "treat", "g", R = 0), "`R` must be a positive whole number")
  expect_error(randomization_test(d, "y", "treat", "g", R = -10), "`R` must be a positive whole number")
  big <- ri_data(60, rep(c(TRUE, FALSE), 30), seed = 14)
  expect_error(randomization_test(big, "y", "treat", "g", exact = TRUE), "beyond the limit.*exact = FALSE")
  expect_error(randomization_test(big, "y", "treat", "g", exact = 1e12), "beyond the limit.*exact = FALSE")
  d$b <- rep(1:4, each = 2)[d$g]
  d2 <- d
  d2$b[1] <- 99
  expect_error(randomization_test(d2, "y", "treat", "g", blocks = "b"), "`blocks` is not constant")
  expect_error(randomization_test(d, "y", "treat", "g", blocks = "b", stat = "t"), "at least 2 clusters.*diff_means")
  d3 <- d
  d3$treat <- as.integer(d3$b <= 2)
  expect_error(randomization_test(d3, "y", "treat", "g", blocks = "b"), "at least 1 cluster.*block")
  expect_error(randomization_test(d, "y", "treat", "g", stat = "t", weights = "size"), "weights = \"equal\"")
  expect_error(randomization_test(d, "y", "treat", "g", exact = "yes"), "`exact` must be")
  expect_error(randomization_test(d, "y", "treat", "g", threads = 0), "`threads`")
})

test_that("more than two arms: each treated arm against the control, as two-arm tests", {
  d <- ri_data(12, rep(c(TRUE, FALSE), 6), seed = 21)
  d$arm <- c("control", "low", "high")[(d$g %% 3) + 1L]
  res <- randomization_test(d, "y", "arm", "g", threads = 1)
  expect_s3_class(res, "randomization_test_arms")
  ## arms in C-locale order: "control" < "high" < "low"
  expect_identical(names(res$tests), c("high - control", "low - control"))
  for (arm in c("high", "low")) {
    two <- d[d$arm %in% c("control", arm), ]
    single <- randomization_test(two, "y", "arm", "g", threads = 1)
    expect_identical(res$tests[[paste(arm, "- control")]]$counts, single$counts)
    expect_identical(res$tests[[paste(arm, "- control")]]$p.value, single$p.value)
    bf <- ri_brute_force(data.frame(y = two$y, treat = two$arm == arm, g = two$g))
    expect_equal(single$counts[["two.sided"]], bf$counts[["two.sided"]], tolerance = 0)
  }
  td <- tidy(res)
  expect_identical(td$comparison, names(res$tests))
  expect_identical(dim(confint(res)), c(2L, 2L))
  expect_output(print(res), "high - control")
})

test_that("plot() of an exact distribution draws bars (no sliver bins); a discrete Monte Carlo one draws attained values", {
  ## the help page's example, which was blank: a tail bin 1e-16 wide held
  ## the exact extreme, with a density so high that every other bar vanished
  set.seed(1)
  size <- sample(5:30, 12, replace = TRUE)
  d <- data.frame(g = rep(1:12, size), treat = rep(rep(0:1, 6), size))
  d$y <- 0.5 * d$treat + rnorm(12)[d$g] + rnorm(nrow(d))
  res <- randomization_test(d, "y", "treat", "g", threads = 1)
  file <- tempfile(fileext = ".png")
  grDevices::png(file)
  drawn <- plot(res)
  grDevices::dev.off()
  expect_true(file.exists(file))
  expect_identical(drawn$type, "histogram")
  width <- diff(drawn$breaks)
  expect_gt(min(width), 0.4 * median(width))
  expect_equal(sum(drawn$counts), res$n.assignments)
  ## every bar is visible: the tallest is at most ~ a few times the typical one
  expect_lt(max(drawn$density) / mean(drawn$density[drawn$counts > 0]), 10)
  expect_equal(sum(drawn$density * width), 1, tolerance = 1e-12)
  ## Monte Carlo with 20 possible assignments: bars at the attained values
  d6 <- ri_data(6, rep(c(TRUE, FALSE), 3), seed = 40)
  mc <- randomization_test(d6, "y", "treat", "g", exact = FALSE, R = 400, threads = 1)
  grDevices::pdf(NULL)
  bars <- plot(mc)
  grDevices::dev.off()
  expect_identical(bars$type, "bars")
  expect_lte(length(bars$at), 20L)
  expect_equal(sum(bars$height), 1, tolerance = 1e-12)
  ## exact with 20 assignments: bars at the exact attained values
  ex6 <- randomization_test(d6, "y", "treat", "g", threads = 1)
  grDevices::pdf(NULL)
  exact_bars <- plot(ex6)
  grDevices::dev.off()
  expect_identical(exact_bars$type, "bars")
  expect_equal(sum(exact_bars$height), 1, tolerance = 1e-12)
  all_z <- utils::combn(6, 3)
  ybar <- tapply(d6$y, d6$g, mean)
  stats_bf <- apply(all_z, 2, function(k) mean(ybar[k]) - mean(ybar[-k]))
  expect_equal(exact_bars$at, sort(unique(signif(stats_bf, 10))), tolerance = 1e-9)
  ## the p-value is the mass of the bars at least as extreme
  far <- abs(exact_bars$at) >= abs(ex6$t0) * (1 - 1e-9)
  expect_equal(sum(exact_bars$height[far]), ex6$p.value, tolerance = 1e-12)
})

test_that("control: labels, a message for other labels, control = ; more than two arms", {
  d <- ri_data(10, rep(c(TRUE, FALSE), 5), seed = 41)
  ref <- randomization_test(d, "y", "treat", "g", threads = 1)
  dl <- d; dl$treat <- ifelse(d$treat == 1, "treatment", "control")
  expect_silent(lab <- randomization_test(dl, "y", "treat", "g", threads = 1))
  expect_identical(lab$estimate, ref$estimate)
  du <- d; du$treat <- ifelse(d$treat == 1, "north", "south")
  expect_message(randomization_test(du, "y", "treat", "g", threads = 1),
                 class = "clusterab_baseline_choice")
  expect_silent(u <- randomization_test(du, "y", "treat", "g", threads = 1, control = "south"))
  expect_equal(u$estimate, ref$estimate, tolerance = 1e-12)
  expect_identical(u$p.value, ref$p.value)
  ## three arms: each against the control given
  d3 <- ri_data(12, rep(c(TRUE, FALSE), 6), seed = 42)
  d3$arm <- c("x", "y", "z")[(d3$g %% 3) + 1]
  expect_silent(arms <- randomization_test(d3, "y", "arm", "g", control = "y", threads = 1))
  expect_identical(names(arms$tests), c("x - y", "z - y"))
  expect_identical(arms$control, "y")
  expect_identical(nrow(glance(arms)), 2L)
  expect_identical(as.data.frame(arms), tidy(arms))
})

test_that("cluster and blocks as a name, a formula or a vector; Date ids", {
  blocks <- rep(1:4, each = 2)
  d <- ri_data(8, rep(c(TRUE, FALSE), 4), blocks = blocks, seed = 43)
  ref <- randomization_test(d, "y", "treat", "g", blocks = "b", threads = 1)
  f <- randomization_test(d, "y", "treat", ~ g, blocks = ~ b, threads = 1)
  v <- randomization_test(d, "y", "treat", d$g, blocks = d$b, threads = 1)
  for (el in c("estimate", "p.value", "n.assignments", "conf.int")) {
    expect_identical(f[[el]], ref[[el]])
    expect_identical(v[[el]], ref[[el]])
  }
  dd <- d; dd$g <- as.Date("2022-01-01") + d$g
  expect_identical(randomization_test(dd, "y", "treat", "g", blocks = "b", threads = 1)$p.value,
                   ref$p.value)
})

test_that("Monte Carlo R that cannot fit in memory is refused; bad outcomes are classed errors", {
  d <- ri_data(40, rep(c(TRUE, FALSE), 20), seed = 44)
  expect_error(randomization_test(d, "y", "treat", "g", exact = FALSE, R = 1e9),
               "24 GB.*lower `R`", class = "clusterab_too_many_replicates")
  for (bad in c(Inf, NaN)) {
    di <- d; di$y[2] <- bad
    expect_error(randomization_test(di, "y", "treat", "g"), "`outcome`", class = "clusterab_error")
  }
  dm <- d; dm$y <- cbind(d$y, d$y)
  expect_error(randomization_test(dm, "y", "treat", "g"), "is a matrix", class = "clusterab_error")
  expect_error(randomization_test(d[0, ], "y", "treat", "g"), class = "clusterab_error")
  expect_error(randomization_test(d[1, ], "y", "treat", "g"), class = "clusterab_error")
})

test_that("glance() and as.data.frame() have broom's names", {
  d <- ri_data(8, rep(c(TRUE, FALSE), 4), seed = 45)
  res <- randomization_test(d, "y", "treat", "g", threads = 1)
  gl <- glance(res)
  expect_identical(names(gl), c(names(tidy(res)), "nobs", "n.clusters", "n.blocks"))
  expect_identical(gl$n.clusters, 8L)
  expect_identical(as.data.frame(res), tidy(res))
})

test_that("Welch t with a huge or tiny outcome: no crash, the p-values of the original units", {
  ## issue 8: d$y[3] <- 1e155 made the squared deviations overflow, the t
  ## statistics NaN, and the enumeration binned NaN out of range (segfault)
  d <- ri_data(10, rep(c(TRUE, FALSE), 5), seed = 46)
  ref <- randomization_test(d, "y", "treat", "g", stat = "t", threads = 1)
  for (s in c(1e155, 1e200, 1e-170, 1e-200)) {
    ds <- d; ds$y <- d$y * s
    res <- randomization_test(ds, "y", "treat", "g", stat = "t", threads = 1)
    expect_equal(res$p.values, ref$p.values, tolerance = 1e-12)
    expect_equal(unname(res$statistic), unname(ref$statistic), tolerance = 1e-10)
    expect_equal(unname(res$estimate) / s, unname(ref$estimate), tolerance = 1e-10)
  }
  d1 <- d; d1$y[3] <- 1e155
  res <- randomization_test(d1, "y", "treat", "g", stat = "t", threads = 1)
  expect_true(all(is.finite(res$p.values)) && is.finite(res$statistic))
  expect_true(all(is.finite(res$distribution$counts)))
  ## the difference in means keeps the outcome's unit
  dm <- randomization_test(d1, "y", "treat", "g", threads = 1)
  expect_true(is.finite(dm$estimate) && abs(dm$estimate) > 1e150)
})

test_that("the enumeration gives a NaN statistic no histogram bin (it was an out-of-range index)", {
  d <- ri_data(10, rep(c(TRUE, FALSE), 5), seed = 47)
  design <- clusterab:::rand_design(clusterab:::rand_clusters(d, "y", "treat", "g", NULL), "t", "equal")
  ## unscaled squares overflow (Inf - Inf): every t statistic is NaN
  design$y[1] <- 1e200
  total <- choose(10, 5)
  stat <- cpp_rand_statistic(design, design$zenum)
  expect_true(is.nan(stat[1L]))
  breaks <- seq(-3, 3, length.out = 101L)
  res <- cpp_rand_enumerate(design, 0, total, c(1, 1, -1), breaks, numeric(0), numeric(0),
                            numeric(0), numeric(0), 64, 1L)
  hist <- res[5L + seq_len(102L)]
  expect_identical(sum(hist), 0)
  expect_identical(res[1:3], c(0, 0, 0))
})

test_that("a block with one arm only: the error names `blocks`", {
  d <- ri_data(10, rep(c(TRUE, FALSE), 5), seed = 48)
  d$b <- (d$g + 1L) %/% 2L
  d$b[d$g == 10L] <- 2L
  expect_error(randomization_test(d, "y", "treat", "g", blocks = "b", threads = 1),
               "every block of `blocks`", class = "clusterab_error")
})
