## icc(), design_effect() and effective_n() against psych::ICC(), anova()
## mean squares and the published formulas.


## Balanced data: G clusters of k rows, as a long data frame and as psych's
## wide matrix (clusters as rows, members as columns).
balanced_icc_data <- function(G, k, seed, sd_cluster = 1) {
  set.seed(seed)
  g <- rep(seq_len(G), each = k)
  y <- 10 + rnorm(G, sd = sd_cluster)[g] + rnorm(G * k, sd = 2)
  list(long = data.frame(g = g, y = y), wide = matrix(y, nrow = G, ncol = k, byrow = TRUE))
}

unbalanced_icc_data <- function(G, seed, sd_cluster = 1) {
  set.seed(seed)
  size <- sample(1:12, G, replace = TRUE)
  size[1:2] <- c(1L, 15L)  # a singleton and a large cluster
  g <- rep(sprintf("c%02d", seq_len(G)), size)
  y <- 100 + rnorm(G, sd = sd_cluster)[match(g, unique(g))] + rnorm(length(g))
  data.frame(g = g, y = y)
}

## Reference: MSB and MSW from anova(), n0 and Searle's interval from the
## formulas.
icc_reference <- function(d, level = 0.95) {
  tab <- anova(lm(y ~ factor(g), data = d))
  MSB <- tab[1, "Mean Sq"]; MSW <- tab[2, "Mean Sq"]
  df1 <- tab[1, "Df"]; df2 <- tab[2, "Df"]
  n <- as.vector(table(d$g)); N <- sum(n); G <- length(n)
  n0 <- (N - sum(n^2) / N) / (G - 1)
  Fs <- MSB / MSW
  FL <- Fs / qf(1 - (1 - level) / 2, df1, df2)
  FU <- Fs * qf(1 - (1 - level) / 2, df2, df1)
  list(icc = (MSB - MSW) / (MSB + (n0 - 1) * MSW), MSB = MSB, MSW = MSW, n0 = n0, F = Fs,
       G = G, N = N, ci = c((FL - 1) / (FL + n0 - 1), (FU - 1) / (FU + n0 - 1)))
}

test_that("balanced data: icc equals psych::ICC's ICC1 (ANOVA path)", {
  need("psych")
  for (s in 1:3) {
    for (level in c(0.95, 0.8)) {
      dat <- balanced_icc_data(G = 12 + s, k = 2 + s, seed = s)
      ref <- suppressMessages(psych::ICC(dat$wide, lmer = FALSE, alpha = 1 - level))
      row <- ref$results["Single_raters_absolute", ]
      ours <- icc(dat$long, outcome = "y", cluster = "g", conf.level = level)
      expect_s3_class(ours, "clusterab_icc")
      expect_equal(ours$estimate, row$ICC, tolerance = 1e-10)
      expect_equal(as.vector(ours$conf.int), c(row[["lower bound"]], row[["upper bound"]]),
                   tolerance = 1e-10)
      expect_equal(attr(ours$conf.int, "conf.level"), level)
      expect_equal(ours$F, row$F, tolerance = 1e-10)
      expect_identical(ours$n0, 2 + s)
      expect_identical(c(ours$n_clusters, ours$n_obs), c(12L + s, (12L + s) * (2L + s)))
    }
  }
})

test_that("unbalanced data: MSB, MSW, n0, ICC and interval match anova() and the formulas", {
  for (s in 1:3) {
    d <- unbalanced_icc_data(G = 25, seed = 10 + s)
    ref <- icc_reference(d, level = 0.9)
    ours <- icc(d, outcome = "y", cluster = "g", conf.level = 0.9)
    expect_equal(ours$MSB, ref$MSB, tolerance = 1e-10)
    expect_equal(ours$MSW, ref$MSW, tolerance = 1e-10)
    expect_equal(ours$n0, ref$n0, tolerance = 1e-12)
    expect_equal(ours$F, ref$F, tolerance = 1e-10)
    expect_equal(ours$estimate, ref$icc, tolerance = 1e-10)
    expect_equal(as.vector(ours$conf.int), ref$ci, tolerance = 1e-10)
    expect_identical(c(ours$n_clusters, ours$n_obs), c(ref$G, ref$N))
  }
})

test_that("the ICC can be negative, and the interval still brackets it", {
  ## Every cluster holds one low and one high value: cluster means vary less
  ## than chance, so MSB < MSW.
  set.seed(5)
  G <- 30
  d <- data.frame(g = rep(seq_len(G), each = 2), y = as.vector(rbind(-1, 1)) + rnorm(2 * G, sd = 0.1))
  ref <- icc_reference(d)
  ours <- icc(d, "y", "g")
  expect_lt(ours$estimate, 0)
  expect_equal(ours$estimate, ref$icc, tolerance = 1e-10)
  expect_equal(as.vector(ours$conf.int), ref$ci, tolerance = 1e-10)
  expect_lt(ours$conf.int[1], ours$estimate)
  expect_gt(ours$conf.int[2], ours$estimate)
})

test_that("data.table input, any type of cluster column, and a large mean give the same ICC", {
  need("data.table")
  d <- unbalanced_icc_data(G = 20, seed = 3)
  ref <- icc(d, "y", "g")
  expect_equal(icc(data.table::as.data.table(d), "y", "g"), ref)
  d2 <- d; d2$g <- factor(d2$g, levels = c(rev(unique(d2$g)), "unused"))
  expect_equal(icc(d2, "y", "g")$estimate, ref$estimate, tolerance = 1e-12)
  ## Shifting the outcome by a large constant does not change the ICC.
  d3 <- d; d3$y <- d3$y + 1e8
  expect_equal(icc(d3, "y", "g")$estimate, ref$estimate, tolerance = 1e-6)
})

test_that("print and tidy", {
  d <- unbalanced_icc_data(G = 15, seed = 4)
  res <- icc(d, "y", "g")
  expect_output(print(res), "ICC = ")
  expect_output(print(res), "15 clusters")
  td <- tidy(res)
  expect_s3_class(td, "data.frame")
  expect_identical(names(td), c("estimate", "conf.low", "conf.high", "method"))
  expect_identical(nrow(td), 1L)
  expect_identical(td$estimate, res$estimate)
  expect_identical(c(td$conf.low, td$conf.high), as.vector(res$conf.int))
})

test_that("no variation within clusters: ICC 1 with a warning and a degenerate interval", {
  ## Values that are not exact in binary (0.1 * k), so cluster means carry
  ## rounding error; the within-cluster variance must still be exactly 0.
  d <- data.frame(g = rep(1:5, each = 3), y = rep(0.1 * c(1, 7, 3, 9, 13), each = 3))
  expect_warning(res <- icc(d, "y", "g"), "does not vary within any cluster")
  expect_identical(res$estimate, 1)
  expect_identical(as.vector(res$conf.int), c(1, 1))
  expect_identical(res$MSW, 0)
  ## A constant outcome has no ICC at all.
  d$y <- 2
  expect_error(icc(d, "y", "g"), "`outcome` is constant")
})

test_that("bad inputs give errors that name the argument", {
  d <- unbalanced_icc_data(G = 10, seed = 6)
  expect_error(icc(d, "nope", "g"), "`outcome` = \"nope\" is not a column of `x`")
  expect_error(icc(d, "y", "nope"), "`cluster` = \"nope\" is not a column of `x`")
  expect_error(icc(d, cluster = "g"), "`outcome` must be the name of a column")
  expect_error(icc(d, "y", c("g", "y")), "`cluster` has 2 values but `x` has \\d+ rows",
               class = "clusterab_error")
  expect_error(icc(as.matrix(d), "y", "g"), "`x` must be a data frame")
  d$txt <- as.character(d$y)
  expect_error(icc(d, "txt", "g"), "`outcome` column 'txt' must be numeric")
  dy <- d; dy$y[c(2, 5, 9)] <- NA
  expect_error(icc(dy, "y", "g"), "`outcome` has 3 missing values; drop those rows")
  dg <- d; dg$g[4] <- NA
  expect_error(icc(dg, "y", "g"), "`cluster` has 1 missing value; drop those rows or give them a cluster id")
  d1 <- d; d1$g <- "one"
  expect_error(icc(d1, "y", "g"), "at least 2 clusters")
  ds <- data.frame(g = 1:8, y = rnorm(8))
  expect_error(icc(ds, "y", "g"), "`cluster` puts every row in a cluster of its own")
  for (bad in list(0, 1, 1.5, -0.2, NA_real_, c(0.9, 0.95), "0.95")) {
    expect_error(icc(d, "y", "g", conf.level = bad), "`conf.level` must be a single number between 0 and 1",
                 class = "clusterab_error")
  }
  ## The level is checked before dispatching on a model fit.
  expect_error(icc(structure(list(), class = "ri_lmer"), conf.level = 95), "`conf.level`",
               class = "clusterab_error")
})

test_that("design_effect: Kish for one size, Eldridge for several (population SD)", {
  expect_identical(design_effect(20, 0.05), 1 + 19 * 0.05)
  expect_identical(design_effect(1, 0.7), 1)
  ## Equal sizes reduce exactly to Kish.
  for (m in c(2, 7, 25)) {
    for (rho in c(-0.02, 0, 0.1, 0.6)) {
      expect_identical(design_effect(rep(m, 9), rho), design_effect(m, rho))
    }
  }
  ## Unequal sizes: 1 + ((CV^2 + 1) mbar - 1) icc with CV from the SD with
  ## denominator n, which equals 1 + (sum m^2 / sum m - 1) icc.
  set.seed(8)
  m <- sample(3:60, 17, replace = TRUE)
  rho <- 0.04
  cv <- sqrt(mean((m - mean(m))^2)) / mean(m)
  expect_equal(design_effect(m, rho), 1 + ((cv^2 + 1) * mean(m) - 1) * rho, tolerance = 1e-14)
  expect_equal(design_effect(m, rho), 1 + (sum(m^2) / sum(m) - 1) * rho, tolerance = 1e-14)
  ## ... and is not the n - 1 (sd()) version.
  cv_s <- sd(m) / mean(m)
  expect_false(isTRUE(all.equal(design_effect(m, rho), 1 + ((cv_s^2 + 1) * mean(m) - 1) * rho)))
})

test_that("design_effect and effective_n reject bad inputs", {
  for (bad in list(0, -3, c(10, 0), NA_real_, Inf, numeric(0), "10")) {
    expect_error(design_effect(bad, 0.1), "`cluster_size` must be one or more positive finite numbers")
  }
  for (bad in list(1.2, -1.5, NA_real_, c(0.1, 0.2), "0.1")) {
    expect_error(design_effect(10, bad), "`icc` must be a single number between -1 and 1")
  }
  ## An ICC below -1/(m - 1) would make the design effect negative.
  expect_error(design_effect(10, -0.5), "`icc` = -0.5 is too negative")
  for (bad in list(0, -5, NA_real_, Inf, c(10, 20), "100")) {
    expect_error(effective_n(bad, 10, 0.1), "`n` must be a single positive finite number")
  }
})

test_that("effective_n is n over the design effect", {
  expect_equal(effective_n(1000, 20, 0.05), 1000 / (1 + 19 * 0.05), tolerance = 1e-14)
  m <- c(5, 10, 40, 45)
  expect_equal(effective_n(sum(m), m, 0.1), sum(m) / (1 + (sum(m^2) / sum(m) - 1) * 0.1),
               tolerance = 1e-14)
  expect_identical(effective_n(500, 30, 0), 500)
})

test_that("cluster in three forms; conf.level; print names clusters and df", {
  d <- unbalanced_icc_data(G = 12, seed = 31)
  ref <- icc(d, "y", "g")
  expect_identical(icc(d, "y", ~ g)[c("estimate", "conf.int")], ref[c("estimate", "conf.int")])
  expect_identical(icc(d, "y", d$g)[c("estimate", "conf.int")], ref[c("estimate", "conf.int")])
  dd <- d; dd$g <- as.Date("2020-01-01") + match(d$g, unique(d$g))
  expect_equal(icc(dd, "y", "g")$estimate, ref$estimate)
  dp <- d; dp$g <- as.POSIXct("2020-01-01", tz = "UTC") + match(d$g, unique(d$g))
  expect_equal(icc(dp, "y", "g")$estimate, ref$estimate)
  expect_output(print(ref), "12 clusters \\(`g`\\).*on 11 and \\d+ df")
  expect_identical(attr(icc(d, "y", "g", conf.level = 0.8)$conf.int, "conf.level"), 0.8)
})

test_that("a matrix, list, Inf or NaN outcome is a classed error naming the column", {
  d <- unbalanced_icc_data(G = 10, seed = 32)
  dm <- d; dm$y <- cbind(d$y, d$y)
  expect_error(icc(dm, "y", "g"), "`outcome` column 'y' is a matrix with 2 columns",
               class = "clusterab_error")
  dl <- d; dl$y <- as.list(d$y)
  expect_error(icc(dl, "y", "g"), "`outcome` column 'y' is a list column", class = "clusterab_error")
  di <- d; di$y[2] <- Inf
  expect_error(icc(di, "y", "g"), "`outcome` column 'y' has 1 infinite value", class = "clusterab_error")
  dn <- d; dn$y[2] <- NaN
  expect_error(icc(dn, "y", "g"), "`outcome` has 1 missing value", class = "clusterab_error")
  expect_error(icc(d[0, ], "y", "g"), class = "clusterab_error")
  expect_error(icc(d[1, ], "y", "g"), class = "clusterab_error")
})

test_that("design_effect() and effective_n() take an icc() result", {
  d <- unbalanced_icc_data(G = 15, seed = 33)
  res <- icc(d, "y", "g")
  expect_identical(design_effect(20, icc = res), design_effect(20, icc = res$estimate))
  expect_identical(design_effect(c(5, 10, 30), res), design_effect(c(5, 10, 30), res$estimate))
  expect_identical(effective_n(500, 20, icc = res), effective_n(500, 20, icc = res$estimate))
  expect_error(design_effect(20, icc = "0.1"), "`icc` must be a single number", class = "clusterab_error")
})

test_that("glance() and as.data.frame() have broom's names", {
  d <- unbalanced_icc_data(G = 10, seed = 34)
  res <- icc(d, "y", "g")
  gl <- glance(res)
  expect_identical(names(gl), c("estimate", "conf.low", "conf.high", "conf.level", "statistic",
                                "df", "df.residual", "nobs", "n.clusters", "method"))
  expect_identical(gl$n.clusters, 10)
  expect_identical(gl$df, 9)
  expect_identical(as.data.frame(res), tidy(res))
})

test_that("icc() of data with no rows names `x`", {
  d <- data.frame(y = numeric(0), g = integer(0))
  expect_error(icc(d, "y", "g"), "`x` \\(the data\\) has no rows", class = "clusterab_error")
})

test_that("design_effect() of huge or tiny cluster sizes: no overflow (it was an unclassed error)", {
  ## sum(m^2) / sum(m), computed in units where the squares are representable
  expect_equal(design_effect(c(1e200, 1), 0.05), 1 + (1e200 - 1) * 0.05, tolerance = 1e-12)
  expect_equal(design_effect(c(1e155, 1e155, 1), 0.05), 1 + (1e155 - 1) * 0.05, tolerance = 1e-12)
  m <- c(1e-200, 2e-200)
  expect_equal(design_effect(m, 0.05), 1 + (5 / 3 * 1e-200 - 1) * 0.05, tolerance = 1e-14)
})

test_that("effective_n() refuses a result beyond double precision, naming `n`", {
  expect_error(effective_n(1e308, cluster_size = 20, icc = -0.05), "`n` = 1e\\+308",
               class = "clusterab_error")
  expect_equal(effective_n(1e300, cluster_size = 20, icc = -0.05), 1e300 / 0.05)
})
