## Benchmark: randomization_test() against brute-force R code, on the same
## simulated data in one R process.
##
## Run from the package root, against an installed clusterab:
##
##     Rscript bench/bench_randomization_test.R          # about a minute
##     Rscript bench/bench_randomization_test.R quick    # skips section 4 (interval by re-enumeration)
##
## To benchmark a private build without touching the source tree:
##
##     R CMD INSTALL -l /tmp/benchlib .   (from a copy of the sources)
##     R_LIBS=/tmp/benchlib Rscript bench/bench_randomization_test.R
##
## Needs: clusterab.
##
## Sections (cluster sizes 5-40, half the clusters treated, difference in
## cluster means):
##   1. G = 30, 15 treated: exact test over all 155,117,520 assignments on 2
##      threads (no interval).                                 target ours < 10 s
##      (1 thread also timed; no target.)
##   2. G = 20, 10 treated (184,756 assignments): exact test vs a brute-force
##      loop over utils::combn(G, 10, FUN = ...) computing the statistic of
##      each assignment in R, the way the issue describes today's practice.
##                                                            target ratio >= 100
##      (Also shown: a vectorised R version, an indicator matrix and
##      crossprod(); no target.)
##   3. G = 30: Monte Carlo test with R = 1e5 draws vs an R loop of
##      sample() draws.                                        target ratio >= 20
##   4. G = 30, exact, confidence interval by re-enumeration (conf.int = TRUE,
##      more than 1e7 assignments so pairs are not stored); no target.
##
## "ratio" = reference time / our time. p-values are checked to agree
## (exactly for section 2, within 4 Monte Carlo standard errors for 3).

options(width = 150)
args <- commandArgs(trailingOnly = TRUE)
quick <- "quick" %in% args

suppressPackageStartupMessages({
  if (!requireNamespace("clusterab", quietly = TRUE)) {
    stop("package `clusterab` is needed for this benchmark; install it first.", call. = FALSE)
  }
  library(clusterab)
})

threads <- clusterab:::resolve_threads(NULL)
cat(sprintf("clusterab %s (%s)\n", packageVersion("clusterab"),
            dirname(dirname(system.file(package = "clusterab")))))
cat(sprintf("%s, %d cores, clusterab threads = %d%s\n\n", R.version.string,
            parallel::detectCores(), threads, if (quick) ", QUICK MODE (section 4 skipped)" else ""))

source(file.path("bench", "bench_helpers.R"))
cat(loadavg(), "at start\n\n")

results <- list()
record <- function(section, what, G, ours, ref, target_ratio = NA_real_, target_ours = NA_real_,
                   note = "") {
  ratio <- ref / ours
  met <- (is.na(target_ratio) || ratio >= target_ratio) && (is.na(target_ours) || ours < target_ours)
  target <- paste(c(if (!is.na(target_ratio)) sprintf(">= %g", target_ratio),
                    if (!is.na(target_ours)) sprintf("ours < %g s", target_ours)), collapse = ", ")
  results[[length(results) + 1L]] <<- data.frame(
    sec = section, comparison = what, G = G, ours_s = ours, ref_s = ref, ratio = ratio,
    target = target, met = if (target == "") "-" else if (met) "yes" else "NO", note = note,
    stringsAsFactors = FALSE)
  cat(sprintf("  ours %.4f s, reference %s, ratio %s (%s) %s\n\n", ours,
              if (is.na(ref)) "-" else sprintf("%.3f s", ref),
              if (is.na(ratio)) "-" else sprintf("%.1f", ratio),
              if (target == "") "no target" else sprintf("target %s: %s", target, if (met) "met" else "NOT met"),
              note))
}

## Clustered data: G clusters of 5-40 rows, half of them treated.
make_data <- function(G) {
  size <- sample(5:40, G, replace = TRUE)
  g <- rep(seq_len(G), size)
  treat <- rep(rep(0:1, length.out = G), size)
  data.frame(g = g, treat = treat, y = 0.3 * treat + rnorm(G)[g] + rnorm(length(g)))
}

## ---- 1. exact, G = 30 --------------------------------------------------------------

set.seed(20240611)
d30 <- make_data(30)
cat("== 1. exact randomization_test(), G = 30, 15 treated: 155,117,520 assignments\n")
t1 <- system.time(r1 <- randomization_test(d30, "y", "treat", "g", exact = TRUE, conf.int = FALSE,
                                           threads = 1, progress = FALSE))[["elapsed"]]
cat(sprintf("  1 thread: %.2f s (%.1f ns per assignment)\n", t1, 1e9 * t1 / r1$n.assignments))
t2 <- system.time(r2 <- randomization_test(d30, "y", "treat", "g", exact = TRUE, conf.int = FALSE,
                                           threads = 2, progress = FALSE))[["elapsed"]]
stopifnot(identical(r1$counts, r2$counts))
cat(sprintf("  2 threads: %.2f s; p = %.6f (%s of %s assignments at least as extreme)\n", t2,
            r2$p.value, format(r2$count, big.mark = ","), format(r2$n.assignments, big.mark = ",")))
record(1, "exact, all 155,117,520 assignments, 2 threads", 30, t2, NA_real_, target_ours = 10,
       note = sprintf("1 thread %.2f s", t1))

## ---- 2. exact vs combn() brute force, G = 20 ------------------------------------------

set.seed(20240612)
d20 <- make_data(20)
cat("== 2. exact randomization_test() vs brute force with combn(), G = 20, 10 treated: 184,756 assignments\n")
ybar <- as.vector(tapply(d20$y, d20$g, mean))
z <- as.vector(tapply(d20$treat, d20$g, max)) == 1
k <- sum(z)
brute_loop <- function() {
  t0 <- mean(ybar[z]) - mean(ybar[!z])
  ts <- utils::combn(length(ybar), k, FUN = function(i) mean(ybar[i]) - mean(ybar[-i]))
  tol <- 1e-9 * max(abs(t0), max(abs(ybar - mean(ybar))))
  sum(abs(ts) >= abs(t0) - tol) / length(ts)
}
brute_matrix <- function() {
  cmb <- utils::combn(length(ybar), k)
  s1 <- colSums(matrix(ybar[cmb], nrow = k))
  ts <- s1 / k - (sum(ybar) - s1) / (length(ybar) - k)
  t0 <- mean(ybar[z]) - mean(ybar[!z])
  tol <- 1e-9 * max(abs(t0), max(abs(ybar - mean(ybar))))
  sum(abs(ts) >= abs(t0) - tol) / length(ts)
}
ours <- bench(randomization_test(d20, "y", "treat", "g", conf.int = FALSE, threads = threads,
                                 progress = FALSE), reps = 5)
ref <- bench(brute_loop(), reps = 1)
vec <- bench(brute_matrix(), reps = 3)
stopifnot(ours$value$p.value == ref$value, ours$value$p.value == vec$value)
cat(sprintf("  p = %.6f from all three; vectorised R (combn matrix + colSums): %.3f s\n",
            ours$value$p.value, vec$time))
record(2, "exact G = 20 vs combn(FUN) loop", 20, ours$time, ref$time, target_ratio = 100,
       note = sprintf("vectorised R %.3f s (ratio %.0f)", vec$time, vec$time / ours$time))

## ---- 3. Monte Carlo vs an R loop of sample() ------------------------------------------

cat("== 3. Monte Carlo randomization_test(), R = 1e5, G = 30, vs an R loop of sample()\n")
ybar30 <- as.vector(tapply(d30$y, d30$g, mean))
z30 <- as.vector(tapply(d30$treat, d30$g, max)) == 1
mc_loop <- function(R) {
  t0 <- mean(ybar30[z30]) - mean(ybar30[!z30])
  ts <- vapply(seq_len(R), function(r) {
    zz <- sample(z30)
    mean(ybar30[zz]) - mean(ybar30[!zz])
  }, 0)
  (sum(abs(ts) >= abs(t0) - 1e-9 * max(abs(t0), max(abs(ybar30 - mean(ybar30))))) + 1) / (R + 1)
}
set.seed(1)
ours <- bench(randomization_test(d30, "y", "treat", "g", exact = FALSE, R = 1e5, conf.int = FALSE,
                                 threads = threads, progress = FALSE), reps = 5)
ref <- bench(mc_loop(1e5), reps = 1)
se <- sqrt(r2$p.value * (1 - r2$p.value) / 1e5)
stopifnot(abs(ours$value$p.value - r2$p.value) < 4 * se + 1e-5, abs(ref$value - r2$p.value) < 4 * se + 1e-5)
cat(sprintf("  p: ours %.5f, R loop %.5f, exact %.5f (Monte Carlo SE %.5f)\n", ours$value$p.value,
            ref$value, r2$p.value, se))
record(3, "Monte Carlo R = 1e5 vs R loop of sample()", 30, ours$time, ref$time, target_ratio = 20)

## ---- 4. interval by re-enumeration -------------------------------------------------------

if (!quick) {
  cat("== 4. exact test with confidence interval by re-enumeration, G = 30 (conf.int = TRUE)\n")
  t4 <- system.time(r4 <- randomization_test(d30, "y", "treat", "g", exact = TRUE, conf.int = TRUE,
                                             threads = threads, progress = FALSE))[["elapsed"]]
  set.seed(2)
  mc <- randomization_test(d30, "y", "treat", "g", exact = FALSE, R = 1e5, threads = threads)
  cat(sprintf("  exact interval [%.5f, %.5f]; Monte Carlo (R = 1e5, stored pairs) [%.5f, %.5f]\n",
              r4$conf.int[1], r4$conf.int[2], mc$conf.int[1], mc$conf.int[2]))
  record(4, "exact + interval by re-enumeration", 30, t4, NA_real_, note = "no target")
}

## ---- summary --------------------------------------------------------------------------------

tab <- do.call(rbind, results)
cat("== Summary (ratio = reference time / our time; times in seconds)\n")
out <- data.frame(sec = tab$sec, comparison = tab$comparison, G = tab$G,
                  ours = sprintf("%.4f", tab$ours_s),
                  reference = ifelse(is.na(tab$ref_s), "-", sprintf("%.3f", tab$ref_s)),
                  ratio = ifelse(is.na(tab$ratio), "-", sprintf("%.0f", tab$ratio)),
                  target = tab$target, met = tab$met, note = tab$note)
print(out, row.names = FALSE, right = FALSE)
targeted <- tab$target != ""
cat(sprintf("\n%d of %d targets met. (%s at end; other jobs running at the same time inflate the times.)\n",
            sum(tab$met[targeted] == "yes"), sum(targeted), loadavg()))
