## Benchmark: did_boot()'s cluster bootstrap against refitting lm() on
## resampled clusters, on the same simulated data in one R process.
##
## Run from the package root, against an installed clusterab:
##
##     Rscript bench/bench_did_boot.R          # full run: about a minute, ~2 GB RAM
##     Rscript bench/bench_did_boot.R quick    # n / 100: seconds
##
## To benchmark a private build without touching the source tree:
##
##     R CMD INSTALL -l /tmp/benchlib .   (from a copy of the sources)
##     R_LIBS=/tmp/benchlib Rscript bench/bench_did_boot.R
##
## Needs: clusterab, sandwich, boot.
##
## Data: a panel of G units (the clusters), half of them treated, each with
## n / G rows split between the pre and post periods; unit levels and
## unit-specific changes, skewed noise.
##   1. n = 1e6, G = 1000: did_boot(R = 2000) with the default cluster
##      bootstrap and all three intervals (percentile, BCa, normal), the whole
##      call timed.                                        target ours < 2 s
##   2. the same, per replicate, against one bootstrap replicate done the
##      usual way: draw G units with replacement, gather their rows, refit
##      lm(y ~ treated * post) (a few such refits timed).   target ratio >= 500
##   3. (no target) n = 1e5: did_boot(type = "iid", R = 2000) against
##      boot::boot() resampling rows with an lm.fit() statistic (a few hundred
##      boot replicates timed, scaled to 2000).
## The regression interval is checked against lm() + sandwich::vcovCL(HC1)
## on the data of section 1 ("max rel diff": of the interval limits,
## relative to the standard error).
##
## Times are system.time()[["elapsed"]]: the median of up to `reps` runs, fewer
## when one run takes longer than a second. "ratio" = reference / ours.

options(width = 150)
args <- commandArgs(trailingOnly = TRUE)
quick <- "quick" %in% args
shrink_n <- if (quick) 100 else 1

suppressPackageStartupMessages({
  for (pkg in c("clusterab", "sandwich", "boot")) {
    if (!requireNamespace(pkg, quietly = TRUE)) {
      stop(sprintf("package `%s` is needed for this benchmark; install it first.", pkg), call. = FALSE)
    }
  }
  library(clusterab)
})

threads <- clusterab:::resolve_threads(NULL)
cat(sprintf("clusterab %s (%s), sandwich %s, boot %s\n",
            packageVersion("clusterab"), dirname(dirname(system.file(package = "clusterab"))),
            packageVersion("sandwich"), packageVersion("boot")))
cat(sprintf("%s, %d cores, clusterab threads = %d%s\n\n", R.version.string,
            parallel::detectCores(), threads, if (quick) ", QUICK MODE (n / 100; targets are for the full run)" else ""))

source(file.path("bench", "bench_helpers.R"))
cat(loadavg(), "at start\n\n")

make_panel <- function(n, G) {
  unit <- sort(sample.int(G, n, replace = TRUE))
  post <- rbinom(n, 1, 0.5)
  treated <- as.integer(unit > G / 2)
  y <- rnorm(G, sd = 2)[unit] + rnorm(G)[unit] * post + 0.3 * treated * post + rexp(n) - 1
  data.frame(unit = unit, treated = treated, post = post, y = y)
}

results <- list()
record <- function(section, what, n, G, ours, ref, target_ratio = NA_real_, target_ours = NA_real_,
                   diff = NA_real_, counted = TRUE) {
  ratio <- ref / ours
  met <- (is.na(target_ratio) || ratio >= target_ratio) && (is.na(target_ours) || ours < target_ours)
  target <- if (!counted) "(none)" else paste(c(if (!is.na(target_ratio)) sprintf(">= %g", target_ratio),
                                                if (!is.na(target_ours)) sprintf("ours < %g s", target_ours)),
                                              collapse = ", ")
  results[[length(results) + 1L]] <<- data.frame(
    sec = section, comparison = what, n = format(n, scientific = TRUE), G = G,
    ours_s = ours, ref_s = ref, ratio = ratio, target = target,
    met = if (!counted) "-" else if (met) "yes" else "NO", counted = counted,
    max_rel_diff = diff, stringsAsFactors = FALSE)
  cat(sprintf("  ours %.5f s, reference %.4f s, ratio %.1f (target %s: %s)\n\n",
              ours, ref, ratio, target, if (!counted) "none" else if (met) "met" else "NOT met"))
}
free <- function() invisible(gc(verbose = FALSE, full = TRUE))

## ---- 1 and 2. cluster bootstrap at n = 1e6, G = 1000 -----------------------------

set.seed(20240701)
n1 <- 1e6 / shrink_n; G1 <- 1000; R1 <- 2000
d <- make_panel(n1, G1)
cat(sprintf("== 1. did_boot(d, \"y\", \"treated\", \"post\", cluster = \"unit\", R = %d); n = %g, G = %d\n", R1, n1, G1))
ours <- bench(did_boot(d, "y", "treated", "post", cluster = "unit", R = R1, progress = FALSE), reps = 5)
fit <- ours$value
print(confint(fit))
m <- lm(y ~ treated * post, data = d)
V <- sandwich::vcovCL(m, cluster = ~ unit, type = "HC1")
se <- sqrt(V["treated:post", "treated:post"])
ref_ci <- coef(m)[["treated:post"]] + c(-1, 1) * qt(0.975, df.residual(m)) * se
ci_diff <- max(abs(as.vector(fit$conf.int) - ref_ci)) / se
cat(sprintf("  regression interval vs lm() + sandwich::vcovCL(HC1): max diff %.1e standard errors\n", ci_diff))
rm(m, V); free()
record(1, "did_boot cluster, R = 2000 (whole call)", n1, G1, ours$time, NA_real_, target_ours = 2,
       diff = ci_diff)

cat(sprintf("== 2. per replicate: did_boot() time / %d vs one lm() refit on resampled units; n = %g, G = %d\n", R1, n1, G1))
rows_of <- split(seq_len(nrow(d)), d$unit)
refit <- function() {
  drawn <- sample.int(G1, G1, replace = TRUE)
  rows <- unlist(rows_of[drawn], use.names = FALSE)
  coef(lm(y ~ treated * post, data = d[rows, ]))[["treated:post"]]
}
ref <- bench(refit(), reps = 3, budget = 5)
record(2, "per replicate: did_boot vs lm() refit on resampled units", n1, G1,
       ours$time / R1, ref$time, target_ratio = 500)
rm(d, rows_of, fit, ours, ref); free()

## ---- 3. row bootstrap at n = 1e5 (no target) ---------------------------------------

set.seed(20240702)
n3 <- 1e5 / shrink_n; G3 <- 1000
d <- make_panel(n3, G3)
cat(sprintf("== 3. did_boot(type = \"iid\", R = %d) vs boot::boot() resampling rows with an lm.fit() statistic; n = %g\n", R1, n3))
ours <- bench(did_boot(d, "y", "treated", "post", type = "iid", R = R1, progress = FALSE), reps = 3)
X <- model.matrix(~ treated * post, d)
stat <- function(dd, i) lm.fit(X[i, , drop = FALSE], dd$y[i])$coefficients[[4L]]
R_ref <- if (quick) 2000 else 200
ref <- bench(boot::boot(d, stat, R = R_ref), reps = 1)
record(3, "did_boot iid, R = 2000 vs boot() + lm.fit (scaled to 2000)", n3, NA, ours$time,
       ref$time * R1 / R_ref, counted = FALSE)
rm(d, ours, ref); free()

## ---- summary --------------------------------------------------------------------------

tab <- do.call(rbind, results)
cat(sprintf("== Summary%s (ratio = reference time / our time; times in seconds)\n",
            if (quick) " -- QUICK MODE, targets apply to the full run" else ""))
out <- data.frame(sec = tab$sec, comparison = tab$comparison, n = tab$n, G = tab$G,
                  ours = sprintf("%.5f", tab$ours_s), reference = sprintf("%.4f", tab$ref_s),
                  ratio = sprintf("%.1f", tab$ratio), target = tab$target, met = tab$met,
                  max_rel_diff = sprintf("%.1e", tab$max_rel_diff))
print(out, row.names = FALSE, right = FALSE)
counted <- tab[tab$counted, ]
cat(sprintf("\n%d of %d targets met. (%s at end; other jobs running at the same time inflate the times.)\n",
            sum(counted$met == "yes"), nrow(counted), loadavg()))
