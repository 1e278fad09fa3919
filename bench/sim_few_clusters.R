## Simulation: rejection rates under the null with few, unequal clusters.
##
## Run from the package root, against an installed clusterab:
##
##     Rscript bench/sim_few_clusters.R              # 1000 replicates per G: some minutes
##     Rscript bench/sim_few_clusters.R 5000         # more replicates
##     Rscript bench/sim_few_clusters.R 200 499      # replicates, bootstrap / randomisation draws
##
## (`CLUSTERAB_SIM_REPS` and `CLUSTERAB_SIM_B` in the environment do the same.)
##
## Design, for G = 8, 16, 32, 64 clusters:
##   - cluster sizes from a lognormal (median 20, sdlog 1, at least 2 rows), so a
##     few clusters are much larger than the rest;
##   - half of the clusters treated (cluster-level assignment, completely at random);
##   - y = cluster effect + row noise with intra-cluster correlation 0.2, plus a
##     row-level covariate x; the cluster effect's variance grows with the size
##     of the cluster (large clusters are also the noisy ones), which is where
##     CR1 is at its worst;
##   - the treatment has no effect: every rejection is a false positive.
## Methods, each a two-sided test of the treatment coefficient at 5%, in
## lm(y ~ treated + x):
##   CR1      coef_test(type = "CR1", df = "cluster"): CR1 with G - 1 df
##   CR2      coef_test(type = "CR2"): CR2 with Satterthwaite df (the default)
##   WCR      wild_boot(): wild cluster bootstrap-t with the null imposed,
##            Webb weights (six-point: fine at G = 8), B draws
##   RI       randomization_test() on the cluster means (equal weight per
##            cluster), B assignments (exact when fewer)
## The table gives rejection rates with Monte Carlo standard errors
## sqrt(p (1 - p) / reps); a test of the right size rejects 5%.

args <- commandArgs(trailingOnly = TRUE)
reps <- as.integer(if (length(args) >= 1L) args[[1L]] else Sys.getenv("CLUSTERAB_SIM_REPS", "1000"))
B <- as.integer(if (length(args) >= 2L) args[[2L]] else Sys.getenv("CLUSTERAB_SIM_B", "999"))
suppressPackageStartupMessages(library(clusterab))
options(clusterab.threads = 1)   # one replicate at a time; the machine may be shared

sim_data <- function(G, icc = 0.2) {
  sizes <- pmax(2L, as.integer(round(exp(rnorm(G, log(20), 1)))))
  g <- rep(seq_len(G), sizes)
  treated <- sample(rep(0:1, length.out = G))
  scale <- sqrt(sizes / mean(sizes))          # larger clusters, larger shocks
  u <- rnorm(G, sd = sqrt(icc) * scale)
  n <- length(g)
  data.frame(g = g, treated = treated[g], x = rnorm(n),
             y = u[g] + rnorm(n, sd = sqrt(1 - icc)))
}

one_replicate <- function(G, B) {
  d <- sim_data(G)
  fit <- lm(y ~ treated + x, data = d)
  quiet <- function(expr) suppressWarnings(suppressMessages(expr))
  c(CR1 = quiet(coef_test(fit, cluster = ~ g, type = "CR1", df = "cluster"))["treated", 4],
    CR2 = quiet(coef_test(fit, cluster = ~ g, type = "CR2"))["treated", 4],
    WCR = quiet(wild_boot(fit, "treated", cluster = ~ g, B = B, weights = "webb",
                          conf.int = FALSE, progress = FALSE))$p.value,
    RI = quiet(randomization_test(d, "y", "treated", "g", R = B, conf.int = FALSE,
                                  progress = FALSE))$p.value)
}

## Rejection rates at `alpha` for each G: a data frame G, method, rate, mc_se.
simulate_rejection <- function(Gs = c(8L, 16L, 32L, 64L), reps = 1000L, B = 999L, alpha = 0.05) {
  out <- lapply(Gs, function(G) {
    p <- vapply(seq_len(reps), function(r) one_replicate(G, B), numeric(4))
    rate <- rowMeans(p <= alpha)
    data.frame(G = G, method = rownames(p), rate = rate,
               mc_se = sqrt(rate * (1 - rate) / reps), row.names = NULL)
  })
  do.call(rbind, out)
}

if (sys.nframe() == 0L) {
  set.seed(20260110)
  cat(sprintf("clusterab %s; %d replicates per G, B = %d; nominal level 5%%\n",
              packageVersion("clusterab"), reps, B))
  t0 <- proc.time()[["elapsed"]]
  res <- simulate_rejection(reps = reps, B = B)
  tab <- reshape(res[, c("G", "method", "rate")], idvar = "G", timevar = "method", direction = "wide")
  se <- reshape(res[, c("G", "method", "mc_se")], idvar = "G", timevar = "method", direction = "wide")
  methods <- unique(res$method)
  shown <- data.frame(G = tab$G)
  for (m in methods) {
    shown[[m]] <- sprintf("%5.1f%% (%.1f)", 100 * tab[[paste0("rate.", m)]], 100 * se[[paste0("mc_se.", m)]])
  }
  cat("\nRejection rate under the null, % (Monte Carlo SE, %):\n")
  print(shown, row.names = FALSE)
  cat(sprintf("\nCR1 = CR1 with G - 1 df; CR2 = CR2 with Satterthwaite df; WCR = wild cluster bootstrap-t,\nnull imposed, Webb weights; RI = randomisation test on cluster means. %.0f s.\n",
              proc.time()[["elapsed"]] - t0))
}
