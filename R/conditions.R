## Classed conditions. Every error the package raises on bad input has class
## "clusterab_error" (so tests and callers can catch it precisely) and a
## message that names the argument and the fix; warnings may carry a class of
## their own (such as "clusterab_few_clusters") so that they can be muffled.

## stop() with class "clusterab_error" (and `class`, more specific, first).
## The call is never shown: the message names the argument instead.
abort <- function(..., class = NULL, call. = FALSE) {
  cond <- structure(list(message = paste0(...), call = NULL),
                    class = c(class, "clusterab_error", "error", "condition"))
  stop(cond)
}

## warning() with classes `class` and "clusterab_warning".
warn <- function(..., class = NULL, call. = FALSE) {
  cond <- structure(list(message = paste0(...), call = NULL),
                    class = c(class, "clusterab_warning", "warning", "condition"))
  warning(cond)
}

## message() with classes `class` and "clusterab_message".
inform <- function(..., class = NULL) {
  cond <- structure(list(message = paste0(..., "\n"), call = NULL),
                    class = c(class, "clusterab_message", "message", "condition"))
  message(cond)
}
