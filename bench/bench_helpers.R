## Helpers shared by the bench/ scripts (sourced from the package root).

## Timings are only meaningful on an otherwise idle machine: show the load.
loadavg <- function() {
  if (file.exists("/proc/loadavg")) paste("load average", paste(scan("/proc/loadavg", what = "", n = 3, quiet = TRUE), collapse = " "))
  else "load average unknown"
}

## Median elapsed time of up to `reps` evaluations of `expr` (in the caller's
## frame); stops repeating once a single run takes more than `budget` seconds.
## A call faster than 50 ms is timed as a batch of k calls (k chosen so that a
## batch takes about 0.25 s) and the batch time divided by k, because
## system.time() resolves only milliseconds. Returns list(time, value, k, runs).
bench <- function(expr, reps = 5L, budget = 1) {
  expr <- substitute(expr)
  env <- parent.frame()
  value <- NULL
  t1 <- system.time(value <- eval(expr, env))[["elapsed"]]
  k <- if (t1 < 0.05) as.integer(min(1000, ceiling(0.25 / max(t1, 0.001)))) else 1L
  times <- if (k == 1L) t1 else numeric(0)
  if (t1 <= budget) {
    for (i in seq_len(reps - (k == 1L))) {
      t <- system.time(for (j in seq_len(k)) value <- eval(expr, env))[["elapsed"]] / k
      times <- c(times, t)
      if (t > budget) break
    }
  }
  list(time = stats::median(times), value = value, k = k, runs = length(times))
}
