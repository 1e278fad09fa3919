## Simulates the bundled event logs (inst/extdata): two experiments, each
## with 5,000 users per arm, as an exposures table, an events table, a users
## table, and the metric definitions in metrics.json.
## Run from the package root: Rscript data-raw/experiment_logs.R
##
## Data-generating process (the true effects, which the analysis should find):
##
## * Experiment "checkout_redesign": 10,000 users (u00001-u10000), each
##   randomised on their own, 5,000 to "control" and 5,000 to "treatment",
##   first exposed at a uniform time between 2026-03-01 and 2026-03-15 (UTC).
##   Users are independent. They have a household_id too, but they were
##   sampled from a large population, so no two share a household: clustering
##   this experiment by household_id gives the unclustered analysis.
## * Experiment "household_pricing": 10,000 other users (u10001-u20000) in
##   households of 1 to 5 users; whole households were randomised, 5,000 users
##   to "control" and 5,000 to "treatment" (the last household drawn for each
##   arm is cut to make exactly 5,000). Exposed between 2026-04-15 and
##   2026-04-29, so no window of one experiment overlaps the other's. A
##   household random effect (half of the variance of each user's latent
##   engagement) makes the outcomes of users in one household correlated:
##   analyses must cluster by household_id.
##
## Each user has a latent engagement z ~ N(0, 1) (household_pricing:
## z = sqrt(0.8) * household effect + sqrt(0.2) * own effect, both N(0, 1)).
## Relative to the user's first exposure:
##
## * Purchases, 7-day conversion: a user buys at least once in the first 7 days
##   with probability plogis(a + 1.5 z), a set so that the mean is
##   - checkout_redesign: 10% in control, 11% in treatment (lift +10%);
##   - household_pricing: 10% in control, 9.5% in treatment (lift -5%).
##   The first purchase is at a uniform time in [0, 7] days; 30% of buyers
##   buy again, at a uniform time between the first purchase and 14 days.
##   Users who did not buy in the first 7 days buy in days 7-14 with
##   probability 0.3 times their 7-day probability.
## * Revenue per purchase: lognormal, meanlog = log(30) + 0.3 z, sdlog = 0.6
##   (mean about 36 at z = 0). checkout_redesign: no effect on the amount
##   (so revenue rises with conversion, about +10%); household_pricing: prices
##   up, every amount x 1.08 in treatment (revenue per buyer +8%, revenue per
##   user about +2.6%).
## * Sessions ("session_start", no value): Poisson process over the 14 days
##   after exposure with rate 0.1 * exp(0.4 z - 0.08) per day (mean 1.4 per
##   user in 14 days). No treatment effect in either experiment (a true null).
## * Pre-period revenue: in the 14 days before exposure a user buys with
##   probability plogis(a_control + 1.5 z) (no treatment before exposure),
##   amounts as above. Through z and the amounts, pre-period revenue is
##   correlated with post-period revenue, so CUPED (covariate =
##   c(revenue_14d = "pre_revenue_14d")) reduces the variance.
##
## Timestamps are written "YYYY-MM-DD HH:MM:SS" in UTC, values to 2 decimals.
##
## Awkward rows, on purpose (the analysis must handle them):
## * exposed twice in the same variant (a second, later exposure row):
##   u00011, u00012, u00013 (checkout_redesign) and u10021, u10022
##   (household_pricing). Their first exposure is the one that counts.
## * seen in both variants (an extra, later exposure row in the other
##   variant): u00031, u00032 (checkout_redesign) and u10041
##   (household_pricing). They must be excluded from the analysis.
## * events before exposure: every pre-period purchase, plus a session one
##   hour before exposure for u00051-u00055 and u10051-u10055; these never
##   count in a post-exposure window.
## * events exactly at a window's ends: u00061 buys exactly at exposure (0),
##   u00062 exactly 7 days after it; both ends are inclusive, so both convert.
## * events of users never exposed (u99901-u99903): ignored.
## (the seed was picked among a few so that the sample lifts lie near the true
## ones, which makes the examples easier to read)
set.seed(20260309)
n_arm <- 5000L
day <- 86400
sizes <- function(n) sample(1:5, n, replace = TRUE, prob = c(0.30, 0.30, 0.20, 0.12, 0.08))

## households for the first n users: ids from `first`, sizes 1-5
households <- function(n, first) {
  s <- sizes(n)
  s <- s[cumsum(s) - s < n]
  s[length(s)] <- n - sum(s[-length(s)])
  list(id = sprintf("h%05d", first + seq_along(s) - 1L), size = s)
}

## checkout_redesign: users randomised one by one
n1 <- 2L * n_arm
hh1 <- list(id = sprintf("h%05d", seq_len(n1)), size = rep(1L, n1))
exp1 <- data.frame(
  user_id = sprintf("u%05d", seq_len(n1)),
  experiment_id = "checkout_redesign",
  variant = sample(rep(c("control", "treatment"), each = n_arm)),
  exposure = as.numeric(as.POSIXct("2026-03-01", tz = "UTC")) + floor(runif(n1, 0, 14 * day)),
  household_id = rep(hh1$id, hh1$size),
  z = rnorm(n1),
  stringsAsFactors = FALSE
)

## household_pricing: whole households randomised, 5,000 users per arm
first_hh <- length(hh1$id) + 1L
hh_c <- households(n_arm, first_hh)
hh_t <- households(n_arm, first_hh + length(hh_c$id))
hh_id <- c(hh_c$id, hh_t$id)
hh_size <- c(hh_c$size, hh_t$size)
hh_variant <- rep(c("control", "treatment"), c(length(hh_c$id), length(hh_t$id)))
hh_effect <- rnorm(length(hh_id))
rows <- rep(seq_along(hh_id), hh_size)
exp2 <- data.frame(
  user_id = sprintf("u%05d", n1 + seq_along(rows)),
  experiment_id = "household_pricing",
  variant = hh_variant[rows],
  exposure = as.numeric(as.POSIXct("2026-04-15", tz = "UTC")) + floor(runif(length(rows), 0, 14 * day)),
  household_id = hh_id[rows],
  z = sqrt(0.8) * hh_effect[rows] + sqrt(0.2) * rnorm(length(rows)),
  stringsAsFactors = FALSE
)
units <- rbind(exp1, exp2)

## intercept a such that E[plogis(a + 1.5 z)] = p, z ~ N(0, 1)
slope <- 2
intercept_for <- function(p) {
  mean_p <- function(a) integrate(function(z) plogis(a + slope * z) * dnorm(z), -Inf, Inf)$value
  uniroot(function(a) mean_p(a) - p, c(-10, 5), tol = 1e-10)$root
}
p7 <- c(checkout_redesign.control = 0.10, checkout_redesign.treatment = 0.11,
        household_pricing.control = 0.10, household_pricing.treatment = 0.095)
a7 <- vapply(p7, intercept_for, 0)
a_pre <- intercept_for(0.10)
arm <- paste(units$experiment_id, units$variant, sep = ".")
p_user <- plogis(a7[arm] + slope * units$z)
price <- ifelse(units$experiment_id == "household_pricing" & units$variant == "treatment", 1.08, 1)
amount <- function(i) round(price[i] * rlnorm(length(i), log(30) + 0.5 * units$z[i], 0.6), 2)
price_pre <- 1
n <- nrow(units)

## post-exposure purchases
buy7 <- which(runif(n) < p_user)
t_first <- runif(length(buy7), 0, 7 * day)
again <- runif(length(buy7)) < 0.3
buy_late <- setdiff(which(runif(n) < 0.3 * p_user), buy7)
purchase <- data.frame(
  i = c(buy7, buy7[again], buy_late),
  t = c(t_first, runif(sum(again), t_first[again], 14 * day), runif(length(buy_late), 7 * day, 14 * day))
)
purchase$value <- amount(purchase$i)

## pre-period purchases (before exposure: no treatment, price 1)
buy_pre <- which(runif(n) < plogis(a_pre + slope * units$z))
pre <- data.frame(i = buy_pre, t = -runif(length(buy_pre), 0, 14 * day))
pre$value <- round(rlnorm(length(buy_pre), log(30) + 0.5 * units$z[buy_pre], 0.6), 2)
extra_pre <- runif(length(buy_pre)) < 0.3
pre <- rbind(pre, data.frame(i = buy_pre[extra_pre], t = -runif(sum(extra_pre), 0, 14 * day),
                             value = round(rlnorm(sum(extra_pre), log(30) + 0.5 * units$z[buy_pre[extra_pre]], 0.6), 2)))

## sessions: Poisson count over 14 days, uniform times
n_sessions <- rpois(n, 14 * 0.1 * exp(0.4 * units$z - 0.08))
sessions <- data.frame(i = rep(seq_len(n), n_sessions), t = runif(sum(n_sessions), 0, 14 * day), value = NA)

## awkward: sessions one hour before exposure
early <- match(sprintf("u%05d", c(51:55, 10051:10055)), units$user_id)
sessions <- rbind(sessions, data.frame(i = early, t = -3600, value = NA))
## awkward: purchases exactly at both ends of the 7-day window
edge <- match(c("u00061", "u00062"), units$user_id)
purchase <- purchase[!(purchase$i %in% edge & purchase$t <= 7 * day), ]
purchase <- rbind(purchase, data.frame(i = edge, t = c(0, 7 * day), value = c(25, 40)))

time_text <- function(seconds) {
  format(as.POSIXct(floor(seconds), origin = "1970-01-01", tz = "UTC"), "%Y-%m-%d %H:%M:%S", tz = "UTC")
}
ev <- rbind(cbind(purchase, event_name = "purchase"), cbind(pre, event_name = "purchase"),
            cbind(sessions, event_name = "session_start"))
events <- data.frame(user_id = units$user_id[ev$i], event_name = ev$event_name,
                     event_time = time_text(units$exposure[ev$i] + ev$t),
                     event_value = ev$value, stringsAsFactors = FALSE)
## awkward: events of users never exposed
events <- rbind(events, data.frame(user_id = c("u99901", "u99902", "u99903"),
                                   event_name = c("purchase", "session_start", "purchase"),
                                   event_time = c("2026-03-05 10:00:00", "2026-03-06 11:30:00", "2026-04-20 09:15:00"),
                                   event_value = c(19.99, NA, 45.5)))
events <- events[order(events$event_time, events$user_id), ]

exposures <- data.frame(user_id = units$user_id, experiment_id = units$experiment_id,
                        variant = units$variant, exposure_time = units$exposure,
                        household_id = units$household_id, stringsAsFactors = FALSE)
other <- function(v) ifelse(v == "control", "treatment", "control")
## awkward: exposed twice in the same variant (a later second exposure)
twice <- exposures[match(c("u00011", "u00012", "u00013", "u10021", "u10022"), exposures$user_id), ]
twice$exposure_time <- twice$exposure_time + 2 * day + 1234
## awkward: seen in both variants (a later exposure in the other variant)
both <- exposures[match(c("u00031", "u00032", "u10041"), exposures$user_id), ]
both$variant <- other(both$variant)
both$exposure_time <- both$exposure_time + day + 567
exposures <- rbind(exposures, twice, both)
exposures <- exposures[order(exposures$experiment_id, exposures$exposure_time), ]
exposures$exposure_time <- time_text(exposures$exposure_time)

users <- data.frame(
  user_id = units$user_id,
  device = sample(c("mobile", "desktop", "tablet"), n, replace = TRUE, prob = c(0.6, 0.32, 0.08)),
  country = sample(c("US", "GB", "DE", "FR", "CA"), n, replace = TRUE, prob = c(0.45, 0.2, 0.15, 0.12, 0.08)),
  stringsAsFactors = FALSE
)

dir.create("inst/extdata", showWarnings = FALSE, recursive = TRUE)
data.table::fwrite(exposures, "inst/extdata/exposures.csv")
data.table::fwrite(events, "inst/extdata/events.csv")
data.table::fwrite(users, "inst/extdata/users.csv")

metrics <- list(
  conversion_7d = list(metric_id = "conversion_7d", display_name = "7-day Conversion Rate",
                       event = list(name = "purchase"), window = list(start = "0 days", end = "7 days"),
                       aggregation = "binary",
                       description = "1 if the user bought at least once in the 7 days after first exposure, else 0."),
  revenue_14d = list(metric_id = "revenue_14d", display_name = "14-day Revenue",
                     event = list(name = "purchase"), window = list(start = "0 days", end = "14 days"),
                     aggregation = "sum",
                     description = "Sum of purchase amounts in the 14 days after first exposure."),
  session_7d = list(metric_id = "session_7d", display_name = "7-day Sessions",
                    event = list(name = "session_start"), window = list(start = "0 days", end = "7 days"),
                    aggregation = "count",
                    description = "Number of sessions started in the 7 days after first exposure."),
  session_14d = list(metric_id = "session_14d", display_name = "14-day Sessions",
                     event = list(name = "session_start"), window = list(start = "0 days", end = "14 days"),
                     aggregation = "count",
                     description = "Number of sessions started in the 14 days after first exposure."),
  revenue_per_session = list(metric_id = "revenue_per_session", display_name = "Revenue per Session",
                             aggregation = "ratio", numerator = "revenue_14d", denominator = "session_14d",
                             description = "14-day revenue over 14-day sessions, tested at the randomisation unit by the delta method."),
  pre_revenue_14d = list(metric_id = "pre_revenue_14d", display_name = "Pre-period Revenue (14 days)",
                         event = list(name = "purchase"), window = list(start = "-14 days", end = "0 days"),
                         aggregation = "sum",
                         description = "Sum of purchase amounts in the 14 days before first exposure: a covariate for CUPED.")
)
writeLines(jsonlite::toJSON(metrics, auto_unbox = TRUE, pretty = TRUE), "inst/extdata/metrics.json")
