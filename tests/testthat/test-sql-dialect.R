## The SQL the package writes, for every dialect of sql_dialects(): printed
## (the snapshot is the SQL each engine gets), and run where a database is
## at hand: the statements of cluster_stats_sql() for SQLite and PostgreSQL
## give the statistics of cluster_stats() on that database.

## The pipeline's per-unit query for `dialect`, from sources described by
## the names and R types of their columns (as compute_metrics() reads them
## from a database: timestamps, numbers of seconds for SQLite, which has no
## timestamp type); caps are value caps.
pipeline_sql <- function(dialect, metrics) {
  d <- clusterab:::sql_dialect(dialect)
  cols <- clusterab:::log_columns(NULL)
  at <- if (dialect == "sqlite") numeric(0) else .POSIXct(numeric(0), tz = "UTC")
  ex <- list(sql = clusterab:::sql_id(d, "exposures"), arg = "exposures",
             columns = data.frame(user_id = numeric(0), experiment_id = character(0), variant = character(0),
                                  exposure_time = at, household_id = character(0)))
  ev <- list(sql = clusterab:::sql_id(d, "events"), arg = "events",
             columns = data.frame(user_id = numeric(0), event_name = character(0), event_time = at,
                                  event_value = numeric(0)))
  plain <- Filter(function(m) m$aggregation != "ratio", metrics)
  parts <- clusterab:::metrics_sql_parts(d, ex, ev, plain, cols, NULL, "household_id")
  out <- clusterab:::units_out_names(cols, "household_id", metrics)
  clusterab:::units_query(d, parts, metrics, plain, out, "household_id", function(values, m, alias) {
    clusterab:::sql_cap(d, values, m, alias, NULL)
  })
}

dialect_metrics <- '{
  "conversion_7d": {"event": {"name": "purchase"}, "aggregation": "binary",
                    "window": {"start": "0 days", "end": "7 days"}},
  "revenue_7d": {"event": {"name": "purchase"}, "aggregation": "sum", "cap": {"value": 500},
                 "window": {"start": "0 days", "end": "7 days"}},
  "sessions_7d": {"event": {"name": "session_start"}, "aggregation": "count",
                  "window": {"start": "0 days", "end": "7 days"}},
  "revenue_per_session": {"aggregation": "ratio", "numerator": "revenue_7d", "denominator": "sessions_7d"}
}'

## The SQL of each dialect is kept in sql/<dialect>.sql, as printed (80
## columns): the test fails when the SQL changes, and the files show what
## each engine gets. CLUSTERAB_WRITE_SQL=1 rewrites them after a deliberate
## change (then read the diff).
test_that("the SQL of every dialect", {
  m <- read_metrics(dialect_metrics)
  expect_setequal(sql_dialects(), c("ansi", "postgres", "sqlite", "duckdb", "snowflake", "bigquery",
                                    "spark", "trino", "mysql", "mssql"))
  old <- options(width = 80)
  on.exit(options(old))
  for (dialect in sql_dialects()) {
    st <- cluster_stats_sql(revenue ~ treated + baseline, cluster = "region", weights = "w",
                            table = "geo", dialect = dialect, shift = c(treated = 0.5, baseline = 10, revenue = 20))
    expect_s3_class(st, "clusterab_sql")
    expect_identical(names(st), c("means", "sums"))
    units <- pipeline_sql(dialect, m)
    printed <- c(sprintf("-- dialect: %s", dialect), "", "-- cluster_stats(): two queries", utils::capture.output(print(st)),
                 "", "-- compute_metrics(): the per-unit query", strwrap(units, width = 78, exdent = 4))
    file <- test_path("sql", paste0(dialect, ".sql"))
    if (identical(Sys.getenv("CLUSTERAB_WRITE_SQL"), "1")) writeLines(printed, file)
    expect_true(file.exists(file), label = file)
    expect_identical(printed, readLines(file), label = paste("the SQL of dialect", dialect))
  }
})

test_that("identifiers and strings are quoted with the dialect's quotes", {
  d <- clusterab:::sql_dialect("mssql")
  expect_identical(clusterab:::sql_id(d, "a]b"), "[a]]b]")
  expect_identical(clusterab:::sql_string(d, "it's"), "'it''s'")
  expect_identical(clusterab:::sql_id(clusterab:::sql_dialect("bigquery"), DBI::Id(schema = "ab", table = "t")),
                   "`ab`.`t`")
  expect_identical(clusterab:::sql_id(clusterab:::sql_dialect("ansi"), 'a"b'), '"a""b"')
})

for (database in test_databases()) {
  test_that(paste0(database$name, ": cluster_stats_sql() runs there and gives cluster_stats()'s sums"), {
    d <- sim_clustered(G = 12, seed = 21)
    d$w <- runif(nrow(d), 0.5, 2)
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    f <- y ~ treat + x1
    st <- cluster_stats(con, f, cluster = "g", weights = "w", table = "d")
    dialect <- if (database$name == "SQLite") "sqlite" else "postgres"
    sql <- cluster_stats_sql(f, cluster = "g", weights = "w", table = "d", dialect = dialect,
                             shift = st$shift)
    r1 <- DBI::dbGetQuery(con, sql[["means"]])
    expect_equal(as.double(r1$cab_rows), nrow(d))
    expect_equal(c(r1$cab_mean1, r1$cab_mean2, r1$cab_mean3), unname(st$shift), tolerance = 1e-12)
    r2 <- DBI::dbGetQuery(con, sql[["sums"]])
    r2 <- r2[order(r2$cab_g), ]
    expect_equal(r2$cab_g, st$cluster)
    ## the packed sums of each weight power after the count: s1, s2, ...
    K <- nrow(st$moments[["0"]])
    sums <- as.matrix(r2[paste0("cab_s", seq_len(3L * K - 1L))])
    expect_equal(unname(t(sums[, seq_len(K - 1L)])), unname(st$moments[["0"]][-1L, ]), tolerance = 1e-12)
    expect_equal(unname(t(sums[, K - 1L + seq_len(K)])), unname(st$moments[["1"]]), tolerance = 1e-12)
    expect_equal(unname(t(sums[, 2L * K - 1L + seq_len(K)])), unname(st$moments[["2"]]), tolerance = 1e-12)
  })
}
