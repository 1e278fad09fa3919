## analyze_experiment() on database tables against analyze_experiment() on
## the same data frames (itself checked against t.test(), chisq.test(),
## prop.test(), lm() + sandwich and clubSandwich in
## test-analyze-experiment.R), on SQLite and PostgreSQL: two experiments
## (one with three arms), a capped metric, a ratio that is undefined (no
## refunds at all) and a CUPED covariate.

sql_analysis_logs <- function(numeric_times) {
  a <- sim_experiment_logs(n = 300, clustered = TRUE, experiment = "e1", seed = 5)
  b <- sim_experiment_logs(n = 200, arms = c("control", "b", "c"), clustered = TRUE, experiment = "e2",
                           seed = 6, offset = 400)
  ex <- rbind(a$exposures, b$exposures)
  ev <- rbind(a$events, b$events)
  if (numeric_times) {
    ex$exposure_time <- as.numeric(ex$exposure_time)
    ev$event_time <- as.numeric(ev$event_time)
  }
  list(exposures = ex, events = ev)
}

analysis_metrics_json <- '{
  "conversion_7d": {"event": {"name": "purchase"}, "aggregation": "binary",
                    "window": {"start": "0 days", "end": "7 days"}},
  "revenue_14d": {"event": {"name": "purchase"}, "aggregation": "sum",
                  "window": {"start": "0 days", "end": "14 days"}, "cap": {"quantile": 0.95}},
  "session_7d": {"event": {"name": "session_start"}, "aggregation": "count",
                 "window": {"start": "0 days", "end": "7 days"}},
  "refunds_7d": {"event": {"name": "refund"}, "aggregation": "count",
                 "window": {"start": "0 days", "end": "7 days"}},
  "revenue_per_session": {"aggregation": "ratio", "numerator": "revenue_14d", "denominator": "session_7d"},
  "revenue_per_refund": {"aggregation": "ratio", "numerator": "revenue_14d", "denominator": "refunds_7d"},
  "pre_revenue_14d": {"event": {"name": "purchase"}, "aggregation": "sum",
                      "window": {"start": "-14 days", "end": "0 days"}}
}'

## Every column of two results equal (numbers to 1e-10, missing in the same
## places), and their SRM tables and settings.
expect_same_results <- function(got, want) {
  g <- as.data.frame(got)
  w <- as.data.frame(want)
  expect_identical(names(g), names(w))
  for (k in names(w)) {
    if (is.numeric(w[[k]])) {
      expect_identical(is.na(g[[k]]), is.na(w[[k]]), label = paste("missing values of", k))
      expect_equal(as.double(g[[k]]), as.double(w[[k]]), tolerance = 1e-10, label = k)
    } else {
      expect_identical(as.character(g[[k]]), as.character(w[[k]]), label = k)
    }
  }
  expect_equal(as.data.frame(attr(got, "srm")), as.data.frame(attr(want, "srm")), tolerance = 1e-10)
  expect_equal(attr(got, "settings"), attr(want, "settings"))
}

## The analysis from the database tables and from the data frames, with
## the same arguments; the warnings of both (few clusters, SRM) must match.
both_ways <- function(con, lg, ...) {
  tb <- suppressWarnings(list(exposures = dplyr::tbl(con, "exposures"), events = dplyr::tbl(con, "events")))
  m <- read_metrics(analysis_metrics_json)
  w_db <- w_mem <- character(0)
  db <- withCallingHandlers(analyze_experiment(tb$exposures, tb$events, m, ...),
                            warning = function(w) {
                              w_db <<- c(w_db, conditionMessage(w))
                              invokeRestart("muffleWarning")
                            })
  mem <- withCallingHandlers(analyze_experiment(lg$exposures, lg$events, m, ...),
                             warning = function(w) {
                               w_mem <<- c(w_mem, conditionMessage(w))
                               invokeRestart("muffleWarning")
                             })
  expect_identical(w_db, w_mem)
  list(db = db, mem = mem)
}

for (database in test_databases()) {
  numeric_times <- database$name == "SQLite"

  test_that(paste0(database$name, ": unclustered tests equal the in-memory analysis"), {
    need("dbplyr")
    lg <- sql_analysis_logs(numeric_times)
    con <- database_with(database, exposures = lg$exposures, events = lg$events)
    on.exit(DBI::dbDisconnect(con))
    r <- both_ways(con, lg)
    expect_same_results(r$db, r$mem)
    ## the undefined ones are undefined in both: no refunds at all
    expect_true(all(is.na(r$db$p.value[r$db$metric_id == "revenue_per_refund"])))
    r <- both_ways(con, lg, covariate = "pre_revenue_14d", adjust = "holm", var.equal = TRUE,
                   correct = FALSE, conf.level = 0.9, control = c(e1 = "treatment", e2 = "b"))
    expect_same_results(r$db, r$mem)
    expect_true(all(r$db$variance_reduction[r$db$metric_id == "revenue_14d"] > 0.2))
  })

  test_that(paste0(database$name, ": clustered tests (HC1, CR2, CUPED, ratios) equal the in-memory analysis"), {
    need("dbplyr")
    lg <- sql_analysis_logs(numeric_times)
    con <- database_with(database, exposures = lg$exposures, events = lg$events)
    on.exit(DBI::dbDisconnect(con))
    r <- both_ways(con, lg, cluster = "household_id")
    expect_same_results(r$db, r$mem)
    r <- both_ways(con, lg, cluster = ~ household_id, type = "CR2", covariate = "pre_revenue_14d",
                   adjust = "BH")
    expect_same_results(r$db, r$mem)
    expect_true(all(r$db$clusters_control > 60))
  })

  test_that(paste0(database$name, ": few clusters give the same notes; the per-unit table analysed where it is"), {
    need("dbplyr")
    lg <- sim_experiment_logs(n = 9, clustered = TRUE, seed = 8)
    if (numeric_times) {
      lg$exposures$exposure_time <- as.numeric(lg$exposures$exposure_time)
      lg$events$event_time <- as.numeric(lg$events$event_time)
    }
    con <- database_with(database, exposures = lg$exposures, events = lg$events)
    on.exit(DBI::dbDisconnect(con))
    tb <- suppressWarnings(list(exposures = dplyr::tbl(con, "exposures"), events = dplyr::tbl(con, "events")))
    m <- read_metrics(analysis_metrics_json)
    expect_warning(analyze_experiment(tb$exposures, tb$events, m, cluster = "household_id"),
                   class = "clusterab_few_clusters")
    r <- both_ways(con, lg, cluster = "household_id", type = "CR2")
    expect_same_results(r$db, r$mem)
    ## an experiment_units_sql table: analysed without its rows coming back
    units <- compute_metrics(tb$exposures, tb$events, m, cluster = "household_id")
    again <- suppressWarnings(analyze_experiment(units, cluster = "household_id", type = "CR2"))
    expect_same_results(again, r$db)
    expect_s3_class(attr(again, "units"), "experiment_units_sql")
  })
}

test_that("PostgreSQL: a connection that drops during the pipeline's queries is a clear error", {
  need("dbplyr")
  database <- test_databases()[[2L]]
  lg <- sim_experiment_logs(n = 50, seed = 9)
  con <- database_with(database, exposures = lg$exposures, ev = lg$events)
  on.exit(try(DBI::dbDisconnect(con), silent = TRUE))
  ## the events through a view whose rows call a function that ends the
  ## session once the events have been read a little more than once (the
  ## checks read them; the analysis dies in a later query)
  DBI::dbExecute(con, "CREATE SEQUENCE calls")
  DBI::dbExecute(con, paste(
    "CREATE FUNCTION boom() RETURNS boolean AS $$",
    sprintf("BEGIN IF nextval('calls') > %d THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;",
            nrow(lg$events) + 10L),
    "RETURN true; END $$ LANGUAGE plpgsql VOLATILE"))
  DBI::dbExecute(con, "CREATE VIEW events AS SELECT * FROM ev WHERE boom()")
  tb <- suppressWarnings(list(exposures = dplyr::tbl(con, "exposures"), events = dplyr::tbl(con, "events")))
  expect_error(suppressMessages(analyze_experiment(tb$exposures, tb$events, experiment_metrics())),
               "connection to the database failed while", class = "clusterab_connection_error")
  ## the session did end (the error was not some other failure)
  killed <- tryCatch({ DBI::dbGetQuery(con, "SELECT 1"); FALSE }, error = function(e) TRUE,
                     warning = function(w) TRUE)
  expect_true(killed)
})
