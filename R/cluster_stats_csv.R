## cluster_stats() on CSV files: the compress step over data larger than
## memory. Each file is read in chunks of `chunk_rows` rows (data.table::fread)
## three times: (1) the column types and the levels of text columns, so that
## every chunk is read and coded alike; (2) the means, the common centring;
## (3) the per-cluster sums, chunk by chunk, added up with rbind(). Files are
## shards: with future.apply installed they are read on the workers of the
## user's future::plan() (sequentially by default).

#' @rdname cluster_stats
#' @param chunk_rows For CSV files: the number of rows read at a time, which
#'   bounds the memory used.
#' @section Data in CSV files:
#' With `data` a vector of paths to CSV files (with a header line and the
#' same columns; compressed files as [data.table::fread()] reads them), the
#' files are read `chunk_rows` rows at a time, so data larger than memory are
#' compressed with bounded memory, and the result is the same as for the data
#' frame of all the rows. Each file is read three times: for the column types
#' and the levels of text columns, for the means, and for the sums. Every
#' variable of `formula` must be a column used as it is (interactions such as
#' `a:b` are fine; functions such as `log(x)` are not: create the column in
#' the file); text and logical columns become factors with the levels found
#' in all the files. `cluster` and `weights` name columns. With the
#' future.apply package installed, the files are read in parallel on the
#' workers of the user's [future::plan()] (for example
#' `future::plan("multisession")`; a cluster of machines that see the files
#' works the same way); by default, one after the other.
#' @export
cluster_stats.character <- function(data, formula, cluster, weights = NULL, threads = NULL,
                                    contrasts = NULL, chunk_rows = 1e6, ...) {
  paths <- data
  if (length(paths) == 0L || anyNA(paths) || any(!nzchar(paths))) {
    abort("`data` must be a data frame, a DBI connection or a vector of paths to CSV files; it is an empty or missing path.",
          call. = FALSE)
  }
  missing_files <- paths[!file.exists(paths) | dir.exists(paths)]
  if (length(missing_files)) {
    abort(sprintf("`data` names file(s) that do not exist: %s; give paths to CSV files.",
                  paste0("`", missing_files, "`", collapse = ", ")), call. = FALSE)
  }
  if (missing(formula) || !inherits(formula, "formula") || length(formula) != 3L) {
    abort("`formula` must be a two-sided formula such as `y ~ treatment + x`.", call. = FALSE)
  }
  if (missing(cluster) || is.null(cluster)) {
    abort("`cluster` is required: name the column that identifies each row's cluster, e.g. `cluster = \"g\"`.",
          call. = FALSE)
  }
  if (!is.numeric(chunk_rows) || length(chunk_rows) != 1L || is.na(chunk_rows) ||
      chunk_rows < 1 || chunk_rows != round(chunk_rows) || chunk_rows > .Machine$integer.max) {
    abort(sprintf("`chunk_rows` must be a whole number of rows, at least 1 (not %s).",
                  describe_value(chunk_rows)), call. = FALSE)
  }
  workers <- shard_workers()
  ## one thread per worker when the files are read in parallel
  threads <- if (is.null(threads) && workers > 1L) 1L else resolve_threads(threads)
  spec <- csv_columns(paths, formula, cluster, weights)
  spec$chunk_rows <- as.integer(chunk_rows)
  spec$contrasts <- contrasts

  ## (1) types, resolved across all chunks of all files; read again with
  ## those types when the chunks disagreed (a column of text in one chunk
  ## and numbers in another, or empty: logical), then the levels
  first <- shard_lapply(paths, csv_file_types, spec = spec, threads = threads)
  spec$classes <- csv_resolve_classes(lapply(first, `[[`, "classes"), spec$select)
  if (any(vapply(first, function(f) !identical(f$classes_seen, spec$classes), NA))) {
    first <- shard_lapply(paths, csv_file_types, spec = spec, threads = threads)
  }
  spec$levels <- csv_union_levels(lapply(first, `[[`, "levels"))
  if (sum(vapply(first, `[[`, 0, "rows")) == 0) {
    abort(sprintf("`data`: %s no data rows, only a header.",
                  if (length(paths) == 1L) sprintf("file `%s` has", paths) else "the files have"),
          call. = FALSE)
  }
  if (sum(vapply(first, `[[`, 0, "used")) == 0) {
    abort(sprintf("no rows of %s are left after leaving out rows with missing values in %s%s.",
                  if (length(paths) == 1L) "the file" else "the files",
                  paste0("`", spec$vars, "`", collapse = ", "),
                  if (!is.null(spec$weights)) " or `weights` (or zero weight)" else ""), call. = FALSE)
  }

  ## (2) the means, minima and maxima of the design columns: the centring
  sums <- shard_lapply(paths, csv_file_sums, spec = spec, threads = threads)
  sums <- Filter(Negate(is.null), sums)
  total <- Reduce(`+`, lapply(sums, `[[`, "total"))
  means <- Reduce(`+`, lapply(sums, `[[`, "sums")) / total
  lo <- do.call(pmin, lapply(sums, `[[`, "min"))
  hi <- do.call(pmax, lapply(sums, `[[`, "max"))
  names(means) <- names(sums[[1L]]$sums)
  spec$centre <- centring(means, lo, hi, sums[[1L]]$intercept, !is.null(spec$weights))

  ## (3) the statistics of each file, combined
  shards <- shard_lapply(paths, csv_file_stats, spec = spec, threads = threads)
  stats <- combine_cluster_stats(lapply(shards, `[[`, "stats"))
  dropped <- sum(vapply(shards, `[[`, 0, "dropped"))
  stats$dropped <- if (dropped <= .Machine$integer.max) as.integer(dropped) else dropped
  stats$formula <- formula
  check_representable(stats)
  stats
}

## The columns the formula, cluster and weights use, checked against the
## header of every file.
csv_columns <- function(paths, formula, cluster, weights) {
  header <- lapply(paths, function(p) {
    tryCatch(names(data.table::fread(p, nrows = 0L)), error = function(e) {
      abort(sprintf("`data`: file `%s` could not be read as CSV: %s", p, conditionMessage(e)),
            call. = FALSE)
    })
  })
  cols <- header[[1L]]
  differ <- !vapply(header, identical, NA, cols)
  if (any(differ)) {
    abort(sprintf("`data`: file `%s` has other columns than `%s`; every file must have the same header.",
                  paths[differ][1L], paths[1L]), call. = FALSE)
  }
  tab <- list(columns = stats::setNames(as.list(cols), cols),
              label = if (length(paths) == 1L) paths else sprintf("%s (and %d more files)", paths[1L], length(paths) - 1L))
  tt <- tryCatch(terms(formula), error = function(e) {
    abort("`formula` is not valid: ", conditionMessage(e), call. = FALSE)
  })
  vars <- as.list(attr(tt, "variables"))[-1L]
  plain <- vapply(vars, is.name, NA)
  if (any(!plain)) {
    abort(sprintf("`formula` term `%s` is not a column name. With CSV files every variable must be a column used as it is (interactions such as a:b are fine, functions such as log() are not); create the column in the files instead.",
                  deparse1(vars[!plain][[1L]])), call. = FALSE)
  }
  vars <- vapply(vars, as.character, "")
  absent <- setdiff(vars, cols)
  if (length(absent)) {
    abort(sprintf("`formula` names column(s) %s that are not in file `%s`.",
                  paste0("`", absent, "`", collapse = ", "), paths[1L]), call. = FALSE)
  }
  cluster_col <- tryCatch(dbi_column_name(cluster, "cluster", tab), clusterab_error = function(e) {
    stop(csv_message(e, "table", "file"))
  })
  weight_col <- if (!is.null(weights)) {
    tryCatch(dbi_column_name(weights, "weights", tab), clusterab_error = function(e) {
      stop(csv_message(e, "table", "file"))
    })
  }
  list(vars = vars, cluster = cluster_col, weights = weight_col, formula = formula,
       select = unique(c(vars, cluster_col, weight_col)), header = cols)
}

## The database's wording adapted to files ("table" -> "file", "in the
## database" -> "in the file").
csv_message <- function(e, from, to) {
  e$message <- gsub(from, to, sub("; with a database connection it cannot hold the values themselves",
                                  "; with CSV files it cannot hold the values themselves", e$message))
  e
}

## Calls f(chunk, from) on the chunks of file `path` (the selected columns,
## `from` the number of the chunk's first data row) and returns the results.
## A classed error raised for a chunk names the file and the rows.
csv_chunks <- function(path, spec, threads, f) {
  idx <- match(spec$select, spec$header)
  ## by column number: the chunks after the first have no header
  classes <- if (!is.null(spec$classes)) split(idx, unname(spec$classes[spec$select]))
  out <- list()
  from <- 1
  repeat {
    chunk <- tryCatch(
      data.table::fread(path, skip = from, nrows = spec$chunk_rows, header = FALSE,
                        select = idx, col.names = spec$select, colClasses = classes,
                        nThread = threads, showProgress = FALSE),
      error = function(e) {
        ## past the last row (a file whose rows are a multiple of chunk_rows,
        ## or only a header): nothing is left
        if (grepl("only has", conditionMessage(e))) return(NULL)
        abort(sprintf("`data`: file `%s` could not be read from row %s: %s", path,
                      format(from, big.mark = ","), conditionMessage(e)), call. = FALSE)
      })
    if (is.null(chunk) || nrow(chunk) == 0L) break
    res <- tryCatch(f(chunk, from), clusterab_error = function(e) {
      e$message <- sprintf("file `%s`, rows %s to %s: %s", path, format(from, big.mark = ","),
                           format(from + nrow(chunk) - 1, big.mark = ","), e$message)
      stop(e)
    })
    out[[length(out) + 1L]] <- res
    if (nrow(chunk) < spec$chunk_rows) break
    from <- from + spec$chunk_rows
  }
  out
}

## The rows of a chunk that the fit uses (na.omit and zero weights, as
## model_columns() decides), so that a chunk where none is left is skipped.
csv_used_rows <- function(chunk, spec) {
  used <- stats::complete.cases(chunk[, c(spec$vars, spec$weights), with = FALSE])
  if (!is.null(spec$weights)) {
    w <- chunk[[spec$weights]]
    used <- used & !(is.numeric(w) & !is.na(w) & w == 0)
  }
  used
}

## Pass 1 on one file: the class of each selected column (as fread read the
## chunks, or as fixed by spec$classes) and the values of the text and logical
## variables among the rows used.
csv_file_types <- function(path, spec, threads) {
  res <- csv_chunks(path, spec, threads, function(chunk, from) {
    used <- csv_used_rows(chunk, spec)
    discrete <- spec$vars[vapply(spec$vars, function(v) is.character(chunk[[v]]) || is.logical(chunk[[v]]), NA)]
    list(classes = vapply(chunk, function(x) class(x)[1L], ""), rows = nrow(chunk), used = sum(used),
         levels = lapply(stats::setNames(discrete, discrete), function(v) unique(as.character(chunk[[v]][used]))))
  })
  classes <- lapply(res, `[[`, "classes")
  seen <- csv_resolve_classes(list(classes), spec$select)
  ## the chunks were read alike when each was read with the resolved types
  alike <- all(vapply(classes, function(cl) identical(cl[spec$select], seen), NA))
  list(classes = classes, classes_seen = if (alike) seen,
       rows = sum(vapply(res, `[[`, 0, "rows")), used = sum(vapply(res, `[[`, 0, "used")),
       levels = csv_union_levels(lapply(res, `[[`, "levels")))
}

## One class per column for every chunk: the widest that any chunk needed
## (as fread does for a whole file: logical < integer < integer64 < double <
## character), so that every chunk is read alike.
csv_resolve_classes <- function(per_file, select) {
  order <- c("logical", "integer", "integer64", "numeric", "character")
  all <- unlist(per_file, recursive = FALSE)
  stats::setNames(vapply(select, function(col) {
    seen <- vapply(all, function(cl) cl[[col]], "")
    seen[!(seen %in% order)] <- "character"
    if (!length(seen)) return("logical")      # no rows in any chunk
    order[max(match(seen, order))]
  }, ""), select)
}

## The levels of each text variable over several chunks or files, sorted as
## factor() sorts them.
csv_union_levels <- function(levels) {
  vars <- unique(unlist(lapply(levels, names)))
  stats::setNames(lapply(vars, function(v) {
    sort(unique(unlist(lapply(levels, `[[`, v))))
  }), vars)
}

## A chunk's used rows as model columns, with the text variables as factors of
## the levels of all the data. `dropped` counts the rows left out.
csv_model_columns <- function(chunk, spec, threads) {
  used <- csv_used_rows(chunk, spec)
  dropped <- sum(!used)
  if (!any(used)) return(list(mc = NULL, dropped = dropped))
  if (!all(used)) chunk <- chunk[used]
  for (v in names(spec$levels)) {
    data.table::set(chunk, j = v, value = factor(as.character(chunk[[v]]), levels = spec$levels[[v]]))
  }
  mc <- model_columns(spec$formula, chunk, weights = spec$weights, cluster = spec$cluster,
                      contrasts = spec$contrasts, threads = threads, drop_levels = FALSE)
  list(mc = mc, dropped = dropped)
}

## Pass 2 on one file: the (weighted) sums, minima and maxima of the design
## columns and the outcome (then the weights), from check_finite()'s means.
csv_file_sums <- function(path, spec, threads) {
  res <- csv_chunks(path, spec, threads, function(chunk, from) {
    mc <- csv_model_columns(chunk, spec, threads)$mc
    if (is.null(mc)) return(NULL)
    checked <- c(mc$columns, stats::setNames(list(mc$y), mc$yname),
                 if (!is.null(mc$w)) list(weights = mc$w))
    means <- check_finite(checked, threads, mc$w)
    ## (the mean of the weights themselves is not used, only their maximum)
    total <- if (is.null(mc$w)) length(mc$y) else sum(mc$w)
    list(sums = means * total, total = total, min = attr(means, "min"),
         max = attr(means, "max"), intercept = mc$intercept)
  })
  res <- Filter(Negate(is.null), res)
  if (!length(res)) return(NULL)
  list(sums = Reduce(`+`, lapply(res, `[[`, "sums")), total = sum(vapply(res, `[[`, 0, "total")),
       min = do.call(pmin, lapply(res, `[[`, "min")),
       max = do.call(pmax, lapply(res, `[[`, "max")), intercept = res[[1L]]$intercept)
}

## Pass 3 on one file: its per-cluster statistics, at the common centring
## (NULL when no row is used), and the number of rows left out.
csv_file_stats <- function(path, spec, threads) {
  res <- csv_chunks(path, spec, threads, function(chunk, from) {
    cols <- csv_model_columns(chunk, spec, threads)
    if (is.null(cols$mc)) return(cols$dropped)
    mc <- cols$mc
    st <- compress_columns(mc, cluster_codes(mc$cluster[[1L]]), all_powers = TRUE,
                           threads = threads, formula = spec$formula,
                           centre = list(shift = spec$centre$shift, scale = unname(spec$centre$scale)))
    st$dropped <- cols$dropped
    st
  })
  dropped <- sum(unlist(Filter(is.numeric, res)))
  res <- Filter(function(r) inherits(r, "cluster_stats"), res)
  st <- if (length(res)) combine_cluster_stats(res)
  list(stats = st, dropped = dropped + if (length(res)) st$dropped else 0)
}

## The number of workers of the user's future plan (1 without future.apply).
shard_workers <- function() {
  if (!requireNamespace("future.apply", quietly = TRUE)) return(1L)
  as.integer(future::nbrOfWorkers())
}

## lapply() on the workers of the user's future plan when future.apply is
## installed (no random numbers are drawn).
shard_lapply <- function(X, FUN, ...) {
  if (!requireNamespace("future.apply", quietly = TRUE)) return(lapply(X, FUN, ...))
  future.apply::future_lapply(X, FUN, ..., future.seed = NULL,
                              future.packages = "clusterab")
}
