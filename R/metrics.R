## Experiment metrics from event logs: metric definitions read from JSON
## (read_metrics) and per-unit metric values computed from exposures and
## events (compute_metrics). The helpers log_columns() and log_time() are
## shared with analyze_experiment(), srm_test() and experiment_report().

utils::globalVariables(c(":=", ".N", "uid", "eid", "t0", "urow", "dt", "value", "vcode", "ccode",
                         "vmin", "vmax", "cmin", "cmax", "n_exp", "row0", "v", "cap", "i.t",
                         "i.value", "name"))

## ---------------------------------------------------------------------------
## Column names and timestamps (shared by every function that takes logs)

log_column_defaults <- c(user_id = "user_id", experiment_id = "experiment_id",
                         variant = "variant", exposure_time = "exposure_time",
                         event_name = "event_name", event_time = "event_time",
                         event_value = "event_value")

## The full column mapping: names are the default column names, values the
## user's names. `columns` renames some of them, e.g. c(user_id = "visitor").
log_columns <- function(columns = NULL) {
  out <- log_column_defaults
  if (is.null(columns)) return(out)
  valid <- paste0("\"", names(log_column_defaults), "\"", collapse = ", ")
  if (is.list(columns) && all(lengths(columns) == 1L)) columns <- unlist(columns)
  if (!is.character(columns) || is.null(names(columns)) || anyNA(columns) ||
      any(!nzchar(names(columns))) || any(!nzchar(columns))) {
    abort(sprintf("`columns` must be a named character vector such as c(user_id = \"visitor\", event_time = \"ts\"): names are the default column names (%s), values the names in your tables.",
                  valid))
  }
  unknown <- setdiff(names(columns), names(log_column_defaults))
  if (length(unknown) > 0L) {
    abort(sprintf("`columns` has unknown name%s %s; the names must be among %s (the values are your column names).",
                  if (length(unknown) == 1L) "" else "s",
                  paste0("\"", unknown, "\"", collapse = ", "), valid))
  }
  dup <- names(columns)[duplicated(names(columns))]
  if (length(dup) > 0L) {
    abort(sprintf("`columns` renames \"%s\" more than once; give each name once.", dup[1L]))
  }
  out[names(columns)] <- columns
  out
}

## Checks that table `x` (argument `arg`) has the columns `keys` (default
## names) under the mapping `cols`; the error names the missing ones and how
## `columns` renames them.
check_log_table <- function(x, arg, keys, cols) {
  if (!is.data.frame(x)) {
    abort(sprintf("`%s` must be a data frame or data.table, not %s.", arg, describe_value(x)))
  }
  want <- cols[keys]
  missing <- want[!want %in% names(x)]
  if (length(missing) > 0L) {
    renamed <- names(missing) != missing
    how <- if (all(!renamed)) {
      sprintf("; if yours are named differently, say so with `columns`, e.g. columns = c(%s = \"your_name\")",
              names(missing)[1L])
    } else ""
    shown <- names(x)[seq_len(min(12L, ncol(x)))]
    abort(sprintf("`%s` has no column%s %s%s. Its columns: %s.", arg,
                  if (length(missing) == 1L) "" else "s",
                  paste0("\"", missing, "\"", ifelse(renamed, sprintf(" (given as columns[\"%s\"])", names(missing)), ""),
                         collapse = ", "),
                  how, if (length(shown)) paste(shown, collapse = ", ") else "none"))
  }
  invisible(want)
}

## Timestamps as numeric seconds since the epoch (UTC). POSIXct, Date,
## numbers (seconds) and ISO 8601 strings ("2026-03-01 12:00:00",
## "2026-03-01T12:00:00Z", "2026-03-01T12:00:00+02:00", "2026-03-01"; UTC
## unless an offset is given). A non-missing value that does not parse is an
## error quoting it: a silently missing time would drop events.
log_time <- function(x, arg) {
  if (inherits(x, "POSIXt")) return(as.numeric(as.POSIXct(x)))
  if (inherits(x, "Date")) return(as.numeric(x) * 86400)
  if (is.factor(x)) x <- as.character(x)
  if (is.numeric(x) || (is.logical(x) && all(is.na(x)))) return(as.numeric(x))
  if (!is.character(x)) {
    abort(sprintf("`%s` must hold timestamps (POSIXct, Date, numeric seconds or ISO 8601 strings such as \"2026-03-01 12:00:00\"), not %s.",
                  arg, class(x)[1L]))
  }
  ## parse each distinct string once: logs repeat timestamps
  u <- unique(x)
  secs <- parse_iso_time(u)
  bad <- !is.na(u) & is.na(secs)
  if (any(bad)) {
    k <- sum(x %in% u[bad])
    abort(sprintf("`%s` has %d value%s that %s not a timestamp, the first \"%s\"; use ISO 8601 such as \"2026-03-01 12:00:00\", \"2026-03-01T12:00:00Z\" or \"2026-03-01\", or convert the column to POSIXct first.",
                  arg, k, if (k == 1L) "" else "s", if (k == 1L) "is" else "are", u[bad][1L]))
  }
  secs[match(x, u)]
}

## ISO 8601 strings -> seconds (NA when not a timestamp). A regular
## expression checks the whole string first, because strptime() ignores
## trailing text.
parse_iso_time <- function(s) {
  s <- trimws(s)
  re <- "^([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[ T]([0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]+)?)?))?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
  ok <- !is.na(s) & grepl(re, s, perl = TRUE)
  out <- rep(NA_real_, length(s))
  if (!any(ok)) return(out)
  date <- sub(re, "\\1", s[ok], perl = TRUE)
  clock <- sub(re, "\\2", s[ok], perl = TRUE)
  zone <- sub(re, "\\3", s[ok], perl = TRUE)
  clock[!nzchar(clock)] <- "00:00:00"
  short <- nchar(clock) == 5L
  clock[short] <- paste0(clock[short], ":00")
  t <- as.numeric(as.POSIXct(paste(date, clock), format = "%Y-%m-%d %H:%M:%OS", tz = "UTC"))
  ## an offset +HH:MM means local time ahead of UTC: subtract it
  off <- rep(0, length(zone))
  has <- nzchar(zone) & zone != "Z"
  if (any(has)) {
    z <- gsub(":", "", zone[has])
    off[has] <- ifelse(substr(z, 1L, 1L) == "-", -1, 1) *
      (as.numeric(substr(z, 2L, 3L)) * 3600 + as.numeric(substr(z, 4L, 5L)) * 60)
  }
  out[ok] <- t - off
  out
}

## ---------------------------------------------------------------------------
## Metric definitions

metric_aggregations <- c("binary", "sum", "count", "ratio")
metric_fields <- c("metric_id", "display_name", "event", "window", "aggregation", "numerator",
                   "denominator", "cap", "description")

#' @title Read and validate experiment metric definitions
#'
#' @description
#' `read_metrics()` reads metric definitions kept in JSON, the way
#' experimentation platforms store them, and checks every one of them:
#' a mistake is an error of class `clusterab_error` that names the metric and
#' the field.
#'
#' The JSON is an object keyed by metric id (or an array of objects, each
#' with a `metric_id`). Each metric has
#' * `aggregation`: `"binary"` (1 if the unit has any qualifying event, else
#'   0), `"count"` (the number of events), `"sum"` (the sum of the events'
#'   `event_value`) or `"ratio"`;
#' * `event`: `{"name": "purchase"}` (a bare string `"purchase"` is accepted
#'   too), the event name that counts;
#' * `window`: `{"start": "0 days", "end": "7 days"}`, relative to the unit's
#'   first exposure, both ends inclusive. A duration is a number and a unit
#'   (seconds, minutes, hours, days or weeks, singular or plural), several
#'   parts added (`"1 day 6 hours"`), optionally negative (`"-14 days"`).
#'   A window ending at or before exposure (`"-14 days"` to `"0 days"`) is a
#'   pre-exposure metric, usable as a covariate; a window may not straddle
#'   exposure (start before and end after it), so events before exposure
#'   never count in a post-exposure metric.
#' * for `"ratio"`: `numerator` and `denominator`, the ids of two other
#'   (non-ratio) metrics, and no `event` or `window`;
#' * optionally `cap`: `{"quantile": 0.99}` or `{"value": 1000}` for sum and
#'   count metrics: unit values above the cap (the quantile of the unit values
#'   of the experiment, or the fixed value) are set to the cap (winsorising
#'   the top; there is no lower cap);
#' * optionally `metric_id` (must equal the key), `display_name` (defaults to
#'   the id) and `description` (free text).
#'
#' Any other field of a metric (a typo such as `"caps"`, or a field of
#' another tool such as `"owner"`) is ignored with a warning of class
#' `clusterab_unknown_field` naming it; inside `event`, `window` and `cap`,
#' where every field changes the metric, an unknown field is an error.
#'
#' @param x A path to a JSON file, a JSON string, a list as parsed by
#'   `jsonlite::fromJSON(simplifyVector = FALSE)`, or a `clusterab_metrics`
#'   object (returned as is). A string whose first non-blank character is an opening brace or bracket is JSON;
#'   anything else is a path.
#' @return An object of class `clusterab_metrics`: a list with one element per
#'   metric in file order, named by id, each a list with `id`,
#'   `display_name`, `aggregation`, `event` (`NA` for ratios), `start` and
#'   `end` (seconds relative to exposure; `NA` for ratios), `start_text`
#'   and `end_text` (as written), `pre_exposure`, `numerator` and
#'   `denominator` (`NA` unless a ratio), `cap_quantile` and `cap_value`
#'   (`NA` when not capped) and `description`. Methods: `print()` and
#'   `as.data.frame()` (one row per metric).
#' @seealso [compute_metrics()] for the per-unit values.
#' @examples
#' m <- read_metrics('{
#'   "conversion_7d": {"display_name": "7-day conversion", "event": {"name": "purchase"},
#'                     "window": {"start": "0 days", "end": "7 days"}, "aggregation": "binary"},
#'   "revenue_14d": {"event": {"name": "purchase"}, "aggregation": "sum",
#'                   "window": {"start": "0 days", "end": "14 days"}, "cap": {"quantile": 0.99}},
#'   "sessions_7d": {"event": {"name": "session_start"}, "aggregation": "count",
#'                   "window": {"start": "0 days", "end": "1 week"}},
#'   "revenue_per_session": {"aggregation": "ratio", "numerator": "revenue_14d",
#'                           "denominator": "sessions_7d"},
#'   "pre_revenue": {"event": {"name": "purchase"}, "aggregation": "sum",
#'                   "window": {"start": "-14 days", "end": "0 days"}}
#' }')
#' m
#' as.data.frame(m)
#' ## a mistake names the metric and the field
#' try(read_metrics('{"m": {"event": {"name": "x"}, "aggregation": "mean",
#'                          "window": {"start": "0 days", "end": "7 days"}}}'))
#' @export
read_metrics <- function(x) {
  if (inherits(x, "clusterab_metrics")) return(x)
  parsed <- if (is.list(x)) x else parse_metrics_json(x)
  if (!is.list(parsed) || length(parsed) == 0L) {
    abort("`x` holds no metric definitions; give a JSON object keyed by metric id, such as {\"conversion_7d\": {\"event\": {\"name\": \"purchase\"}, \"window\": {\"start\": \"0 days\", \"end\": \"7 days\"}, \"aggregation\": \"binary\"}}.")
  }
  keys <- names(parsed)
  keyed <- !is.null(keys) && all(nzchar(keys))
  if (!keyed && !is.null(keys) && any(nzchar(keys))) {
    abort("`x` mixes keyed and unkeyed metric definitions; use a JSON object keyed by metric id or an array of objects each with a \"metric_id\".")
  }
  defs <- vector("list", length(parsed))
  for (i in seq_along(parsed)) {
    defs[[i]] <- parse_metric(parsed[[i]], if (keyed) keys[i] else NULL, i)
  }
  ids <- vapply(defs, `[[`, "", "id")
  dup <- unique(ids[duplicated(ids)])
  if (length(dup) > 0L) {
    abort(sprintf("Metric id \"%s\" is defined %d times; every metric needs its own id.",
                  dup[1L], sum(ids == dup[1L])))
  }
  names(defs) <- ids
  for (d in defs) if (d$aggregation == "ratio") check_ratio_parts(d, defs)
  for (i in seq_along(defs)) {
    d <- defs[[i]]
    if (d$aggregation == "ratio") {
      defs[[i]]$pre_exposure <- defs[[d$numerator]]$pre_exposure && defs[[d$denominator]]$pre_exposure
    }
  }
  structure(defs, class = "clusterab_metrics")
}

## JSON text (or a path to it) -> list. A parse error keeps jsonlite's
## message, which shows the position.
parse_metrics_json <- function(x) {
  if (!is.character(x) || length(x) != 1L || is.na(x)) {
    abort(sprintf("`x` must be a path to a JSON file or a JSON string, not %s.", describe_value(x)))
  }
  where <- "the JSON string"
  if (!grepl("^\\s*[\\[{]", x)) {
    if (!file.exists(x) || dir.exists(x)) {
      abort(sprintf("`x` = \"%s\" is not an existing file, nor a JSON string (which starts with { or [). Check the path (the working directory is %s).",
                    x, getwd()), class = "clusterab_file_error")
    }
    where <- sprintf("the file \"%s\"", x)
    x <- paste(readLines(x, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
  }
  tryCatch(jsonlite::fromJSON(x, simplifyVector = FALSE),
           error = function(e) {
             abort(sprintf("`x`: %s is not valid JSON. The parser says:\n%s", where,
                           conditionMessage(e)), class = "clusterab_json_error")
           })
}

## One metric's definition (a parsed JSON object) -> the validated list.
## `key` is its key in the JSON object (NULL for an array), `i` its position.
parse_metric <- function(m, key, i) {
  label <- if (!is.null(key)) sprintf("Metric \"%s\"", key) else sprintf("Metric %d of the array", i)
  if (!is.list(m) || (length(m) > 0L && is.null(names(m)))) {
    abort(sprintf("%s must be a JSON object with fields such as \"event\", \"window\" and \"aggregation\".", label))
  }
  m <- m[!vapply(m, is.null, TRUE)]  # a JSON null is an absent field
  string_field <- function(field, required = FALSE) {
    v <- m[[field]]
    if (is.null(v)) {
      if (required) abort(sprintf("%s has no \"%s\" field.", label, field))
      return(NA_character_)
    }
    if (!is.character(v) || length(v) != 1L || is.na(v) || !nzchar(v)) {
      abort(sprintf("%s: \"%s\" must be a non-empty string.", label, field))
    }
    v
  }
  id <- string_field("metric_id", required = is.null(key))
  if (!is.null(key)) {
    if (!is.na(id) && id != key) {
      abort(sprintf("%s: \"metric_id\" is \"%s\" but the key is \"%s\"; they must agree.", label, id, key))
    }
    id <- key
  }
  label <- sprintf("Metric \"%s\"", id)
  unknown <- setdiff(names(m), metric_fields)
  if (length(unknown) > 0L) {
    warn(sprintf("%s: unknown field%s %s ignored; the fields are %s.", label,
                 if (length(unknown) == 1L) "" else "s", paste0("\"", unknown, "\"", collapse = ", "),
                 paste0("\"", metric_fields, "\"", collapse = ", ")),
         class = "clusterab_unknown_field")
  }
  aggregation <- string_field("aggregation")
  if (is.na(aggregation)) {
    abort(sprintf("%s has no \"aggregation\" field; give one of %s.", label,
                  paste0("\"", metric_aggregations, "\"", collapse = ", ")))
  }
  if (!aggregation %in% metric_aggregations) {
    abort(sprintf("%s: \"aggregation\" is \"%s\"; it must be one of %s.", label, aggregation,
                  paste0("\"", metric_aggregations, "\"", collapse = ", ")))
  }
  d <- list(id = id, display_name = NA_character_, aggregation = aggregation,
            event = NA_character_, start = NA_real_, end = NA_real_,
            start_text = NA_character_, end_text = NA_character_, pre_exposure = FALSE,
            numerator = NA_character_, denominator = NA_character_,
            cap_quantile = NA_real_, cap_value = NA_real_, description = NA_character_)
  d$display_name <- string_field("display_name")
  if (is.na(d$display_name)) d$display_name <- id
  d$description <- string_field("description")
  if (aggregation == "ratio") {
    for (f in c("event", "window", "cap")) {
      if (!is.null(m[[f]])) {
        abort(sprintf("%s is a ratio: it takes its events and windows from its numerator and denominator metrics, so it has no \"%s\" (cap the component metrics instead).",
                      label, f))
      }
    }
    d$numerator <- string_field("numerator", required = TRUE)
    d$denominator <- string_field("denominator", required = TRUE)
    return(d)
  }
  for (f in c("numerator", "denominator")) {
    if (!is.null(m[[f]])) {
      abort(sprintf("%s: \"%s\" is only for ratio metrics, and this one is \"%s\".", label, f, aggregation))
    }
  }
  d$event <- metric_event(m[["event"]], label)
  if (is.null(m[["window"]])) {
    abort(sprintf("%s has no \"window\" field; give one such as {\"start\": \"0 days\", \"end\": \"7 days\"}.", label))
  }
  w <- m[["window"]]
  if (!is.list(w) || is.null(names(w))) {
    abort(sprintf("%s: \"window\" must be an object such as {\"start\": \"0 days\", \"end\": \"7 days\"}.", label))
  }
  extra <- setdiff(names(w), c("start", "end"))
  if (length(extra) > 0L) {
    abort(sprintf("%s: \"window\" has field%s %s; a window has only \"start\" and \"end\".", label,
                  if (length(extra) == 1L) "" else "s", paste0("\"", extra, "\"", collapse = ", ")))
  }
  for (f in c("start", "end")) {
    if (is.null(w[[f]])) {
      abort(sprintf("%s: \"window\" has no \"%s\"; give both, such as {\"start\": \"0 days\", \"end\": \"7 days\"}.", label, f))
    }
  }
  d$start_text <- window_text(w[["start"]], label, "start")
  d$end_text <- window_text(w[["end"]], label, "end")
  d$start <- parse_duration(d$start_text, label, "start")
  d$end <- parse_duration(d$end_text, label, "end")
  if (d$end < d$start) {
    abort(sprintf("%s: the window ends (\"%s\") before it starts (\"%s\").", label, d$end_text, d$start_text))
  }
  if (d$start < 0 && d$end > 0) {
    abort(sprintf("%s: the window \"%s\" to \"%s\" straddles exposure; a window lies after exposure (start >= 0) or before it (end <= 0, a pre-exposure metric). Split it into two metrics.",
                  label, d$start_text, d$end_text))
  }
  d$pre_exposure <- d$end <= 0
  if (!is.null(m[["cap"]])) {
    cap <- metric_cap(m[["cap"]], label, aggregation)
    d$cap_quantile <- cap[["quantile"]]
    d$cap_value <- cap[["value"]]
  }
  d
}

metric_event <- function(e, label) {
  if (is.null(e)) {
    abort(sprintf("%s has no \"event\" field; give the event that counts, such as {\"name\": \"purchase\"}.", label))
  }
  if (is.list(e)) {
    extra <- setdiff(names(e), "name")
    if (length(extra) > 0L) {
      abort(sprintf("%s: \"event\" has field%s %s; it has only \"name\", such as {\"name\": \"purchase\"}.", label,
                    if (length(extra) == 1L) "" else "s", paste0("\"", extra, "\"", collapse = ", ")))
    }
    e <- e[["name"]]
  }
  if (!is.character(e) || length(e) != 1L || is.na(e) || !nzchar(e)) {
    abort(sprintf("%s: \"event\" must name an event, such as {\"name\": \"purchase\"}.", label))
  }
  e
}

window_text <- function(v, label, field) {
  if (!is.character(v) || length(v) != 1L || is.na(v)) {
    abort(sprintf("%s: window \"%s\" must be a string such as \"7 days\", not %s.", label, field,
                  if (is.numeric(v) && length(v) == 1L) format(v) else "that value"))
  }
  v
}

## "7 days", "12 hours", "1 day 6 hours", "-14 days", "2 weeks" -> seconds.
duration_units <- c(second = 1, minute = 60, hour = 3600, day = 86400, week = 604800)

parse_duration <- function(text, label, field) {
  bad <- function() {
    abort(sprintf("%s: window \"%s\" = \"%s\" is not a duration; write a number and a unit (seconds, minutes, hours, days or weeks), such as \"7 days\", \"12 hours\", \"1 day 6 hours\" or \"-14 days\".",
                  label, field, text))
  }
  s <- tolower(trimws(text))
  sign <- 1
  if (startsWith(s, "-") || startsWith(s, "+")) {
    if (startsWith(s, "-")) sign <- -1
    s <- trimws(substring(s, 2L))
  }
  if (grepl("^0+(\\.0*)?$", s)) return(0)
  if (!nzchar(s)) bad()
  part <- "^([0-9]+(?:\\.[0-9]+)?|\\.[0-9]+)\\s*(second|minute|hour|day|week)s?(?:\\s+|$)"
  total <- 0
  while (nzchar(s)) {
    hit <- regmatches(s, regexec(part, s, perl = TRUE))[[1L]]
    if (length(hit) == 0L) bad()
    total <- total + as.numeric(hit[2L]) * duration_units[[hit[3L]]]
    s <- substring(s, nchar(hit[1L]) + 1L)
  }
  sign * total
}

metric_cap <- function(cap, label, aggregation) {
  if (aggregation == "binary") {
    abort(sprintf("%s is binary (0 or 1), so it cannot be capped; remove \"cap\".", label))
  }
  example <- "{\"quantile\": 0.99} or {\"value\": 1000}"
  if (!is.list(cap) || is.null(names(cap)) || length(cap) != 1L || !names(cap) %in% c("quantile", "value")) {
    abort(sprintf("%s: \"cap\" must be %s (one of the two).", label, example))
  }
  v <- cap[[1L]]
  if (!is.numeric(v) || length(v) != 1L || is.na(v) || !is.finite(v)) {
    abort(sprintf("%s: \"cap\" \"%s\" must be a number, as in %s.", label, names(cap), example))
  }
  if (names(cap) == "quantile" && (v <= 0 || v > 1)) {
    abort(sprintf("%s: \"cap\" quantile is %s; it must be in (0, 1], such as 0.99.", label, format(v)))
  }
  c(quantile = if (names(cap) == "quantile") v else NA_real_,
    value = if (names(cap) == "value") v else NA_real_)
}

check_ratio_parts <- function(d, defs) {
  label <- sprintf("Metric \"%s\"", d$id)
  for (f in c("numerator", "denominator")) {
    other <- d[[f]]
    if (other == d$id) {
      abort(sprintf("%s: the \"%s\" is the metric itself; name another metric.", label, f))
    }
    if (!other %in% names(defs)) {
      abort(sprintf("%s: the \"%s\" \"%s\" is not a metric defined here; the metrics are %s.", label, f,
                    other, paste0("\"", names(defs), "\"", collapse = ", ")))
    }
    if (defs[[other]]$aggregation == "ratio") {
      abort(sprintf("%s: the \"%s\" \"%s\" is itself a ratio; name a binary, count or sum metric.", label, f, other))
    }
  }
}

#' @export
as.data.frame.clusterab_metrics <- function(x, row.names = NULL, optional = FALSE, ...) {
  field <- function(f, what) unname(vapply(x, function(d) d[[f]], what))
  data.frame(id = field("id", ""), display_name = field("display_name", ""),
             aggregation = field("aggregation", ""), event = field("event", ""),
             start_text = field("start_text", ""), end_text = field("end_text", ""),
             start = field("start", 0), end = field("end", 0),
             pre_exposure = field("pre_exposure", TRUE),
             numerator = field("numerator", ""), denominator = field("denominator", ""),
             cap_quantile = field("cap_quantile", 0), cap_value = field("cap_value", 0),
             description = field("description", ""), stringsAsFactors = FALSE)
}

#' @export
print.clusterab_metrics <- function(x, ...) {
  d <- as.data.frame(x)
  cat(sprintf("<clusterab_metrics: %d metric%s>\n", nrow(d), if (nrow(d) == 1L) "" else "s"))
  what <- ifelse(d$aggregation == "ratio", sprintf("%s / %s", d$numerator, d$denominator),
                 sprintf("%s, %s to %s%s", d$event, d$start_text, d$end_text,
                         ifelse(d$pre_exposure, " (pre-exposure)", "")))
  what <- paste0(what, ifelse(!is.na(d$cap_quantile), sprintf(", capped at quantile %s", format(d$cap_quantile)),
                              ifelse(!is.na(d$cap_value), sprintf(", capped at %s", format(d$cap_value)), "")))
  name <- ifelse(d$display_name == d$id, "", sprintf("  \"%s\"", d$display_name))
  cat(sprintf("  %-*s %-7s %-*s%s\n", max(nchar(d$id)), d$id, d$aggregation, max(nchar(what)), what, name),
      sep = "")
  invisible(x)
}

## ---------------------------------------------------------------------------
## Per-unit metric values

#' @title Per-unit metric values from exposure and event logs
#'
#' @description
#' `compute_metrics()` turns an exposures table and an events table into one
#' row per experiment and unit (user) with the value of every metric, as the
#' usual analysis notebook does: each unit's first exposure in the experiment
#' starts its clock; an event counts in a metric when its name is the
#' metric's event and its time since that first exposure lies in the
#' metric's window (both ends inclusive); events are aggregated per unit
#' (binary: any; count: number; sum: sum of `event_value`), units without
#' qualifying events get 0, and caps are applied.
#'
#' * Units exposed more than once in one variant keep their first exposure;
#'   units seen in more than one variant of an experiment are removed (they
#'   are counted in `attr(, "excluded")` and the print).
#' * Several experiments in one table are handled independently, also when
#'   they share units; `experiment_id` keeps some of them.
#' * Events of units never exposed are ignored; an empty events table gives
#'   0 for every metric.
#' * A ratio metric's column is the unit's numerator / denominator (`NA`
#'   when the denominator is 0); its components are columns too (analyses
#'   of ratios use those, at the unit level).
#' * Caps apply per experiment to the unit values (zeros included): a
#'   quantile cap is `quantile(values, q, type = 7)` over the units of the
#'   experiment, a value cap the fixed number; values above are set to the
#'   cap. Ratios are computed from the capped components.
#' * Timestamps may be POSIXct, Date, numeric (seconds since the epoch) or
#'   ISO 8601 strings (UTC unless an offset is given); a value that does not
#'   parse is an error quoting it. A missing `event_value` in an event counted
#'   by a sum metric is an error giving the count, never a silent 0.
#'
#' The work is done by data.table joins and grouped sums, without per-unit
#' loops: a million exposed users and ten million events take seconds.
#'
#' @section Database tables:
#' `exposures` and `events` may be tables of a database, given as dbplyr
#' tables (`dplyr::tbl(con, "exposures")`, or any lazy query on one), both on
#' the same connection. Then nothing is computed in R: the first exposures,
#' the window join and the per-unit aggregation become one SQL query (nested
#' `SELECT`s with `MIN`, `MAX`, `SUM`, `COUNT`, `CASE`, `GROUP BY` and a
#' `LEFT JOIN`), and the result is a lazy table of class
#' `experiment_units_sql` holding that query, with the attributes above.
#' [analyze_experiment()] analyses it where it is, and [dplyr::collect()]
#' brings its rows into R, where they equal the data-frame result (sorted the
#' same way). A few small queries run first: the checks (missing keys and
#' clusters, column types, missing times and values), the counts of excluded
#' units and, for quantile caps, the order statistics around each cap
#' (`ROW_NUMBER() OVER`); the caps enter the query as numbers. Times must be
#' `TIMESTAMP` or `DATE` columns (read with `EXTRACT(EPOCH FROM ...)`) or
#' numbers of seconds since 1970-01-01 UTC (SQLite has no timestamp type);
#' `exposure_time` of the result is in seconds since 1970-01-01 UTC. `cluster`
#' must then name a column of `exposures`. PostgreSQL and SQLite are tested;
#' the SQL is the plain kind that DuckDB, Snowflake, BigQuery, Spark SQL and
#' Trino also run.
#' @param exposures A data frame or data.table with columns `user_id`,
#'   `experiment_id`, `variant`, `exposure_time` (one row per exposure), or
#'   a database table (see "Database tables").
#' @param events A data frame or data.table with columns `user_id`,
#'   `event_name`, `event_time` and, for sum metrics, `event_value`, or a
#'   database table on the connection of `exposures`.
#' @param metrics The metric definitions: a `clusterab_metrics` object, or
#'   anything [read_metrics()] takes (a path or a JSON string).
#' @param columns Your column names if they differ from the defaults: a
#'   named character vector whose names are default names and values yours,
#'   e.g. `c(user_id = "visitor", event_time = "ts")`.
#' @param experiment_id `NULL` (all experiments) or the ids of the experiments
#'   to keep.
#' @param cluster Optional cluster of each unit (household, region): a column
#'   name of `exposures`, a one-sided formula such as `~ household_id`, or a
#'   vector with one value per exposure row. It must be constant within each
#'   unit and experiment. A cluster that is the user id column itself is not
#'   added twice.
#' @return A data.table of class `experiment_units`, one row per experiment
#'   and unit, sorted by experiment and unit, with columns experiment id,
#'   user id, variant, `exposure_time` (the first exposure, POSIXct UTC; these
#'   four keep your names), the cluster column if any, then one numeric column
#'   per metric in the order of `metrics`. Attributes: `metrics` (the
#'   `clusterab_metrics`), `columns` (the full column mapping), `excluded` (a
#'   data.table with `experiment_id`, `units_multiple_variants` and
#'   `exposures_repeated`: units removed for being in two or more variants,
#'   and units kept but exposed more than once) and `cluster` (the cluster
#'   column name or `NULL`).
#' @seealso [read_metrics()].
#' @examples
#' exposures <- data.frame(
#'   user_id = c(1, 2, 3, 4, 4, 5, 5),
#'   experiment_id = "checkout",
#'   variant = c("control", "treatment", "control", "treatment", "treatment", "control", "treatment"),
#'   exposure_time = as.POSIXct("2026-03-01 12:00:00", tz = "UTC") + c(0, 0, 3600, 0, 86400, 0, 60))
#' events <- data.frame(
#'   user_id = c(1, 1, 2, 3, 4, 5, 9),
#'   event_name = c("purchase", "session_start", "purchase", "purchase",
#'                  "purchase", "purchase", "purchase"),
#'   event_time = c("2026-03-02 12:00:00", "2026-03-01 12:00:00", "2026-03-20 00:00:00",
#'                  "2026-03-01 11:00:00", "2026-03-08 12:00:00", "2026-03-02 00:00:00",
#'                  "2026-03-02 00:00:00"),
#'   event_value = c(20, NA, 35, 10, 15, 40, 99))
#' m <- read_metrics('{
#'   "conversion_7d": {"event": {"name": "purchase"}, "aggregation": "binary",
#'                     "window": {"start": "0 days", "end": "7 days"}},
#'   "revenue_7d": {"event": {"name": "purchase"}, "aggregation": "sum",
#'                  "window": {"start": "0 days", "end": "7 days"}},
#'   "sessions_7d": {"event": {"name": "session_start"}, "aggregation": "count",
#'                   "window": {"start": "0 days", "end": "7 days"}}}')
#' units <- compute_metrics(exposures, events, m)
#' units          # user 5 (in both variants) is excluded; user 4's first exposure is used
#' attr(units, "excluded")
#' @export
compute_metrics <- function(exposures, events, metrics, columns = NULL, experiment_id = NULL,
                            cluster = NULL) {
  metrics <- read_metrics(metrics)
  cols <- log_columns(columns)
  if (is_sql_table(exposures)) {
    return(compute_metrics_sql(exposures, events, metrics, cols, experiment_id, cluster))
  }
  check_log_table(exposures, "exposures", c("user_id", "experiment_id", "variant", "exposure_time"), cols)
  cl <- if (is.null(cluster)) NULL else data_cluster(exposures, cluster, "cluster", "exposures")
  out_names <- units_out_names(cols, cl$name, metrics)
  add_cluster <- length(out_names) > 4L
  units <- first_exposures(exposures, cols, experiment_id, cl)
  u <- units$units
  U <- nrow(u)
  values <- list()
  plain <- Filter(function(d) d$aggregation != "ratio", metrics)
  if (length(plain) > 0L) {
    values <- metric_values(u, events, plain, cols, U)
  }
  for (d in plain) values[[d$id]] <- cap_values(values[[d$id]], u$eid, d)
  for (d in metrics) {
    if (d$aggregation == "ratio") {
      num <- values[[d$numerator]]
      den <- values[[d$denominator]]
      values[[d$id]] <- ifelse(den == 0, NA_real_, num / den)
    }
  }
  rows <- u$row0
  out <- list(exposures[[cols[["experiment_id"]]]][rows], exposures[[cols[["user_id"]]]][rows],
              exposures[[cols[["variant"]]]][rows], .POSIXct(u$t0, tz = "UTC"))
  if (add_cluster) out <- c(out, list(cl$values[rows]))
  out <- c(out, values[names(metrics)])
  names(out) <- c(out_names, names(metrics))
  out <- data.table::setDT(out)
  data.table::setattr(out, "metrics", metrics)
  data.table::setattr(out, "columns", cols)
  data.table::setattr(out, "excluded", units$excluded)
  data.table::setattr(out, "cluster", cl$name)
  data.table::setattr(out, "class", c("experiment_units", "data.table", "data.frame"))
  out
}

## `experiment_id` (not NULL) checked: ids without missing values, each one
## of the experiments `ids` of the exposures (when given).
check_experiment_ids <- function(experiment_id, ids = NULL) {
  if (!is.atomic(experiment_id) || length(experiment_id) == 0L || anyNA(experiment_id)) {
    abort("`experiment_id` must be NULL (every experiment) or a vector of experiment ids, without missing values.")
  }
  absent <- setdiff(as.character(experiment_id), as.character(ids))
  if (!is.null(ids) && length(absent) > 0L) {
    shown <- utils::head(sort(as.character(ids)), 20L)
    abort(sprintf("`experiment_id` \"%s\" is not in `exposures`; its experiments are %s%s.",
                  absent[1L], paste0("\"", shown, "\"", collapse = ", "),
                  if (length(ids) > 20L) ", ..." else ""))
  }
}

## The key columns of the per-unit table: experiment, unit, variant, first
## exposure and the cluster, which is not repeated when it is one of them
## (the user id: users as clusters). A metric may not take one of the names.
units_out_names <- function(cols, cluster_name, metrics) {
  out <- cols[c("experiment_id", "user_id", "variant", "exposure_time")]
  if (!is.null(cluster_name) && !cluster_name %in% out) out <- c(out, cluster_name)
  clash <- intersect(names(metrics), out)
  if (length(clash) > 0L) {
    abort(sprintf("Metric id \"%s\" is also the name of a column of the result; rename the metric.", clash[1L]))
  }
  out
}

## Each unit's first exposure per experiment. Returns list(units, excluded):
## units a data.table (eid, uid, t0, row0 = the exposures row of the first
## exposure) sorted by experiment and unit, without units seen in several
## variants; excluded the counts per experiment.
first_exposures <- function(exposures, cols, experiment_id, cl) {
  if (nrow(exposures) == 0L) abort("`exposures` has no rows.")
  key_col <- function(k) {
    v <- check_vector_column(exposures[[cols[[k]]]], "exposures", cols[[k]])
    miss <- sum(is.na(v))
    if (miss > 0L) {
      abort(sprintf("`exposures` column \"%s\" has %d missing value%s; drop those rows or fill them.",
                    cols[[k]], miss, if (miss == 1L) "" else "s"))
    }
    v
  }
  eid <- key_col("experiment_id")
  uid <- join_key(key_col("user_id"))
  variant <- key_col("variant")
  t <- log_time(key_col("exposure_time"), sprintf("exposures$%s", cols[["exposure_time"]]))
  ex <- data.table::data.table(eid = eid, uid = uid, t = t,
                               vcode = if (is.factor(variant)) as.integer(variant) else match(variant, unique(variant)),
                               row0 = seq_along(t))
  if (!is.null(cl)) {
    check_no_missing(cl$values, "cluster")
    ex[, ccode := match(cl$values, unique(cl$values))]
  } else {
    ex[, ccode := 0L]
  }
  ids <- unique(eid)
  if (!is.null(experiment_id)) {
    check_experiment_ids(experiment_id, ids)
    ex <- ex[as.character(eid) %in% as.character(experiment_id)]
    ids <- ids[as.character(ids) %in% as.character(experiment_id)]
  }
  ## sorting by time puts each unit's first exposure first in its group
  data.table::setorderv(ex, c("eid", "uid", "t"))
  g <- ex[, list(t0 = t[1L], row0 = row0[1L], n_exp = .N, vmin = min(vcode), vmax = max(vcode),
                 cmin = min(ccode), cmax = max(ccode)), by = c("eid", "uid")]
  multi <- g$vmin != g$vmax
  counts <- g[, list(m = sum(vmin != vmax), r = sum(vmin == vmax & n_exp > 1L)), by = "eid"]
  ids <- sort(ids)
  at <- match(ids, counts$eid)
  excluded <- data.table::data.table(experiment_id = ids, units_multiple_variants = counts$m[at],
                                     exposures_repeated = counts$r[at])
  g <- g[!multi]
  bad <- g$cmin != g$cmax
  if (any(bad)) {
    k <- sum(bad)
    abort(sprintf("`cluster` (\"%s\") is not constant within unit and experiment: %d unit%s, such as %s %s in experiment %s, %s more than one cluster; a unit must belong to one cluster.",
                  cl$name, k, if (k == 1L) "" else "s", cols[["user_id"]], format(g$uid[bad][1L]), format(g$eid[bad][1L]),
                  if (k == 1L) "has" else "have"))
  }
  g[, urow := seq_len(.N)]
  list(units = g[, list(eid, uid, t0, row0, urow)], excluded = excluded)
}


## User ids as join keys: factors as strings, so that they match strings.
join_key <- function(v) if (is.factor(v)) as.character(v) else v

## The values of the non-ratio metrics `defs` for the units `u`: a named list
## of numeric vectors (one value per unit, zero-filled).
metric_values <- function(u, events, defs, cols, U) {
  values <- lapply(defs, function(d) numeric(U))
  if (is.data.frame(events) && nrow(events) == 0L) return(values)
  need_value <- any(vapply(defs, function(d) d$aggregation == "sum", TRUE))
  keys <- c("user_id", "event_name", "event_time", if (need_value) "event_value")
  check_log_table(events, "events", keys, cols)
  names_needed <- unique(vapply(defs, `[[`, "", "event"))
  nm <- check_vector_column(events[[cols[["event_name"]]]], "events", cols[["event_name"]])
  ## rows of the needed events (a hash lookup, one pass), then only those
  ## rows are copied; `code` says which needed event each row is
  if (is.factor(nm)) {
    code <- match(levels(nm), names_needed)[as.integer(nm)]
  } else if (is.character(nm)) {
    code <- data.table::chmatch(nm, names_needed)
  } else {
    abort(sprintf("`events` column \"%s\" must hold event names (character or factor), not %s.",
                  cols[["event_name"]], class(nm)[1L]))
  }
  idx <- which(!is.na(code))
  if (length(idx) == 0L) return(values)
  code <- code[idx]
  ev_uid <- join_key(events[[cols[["user_id"]]]][idx])
  unit_uid <- u$uid
  if (is.numeric(ev_uid) && is.numeric(unit_uid) && typeof(ev_uid) != typeof(unit_uid)) {
    ev_uid <- as.numeric(ev_uid)
    unit_uid <- as.numeric(unit_uid)
  }
  if (typeof(ev_uid) != typeof(unit_uid)) {
    abort(sprintf("The user ids of `events` (column \"%s\", %s) and of `exposures` (column \"%s\", %s) are of different types, so they cannot match; convert one, e.g. with as.character().",
                  cols[["user_id"]], class(ev_uid)[1L], cols[["user_id"]], class(unit_uid)[1L]))
  }
  ev_t <- log_time(events[[cols[["event_time"]]]][idx], sprintf("events$%s", cols[["event_time"]]))
  miss <- sum(is.na(ev_t))
  if (miss > 0L) {
    abort(sprintf("`events` column \"%s\" has %d missing value%s among the events the metrics count (%s); drop those rows or fill them.",
                  cols[["event_time"]], miss, if (miss == 1L) "" else "s",
                  paste0("\"", names_needed, "\"", collapse = ", ")))
  }
  if (need_value) {
    ev_value <- events[[cols[["event_value"]]]][idx]
    if (!is.numeric(ev_value) && !is.logical(ev_value)) {
      abort(sprintf("`events` column \"%s\" must be numeric (the values summed by sum metrics), not %s.",
                    cols[["event_value"]], class(ev_value)[1L]))
    }
  }
  ## pair each event with every first exposure of its user (one per
  ## experiment). When no unit is in two experiments a hash match does it;
  ## otherwise a keyed join, which repeats the events of shared users.
  if (!anyDuplicated(unit_uid)) {
    urow <- match(ev_uid, unit_uid)
    erow <- which(!is.na(urow))
    urow <- urow[erow]
  } else {
    pairs <- data.table::data.table(uid = unit_uid, urow = seq_len(U))[
      data.table::data.table(uid = ev_uid, erow = seq_along(ev_uid)),
      on = "uid", nomatch = NULL, allow.cartesian = TRUE, list(urow, erow)]
    urow <- pairs$urow
    erow <- pairs$erow
  }
  since <- ev_t[erow] - u$t0[urow]
  code <- code[erow]
  of_event <- lapply(seq_along(names_needed), function(k) which(code == k))
  for (d in defs) {
    sel <- of_event[[match(d$event, names_needed)]]
    keep <- sel[since[sel] >= d$start & since[sel] <= d$end]
    r <- urow[keep]
    values[[d$id]] <- switch(d$aggregation,
      count = as.numeric(tabulate(r, U)),
      binary = as.numeric(tabulate(r, U) > 0L),
      sum = {
        x <- as.numeric(ev_value[erow[keep]])
        miss <- length(unique(erow[keep][is.na(x)]))  # events, not event x experiment pairs
        if (miss > 0L) {
          abort(sprintf("Metric \"%s\" sums `events` column \"%s\", which is missing in %d of the \"%s\" events in its window; fill them (0 if no value) or drop them.",
                        d$id, cols[["event_value"]], miss, d$event))
        }
        s <- numeric(U)
        agg <- data.table::data.table(urow = r, value = x)[, list(v = sum(value)), by = "urow"]
        s[agg$urow] <- agg$v
        s
      })
  }
  values
}

## Caps a metric's unit values per experiment (see compute_metrics()).
cap_values <- function(x, eid, d) {
  if (!is.na(d$cap_value)) return(pmin(x, d$cap_value))
  if (is.na(d$cap_quantile)) return(x)
  cap <- data.table::data.table(eid = eid, v = x)[, cap := stats::quantile(v, d$cap_quantile, type = 7, names = FALSE), by = "eid"]$cap
  pmin(x, cap)
}

## One line per experiment: the units excluded and those exposed again.
print_excluded <- function(ex) {
  for (i in seq_len(nrow(ex))) {
    cat(sprintf("%s: %d unit%s in more than one variant excluded; %d unit%s exposed more than once (first exposure used)\n",
                ex$experiment_id[i], ex$units_multiple_variants[i],
                if (ex$units_multiple_variants[i] == 1L) "" else "s",
                ex$exposures_repeated[i], if (ex$exposures_repeated[i] == 1L) "" else "s"))
  }
}

#' @export
print.experiment_units <- function(x, ...) {
  ex <- attr(x, "excluded")
  ## a subset made with `[` keeps the class and the attributes (or loses
  ## both, with some data.table operations): describe only what is in x
  ecol <- attr(x, "columns")[["experiment_id"]]
  if (!is.null(ex) && !is.null(ecol) && ecol %in% names(x)) {
    ex <- ex[ex$experiment_id %in% x[[ecol]], ]
    cl <- attr(x, "cluster")
    cat(sprintf("<experiment_units: %s unit%s in %d experiment%s; metrics: %s%s>\n",
                format(nrow(x), big.mark = ","), if (nrow(x) == 1L) "" else "s",
                nrow(ex), if (nrow(ex) == 1L) "" else "s", paste(names(attr(x, "metrics")), collapse = ", "),
                if (!is.null(cl)) sprintf("; cluster: %s", cl) else ""))
    print_excluded(ex)
  }
  ## the same columns as a plain data.table (no copy of the values)
  y <- data.table::setDT(stats::setNames(lapply(seq_along(x), function(j) x[[j]]), names(x)))
  print(y, ...)
  invisible(x)
}
