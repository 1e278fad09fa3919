## threads = 1 against threads = 2 for cluster_lm() (HC1, the scores plan) at
## n = 1e7 with G = 1e4 and G = 1e6 clusters (issue 11, item 4: target x1.6).
## Run from the package root: Rscript bench/bench_threads.R (GS="1e4" for one G).
## Runs interleaved, minimum of 4; the machine check (a trivially parallel
## loop) says whether the machine gives two cores right now.
suppressMessages(library(clusterab))
source("bench/bench_helpers.R")
fml <- y ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10
Rcpp::sourceCpp("bench/floor_pass.cpp")
spin <- sapply(1:2, function(th) min(replicate(3, system.time(spin_parallel(th))[["elapsed"]])))
cat(sprintf("machine check: trivially parallel loop x%.2f on 2 threads (%s)%s\n", spin[1] / spin[2], loadavg(),
            if (spin[1] / spin[2] < 1.6) ": the cores are busy, the ratios below cannot be judged" else ""))
Gs <- as.numeric(strsplit(Sys.getenv("GS", "1e4,1e6"), ",")[[1]])
for (G in Gs) {
  set.seed(1)
  d <- make_regression_data(1e7, G)
  f <- cluster_lm(fml, d, cluster = ~ g, threads = 1L)
  t <- list(`1` = numeric(0), `2` = numeric(0))
  for (r in 1:4) for (th in c(1L, 2L)) {
    t[[as.character(th)]] <- c(t[[as.character(th)]], system.time(cluster_lm(fml, d, cluster = ~ g, threads = th))[["elapsed"]])
  }
  m1 <- min(t[["1"]]); m2 <- min(t[["2"]])
  cat(sprintf("G = %g: threads 1 %.3f s, threads 2 %.3f s, ratio %.2f (%s) target 1.6: %s\n",
              G, m1, m2, m1 / m2, loadavg(), if (m1 / m2 >= 1.6) "met" else "NOT met"))
  rm(d); gc()
}
