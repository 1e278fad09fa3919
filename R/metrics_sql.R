## compute_metrics() on database tables: the first exposures, the window join
## and the per-unit aggregation written as one SQL query (nested SELECTs with
## SUM, COUNT, MIN, MAX, CASE and a LEFT JOIN, no WITH), returned as a lazy
## dbplyr table. A few small queries run first: the checks of the columns, the
## counts of excluded units and, for quantile caps, the order statistics
## (ROW_NUMBER() OVER), whose caps enter the query as literals.

## A dbplyr table as a source of rows: its connection, its query as a derived
## table, and its columns (its first row, in their R types: drivers such as
## RPostgreSQL type the columns of an empty result as text).
sql_source <- function(x, arg) {
  if (!requireNamespace("dbplyr", quietly = TRUE)) {
    abort(sprintf("`%s` is a database table, which needs the dbplyr package; install it with install.packages(\"dbplyr\").",
                  arg))
  }
  con <- dbplyr::remote_con(x)
  sql <- paste0("(", as.character(dbplyr::sql_render(x)), ")")
  columns <- tryCatch(dbi_get(con, as.character(dbplyr::sql_render(utils::head(x, 1L)))),
                      error = function(e) {
                        dbi_check_connection(con, sprintf("reading `%s`", arg), e)
                        abort(sprintf("`%s` could not be read from the database: %s", arg,
                                      conditionMessage(e)))
                      })
  list(con = con, sql = sql, columns = columns, arg = arg)
}

is_sql_table <- function(x) inherits(x, "tbl_sql")

## A query's result, with errors that say what was being computed and
## whether the connection itself failed.
sql_query <- function(con, sql, what) {
  tryCatch(dbi_get(con, sql), error = function(e) {
    dbi_check_connection(con, what, e)
    abort(sprintf("the database could not compute %s: %s", what, conditionMessage(e)))
  })
}

## A timestamp column as numeric seconds since the epoch, in SQL: numbers as
## they are; TIMESTAMP and DATE columns through sql_epoch(); text is
## refused, since ISO strings are parsed only in memory.
sql_time <- function(con, src, col, qcol) {
  proto <- src$columns[[col]]
  if (is.numeric(proto) || inherits(proto, "integer64")) {
    return(sql_double(con, qcol))
  }
  ## an empty table says nothing of its types: its times are taken to be
  ## timestamps (the query fails if they are not)
  timestamp <- inherits(proto, c("POSIXt", "Date")) || (is.character(proto) && !length(proto))
  if (timestamp && !is.na(sql_epoch(con, qcol))) return(sql_epoch(con, qcol))
  abort(sprintf("`%s` column \"%s\" is %s in the database; store timestamps as TIMESTAMP (or DATE) columns, or as numbers (seconds since 1970-01-01 UTC). ISO 8601 strings are parsed only for data frames in memory.",
                src$arg, col, if (is.character(proto)) "text" else class(proto)[1L]))
}

## A cluster column of the exposures table given as a string or a one-sided
## formula (with database tables it cannot hold the values themselves).
sql_cluster_name <- function(cluster, src) {
  name <- cluster_column_name(cluster)
  if (!name %in% names(src$columns)) {
    abort(sprintf("`cluster` names column \"%s\", which is not in `exposures`. Its columns: %s.", name,
                  paste(names(src$columns), collapse = ", ")))
  }
  name
}

## The SQL of every step, from the two sources: list(first = first
## exposures per experiment and unit, units = the units kept, events = the
## events the metrics count, value = for each plain metric its aggregate,
## window = for each plain metric the condition of an event in its window).
metrics_sql_parts <- function(con, ex, ev, plain, cols, experiment_id, cluster_name) {
  q <- function(x) sql_id(con, x)
  time_ex <- sql_time(con, ex, cols[["exposure_time"]], q(cols[["exposure_time"]]))
  where <- if (!is.null(experiment_id)) paste0(" WHERE ", sql_in(con, q(cols[["experiment_id"]]), experiment_id)) else ""
  cl_cols <- if (!is.null(cluster_name)) {
    sprintf(", MIN(%s) AS cab_cmin, MAX(%s) AS cab_cmax", q(cluster_name), q(cluster_name))
  } else ""
  first <- paste0(
    "SELECT ", q(cols[["experiment_id"]]), " AS cab_eid, ", q(cols[["user_id"]]), " AS cab_uid",
    ", MIN(", time_ex, ") AS cab_t0, MIN(", q(cols[["variant"]]), ") AS cab_vmin, MAX(",
    q(cols[["variant"]]), ") AS cab_vmax, COUNT(*) AS cab_nexp", cl_cols,
    " FROM ", ex$sql, " cab_x", where,
    " GROUP BY ", q(cols[["experiment_id"]]), ", ", q(cols[["user_id"]]))
  units <- paste0("SELECT cab_eid, cab_uid, cab_vmin AS cab_variant, cab_t0",
                  if (!is.null(cluster_name)) ", cab_cmin AS cab_cl",
                  " FROM (", first, ") cab_f WHERE cab_vmin = cab_vmax")
  out <- list(first = first, units = units, events = NULL, value = list(), window = list())
  if (!length(plain) || is.null(ev)) return(out)
  need_value <- any(vapply(plain, function(d) d$aggregation == "sum", TRUE))
  names_needed <- unique(vapply(plain, `[[`, "", "event"))
  ## Events of one user, name and time are merged (their count and the sum
  ## and missing count of their values): the GROUP BY also makes engines
  ## without hash joins (SQLite) index the result for the join, instead of
  ## scanning every event for every unit.
  time_ev <- sql_time(con, ev, cols[["event_time"]], q(cols[["event_time"]]))
  value <- sql_double(con, q(cols[["event_value"]]))
  out$events <- paste0(
    "SELECT ", q(cols[["user_id"]]), " AS cab_uid, ", q(cols[["event_name"]]), " AS cab_name, ",
    time_ev, " AS cab_t, COUNT(*) AS cab_n",
    if (need_value) sprintf(", SUM(%s) AS cab_value, SUM(CASE WHEN %s IS NULL THEN 1 ELSE 0 END) AS cab_nnull",
                            value, value),
    " FROM ", ev$sql, " cab_v WHERE ", sql_in(con, q(cols[["event_name"]]), names_needed),
    " GROUP BY ", q(cols[["user_id"]]), ", ", q(cols[["event_name"]]), ", ", time_ev)
  for (d in plain) {
    inside <- sprintf("e.cab_name = %s AND e.cab_t - u.cab_t0 >= %s AND e.cab_t - u.cab_t0 <= %s",
                      sql_value(con, d$event), sql_number(con, d$start), sql_number(con, d$end))
    out$window[[d$id]] <- inside
    out$value[[d$id]] <- switch(d$aggregation,
      binary = sprintf("MAX(CASE WHEN %s THEN 1 ELSE 0 END)", inside),
      count = sprintf("SUM(CASE WHEN %s THEN e.cab_n ELSE 0 END)", inside),
      sum = sprintf("SUM(CASE WHEN %s THEN e.cab_value ELSE 0 END)", inside))
  }
  out
}

## compute_metrics() for dbplyr tables (see its help).
compute_metrics_sql <- function(exposures, events, metrics, cols, experiment_id, cluster) {
  ex <- sql_source(exposures, "exposures")
  con <- ex$con
  check_log_table(ex$columns, "exposures", c("user_id", "experiment_id", "variant", "exposure_time"), cols)
  cluster_name <- if (!is.null(cluster)) sql_cluster_name(cluster, ex)
  out_names <- units_out_names(cols, cluster_name, metrics)
  q <- function(x) sql_id(con, x)
  ## missing keys and clusters are errors, as for data frames
  keys <- c("experiment_id", "user_id", "variant", "exposure_time")
  null_sql <- paste0(", SUM(CASE WHEN ", q(c(cols[keys], cluster_name)), " IS NULL THEN 1 ELSE 0 END) AS cab_null",
                     seq_along(c(keys, cluster_name)), collapse = "")
  r0 <- sql_query(con, paste0("SELECT COUNT(*) AS cab_rows", null_sql, " FROM ", ex$sql, " cab_x"),
                  "the checks of `exposures`")
  if (as.double(r0$cab_rows) == 0) abort("`exposures` has no rows.")
  for (j in seq_along(c(keys, cluster_name))) {
    miss <- as.double(r0[[paste0("cab_null", j)]])
    if (!is.na(miss) && miss > 0) {
      if (j > length(keys)) {
        abort(sprintf("`cluster` column \"%s\" of `exposures` has %s missing value%s; drop those rows or give them a cluster id.",
                      cluster_name, format(miss), if (miss == 1) "" else "s"))
      }
      abort(sprintf("`exposures` column \"%s\" has %s missing value%s; drop those rows or fill them.",
                    cols[[keys[j]]], format(miss), if (miss == 1) "" else "s"))
    }
  }
  plain <- Filter(function(d) d$aggregation != "ratio", metrics)
  ev <- NULL
  if (length(plain)) {
    if (!is_sql_table(events)) {
      abort(sprintf("`events` must be a database table on the same connection as `exposures` (dplyr::tbl(con, \"events\")), not %s.",
                    describe_value(events)))
    }
    ev <- sql_source(events, "events")
    if (!identical(ev$con, con)) {
      abort("`events` and `exposures` are tables of different database connections; both must come from the same connection.")
    }
    sql_check_events(con, ex, ev, plain, cols)
  }
  ## the excluded units per experiment, and the ids of the experiments
  parts <- metrics_sql_parts(con, ex, ev, plain, cols, NULL, cluster_name)
  bad_cl <- if (!is.null(cluster_name)) "cab_vmin = cab_vmax AND cab_cmin <> cab_cmax" else "1 = 0"
  r1 <- sql_query(con, paste0(
    "SELECT cab_eid, COUNT(*) AS cab_all",
    ", SUM(CASE WHEN cab_vmin <> cab_vmax THEN 1 ELSE 0 END) AS cab_multi",
    ", SUM(CASE WHEN cab_vmin = cab_vmax AND cab_nexp > 1 THEN 1 ELSE 0 END) AS cab_repeated",
    ", SUM(CASE WHEN ", bad_cl, " THEN 1 ELSE 0 END) AS cab_bad",
    ", MIN(CASE WHEN ", bad_cl, " THEN cab_uid END) AS cab_bad_uid",
    " FROM (", parts$first, ") cab_f GROUP BY cab_eid"), "the first exposures")
  r1 <- r1[order(r1$cab_eid, method = "radix"), , drop = FALSE]
  ids <- r1$cab_eid
  if (!is.null(experiment_id)) {
    check_experiment_ids(experiment_id, ids)
    r1 <- r1[as.character(ids) %in% as.character(experiment_id), , drop = FALSE]
    ids <- r1$cab_eid
    parts <- metrics_sql_parts(con, ex, ev, plain, cols, ids, cluster_name)
  }
  bad <- which(as.double(r1$cab_bad) > 0)
  if (length(bad)) {
    k <- sum(as.double(r1$cab_bad))
    abort(sprintf("`cluster` (\"%s\") is not constant within unit and experiment: %s unit%s, such as %s %s in experiment %s, %s more than one cluster; a unit must belong to one cluster.",
                  cluster_name, format(k), if (k == 1) "" else "s", cols[["user_id"]],
                  format(r1$cab_bad_uid[bad[1L]]), format(ids[bad[1L]]), if (k == 1) "has" else "have"))
  }
  excluded <- data.table::data.table(experiment_id = ids, units_multiple_variants = as.integer(r1$cab_multi),
                                     exposures_repeated = as.integer(r1$cab_repeated))
  n_units <- stats::setNames(as.double(r1$cab_all) - as.double(r1$cab_multi), as.character(ids))
  if (length(plain)) sql_check_event_values(con, parts, plain, cols)

  final <- units_query(con, parts, metrics, plain, out_names, cluster_name, function(values, d, alias) {
    sql_cap(con, values, d, alias, n_units)
  })
  out <- dplyr::tbl(con, dbplyr::sql(final))
  attr(out, "metrics") <- metrics
  attr(out, "columns") <- cols
  attr(out, "excluded") <- excluded
  attr(out, "cluster") <- cluster_name
  attr(out, "sql") <- final
  class(out) <- c("experiment_units_sql", class(out))
  out
}

## The per-unit query from the parts of metrics_sql_parts(): the values,
## then the caps (`cap(values, d, alias)` gives the capped column), then the
## ratios and the names of the result.
units_query <- function(con, parts, metrics, plain, out_names, cluster_name, cap) {
  q <- function(x) sql_id(con, x)
  group <- paste0("u.cab_eid, u.cab_uid, u.cab_variant, u.cab_t0", if (!is.null(cluster_name)) ", u.cab_cl")
  m_alias <- stats::setNames(paste0("cab_m", seq_along(metrics)), names(metrics))
  values <- if (length(plain) && !is.null(parts$events)) {
    paste0("SELECT ", group,
           paste0(", ", sql_double(con, unlist(parts$value)), " AS ", m_alias[names(plain)], collapse = ""),
           " FROM (", parts$units, ") u LEFT JOIN (", parts$events, ") e ON e.cab_uid = u.cab_uid",
           " GROUP BY ", group)
  } else {
    paste0("SELECT ", group, paste0(", ", sql_number(con, 0), " AS ", m_alias[names(plain)], collapse = ""),
           " FROM (", parts$units, ") u")
  }
  capped <- vapply(names(plain), function(id) cap(values, plain[[id]], m_alias[[id]]), "")
  capped_sql <- paste0("SELECT ", group, paste0(", ", capped, " AS ", m_alias[names(plain)], collapse = ""),
                       " FROM (", values, ") u")
  metric_sql <- vapply(metrics, function(d) {
    if (d$aggregation != "ratio") return(m_alias[[d$id]])
    num <- m_alias[[d$numerator]]
    den <- m_alias[[d$denominator]]
    sprintf("CASE WHEN %s = 0 THEN NULL ELSE %s / %s END", den, num, den)
  }, "")
  paste0("SELECT cab_eid AS ", q(out_names[[1L]]), ", cab_uid AS ", q(out_names[[2L]]),
         ", cab_variant AS ", q(out_names[[3L]]), ", cab_t0 AS ", q(out_names[[4L]]),
         if (length(out_names) > 4L) paste0(", cab_cl AS ", q(out_names[[5L]])),
         paste0(", ", metric_sql, " AS ", q(names(metrics)), collapse = ""),
         " FROM (", capped_sql, ") u")
}

## The checks of the events table that need no join: the types of its
## columns, and missing times among the events the metrics count.
sql_check_events <- function(con, ex, ev, plain, cols) {
  need_value <- any(vapply(plain, function(d) d$aggregation == "sum", TRUE))
  check_log_table(ev$columns, "events", c("user_id", "event_name", "event_time", if (need_value) "event_value"), cols)
  nm <- ev$columns[[cols[["event_name"]]]]
  if (!is.character(nm) && !is.factor(nm)) {
    abort(sprintf("`events` column \"%s\" must hold event names (text), not %s.", cols[["event_name"]], class(nm)[1L]))
  }
  ue <- ev$columns[[cols[["user_id"]]]]
  ux <- ex$columns[[cols[["user_id"]]]]
  kind <- function(v) if (is.numeric(v) || inherits(v, "integer64")) "number" else class(v)[1L]
  if (kind(ue) != kind(ux)) {
    abort(sprintf("The user ids of `events` (column \"%s\", %s) and of `exposures` (column \"%s\", %s) are of different types, so they cannot match; convert one in the database (a view will do).",
                  cols[["user_id"]], class(ue)[1L], cols[["user_id"]], class(ux)[1L]))
  }
  if (need_value) {
    v <- ev$columns[[cols[["event_value"]]]]
    if (!is.numeric(v) && !is.logical(v) && !inherits(v, "integer64")) {
      abort(sprintf("`events` column \"%s\" must be numeric (the values summed by sum metrics), not %s.",
                    cols[["event_value"]], if (is.character(v)) "text" else class(v)[1L]))
    }
  }
  names_needed <- unique(vapply(plain, `[[`, "", "event"))
  q <- function(x) sql_id(con, x)
  sql_time(con, ev, cols[["event_time"]], q(cols[["event_time"]]))   # a text column is refused here
  r <- sql_query(con, paste0("SELECT COUNT(*) AS cab_missing FROM ", ev$sql, " cab_v WHERE ",
                             sql_in(con, q(cols[["event_name"]]), names_needed), " AND ",
                             q(cols[["event_time"]]), " IS NULL"), "the checks of `events`")
  miss <- as.double(r$cab_missing)
  if (miss > 0) {
    abort(sprintf("`events` column \"%s\" has %s missing value%s among the events the metrics count (%s); drop those rows or fill them.",
                  cols[["event_time"]], format(miss), if (miss == 1) "" else "s",
                  paste0("\"", names_needed, "\"", collapse = ", ")))
  }
}

## A sum metric whose window holds events without a value is an error (as
## for data frames): each such event is counted once, whatever the number
## of experiments its user is in.
sql_check_event_values <- function(con, parts, plain, cols) {
  for (d in plain) {
    if (d$aggregation != "sum") next
    inside <- parts$window[[d$id]]
    r <- sql_query(con, paste0(
      "SELECT SUM(e.cab_nnull) AS cab_missing FROM (", parts$events, ") e WHERE e.cab_nnull > 0 AND EXISTS (",
      "SELECT 1 FROM (", parts$units, ") u WHERE u.cab_uid = e.cab_uid AND ", inside, ")"),
      sprintf("the checks of metric \"%s\"", d$id))
    miss <- as.double(r$cab_missing)
    if (!is.na(miss) && miss > 0) {
      abort(sprintf("Metric \"%s\" sums `events` column \"%s\", which is missing in %s of the \"%s\" events in its window; fill them (0 if no value) or drop them.",
                    d$id, cols[["event_value"]], format(miss), d$event))
    }
  }
}

## The SQL of a capped metric column: a fixed cap, or a quantile cap per
## experiment computed in R (as quantile(type = 7)) from the two order
## statistics around it, fetched with ROW_NUMBER() OVER.
sql_cap <- function(con, values, d, alias, n_units) {
  col <- paste0("u.", alias)
  if (!is.na(d$cap_value)) {
    cap <- sql_number(con, d$cap_value)
    return(sprintf("CASE WHEN %s > %s THEN %s ELSE %s END", col, cap, cap, col))
  }
  if (is.na(d$cap_quantile)) return(col)
  index <- 1 + pmax(n_units - 1, 0) * d$cap_quantile
  ranks <- sort(unique(c(floor(index), ceiling(index))))
  r <- sql_query(con, paste0(
    "SELECT cab_eid, cab_rn, cab_v FROM (SELECT cab_eid, ", alias, " AS cab_v, ROW_NUMBER() OVER (PARTITION BY cab_eid ORDER BY ",
    alias, ") AS cab_rn FROM (", values, ") cab_w) cab_r WHERE cab_rn IN (",
    paste(sprintf("%.0f", ranks), collapse = ", "), ")"), sprintf("the cap of metric \"%s\"", d$id))
  ids <- names(n_units)[n_units > 0]
  branches <- character(0)
  for (e in ids) {
    at <- as.character(r$cab_eid) == e
    v <- stats::setNames(as.double(r$cab_v[at]), as.character(r$cab_rn[at]))
    lo <- floor(index[[e]])
    hi <- ceiling(index[[e]])
    ## quantile.default(type = 7)
    cap <- v[[as.character(lo)]]
    if (index[[e]] > lo && v[[as.character(hi)]] != cap) {
      h <- index[[e]] - lo
      cap <- (1 - h) * cap + h * v[[as.character(hi)]]
    }
    e_value <- r$cab_eid[at][1L]
    branches <- c(branches, sprintf("WHEN u.cab_eid = %s AND %s > %s THEN %s", sql_value(con, e_value), col,
                                    sql_number(con, cap), sql_number(con, cap)))
  }
  if (!length(branches)) return(col)
  sprintf("CASE %s ELSE %s END", paste(branches, collapse = " "), col)
}

## The rows of an experiment_units_sql table as the experiment_units table
## compute_metrics() gives for data frames: sorted by experiment and unit,
## first exposures as POSIXct, the same attributes.
collect_units <- function(units) {
  cols <- attr(units, "columns")
  d <- data.table::as.data.table(dplyr::collect(units))
  time <- cols[["exposure_time"]]
  data.table::set(d, j = time, value = as.POSIXct(as.double(d[[time]]), origin = "1970-01-01", tz = "UTC"))
  data.table::setorderv(d, c(cols[["experiment_id"]], cols[["user_id"]]))
  for (a in c("metrics", "columns", "excluded", "cluster")) data.table::setattr(d, a, attr(units, a))
  data.table::setattr(d, "class", c("experiment_units", "data.table", "data.frame"))
  d
}

#' @export
print.experiment_units_sql <- function(x, ...) {
  ex <- attr(x, "excluded")
  cl <- attr(x, "cluster")
  cat(sprintf("<experiment_units_sql: per-unit metrics computed in the database, %d experiment%s; metrics: %s%s>\n",
              nrow(ex), if (nrow(ex) == 1L) "" else "s", paste(names(attr(x, "metrics")), collapse = ", "),
              if (!is.null(cl)) sprintf("; cluster: %s", cl) else ""))
  print_excluded(ex)
  cat("`exposure_time` is in seconds since 1970-01-01 UTC; dplyr::collect() brings the rows into R.\n")
  NextMethod()
}
