## Simulates the bundled geo experiment: 40 sales regions, half randomised to
## a new promotion, with 8 to 90 stores each. Revenue is strongly correlated
## within a region, so standard errors that ignore the regions are far too small.
## Run from the package root: Rscript data-raw/geo_experiment.R
set.seed(20261123)
regions <- sprintf("R%02d", 1:40)
size <- sample(8:90, length(regions), replace = TRUE)
treated_region <- sample(rep(0:1, length.out = length(regions)))
region_effect <- rnorm(length(regions), sd = 6)
rows <- rep(seq_along(regions), size)
store_size <- rlnorm(length(rows), meanlog = 0, sdlog = 0.4)
baseline <- 100 * store_size + 2 * region_effect[rows] + rnorm(length(rows), sd = 4)
revenue <- 5 + 0.95 * baseline + 1.5 * treated_region[rows] +
  region_effect[rows] + rnorm(length(rows), sd = 3)
geo_experiment <- data.frame(
  region = regions[rows],
  store = seq_along(rows),
  treated = treated_region[rows],
  baseline = round(baseline, 2),
  revenue = round(revenue, 2),
  stringsAsFactors = FALSE
)
save(geo_experiment, file = "data/geo_experiment.rda", compress = "xz", version = 2)
