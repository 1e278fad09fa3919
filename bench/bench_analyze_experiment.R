## Benchmark: analyze_experiment() and compute_metrics() on event logs,
## against the notebook an analyst writes by hand, on the same simulated logs
## in one R process.
##
## Run from the package root, against an installed clusterab:
##
##     Rscript bench/bench_analyze_experiment.R          # full run: about a minute
##     Rscript bench/bench_analyze_experiment.R quick    # n / 10: seconds
##
## To benchmark a private build: R_LIBS=/path/to/lib Rscript bench/bench_analyze_experiment.R
##
## Needs: clusterab, data.table.
##
## The logs: 1e6 exposed users in one experiment with two variants (1% of
## them exposed twice, 0.2% seen in both variants and so excluded), 1e7
## events (purchase with a value, session_start, page_view, add_to_cart; 2%
## from users never exposed; times from 14 days before to 28 days after
## the exposures), POSIXct timestamps. Three metrics: conversion_7d (binary),
## revenue_14d (sum), sessions_7d (count).
##
## Compared, each timed once (the full run is CPU-heavy):
##   ours      analyze_experiment(exposures, events, metrics): per-unit metrics
##             and the tests (chi-square, Welch)                target < 10 s
##             (and compute_metrics() alone)
##   (a) dt    a straightforward data.table notebook: first exposures by
##             order() and duplicated(), variants per unit by unique() and .N,
##             merge() of events to units, window filter, aggregate
##             by unit, zero-fill by merge(all.x = TRUE), then chisq.test() and
##             t.test() per metric
##   (b) base  the same with base R merge() / aggregate(); at n / 10 (1e5
##             users, 1e6 events), since base merge() on 1e7 rows takes
##             minutes; its ratio is against ours at the same n / 10.
## "agree" is the largest absolute difference of the per-unit values (and of
## the p-values) between ours and each notebook.

options(width = 150)
args <- commandArgs(trailingOnly = TRUE)
quick <- "quick" %in% args
shrink <- if (quick) 10 else 1

source(file.path("bench", "bench_helpers.R"))
attach_packages(c("clusterab", "data.table"))


cat(sprintf("clusterab %s (%s), data.table %s (%d threads)\n", packageVersion("clusterab"),
            dirname(dirname(system.file(package = "clusterab"))), packageVersion("data.table"),
            getDTthreads()))
cat(sprintf("%s, %d cores%s\n\n", R.version.string, parallel::detectCores(),
            if (quick) ", QUICK MODE (n / 10; the target is for the full run)" else ""))

cat(loadavg(), "at start\n\n")
free <- function() invisible(gc(verbose = FALSE, full = TRUE))
## evaluated once, in the caller's frame (bench() would repeat fast calls)
once <- function(expr) {
  expr <- substitute(expr)
  env <- parent.frame()
  value <- NULL
  time <- system.time(value <- eval(expr, env))[["elapsed"]]
  list(time = time, value = value)
}

## ---- simulated logs -----------------------------------------------------------------

day <- 86400
start <- as.POSIXct("2026-03-01", tz = "UTC")

sim_logs <- function(n_users, n_events, seed) {
  set.seed(seed)
  variant <- sample(c("control", "treatment"), n_users, replace = TRUE)
  t0 <- start + round(runif(n_users, 0, 7 * day))
  again <- sample.int(n_users, n_users / 100)         # exposed twice, same variant
  both <- sample.int(n_users, n_users / 500)          # exposed in both variants
  exposures <- data.table(
    user_id = c(seq_len(n_users), again, both),
    experiment_id = "checkout",
    variant = c(variant, variant[again], ifelse(variant[both] == "control", "treatment", "control")),
    exposure_time = c(t0, t0[again] + round(runif(length(again), 0, 3 * day)),
                      t0[both] + round(runif(length(both), 0, 3 * day))))
  user <- sample.int(n_users * 1.02, n_events, replace = TRUE)   # ids > n_users: never exposed
  name <- sample(c("purchase", "session_start", "page_view", "add_to_cart"), n_events, replace = TRUE,
                 prob = c(0.05, 0.45, 0.35, 0.15))
  treated <- user <= n_users & variant[pmin(user, n_users)] == "treatment"
  value <- ifelse(name == "purchase", round(rlnorm(n_events, 3 + 0.02 * treated, 1), 2), NA_real_)
  events <- data.table(user_id = user, event_name = name,
                       event_time = start + round(runif(n_events, -14 * day, 35 * day)),
                       event_value = value)
  list(exposures = exposures, events = events)
}

metrics <- read_metrics('{
  "conversion_7d": {"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "7 days"},
                    "aggregation": "binary"},
  "revenue_14d":   {"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "14 days"},
                    "aggregation": "sum"},
  "sessions_7d":   {"event": {"name": "session_start"}, "window": {"start": "0 days", "end": "7 days"},
                    "aggregation": "count"}}')
windows <- data.frame(id = c("conversion_7d", "revenue_14d", "sessions_7d"),
                      event = c("purchase", "purchase", "session_start"),
                      start = c(0, 0, 0), end = c(7, 14, 7) * day,
                      agg = c("binary", "sum", "count"), stringsAsFactors = FALSE)

## ---- (a) the data.table notebook ----------------------------------------------------

dt_notebook <- function(exposures, events) {
  keys <- c("experiment_id", "user_id")
  sorted <- exposures[order(experiment_id, user_id, exposure_time)]
  first <- sorted[!duplicated(sorted, by = keys)]
  n_variants <- unique(exposures, by = c(keys, "variant"))[, list(n = .N), by = keys]
  units <- first[n_variants[n == 1L], on = keys, nomatch = NULL,
                 list(experiment_id, user_id, variant, exposure_time)]
  for (k in seq_len(nrow(windows))) {
    w <- windows[k, ]
    e <- events[event_name == w$event]
    j <- merge(e, units, by = "user_id")
    j[, since := as.numeric(event_time) - as.numeric(exposure_time)]
    j <- j[since >= w$start & since <= w$end]
    agg <- switch(w$agg,
                  binary = j[, list(value = 1), by = c("experiment_id", "user_id")],
                  count = j[, list(value = .N), by = c("experiment_id", "user_id")],
                  sum = j[, list(value = sum(event_value)), by = c("experiment_id", "user_id")])
    units <- merge(units, agg, by = c("experiment_id", "user_id"), all.x = TRUE)
    units[is.na(value), value := 0]
    setnames(units, "value", w$id)
  }
  units
}

## the tests every notebook ends with: treatment minus control
notebook_tests <- function(units) {
  ctl <- units$variant == "control"
  do.call(rbind, lapply(seq_len(nrow(windows)), function(k) {
    x <- units[[windows$id[k]]]
    if (windows$agg[k] == "binary") {
      tab <- matrix(c(sum(x[ctl]), sum(!x[ctl]), sum(x[!ctl]), sum(!x[!ctl])), 2)
      data.frame(metric_id = windows$id[k], estimate = mean(x[!ctl]) - mean(x[ctl]),
                 p.value = suppressWarnings(chisq.test(tab))$p.value)
    } else {
      tt <- t.test(x[!ctl], x[ctl])
      data.frame(metric_id = windows$id[k], estimate = unname(diff(rev(tt$estimate))),
                 p.value = tt$p.value)
    }
  }))
}

## ---- (b) the base-R notebook -------------------------------------------------------

base_notebook <- function(exposures, events) {
  exposures <- as.data.frame(exposures)
  events <- as.data.frame(events)
  n_var <- aggregate(variant ~ experiment_id + user_id, data = exposures,
                     FUN = function(v) length(unique(v)))
  names(n_var)[3] <- "n_variants"
  ex <- exposures[order(exposures$experiment_id, exposures$user_id, exposures$exposure_time), ]
  first <- ex[!duplicated(ex[c("experiment_id", "user_id")]), ]
  units <- merge(first, n_var, by = c("experiment_id", "user_id"))
  units <- units[units$n_variants == 1L, c("experiment_id", "user_id", "variant", "exposure_time")]
  for (k in seq_len(nrow(windows))) {
    w <- windows[k, ]
    e <- events[events$event_name == w$event, ]
    j <- merge(e, units, by = "user_id")
    since <- as.numeric(difftime(j$event_time, j$exposure_time, units = "secs"))
    j <- j[since >= w$start & since <= w$end, ]
    j$one <- 1
    agg <- if (nrow(j) == 0L) data.frame(experiment_id = character(), user_id = numeric(), value = numeric())
           else switch(w$agg,
                       binary = aggregate(one ~ experiment_id + user_id, data = j, FUN = function(v) 1),
                       count = aggregate(one ~ experiment_id + user_id, data = j, FUN = length),
                       sum = aggregate(event_value ~ experiment_id + user_id, data = j, FUN = sum))
    names(agg)[3] <- w$id
    units <- merge(units, agg, by = c("experiment_id", "user_id"), all.x = TRUE)
    units[[w$id]][is.na(units[[w$id]])] <- 0
  }
  units
}

## largest absolute difference of the metric columns, rows matched by unit
max_diff <- function(a, b) {
  a <- as.data.table(a)[order(experiment_id, user_id)]
  b <- as.data.table(b)[order(experiment_id, user_id)]
  if (nrow(a) != nrow(b) || any(a$user_id != b$user_id)) return(Inf)
  max(vapply(windows$id, function(id) max(abs(a[[id]] - b[[id]])), 0))
}

## p-values of an experiment_results table, in the order of `windows`
result_p <- function(res) {
  res <- as.data.frame(res)
  res$p.value[match(windows$id, res$metric_id)]
}

## ---- full size: ours against the data.table notebook -------------------------------

n_users <- 1e6 / shrink
n_events <- 1e7 / shrink
cat(sprintf("== simulating %g exposed users, %g events ...\n", n_users, n_events))
logs <- sim_logs(n_users, n_events, seed = 20260301)
cat(sprintf("   %d exposure rows, %d event rows\n\n", nrow(logs$exposures), nrow(logs$events)))
free()

cm <- once(compute_metrics(logs$exposures, logs$events, metrics))
units <- cm$value
cat(sprintf("compute_metrics():    %6.2f s  (%d units; %d excluded for two variants, %d exposed twice)\n",
            cm$time, nrow(units), attr(units, "excluded")$units_multiple_variants,
            attr(units, "excluded")$exposures_repeated))
an <- once(clusterab::analyze_experiment(logs$exposures, logs$events, metrics))
ours_time <- an$time
ours_p <- result_p(an$value)
cat(sprintf("analyze_experiment(): %6.2f s  (per-unit metrics and tests)\n", an$time))
free()
dt <- once({
  u <- dt_notebook(logs$exposures, logs$events)
  list(units = u, tests = notebook_tests(u))
})
dt_time <- dt$time
cat(sprintf("(a) data.table notebook: %6.2f s\n", dt_time))
diff_dt <- max_diff(units, dt$value$units)
ours_tests <- notebook_tests(units)
cat(sprintf("    agree: max |per-unit difference| ours vs (a) = %.3g", diff_dt))
cat(sprintf("; max |p-value difference| analyze_experiment vs (a) = %.3g", max(abs(ours_p - dt$value$tests$p.value))))
cat("\n")
print(cbind(dt$value$tests, p.value.ours = ours_p), row.names = FALSE)
rm(dt, u); free()

## ---- n / 10: ours against the base-R notebook -----------------------------------------

n_small <- n_users / 10
cat(sprintf("\n== base-R notebook at n / 10: %g exposed users, %g events\n", n_small, n_events / 10))
small <- sim_logs(n_small, n_events / 10, seed = 20260302)
cm_small <- once(compute_metrics(small$exposures, small$events, metrics))
an_small <- once(clusterab::analyze_experiment(small$exposures, small$events, metrics))
base <- once({
  u <- base_notebook(small$exposures, small$events)
  list(units = u, tests = notebook_tests(u))
})
ours_small <- an_small$time
cat(sprintf("analyze_experiment(): %6.2f s; (b) base-R notebook: %6.2f s\n", ours_small, base$time))
cat(sprintf("    agree: max |per-unit difference| ours vs (b) = %.3g", max_diff(cm_small$value, base$value$units)))
cat(sprintf("; max |p-value difference| = %.3g", max(abs(result_p(an_small$value) - base$value$tests$p.value))))
cat("\n\n")

## ---- summary ---------------------------------------------------------------------------

what <- "analyze_experiment()"
ours_full <- ours_time
tab <- data.frame(
  comparison = c(sprintf("%s vs (a) data.table notebook", what), sprintf("%s vs (b) base-R notebook (n / 10)", what)),
  n_users = c(n_users, n_small), n_events = c(n_events, n_events / 10),
  ours_s = c(ours_full, ours_small), reference_s = c(dt_time, base$time),
  stringsAsFactors = FALSE)
tab$ratio <- tab$reference_s / tab$ours_s
print(tab, row.names = FALSE, digits = 3)
cat("\n", loadavg(), " at end\n", sep = "")
cat(sprintf("target: analyze_experiment < 10 s: %s (%.2f s at %g users, %g events%s)\n",
            if (ours_time < 10) "met" else "NOT met", ours_time, n_users, n_events,
            if (quick) "; quick mode, not the target size" else ""))
