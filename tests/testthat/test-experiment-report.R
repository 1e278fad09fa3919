## experiment_report(): a self-contained HTML report of the bundled logs.

extdata <- function(f) system.file("extdata", f, package = "clusterab")

test_that("experiment_report() writes one self-contained HTML file with every experiment", {
  skip_if_not_installed("rmarkdown")
  skip_if_not(rmarkdown::pandoc_available("1.12.3"))
  exposures <- read.csv(extdata("exposures.csv"))
  events <- read.csv(extdata("events.csv"))
  dir <- tempfile("report-test-")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  file <- file.path(dir, "report.html")
  before <- list.files(getwd(), all.files = TRUE)
  res <- experiment_report(exposures, events, extdata("metrics.json"), file = file,
                           cluster = "household_id",
                           covariate = c(revenue_14d = "pre_revenue_14d"))
  expect_s3_class(res, "experiment_results")
  expect_true(file.exists(file))
  expect_identical(attr(res, "report"), normalizePath(file))
  ## nothing left behind: only the report in its directory, nothing new in the cwd
  expect_identical(list.files(dir), "report.html")
  expect_identical(list.files(getwd(), all.files = TRUE), before)

  html <- paste(readLines(file, warn = FALSE), collapse = "\n")
  ## opens offline: no script, style sheet, image or font fetched from the network
  expect_false(grepl("(src|href)\\s*=\\s*[\"']?(https?:)?//", html, perl = TRUE))
  expect_false(grepl("url\\(\\s*[\"']?(https?:)?//", html, perl = TRUE))
  expect_false(grepl("<script[^>]+src=[\"'](?!data:)", html, perl = TRUE))
  expect_true(grepl("<img src=\"data:image/png;base64,", html, fixed = TRUE))
  for (e in c("checkout_redesign", "household_pricing")) expect_true(grepl(e, html, fixed = TRUE))
  expect_identical(lengths(regmatches(html, gregexpr("SRM check", html, fixed = TRUE))), 2L)
  expect_true(grepl("no sample-ratio mismatch", html, fixed = TRUE))
  expect_true(grepl("Clustered versus naive", html, fixed = TRUE))
  expect_true(grepl("7-day Conversion Rate", html, fixed = TRUE))
})

test_that("experiment_report() of compute_metrics()'s units, without clusters, shows no naive comparison", {
  skip_if_not_installed("rmarkdown")
  skip_if_not(rmarkdown::pandoc_available("1.12.3"))
  exposures <- read.csv(extdata("exposures.csv"))
  events <- read.csv(extdata("events.csv"))
  units <- compute_metrics(exposures, events, extdata("metrics.json"),
                           experiment_id = "checkout_redesign")
  file <- tempfile("checkout-", fileext = ".html")
  on.exit(unlink(file), add = TRUE)
  res <- experiment_report(units, file = file)
  html <- paste(readLines(file, warn = FALSE), collapse = "\n")
  expect_true(grepl("checkout_redesign", html, fixed = TRUE))
  expect_false(grepl("household_pricing", html, fixed = TRUE))
  expect_false(grepl("Clustered versus naive", html, fixed = TRUE))
  expect_identical(unique(res$experiment_id), "checkout_redesign")
})

test_that("experiment_report() rejects a bad `file`, `open` or `quiet`", {
  exposures <- data.frame(user_id = 1:2, experiment_id = "e", variant = c("control", "treatment"),
                          exposure_time = "2026-03-01")
  events <- data.frame(user_id = 1L, event_name = "purchase", event_time = "2026-03-02")
  metrics <- '{"conversion": {"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "7 days"}, "aggregation": "binary"}}'
  expect_error(experiment_report(exposures, events, metrics, file = c("a.html", "b.html")),
               class = "clusterab_error")
  expect_error(experiment_report(exposures, events, metrics, file = NA_character_),
               class = "clusterab_error")
  expect_error(experiment_report(exposures, events, metrics, file = 1), class = "clusterab_error")
  expect_error(experiment_report(exposures, events, metrics, file = ""), class = "clusterab_error")
  expect_error(experiment_report(exposures, events, metrics,
                                 file = file.path(tempdir(), "no-such-dir", "r.html")),
               "does not exist", class = "clusterab_error")
  expect_error(experiment_report(exposures, events, metrics, file = tempfile(fileext = ".html"),
                                 open = NA), class = "clusterab_error")
  expect_error(experiment_report(exposures, events, metrics, file = tempfile(fileext = ".html"),
                                 quiet = "yes"), class = "clusterab_error")
})

test_that("a missing rmarkdown or pandoc is a classed error that says what to install", {
  expect_error(clusterab:::check_report_tools(rmarkdown = FALSE), "install.packages",
               class = "clusterab_error")
  expect_error(clusterab:::check_report_tools(rmarkdown = TRUE, pandoc = FALSE), "pandoc",
               class = "clusterab_error")
})

test_that("the report flags a sample-ratio mismatch and shows segments and a third variant", {
  skip_if_not_installed("rmarkdown")
  skip_if_not(rmarkdown::pandoc_available("1.12.3"))
  exposures <- read.csv(extdata("exposures.csv"))
  exposures <- exposures[exposures$experiment_id == "checkout_redesign", ]
  ## a tenth of the treatment's exposures lost, and part of it relabelled as a third variant
  treated <- which(exposures$variant == "treatment")
  exposures <- exposures[-treated[seq(1, length(treated), by = 10)], ]
  treated <- which(exposures$variant == "treatment")
  exposures$variant[treated[seq(1, length(treated), by = 3)]] <- "treatment_b"
  events <- read.csv(extdata("events.csv"))
  users <- read.csv(extdata("users.csv"))
  file <- tempfile("srm-", fileext = ".html")
  on.exit(unlink(file), add = TRUE)
  res <- suppressWarnings(experiment_report(exposures, events, extdata("metrics.json"), file = file,
                                            users = users, segment = "device"))
  expect_setequal(unique(res$variant), c("treatment", "treatment_b"))
  html <- paste(readLines(file, warn = FALSE), collapse = "\n")
  expect_true(grepl("<strong>sample-ratio mismatch</strong>", html, fixed = TRUE))
  expect_true(grepl("p (<|&lt;) 0.0001", html))
  expect_true(grepl("<th[^>]*>Segment</th>", html))
  expect_true(grepl("treatment_b", html, fixed = TRUE))
})

test_that("experiment_report() of database tables: the tests from the database, the same report", {
  skip_if_not_installed("rmarkdown")
  skip_if_not(rmarkdown::pandoc_available("1.12.3"))
  need("dbplyr")
  need("RSQLite")
  exposures <- read.csv(extdata("exposures.csv"))
  events <- read.csv(extdata("events.csv"))
  seconds <- function(t) as.numeric(as.POSIXct(t, tz = "UTC"))
  con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
  on.exit(DBI::dbDisconnect(con), add = TRUE)
  DBI::dbWriteTable(con, "exposures", transform(exposures, exposure_time = seconds(exposure_time)))
  DBI::dbWriteTable(con, "events", transform(events, event_time = seconds(event_time)))
  dir <- tempfile("report-test-")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  files <- file.path(dir, c("db.html", "memory.html"))
  tb <- suppressWarnings(list(exposures = dplyr::tbl(con, "exposures"), events = dplyr::tbl(con, "events")))
  db <- experiment_report(tb$exposures, tb$events, extdata("metrics.json"), file = files[1],
                          cluster = "household_id")
  mem <- experiment_report(exposures, events, extdata("metrics.json"), file = files[2],
                           cluster = "household_id")
  expect_s3_class(attr(db, "units"), "experiment_units_sql")
  numbers <- c("statistic", "p.value", "estimate", "conf.low", "conf.high", "lift")
  expect_equal(as.data.frame(db)[numbers], as.data.frame(mem)[numbers], tolerance = 1e-10)
  ## the text of the two reports is the same but for the rounding of the last digits
  text <- function(f) {
    html <- paste(readLines(f, warn = FALSE), collapse = "\n")
    gsub("[0-9]", "#", gsub("<img src=\"data:image/png;base64,[^\"]*\"", "<img>", html))
  }
  expect_identical(text(files[1]), text(files[2]))
})
