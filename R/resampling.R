## Shared pieces of the resampling functions (did_boot(), ratio_test(),
## randomization_test()): the seed, the number of replicates, the loop over
## chunks of replicates with a progress bar, and the plot of a resampling
## distribution.

## A 64-bit seed for the C++ generators, from R's RNG: set.seed() reproduces
## every resampling result, whatever the thread count.
draw_seed <- function() {
  as.integer(floor(stats::runif(2L) * 2^31))
}

## `min`: the fewest replicates that make sense (a bootstrap needs 2 for a
## standard error).
check_replicates <- function(R, what = "R", min = 1) {
  if (!is.numeric(R) || length(R) != 1L || is.na(R) || R < 1 || R != round(R) || !is.finite(R)) {
    abort(sprintf("`%s` must be a positive whole number of replicates, such as 2000.", what),
         call. = FALSE)
  }
  if (R < min) {
    abort(sprintf("`%s` = %d is too few replicates: a bootstrap needs at least %d (for a standard error), and 1000 or more for its intervals.",
                  what, as.integer(R), as.integer(min)), call. = FALSE)
  }
  as.double(R)
}

## Refuse, before starting, a run whose replicates cannot be kept in memory:
## `R` replicates of `per_replicate` doubles each, against the limit
## getOption("clusterab.max_memory", 4e9) bytes.
check_replicate_memory <- function(R, per_replicate, what = "R") {
  limit <- getOption("clusterab.max_memory", 4e9)
  if (!is.numeric(limit) || length(limit) != 1L || is.na(limit) || limit <= 0) {
    abort("option `clusterab.max_memory` must be a positive number of bytes, such as 4e9.")
  }
  bytes <- R * per_replicate * 8
  if (bytes > limit) {
    abort(sprintf("`%s` = %s replicates would need about %s GB of memory to keep (%s value%s each), above the limit of %s GB; lower `%s` (at most %s here), or raise options(clusterab.max_memory = ) if the memory is there.",
                  what, format(R, big.mark = ",", scientific = FALSE),
                  format(signif(bytes / 1e9, 3)), format(per_replicate),
                  if (per_replicate == 1) "" else "s", format(signif(limit / 1e9, 3)), what,
                  format(floor(limit / (8 * per_replicate)), big.mark = ",", scientific = FALSE)),
          class = "clusterab_too_many_replicates")
  }
  invisible(bytes)
}

## Runs fun(begin, end) for consecutive chunks of the replicates [0, total)
## and returns the list of results, in order. Between chunks R checks for a
## user interrupt; a cli progress bar is shown when the first chunk suggests
## the whole run will take more than about two seconds (and `progress` is
## TRUE, the default from getOption("clusterab.progress", interactive())).
run_chunks <- function(total, fun, chunk = 1e4, progress = NULL, label = "Resampling") {
  if (is.null(progress)) progress <- getOption("clusterab.progress", interactive())
  if (!isTRUE(progress) && !isFALSE(progress)) {
    abort("`progress` must be TRUE, FALSE or NULL (the default, getOption(\"clusterab.progress\", interactive())).")
  }
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

## The plot() of every resampling result: the distribution of the replicates
## `t` with the observed value `t0` and an interval `ci` (may be NULL) marked.
## A discrete distribution (at most `max_bars` distinct values, such as a
## randomisation distribution over few assignments) is drawn as bars at the
## attained values, with heights the proportions of replicates; otherwise a
## histogram whose bins are never narrower than 1/200 of the range. Returns,
## invisibly, what was drawn: list(type = "bars", at, height) or
## list(type = "histogram", breaks, counts, density).
plot_replicates <- function(t, t0, ci = NULL, main = "", xlab = "statistic", max_bars = 50L,
                            ...) {
  t <- t[is.finite(t)]
  if (length(t) == 0L) abort("there are no finite replicates to plot.")
  vals <- attained_values(t)
  if (length(vals$at) <= max_bars) {
    drawn <- plot_bars(vals$at, vals$count / length(t), t0, ci, main, xlab, ...)
  } else {
    h <- graphics::hist(t, breaks = "FD", plot = FALSE)
    width <- diff(range(t))
    if (length(h$breaks) > 201L || any(diff(h$breaks) < width / 200)) {
      h <- graphics::hist(t, breaks = pretty(range(t), 50L), plot = FALSE)
    }
    drawn <- plot_histogram(h$breaks, h$counts, t0, ci, main, xlab, ...)
  }
  invisible(drawn)
}

## Distinct values of t, treating values within 1e-9 of the largest
## magnitude as one (mirror-image assignments differ by rounding only).
attained_values <- function(t) {
  t <- sort(t)
  tol <- 1e-9 * max(abs(t))
  new <- c(TRUE, diff(t) > tol)
  id <- cumsum(new)
  list(at = as.vector(rowsum(t, id, reorder = TRUE)) / tabulate(id), count = tabulate(id))
}

plot_bars <- function(at, height, t0, ci, main, xlab, ...) {
  xlim <- range(c(at, t0, ci[is.finite(ci)]))
  pad <- if (diff(xlim) > 0) 0.04 * diff(xlim) else max(abs(xlim[1L]), 1) * 0.1
  graphics::plot(at, height, type = "h", lwd = 6, lend = 1, col = "grey55",
                 xlim = xlim + c(-pad, pad), ylim = c(0, max(height) * 1.08), main = main,
                 xlab = xlab, ylab = "probability", ...)
  graphics::abline(h = 0, col = "grey70")
  mark_observed(t0, ci)
  list(type = "bars", at = at, height = height)
}

plot_histogram <- function(breaks, counts, t0, ci, main, xlab, ...) {
  density <- counts / sum(counts) / diff(breaks)
  h <- structure(list(breaks = breaks, counts = counts, density = density,
                      mids = (breaks[-1L] + breaks[-length(breaks)]) / 2, xname = xlab,
                      equidist = FALSE), class = "histogram")
  xlim <- range(c(breaks, t0, ci[is.finite(ci)]))
  graphics::plot(h, freq = FALSE, main = main, xlab = xlab, col = "grey85", border = "white",
                 xlim = xlim, ...)
  mark_observed(t0, ci)
  list(type = "histogram", breaks = breaks, counts = counts, density = density)
}

mark_observed <- function(t0, ci) {
  graphics::abline(v = t0, col = "firebrick", lwd = 2)
  has_ci <- length(ci) > 0L
  if (has_ci) graphics::abline(v = ci, col = "steelblue", lwd = 2, lty = 2)
  graphics::legend("topright", legend = c("observed", if (has_ci) "interval"),
                   col = c("firebrick", if (has_ci) "steelblue"),
                   lty = c(1, if (has_ci) 2), lwd = 2, bty = "n")
}

## A power of two that brings the largest magnitude of an outcome near 1,
## when it is so large or small that squares and cross-products could
## overflow or underflow (power_of_two_scale() of the compress step); 1
## otherwise. The outcome is divided by it: exact, so results scaled back are
## those of the exact arithmetic, and ordinary data are untouched.
outcome_scale <- function(y) 1 / power_of_two_scale(max(abs(y), 0))

## A result's tidy() table as a plain data.frame, for as.data.frame() and so
## knitr::kable().
result_frame <- function(tab, row.names = NULL) {
  tab <- as.data.frame(tab, stringsAsFactors = FALSE)
  if (!is.null(row.names)) row.names(tab) <- row.names
  tab
}

## Arguments renamed by the conventions of version 0.2 (conf.level,
## resample): an old name in `...` is an error naming the new one, and any
## other unknown argument is an error too.
renamed_arguments <- function(dots, renamed) {
  if (length(dots) == 0L) return(invisible())
  nm <- names(dots)
  if (is.null(nm)) nm <- rep("", length(dots))
  old <- nm[nm %in% names(renamed)]
  if (length(old)) {
    abort(sprintf("`%s` has been renamed `%s`: use %s = instead.", old[1L], renamed[[old[1L]]],
                  renamed[[old[1L]]]))
  }
  shown <- ifelse(nzchar(nm), paste0("`", nm, "`"), "an unnamed argument")
  abort(sprintf("unused argument%s: %s.", if (length(dots) > 1L) "s" else "",
                paste(shown, collapse = ", ")))
}
