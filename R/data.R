#' A simulated geo experiment
#'
#' Forty sales regions, half of them randomised to a promotion, with 8 to 90
#' stores each. The randomisation unit is the region; the analysis unit is the
#' store. Revenue is strongly correlated within a region, so standard errors
#' that treat the stores as independent are several times too small. Made by
#' `data-raw/geo_experiment.R` in the package sources.
#'
#' @format A data frame with 1,964 rows and 5 columns:
#' \describe{
#'   \item{region}{Region id (character), the cluster.}
#'   \item{store}{Store id.}
#'   \item{treated}{1 if the store's region got the promotion, else 0.}
#'   \item{baseline}{Revenue in the month before the test.}
#'   \item{revenue}{Revenue during the test (true effect of the promotion: 1.5).}
#' }
#' @examples
#' fit <- lm(revenue ~ treated + baseline, data = geo_experiment)
#' coef_test(fit, vcov = vcov(fit))          # ignores the regions: too optimistic
#' coef_test(fit, cluster = ~ region)        # clustered by region
"geo_experiment"
