## read_metrics() and compute_metrics(): metric definitions and per-unit
## values from exposure and event logs. Per-unit values are checked against
## reference_metrics(), a plain base-R computation written here with loops
## (it calls nothing from clusterab).

day <- 86400
T0 <- as.POSIXct("2026-03-01 12:00:00", tz = "UTC")

metrics_json <- '{
  "conversion_7d": {"display_name": "7-day conversion", "event": {"name": "purchase"},
                    "window": {"start": "0 days", "end": "7 days"}, "aggregation": "binary"},
  "revenue_7d":    {"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "7 days"},
                    "aggregation": "sum"},
  "revenue_14d_q": {"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "2 weeks"},
                    "aggregation": "sum", "cap": {"quantile": 0.8}},
  "revenue_14d_v": {"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "14 days"},
                    "aggregation": "sum", "cap": {"value": 50}},
  "sessions_30h":  {"event": {"name": "session_start"},
                    "window": {"start": "0 days", "end": "1 day 6 hours"}, "aggregation": "count"},
  "sessions_late": {"event": {"name": "session_start"},
                    "window": {"start": "12 hours", "end": "7 days"}, "aggregation": "count",
                    "cap": {"value": 2}},
  "pre_revenue":   {"event": {"name": "purchase"}, "window": {"start": "-14 days", "end": "0 days"},
                    "aggregation": "sum"},
  "revenue_per_session": {"aggregation": "ratio", "numerator": "revenue_7d",
                          "denominator": "sessions_30h"}
}'

## The metrics of metrics_json, written out by hand for the reference.
reference_defs <- list(
  conversion_7d = list(event = "purchase", start = 0, end = 7 * day, agg = "binary"),
  revenue_7d = list(event = "purchase", start = 0, end = 7 * day, agg = "sum"),
  revenue_14d_q = list(event = "purchase", start = 0, end = 14 * day, agg = "sum", cap_q = 0.8),
  revenue_14d_v = list(event = "purchase", start = 0, end = 14 * day, agg = "sum", cap_v = 50),
  sessions_30h = list(event = "session_start", start = 0, end = 30 * 3600, agg = "count"),
  sessions_late = list(event = "session_start", start = 12 * 3600, end = 7 * day, agg = "count",
                       cap_v = 2),
  pre_revenue = list(event = "purchase", start = -14 * day, end = 0, agg = "sum"))

## Straightforward reference: for each experiment and user, loop. Units in
## two variants dropped; first exposure; events in [start, end] after it;
## zero when none; caps per experiment; the ratio per unit.
reference_metrics <- function(exposures, events, defs) {
  ex_time <- as.numeric(exposures$exposure_time)
  ev_time <- as.numeric(events$event_time)
  rows <- list()
  for (e in sort(unique(exposures$experiment_id))) {
    in_e <- exposures$experiment_id == e
    for (user in sort(unique(exposures$user_id[in_e]))) {
      mine <- in_e & exposures$user_id == user
      if (length(unique(exposures$variant[mine])) > 1L) next
      first <- min(ex_time[mine])
      row <- data.frame(experiment_id = e, user_id = user, variant = exposures$variant[mine][1L],
                        exposure_time = first, stringsAsFactors = FALSE)
      for (id in names(defs)) {
        d <- defs[[id]]
        since <- ev_time - first
        hit <- events$user_id == user & events$event_name == d$event &
          since >= d$start & since <= d$end
        row[[id]] <- switch(d$agg, binary = as.numeric(any(hit)), count = sum(hit),
                            sum = sum(events$event_value[hit]))
      }
      rows[[length(rows) + 1L]] <- row
    }
  }
  out <- do.call(rbind, rows)
  for (id in names(defs)) {
    d <- defs[[id]]
    if (!is.null(d$cap_v)) out[[id]] <- pmin(out[[id]], d$cap_v)
    if (!is.null(d$cap_q)) {
      for (e in unique(out$experiment_id)) {
        at <- out$experiment_id == e
        cap <- quantile(out[[id]][at], d$cap_q, type = 7, names = FALSE)
        out[[id]][at] <- pmin(out[[id]][at], cap)
      }
    }
  }
  out
}

## Hand-built logs with every awkward case. Experiment "checkout" (three
## variants) and "pricing" (two), sharing users 1, 2 and 7.
edge_logs <- function() {
  ex <- data.frame(
    user_id = c(1, 2, 2, 3, 3, 4, 5, 6, 7, 8,
                1, 2, 7, 9),
    experiment_id = c(rep("checkout", 10), rep("pricing", 4)),
    variant = c("control", "treatment", "treatment", "control", "treatment", "control",
                "variant_b", "variant_b", "treatment", "control",
                "B", "A", "A", "B"),
    exposure_time = T0 + c(0, 3600, 2 * day, 0, day, 0, 0, 0, 5 * day, 0,
                           3 * day, 0, -2 * day, 0),
    stringsAsFactors = FALSE)
  ev <- data.frame(
    user_id = c(1, 1, 1, 1, 1, 1,   # user 1
                2, 2, 2,            # user 2 (exposed twice)
                3,                  # user 3 (two variants: excluded)
                5, 5, 5, 6, 6,      # variant_b
                7, 7, 7,            # user 7 (pricing exposure earlier)
                8, 8, 8, 8, 8,      # sessions, pre window ends
                99, 1),             # never exposed; user 1 session
    event_name = c("purchase", "purchase", "purchase", "session_start", "purchase", "purchase",
                   "purchase", "purchase", "session_start",
                   "purchase",
                   "purchase", "purchase", "session_start", "purchase", "purchase",
                   "purchase", "session_start", "purchase",
                   "session_start", "session_start", "session_start", "purchase", "purchase",
                   "purchase", "session_start"),
    event_time = T0 + c(0, 7 * day, 7 * day + 1, -1, -14 * day, -14 * day - 1,
                        3600 - 1, 1.5 * day, 3600 + 30 * 3600,
                        2 * day,
                        day, 2 * day, 12 * 3600, 3 * day, 13 * day,
                        5 * day, 5 * day, 10 * day,
                        12 * 3600 - 1, 12 * 3600, day, 14 * day, 14 * day + 1,
                        day, 30 * 3600),
    event_value = c(20, 30, 1000, NA, 7, 100,
                    5, 45, NA,
                    80,
                    60, 70, NA, 25, 35,
                    12, NA, 8,
                    NA, NA, NA, 40, 90,
                    500, NA),
    stringsAsFactors = FALSE)
  list(exposures = ex, events = ev)
}

expect_units_equal <- function(units, ref, ids) {
  expect_identical(as.character(units$experiment_id), ref$experiment_id)
  expect_equal(units$user_id, ref$user_id)
  expect_identical(units$variant, ref$variant)
  expect_equal(as.numeric(units$exposure_time), ref$exposure_time)
  for (id in ids) expect_equal(units[[id]], ref[[id]], tolerance = 1e-12, info = id)
}

test_that("per-unit values equal the base-R reference on the edge cases", {
  logs <- edge_logs()
  m <- read_metrics(metrics_json)
  units <- compute_metrics(logs$exposures, logs$events, m)
  ref <- reference_metrics(logs$exposures, logs$events, reference_defs)
  expect_s3_class(units, c("experiment_units", "data.table", "data.frame"))
  expect_identical(names(units), c("experiment_id", "user_id", "variant", "exposure_time", names(m)))
  expect_units_equal(units, ref, names(reference_defs))
  expect_identical(attr(as.POSIXct(units$exposure_time), "tzone"), "UTC")
  ## ratio: per unit, NA where the denominator is 0
  expect_equal(units$revenue_per_session,
               ifelse(ref$sessions_30h == 0, NA, ref$revenue_7d / ref$sessions_30h))

  ## the cases, spelled out
  get <- function(e, u, id) units[[id]][units$experiment_id == e & units$user_id == u]
  expect_false(any(units$user_id == 3 & units$experiment_id == "checkout"))   # two variants
  expect_identical(get("checkout", 1, "revenue_7d"), 50)       # both window ends, not 1 s after
  expect_identical(get("checkout", 1, "pre_revenue"), 7 + 20)  # -14 days and 0 both inclusive
  expect_identical(get("checkout", 2, "revenue_7d"), 45)       # first exposure; event before it out
  expect_identical(get("checkout", 2, "sessions_30h"), 1)      # exactly 30 h after
  expect_identical(get("checkout", 4, "conversion_7d"), 0)     # no events: zero
  expect_identical(get("checkout", 8, "sessions_late"), 2)     # 12 h start inclusive, 1 s before out
  expect_identical(get("checkout", 8, "revenue_14d_v"), 40)    # 14 days inclusive, 1 s after out
  expect_identical(get("checkout", 5, "revenue_14d_v"), 50)    # capped at the value
  ## two experiments with shared users, each relative to its own exposure
  expect_identical(get("pricing", 7, "revenue_7d"), 12)        # exactly 7 days after its exposure; 12 days out
  expect_identical(get("checkout", 7, "revenue_7d"), 12 + 8)
  expect_identical(get("pricing", 1, "pre_revenue"), 20)       # checkout's purchases are pre here
  ## 99 was never exposed
  expect_false(99 %in% units$user_id)
  ## one experiment alone (no shared users: the hash-match path) gives its rows
  alone <- compute_metrics(logs$exposures, logs$events, m, experiment_id = "checkout")
  for (id in names(m)) expect_identical(alone[[id]], units[[id]][units$experiment_id == "checkout"])

  ex <- attr(units, "excluded")
  expect_identical(ex$experiment_id, c("checkout", "pricing"))
  expect_identical(ex$units_multiple_variants, c(1L, 0L))
  expect_identical(ex$exposures_repeated, c(1L, 0L))
  expect_identical(attr(units, "columns"), clusterab:::log_columns())
  expect_s3_class(attr(units, "metrics"), "clusterab_metrics")
  expect_null(attr(units, "cluster"))
  expect_output(print(units), "1 unit in more than one variant excluded")
  ## a subset describes only its own experiments
  pricing <- units[units$experiment_id == "pricing"]
  expect_output(print(pricing), "in 1 experiment;")
  expect_false(any(grepl("^checkout:", capture.output(print(pricing)))))
})

test_that("the quantile cap is the type-7 quantile per experiment", {
  logs <- edge_logs()
  units <- compute_metrics(logs$exposures, logs$events, metrics_json)
  for (e in c("checkout", "pricing")) {
    at <- units$experiment_id == e
    raw <- compute_metrics(logs$exposures, logs$events, sub('"cap": \\{"quantile": 0.8\\}', '"description": "x"', metrics_json))
    r <- raw$revenue_14d_q[at]
    expect_equal(units$revenue_14d_q[at], pmin(r, quantile(r, 0.8, type = 7, names = FALSE)))
    expect_true(any(units$revenue_14d_q[at] < r) || e == "pricing")
  }
})

test_that("random logs with repeats, conflicts and shared users match the reference", {
  set.seed(42)
  n <- 60
  ex <- data.frame(user_id = sample.int(n, 150, replace = TRUE),
                   experiment_id = sample(c("e1", "e2"), 150, replace = TRUE),
                   variant = sample(c("a", "b", "c"), 150, replace = TRUE, prob = c(0.45, 0.45, 0.1)),
                   stringsAsFactors = FALSE)
  ## most repeats stay in one variant
  first <- ave(seq_len(150), ex$user_id, ex$experiment_id, FUN = function(i) i[1L])
  keep_variant <- runif(150) < 0.8
  ex$variant[keep_variant] <- ex$variant[first[keep_variant]]
  ex$exposure_time <- T0 + round(runif(150, 0, 5 * day))
  ev <- data.frame(user_id = sample.int(n + 10, 2000, replace = TRUE),
                   event_name = sample(c("purchase", "session_start", "page_view"), 2000, replace = TRUE),
                   stringsAsFactors = FALSE)
  ev$event_time <- T0 + round(runif(2000, -20 * day, 25 * day))
  ## some events exactly at window ends of some exposure
  at <- sample.int(2000, 200)
  ex_at <- sample.int(150, 200, replace = TRUE)
  ev$user_id[at] <- ex$user_id[ex_at]
  ev$event_time[at] <- ex$exposure_time[ex_at] +
    sample(c(0, 7 * day, 14 * day, -14 * day, 30 * 3600, 12 * 3600), 200, TRUE) +
    sample(c(-1, 0, 0, 1), 200, TRUE)
  ev$event_value <- round(rexp(2000, 1 / 30), 2)
  units <- compute_metrics(ex, ev, metrics_json)
  ref <- reference_metrics(ex, ev, reference_defs)
  expect_units_equal(units, ref, names(reference_defs))
  ## character, numeric and factor inputs give the same values
  ev2 <- ev
  ev2$event_time <- format(ev$event_time, "%Y-%m-%dT%H:%M:%SZ", tz = "UTC")
  ev2$event_name <- factor(ev$event_name)
  ex2 <- ex
  ex2$exposure_time <- as.numeric(ex$exposure_time)
  ex2$user_id <- as.integer(ex$user_id)
  units2 <- compute_metrics(ex2, ev2, metrics_json)
  for (id in names(reference_defs)) expect_equal(units2[[id]], units[[id]])
  ## one experiment alone is the same as its rows in the joint computation
  e1 <- compute_metrics(ex, ev, metrics_json, experiment_id = "e1")
  expect_identical(unique(e1$experiment_id), "e1")
  expect_equal(e1$revenue_7d, units$revenue_7d[units$experiment_id == "e1"])
})

test_that("an empty events table gives zeros", {
  logs <- edge_logs()
  units <- compute_metrics(logs$exposures, logs$events[0, ], metrics_json)
  expect_true(all(units$revenue_7d == 0) && all(units$sessions_30h == 0) && all(units$conversion_7d == 0))
  expect_true(all(is.na(units$revenue_per_session)))
  ## no event of the metrics' names at all
  ev <- logs$events
  ev$event_name <- "page_view"
  expect_true(all(compute_metrics(logs$exposures, ev, metrics_json)$revenue_7d == 0))
})

test_that("renamed columns, a factor variant and a cluster column", {
  logs <- edge_logs()
  ex <- logs$exposures
  names(ex) <- c("visitor", "test", "arm", "seen_at")
  ex$household <- ex$visitor %% 3
  ex$arm <- factor(ex$arm)
  ev <- logs$events
  names(ev) <- c("visitor", "what", "ts", "amount")
  cols <- c(user_id = "visitor", experiment_id = "test", variant = "arm", exposure_time = "seen_at",
            event_name = "what", event_time = "ts", event_value = "amount")
  units <- compute_metrics(ex, ev, metrics_json, columns = cols, cluster = "household")
  expect_identical(names(units)[1:5], c("test", "visitor", "arm", "seen_at", "household"))
  expect_s3_class(units$arm, "factor")
  expect_identical(attr(units, "cluster"), "household")
  ref <- compute_metrics(logs$exposures, logs$events, metrics_json)
  expect_equal(units$revenue_7d, ref$revenue_7d)
  expect_equal(units$household, ref$user_id %% 3)
  expect_identical(compute_metrics(ex, ev, metrics_json, columns = cols, cluster = ~ household)$household,
                   units$household)
  expect_output(print(units), "cluster: household")
  ## users as their own clusters: the column is not repeated
  by_user <- compute_metrics(ex, ev, metrics_json, columns = cols, cluster = "visitor")
  expect_identical(names(by_user), c("test", "visitor", "arm", "seen_at", names(read_metrics(metrics_json))))
  expect_identical(attr(by_user, "cluster"), "visitor")
})

test_that("read_metrics() reads files, strings, arrays and keeps the definitions", {
  m <- read_metrics(metrics_json)
  expect_s3_class(m, "clusterab_metrics")
  expect_identical(names(m), c(names(reference_defs), "revenue_per_session"))
  expect_identical(m$conversion_7d$display_name, "7-day conversion")
  expect_identical(m$revenue_7d$display_name, "revenue_7d")
  expect_identical(m$sessions_30h$end, 30 * 3600)
  expect_identical(m$sessions_30h$end_text, "1 day 6 hours")
  expect_true(m$pre_revenue$pre_exposure)
  expect_false(m$revenue_7d$pre_exposure)
  expect_identical(m$revenue_14d_q$cap_quantile, 0.8)
  expect_identical(m$revenue_14d_v$cap_value, 50)
  expect_true(is.na(m$revenue_per_session$start))
  expect_identical(m$revenue_per_session$numerator, "revenue_7d")
  expect_identical(read_metrics(m), m)
  f <- tempfile(fileext = ".json")
  writeLines(metrics_json, f)
  expect_identical(read_metrics(f), m)
  arr <- read_metrics('[{"metric_id": "c", "event": "purchase", "aggregation": "count",
                         "window": {"start": "-30 minutes", "end": "0 seconds"}}]')
  expect_identical(arr$c$event, "purchase")
  expect_identical(arr$c$start, -1800)
  d <- as.data.frame(m)
  expect_identical(d$id, names(m))
  expect_identical(nrow(d), 8L)
  expect_output(print(m), "pre-exposure")
})

test_that("window durations parse", {
  dur <- function(s) clusterab:::parse_duration(s, "Metric \"m\"", "end")
  expect_identical(dur("0 days"), 0)
  expect_identical(dur("0"), 0)
  expect_identical(dur("7 days"), 7 * day)
  expect_identical(dur("1 day"), day)
  expect_identical(dur("12 hours"), 12 * 3600)
  expect_identical(dur("30 minutes"), 1800)
  expect_identical(dur("1 minute"), 60)
  expect_identical(dur("90 seconds"), 90)
  expect_identical(dur("1 day 6 hours"), 30 * 3600)
  expect_identical(dur("-14 days"), -14 * day)
  expect_identical(dur("2 weeks"), 14 * day)
  expect_identical(dur("1 Week"), 7 * day)
  expect_identical(dur("1.5 hours"), 5400)
  for (bad in c("7 dayz", "days", "7", "seven days", "1 day 6", "", "7 days later", "- 7")) {
    expect_error(dur(bad), class = "clusterab_error")
  }
})

test_that("log_time() reads the timestamp formats and quotes the first bad one", {
  lt <- clusterab:::log_time
  t <- as.numeric(as.POSIXct("2026-03-01 12:00:00", tz = "UTC"))
  expect_identical(lt(c("2026-03-01 12:00:00", "2026-03-01T12:00:00Z", "2026-03-01T14:00:00+02:00",
                        "2026-03-01T07:30:00-0430", "2026-03-01 12:00", NA), "x"),
                   c(t, t, t, t, t, NA))
  expect_identical(lt("2026-03-01", "x"), t - 12 * 3600)
  expect_identical(lt(as.Date("2026-03-01"), "x"), t - 12 * 3600)
  expect_identical(lt(as.POSIXct("2026-03-01 13:00:00", tz = "Europe/Paris"), "x"), t)
  expect_identical(lt(t, "x"), t)
  expect_equal(lt("2026-03-01 12:00:00.25", "x"), t + 0.25)
  expect_error(lt(c("2026-03-01", "2026-02-30", "yesterday"), "events$event_time"),
               class = "clusterab_error", regexp = "events\\$event_time.*2 values.*\"2026-02-30\"")
  expect_error(lt("2026-03-01 12:00:00 tomorrow", "x"), class = "clusterab_error")
  expect_error(lt(list(1), "x"), class = "clusterab_error")
})

test_that("log_columns() fills in the defaults and rejects unknown names", {
  lc <- clusterab:::log_columns
  expect_identical(names(lc()), c("user_id", "experiment_id", "variant", "exposure_time",
                                  "event_name", "event_time", "event_value"))
  expect_identical(lc(c(user_id = "visitor"))[["user_id"]], "visitor")
  expect_identical(lc(c(user_id = "visitor"))[["variant"]], "variant")
  expect_error(lc(c(user = "visitor")), class = "clusterab_error", regexp = "\"user\".*\"user_id\"")
  expect_error(lc("visitor"), class = "clusterab_error")
  expect_error(lc(c(user_id = "a", user_id = "b")), class = "clusterab_error")
})

## Bad metric definitions: each names the metric and the field.
metric <- function(body) sprintf('{"m1": {%s}}', body)
ev7 <- '"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "7 days"}'

test_that("read_metrics() rejects bad definitions, naming the metric and the field", {
  bad <- function(x, regexp) expect_error(read_metrics(x), class = "clusterab_error", regexp = regexp)
  expect_error(read_metrics('{"m1": {"event": {"name": "purchase"}, }'), class = "clusterab_json_error",
               regexp = "not valid JSON.*right here")
  bad('[{"metric_id": "a"', "not valid JSON")
  f <- tempfile(fileext = ".json")
  writeLines('{"a": [1, 2}', f)
  bad(f, sprintf("%s\" is not valid JSON", basename(f)))
  bad(file.path(tempdir(), "no_such_metrics.json"), "no_such_metrics.json\" is not an existing file")
  bad(42, "path to a JSON file or a JSON string")
  bad("{}", "no metric definitions")
  bad(metric('"window": {"start": "0 days", "end": "7 days"}, "aggregation": "binary"'),
      "Metric \"m1\" has no \"event\"")
  bad(metric('"event": {"name": "purchase"}, "aggregation": "binary"'), "Metric \"m1\" has no \"window\"")
  bad(metric(ev7), "Metric \"m1\" has no \"aggregation\"")
  bad(metric(paste(ev7, ', "aggregation": "mean"')),
      "Metric \"m1\": \"aggregation\" is \"mean\".*\"binary\", \"sum\", \"count\", \"ratio\"")
  bad(metric('"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "7 dayz"}, "aggregation": "sum"'),
      "Metric \"m1\": window \"end\" = \"7 dayz\" is not a duration")
  bad(metric('"event": {"name": "purchase"}, "window": {"start": "0 days", "end": 7}, "aggregation": "sum"'),
      "Metric \"m1\": window \"end\" must be a string")
  bad(metric('"event": {"name": "purchase"}, "window": {"start": "0 days"}, "aggregation": "sum"'),
      "Metric \"m1\": \"window\" has no \"end\"")
  bad(metric('"event": {"name": "purchase"}, "window": {"start": "7 days", "end": "1 day"}, "aggregation": "sum"'),
      "Metric \"m1\": the window ends \\(\"1 day\"\\) before it starts \\(\"7 days\"\\)")
  bad(metric('"event": {"name": "purchase"}, "window": {"start": "-7 days", "end": "7 days"}, "aggregation": "sum"'),
      "Metric \"m1\": the window \"-7 days\" to \"7 days\" straddles exposure")
  bad(metric(paste(ev7, ', "aggregation": "binary", "cap": {"value": 1}')), "Metric \"m1\" is binary.*cap")
  bad(metric(paste(ev7, ', "aggregation": "sum", "cap": {"quantile": 1.5}')), "Metric \"m1\": \"cap\" quantile")
  bad(metric(paste(ev7, ', "aggregation": "sum", "cap": {"percent": 99}')), "Metric \"m1\": \"cap\" must be")
  bad(metric(paste(ev7, ', "aggregation": "sum", "numerator": "x"')), "Metric \"m1\": \"numerator\" is only for ratio")
  bad(metric('"event": {"name": ""}, "window": {"start": "0 days", "end": "7 days"}, "aggregation": "sum"'),
      "Metric \"m1\": \"event\" must name an event")
  bad(metric(paste(ev7, ', "aggregation": "sum", "metric_id": "m2"')),
      "Metric \"m1\": \"metric_id\" is \"m2\" but the key is \"m1\"")
  ## ratio metrics
  two <- sprintf('{"a": {%s, "aggregation": "count"}, "r": {"aggregation": "ratio", %%s}}', ev7)
  bad(sprintf(two, '"numerator": "a", "denominator": "b"'),
      "Metric \"r\": the \"denominator\" \"b\" is not a metric defined here; the metrics are \"a\", \"r\"")
  bad(sprintf(two, '"numerator": "r", "denominator": "a"'), "Metric \"r\": the \"numerator\" is the metric itself")
  bad(sprintf('{"a": {%s, "aggregation": "count"}, "r": {"aggregation": "ratio", "numerator": "a", "denominator": "a"}, "s": {"aggregation": "ratio", "numerator": "r", "denominator": "a"}}', ev7),
      "Metric \"s\": the \"numerator\" \"r\" is itself a ratio")
  bad(sprintf(two, '"numerator": "a"'), "Metric \"r\" has no \"denominator\"")
  bad(sprintf(two, paste('"numerator": "a", "denominator": "a", ', ev7)), "Metric \"r\" is a ratio.*no \"event\"")
  ## duplicate ids, array without ids
  bad(sprintf('[{"metric_id": "a", %s, "aggregation": "count"}, {"metric_id": "a", %s, "aggregation": "sum"}]', ev7, ev7),
      "Metric id \"a\" is defined 2 times")
  bad(sprintf('{"a": {%s, "aggregation": "count"}, "a": {%s, "aggregation": "sum"}}', ev7, ev7),
      "Metric id \"a\" is defined 2 times")
  bad(sprintf('[{%s, "aggregation": "count"}]', ev7), "Metric 1 of the array has no \"metric_id\"")
  bad('{"m1": 3}', "Metric \"m1\" must be a JSON object")
  bad(metric('"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "7 days", "unit": "days"}, "aggregation": "sum"'),
      "Metric \"m1\": \"window\" has field \"unit\"")
  bad(metric('"event": {"name": "purchase", "filter": "x"}, "window": {"start": "0 days", "end": "7 days"}, "aggregation": "sum"'),
      "Metric \"m1\": \"event\" has field \"filter\"")
})

test_that("unknown fields give a classed warning naming them", {
  expect_warning(m <- read_metrics(metric(paste(ev7, ', "aggregation": "sum", "caps": {"value": 1}'))),
                 class = "clusterab_unknown_field", regexp = "Metric \"m1\": unknown field \"caps\"")
  expect_true(is.na(m$m1$cap_value))
})

test_that("compute_metrics() rejects bad logs, naming the column or the id", {
  logs <- edge_logs()
  ex <- logs$exposures
  ev <- logs$events
  bad <- function(expr, regexp) expect_error(expr, class = "clusterab_error", regexp = regexp)
  bad(compute_metrics(ex[, -4], ev, metrics_json),
      "`exposures` has no column \"exposure_time\".*columns = c\\(exposure_time = ")
  bad(compute_metrics(ex, ev[, c("user_id", "event_name")], metrics_json),
      "`events` has no columns \"event_time\", \"event_value\"")
  bad(compute_metrics(ex, ev, metrics_json, columns = c(event_time = "ts")),
      "`events` has no column \"ts\" \\(given as columns\\[\"event_time\"\\]\\)")
  bad(compute_metrics(ex, ev, metrics_json, columns = c(time = "ts")), "`columns` has unknown name \"time\"")
  ## event_value needed only by sum metrics
  counts <- sprintf('{"n": {%s, "aggregation": "count"}}', ev7)
  expect_silent(compute_metrics(ex, ev[, 1:3], counts))
  bad(compute_metrics(ex, "events", counts), "`events` must be a data frame")
  ## timestamps
  ev_chr <- ev
  ev_chr$event_time <- format(ev$event_time, "%Y-%m-%d %H:%M:%S", tz = "UTC")
  ev_chr$event_time[c(3, 5)] <- c("2026-03-32 10:00:00", "soon")
  bad(compute_metrics(ex, ev_chr, metrics_json), "`events\\$event_time` has 2 values .*\"2026-03-32 10:00:00\"")
  ex_chr <- ex
  ex_chr$exposure_time <- "not a time"
  bad(compute_metrics(ex_chr, ev, metrics_json), "`exposures\\$exposure_time` has 14 values .*\"not a time\"")
  ev_na <- ev
  ev_na$event_time[1] <- NA
  bad(compute_metrics(ex, ev_na, metrics_json), "\"event_time\" has 1 missing value")
  ex_na <- ex
  ex_na$variant[2] <- NA
  bad(compute_metrics(ex_na, ev, metrics_json), "`exposures` column \"variant\" has 1 missing value")
  ## experiment ids
  bad(compute_metrics(ex, ev, metrics_json, experiment_id = c("checkout", "pricng")),
      "`experiment_id` \"pricng\" is not in `exposures`; its experiments are \"checkout\", \"pricing\"")
  bad(compute_metrics(ex, ev, metrics_json, experiment_id = NA), "`experiment_id` must be NULL")
  bad(compute_metrics(ex, ev, metrics_json, experiment_id = list("checkout")), "`experiment_id` must be NULL")
  ## missing values summed
  ev_v <- ev
  ev_v$event_value[1:2] <- NA                 # both in revenue_7d's window
  bad(compute_metrics(ex, ev_v, metrics_json),
      "Metric \"revenue_7d\" sums `events` column \"event_value\", which is missing in 2 ")
  ev_v <- ev
  ev_v$event_value[ev$user_id == 99] <- NA    # never exposed: not counted, no error
  expect_silent(compute_metrics(ex, ev_v, metrics_json))
  ## user id types, cluster, metric ids clashing with columns
  ev_id <- ev
  ev_id$user_id <- as.character(ev$user_id)
  bad(compute_metrics(ex, ev_id, metrics_json), "user ids of `events`.*different types")
  ex_cl <- ex
  ex_cl$household <- seq_len(nrow(ex))        # user 2 has two households
  bad(compute_metrics(ex_cl, ev, metrics_json, cluster = "household"), "`cluster` \\(\"household\"\\) is not constant")
  bad(compute_metrics(ex_cl, ev, metrics_json, cluster = "hh"), "`cluster` = \"hh\" is not a column of `exposures`")
  bad(compute_metrics(ex, ev, sprintf('{"variant": {%s, "aggregation": "count"}}', ev7)),
      "Metric id \"variant\" is also the name of a column")
  bad(compute_metrics(ex[0, ], ev, metrics_json), "`exposures` has no rows")
})

## A second reference, with base R merge() and aggregate() instead of loops,
## fast enough for the bundled data (20,000 users).
reference_merge <- function(exposures, events, defs) {
  ex <- as.data.frame(exposures)
  ex$t <- as.numeric(ex$exposure_time)
  keys <- c("experiment_id", "user_id")
  n_var <- aggregate(variant ~ experiment_id + user_id, data = ex, FUN = function(v) length(unique(v)))
  ex <- ex[order(ex$experiment_id, ex$user_id, ex$t), ]
  first <- ex[!duplicated(ex[keys]), c(keys, "variant", "t")]
  units <- merge(first, n_var[n_var$variant == 1L, keys], by = keys)
  ev <- as.data.frame(events)
  ev$et <- as.numeric(ev$event_time)
  for (id in names(defs)) {
    d <- defs[[id]]
    j <- merge(ev[ev$event_name == d$event, ], units[c(keys, "t")], by = "user_id")
    j <- j[j$et - j$t >= d$start & j$et - j$t <= d$end, ]
    j$one <- 1
    agg <- switch(d$agg,
                  binary = aggregate(one ~ experiment_id + user_id, data = j, FUN = max),
                  count = aggregate(one ~ experiment_id + user_id, data = j, FUN = sum),
                  sum = aggregate(event_value ~ experiment_id + user_id, data = j, FUN = sum))
    names(agg)[3] <- id
    units <- merge(units, agg, by = keys, all.x = TRUE)
    units[[id]][is.na(units[[id]])] <- 0
    if (!is.null(d$cap_v)) units[[id]] <- pmin(units[[id]], d$cap_v)
    if (!is.null(d$cap_q)) {
      for (e in unique(units$experiment_id)) {
        at <- units$experiment_id == e
        units[[id]][at] <- pmin(units[[id]][at], quantile(units[[id]][at], d$cap_q, type = 7))
      }
    }
  }
  units <- units[order(units$experiment_id, units$user_id), ]
  units$exposure_time <- units$t
  units
}

test_that("the two references agree on the edge cases", {
  logs <- edge_logs()
  a <- reference_metrics(logs$exposures, logs$events, reference_defs)
  b <- reference_merge(logs$exposures, logs$events, reference_defs)
  for (id in names(reference_defs)) expect_equal(b[[id]], a[[id]], info = id)
})

test_that("per-unit values on the bundled data equal the base-R reference", {
  path <- function(f) system.file("extdata", f, package = "clusterab")
  skip_if(!nzchar(path("metrics.json")), "bundled data not installed")
  ## read as plain strings: compute_metrics() parses the timestamps itself
  ex <- utils::read.csv(path("exposures.csv"), stringsAsFactors = FALSE)
  ev <- utils::read.csv(path("events.csv"), stringsAsFactors = FALSE)
  m <- read_metrics(path("metrics.json"))
  units <- compute_metrics(ex, ev, m, cluster = "household_id")
  defs <- list()
  for (d in m) {
    if (d$aggregation == "ratio") next
    defs[[d$id]] <- list(event = d$event, start = d$start, end = d$end, agg = d$aggregation,
                         cap_q = if (!is.na(d$cap_quantile)) d$cap_quantile,
                         cap_v = if (!is.na(d$cap_value)) d$cap_value)
  }
  ## the windows of the file, written out
  expect_identical(vapply(defs, function(d) d$end, 0)[c("conversion_7d", "revenue_14d", "pre_revenue_14d")],
                   c(conversion_7d = 7 * day, revenue_14d = 14 * day, pre_revenue_14d = 0))
  parse <- function(x) as.POSIXct(x, tz = "UTC", tryFormats = c("%Y-%m-%d %H:%M:%OS", "%Y-%m-%d"))
  ex$exposure_time <- parse(ex$exposure_time)
  ev$event_time <- parse(ev$event_time)
  ref <- reference_merge(ex, ev, defs)
  expect_identical(nrow(units), nrow(ref))
  expect_identical(as.character(units$experiment_id), ref$experiment_id)
  expect_identical(units$user_id, ref$user_id)
  expect_identical(units$variant, ref$variant)
  expect_equal(as.numeric(units$exposure_time), ref$exposure_time)
  for (id in names(defs)) expect_equal(units[[id]], ref[[id]], tolerance = 1e-12, info = id)
  for (d in m) {
    if (d$aggregation != "ratio") next
    expect_equal(units[[d$id]], ifelse(ref[[d$denominator]] == 0, NA, ref[[d$numerator]] / ref[[d$denominator]]))
  }
  ## the awkward rows the data documents: repeated exposures, units in two variants
  ex_tab <- attr(units, "excluded")
  expect_true(all(ex_tab$units_multiple_variants >= 1L))
  expect_true(all(ex_tab$exposures_repeated >= 1L))
  expect_identical(attr(units, "cluster"), "household_id")
})
