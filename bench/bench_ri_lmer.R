## Benchmark: clusterab's ri_lmer() against lme4::lmer() and lmerTest::lmer()
## on the same simulated data in one R process (section 3 in a child R
## process of its own, so that its peak memory is its own).
##
## Run from the package root, against an installed clusterab:
##
##     Rscript bench/bench_ri_lmer.R          # full run: a few minutes, ~4 GB RAM
##     Rscript bench/bench_ri_lmer.R quick    # n / 10 (and G / 10): a smoke test, seconds
##
## To benchmark a private build without touching the source tree:
##
##     R CMD INSTALL -l /tmp/benchlib .   (from a copy of the sources)
##     R_LIBS=/tmp/benchlib Rscript bench/bench_ri_lmer.R
##
## The timings mean something only for an optimised build: the script prints
## the compiler flags recorded in the loaded clusterab.so (if readelf is
## available) and warns when it was compiled with -O0.
##
## Needs: clusterab, lme4, lmerTest.
##
## Model: y ~ treat + x + (1 | g); treat is 0/1 and constant within a cluster
## (cluster-randomised), x varies by row; random intercept sd 1, residual
## sd 2; integer cluster column, rows in random order.
##   1. n = 1e6, G = 1e4 clusters of unequal sizes (1 to ~1000 rows):
##      a. ri_lmer(y ~ treat + x + (1 | g), d) vs lme4::lmer(), end to end
##                                                               target ratio >= 50
##      b. ri_lmer() + summary(, ddf = "Satterthwaite") vs lmerTest::lmer() +
##         summary(), end to end                                target ratio >= 50
##   2. Same fit: fit + summary(fit, ddf = "Satterthwaite") (the coefficient
##      table with Satterthwaite df, which summary() computes; nothing printed)
##      relative to the fit alone                     target (fit + S) / fit <= 1.5
##   3. n = 1e7, G = 1e6 clusters (sizes 1 + Poisson(9), mean 10), in a child
##      process (Rscript -e) started fresh:
##      st <- cluster_stats(d, y ~ treat + x, cluster = "g") (info), then
##      a. ri_lmer(st), the fit from the statistics             target < 5 s
##      b. peak resident memory of the child process (VmHWM in /proc/self/status,
##         which covers C/C++ allocations as well as R's), read after the fit;
##         it includes generating the data (~0.3 GB as integer g and double
##         treat, x, y)                                          target < 3 GB
##         R's own gc() "max used" after gc(reset = TRUE) just before
##         cluster_stats() is printed as info (R heap only, data included).
##
## Times are system.time()[["elapsed"]]: the MEDIAN of up to `reps` runs, fewer
## when one run takes longer than `budget` seconds (the lme4 and lmerTest fits
## are timed once). "ratio" = reference / ours, except in section 2.
## Agreement: "max rel diff" is max |ours - ref| / |ref| over the fixed
## effects and, separately, over the variance components (random-intercept
## variance and residual variance); "agree" is yes when both are < 1e-6 (and,
## against lmerTest, the Satterthwaite df < 1e-4: lmerTest differentiates
## numerically). Agreement is checked but is not counted among the targets.

options(width = 160)
args <- commandArgs(trailingOnly = TRUE)
quick <- "quick" %in% args
shrink_n <- if (quick) 10 else 1
shrink_G <- if (quick) 10 else 1

suppressPackageStartupMessages({
  for (pkg in c("clusterab", "lme4", "lmerTest")) {
    if (!requireNamespace(pkg, quietly = TRUE)) {
      stop(sprintf("package `%s` is needed for this benchmark; install it first.", pkg), call. = FALSE)
    }
  }
  library(clusterab)
})

threads <- clusterab:::resolve_threads(NULL)
cat(sprintf("clusterab %s (%s), lme4 %s, lmerTest %s\n",
            packageVersion("clusterab"), dirname(system.file(package = "clusterab")),
            packageVersion("lme4"), packageVersion("lmerTest")))
cat(sprintf("%s, %d cores, clusterab threads = %d, BLAS %s%s\n", R.version.string,
            parallel::detectCores(), threads, basename(extSoftVersion()[["BLAS"]]),
            if (quick) ", QUICK MODE (n / 10, G / 10; targets are for the full run)" else ""))

## The compiler flags of the loaded shared library: an -O0 (debug) build is
## many times slower and its timings say nothing about the package.
so_flags <- tryCatch({
  so <- getLoadedDLLs()[["clusterab"]][["path"]]
  out <- suppressWarnings(system(sprintf("readelf --debug-dump=info %s 2>/dev/null | grep -m1 DW_AT_producer",
                                         shQuote(so)), intern = TRUE))
  if (length(out)) sub(".*\\): ", "", out[1L]) else NA_character_
}, error = function(e) NA_character_)
if (is.na(so_flags)) {
  cat("compiler flags of clusterab.so: unknown (no readelf or no debug info)\n")
} else {
  cat("clusterab.so compiled with:", so_flags, "\n")
  if (grepl("-O0", so_flags, fixed = TRUE)) {
    cat("WARNING: clusterab was compiled with -O0 (unoptimised); these timings are not representative.\n",
        "         Reinstall with the default flags (see the top of this file for a private build).\n", sep = "")
  }
}
cat("\n")

## ---- helpers ----------------------------------------------------------------

source(file.path("bench", "bench_helpers.R"))
cat(loadavg(), "at start\n\n")

## Peak resident set size of this process so far, in MB (NA off Linux).
vmhwm_mb <- function() {
  if (!file.exists("/proc/self/status")) return(NA_real_)
  line <- grep("^VmHWM:", readLines("/proc/self/status"), value = TRUE)
  if (!length(line)) return(NA_real_)
  as.numeric(gsub("[^0-9]", "", line)) / 1024                # kB -> MB
}

max_rel <- function(ours, ref) max(abs(unname(ours) - unname(ref)) / abs(unname(ref)))

## Variance components (random intercept, residual) of an lme4 or ri_lmer fit.
var_comps <- function(fit) {
  vc <- as.data.frame(if (inherits(fit, "ri_lmer")) VarCorr(fit) else lme4::VarCorr(fit))
  stats::setNames(vc$vcov, vc$grp)
}

## One simulated data set: data.frame(g (integer), treat, x, y (doubles)),
## built column by column without copies. Every cluster has at least one row;
## the rest of the rows go to clusters with probabilities `prob` (uniform if
## NULL), then the rows are shuffled if `shuffle`.
make_data <- function(n, G, prob = NULL, shuffle = TRUE) {
  g <- c(seq_len(G), sample.int(G, n - G, replace = TRUE, prob = prob))
  if (shuffle) g <- g[sample.int(n)]
  d <- list(g = g)
  rm(g)
  d$treat <- as.double(stats::rbinom(G, 1L, 0.5))[d$g]       # cluster-level 0/1
  d$x <- stats::rnorm(n)                                     # row-level
  y <- stats::rnorm(n, sd = 2)                               # residual, sd 2
  y <- y + stats::rnorm(G, sd = 1)[d$g]                      # random intercept, sd 1
  y <- y + 1 + 0.5 * d$treat + 0.3 * d$x
  d$y <- y
  rm(y)
  attr(d, "row.names") <- c(NA_integer_, -as.integer(n))
  class(d) <- "data.frame"
  d
}

fml <- y ~ treat + x + (1 | g)

results <- list()
## One row of the summary table. `ratio`, `target` and `met` are given by the
## caller; met = NA marks an information row (not a target).
record <- function(section, what, n, G, ours, ref, ratio, target, met, diff = NA_real_, agree = NA,
                   ours_text = sprintf("%.4f", ours), ref_text = sprintf("%.3f", ref),
                   ratio_text = sprintf("%.1f", ratio)) {
  results[[length(results) + 1L]] <<- data.frame(
    sec = section, comparison = what, n = format(n, scientific = TRUE), G = format(as.numeric(G), scientific = TRUE),
    ours = ours_text, reference = ref_text, ratio = ratio_text, target = target,
    met = if (is.na(met)) "-" else if (met) "yes" else "NO",
    max_rel_diff = if (is.na(diff)) "" else sprintf("%.1e", diff),
    agree = if (is.na(agree)) "" else if (agree) "yes" else "NO", stringsAsFactors = FALSE)
  if (!is.na(met)) {
    cat(sprintf("  -> %s: ours %s, reference %s, ratio %s (target %s: %s)\n\n", what, ours_text, ref_text,
                ratio_text, target, if (met) "met" else "NOT met"))
  }
}

free <- function() invisible(gc(verbose = FALSE, full = TRUE))

## ---- 3. (run first, in a child process) ri_lmer from cluster_stats at 1e7 rows ------

## Runs in a fresh `Rscript -e` process: generates the data, times
## cluster_stats() and ri_lmer(st), reads the peak RSS, then (outside the
## measured peak) checks ri_lmer(st) against ri_lmer() on the data frame.
## Saves its results to `out` (an .rds file).
section3_child <- function(n, G, seed, out) {
  suppressPackageStartupMessages(library(clusterab))
  set.seed(seed)
  t_data <- system.time(d <- make_data(n, G, shuffle = FALSE))[["elapsed"]]
  mb_data <- as.numeric(utils::object.size(d)) / 2^20
  hwm_data <- vmhwm_mb()
  cat(sprintf("  child: data generated in %.1f s (%.0f MB as a data frame); VmHWM so far %.0f MB\n",
              t_data, mb_data, hwm_data))
  invisible(gc(reset = TRUE, full = TRUE))
  t_stats <- system.time(st <- cluster_stats(d, y ~ treat + x, cluster = "g"))[["elapsed"]]
  fit <- bench(ri_lmer(st), reps = 3, budget = 5)
  gcm <- gc()
  hwm <- vmhwm_mb()
  gc_max <- sum(gcm[, 6L])                                    # "max used" (Mb), Ncells + Vcells
  cat(sprintf("  child: cluster_stats() %.2f s (%d clusters); ri_lmer(st) %.3f s (median of %d); VmHWM %.0f MB; R gc max used %.0f MB\n",
              t_stats, length(st$n), fit$time, fit$runs, hwm, gc_max))
  ## Check: the same model fitted from the data frame (not part of the peak above).
  t_df <- system.time(fit_df <- ri_lmer(y ~ treat + x + (1 | g), d))[["elapsed"]]
  diff <- max(max_rel(fixef(fit$value), fixef(fit_df)), max_rel(var_comps(fit$value), var_comps(fit_df)))
  saveRDS(list(t_data = t_data, mb_data = mb_data, hwm_data = hwm_data, t_stats = t_stats,
               t_fit = fit$time, runs = fit$runs, hwm = hwm, gc_max = gc_max, G = length(st$n),
               t_df = t_df, diff = diff, fixef = fixef(fit$value), vc = var_comps(fit$value)), out)
}

set.seed(20240703)
n3 <- 1e7 / shrink_n; G3 <- 1e6 / shrink_G
cat(sprintf("== 3. cluster_stats() then ri_lmer(st), in a fresh child R process; n = %g, G = %g\n", n3, G3))
out3 <- tempfile(fileext = ".rds")
child_code <- paste(c(
  sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
  sprintf("options(clusterab.threads = %d)", threads),
  "bench <- ", deparse(bench), "vmhwm_mb <- ", deparse(vmhwm_mb), "max_rel <- ", deparse(max_rel),
  "var_comps <- ", deparse(var_comps), "make_data <- ", deparse(make_data),
  "section3_child <- ", deparse(section3_child),
  sprintf("section3_child(%.0f, %.0f, %d, %s)", n3, G3, 20240703L, deparse(out3))), collapse = "\n")
status <- system2(file.path(R.home("bin"), "Rscript"), c("-e", shQuote(child_code)))
if (!identical(status, 0L) || !file.exists(out3)) stop("the section 3 child process failed (status ", status, ").", call. = FALSE)
r3 <- readRDS(out3)
unlink(out3)
cat(sprintf("  cluster_stats(d, y ~ treat + x, cluster = \"g\"): %.2f s (info); ri_lmer(st): %.3f s; ri_lmer() on the data frame: %.2f s (info)\n",
            r3$t_stats, r3$t_fit, r3$t_df))
cat(sprintf("  peak RSS of the child (VmHWM): %.0f MB (after generating the data: %.0f MB; data frame %.0f MB); R gc() max used since reset: %.0f MB\n",
            r3$hwm, r3$hwm_data, r3$mb_data, r3$gc_max))
cat(sprintf("  ri_lmer(st) vs ri_lmer(data frame): max rel diff of fixef and variance components %.2e\n", r3$diff))
record("3", "cluster_stats() (compress, info)", n3, r3$G, r3$t_stats, NA, NA, "(info)", NA,
       ref_text = "-", ratio_text = "-")
record("3a", "ri_lmer(st) fit from cluster_stats", n3, r3$G, r3$t_fit, NA, NA, "ours < 5 s", r3$t_fit < 5,
       diff = r3$diff, agree = r3$diff < 1e-6, ref_text = "-", ratio_text = "-")
record("3b", "peak RSS of child (VmHWM), MB", n3, r3$G, r3$hwm, NA, NA, "< 3072 MB", r3$hwm < 3072,
       ours_text = sprintf("%.0f MB", r3$hwm), ref_text = "-", ratio_text = "-")
record("3b", "R gc() max used (info), MB", n3, r3$G, r3$gc_max, NA, NA, "(info)", NA,
       ours_text = sprintf("%.0f MB", r3$gc_max), ref_text = "-", ratio_text = "-")

## ---- 1. ri_lmer vs lme4::lmer and lmerTest::lmer -----------------------------------------

set.seed(20240701)
n1 <- 1e6 / shrink_n; G1 <- 1e4 / shrink_G
d <- make_data(n1, G1, prob = stats::rgamma(G1, shape = 1.5))
sizes <- tabulate(d$g, G1)
cat(sprintf("== 1a. ri_lmer(%s, d) vs lme4::lmer(), end to end; n = %g, G = %g (cluster sizes %d to %d, median %g)\n",
            deparse1(fml), n1, G1, min(sizes), max(sizes), stats::median(sizes)))
free()
ours <- bench(ri_lmer(fml, d), reps = 7, budget = 5)
ref <- bench(lme4::lmer(fml, data = d), reps = 1)
fe_diff <- max_rel(fixef(ours$value), lme4::fixef(ref$value))
vc_diff <- max_rel(var_comps(ours$value), var_comps(ref$value))
crit_diff <- REMLcrit(ours$value) - lme4::REMLcrit(ref$value)
cat(sprintf("  ri_lmer %.4f s (median of %d, batches of %d); lme4::lmer %.3f s\n", ours$time, ours$runs, ours$k, ref$time))
cat(sprintf("  max rel diff: fixef %.2e, variance components %.2e; REML criterion ours - lme4 = %.2e\n",
            fe_diff, vc_diff, crit_diff))
record("1a", "ri_lmer vs lme4::lmer", n1, G1, ours$time, ref$time, ref$time / ours$time, ">= 50",
       ref$time / ours$time >= 50, diff = max(fe_diff, vc_diff), agree = fe_diff < 1e-6 && vc_diff < 1e-6)
t_fit_1a <- ours$time
rm(ref); free()

cat(sprintf("== 1b. ri_lmer() + summary(, ddf = \"Satterthwaite\") vs lmerTest::lmer() + summary(), end to end; n = %g, G = %g\n",
            n1, G1))
ours_s <- bench({
  fit <- ri_lmer(fml, d)
  coef(summary(fit, ddf = "Satterthwaite"))
}, reps = 7, budget = 5)
ref_s <- bench({
  m <- lmerTest::lmer(fml, data = d)
  coef(summary(m))
}, reps = 1)
tab_ours <- ours_s$value; tab_ref <- ref_s$value
stopifnot(identical(rownames(tab_ours), rownames(tab_ref)))
fe_diff_s <- max_rel(tab_ours[, "Estimate"], tab_ref[, "Estimate"])
se_diff <- max_rel(tab_ours[, "Std. Error"], tab_ref[, "Std. Error"])
df_diff <- max_rel(tab_ours[, "df"], tab_ref[, "df"])
cat(sprintf("  ours %.4f s (median of %d); lmerTest %.3f s\n", ours_s$time, ours_s$runs, ref_s$time))
cat(sprintf("  max rel diff: estimates %.2e, std. errors %.2e, Satterthwaite df %.2e\n", fe_diff_s, se_diff, df_diff))
cat("  ours:\n"); print(signif(tab_ours, 8))
cat("  lmerTest:\n"); print(signif(tab_ref, 8))
record("1b", "ri_lmer + summary vs lmerTest::lmer + summary", n1, G1, ours_s$time, ref_s$time,
       ref_s$time / ours_s$time, ">= 50", ref_s$time / ours_s$time >= 50,
       diff = max(fe_diff_s, se_diff, df_diff), agree = fe_diff_s < 1e-6 && se_diff < 1e-6 && df_diff < 1e-4)
rm(ref_s, tab_ref); free()

## ---- 2. cost of the Satterthwaite summary relative to the fit -------------------------------

cat(sprintf("== 2. summary(fit, ddf = \"Satterthwaite\") (coefficient table) vs the fit itself; n = %g, G = %g\n", n1, G1))
fit <- ri_lmer(fml, d)
fit_t <- bench(ri_lmer(fml, d), reps = 7, budget = 5)
summ_t <- bench({
  s <- summary(fit, ddf = "Satterthwaite")
  coef(s)
}, reps = 7)
rel <- (fit_t$time + summ_t$time) / fit_t$time
cat(sprintf("  fit %.4f s (median of %d), summary %.6f s (median of %d batches of %d); fit + summary together (1b) %.4f s\n",
            fit_t$time, fit_t$runs, summ_t$time, summ_t$runs, summ_t$k, ours_s$time))
record("2", "(fit + Satterthwaite summary) / fit", n1, G1, fit_t$time + summ_t$time, fit_t$time, rel,
       "<= 1.5", rel <= 1.5, ref_text = sprintf("%.4f", fit_t$time), ratio_text = sprintf("%.3f", rel))

## Where the time of ri_lmer() on a data frame goes (its internal steps;
## skipped if the internals have changed).
breakdown <- tryCatch({
  ns <- asNamespace("clusterab")
  step <- function(res) list(t = res$time, val = res$value)
  parts <- ns$random_intercept_formula(fml)
  s_mc <- step(bench(ns$model_columns(parts$fixed, d, weights = NULL, cluster = ~ g, env = environment(fml))))
  mc <- s_mc$val
  s_codes <- step(bench(ns$cluster_codes(mc$cluster[[1L]], what = "g")))
  codes <- s_codes$val
  s_comp <- step(bench(ns$compress_columns(mc, codes, all_powers = FALSE, threads = threads, formula = parts$fixed)))
  st <- s_comp$val
  s_fit <- step(bench(ns$fit_ri_lmer(st, TRUE, NULL, NULL)))
  s_sum <- step(bench(summary(s_fit$val, ddf = "Satterthwaite")))
  data.frame(step = c("model_columns()", "cluster_codes()", "compress_columns() (check + C++ pass)",
                      "fit_ri_lmer() (optimise + estimates)", "summary(, \"Satterthwaite\")"),
             seconds = c(s_mc$t, s_codes$t, s_comp$t, s_fit$t, s_sum$t))
}, error = function(e) {
  cat("  (breakdown skipped: ", conditionMessage(e), ")\n", sep = "")
  NULL
})
if (!is.null(breakdown)) {
  cat(sprintf("  breakdown of ri_lmer() on the data frame at n = %g (median of 5 per step, via bench(); steps sum to %.4f s vs %.4f s for the whole call):\n",
              n1, sum(breakdown$seconds[1:4]), fit_t$time))
  for (i in seq_len(nrow(breakdown))) cat(sprintf("    %-40s %9.5f s\n", breakdown$step[i], breakdown$seconds[i]))
  cat("\n")
}
rm(d, fit, ours, ours_s, fit_t, summ_t); free()

## ---- summary --------------------------------------------------------------------------

tab <- do.call(rbind, results)
tab <- tab[order(tab$sec, seq_len(nrow(tab))), ]
cat(sprintf("== Summary%s (ratio = reference time / our time, except section 2; times in seconds)\n",
            if (quick) " -- QUICK MODE, targets apply to the full run" else ""))
print(tab, row.names = FALSE, right = FALSE)
targets <- tab$met != "-"
checks <- tab$agree != ""
cat(sprintf("\nAgreement: %d of %d checks within tolerance.\n", sum(tab$agree[checks] == "yes"), sum(checks)))
cat(sprintf("\n%d of %d targets met. (%s at end; other jobs running at the same time inflate the times.)\n",
            sum(tab$met[targets] == "yes"), sum(targets), loadavg()))
