## The one place the number of threads is decided: the `threads` argument,
## else option clusterab.threads, else RcppParallel's default; at most 2 under
## R CMD check. Global thread settings are never changed.
##
## What is accepted, as data.table's setDTthreads() and fixest's nthreads
## do for large values:
## * a positive whole number (1, 2L, 8). More threads than the machine has
##   cores are capped, silently, at the number of cores
##   (RcppParallel::defaultNumThreads()): threads = 1000 is "as many as
##   possible", never 1000 workers each with its own buffers.
## * NULL: the option clusterab.threads, else all cores.
## Refused with a clusterab_error naming `threads` (or the option): 0 and
## negative numbers (data.table reads 0 as "all cores", but a computed
## `detectCores() - 2` that reaches 0 on a small machine would then silently
## take every core; NULL says "all cores"), NA, Inf, fractions, strings
## such as "2", logicals, and vectors of length other than one.
resolve_threads <- function(threads = NULL) {
  what <- "`threads`"
  if (is.null(threads)) {
    threads <- getOption("clusterab.threads")
    what <- "option `clusterab.threads`"
    if (is.null(threads)) threads <- RcppParallel::defaultNumThreads()
  }
  if (!is.numeric(threads) || is.object(threads) || length(threads) != 1L ||
      is.na(threads) || !is.finite(threads) || threads < 1 || threads != round(threads)) {
    abort(sprintf("%s must be a single positive whole number, such as 1 or 2 (not %s); NULL uses all cores.",
                  what, describe_value(threads)))
  }
  cores <- RcppParallel::defaultNumThreads()
  if (is.numeric(cores) && length(cores) == 1L && !is.na(cores) && cores >= 1) {
    threads <- min(threads, cores)
  }
  if (nzchar(Sys.getenv("_R_CHECK_LIMIT_CORES_"))) threads <- min(threads, 2)
  as.integer(threads)
}

