#' Bundled event logs of two experiments
#'
#' Simulated logs as an experimentation platform exports them, in
#' `system.file("extdata", package = "clusterab")`: who was exposed to which
#' variant and when, what they did afterwards (and before), who they are, and
#' the metric definitions. Made by `data-raw/experiment_logs.R` in the package
#' sources, from the data-generating process described below. Timestamps are
#' UTC, written `"YYYY-MM-DD HH:MM:SS"`; amounts have two decimals.
#'
#' @section Files:
#' \describe{
#'   \item{`exposures.csv`}{20,008 rows, one per exposure: `user_id`;
#'     `experiment_id` (`"checkout_redesign"` or `"household_pricing"`);
#'     `variant` (`"control"` or `"treatment"`); `exposure_time`;
#'     `household_id` (the randomisation unit of `household_pricing`, the
#'     cluster; in `checkout_redesign` every user has a household of their own).}
#'   \item{`events.csv`}{About 34,000 rows: `user_id`; `event_name`
#'     (`"purchase"` or `"session_start"`); `event_time`; `event_value` (the
#'     amount of a purchase; empty for sessions).}
#'   \item{`users.csv`}{20,000 rows: `user_id`; `device` (`"mobile"`,
#'     `"desktop"`, `"tablet"`); `country` (`"US"`, `"GB"`, `"DE"`, `"FR"`,
#'     `"CA"`). Drawn independently of everything else, for segments.}
#'   \item{`metrics.json`}{Six metric definitions for [read_metrics()]:
#'     `conversion_7d` (binary: a purchase within 7 days of first exposure),
#'     `revenue_14d` (sum of purchase amounts within 14 days), `session_7d`
#'     and `session_14d` (counts of sessions within 7 and 14 days),
#'     `revenue_per_session` (ratio `revenue_14d / session_14d`) and
#'     `pre_revenue_14d` (sum of purchase amounts in the 14 days before
#'     exposure, a covariate for CUPED).}
#' }
#'
#' @section The two experiments and their true effects:
#' \describe{
#'   \item{`checkout_redesign`}{10,000 users randomised one by one, 5,000 per
#'     arm, exposed between 1 and 15 March 2026. They were sampled from a
#'     large population, so no two share a household (clustering by
#'     `household_id` changes nothing here). True effects: 7-day conversion
#'     10% in control, 11% in treatment (lift +10%); amount per purchase
#'     unchanged (revenue per user about +10%); sessions unchanged.}
#'   \item{`household_pricing`}{10,000 other users in households of 1 to 5
#'     users; whole households were randomised, 5,000 users per arm, exposed
#'     between 15 and 29 April 2026. A household random effect makes outcomes
#'     within a household correlated, so the analysis must cluster by
#'     `household_id`. True effects: 7-day conversion 10% -> 9.5% (lift -5%);
#'     every amount x 1.08 (revenue per buyer +8%, per user about +2.6%);
#'     sessions unchanged.}
#' }
#' Each user has a latent engagement that raises the probability of buying
#' (logistic), the amounts (lognormal, sdlog 0.6) and the rate of sessions
#' (Poisson, 1.4 per 14 days on average), before exposure as after it: so
#' pre-period revenue is correlated with post-period revenue and CUPED reduces
#' the variance.
#'
#' @section Awkward rows, on purpose:
#' \itemize{
#'   \item exposed twice in the same variant (a second, later row): `u00011`,
#'     `u00012`, `u00013`, `u10021`, `u10022`; the first exposure counts.
#'   \item seen in both variants: `u00031`, `u00032` (`checkout_redesign`) and
#'     `u10041` (`household_pricing`); they are excluded from the analysis, so
#'     the arms hold 4,998 to 5,000 users.
#'   \item events before exposure: every pre-period purchase, and a session
#'     one hour before exposure for `u00051`-`u00055` and `u10051`-`u10055`;
#'     they never count in a post-exposure window.
#'   \item events at a window's ends: `u00061` buys exactly at exposure,
#'     `u00062` exactly 7 days after it; both ends are inclusive.
#'   \item events of users never exposed (`u99901`-`u99903`): ignored.
#' }
#'
#' @name clusterab_extdata
#' @examples
#' exposures <- read.csv(system.file("extdata", "exposures.csv", package = "clusterab"))
#' events <- read.csv(system.file("extdata", "events.csv", package = "clusterab"))
#' head(exposures)
#' table(exposures$experiment_id, exposures$variant)
#' table(events$event_name)
NULL

#' An HTML report of an experiment, from its logs
#'
#' Analyses the experiments in the logs with [analyze_experiment()] and
#' renders the results into one self-contained HTML file: it holds its
#' styles and its figures (as base64 images), fetches nothing from the
#' network when opened, and can be mailed or archived as it is. Per
#' experiment the report shows the sample-ratio mismatch check, the results
#' table, a forest plot of the lifts with their confidence intervals, the
#' distribution of each metric per variant, and, when the analysis is
#' clustered, the clustered and the naive (unit-level, clusters ignored)
#' analyses side by side.
#'
#' The template is `system.file("report", "experiment_report.Rmd", package =
#' "clusterab")`; it is rendered by [rmarkdown::render()] in a temporary
#' directory (so no intermediate file lands in the working directory or the
#' package library), and only the HTML file is copied to `file`. Rendering
#' needs the rmarkdown package and pandoc.
#'
#' @param exposures,events,metrics The logs and the metric definitions, as
#'   for [analyze_experiment()]. `exposures` may also be the per-unit table of
#'   [compute_metrics()]; then `events` and `metrics` are not needed. With
#'   database tables (see "Database tables" in [analyze_experiment()]) the
#'   tests run in the database, and the per-unit table (one row per unit)
#'   comes into R for the distribution figures.
#' @param file Path of the HTML file to write (its directory must exist).
#' @param ... Passed to [analyze_experiment()]: `experiment_id`, `control`,
#'   `cluster`, `covariate`, `users`, `segment`, `alpha`, `adjust`, `split`,
#'   `columns`, ...
#' @param open `TRUE` to open the report in the browser once written.
#' @param quiet `FALSE` to show rmarkdown's progress.
#' @return The analysis, an `experiment_results` table, invisibly, with
#'   attribute `"report"` the normalised path of the HTML file.
#' @seealso [clusterab_extdata] for the bundled logs used below.
#' @examples
#' \donttest{
#' # rendering takes a few seconds
#' if (requireNamespace("rmarkdown", quietly = TRUE) && rmarkdown::pandoc_available()) {
#'   extdata <- function(f) system.file("extdata", f, package = "clusterab")
#'   exposures <- read.csv(extdata("exposures.csv"))
#'   events <- read.csv(extdata("events.csv"))
#'   res <- experiment_report(exposures, events, extdata("metrics.json"),
#'                            file = file.path(tempdir(), "report.html"),
#'                            experiment_id = "household_pricing",
#'                            cluster = "household_id")
#'   attr(res, "report")
#' }
#' }
#' @export
experiment_report <- function(exposures, events = NULL, metrics = NULL,
                              file = "experiment_report.html", ...,
                              open = FALSE, quiet = TRUE) {
  check_report_file(file)
  check_flag(open, "open")
  check_flag(quiet, "quiet")
  check_report_tools()
  results <- analyze_experiment(exposures, events, metrics, ...)
  naive <- NULL
  if (!is.null(attr(results, "settings")$cluster)) {
    ## the same analysis of the same units, clusters ignored; its warnings and
    ## messages (SRM, the choice of control) were given by the first already
    args <- list(...)
    args$cluster <- NULL
    naive <- suppressWarnings(suppressMessages(
      do.call(analyze_experiment, c(list(attr(results, "units"), events = NULL, metrics = NULL),
                                    args, list(cluster = NULL)))))
  }
  shown <- results
  if (inherits(attr(results, "units"), "experiment_units_sql")) {
    ## the distribution figures draw every unit: the per-unit table (one row
    ## per unit, not the logs) comes into R for them
    attr(shown, "units") <- collect_units(attr(results, "units"))
  }
  path <- render_experiment_report(shown, naive, file, quiet)
  if (open) utils::browseURL(path)
  attr(results, "report") <- path
  invisible(results)
}

## `file`: one path whose directory exists.
check_report_file <- function(file) {
  if (!is.character(file) || length(file) != 1L || is.na(file) || !nzchar(file)) {
    abort(sprintf("`file` must be a single path such as \"experiment_report.html\", not %s.",
                  describe_value(file)))
  }
  if (!dir.exists(dirname(file))) {
    abort(sprintf("`file`: the directory \"%s\" does not exist; create it or write elsewhere.",
                  dirname(file)))
  }
}

## Rendering needs rmarkdown (Suggests) and pandoc.
check_report_tools <- function(rmarkdown = requireNamespace("rmarkdown", quietly = TRUE),
                               pandoc = rmarkdown && rmarkdown::pandoc_available("1.12.3")) {
  if (!rmarkdown) {
    abort("experiment_report() needs the rmarkdown package: install.packages(\"rmarkdown\").")
  }
  if (!pandoc) {
    abort(paste0("experiment_report() needs pandoc (1.12.3 or later), which rmarkdown did not find: ",
                 "install it (as root: apt-get install pandoc) or set the RSTUDIO_PANDOC ",
                 "environment variable to the directory that holds it."))
  }
}

## Renders the template in a fresh temporary directory, copies the HTML file
## to `file`, and returns its normalised path.
render_experiment_report <- function(results, naive, file, quiet,
                                     template = system.file("report", "experiment_report.Rmd",
                                                            package = "clusterab")) {
  if (!nzchar(template) || !file.exists(template)) {
    abort("The report template is missing from the installed package: reinstall clusterab.")
  }
  work <- tempfile("clusterab_report_")
  dir.create(work)
  on.exit(unlink(work, recursive = TRUE), add = TRUE)
  rmd <- file.path(work, "experiment_report.Rmd")
  file.copy(template, rmd)
  format <- rmarkdown::html_document(self_contained = TRUE, mathjax = NULL, toc = TRUE,
                                     toc_depth = 2, highlight = NULL)
  ## the chunks see this package's internal helpers
  envir <- new.env(parent = environment(sys.function()))
  html <- rmarkdown::render(rmd, output_format = format, output_file = "experiment_report.html",
                            output_dir = work, intermediates_dir = work, knit_root_dir = work,
                            params = list(results = results, naive = naive),
                            envir = envir, quiet = quiet)
  if (!file.copy(html, file, overwrite = TRUE)) {
    abort(sprintf("`file`: could not write \"%s\"; check that the directory is writable.", file))
  }
  normalizePath(file)
}

## ---- helpers used by the template (inst/report/experiment_report.Rmd) ----

## The rows of one experiment, with the class and attributes of the whole.
results_of_experiment <- function(results, id) {
  keep <- results$experiment_id == id
  out <- data.table::as.data.table(as.data.frame(results)[keep, , drop = FALSE])
  for (a in c("settings", "units", "srm")) data.table::setattr(out, a, attr(results, a))
  srm <- attr(results, "srm")
  if (!is.null(srm)) {
    rows <- which(srm[["experiment_id"]] == id)
    data.table::setattr(out, "srm", srm[rows, ])
  }
  data.table::setattr(out, "class", class(results))
  out
}

## A figure drawn by `draw()` as a PNG, written into the page as a base64 <img>.
report_figure <- function(draw, width = 7, height = 4, style = "") {
  png_file <- tempfile(fileext = ".png")
  grDevices::png(png_file, width = width, height = height, units = "in", res = 96,
                 type = if (capabilities("cairo")) "cairo" else NULL)
  ok <- FALSE
  on.exit(if (!ok) grDevices::dev.off(), add = TRUE)
  draw()
  grDevices::dev.off()
  ok <- TRUE
  uri <- knitr::image_uri(png_file)
  unlink(png_file)
  sprintf("<img src=\"%s\" style=\"max-width:100%%;%s\" alt=\"figure\">\n", uri, style)
}

format_p_value <- function(p) {
  ifelse(is.na(p), "", ifelse(p < 1e-4, "< 0.0001", formatC(p, digits = 4, format = "f")))
}

## Values of one metric: percentages for binary ones, else 4 significant digits.
format_metric_value <- function(x, binary) {
  if (binary) sprintf("%.2f%%", 100 * x) else formatC(signif(x, 4), digits = 4, format = "fg", big.mark = ",")
}

format_interval <- function(est, low, high, f) {
  ifelse(is.na(est), "", sprintf("%s [%s, %s]", f(est), f(low), f(high)))
}

percent <- function(x) ifelse(is.na(x), "", sprintf("%+.1f%%", 100 * x))

## The SRM sentence for one experiment (a row of attr(results, "srm")).
srm_line <- function(srm) {
  if (is.null(srm) || nrow(srm) == 0L) return("SRM check: not available.")
  srm <- as.data.frame(srm)
  text_cols <- setdiff(names(srm)[vapply(srm, is.character, NA)], "experiment_id")
  units <- if (length(text_cols)) sprintf("; units per variant %s", srm[[text_cols[1]]][1]) else ""
  verdict <- if (isTRUE(srm$srm[1])) {
    "**sample-ratio mismatch** (p < 0.001): assignment or logging is broken, so the comparisons below are not trustworthy."
  } else {
    "no sample-ratio mismatch (the flag is p < 0.001)."
  }
  p <- format_p_value(srm$p.value[1])
  sprintf("SRM check (chi-squared test of the units per variant against the planned split): X-squared = %.3f, df = %s, p %s%s: %s",
          srm$statistic[1], format(srm$df[1]), if (startsWith(p, "<")) p else paste("=", p), units, verdict)
}

## The results table of one experiment, formatted for knitr::kable().
report_results_table <- function(x) {
  aggregation <- aggregations_by_id(x)
  x <- as.data.frame(x)
  binary <- x$test %in% "chi-squared" | aggregation[x$metric_id] %in% "binary"
  fmt <- function(v, b) vapply(seq_along(v), function(i) format_metric_value(v[i], b[i]), "")
  diff <- vapply(seq_len(nrow(x)), function(i) {
    f <- function(v) format_metric_value(v, binary[i])
    if (binary[i]) f <- function(v) sprintf("%+.2f pp", 100 * v)
    format_interval(x$estimate[i], x$conf.low[i], x$conf.high[i], f)
  }, "")
  out <- data.frame(Metric = x$display_name, check.names = FALSE, stringsAsFactors = FALSE)
  if ("segment" %in% names(x)) out$Segment <- x$segment
  out$Variant <- x$variant
  out$Test <- x$test
  out$Control <- fmt(x$control_value, binary)
  out$`Variant value` <- fmt(x$variant_value, binary)
  out$`Difference [CI]` <- diff
  out$`Lift [CI]` <- format_interval(x$lift, x$lift.conf.low, x$lift.conf.high, percent)
  out$`p-value` <- format_p_value(x$p.value)
  out$Significant <- ifelse(x$significant, "**yes**", "no")
  out$`Units (control / variant)` <- sprintf("%s / %s", format(x$n_control, big.mark = ","),
                                             format(x$n_variant, big.mark = ","))
  if ("variance_reduction" %in% names(x)) {
    out$`CUPED variance reduction` <- ifelse(is.na(x$variance_reduction), "",
                                             sprintf("%.1f%%", 100 * x$variance_reduction))
  }
  out
}

## The aggregation of each metric, named by id, from the definitions kept with the units.
aggregations_by_id <- function(x) {
  defs <- attr(attr(x, "units"), "metrics")
  if (is.null(defs)) return(character())
  stats::setNames(vapply(defs, function(d) d$aggregation, ""), vapply(defs, function(d) d$id, ""))
}

## Clustered and naive analyses of one experiment side by side.
report_side_by_side <- function(clustered, naive) {
  key <- intersect(c("metric_id", "segment", "variant"), names(clustered))
  a <- as.data.frame(clustered)
  b <- as.data.frame(naive)
  b <- b[match(do.call(paste, a[key]), do.call(paste, b[key])), , drop = FALSE]
  interval <- function(d) format_interval(d$lift, d$lift.conf.low, d$lift.conf.high, percent)
  width <- function(d) d$conf.high - d$conf.low
  out <- data.frame(Metric = a$display_name, check.names = FALSE, stringsAsFactors = FALSE)
  if ("segment" %in% names(a)) out$Segment <- a$segment
  out$Variant <- a$variant
  out$`Naive test` <- b$test
  out$`Naive lift [CI]` <- interval(b)
  out$`Naive p` <- format_p_value(b$p.value)
  out$`Clustered test` <- a$test
  out$`Clustered lift [CI]` <- interval(a)
  out$`Clustered p` <- format_p_value(a$p.value)
  out$`CI width ratio` <- sprintf("%.2f", width(a) / width(b))
  out
}

## Per-variant summaries of the per-unit values of each metric.
report_distribution_table <- function(units, ids, variants, labels = ids) {
  rows <- list()
  for (k in seq_along(ids)) for (v in variants) {
    id <- ids[k]
    y <- units[[id]][units$variant == v]
    y <- y[!is.na(y)]
    nz <- y[y != 0]
    rows[[length(rows) + 1L]] <- data.frame(
      Metric = labels[k], Variant = v, Units = format(length(y), big.mark = ","),
      `Share zero` = sprintf("%.1f%%", 100 * mean(y == 0)),
      Mean = formatC(signif(mean(y), 4), digits = 4, format = "fg"),
      `Median of non-zero` = if (length(nz)) formatC(signif(stats::median(nz), 4), digits = 4, format = "fg") else "",
      `99th percentile` = formatC(signif(stats::quantile(y, 0.99, names = FALSE), 4), digits = 4, format = "fg"),
      Max = formatC(signif(max(y), 4), digits = 4, format = "fg"),
      check.names = FALSE, stringsAsFactors = FALSE)
  }
  do.call(rbind, rows)
}

variant_colours <- function(k) c("grey35", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e")[seq_len(k)]

## One panel per metric: rates for binary metrics, the distribution of the
## counts for count metrics, else the ECDF of the non-zero values (log scale
## when they span more than two orders of magnitude) with the share of zeros.
plot_metric_distributions <- function(units, ids, labels, aggregations, variants) {
  cols <- variant_colours(length(variants))
  graphics::par(mfrow = c(ceiling(length(ids) / 3), min(3L, length(ids))),
                mar = c(4.2, 4.2, 2.5, 0.8), cex = 0.85)
  for (k in seq_along(ids)) {
    values <- lapply(variants, function(v) {
      y <- units[[ids[k]]][units$variant == v]
      y[!is.na(y)]
    })
    agg <- unname(aggregations[k])
    if (identical(agg, "binary")) {
      rate <- vapply(values, mean, 0)
      se <- sqrt(rate * (1 - rate) / lengths(values))
      mid <- graphics::barplot(100 * rate, names.arg = variants, col = cols, border = NA,
                               ylim = c(0, 100 * max(rate + 2 * se) * 1.15), ylab = "% of units",
                               main = labels[k])
      graphics::arrows(mid, 100 * (rate - 1.96 * se), mid, 100 * (rate + 1.96 * se),
                       angle = 90, code = 3, length = 0.05)
      graphics::text(mid, 100 * (rate + 1.96 * se), sprintf("%.2f%%", 100 * rate), pos = 3, cex = 0.8)
    } else if (identical(agg, "count")) {
      top <- max(1, min(10, max(unlist(values)), na.rm = TRUE))
      share <- vapply(values, function(y) tabulate(pmin(y, top) + 1, top + 1) / length(y), numeric(top + 1))
      graphics::barplot(t(100 * share), beside = TRUE, col = cols, border = NA,
                        names.arg = c(0:(top - 1), paste0(top, "+")), ylab = "% of units",
                        xlab = "value", main = labels[k])
      graphics::legend("topright", variants, fill = cols, border = NA, bty = "n", cex = 0.8)
    } else {
      nz <- lapply(values, function(y) y[y != 0])
      all_nz <- unlist(nz)
      if (!length(all_nz)) {
        graphics::plot.new()
        graphics::title(main = labels[k])
        graphics::text(0.5, 0.5, "all values are 0")
        next
      }
      log_x <- all(all_nz > 0) && max(all_nz) / min(all_nz) > 100
      graphics::plot(range(all_nz), c(0, 1), type = "n", log = if (log_x) "x" else "",
                     xlab = if (log_x) "non-zero value (log scale)" else "non-zero value",
                     ylab = "share of non-zero units below", main = labels[k])
      for (j in seq_along(nz)) {
        if (!length(nz[[j]])) next
        v <- sort(nz[[j]])
        x <- unique(v)
        ## the empirical distribution function at its jumps: share of values <= x
        graphics::lines(x, findInterval(x, v) / length(v), type = "s", col = cols[j], lwd = 1.6)
      }
      zero <- vapply(values, function(y) mean(y == 0), 0)
      graphics::legend("bottomright", sprintf("%s (%.1f%% zero)", variants, 100 * zero),
                       col = cols, lwd = 2, bty = "n", cex = 0.8)
    }
  }
}
