## Benchmark: a cluster-robust regression and a random-intercept mixed
## model on rows that live in PostgreSQL, fitted from the per-cluster
## statistics computed there (one GROUP BY), beside pulling the rows into R
## and fitting there.
##
## Run from the package root, against an installed clusterab, with a server:
##
##     eval "$(sh scripts/postgres.sh start)"
##     Rscript bench/bench_scale.R            # 1e8 rows: about 15 minutes, 10 GB of disk
##     Rscript bench/bench_scale.R 1e7        # another number of rows
##     sh scripts/postgres.sh stop
##
## CLUSTERAB_PG (as printed by scripts/postgres.sh) names the server;
## CLUSTERAB_BENCH_PULL the rows pulled into R (default 1e7, about 1.5 GB in
## R: RPostgreSQL reads rows as text, so pulling 1e8 is slower still and
## needs about 15 GB; the time for all rows is extrapolated from it).
##
## Needs: clusterab, DBI, RPostgreSQL, data.table.
##
## The data: n rows in G = 10,000 clusters, generated in the database
## (generate_series, random() after setseed(), so every run has the same
## rows): y = 1 + 0.2 treat + 0.5 x + u_g + e, treatment by cluster.
##
## Timed, each once:
##   generate    CREATE UNLOGGED TABLE ... AS SELECT ... FROM generate_series()
##   db stats    cluster_stats(con, y ~ treat + x, cluster = "g", table = ...):
##               the two queries, G rows back
##   db fits     cluster_lm(st, type = "CR2") and ri_lmer(y ~ treat + x + (1 | g), st)
##               from the statistics
##   pull        DBI::dbGetQuery() of the first n_pull rows
##   R fits      cluster_lm() and ri_lmer() on the pulled data frame
##   agree       the largest relative difference of the coefficients and
##               standard errors between the fits from the database statistics
##               of those n_pull rows and the in-memory fits

suppressPackageStartupMessages({
  library(clusterab)
  library(DBI)
})
args <- commandArgs(trailingOnly = TRUE)
n <- if (length(args)) as.numeric(args[[1L]]) else 1e8
n_pull <- min(n, as.numeric(Sys.getenv("CLUSTERAB_BENCH_PULL", "1e7")))
G <- 1e4

spec <- Sys.getenv("CLUSTERAB_PG")
if (!nzchar(spec)) stop("no server: run eval \"$(sh scripts/postgres.sh start)\" first (CLUSTERAB_PG is not set)")
if (!requireNamespace("RPostgreSQL", quietly = TRUE)) stop("RPostgreSQL is not installed")
kv <- strsplit(strsplit(trimws(spec), "[[:space:]]+")[[1L]], "=", fixed = TRUE)
con <- do.call(dbConnect, c(list(RPostgreSQL::PostgreSQL()),
                            stats::setNames(lapply(kv, `[`, 2L), vapply(kv, `[`, "", 1L))))
on.exit(dbDisconnect(con))
invisible(dbExecute(con, "SET client_min_messages TO WARNING"))

big <- function(x) format(x, big.mark = ",", scientific = FALSE)
timings <- data.frame(step = character(0), rows = numeric(0), seconds = numeric(0))
timed <- function(step, rows, expr) {
  t <- system.time(value <- force(expr))[["elapsed"]]
  timings[nrow(timings) + 1L, ] <<- list(step, rows, t)
  cat(sprintf("%-58s %8.1f s\n", step, t))
  invisible(value)
}

cat(sprintf("PostgreSQL %s; %s rows, %s clusters; %s rows pulled into R\n\n",
            dbGetQuery(con, "SHOW server_version")[[1L]], big(n),
            big(G), big(n_pull)))
invisible(dbExecute(con, "DROP TABLE IF EXISTS cab_bench"))
timed("generate the rows in the database", n, {
  dbGetQuery(con, "SELECT 1 AS seeded FROM (SELECT setseed(0.42)) s")
  dbExecute(con, sprintf(paste(
    "CREATE UNLOGGED TABLE cab_bench AS",
    "SELECT i, g, treat, x, 1 + 0.2 * treat + 0.5 * x + u + (random() - 0.5) * 2 AS y",
    "FROM (SELECT i, i %% %d AS g, CAST((i %% %d) %% 2 AS double precision) AS treat,",
    "             random() AS x, ((i %% %d) * 7919 %% 1000) / 1000.0 - 0.5 AS u",
    "      FROM generate_series(1, %.0f) AS i) s"), G, G, G, n))
  dbExecute(con, "ANALYZE cab_bench")
})
size <- dbGetQuery(con, "SELECT pg_size_pretty(pg_total_relation_size('cab_bench')) AS s")$s
cat(sprintf("%-58s %10s\n", "table size", size))

f <- y ~ treat + x
st <- timed("db: cluster_stats() in the database (G rows back)", n,
            cluster_stats(con, f, cluster = "g", table = "cab_bench"))
fit_db <- timed("db: cluster_lm(type = \"CR2\") from the statistics", n, cluster_lm(st, type = "CR2"))
ri_db <- timed("db: ri_lmer() from the statistics", n, ri_lmer(y ~ treat + x + (1 | g), st))

## the same n_pull rows both ways, for the comparison of the numbers
invisible(dbExecute(con, sprintf("CREATE OR REPLACE VIEW cab_pull AS SELECT g, treat, x, y FROM cab_bench WHERE i <= %.0f",
                                 n_pull)))
st_pull <- cluster_stats(con, f, cluster = "g", table = "cab_pull")
d <- timed("R: pull the rows into R (DBI::dbGetQuery)", n_pull,
           dbGetQuery(con, "SELECT g, treat, x, y FROM cab_pull"))
fit_r <- timed("R: cluster_lm(type = \"CR2\") on the rows", n_pull,
               cluster_lm(f, data = d, cluster = "g", type = "CR2"))
ri_r <- timed("R: ri_lmer() on the rows", n_pull, ri_lmer(y ~ treat + x + (1 | g), data = d))

rel <- function(a, b) max(abs(a - b) / pmax(abs(b), 1e-300))
fit_pull <- cluster_lm(st_pull, type = "CR2")
ri_pull <- ri_lmer(y ~ treat + x + (1 | g), st_pull)
cat(sprintf("\nagree (n = %s): cluster_lm coefficients %.1e, CR2 SEs %.1e; ri_lmer fixed effects %.1e\n",
            big(n_pull), rel(coef(fit_pull), coef(fit_r)),
            rel(sqrt(diag(vcov(fit_pull))), sqrt(diag(vcov(fit_r)))),
            rel(fixef(ri_pull), fixef(ri_r))))

t_db <- sum(timings$seconds[grepl("^db:", timings$step)])
t_pull <- timings$seconds[timings$step == "R: pull the rows into R (DBI::dbGetQuery)"]
t_fit <- sum(timings$seconds[timings$step %in% c("R: cluster_lm(type = \"CR2\") on the rows", "R: ri_lmer() on the rows")])
est <- (t_pull + t_fit) * n / n_pull
cat(sprintf("\nfrom the database: %.1f s for %s rows (both fits)\n", t_db, big(n)))
cat(sprintf("into R and fitted there: %.1f s for %s rows; %s rows at that rate: %.0f s (ratio %.0fx)%s\n",
            t_pull + t_fit, big(n_pull), big(n), est, est / t_db,
            if (n > n_pull) ", extrapolated" else ""))
print(coef_test(fit_db))
invisible(dbExecute(con, "DROP VIEW cab_pull"))
invisible(dbExecute(con, "DROP TABLE cab_bench"))
