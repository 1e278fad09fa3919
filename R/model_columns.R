## The shared front end of every estimator: formula + data -> design columns,
## response, weights and cluster ids, with lm()'s NA handling (na.omit) and
## without model.frame() / model.matrix() for the terms that do not need them.

## Columns of the design matrix for the terms `tt` (no response), as a named
## list of double vectors, in model.matrix()'s order and with its names; the
## intercept is not among them; `assign` gives each column's term, as
## model.matrix()'s attribute does. `variables` holds the evaluated variables of
## `tt`, named as model.frame() names them, already free of missing values.
## An order-1 term whose variable is a plain numeric vector and which takes
## part in no other term is used as it is. All other terms go through one
## model.matrix() call; dropping the plain terms cannot change how factors in
## the kept terms are coded, because a plain term is a margin of no kept term.
## `contrasts` are a fit's contrasts (as lm() stores them, or as lm()'s
## `contrasts` argument takes them), or NULL. Factors are coded as they come:
## unused levels must already be dropped (model_columns() drops them, as
## lm()'s model frame does). The result also holds the `contrasts` used, as
## lm()$contrasts (NULL when no term is a factor).
design_columns <- function(tt, variables, contrasts = NULL) {
  labels <- attr(tt, "term.labels")
  intercept <- attr(tt, "intercept") == 1L
  if (length(labels) == 0L) return(list(columns = list(), intercept = intercept, assign = integer(0)))
  fac <- attr(tt, "factors")
  plain <- vapply(seq_along(labels), function(k) {
    if (attr(tt, "order")[k] != 1L) return(FALSE)
    v <- rownames(fac)[fac[, k] > 0]
    x <- variables[[v]]
    sum(fac[v, ] > 0) == 1L && is.numeric(x) && is.null(dim(x)) &&
      (is.null(oldClass(x)) || identical(oldClass(x), "AsIs"))
  }, logical(1L))
  blocks <- vector("list", length(labels))
  for (k in which(plain)) {
    x <- variables[[labels[k]]]
    ## as.double() copies, so only when needed: a plain double column is used in place
    if (!is.double(x) || !is.null(attributes(x))) x <- as.double(x)
    blocks[[k]] <- stats::setNames(list(x), labels[k])
  }
  if (any(!plain)) {
    slow <- labels[!plain]
    tt_slow <- terms(stats::reformulate(slow, intercept = intercept,
                                        env = environment(tt)))
    slow_vars <- vapply(as.list(attr(tt_slow, "variables"))[-1L], deparse1, "")
    frame <- variables[slow_vars]
    attr(frame, "row.names") <- .set_row_names(NROW(frame[[1L]]))
    class(frame) <- "data.frame"
    attr(frame, "terms") <- tt_slow
    contrasts <- contrasts[intersect(names(contrasts), slow_vars)]
    mm <- tryCatch(model.matrix(tt_slow, frame, contrasts.arg = if (length(contrasts)) contrasts),
                   error = function(e) abort("`formula` could not be expanded into a design matrix: ",
                                            conditionMessage(e), call. = FALSE))
    assign <- attr(mm, "assign")
    used_contrasts <- attr(mm, "contrasts")
    for (s in seq_along(slow)) {
      k <- which(labels == slow[s])
      cols <- which(assign == s)
      blocks[[k]] <- stats::setNames(lapply(cols, function(j) unname(mm[, j])),
                                     colnames(mm)[cols])
    }
  }
  list(columns = unlist(blocks, recursive = FALSE), intercept = intercept,
       assign = rep(seq_along(blocks), lengths(blocks)),
       contrasts = if (any(!plain)) used_contrasts)
}

## anyNA() of each element of the list `columns`: plain double vectors in one
## parallel C++ pass over their rows (src/missing_values.cpp), other
## elements (integer, factor, matrix, classed) by anyNA() itself.
columns_any_na <- function(columns, threads = 1L) {
  plain <- vapply(columns, function(x) is.double(x) && is.null(attributes(x)), logical(1L))
  out <- logical(length(columns))
  if (any(plain)) out[plain] <- cpp_columns_any_na(unname(columns[plain]), threads)
  if (any(!plain)) out[!plain] <- vapply(columns[!plain], anyNA, logical(1L))
  out
}

## Drops the unused levels of factors, as lm()'s model frame does
## (drop.unused.levels = TRUE), with its warning when that loses a factor's
## contrasts.
drop_unused_levels <- function(variables) {
  for (v in names(variables)) {
    x <- variables[[v]]
    if (is.factor(x) && length(unique(x[!is.na(x)])) < length(levels(x))) {
      ctr <- attr(x, "contrasts")
      variables[[v]] <- x[, drop = TRUE]
      if (!identical(attr(variables[[v]], "contrasts"), ctr)) {
        warn(sprintf("contrasts dropped from factor %s due to missing levels", v),
             class = "clusterab_contrasts_dropped")
      }
    }
  }
  variables
}

## `contrasts` as lm() takes it: NULL or a list naming variables of the
## formula, each a contrast function, its name or a matrix.
check_contrasts <- function(contrasts, variables) {
  if (is.null(contrasts)) return(NULL)
  if (!is.list(contrasts) || is.null(names(contrasts)) || any(names(contrasts) == "")) {
    abort("`contrasts` must be NULL or a named list such as `list(f = \"contr.sum\")`, as for lm().",
          call. = FALSE)
  }
  absent <- setdiff(names(contrasts), variables)
  if (length(absent)) {
    warn(sprintf("variable(s) %s named in `contrasts` are not in the formula; their contrasts are ignored.",
                 paste0("`", absent, "`", collapse = ", ")), class = "clusterab_contrasts_ignored")
  }
  contrasts[intersect(names(contrasts), variables)]
}

## Evaluates the variables of `tt` in `data` (then in `env`), with a clear
## error for a variable that is nowhere to be found.
formula_variables <- function(tt, data, env) {
  exprs <- as.list(attr(tt, "variables"))[-1L]
  stats::setNames(lapply(exprs, function(e) {
    if (is.name(e)) {
      name <- as.character(e)
      if (name %in% names(data)) return(data[[name]])
      if (!exists(name, envir = env)) {
        abort(sprintf("variable `%s` in `formula` was not found in `data`.", name),
             call. = FALSE)
      }
      return(get(name, envir = env))
    }
    tryCatch(eval(e, data, env), error = function(err) {
      abort(sprintf("could not evaluate `%s` in `formula`: %s", deparse1(e),
                   conditionMessage(err)), call. = FALSE)
    })
  }), vapply(exprs, deparse1, ""))
}

## Resolves an argument that names a column ("g"), is a one-sided formula
## (~ g or ~ g1 + g2) or holds one value per row (a vector or data frame) into
## a data frame with n rows, or NULL.
column_argument <- function(arg, data, env, what, n) {
  if (is.null(arg)) return(NULL)
  if (inherits(arg, "formula")) {
    vars <- all.vars(arg)
    if (length(vars) == 0L) abort(sprintf("`%s` formula names no variables.", what), call. = FALSE)
    arg <- vars
  }
  ## a string naming columns (with one row, "w" is a name, not one value)
  if (is.character(arg) && (length(arg) < n || length(arg) <= ncol(data) && all(arg %in% names(data)))) {
    missing <- setdiff(arg, names(data))
    if (length(missing) > 0L) {
      abort(sprintf("`%s` names column(s) %s that are not in `data`.", what,
                   paste0("`", missing, "`", collapse = ", ")), call. = FALSE)
    }
    return(as_frame(lapply(stats::setNames(arg, arg), function(v) data[[v]])))
  }
  if (is.data.frame(arg)) arg <- as_frame(as.list(arg))
  else if (is.atomic(arg) && is.null(dim(arg))) arg <- as_frame(stats::setNames(list(arg), what))
  else abort(sprintf("`%s` must be a column name, a one-sided formula or a vector with one value per row.", what),
            call. = FALSE)
  if (NROW(arg) != n) {
    abort(sprintf("`%s` has %d values but `data` has %d rows.", what, NROW(arg), n),
         call. = FALSE)
  }
  arg
}

## A data frame around a list of equal-length columns, without copying them.
as_frame <- function(cols) {
  attr(cols, "row.names") <- .set_row_names(if (length(cols)) NROW(cols[[1L]]) else 0L)
  class(cols) <- "data.frame"
  cols
}

## The `formula` argument, evaluated: `formula = y` with no object `y` fails
## when the promise is forced; say that it is `formula` that is wrong.
force_formula <- function(formula) {
  tryCatch(formula, error = function(e) {
    abort(sprintf("`formula` must be a two-sided formula such as `y ~ treatment + x`; evaluating it failed: %s",
                  conditionMessage(e)), call. = FALSE)
  })
}

## Everything an estimator needs from `formula` and `data`: response `y`,
## design `columns`, `intercept`, weights `w` (NULL or positive), `cluster`
## (data frame or NULL), and which rows were dropped. Rows with a missing value
## in any variable, the weights or the offset are dropped as by na.omit();
## rows with zero weight are dropped too; Inf anywhere is an error.
## Factors are coded as by lm(): their unused levels dropped, by `contrasts`
## (as lm()'s argument), else by their contrasts() attribute, else by
## options("contrasts"). The result also holds what predict() needs to code
## new data the same way: `terms` (with lm()'s "predvars", so that poly() or
## scale() terms are evaluated with the fit's parameters), `contrasts` and
## `xlevels` (as lm()$contrasts and lm()$xlevels). `drop_levels = FALSE`
## keeps every level (the CSV path gives each chunk the levels of the whole
## data, so that every chunk has the same design columns).
model_columns <- function(formula, data, weights = NULL, cluster = NULL,
                          env = environment(formula), contrasts = NULL, allow_fixef = FALSE,
                          threads = 1L, drop_levels = TRUE) {
  formula <- force_formula(formula)
  if (!inherits(formula, "formula") || length(formula) != 3L) {
    abort("`formula` must be a two-sided formula such as `y ~ treatment + x`.", call. = FALSE)
  }
  ## fe: `y ~ x | fe1 + fe2` (absorbed fixed effects, R/fixed_effects.R)
  parts <- split_fixef_formula(formula, allow_fixef)
  formula <- parts$formula
  if (!is.data.frame(data)) {
    abort("`data` must be a data frame or data.table.", call. = FALSE)
  }
  n0 <- nrow(data)
  if (n0 == 0L) abort("`data` has no rows.", call. = FALSE)
  tt <- tryCatch(terms(formula, data = data), error = function(e) {
    abort("`formula` is not valid: ", conditionMessage(e), call. = FALSE)
  })
  variables <- formula_variables(tt, data, env)
  contrasts <- check_contrasts(contrasts, names(variables)[-1L])
  ## as model.frame() does: record how to evaluate the variables on new data
  if (is.null(attr(tt, "predvars"))) {
    vars <- attr(tt, "variables")
    for (i in seq_along(variables)) vars[[i + 1L]] <- stats::makepredictcall(variables[[i]], vars[[i + 1L]])
    attr(tt, "predvars") <- vars
  }
  y <- variables[[1L]]
  yname <- names(variables)[1L]
  if (!(is.numeric(y) || is.logical(y)) || is.factor(y) || !is.null(dim(y))) {
    abort(sprintf("`formula`: the outcome `%s` must be a numeric vector, not %s.", yname,
                 if (!is.null(dim(y))) "a matrix (fit one model per outcome)" else class(y)[1L]),
          call. = FALSE)
  }
  offset <- NULL
  if (!is.null(attr(tt, "offset"))) {
    offset <- Reduce(`+`, variables[attr(tt, "offset")])
  }
  weights <- column_argument(weights, data, env, "weights", n0)
  if (!is.null(weights)) {
    if (ncol(weights) != 1L) abort("`weights` must be a single column.", call. = FALSE)
    weights <- weights[[1L]]
    if (!is.null(dim(weights)) && !(length(dim(weights)) == 1L || identical(ncol(weights), 1L))) {
      abort("`weights` must be one numeric value per row, not a matrix.", call. = FALSE)
    }
    if (!is.numeric(weights)) abort("`weights` must be numeric.", call. = FALSE)
    weights <- as.vector(weights)
  }
  cluster <- column_argument(cluster, data, env, "cluster", n0)
  fixef <- if (length(parts$fixef)) fixef_variables(parts$fixef, data, env, n0)  # fe
  for (v in seq_along(variables)) {
    if (NROW(variables[[v]]) != n0) {
      abort(sprintf("variable `%s` has %d values but `data` has %d rows.",
                   names(variables)[v], NROW(variables[[v]]), n0), call. = FALSE)
    }
  }
  ## Rows to drop: NA in any variable, weight or offset (na.omit), zero weight.
  with_na <- c(variables[columns_any_na(variables, threads)],
               if (anyNA(weights)) list(weights),
               fixef[columns_any_na(fixef, threads)])  # fe: NA in a fixed effect
  drop <- if (length(with_na)) !do.call(stats::complete.cases, unname(with_na))
  if (!is.null(weights)) {
    bad <- !is.na(weights) & weights < 0
    if (any(bad)) {
      abort(sprintf("`weights` must be non-negative; %d value(s) are negative.", sum(bad)), call. = FALSE)
    }
    zero <- !is.na(weights) & weights == 0
    if (any(zero)) drop <- if (is.null(drop)) zero else drop | zero
  }
  keep <- NULL
  if (!is.null(drop) && any(drop)) {
    keep <- which(!drop)
    if (length(keep) == 0L) stop_no_rows_left(variables, weights)
    subset_rows <- function(x) if (is.null(dim(x))) x[keep] else x[keep, , drop = FALSE]
    variables <- lapply(variables, subset_rows)
    y <- variables[[1L]]
    if (!is.null(weights)) weights <- weights[keep]
    if (!is.null(offset)) offset <- offset[keep]
    if (!is.null(cluster)) cluster <- as_frame(lapply(cluster, `[`, keep))
    if (!is.null(fixef)) fixef <- lapply(fixef, `[`, keep)  # fe
  }
  if (drop_levels) variables <- drop_unused_levels(variables)
  design <- design_columns(stats::delete.response(tt), variables[-1L], contrasts)
  xlevels <- stats::.getXlevels(tt, as_frame(variables))
  y <- as.double(y)
  if (!is.null(offset)) y <- y - offset
  if (!is.null(weights)) weights <- as.double(weights)
  list(y = y, yname = yname, columns = design$columns, intercept = design$intercept,
       assign = design$assign, offset = offset,
       w = weights, cluster = cluster, terms = tt, n = length(y),
       contrasts = design$contrasts, xlevels = xlevels,
       dropped = if (is.null(keep)) integer(0) else which(drop),
       fixef = fixef)  # fe: the fixed-effect variables (NULL without `|`)
}

## Every row dropped: name the variables (and weights) responsible, those
## missing in every row first, else all that are missing somewhere.
stop_no_rows_left <- function(variables, weights) {
  all_na <- names(variables)[vapply(variables, function(x) all(is.na(x)), logical(1L))]
  some_na <- names(variables)[vapply(variables, anyNA, logical(1L))]
  w_gone <- !is.null(weights) && all(is.na(weights) | weights == 0)
  parts <- character(0)
  if (length(all_na)) {
    parts <- sprintf("%s %s missing in every row", paste0("`", all_na, "`", collapse = ", "),
                     if (length(all_na) > 1L) "are" else "is")
  }
  if (w_gone) parts <- c(parts, "`weights` are zero or missing in every row")
  if (!length(parts)) {
    parts <- sprintf("every row has a missing value in %s%s",
                     paste0("`", some_na, "`", collapse = ", "),
                     if (!is.null(weights)) " or a zero or missing weight (`weights`)" else "")
  }
  abort(sprintf("no rows left after dropping rows with missing values or zero weights: %s.",
                paste(parts, collapse = "; ")), call. = FALSE)
}

## Checks that columns are finite and returns their means (the shift used to
## centre the cross-products; weighted by `w` when given), in one C++ pass. The
## range of each column comes along as attributes "min" and "max" (for the
## scale factors of the cross-products).
check_finite <- function(cols, threads, w = NULL) {
  summary <- cpp_column_summary(cols, threads, w)
  bad <- summary$nonfinite > 0
  if (any(bad)) {
    abort(sprintf("%s contain(s) infinite values; remove or recode them first.",
                 paste0("`", names(cols)[bad], "`", collapse = ", ")), call. = FALSE)
  }
  structure(stats::setNames(summary$mean, names(cols)),
            min = summary$min, max = summary$max)
}
