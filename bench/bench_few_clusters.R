## Benchmark: few-cluster inference (issue 10), ours beside clubSandwich on the
## same simulated data in one R process.
##
## Run from the package root, against an installed clusterab:
##
##     Rscript bench/bench_few_clusters.R          # full run: about a minute (clubSandwich ~10 s)
##     Rscript bench/bench_few_clusters.R quick    # n / 10, B / 10: seconds
##
## (`CLUSTERAB_BENCH_QUICK=1` in the environment does the same as `quick`.)
##
## Needs: clusterab, clubSandwich.
##
## Sections (10 numeric covariates, cluster-level random effect in y, rows
## assigned to clusters at random, integer cluster column):
##   1. n = 1e5, G = 1000, k = 10: coef_test(fit, ~ g, type = "CR2") (Satterthwaite
##      df, the default) vs clubSandwich::coef_test(vcov = "CR2",
##      test = "Satterthwaite") on the same lm() fit (fit not timed; clubSandwich
##      timed once).                                target ours <= 50 ms, ratio >= 100
##   2. wild_boot() WCR, Rademacher weights, t on CR1:
##      a. n = 1e5, G = 1000, k = 10, B = 9,999     target < 2 s
##      b. n = 1e5, G = 50,   k = 10, B = 99,999    target < 0.2 s
##   3. How the cost grows: wild_boot() at G = 100, 1000, 10000 and B = 999, 9999
##      (n = 1e5), and coef_test(type = "CR2") at G = 100, 1000, 10000.
##
## Times are system.time()[["elapsed"]]: the median of up to `reps` runs, fewer
## when one run takes longer than a second. "ratio" = reference / ours.
## Differences against clubSandwich: the largest relative difference of the
## Satterthwaite df, of the p-values and of the standard errors.

options(width = 150)
args <- commandArgs(trailingOnly = TRUE)
quick <- "quick" %in% args || nzchar(Sys.getenv("CLUSTERAB_BENCH_QUICK"))
shrink_n <- if (quick) 10 else 1

suppressPackageStartupMessages({
  for (pkg in c("clusterab", "clubSandwich")) {
    if (!requireNamespace(pkg, quietly = TRUE)) {
      stop(sprintf("package `%s` is needed for this benchmark; install it first.", pkg), call. = FALSE)
    }
  }
  library(clusterab)
})

threads <- clusterab:::resolve_threads(NULL)
cat(sprintf("clusterab %s (%s), clubSandwich %s\n",
            packageVersion("clusterab"), dirname(dirname(system.file(package = "clusterab"))),
            packageVersion("clubSandwich")))
cat(sprintf("%s, %d cores, clusterab threads = %d%s\n\n", R.version.string,
            parallel::detectCores(), threads,
            if (quick) ", QUICK MODE (n / 10, B / 10; targets are for the full run)" else ""))

source(file.path("bench", "bench_helpers.R"))
cat(loadavg(), "at start\n\n")

## make_regression_data(n, G, p): the simulated data set, in bench_helpers.R (shared with bench_vcov_cluster.R).
fml <- y ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10
rel <- function(a, b) max(abs(a - b) / pmax(abs(b), .Machine$double.xmin))

targets <- character(0)
target <- function(what, ok) {
  line <- sprintf("target: %s %s", what, if (isTRUE(ok)) "met" else "NOT met")
  targets <<- c(targets, line)
  cat(line, "\n")
}
quiet <- function(expr) suppressWarnings(suppressMessages(expr))

## ---- 1. CR2 + Satterthwaite df vs clubSandwich -------------------------------

set.seed(20260101)
n1 <- 1e5 / shrink_n; G1 <- 1000L
cat(sprintf("== 1. coef_test(type = \"CR2\"), Satterthwaite df, vs clubSandwich::coef_test(test = \"Satterthwaite\"); n = %g, G = %d, k = 10\n", n1, G1))
d <- make_regression_data(n1, G1)
fit <- lm(fml, data = d)
ours <- bench(quiet(coef_test(fit, cluster = ~ g, type = "CR2")), reps = 7)
t_ref <- system.time(ref <- clubSandwich::coef_test(fit, vcov = "CR2", cluster = d$g,
                                                   test = "Satterthwaite"))[["elapsed"]]
o <- ours$value
diff_df <- rel(attr(o, "df"), ref$df_Satt)
diff_p <- rel(o[, 4], ref$p_Satt)
diff_se <- rel(o[, 2], ref$SE)
ratio1 <- t_ref / ours$time
cat(sprintf("  ours %.4f s (median of %d, batches of %d), clubSandwich %.2f s (once), ratio %.0f\n",
            ours$time, ours$runs, ours$k, t_ref, ratio1))
cat(sprintf("  max rel diff: df %.2e, p %.2e, SE %.2e\n", diff_df, diff_p, diff_se))
## CPU time (all threads) per call: on a busy machine it says more than the
## elapsed time, which then includes waiting for a core.
cpu <- system.time(for (i in 1:10) quiet(coef_test(fit, cluster = ~ g, type = "CR2")))
cat(sprintf("  ours CPU time (user + sys, all threads) per call: %.4f s; %s\n",
            (cpu[["user.self"]] + cpu[["sys.self"]]) / 10, loadavg()))
## Where the time goes: the CR2 covariance alone (compress + adjustment), without the df.
vc <- bench(clusterab::vcov_cluster(fit, cluster = ~ g, type = "CR2"), reps = 7)
cat(sprintf("  of which vcov_cluster(type = \"CR2\") alone: %.4f s\n", vc$time))
target(sprintf("CR2 + Satterthwaite at n = %g, G = %d in <= 50 ms (%.1f ms)", n1, G1, 1000 * ours$time),
       ours$time <= 0.05)
target(sprintf("CR2 + Satterthwaite >= 100x faster than clubSandwich (%.0fx)", ratio1), ratio1 >= 100)
cat("\n")
rm(fit, ref, o); invisible(gc(verbose = FALSE))

## ---- 2. wild_boot() WCR -------------------------------------------------------

cat("== 2. wild_boot(fit, \"x1\", ~ g) WCR, Rademacher weights, t on CR1\n")
B2a <- if (quick) 999L else 9999L
fit <- lm(fml, data = d)
w <- bench(quiet(wild_boot(fit, "x1", cluster = ~ g, B = B2a, conf.int = FALSE)), reps = 3, budget = 5)
cat(sprintf("  a. n = %g, G = %d, B = %d: %.3f s (p = %.4f)\n", n1, G1, B2a, w$time, w$value$p.value))
wci <- bench(quiet(wild_boot(fit, "x1", cluster = ~ g, B = B2a, conf.int = TRUE)), reps = 3, budget = 5)
cat(sprintf("     with the test-inversion confidence interval: %.3f s\n", wci$time))
target(sprintf("wild_boot WCR, G = %d, N = %g, B = %d in < 2 s (%.3f s)", G1, n1, B2a, w$time), w$time < 2)

set.seed(20260102)
G2 <- 50L; B2b <- if (quick) 9999L else 99999L
d50 <- make_regression_data(n1, G2)
fit50 <- lm(fml, data = d50)
w50 <- bench(quiet(wild_boot(fit50, "x1", cluster = ~ g, B = B2b, conf.int = FALSE)), reps = 5, budget = 5)
cat(sprintf("  b. n = %g, G = %d, B = %d: %.3f s (p = %.4f)\n", n1, G2, B2b, w50$time, w50$value$p.value))
w50_fixed <- bench(quiet(wild_boot(fit50, "x1", cluster = ~ g, B = 99, conf.int = FALSE)), reps = 5)
cat(sprintf("     fixed cost (same call with B = 99): %.3f s\n", w50_fixed$time))
target(sprintf("wild_boot WCR, G = %d, B = %d in < 0.2 s (%.3f s)", G2, B2b, w50$time), w50$time < 0.2)
cat("\n")
rm(fit, fit50, d50); invisible(gc(verbose = FALSE))

## ---- 3. growth with G and B ---------------------------------------------------

cat(sprintf("== 3. how the cost grows (n = %g, k = 10, times in seconds; wild_boot without CI)\n", n1))
grid <- expand.grid(B = if (quick) c(99L, 999L) else c(999L, 9999L), G = c(100L, 1000L, 10000L))
grid$wild_boot <- NA_real_
grid$coef_test_CR2 <- NA_real_
for (G in unique(grid$G)) {
  set.seed(G)
  dg <- make_regression_data(n1, G)
  fg <- lm(fml, data = dg)
  ct <- bench(quiet(coef_test(fg, cluster = ~ g, type = "CR2")), reps = 3)$time
  for (B in unique(grid$B)) {
    i <- grid$G == G & grid$B == B
    grid$wild_boot[i] <- bench(quiet(wild_boot(fg, "x1", cluster = ~ g, B = B, conf.int = FALSE)),
                               reps = 3, budget = 2)$time
    grid$coef_test_CR2[i] <- ct
  }
}
grid$wild_per_GB_ns <- 1e9 * grid$wild_boot / (grid$G * grid$B)
print(format(grid, digits = 3), row.names = FALSE)
cat("  wild_boot: the bootstrap is O(B G k) after one O(n k^2) pass over the rows; the\n",
    " last column (ns per replicate and cluster) shows the B G part; CR2 + Satterthwaite is\n",
    " O(n k^2 + G k^3), so it grows with G only through the per-cluster p x p algebra.\n\n")

cat("== summary\n")
cat(paste(targets, collapse = "\n"), "\n")
cat(loadavg(), "at end\n")
