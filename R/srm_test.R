#' Sample-ratio mismatch test
#'
#' `srm_test()` checks that the units of an experiment were split between its
#' variants as planned: a chi-square goodness-of-fit test of the number of
#' units per variant against the planned shares, equal to
#' `chisq.test(counts, p = split)`. A mismatch (p below 0.001, the threshold
#' the experimentation platforms use) means the assignment or the logging is
#' broken, and the experiment's results should not be trusted until the cause
#' is found.
#'
#' Units are counted once per experiment (a unit exposed several times counts
#' once); units seen in more than one variant of an experiment are left out,
#' as [compute_metrics()] leaves them out. `exposures` may also be the
#' per-unit table of [compute_metrics()], whose units are counted as they
#' are.
#'
#' @param exposures The exposures table (a data frame with columns
#'   `user_id`, `experiment_id` and `variant`, and optionally
#'   `exposure_time`, renamed by `columns`), or an
#'   `experiment_units` table from [compute_metrics()].
#' @param split The planned shares of the variants: a numeric vector named
#'   by variant, or unnamed in the order of the variants (the control first,
#'   by the rule of [analyze_experiment()]: "control", "A", factor order,
#'   ..., then the others sorted). Normalised to sum to 1; equal shares by
#'   default. Every variant of the data needs a share and every share a
#'   variant with units. With several experiments the same split applies to
#'   each; a list named by experiment id gives each its own.
#' @param experiment_id Optional: the experiments to test (ids as in the
#'   data); an id that does not exist is an error.
#' @param columns Optional renaming of the columns, as in
#'   [compute_metrics()]: `c(user_id = "visitor", variant = "arm")`.
#' @return With one experiment, an `htest` (also of class `srm_htest`) with
#'   `statistic` (X-squared), `parameter` (df), `p.value`, `method`,
#'   `data.name`, `observed`, `expected` (as [chisq.test()]'s), `split`
#'   (the normalised shares), `experiment_id` and `srm` (`TRUE` when
#'   `p.value < 0.001`). With several, a list of them of class `srm_test`.
#'   `tidy()` gives one row per experiment: `experiment_id`, `statistic`,
#'   `df`, `p.value`, `srm`, `units` (the counts as "5012 / 4988") and
#'   `variants` ("control / treatment"); `as.data.frame()` the same.
#' @examples
#' exposures <- data.frame(user_id = 1:1000, experiment_id = "e1",
#'                         variant = rep(c("control", "treatment"), c(520, 480)))
#' srm_test(exposures)
#' srm_test(exposures, split = c(control = 0.5, treatment = 0.5))
#' tidy(srm_test(exposures, split = c(0.52, 0.48)))
#' @export
srm_test <- function(exposures, split = NULL, experiment_id = NULL, columns = NULL) {
  counts <- srm_counts(exposures, columns, experiment_id)
  srm_from_counts(counts, split)
}

## Units per experiment and variant: a data.table (experiment_id, variant, n)
## with the user's labels, from an experiment_units table or raw exposures.
srm_counts <- function(exposures, columns, experiment_id = NULL) {
  if (!is.data.frame(exposures)) {
    abort(sprintf("`exposures` must be a data frame or data.table, not %s.", class(exposures)[1L]))
  }
  if (inherits(exposures, "experiment_units")) {
    cols <- units_columns(exposures)
    units <- data.table::as.data.table(exposures)[, c(cols[["experiment_id"]], cols[["variant"]]), with = FALSE]
  } else {
    cols <- log_columns(columns)
    check_log_table(exposures, "exposures", c("user_id", "experiment_id", "variant"), cols)
    if (!cols[["exposure_time"]] %in% names(exposures)) {
      ## counting units needs no times
      exposures <- as.data.frame(exposures)
      exposures[[cols[["exposure_time"]]]] <- 0
    }
    ## units by their first exposure, without those seen in two variants (as
    ## compute_metrics() counts them)
    rows <- first_exposures(exposures, cols, experiment_id, NULL)$units$row0
    units <- data.table::data.table(exposures[[cols[["experiment_id"]]]][rows],
                                    exposures[[cols[["variant"]]]][rows])
    experiment_id <- NULL
  }
  names(units) <- c("experiment_id", "variant")
  if (!is.null(experiment_id)) units <- keep_experiments(units, experiment_id)
  units[, variant := as_label(variant)]
  units[, list(n = .N), by = c("experiment_id", "variant")]
}

## The experiments `ids` of a table with a column experiment_id, with an error
## for an id that is not there.
keep_experiments <- function(units, ids) {
  have <- unique(as.character(units$experiment_id))
  bad <- setdiff(as.character(ids), have)
  if (length(bad)) {
    abort(sprintf("`experiment_id` %s not in the data; the experiments are %s.",
                  paste0("\"", bad, "\"", collapse = ", "),
                  paste0("\"", utils::head(have, 20L), "\"", collapse = ", ")))
  }
  units[as.character(units$experiment_id) %in% as.character(ids)]
}

## Variant labels as text (factor levels kept in their order by arm_order).
as_label <- function(x) if (is.factor(x)) x else as.character(x)

## The column mapping of an experiment_units table (its own attribute, else
## the default names).
units_columns <- function(units) {
  cols <- attr(units, "columns")
  defaults <- c(user_id = "user_id", experiment_id = "experiment_id", variant = "variant",
                exposure_time = "exposure_time")
  if (is.null(cols)) return(defaults)
  defaults[names(cols)[names(cols) %in% names(defaults)]] <- cols[names(cols) %in% names(defaults)]
  defaults
}

## One htest per experiment from the counts; a single htest for one experiment.
## `arms`: optionally, the variants of each experiment in order (a list
## named by experiment id), as the analysis ordered them.
srm_from_counts <- function(counts, split, arms = NULL) {
  ids <- unique(counts$experiment_id)
  tests <- lapply(ids, function(e) {
    rows <- counts[counts$experiment_id == e]
    order <- if (!is.null(arms)) arms[[as.character(e)]] else as.character(suppress_baseline_message(
      arm_values(rows$variant, NULL, "variant", "control", "control variant"),
      quiet = !is.null(names(split_for(split, e)))))
    n <- stats::setNames(rows$n[match(order, as.character(rows$variant))], order)
    srm_one(n, split_for(split, e), e)
  })
  names(tests) <- as.character(ids)
  if (length(tests) == 1L) return(tests[[1L]])
  structure(tests, class = "srm_test")
}

split_for <- function(split, e) {
  if (is.list(split)) {
    s <- split[[as.character(e)]]
    if (is.null(s)) {
      abort(sprintf("`split` is a list without an entry for experiment \"%s\"; name one share vector per experiment.", e))
    }
    return(s)
  }
  split
}

## Keeps arm_values()' message about the baseline choice only when the order
## matters (an unnamed split).
suppress_baseline_message <- function(expr, quiet) {
  if (!quiet) return(expr)
  withCallingHandlers(expr, clusterab_baseline_choice = function(m) invokeRestart("muffleMessage"))
}

## The planned shares for the variants `arms` (named, in that order),
## checked and normalised.
check_split <- function(split, arms, experiment) {
  k <- length(arms)
  where <- sprintf(" (experiment \"%s\", variants %s)", experiment,
                   paste0("\"", arms, "\"", collapse = ", "))
  if (is.null(split)) return(stats::setNames(rep(1 / k, k), arms))
  if (!is.numeric(split) || anyNA(split) || any(!is.finite(split))) {
    abort("`split` must be a numeric vector of planned shares, one per variant, such as c(control = 0.5, treatment = 0.5).")
  }
  if (any(split <= 0)) {
    abort(sprintf("`split` has %s share%s; every planned share must be positive%s.",
                  if (any(split < 0)) "a negative" else "a zero", "", where))
  }
  if (is.null(names(split))) {
    if (length(split) != k) {
      abort(sprintf("`split` has %d shares but the data have %d variants%s; give one share per variant.",
                    length(split), k, where))
    }
    names(split) <- arms
  } else {
    absent <- setdiff(names(split), arms)
    if (length(absent)) {
      abort(sprintf("`split` names variant%s %s, which %s no exposures%s.",
                    if (length(absent) > 1L) "s" else "", paste0("\"", absent, "\"", collapse = ", "),
                    if (length(absent) > 1L) "have" else "has", where))
    }
    unnamed <- setdiff(arms, names(split))
    if (length(unnamed)) {
      abort(sprintf("`split` gives no share for variant%s %s%s; give one share per variant.",
                    if (length(unnamed) > 1L) "s" else "",
                    paste0("\"", unnamed, "\"", collapse = ", "), where))
    }
    if (anyDuplicated(names(split))) abort("`split` names a variant twice; give one share per variant.")
    split <- split[arms]
  }
  split / sum(split)
}

## chisq.test(n, p = split) for one experiment, as an htest.
srm_one <- function(n, split, experiment) {
  if (length(n) < 2L) {
    abort(sprintf("experiment \"%s\" has a single variant (\"%s\"); a sample-ratio test and a comparison need a control and at least one other variant.",
                  experiment, names(n)))
  }
  p <- check_split(split, names(n), experiment)
  N <- sum(n)
  E <- N * p
  stat <- sum((n - E)^2 / E)
  df <- length(n) - 1L
  pval <- stats::pchisq(stat, df, lower.tail = FALSE)
  structure(list(statistic = c(`X-squared` = stat), parameter = c(df = df), p.value = pval,
                 method = "Chi-squared test for given probabilities (sample-ratio mismatch)",
                 data.name = sprintf("units per variant of experiment \"%s\"", experiment),
                 observed = n, expected = E, split = p, experiment_id = experiment,
                 srm = isTRUE(pval < srm_threshold)),
            class = c("srm_htest", "htest"))
}

srm_threshold <- 0.001

#' @export
print.srm_htest <- function(x, ...) {
  NextMethod()
  cat(sprintf("Units: %s (planned %s)\n",
              paste(sprintf("%s %s", names(x$observed), format(x$observed, big.mark = ",", trim = TRUE)), collapse = ", "),
              paste(sprintf("%.4g%%", 100 * x$split), collapse = " / ")))
  cat(if (x$srm) sprintf("SAMPLE RATIO MISMATCH: p < %g; check the assignment and the logging before reading the results.\n\n", srm_threshold)
      else sprintf("No sample-ratio mismatch (p >= %g).\n\n", srm_threshold))
  invisible(x)
}

#' @export
print.srm_test <- function(x, ...) {
  cat(sprintf("\nSample-ratio mismatch tests (chi-square goodness of fit; flagged below p = %g)\n\n",
              srm_threshold))
  tab <- tidy(x)
  tab$p.value <- format.pval(tab$p.value, digits = 3)
  tab$statistic <- signif(tab$statistic, 4)
  print(tab, row.names = FALSE)
  cat("\n")
  invisible(x)
}

#' Tidy a sample-ratio mismatch test
#'
#' @param x A [srm_test()] result.
#' @param row.names,optional Ignored (for the `as.data.frame()` generic).
#' @param ... Ignored.
#' @return A data.table, one row per experiment: `experiment_id`,
#'   `statistic`, `df`, `p.value`, `srm`, `units` ("5012 / 4988") and
#'   `variants` ("control / treatment").
#' @method tidy srm_test
#' @export
tidy.srm_test <- function(x, ...) {
  data.table::rbindlist(lapply(unclass(x), tidy.srm_htest))
}

#' @rdname tidy.srm_test
#' @method tidy srm_htest
#' @export
tidy.srm_htest <- function(x, ...) {
  data.table::data.table(experiment_id = x$experiment_id, statistic = unname(x$statistic),
                         df = unname(x$parameter), p.value = x$p.value, srm = x$srm,
                         units = paste(x$observed, collapse = " / "),
                         variants = paste(names(x$observed), collapse = " / "))
}

#' @rdname tidy.srm_test
#' @export
as.data.frame.srm_test <- function(x, row.names = NULL, optional = FALSE, ...) {
  result_frame(tidy(x), row.names)
}

#' @rdname tidy.srm_test
#' @export
as.data.frame.srm_htest <- function(x, row.names = NULL, optional = FALSE, ...) {
  result_frame(tidy(x), row.names)
}
