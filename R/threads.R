## The one place the number of threads is decided: the `threads` argument,
## else option clusterab.threads, else RcppParallel's default; at most 2 under
## R CMD check. Global thread settings are never changed.
resolve_threads <- function(threads = NULL) {
  if (is.null(threads)) {
    threads <- getOption("clusterab.threads", RcppParallel::defaultNumThreads())
  }
  if (!is.numeric(threads) || length(threads) != 1L || !is.finite(threads) ||
      threads < 1 || threads != round(threads)) {
    abort("`threads` must be a single positive whole number, such as 1 or 2.",
         call. = FALSE)
  }
  if (nzchar(Sys.getenv("_R_CHECK_LIMIT_CORES_"))) threads <- min(threads, 2)
  as.integer(threads)
}
