## Simulates the three small data sets the vignettes analyse and writes them to
## inst/extdata/ as CSV. Run from the package root:
##   Rscript data-raw/vignette_data.R
## Every number below is part of the documented data-generating process (see
## ?vignette_data); the true effects are stated next to where they enter.
set.seed(20261201)

write_extdata <- function(x, name) {
  utils::write.csv(x, file.path("inst", "extdata", name), row.names = FALSE)
}

## ---------------------------------------------------------------------------
## geo_regions.csv: a geo experiment. 50 sales regions, 25 of them randomised
## (complete randomisation of regions) to a promotion; 6 to 60 stores per
## region. Revenue (in thousands) of store i in region g:
##   baseline_i = 50 * size_i + u_g + N(0, 4^2)          (the month before)
##   revenue_i  = 5 + baseline_i + TAU * treated_g + v_g + N(0, 4^2)
## with size_i ~ lognormal(0, 0.3), u_g ~ N(0, 10^2) a lasting region effect
## (present before and during the test, so the baseline carries it) and
## v_g ~ N(0, 3^2) a region shock during the test (weather, a competitor's
## campaign), shared by the region's stores and not in the baseline: it is
## what makes stores of one region correlated after adjusting for baseline.
## True effect of the promotion: TAU = 3 (thousand per store).
geo_tau <- 3
n_regions <- 50
regions <- sprintf("G%02d", seq_len(n_regions))
stores <- sample(6:60, n_regions, replace = TRUE)
treated <- sample(rep(0:1, each = n_regions / 2))
u <- rnorm(n_regions, sd = 10)
v <- rnorm(n_regions, sd = 3)
g <- rep(seq_len(n_regions), stores)
size <- rlnorm(length(g), meanlog = 0, sdlog = 0.3)
baseline <- 50 * size + u[g] + rnorm(length(g), sd = 4)
revenue <- 5 + baseline + geo_tau * treated[g] + v[g] + rnorm(length(g), sd = 4)
geo_regions <- data.frame(
  region = regions[g],
  store = sprintf("S%04d", seq_along(g)),
  treated = treated[g],
  baseline = round(baseline, 2),
  revenue = round(revenue, 2)
)
write_extdata(geo_regions, "geo_regions.csv")

## ---------------------------------------------------------------------------
## sessions.csv: users randomised 50/50 to variants A and B, one row per user.
## User i has sessions_i = 1 + NegBin(mean 5, size 1.5) sessions during the
## test and a personal conversion propensity p_i ~ Beta(0.6, 9.4) (mean
## 0.06): some users convert often, most rarely, which is what makes the
## sessions of one user correlated. In variant B every user's propensity is
## multiplied by LIFT:
##   conversions_i ~ Binomial(sessions_i, p_i * (LIFT if B else 1))
##   revenue_i = sum over conversions of Gamma(shape 2, scale 20)  (order values)
## True effect: LIFT = 1.05, i.e. conversions per session 5% higher in B
## (0.060 -> 0.063 in expectation).
sessions_lift <- 1.05
n_users <- 4000
variant <- sample(rep(c("A", "B"), each = n_users / 2))
sessions <- 1L + stats::rnbinom(n_users, mu = 5, size = 1.5)
propensity <- stats::rbeta(n_users, 0.6, 9.4) * ifelse(variant == "B", sessions_lift, 1)
conversions <- stats::rbinom(n_users, sessions, propensity)
revenue <- vapply(conversions, function(k) sum(stats::rgamma(k, shape = 2, scale = 20)), 0)
sessions_data <- data.frame(
  user_id = sprintf("u%05d", seq_len(n_users)),
  variant = variant,
  sessions = sessions,
  conversions = conversions,
  revenue = round(revenue, 2)
)
write_extdata(sessions_data, "sessions.csv")

## ---------------------------------------------------------------------------
## did_panel.csv: a weekly panel of 40 stores over 12 weeks; from week 7 the
## 20 stores of the "treated" group run a new layout (the stores were not
## randomised: the treated group sells more to begin with, which a
## difference in differences allows for). Sales of store s in week w:
##   sales = 100 + 15 * treated_s + a_s + 0.8 * w + DELTA * treated_s * post_w + e_sw
## with a_s ~ N(0, 8^2) a store effect, a common trend of 0.8 a week, and
## e_sw an AR(1) series within a store (correlation 0.5, sd 5): weeks of one
## store are correlated, so the store is the cluster.
## True effect of the new layout: DELTA = 4.
did_delta <- 4
n_stores <- 40
weeks <- 12
store_treated <- rep(0:1, each = n_stores / 2)
a <- rnorm(n_stores, sd = 8)
e <- t(vapply(seq_len(n_stores), function(s) {
  as.numeric(stats::arima.sim(list(ar = 0.5), n = weeks, sd = 5 * sqrt(1 - 0.5^2)))
}, numeric(weeks)))
panel <- expand.grid(week = seq_len(weeks), store = seq_len(n_stores))
panel$group <- ifelse(store_treated[panel$store] == 1, "treated", "control")
panel$period <- ifelse(panel$week >= 7, "post", "pre")
post <- as.numeric(panel$period == "post")
tr <- store_treated[panel$store]
panel$sales <- round(100 + 15 * tr + a[panel$store] + 0.8 * panel$week +
                       did_delta * tr * post + e[cbind(panel$store, panel$week)], 2)
panel$store <- sprintf("store%02d", panel$store)
did_panel <- panel[, c("store", "group", "week", "period", "sales")]
write_extdata(did_panel, "did_panel.csv")
