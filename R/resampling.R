## Shared pieces of the resampling functions (did_boot(), ratio_test(),
## randomization_test()): the seed, the number of replicates, the loop over
## chunks of replicates with a progress bar, and the plot of a resampling
## distribution.

## A 64-bit seed for the C++ generators, from R's RNG: set.seed() reproduces
## every resampling result, whatever the thread count.
draw_seed <- function() {
  as.integer(floor(stats::runif(2L) * 2^31))
}

check_replicates <- function(R, what = "R") {
  if (!is.numeric(R) || length(R) != 1L || is.na(R) || R < 1 || R != round(R) || !is.finite(R)) {
    abort(sprintf("`%s` must be a positive whole number of replicates, such as 2000.", what),
         call. = FALSE)
  }
  as.double(R)
}

## Runs fun(begin, end) for consecutive chunks of the replicates [0, total)
## and returns the list of results, in order. Between chunks R checks for a
## user interrupt; a cli progress bar is shown when the first chunk suggests
## the whole run will take more than about two seconds (and `progress` is
## TRUE, the default from getOption("clusterab.progress", interactive())).
run_chunks <- function(total, fun, chunk = 1e4, progress = NULL, label = "Resampling") {
  if (is.null(progress)) progress <- getOption("clusterab.progress", interactive())
  starts <- seq(0, total - 1, by = chunk)
  out <- vector("list", length(starts))
  bar <- NULL
  started <- proc.time()[["elapsed"]]
  for (i in seq_along(starts)) {
    begin <- starts[i]
    end <- min(begin + chunk, total)
    cpp_check_interrupt()
    out[[i]] <- fun(begin, end)
    if (progress && is.null(bar) && i == 1L && length(starts) > 1L) {
      per_chunk <- proc.time()[["elapsed"]] - started
      if (per_chunk * length(starts) > 2) {
        bar <- cli::cli_progress_bar(label, total = total, .envir = environment())
      }
    }
    if (!is.null(bar)) cli::cli_progress_update(id = bar, set = end, .envir = environment())
  }
  if (!is.null(bar)) cli::cli_progress_done(id = bar, .envir = environment())
  out
}

## Histogram of replicates `t` with the observed value `t0` and an interval
## `ci` (may be NULL) marked: the plot() method of every resampling result.
plot_replicates <- function(t, t0, ci = NULL, main = "", xlab = "statistic", ...) {
  t <- t[is.finite(t)]
  graphics::hist(t, breaks = "FD", main = main, xlab = xlab, col = "grey85",
                 border = "white", ...)
  graphics::abline(v = t0, col = "firebrick", lwd = 2)
  if (!is.null(ci)) graphics::abline(v = ci, col = "steelblue", lwd = 2, lty = 2)
  graphics::legend("topright", legend = c("observed", if (!is.null(ci)) "interval"),
                   col = c("firebrick", if (!is.null(ci)) "steelblue"),
                   lty = c(1, if (!is.null(ci)) 2), lwd = 2, bty = "n")
  invisible(NULL)
}
