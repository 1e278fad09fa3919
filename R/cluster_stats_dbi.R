## cluster_stats() on a DBI connection: the compress step runs in the database
## as SQL and only one row per cluster comes back. Two queries: the first
## counts rows, checks for NULL cluster ids and negative weights and computes
## the means (the shift); the second is one SELECT ... GROUP BY cluster over
## the rows used, summing the products of the shifted columns.

#' @rdname cluster_stats
#' @param table For a DBI connection: the table (or view) that holds the data,
#'   a name such as `"events"` or a [DBI::Id()] such as
#'   `DBI::Id(schema = "ab", table = "events")`. It is quoted with
#'   [DBI::dbQuoteIdentifier()].
#' @section Data in a database:
#' With a DBI connection as `data`, `formula`, `cluster` and `weights` name
#' columns of `table`: `cluster` and `weights` as a string (`"g"`) or a
#' one-sided formula (`~ g`), and every term of `formula` must be a numeric
#' column used as it is, optionally with the intercept removed (`- 1` or
#' `0 +`). Factors, interactions and functions such as `log(x)` are not
#' expanded in the database: create numeric columns for them there (a view
#' will do). Rows with a `NULL` in the outcome, a covariate or the weights are
#' left out, as are rows with zero weight; a `NULL` cluster id in a row that
#' is used is an error. The clusters come back sorted by id. The result is the
#' same object as for a data frame with the same rows, so [cluster_lm()] on it
#' gives the same fit.
#' @examples
#' \donttest{
#' if (requireNamespace("RSQLite", quietly = TRUE)) {
#'   con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
#'   DBI::dbWriteTable(con, "geo", geo_experiment)
#'   st_db <- cluster_stats(con, revenue ~ treated + baseline, cluster = "region",
#'                          table = "geo")
#'   print(cluster_lm(st_db))
#'   DBI::dbDisconnect(con)
#' }
#' }
#' @export
cluster_stats.DBIConnection <- function(data, formula, cluster, weights = NULL, table,
                                        shift = NULL, ...) {
  if (!requireNamespace("DBI", quietly = TRUE)) {
    abort("cluster_stats() on a database connection needs the DBI package; install it with install.packages(\"DBI\").",
         call. = FALSE)
  }
  con <- data
  shift_arg <- shift
  centre_argument(shift_arg)    # a bad `shift` is refused before any query
  if (missing(table) || is.null(table)) {
    abort("`table` is required with a database connection: name the table that holds the data, e.g. `table = \"events\"`.",
         call. = FALSE)
  }
  if (missing(formula) || !inherits(formula, "formula") || length(formula) != 3L) {
    abort("`formula` must be a two-sided formula such as `y ~ treatment + x`.", call. = FALSE)
  }
  if (missing(cluster) || is.null(cluster)) {
    abort("`cluster` is required: name the column that identifies each row's cluster, e.g. `cluster = \"g\"`.",
         call. = FALSE)
  }
  tab <- dbi_table(con, table)
  spec <- dbi_formula_columns(formula, tab)
  cluster_col <- dbi_column_name(cluster, "cluster", tab)
  weight_col <- if (!is.null(weights)) dbi_column_name(weights, "weights", tab)
  dbi_check_numeric(spec$x_cols, "formula", tab)
  dbi_check_numeric(spec$y_col, "formula", tab)
  if (!is.null(weight_col)) dbi_check_numeric(weight_col, "weights", tab)

  value_cols <- c(spec$x_cols, spec$y_col)        # the shifted columns, z[-1]
  q1 <- dbi_means_sql(con, tab$sql, value_cols, weight_col, cluster_col)
  used <- q1$used
  mean_cols <- q1$mean_cols
  g <- sql_id(con, cluster_col)
  sql1 <- q1$sql
  r1 <- dbi_query(con, sql1, "the means", tab)
  count <- function(name) {
    v <- as.double(r1[[name]][1L])
    if (is.na(v)) 0 else v
  }
  if (count("cab_rows") == 0) {
    abort(sprintf("`table` names table `%s`, which has no rows.", tab$label), call. = FALSE)
  }
  if (!is.null(weight_col) && count("cab_negative") > 0) {
    abort(sprintf("`weights` must be non-negative; %s are negative (column `%s` of table `%s`).",
                 format(count("cab_negative"), big.mark = ","), weight_col, tab$label), call. = FALSE)
  }
  n_used <- count("cab_used")
  if (n_used == 0) {
    abort(sprintf("no rows of table `%s` are left after leaving out rows with NULL in %s%s; check the column names and the data.",
                 tab$label, paste0("`", unique(mean_cols), "`", collapse = ", "),
                 if (!is.null(weight_col)) " or zero weight" else ""), call. = FALSE)
  }
  if (count("cab_null_cluster") > 0) {
    abort(sprintf("`cluster` column `%s` is NULL in %s of the rows used; leave those rows out (e.g. a view with WHERE %s IS NOT NULL) or give them a cluster id.",
                 cluster_col, format(count("cab_null_cluster"), big.mark = ","), g), call. = FALSE)
  }
  means <- vapply(seq_along(mean_cols), function(j) as.double(r1[[paste0("cab_mean", j)]][1L]), 0)
  bad <- !is.finite(means)
  if (any(bad)) {
    abort(sprintf("%s contain(s) infinite values (or values that are not numbers); remove or recode them first.",
                 paste0("`", unique(mean_cols[bad]), "`", collapse = ", ")), call. = FALSE)
  }
  ## The shift: the means, written into the SQL as literals with 17
  ## significant digits; the database returns the values it read, which are
  ## the ones stored.
  shift <- numeric(length(value_cols))
  if (spec$intercept) shift <- means[seq_along(value_cols)]
  centre <- centre_argument(shift_arg)
  if (!is.null(centre)) {
    shift <- unname(centre_shift(centre, stats::setNames(shift, c(spec$x_labels, spec$y_label)),
                                 spec$intercept))
  }
  dbi_check_magnitudes(r1, value_cols, weight_col, shift, spec, tab)
  q2 <- dbi_sums_sql(con, tab$sql, spec, value_cols, weight_col, cluster_col, used, shift)
  weighted <- !is.null(weight_col)
  sums <- q2$sums
  pairs <- q2$pairs
  K <- nrow(pairs)
  exprs <- unlist(sums)
  ## Sums that could leave the range of doubles are refused before the
  ## query: SQLite would return Inf, PostgreSQL fails with an overflow error.
  ## The bound of each sum: rows used times the largest product of its
  ## columns' magnitudes (from query 1).
  size <- dbi_sizes(r1, value_cols, weight_col, shift)
  zsize <- c(1, size[seq_along(value_cols)])
  wsize <- if (weighted) size[length(size)] else 1
  bounds <- unlist(lapply(names(sums), function(p) {
    k <- which(!vapply(sums[[p]], is.null, NA))
    wsize^(if (weighted) as.integer(p) else 0L) * zsize[pairs[k, "a"] + 1L] *
      zsize[pairs[k, "b"] + 1L] * n_used
  }))
  too_big <- !(bounds <= .Machine$double.xmax)
  if (any(too_big)) {
    dbi_abort_overflow(matrix(ifelse(too_big, Inf, 0), 1L), sums, pairs, value_cols, weight_col,
                       spec, tab)
  }
  chunks <- q2$chunks
  values <- numeric(0)
  res <- NULL
  for (ch in chunks) {
    sql2 <- q2$sql(ch)
    r2 <- dbi_query(con, sql2, "the per-cluster sums", tab)
    if (nrow(r2) == 0L) {
      abort(sprintf("the per-cluster query on table `%s` returned no rows; check that the table is not empty.",
                   tab$label), call. = FALSE)
    }
    if (is.null(res)) {
      res <- r2
      if (spec$intercept) {
        shift <- vapply(seq_along(shift), function(j) as.double(r2[[paste0("cab_shift", j)]][1L]), 0)
      }
      values <- matrix(NA_real_, nrow(r2), length(exprs))
    } else {
      m <- match(res$cab_g, r2$cab_g)
      if (nrow(r2) != nrow(res) || anyNA(m)) {
        abort(sprintf("table `%s` changed while the statistics were computed; try again.", tab$label),
             call. = FALSE)
      }
      r2 <- r2[m, , drop = FALSE]
    }
    for (j in seq_along(ch)) values[, ch[j]] <- as.double(r2[[paste0("cab_s", ch[j])]])
  }
  ids <- res$cab_g
  if (anyNA(ids)) {
    abort(sprintf("`cluster` column `%s` is NULL in some of the rows used; leave those rows out or give them a cluster id.",
                 cluster_col), call. = FALSE)
  }
  o <- order(ids, method = "radix")
  G <- length(ids)
  n <- as.double(res$cab_n)
  if (any(!is.finite(values))) {
    dbi_abort_overflow(values, sums, pairs, value_cols, weight_col, spec, tab)
  }
  ## Assemble the K x G matrices, one per power; a NULL expression is the count.
  moments <- list()
  pos <- 0L
  for (p in names(sums)) {
    M <- matrix(0, K, G)
    for (k in seq_len(K)) {
      if (is.null(sums[[p]][[k]])) {
        M[k, ] <- n
      } else {
        pos <- pos + 1L
        M[k, ] <- values[, pos]
      }
    }
    moments[[p]] <- M[, o, drop = FALSE]
  }
  names(shift) <- c(spec$x_labels, spec$y_label)
  total <- sum(n)
  if (total != n_used) {
    warn(sprintf("table `%s` changed between the two queries (%s rows used, %s counted per cluster).",
                    tab$label, format(n_used, big.mark = ","), format(total, big.mark = ",")),
            call. = FALSE)
  }
  as_count <- function(x) if (x <= .Machine$integer.max) as.integer(x) else x
  weight_varies <- weighted &&
    any(as.double(res$cab_wmin) != as.double(res$cab_wmax))
  new_cluster_stats(
    moments = moments, n = as.integer(n[o]), cluster = ids[o], cluster_name = cluster_col,
    z_names = c("(1)", spec$x_labels, spec$y_label), intercept = spec$intercept,
    shift = shift, weighted = weighted, weight_varies = weight_varies,
    nobs = as_count(total), dropped = as_count(max(count("cab_rows") - n_used, 0)),
    formula = formula)
}

#' The SQL that cluster_stats() sends to a database
#'
#' The two queries that [cluster_stats()] runs on a database table, written
#' for an SQL dialect without a connection: to read, to run by hand, or to
#' check that an engine accepts them. They use only `SELECT`, `SUM`,
#' `COUNT`, `MIN`, `MAX`, `CASE`, `CAST` and `GROUP BY`, so the same
#' statements run on every engine; the dialects differ only in the quoting
#' of names and the name of the double type ([sql_dialects()]). The first
#' query counts the rows, checks the cluster ids and weights and computes the
#' means; the second, one row per cluster, sums the products of the columns
#' centred at those means, which [cluster_stats()] writes into it as numbers
#' (here `shift`, 0 when not given).
#'
#' @inheritParams cluster_stats
#' @param table The table or view, as for [cluster_stats()] on a connection: a
#'   name, a [DBI::Id()] or [DBI::SQL()] text.
#' @param dialect One of [sql_dialects()].
#' @return A character vector of class `clusterab_sql` with the two queries
#'   (`means`, `sums`), printed one after the other.
#' @seealso [cluster_stats()].
#' @examples
#' cluster_stats_sql(revenue ~ treated + baseline, cluster = "region", table = "geo",
#'                   dialect = "bigquery")
#' @export
cluster_stats_sql <- function(formula, cluster, weights = NULL, table, dialect = "ansi", shift = NULL) {
  d <- sql_dialect(dialect)
  if (missing(formula) || !inherits(formula, "formula") || length(formula) != 3L) {
    abort("`formula` must be a two-sided formula such as `y ~ treatment + x`.", call. = FALSE)
  }
  if (missing(cluster) || is.null(cluster)) {
    abort("`cluster` is required: name the column that identifies each row's cluster, e.g. `cluster = \"g\"`.",
          call. = FALSE)
  }
  if (missing(table) || is.null(table) ||
      !((is.character(table) && length(table) == 1L && !is.na(table) && nzchar(table)) || inherits(table, c("Id", "SQL")))) {
    abort("`table` must be the name of a table (a string such as \"events\"), a DBI::Id() or DBI::SQL() text.",
          call. = FALSE)
  }
  name_of <- function(x, arg) {
    if (!(is.character(x) && length(x) == 1L && !is.na(x)) && !inherits(x, "formula")) {
      abort(sprintf("`%s` must name a column, as a string (\"g\") or a one-sided formula (~ g).", arg),
            call. = FALSE)
    }
    cluster_column_name(x)
  }
  names <- unique(c(all.vars(formula), name_of(cluster, "cluster"),
                    if (!is.null(weights)) name_of(weights, "weights")))
  tab <- list(sql = sql_id(d, table), label = if (is.character(table)) table else sql_id(d, table),
              columns = as.data.frame(stats::setNames(rep(list(numeric(0)), length(names)), names)))
  spec <- dbi_formula_columns(formula, tab)
  cluster_col <- dbi_column_name(cluster, "cluster", tab)
  weight_col <- if (!is.null(weights)) dbi_column_name(weights, "weights", tab)
  value_cols <- c(spec$x_cols, spec$y_col)
  q1 <- dbi_means_sql(d, tab$sql, value_cols, weight_col, cluster_col)
  at <- stats::setNames(numeric(length(value_cols)), c(spec$x_labels, spec$y_label))
  centre <- centre_argument(shift)
  if (!is.null(centre)) at <- centre_shift(centre, at, spec$intercept)
  q2 <- dbi_sums_sql(d, tab$sql, spec, value_cols, weight_col, cluster_col, q1$used, unname(at))
  sums <- vapply(q2$chunks, q2$sql, "")
  names(sums) <- if (length(sums) == 1L) "sums" else paste0("sums", seq_along(sums))
  structure(c(means = q1$sql, sums), class = "clusterab_sql")
}

## Query 1 of cluster_stats() on a database: counts, NULL clusters,
## negative weights, means, minima and maxima of the rows used (no NULL in a
## column, positive weight); with weights the shifted columns get their
## weighted means, as in compress_columns().
dbi_means_sql <- function(con, from, value_cols, weight_col, cluster_col) {
  qi <- function(x) sql_id(con, x)
  num <- function(x) sql_double(con, qi(x))
  used <- paste(c(sprintf("%s IS NOT NULL", qi(unique(c(value_cols, weight_col)))),
                  if (!is.null(weight_col)) sprintf("%s > 0", qi(weight_col))),
                collapse = " AND ")
  g <- qi(cluster_col)
  mean_cols <- c(value_cols, weight_col)
  ## SUM / COUNT, not AVG: PostgreSQL's AVG of a double also sums squares,
  ## which overflow (an error there) for values beyond about 1e154
  mean_sql <- sprintf("SUM(CASE WHEN %s THEN %s END) / SUM(CASE WHEN %s THEN %s END)", used,
                      num(mean_cols), used, sql_number(con, 1))
  if (!is.null(weight_col)) {
    j <- seq_along(value_cols)
    mean_sql[j] <- sprintf("SUM(CASE WHEN %s THEN %s * %s END) / SUM(CASE WHEN %s THEN %s END)",
                           used, num(weight_col), num(value_cols), used, num(weight_col))
  }
  sql <- paste0(
    "SELECT COUNT(*) AS cab_rows",
    ", SUM(CASE WHEN ", used, " THEN 1 ELSE 0 END) AS cab_used",
    ", SUM(CASE WHEN ", used, " AND ", g, " IS NULL THEN 1 ELSE 0 END) AS cab_null_cluster",
    if (!is.null(weight_col)) paste0(", SUM(CASE WHEN ", qi(weight_col), " < 0 THEN 1 ELSE 0 END) AS cab_negative"),
    paste0(", ", mean_sql, " AS cab_mean", seq_along(mean_cols), collapse = ""),
    paste0(", MIN(CASE WHEN ", used, " THEN ", num(mean_cols), " END) AS cab_min", seq_along(mean_cols),
           ", MAX(CASE WHEN ", used, " THEN ", num(mean_cols), " END) AS cab_max", seq_along(mean_cols),
           collapse = ""),
    " FROM ", from)
  list(sql = sql, used = used, mean_cols = mean_cols)
}

## Query 2: one row per cluster of the sums of products of z = (1, x -
## shift, y - shift), with the shift written in as literals of 17
## significant digits (the database returns the values it read, which are
## the ones stored). Returns the sums (SQL per weight power and packed
## position; NULL = the count), the pairs of the packed upper triangle, the
## chunks of at most 900 sums per query, and sql(chunk).
dbi_sums_sql <- function(con, from, spec, value_cols, weight_col, cluster_col, used, shift) {
  qi <- function(x) sql_id(con, x)
  num <- function(x) sql_double(con, qi(x))
  literal <- sql_number(con, shift)
  weighted <- !is.null(weight_col)
  powers <- if (weighted) 0:2 else 1L
  q <- length(value_cols) + 1L
  K <- q * (q + 1L) / 2L
  z <- paste0("cab_z", seq_along(value_cols))
  inner <- paste0(
    "SELECT ", qi(cluster_col), " AS cab_g",
    paste0(", ", if (spec$intercept) sprintf("(%s - %s)", num(value_cols), literal) else num(value_cols),
           " AS ", z, collapse = ""),
    if (weighted) paste0(", ", num(weight_col), " AS cab_w"),
    " FROM ", from, " WHERE ", used)
  ## Packed upper triangle, column-major: entry (a, b), a <= b, at b (b + 1) / 2 + a.
  pairs <- do.call(rbind, lapply(seq_len(q) - 1L, function(b) cbind(a = seq_len(b + 1L) - 1L, b = b)))
  sums <- list()
  for (p in powers) {
    v <- switch(as.character(p), "0" = NULL, "1" = if (weighted) "cab_w", "2" = c("cab_w", "cab_w"))
    sums[[as.character(p)]] <- lapply(seq_len(K), function(k) {
      factors <- c(v, if (pairs[k, "a"] > 0) z[pairs[k, "a"]], if (pairs[k, "b"] > 0) z[pairs[k, "b"]])
      if (length(factors)) sprintf("SUM(%s)", paste(factors, collapse = " * "))
    })
  }
  exprs <- unlist(sums)
  chunks <- split(seq_along(exprs), ceiling(seq_along(exprs) / 900L))
  if (!length(chunks)) chunks <- list(integer(0))
  sql <- function(ch) {
    paste0(
      "SELECT cab_g, COUNT(*) AS cab_n",
      if (weighted) ", MIN(cab_w) AS cab_wmin, MAX(cab_w) AS cab_wmax",
      paste0(", ", exprs[ch], " AS cab_s", ch, collapse = ""),
      if (spec$intercept) paste0(", ", literal, " AS cab_shift", seq_along(literal), collapse = ""),
      " FROM (", inner, ") cab_d GROUP BY cab_g")
  }
  list(sums = sums, pairs = pairs, chunks = chunks, sql = sql)
}

## Columns whose squares would leave the range of doubles. The sums of
## products are formed in the database from the shifted columns, so a column
## whose deviations from its shift are all below about 1e-146 loses its
## squares to underflow (silently: the result would have zero variance),
## and one whose deviations exceed 1e146 overflows; likewise weights, which
## enter squared. Such columns are refused, naming them, before the
## GROUP BY query runs.
dbi_magnitude_limit <- 1e146

## The largest magnitude of each shifted column (then of the weights) among
## the rows used, from the minima and maxima of query 1.
dbi_sizes <- function(r1, value_cols, weight_col, shift) {
  bound <- function(j, s) {
    lo <- as.double(r1[[paste0("cab_min", j)]][1L]) - s
    hi <- as.double(r1[[paste0("cab_max", j)]][1L]) - s
    max(abs(c(lo, hi)))
  }
  c(vapply(seq_along(value_cols), function(j) bound(j, shift[j]), 0),
    if (!is.null(weight_col)) bound(length(value_cols) + 1L, 0))
}

## The error for sums of cross-products that are (or would be) not finite:
## `values` has one column per expression of `sums`.
dbi_abort_overflow <- function(values, sums, pairs, value_cols, weight_col, spec, tab) {
  cols <- dbi_overflowing_columns(values, sums, pairs, value_cols, weight_col)
  abort(sprintf("the sums of cross-products of %s in table `%s` are not finite (the values are too large); divide %s by a power of ten first (t statistics and p-values do not change).",
                dbi_column_list(cols, spec, weight_col), tab$label,
                if (length(cols) == 1L) "that column" else "those columns"), call. = FALSE)
}

dbi_check_magnitudes <- function(r1, value_cols, weight_col, shift, spec, tab) {
  mean_cols <- c(value_cols, weight_col)
  size <- dbi_sizes(r1, value_cols, weight_col, shift)
  cols <- mean_cols
  tiny <- is.finite(size) & size > 0 & size < 1 / dbi_magnitude_limit
  huge <- is.finite(size) & size > dbi_magnitude_limit
  for (what in c("tiny", "huge")) {
    bad <- if (what == "tiny") tiny else huge
    if (!any(bad)) next
    abort(sprintf("%s of table `%s` %s values %s (up to %s%s); their squares would %s in the database's double precision. %s the column by a power of ten first (t statistics and p-values do not change).",
                  dbi_column_list(unique(cols[bad]), spec, weight_col), tab$label,
                  if (sum(bad) == 1L) "has" else "have",
                  if (what == "tiny") "that are all tiny" else "that are huge",
                  format(max(size[bad]), digits = 3L),
                  if (spec$intercept && any(cols[bad] %in% value_cols)) " from the mean" else "",
                  if (what == "tiny") "underflow to zero" else "overflow",
                  if (what == "tiny") "Multiply" else "Divide"), call. = FALSE)
  }
}

## The columns involved in the non-finite sums `values` (one column per
## expression of `sums`, in order): those whose own square (or, for weights,
## sum) is not finite, else every column of a non-finite product.
dbi_overflowing_columns <- function(values, sums, pairs, value_cols, weight_col) {
  info <- do.call(rbind, lapply(names(sums), function(p) {
    k <- which(!vapply(sums[[p]], is.null, NA))
    data.frame(power = rep(as.integer(p), length(k)), a = pairs[k, "a"], b = pairs[k, "b"])
  }))
  bad <- info[colSums(!is.finite(values)) > 0, , drop = FALSE]
  cols_of <- function(rows) {
    unique(c(value_cols[c(rows$a[rows$a > 0], rows$b[rows$b > 0])],
             if (!is.null(weight_col) && any(rows$power > 0)) weight_col))
  }
  own <- bad[bad$a == bad$b, , drop = FALSE]
  cols <- cols_of(own)
  if (length(cols) == 0L) cols <- cols_of(bad)
  cols
}

## "`y` (the outcome in `formula`)" and the like, for messages.
dbi_column_list <- function(cols, spec, weight_col) {
  role <- function(col) {
    if (identical(col, weight_col)) "`weights`"
    else if (identical(col, spec$y_col)) "the outcome in `formula`"
    else "a term of `formula`"
  }
  paste(sprintf("column `%s` (%s)", cols, vapply(cols, role, "")), collapse = " and ")
}

## The quoted table and its columns (a zero-row data frame of their R types),
## with clear errors for a table that is not there.
dbi_table <- function(con, table) {
  ok <- (is.character(table) && length(table) == 1L && !is.na(table) && nzchar(table)) ||
    inherits(table, c("Id", "SQL"))
  if (!ok) {
    abort("`table` must be the name of a table in the database (a string such as \"events\"), or a DBI::Id().",
         call. = FALSE)
  }
  sql <- sql_id(con, table)
  label <- if (is.character(table) && !inherits(table, "SQL")) table else sql
  not_found <- function(detail = "") {
    abort(sprintf("table `%s` was not found in the database%s; check the name with DBI::dbListTables() (for a table in another schema use `table = DBI::Id(schema = ..., table = ...)`).",
                 label, detail), call. = FALSE)
  }
  ## The query decides whether the table is there (dbExistsTable() answers
  ## FALSE for views and for a DBI::Id() in some drivers, RPostgreSQL's).
  columns <- tryCatch(dbi_get(con, paste0("SELECT * FROM ", sql, " WHERE 1 = 0")),
                      error = function(e) {
                        dbi_check_connection(con, "looking up the table", e)
                        not_found(paste0(" (", conditionMessage(e), ")"))
                      })
  list(sql = sql, label = label, columns = columns)
}

## Columns named by `formula`: plain column names only (no factors,
## interactions or functions), optionally without intercept.
dbi_formula_columns <- function(formula, tab) {
  tt <- tryCatch(terms(formula, data = tab$columns), error = function(e) {
    abort("`formula` is not valid: ", conditionMessage(e), call. = FALSE)
  })
  vars <- as.list(attr(tt, "variables"))[-1L]
  var_labels <- vapply(vars, deparse1, "")
  plain <- vapply(vars, is.name, logical(1L))
  if (any(!plain)) {
    abort(sprintf("`formula` term `%s` is not a column name. With a database connection every term must be a numeric column used as it is (no factors, interactions or functions such as log()); create a numeric column for it in the database instead (a view will do).",
                 var_labels[!plain][1L]), call. = FALSE)
  }
  if (attr(tt, "response") != 1L) {
    abort("`formula` must be a two-sided formula such as `y ~ treatment + x`.", call. = FALSE)
  }
  labels <- attr(tt, "term.labels")
  order <- attr(tt, "order")
  if (any(order > 1L)) {
    abort(sprintf("`formula` term `%s` is an interaction, which is not expanded in the database; create a numeric column holding the product in the database instead (a view will do).",
                 labels[order > 1L][1L]), call. = FALSE)
  }
  factors <- attr(tt, "factors")
  x_cols <- vapply(seq_along(labels), function(k) as.character(vars[[which(factors[, k] > 0)]]), "")
  y_col <- as.character(vars[[1L]])
  missing <- setdiff(c(y_col, x_cols), names(tab$columns))
  if (length(missing)) {
    abort(sprintf("`formula` names column(s) %s that are not in table `%s`.",
                 paste0("`", missing, "`", collapse = ", "), tab$label), call. = FALSE)
  }
  list(x_cols = x_cols, x_labels = labels, y_col = y_col, y_label = var_labels[1L],
       intercept = attr(tt, "intercept") == 1L)
}

## `cluster` or `weights`: a column name or a one-sided formula naming one column.
dbi_column_name <- function(arg, what, tab) {
  if (inherits(arg, "formula")) {
    rhs <- arg[[length(arg)]]
    if (length(arg) != 2L || !is.name(rhs)) {
      if (what == "cluster" && length(all.vars(rhs)) > 1L) {
        stop_one_cluster_variable()
      }
      abort(sprintf("`%s` must name one column as it is, such as `~ %s`, not `%s`; create the column in the database if needed.",
                   what, if (what == "cluster") "g" else "w", deparse1(arg)), call. = FALSE)
    }
    arg <- as.character(rhs)
  } else if (is.character(arg) && length(arg) > 1L && what == "cluster") {
    stop_one_cluster_variable()
  } else if (!(is.character(arg) && length(arg) == 1L && !is.na(arg) && nzchar(arg))) {
    abort(sprintf("`%s` must be a column name (a string such as \"%s\") or a one-sided formula such as `~ %s`; with a database connection it cannot hold the values themselves.",
                 what, if (what == "cluster") "g" else "w", if (what == "cluster") "g" else "w"),
         call. = FALSE)
  }
  if (!(arg %in% names(tab$columns))) {
    abort(sprintf("`%s` names column `%s`, which is not in table `%s`.", what, arg, tab$label),
         call. = FALSE)
  }
  arg
}

## Columns that the database reports as not numeric (text, dates, ...).
dbi_check_numeric <- function(cols, what, tab) {
  for (col in cols) {
    x <- tab$columns[[col]]
    numeric_like <- (is.numeric(x) || is.logical(x) || inherits(x, "integer64")) &&
      !is.factor(x) && !inherits(x, c("Date", "POSIXt", "difftime", "hms"))
    if (!numeric_like) {
      kind <- class(x)[1L]
      abort(sprintf("`%s` uses column `%s` of table `%s`, which is %s in the database, not numeric; create a numeric column in the database instead (for a categorical variable, one 0/1 column per level).",
                   what, col, tab$label, if (kind == "character") "text" else kind),
           call. = FALSE)
    }
  }
}

## DBI::dbGetQuery() that always fails with an error: RPostgreSQL reports a
## failed statement by a warning and a NULL result instead.
dbi_get <- function(con, sql) {
  res <- withCallingHandlers(DBI::dbGetQuery(con, sql), warning = function(w) {
    if (grepl("could not|error", conditionMessage(w), ignore.case = TRUE)) stop(conditionMessage(w), call. = FALSE)
  })
  if (!is.data.frame(res)) stop("the query returned no result", call. = FALSE)
  res
}

## After a failed query: if the connection itself no longer answers (it was
## closed, the server went away), an error saying so, since the failure says
## nothing about the table. Nothing is ever written to the database, so
## nothing is left half-done.
dbi_check_connection <- function(con, doing, e = NULL) {
  alive <- tryCatch({
    dbi_get(con, "SELECT 1")
    TRUE
  }, error = function(e) FALSE)
  if (!alive) {
    abort(sprintf("the connection to the database failed while %s%s; reconnect with DBI::dbConnect() and run the call again (clusterab only reads from the database, so nothing was left half-written).",
                  doing, if (!is.null(e)) sprintf(" (%s)", conditionMessage(e)) else ""),
          class = "clusterab_connection_error")
  }
}

dbi_query <- function(con, sql, what, tab) {
  tryCatch(dbi_get(con, sql), error = function(e) {
    dbi_check_connection(con, paste("computing", what, "of table", sprintf("`%s`", tab$label)), e)
    abort(sprintf("the database could not compute %s of table `%s`: %s\nEvery column in `formula` and `weights` must be numeric in the database.",
                 what, tab$label, conditionMessage(e)), call. = FALSE)
  })
}
