## The SQL the package writes is plain: SELECT, SUM, COUNT, MIN, MAX, CASE,
## CAST, GROUP BY, a LEFT JOIN and window functions (SUM() OVER,
## ROW_NUMBER() OVER). What differs between engines is how identifiers and
## strings are quoted, the name of the double type, and how a timestamp
## becomes seconds since the epoch. A connection says the first three
## itself (DBI::dbQuoteIdentifier(), dbQuoteString(), dbDataType()); a
## dialect given by name (to print the SQL an engine would get, without
## one) carries them here. Every SQL helper takes either.

## name: list(open and close quote of identifiers, double type, the epoch
## seconds of a timestamp column `%s`, or NA where there is no timestamp type).
sql_dialect_rules <- list(
  ansi = list(quote = c("\"", "\""), double = "DOUBLE PRECISION", epoch = "EXTRACT(EPOCH FROM %s)"),
  postgres = list(quote = c("\"", "\""), double = "DOUBLE PRECISION", epoch = "EXTRACT(EPOCH FROM %s)"),
  sqlite = list(quote = c("`", "`"), double = "REAL", epoch = NA_character_),
  duckdb = list(quote = c("\"", "\""), double = "DOUBLE", epoch = "EXTRACT(EPOCH FROM %s)"),
  snowflake = list(quote = c("\"", "\""), double = "DOUBLE", epoch = "DATE_PART(EPOCH_SECOND, %s)"),
  bigquery = list(quote = c("`", "`"), double = "FLOAT64", epoch = "UNIX_SECONDS(TIMESTAMP(%s))"),
  spark = list(quote = c("`", "`"), double = "DOUBLE", epoch = "UNIX_TIMESTAMP(%s)"),
  trino = list(quote = c("\"", "\""), double = "DOUBLE", epoch = "TO_UNIXTIME(%s)"),
  mysql = list(quote = c("`", "`"), double = "DOUBLE", epoch = "UNIX_TIMESTAMP(%s)"),
  mssql = list(quote = c("[", "]"), double = "FLOAT", epoch = "DATEDIFF_BIG(SECOND, '1970-01-01', %s)")
)

#' SQL dialects
#'
#' The engines whose SQL [cluster_stats_sql()] prints. The same statements
#' run on every one; only the quoting of names, the name of the double type
#' and the conversion of timestamps to seconds differ.
#'
#' @return A character vector of dialect names.
#' @examples
#' sql_dialects()
#' @export
sql_dialects <- function() names(sql_dialect_rules)

## A dialect given by name, checked.
sql_dialect <- function(dialect) {
  if (!is.character(dialect) || length(dialect) != 1L || is.na(dialect) ||
      !dialect %in% names(sql_dialect_rules)) {
    abort(sprintf("`dialect` must be one of %s.", paste0("\"", names(sql_dialect_rules), "\"", collapse = ", ")))
  }
  structure(c(list(name = dialect), sql_dialect_rules[[dialect]]), class = "clusterab_sql_dialect")
}

is_dialect <- function(con) inherits(con, "clusterab_sql_dialect")

## SQL text for identifiers, strings, numbers and value lists. An Id() is
## schema-qualified, and SQL() text is used as it is.
sql_id <- function(con, x) {
  if (!is_dialect(con)) return(as.character(DBI::dbQuoteIdentifier(con, x)))
  if (inherits(x, "SQL")) return(as.character(x))
  if (inherits(x, "Id")) return(paste(sql_id(con, unname(x@name)), collapse = "."))
  q <- con$quote
  paste0(q[1L], gsub(q[2L], paste0(q[2L], q[2L]), x, fixed = TRUE), q[2L])
}
sql_string <- function(con, x) {
  if (!is_dialect(con)) return(as.character(DBI::dbQuoteString(con, x)))
  paste0("'", gsub("'", "''", x, fixed = TRUE), "'")
}
sql_double_type <- function(con) {
  if (is_dialect(con)) return(con$double)
  tryCatch(as.character(DBI::dbDataType(con, 1)), error = function(e) "DOUBLE PRECISION")
}
sql_double <- function(con, expr) sprintf("CAST(%s AS %s)", expr, sql_double_type(con))
sql_number <- function(con, x) sql_double(con, sprintf("%.17g", x))
sql_value <- function(con, x) {
  if (is.character(x) || is.factor(x)) return(sql_string(con, as.character(x)))
  if (inherits(x, "integer64") || is.integer(x)) return(as.character(x))
  if (is.logical(x)) return(ifelse(x, "1", "0"))
  sprintf("%.17g", as.double(x))
}
sql_in <- function(con, col, values) {
  sprintf("%s IN (%s)", col, paste(vapply(values, function(v) sql_value(con, v), ""), collapse = ", "))
}

## The seconds since the epoch of the timestamp column `qcol`, or NA where
## the engine has no timestamp type (SQLite).
sql_epoch <- function(con, qcol) {
  rule <- if (is_dialect(con)) con$epoch else if (inherits(con, "SQLiteConnection")) NA_character_ else
    sql_dialect_rules$ansi$epoch
  if (is.na(rule)) return(NA_character_)
  sql_double(con, sprintf(rule, qcol))
}

## Each statement under its name, wrapped at the console width for reading
## (the object holds each statement as one line: cat(x[["sums"]]) gives it
## as sent).
#' @export
print.clusterab_sql <- function(x, ...) {
  for (i in seq_along(x)) {
    cat(sprintf("-- %s\n", names(x)[i]))
    cat(strwrap(x[[i]], width = max(40L, getOption("width") - 2L), exdent = 4L), sep = "\n")
    if (i < length(x)) cat("\n")
  }
  invisible(x)
}
