## Benchmark: clusterab's cluster-robust covariance against the reference
## packages, on the same simulated data in one R process.
##
## Run from the package root, against an installed clusterab:
##
##     Rscript bench/bench_vcov_cluster.R          # full run: a few minutes, ~10 GB RAM
##     Rscript bench/bench_vcov_cluster.R quick    # every n / 100 (and G / 10): seconds
##
## To benchmark a private build without touching the source tree:
##
##     R CMD INSTALL -l /tmp/benchlib .   (from a copy of the sources)
##     R_LIBS=/tmp/benchlib Rscript bench/bench_vcov_cluster.R
##
## Needs: clusterab, sandwich, clubSandwich, estimatr.
##
## Sections (10 numeric covariates, cluster-level random effect in y, rows
## assigned to clusters at random, integer cluster column):
##   1. n = 1e6, G = 1000: vcov_cluster(fit, ~ g) vs sandwich::vcovCL (HC1)
##      on the same lm() fit (fit not timed).                   target ratio >= 5
##   2. n = 1e5, G = 500, CR2:
##      a. vcov_cluster(fit, ~ g, type = "CR2") vs clubSandwich::vcovCR
##                                                               target ratio >= 100
##      b. cluster_lm(..., type = "CR2") vs estimatr::lm_robust(se_type = "CR2")
##         (fit + covariance on both sides)                      target ratio >= 10
##   3. n = 1e7, G = 1e4: cluster_lm(..., cluster = ~ g) (fit + HC1) vs
##      lm() + sandwich::vcovCL()                  target ours < 2 s and ratio >= 10
##
## Times are system.time()[["elapsed"]]: the median of up to `reps` runs, fewer
## when one run takes longer than a second. "ratio" = reference / ours.
## "max rel diff" of two covariance matrices A (ours) and B (reference) is
## max_ij |A_ij - B_ij| / sqrt(B_ii B_jj), i.e. relative to the standard
## errors, so it is scale-free and not inflated by near-zero covariances.

options(width = 150)
args <- commandArgs(trailingOnly = TRUE)
quick <- "quick" %in% args
shrink_n <- if (quick) 100 else 1
shrink_G <- if (quick) 10 else 1

suppressPackageStartupMessages({
  for (pkg in c("clusterab", "sandwich", "clubSandwich", "estimatr")) {
    if (!requireNamespace(pkg, quietly = TRUE)) {
      stop(sprintf("package `%s` is needed for this benchmark; install it first.", pkg), call. = FALSE)
    }
  }
  library(clusterab)
})

threads <- clusterab:::resolve_threads(NULL)
cat(sprintf("clusterab %s (%s), sandwich %s, clubSandwich %s, estimatr %s\n",
            packageVersion("clusterab"), dirname(dirname(system.file(package = "clusterab"))),
            packageVersion("sandwich"), packageVersion("clubSandwich"), packageVersion("estimatr")))
cat(sprintf("%s, %d cores, clusterab threads = %d%s\n\n", R.version.string,
            parallel::detectCores(), threads, if (quick) ", QUICK MODE (n / 100, G / 10; targets are for the full run)" else ""))

## ---- helpers ----------------------------------------------------------------

source(file.path("bench", "bench_helpers.R"))
cat(loadavg(), "at start\n\n")

## Covariance difference relative to the reference standard errors.
rel_diff <- function(ours, ref) {
  ours <- unclass(as.matrix(ours)); ref <- unclass(as.matrix(ref))
  attributes(ours) <- list(dim = dim(ours)); attributes(ref) <- list(dim = dim(ref))
  stopifnot(identical(dim(ours), dim(ref)))
  se <- sqrt(diag(ref))
  max(abs(ours - ref) / outer(se, se))
}

## make_regression_data(n, G, p): the simulated data set, in bench_helpers.R (shared with bench_few_clusters.R).

fml <- y ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10

results <- list()
record <- function(section, what, n, G, ours, ref, target_ratio, target_ours = NA_real_, diff = NA_real_) {
  ratio <- ref / ours
  met <- ratio >= target_ratio && (is.na(target_ours) || ours < target_ours)
  target <- sprintf(">= %g%s", target_ratio, if (is.na(target_ours)) "" else sprintf(", ours < %g s", target_ours))
  results[[length(results) + 1L]] <<- data.frame(
    sec = section, comparison = what, n = format(n, scientific = TRUE), G = G,
    ours_s = ours, ref_s = ref, ratio = ratio, target = target,
    met = if (met) "yes" else "NO", max_rel_diff = diff, stringsAsFactors = FALSE)
  cat(sprintf("  ours %.4f s, reference %.3f s, ratio %.1f (target %s: %s); max rel diff %.2e\n\n",
              ours, ref, ratio, target, if (met) "met" else "NOT met", diff))
}

free <- function() invisible(gc(verbose = FALSE, full = TRUE))

## ---- 1. vcov_cluster vs sandwich::vcovCL, HC1 ----------------------------------

set.seed(20240601)
n1 <- 1e6 / shrink_n; G1 <- 1000 / shrink_G
cat(sprintf("== 1. vcov_cluster(fit, ~ g) vs sandwich::vcovCL(fit, ~ g), HC1; n = %g, G = %d\n", n1, G1))
d <- make_regression_data(n1, G1)
fit <- lm(fml, data = d)
ours <- bench(clusterab::vcov_cluster(fit, cluster = ~ g), reps = 5)
ref <- bench(sandwich::vcovCL(fit, cluster = ~ g), reps = 3, budget = 5)
record(1, "vcov_cluster HC1 vs sandwich::vcovCL", n1, G1, ours$time, ref$time, 5,
       diff = rel_diff(ours$value, ref$value))
rm(d, fit, ours, ref); free()

## ---- 2. CR2 -----------------------------------------------------------------------

set.seed(20240602)
n2 <- 1e5 / shrink_n; G2 <- 500 / shrink_G
cat(sprintf("== 2a. vcov_cluster(fit, ~ g, type = \"CR2\") vs clubSandwich::vcovCR(CR2); n = %g, G = %d\n", n2, G2))
d <- make_regression_data(n2, G2)
fit <- lm(fml, data = d)
ours <- bench(clusterab::vcov_cluster(fit, cluster = ~ g, type = "CR2"), reps = 5)
ref <- bench(clubSandwich::vcovCR(fit, cluster = d$g, type = "CR2"), reps = 3)
record("2a", "vcov_cluster CR2 vs clubSandwich::vcovCR", n2, G2, ours$time, ref$time, 100,
       diff = rel_diff(ours$value, ref$value))
rm(fit, ours, ref); free()

cat(sprintf("== 2b. cluster_lm(type = \"CR2\") vs estimatr::lm_robust(se_type = \"CR2\"), fit + vcov; n = %g, G = %d\n", n2, G2))
ours <- bench(clusterab::cluster_lm(fml, data = d, cluster = ~ g, type = "CR2"), reps = 5)
ref <- bench(estimatr::lm_robust(fml, data = d, clusters = g, se_type = "CR2"), reps = 3)
stopifnot(max(abs(coef(ours$value) - coef(ref$value)) / abs(coef(ref$value))) < 1e-8)
record("2b", "cluster_lm CR2 vs estimatr::lm_robust", n2, G2, ours$time, ref$time, 10,
       diff = rel_diff(vcov(ours$value), vcov(ref$value)))
rm(d, ours, ref); free()

## ---- 3. cluster_lm vs lm + vcovCL at 1e7 rows ---------------------------------------

set.seed(20240603)
n3 <- 1e7 / shrink_n; G3 <- 1e4 / shrink_G
cat(sprintf("== 3. cluster_lm(..., cluster = ~ g) (fit + HC1) vs lm() + sandwich::vcovCL(); n = %g, G = %d\n", n3, G3))
d <- make_regression_data(n3, G3)
free()
ours <- bench(clusterab::cluster_lm(fml, data = d, cluster = ~ g), reps = 3, budget = 5)
ref <- bench({
  fit <- lm(fml, data = d)
  list(coef = coef(fit), vcov = sandwich::vcovCL(fit, cluster = ~ g))
}, reps = 1)
rm(fit); free()
coef_diff <- max(abs(coef(ours$value) - ref$value$coef) / abs(ref$value$coef))
cat(sprintf("  max relative difference of coefficients: %.2e\n", coef_diff))
record(3, "cluster_lm HC1 vs lm + sandwich::vcovCL", n3, G3, ours$time, ref$time, 10, target_ours = 2,
       diff = rel_diff(vcov(ours$value), ref$value$vcov))

## Where our time goes at this n (internal steps of cluster_lm(); skipped if
## the internals have changed).
breakdown <- tryCatch({
  ns <- asNamespace("clusterab")
  step <- function(expr) {
    expr <- substitute(expr)
    env <- parent.frame()
    val <- NULL
    t <- min(replicate(3, system.time(val <<- eval(expr, env))[["elapsed"]]))
    list(t = t, val = val)
  }
  s_mc <- step(ns$model_columns(fml, d, cluster = ~ g))
  mc <- s_mc$val
  s_codes <- step(ns$cluster_codes(mc$cluster[[1L]]))
  codes <- s_codes$val
  cols <- c(mc$columns, list(y = mc$y))
  s_fin <- step(ns$check_finite(cols, threads))
  shift <- unname(s_fin$val)
  s_mom <- step(ns$cpp_cluster_moments(mc$columns, mc$y, NULL, codes$codes, codes$G, shift, 1L, threads))
  st <- ns$compress_columns(mc, codes, all_powers = FALSE, threads = threads, formula = fml)
  s_fit <- step(ns$fit_from_stats(st, "HC1", TRUE, threads))
  data.frame(step = c("model_columns()", "cluster_codes()", "check_finite() (means, Inf check)",
                      "cpp_cluster_moments() (compress)", "fit_from_stats() (solve + HC1)"),
             seconds = c(s_mc$t, s_codes$t, s_fin$t, s_mom$t, s_fit$t))
}, error = function(e) {
  cat("  (breakdown skipped: ", conditionMessage(e), ")\n", sep = "")
  NULL
})
if (!is.null(breakdown)) {
  cat(sprintf("  breakdown of our cluster_lm() at n = %g (best of 3 per step; total %.3f s vs %.3f s for the whole call):\n",
              n3, sum(breakdown$seconds), ours$time))
  for (i in seq_len(nrow(breakdown))) cat(sprintf("    %-36s %7.3f s\n", breakdown$step[i], breakdown$seconds[i]))
  cat("\n")
}
rm(d, ours, ref); free()

## ---- summary --------------------------------------------------------------------------

tab <- do.call(rbind, results)
cat(sprintf("== Summary%s (ratio = reference time / our time; times in seconds)\n",
            if (quick) " -- QUICK MODE, targets apply to the full run" else ""))
out <- data.frame(sec = tab$sec, comparison = tab$comparison, n = tab$n, G = tab$G,
                  ours = sprintf("%.4f", tab$ours_s), reference = sprintf("%.3f", tab$ref_s),
                  ratio = sprintf("%.1f", tab$ratio), target = tab$target, met = tab$met,
                  max_rel_diff = sprintf("%.1e", tab$max_rel_diff))
print(out, row.names = FALSE, right = FALSE)
cat(sprintf("\n%d of %d targets met. (%s at end; other jobs running at the same time inflate the times.)\n",
            sum(tab$met == "yes"), nrow(tab), loadavg()))
