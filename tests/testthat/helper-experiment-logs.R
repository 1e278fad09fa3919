## Simulated experiment logs for the analyze_experiment() and srm_test()
## tests: exposures (with households of three users), events (pre- and
## post-exposure purchases with values, sessions) and metric definitions.

## `n` users per arm; `clustered`: arms assigned by household; `offset`
## shifts the user and household ids (for a second experiment).
sim_experiment_logs <- function(n = 300, arms = c("control", "treatment"), experiment = "e1",
                                clustered = FALSE, seed = 1, offset = 0, lift = 0.2) {
  set.seed(seed)
  N <- n * length(arms)
  user <- offset + seq_len(N)
  hh <- ceiling(seq_len(N) / 3)
  variant <- if (clustered) arms[sample(rep_len(seq_along(arms), max(hh)))][hh] else
    sample(rep(arms, n))
  effect <- match(variant, arms) - 1
  t0 <- as.POSIXct("2026-03-01", tz = "UTC") + round(runif(N, 0, 3 * 86400))
  exposures <- data.frame(user_id = user, experiment_id = experiment, variant = variant,
                          exposure_time = t0, household_id = paste0("h", offset + hh),
                          stringsAsFactors = FALSE)
  level <- rexp(N) * exp(rnorm(max(hh), sd = 0.5))[hh]
  k_pre <- rpois(N, 0.8 * level)
  k_post <- rpois(N, 0.8 * level * (1 + lift * effect))
  k_sess <- rpois(N, 2 + level)
  day <- 86400
  events <- data.frame(
    user_id = c(rep(user, k_pre), rep(user, k_post), rep(user, k_sess)),
    event_name = rep(c("purchase", "purchase", "session_start"), c(sum(k_pre), sum(k_post), sum(k_sess))),
    event_time = c(rep(t0, k_pre) - round(runif(sum(k_pre), 1, 13 * day)),
                   rep(t0, k_post) + round(runif(sum(k_post), 1, 13 * day)),
                   rep(t0, k_sess) + round(runif(sum(k_sess), 1, 6 * day))),
    event_value = c(round(rexp(sum(k_pre), 1 / 20) * rep(level, k_pre), 2),
                    round(rexp(sum(k_post), 1 / 20) * rep(level, k_post), 2),
                    rep(NA, sum(k_sess))),
    stringsAsFactors = FALSE)
  list(exposures = exposures, events = events)
}

experiment_metrics_json <- '{
  "conversion_7d": {"display_name": "7-day conversion", "event": {"name": "purchase"},
                    "window": {"start": "0 days", "end": "7 days"}, "aggregation": "binary"},
  "revenue_14d": {"event": {"name": "purchase"}, "window": {"start": "0 days", "end": "14 days"},
                  "aggregation": "sum"},
  "session_7d": {"event": {"name": "session_start"}, "window": {"start": "0 days", "end": "7 days"},
                 "aggregation": "count"},
  "revenue_per_session": {"aggregation": "ratio", "numerator": "revenue_14d",
                          "denominator": "session_7d"},
  "pre_revenue_14d": {"event": {"name": "purchase"}, "window": {"start": "-14 days", "end": "0 days"},
                      "aggregation": "sum"}
}'

experiment_metrics <- function() clusterab::read_metrics(experiment_metrics_json)

## The rows of the per-unit table `u` (a data frame) in the control and
## variant `v`, with a 0/1 indicator `treat`.
arm_pair <- function(u, v, control = "control") {
  d <- u[u$variant %in% c(control, v), , drop = FALSE]
  d$treat <- as.numeric(d$variant == v)
  d
}
