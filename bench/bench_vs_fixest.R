## cluster_lm() beside fixest::feols() (and lm() + sandwich::vcovCL() for
## small n), in one process, on the same data: times (minimum of repetitions,
## interleaved), ratios, SE agreement, the thread ratio of cluster_lm (threads
## = 2 vs 1) and the floor ratio (cluster_lm / a plain pass that only sums
## the columns it reads), with "target: ... met / NOT met" lines. The last
## section runs bench/bench_fixed_effects.R (absorbed fixed effects: a
## 1,000-level and a 1e5-level effect, two effects) on the same library path.
##
##   Rscript bench/bench_vs_fixest.R           # n = 1e5, 1e6, 1e7
##   Rscript bench/bench_vs_fixest.R quick     # n / 10, for checks
##
## Run from the package root with clusterab installed (R_LIBS). fixest is
## used when installed; when it is missing it is installed from CRAN into a
## private library (CLUSTERAB_BENCH_LIB, default ~/.cache/clusterab-bench-lib),
## which the script says. Timings are only meaningful on an otherwise idle
## machine: every row prints the load average.

suppressMessages(library(clusterab))
source("bench/bench_helpers.R")
args <- commandArgs(trailingOnly = TRUE)
quick <- "quick" %in% args
scale_n <- if (quick) 0.1 else 1

## fixest: installed, else from CRAN into a private library
if (!requireNamespace("fixest", quietly = TRUE)) {
  lib <- Sys.getenv("CLUSTERAB_BENCH_LIB", path.expand("~/.cache/clusterab-bench-lib"))
  dir.create(lib, recursive = TRUE, showWarnings = FALSE)
  .libPaths(c(lib, .libPaths()))
  if (!requireNamespace("fixest", quietly = TRUE)) {
    repos <- getOption("repos")
    if (!length(repos) || any(repos == "@CRAN@")) {
      cat("fixest is not installed and R has no CRAN mirror set (options(repos = ...)): skipping its install\n")
    } else {
      cat(sprintf("fixest is not installed: installing it from CRAN into %s (once)\n", lib))
      utils::install.packages("fixest", lib = lib, repos = repos, quiet = TRUE)
    }
  }
}
has_fixest <- requireNamespace("fixest", quietly = TRUE)
if (!has_fixest) cat("fixest is absent (and could not be installed): its columns are NA.\n")
has_sandwich <- requireNamespace("sandwich", quietly = TRUE)

Rcpp::sourceCpp("bench/floor_pass.cpp")
cores <- RcppParallel::defaultNumThreads()
## can this machine run `cores` threads at once right now? (a shared machine
## may not: then the thread ratios below say nothing about the code)
spin <- sapply(c(1L, cores), function(th) min(replicate(3, system.time(spin_parallel(th))[["elapsed"]])))
machine_speedup <- spin[1L] / spin[2L]
cat(sprintf("machine check: a trivially parallel loop runs x%.2f faster on %d threads than on 1%s\n",
            machine_speedup, cores,
            if (cores > 1 && machine_speedup < 0.8 * cores) " (the cores are busy: the thread targets cannot be judged now)" else ""))
cat(sprintf("clusterab %s, fixest %s, %d cores, %s%s\n", utils::packageVersion("clusterab"),
            if (has_fixest) as.character(utils::packageVersion("fixest")) else "absent",
            cores, loadavg(), if (quick) ", QUICK mode (n / 10)" else ""))

## minimum elapsed time of `reps` runs of each function, interleaved
time_min <- function(funs, reps) {
  times <- matrix(NA_real_, reps, length(funs), dimnames = list(NULL, names(funs)))
  values <- vector("list", length(funs))
  names(values) <- names(funs)
  for (r in seq_len(reps)) {
    for (k in names(funs)) {
      if (is.null(funs[[k]])) next
      gc(FALSE)
      times[r, k] <- system.time(values[[k]] <- funs[[k]]())[["elapsed"]]
    }
  }
  list(time = apply(times, 2L, function(t) if (all(is.na(t))) NA_real_ else min(t, na.rm = TRUE)),
       value = values)
}

xs <- paste0("x", 1:10)
fml <- stats::reformulate(xs, "y")
se_of <- function(V) sqrt(diag(as.matrix(V)))
rel_diff <- function(a, b) if (is.null(a) || is.null(b)) NA_real_ else max(abs(a / b - 1))

## fixest's two-way default is G.df = "min" (every term min(G) / (min(G) - 1));
## cluster_lm() offers it as cadjust = "min" once the multiway work is merged.
has_min <- !inherits(try(suppressWarnings(cluster_lm(
  y ~ x1, make_regression_data(200, 20), cluster = ~ g + x1 > 1, cadjust = "min")),
  silent = TRUE), "try-error")
if (!has_min) cat("cluster_lm() has no cadjust = \"min\" yet: the two-way SEs use sandwich's per-term rule, not fixest's.\n")

## the floor is fast: time it as a batch of `k` passes
floor_batch <- function(cols, threads, k) {
  for (i in seq_len(k)) out <- floor_column_sums(cols, threads)
  out
}

results <- list()
bench_row <- function(label, n, G, cluster = "g", two_way = NULL, thread_target = FALSE) {
  set.seed(1)
  d <- make_regression_data(n, G)
  if (!is.null(two_way)) d$h <- sample.int(two_way, n, replace = TRUE)
  cl <- if (is.null(two_way)) ~ g else ~ g + h
  G_actual <- length(unique(d$g))
  reps <- if (n >= 5e6) 2L else 3L
  floor_cols <- c(d[c(xs, "y")], list(g = as.numeric(d$g)))  # the 12 columns read
  cadj <- if (!is.null(two_way) && has_min) "min" else TRUE
  k_floor <- max(1L, as.integer(1e7 / n))
  funs <- list(
    ours = function() suppressWarnings(cluster_lm(fml, d, cluster = cl, cadjust = cadj, threads = cores)),
    ours_1 = function() suppressWarnings(cluster_lm(fml, d, cluster = cl, cadjust = cadj, threads = 1)),
    fixest_1 = if (has_fixest) function() {
      fixest::setFixest_nthreads(1); fixest::feols(fml, d, cluster = cl, notes = FALSE) },
    fixest_all = if (has_fixest && cores > 1) function() {
      fixest::setFixest_nthreads(cores); fixest::feols(fml, d, cluster = cl, notes = FALSE) },
    lm_vcovCL = if (has_sandwich && n <= 1e5) function() {
      sandwich::vcovCL(stats::lm(fml, d), cluster = if (is.null(two_way)) d$g else d[c("g", "h")],
                       type = "HC1") },
    floor = function() floor_batch(floor_cols, cores, k_floor),
    floor_1 = function() floor_batch(floor_cols, 1L, k_floor))
  tm <- time_min(funs, reps)
  t <- tm$time
  t[c("floor", "floor_1")] <- t[c("floor", "floor_1")] / k_floor
  ours_se <- se_of(vcov(tm$value$ours))
  fix_t <- suppressWarnings(min(t[c("fixest_1", "fixest_all")], na.rm = TRUE))
  if (!is.finite(fix_t)) fix_t <- NA_real_
  fix_se <- if (has_fixest) se_of(stats::vcov(tm$value$fixest_1))
  lm_se <- if (!is.null(tm$value$lm_vcovCL)) se_of(tm$value$lm_vcovCL)
  row <- data.frame(
    data = label, n = n, G = G_actual, ours = t[["ours"]], ours_1 = t[["ours_1"]],
    fixest = fix_t, fixest_threads = if (has_fixest) (if (isTRUE(t[["fixest_all"]] < t[["fixest_1"]])) cores else 1L) else NA,
    ratio = fix_t / t[["ours"]], lm_vcovCL = t[["lm_vcovCL"]],
    thread_ratio = t[["ours_1"]] / t[["ours"]], floor = t[["floor"]],
    floor_ratio = t[["ours"]] / t[["floor"]], floor_ratio_1 = t[["ours_1"]] / t[["floor_1"]],
    se_vs_fixest = rel_diff(ours_se, fix_se), se_vs_vcovCL = rel_diff(ours_se, lm_se),
    thread_target = thread_target, load = loadavg(), stringsAsFactors = FALSE)
  cat(sprintf("%-34s G=%9s  ours %.3f s (1 thread %.3f)  fixest %s (threads %s)  ratio %s  lm+vcovCL %s  threads x%.2f  floor x%.1f  SE diff %s  [%s]\n",
              label, format(G_actual, big.mark = ","), row$ours, row$ours_1,
              if (is.na(fix_t)) "NA" else sprintf("%.3f s", fix_t), row$fixest_threads,
              if (is.na(row$ratio)) "NA" else sprintf("%.2f", row$ratio),
              if (is.na(row$lm_vcovCL)) "-" else sprintf("%.3f s", row$lm_vcovCL),
              row$thread_ratio, row$floor_ratio,
              formatC(max(row$se_vs_fixest, row$se_vs_vcovCL, na.rm = TRUE), format = "e", digits = 1),
              row$load))
  results[[length(results) + 1L]] <<- row
  invisible(row)
}

cat("\n## One-way clustering, 10 numeric covariates, type HC1 (fixest's default ssc)\n")
for (n in c(1e5, 1e6, 1e7) * scale_n) {
  largest <- n >= 1e7 * scale_n
  bench_row(sprintf("n = %g, G = 100", n), n, 100)
  bench_row(sprintf("n = %g, G = 1e4", n), n, 1e4, thread_target = largest)
  bench_row(sprintf("n = %g, about 1.6 rows per cluster", n), n, n)
  if (largest) bench_row(sprintf("n = %g, G = %g", n, 1e6 * scale_n), n, 1e6 * scale_n, thread_target = TRUE)
}
cat("\n## Two-way clustering (1e4 x 1e3)\n")
bench_row(sprintf("n = %g, two-way 1e4 x 1e3", 1e6 * scale_n), 1e6 * scale_n, 1e4, two_way = 1e3)


res <- do.call(rbind, results)
cat("\n")
print(res[c("data", "G", "ours", "ours_1", "fixest", "ratio", "thread_ratio", "floor_ratio",
            "se_vs_fixest")], digits = 3, row.names = FALSE)

cat("\n")
target <- function(ok, text) cat(sprintf("target: %s: %s\n", text, if (isTRUE(ok)) "met" else "NOT met"))
for (i in seq_len(nrow(res))) {
  target(isTRUE(res$ours[i] <= 2 / 3 * res$fixest[i]),
         sprintf("%s: ours <= 2/3 of fixest (%.3f vs %.3f s)", res$data[i], res$ours[i], res$fixest[i]))
}
big <- res[res$thread_target, ]
for (i in seq_len(nrow(big))) {
  target(big$thread_ratio[i] >= 1.6,
         sprintf("%s: threads = 2 at least 1.6x faster than threads = 1 (x%.2f; machine check x%.2f)",
                 big$data[i], big$thread_ratio[i], machine_speedup))
  target(big$floor_ratio[i] <= 3,
         sprintf("%s: whole fit within 3x of the column-sum floor (x%.2f; one thread x%.2f)",
                 big$data[i], big$floor_ratio[i], big$floor_ratio_1[i]))
}
same_rule <- has_min | !grepl("two-way", res$data)
target(all(res$se_vs_fixest[same_rule] < 1e-10, na.rm = TRUE),
       sprintf("SEs equal fixest's to 1e-10 (largest difference %.1e%s)",
               max(res$se_vs_fixest[same_rule], na.rm = TRUE),
               if (all(same_rule)) "" else "; two-way rows left out: no cadjust = \"min\" yet"))
cat(loadavg(), "\n")

## ---- Absorbed fixed effects: bench/bench_fixed_effects.R, run here on the
## same library path (so with the fixest found or installed above)
cat("\n## Absorbed fixed effects (bench/bench_fixed_effects.R)\n")
source(file.path("bench", "bench_fixed_effects.R"), local = new.env())
