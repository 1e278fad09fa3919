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

## match.arg() with a classed error that names the argument and its choices:
## `type <- arg_match(type)` in a function with `type = c("a", "b")` gives
## "`type` must be one of \"a\", \"b\", not \"x\"." where match.arg() raises an
## unclassed "'arg' should be one of ...". As match.arg(), the default (the
## whole vector of choices) gives its first element, NULL too, and partial
## matching is allowed. Replaces the former match_choice() of
## R/resampling.R (the same job, with "should be one of" in the message).
arg_match <- function(arg, choices, several.ok = FALSE, what = NULL) {
  if (is.null(what)) what <- deparse1(substitute(arg))
  if (missing(choices)) {
    caller <- sys.parent()
    choices <- eval(formals(sys.function(caller))[[what]], envir = sys.frame(caller))
  }
  if (is.null(arg)) return(choices[1L])
  if (identical(arg, choices)) return(if (several.ok) arg else arg[1L])
  ok <- is.character(arg) && length(arg) >= 1L && !anyNA(arg) && (several.ok || length(arg) == 1L)
  i <- if (ok) pmatch(arg, choices, nomatch = 0L, duplicates.ok = TRUE) else 0L
  if (!ok || any(i == 0L)) {
    abort(sprintf("`%s` must be %s %s, not %s.", what,
                  if (several.ok) "one or more of" else "one of",
                  paste0("\"", choices, "\"", collapse = ", "), describe_value(arg)))
  }
  ## several: each choice once, in the order given (a repeat adds nothing)
  choices[unique(i)]
}

## A confidence level `level`, passed as argument `arg`: one number in (0, 1).
check_conf_level <- function(level, arg) {
  if (!is.numeric(level) || length(level) != 1L || is.na(level) || level <= 0 || level >= 1) {
    abort(sprintf("`%s` must be a single number between 0 and 1, such as 0.95.", arg))
  }
}

## A short description of a bad argument value for an error message:
## "the string \"2\"", "NA", "a numeric vector of length 2", "a function".
describe_value <- function(x) {
  if (is.null(x)) return("NULL")
  if (is.function(x)) return("a function")
  if (!is.atomic(x) || is.object(x)) return(sprintf("an object of class %s", class(x)[1L]))
  if (length(x) != 1L) return(sprintf("a %s vector of length %d", typeof(x), length(x)))
  if (is.character(x)) return(sprintf("the string \"%s\"", x))
  format(x)
}
