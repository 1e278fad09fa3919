## compute_metrics() on database tables (dbplyr) against compute_metrics() on
## the same data frames, on every database of test_databases(): in-memory
## SQLite and a PostgreSQL server. The data-frame path is itself checked
## against a plain base-R reference in test-metrics.R.

sql_metrics_json <- '{
  "conversion_7d": {"display_name": "7-day conversion", "event": {"name": "purchase"},
                    "window": {"start": "0 days", "end": "7 days"}, "aggregation": "binary"},
  "revenue_14d": {"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "14 days"},
                  "aggregation": "sum"},
  "revenue_14d_q": {"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "14 days"},
                    "aggregation": "sum", "cap": {"quantile": 0.9}},
  "session_7d": {"event": {"name": "session_start"}, "window": {"start": "0 days", "end": "7 days"},
                 "aggregation": "count", "cap": {"value": 5}},
  "refunds_7d": {"event": {"name": "refund"}, "window": {"start": "0 days", "end": "7 days"},
                 "aggregation": "count"},
  "revenue_per_session": {"aggregation": "ratio", "numerator": "revenue_14d",
                          "denominator": "session_7d"},
  "revenue_per_refund": {"aggregation": "ratio", "numerator": "revenue_14d",
                         "denominator": "refunds_7d"},
  "pre_revenue_14d": {"event": {"name": "purchase"}, "window": {"start": "-14 days", "end": "0 days"},
                      "aggregation": "sum"}
}'

## Two experiments sharing users 401-600 (e2 has three arms), a unit seen in
## two variants, a unit exposed twice, events of users never exposed and of
## an event no metric counts. `numeric_times`: times as seconds since the
## epoch (SQLite has no timestamp type).
sql_logs <- function(numeric_times) {
  a <- sim_experiment_logs(n = 300, clustered = TRUE, experiment = "e1", seed = 3)
  b <- sim_experiment_logs(n = 300, arms = c("control", "b", "c"), clustered = TRUE, experiment = "e2",
                           seed = 4, offset = 400)
  ex <- rbind(a$exposures, b$exposures)
  twice <- ex[ex$user_id == 2 & ex$experiment_id == "e1", ]
  twice$exposure_time <- twice$exposure_time + 3600
  other <- ex[ex$user_id == 1 & ex$experiment_id == "e1", ]
  other$variant <- setdiff(c("control", "treatment"), other$variant)
  ex <- rbind(ex, twice, other)
  ev <- rbind(a$events, b$events,
              data.frame(user_id = c(5000, 3), event_name = c("purchase", "page_view"),
                         event_time = ex$exposure_time[1] + 60, event_value = c(10, NA)))
  if (numeric_times) {
    ex$exposure_time <- as.numeric(ex$exposure_time)
    ev$event_time <- as.numeric(ev$event_time)
  }
  list(exposures = ex, events = ev)
}

## The rows of a per-unit table as a plain data frame sorted by experiment
## and user, times as seconds.
units_frame <- function(u) {
  d <- as.data.frame(u)
  d$exposure_time <- as.numeric(d$exposure_time)
  d <- d[order(d$experiment_id, d$user_id), , drop = FALSE]
  rownames(d) <- NULL
  d
}

expect_same_units <- function(db, mem, rows = dplyr::collect(db)) {
  got <- units_frame(rows)
  want <- units_frame(mem)
  expect_identical(names(got), names(want))
  for (k in names(want)) {
    if (is.numeric(want[[k]])) {
      expect_equal(as.double(got[[k]]), as.double(want[[k]]), tolerance = 1e-10, label = k)
    } else {
      expect_identical(as.character(got[[k]]), as.character(want[[k]]), label = k)
    }
  }
  expect_equal(as.data.frame(attr(db, "excluded")), as.data.frame(attr(mem, "excluded")))
  expect_identical(attr(db, "cluster"), attr(mem, "cluster"))
}

sql_tables <- function(con) {
  suppressWarnings(list(exposures = dplyr::tbl(con, "exposures"), events = dplyr::tbl(con, "events")))
}

for (database in test_databases()) {
  numeric_times <- database$name == "SQLite"

  test_that(paste0(database$name, ": per-unit metrics equal the data-frame computation"), {
    need("dbplyr")
    lg <- sql_logs(numeric_times)
    con <- database_with(database, exposures = lg$exposures, events = lg$events)
    on.exit(DBI::dbDisconnect(con))
    tb <- sql_tables(con)
    m <- read_metrics(sql_metrics_json)
    db <- compute_metrics(tb$exposures, tb$events, m)
    expect_s3_class(db, "experiment_units_sql")
    mem <- compute_metrics(lg$exposures, lg$events, m)
    expect_same_units(db, mem)
    ex <- attr(db, "excluded")
    expect_identical(ex$units_multiple_variants, c(1L, 0L))
    expect_identical(ex$exposures_repeated, c(1L, 0L))
    expect_output(print(db), "1 unit in more than one variant excluded")
  })

  test_that(paste0(database$name, ": clusters, one experiment, other column names"), {
    need("dbplyr")
    lg <- sql_logs(numeric_times)
    names(lg$exposures)[names(lg$exposures) == "user_id"] <- "visitor"
    names(lg$events)[names(lg$events) == "user_id"] <- "visitor"
    names(lg$events)[names(lg$events) == "event_time"] <- "ts"
    con <- database_with(database, exposures = lg$exposures, events = lg$events)
    on.exit(DBI::dbDisconnect(con))
    tb <- sql_tables(con)
    m <- read_metrics(sql_metrics_json)
    cols <- c(user_id = "visitor", event_time = "ts")
    db <- compute_metrics(tb$exposures, tb$events, m, columns = cols, experiment_id = "e2",
                          cluster = ~ household_id)
    mem <- compute_metrics(lg$exposures, lg$events, m, columns = cols, experiment_id = "e2",
                           cluster = ~ household_id)
    names(mem)[2L] <- "user_id"
    got <- dplyr::collect(db)
    names(got)[2L] <- "user_id"
    expect_same_units(db, mem, got)
    expect_identical(unique(got$experiment_id), "e2")
    expect_identical(attr(db, "cluster"), "household_id")
  })

  test_that(paste0(database$name, ": the events table is required for metrics that count events"), {
    need("dbplyr")
    lg <- sql_logs(numeric_times)
    con <- database_with(database, exposures = lg$exposures)
    on.exit(DBI::dbDisconnect(con))
    exposures <- suppressWarnings(dplyr::tbl(con, "exposures"))
    expect_error(compute_metrics(exposures, lg$events, experiment_metrics()),
                 "same connection", class = "clusterab_error")
  })
}
