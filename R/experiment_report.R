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
#'     cluster; present but unused in `checkout_redesign`).}
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
#'     arm, exposed between 1 and 15 March 2026. True effects: 7-day conversion
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
