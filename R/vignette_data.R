#' Data sets for the vignettes: a geo test, a ratio metric and a DiD panel
#'
#' Three small simulated data sets, kept as CSV files in the package's
#' `extdata` folder, that the vignettes analyse. Read them with
#' `read.csv(system.file("extdata", "geo_regions.csv", package = "clusterab"))`
#' (or `data.table::fread()`). They are made by `data-raw/vignette_data.R` in
#' the package sources, which states the data-generating process; the true
#' effects are given below, so every analysis can be judged against them.
#'
#' @section geo_regions.csv:
#' A geo experiment: 50 sales regions, 25 of them randomised (by region) to a
#' promotion, with 6 to 60 stores each (1,690 stores). One row per store:
#' \describe{
#'   \item{region}{Region id, `"G01"` to `"G50"`: the randomisation unit and
#'     the cluster.}
#'   \item{store}{Store id.}
#'   \item{treated}{1 if the store's region got the promotion, else 0.}
#'   \item{baseline}{Revenue (thousands) in the month before the test.}
#'   \item{revenue}{Revenue (thousands) during the test.}
#' }
#' Revenue is baseline plus 5, plus the effect, plus a region shock during
#' the test (sd 3) and store noise (sd 4); the baseline carries a lasting
#' region effect (sd 10). **True effect of the promotion: 3** (thousand per
#' store).
#'
#' @section sessions.csv:
#' An experiment randomised by user, 4,000 users split 50/50 between
#' variants `"A"` and `"B"`, with the outcome counted per session. One row
#' per user:
#' \describe{
#'   \item{user_id}{User id.}
#'   \item{variant}{`"A"` (control) or `"B"`.}
#'   \item{sessions}{Sessions during the test (at least 1).}
#'   \item{conversions}{Sessions that converted (at most `sessions`).}
#'   \item{revenue}{Revenue of the user's conversions.}
#' }
#' Each user has a personal conversion propensity (Beta(0.6, 9.4), mean
#' 0.06), so sessions of one user are correlated. **True effect: conversions
#' per session 5% higher in B** (each user's propensity times 1.05).
#'
#' @section did_panel.csv:
#' A weekly panel of 40 stores over 12 weeks; from week 7 the 20 stores of
#' the treated group use a new layout. The groups were not randomised (the
#' treated stores sell more from the start) but share a common trend. One
#' row per store and week:
#' \describe{
#'   \item{store}{Store id: the cluster.}
#'   \item{group}{`"control"` or `"treated"`.}
#'   \item{week}{Week, 1 to 12.}
#'   \item{period}{`"pre"` (weeks 1-6) or `"post"` (weeks 7-12).}
#'   \item{sales}{Weekly sales: a store effect (sd 8), a trend of 0.8 a
#'     week and AR(1) noise within the store (correlation 0.5, sd 5).}
#' }
#' **True effect of the new layout: 4.**
#'
#' @name vignette_data
#' @keywords datasets
#' @seealso `vignette("clustered-experiments")`, `vignette("ratio-metrics")`,
#'   `vignette("difference-in-differences")`.
#' @examples
#' geo <- read.csv(system.file("extdata", "geo_regions.csv", package = "clusterab"))
#' coef_test(lm(revenue ~ treated + baseline, data = geo), cluster = ~ region)
#'
#' sessions <- read.csv(system.file("extdata", "sessions.csv", package = "clusterab"))
#' ratio_test(sessions, "conversions", "sessions", "variant")
#'
#' panel <- read.csv(system.file("extdata", "did_panel.csv", package = "clusterab"))
#' did_boot(panel, "sales", "group", "period", cluster = "store", R = 200, ci = "perc")
NULL
