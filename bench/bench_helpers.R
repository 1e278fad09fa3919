## Helpers shared by the bench/ scripts (sourced from the package root).

## Attaches `pkgs`, stopping with a message naming the first one missing.
attach_packages <- function(pkgs) {
  for (pkg in pkgs) {
    if (!requireNamespace(pkg, quietly = TRUE)) {
      stop(sprintf("package `%s` is needed for this benchmark; install it first.", pkg), call. = FALSE)
    }
  }
  for (pkg in pkgs) suppressPackageStartupMessages(library(pkg, character.only = TRUE))
}

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

## One simulated data set: data.frame of doubles x1..x10, y, integer g.
make_regression_data <- function(n, G, p = 10L) {
  g <- sample.int(G, n, replace = TRUE)                 # integer cluster ids
  u <- rnorm(G, sd = 1)[g]                              # cluster random effect
  d <- vector("list", p + 2L)
  names(d) <- c(paste0("x", seq_len(p)), "y", "g")
  eta <- 1 + u
  for (j in seq_len(p)) {
    ## some covariates partly cluster-level, with varied means and scales
    x <- j + if (j %% 2L == 0L) 0.5 * rnorm(G)[g] + rnorm(n) else rnorm(n, sd = j)
    d[[j]] <- x
    eta <- eta + 0.1 * j * x
  }
  d$y <- eta + rnorm(n, sd = 2)
  d$g <- g
  as.data.frame(d)
}
