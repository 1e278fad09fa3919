## The databases the DBI tests run against: in-memory SQLite, and a
## PostgreSQL server when one is given by CLUSTERAB_PG (a libpq-style
## "host=... port=... user=... dbname=..." string, as printed by
## `sh scripts/postgres.sh start`, which .ci/run runs). Outside CI the
## PostgreSQL tests skip when there is no server, saying how to start one;
## in CI (CI=true) a missing server is a failure, not a skip.

postgres_settings <- function() {
  spec <- Sys.getenv("CLUSTERAB_PG")
  if (!nzchar(spec)) return(NULL)
  kv <- strsplit(strsplit(trimws(spec), "[[:space:]]+")[[1L]], "=", fixed = TRUE)
  stats::setNames(lapply(kv, `[`, 2L), vapply(kv, `[`, "", 1L))
}

postgres_connect <- function() {
  why <- NULL
  args <- postgres_settings()
  if (is.null(args)) {
    why <- "no PostgreSQL server: CLUSTERAB_PG is not set (eval \"$(sh scripts/postgres.sh start)\" starts one)"
  } else if (!requireNamespace("RPostgreSQL", quietly = TRUE)) {
    why <- "RPostgreSQL is not installed"
  }
  con <- NULL
  if (is.null(why)) {
    con <- tryCatch(do.call(DBI::dbConnect, c(list(RPostgreSQL::PostgreSQL()), args)),
                    error = function(e) {
                      why <<- sprintf("cannot connect to PostgreSQL (%s): %s",
                                      Sys.getenv("CLUSTERAB_PG"), conditionMessage(e))
                      NULL
                    })
  }
  if (!is.null(why)) {
    if (identical(Sys.getenv("CI"), "true")) stop("CI: ", why, call. = FALSE)
    skip(why)
  }
  ## an empty database for each test: the tables of earlier tests are gone
  DBI::dbExecute(con, "SET client_min_messages TO WARNING")
  DBI::dbExecute(con, "DROP SCHEMA IF EXISTS public CASCADE")
  DBI::dbExecute(con, "CREATE SCHEMA public")
  con
}

## Each database: list(name, connect()), connect() returning a connection to
## an empty database (or skipping the test).
test_databases <- function() {
  list(
    list(name = "SQLite", connect = function() {
      need("RSQLite")
      DBI::dbConnect(RSQLite::SQLite(), ":memory:")
    }),
    list(name = "PostgreSQL", connect = postgres_connect)
  )
}

## A connection to `.database` holding the data frames in `...` as tables
## (the dot: a table named `d` must not match the argument partially).
database_with <- function(.database, ...) {
  need("DBI")
  con <- .database$connect()
  tables <- list(...)
  for (name in names(tables)) DBI::dbWriteTable(con, name, tables[[name]], row.names = FALSE)
  con
}
