## From event logs to a report. The bundled logs hold two experiments with
## 5,000 users per arm: "checkout_redesign" (users randomised one by one) and
## "household_pricing" (whole households randomised, so its tests are
## clustered by household). The metrics are defined in a JSON file; events are
## counted in windows after each user's first exposure; every test comes with
## its lift, confidence interval and a sample-ratio mismatch check.
library(clusterab)
extdata <- function(f) system.file("extdata", f, package = "clusterab")
exposures <- read.csv(extdata("exposures.csv"))
events <- read.csv(extdata("events.csv"))
metrics <- read_metrics(extdata("metrics.json"))

## where to write the report: scripts/example.sh sets CLUSTERAB_REPORT
file <- Sys.getenv("CLUSTERAB_REPORT", file.path(tempdir(), "experiment_report.html"))

if (requireNamespace("rmarkdown", quietly = TRUE) && rmarkdown::pandoc_available("1.12.3")) {
  results <- experiment_report(exposures, events, metrics, file = file,
                               cluster = "household_id",
                               covariate = c(revenue_14d = "pre_revenue_14d"))
} else {
  results <- analyze_experiment(exposures, events, metrics, cluster = "household_id",
                                covariate = c(revenue_14d = "pre_revenue_14d"))
}
old <- options(width = max(getOption("width"), 120))  # one line per metric
print(results)
options(old)
if (is.null(attr(results, "report"))) {
  cat("\nNo HTML report: it needs the rmarkdown package and pandoc.\n")
} else {
  cat(sprintf("\nThe HTML report (self-contained, opens offline): %s\n", attr(results, "report")))
}
