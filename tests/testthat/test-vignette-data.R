## The bundled vignette data (inst/extdata, made by data-raw/vignette_data.R)
## have the shape ?vignette_data documents and the vignettes rely on.

read_extdata <- function(file) {
  path <- system.file("extdata", file, package = "clusterab")
  expect_true(nzchar(path))
  utils::read.csv(path, stringsAsFactors = FALSE)
}

test_that("geo_regions.csv: 50 regions randomised by region, 25 per arm", {
  geo <- read_extdata("geo_regions.csv")
  expect_identical(names(geo), c("region", "store", "treated", "baseline", "revenue"))
  expect_identical(nrow(geo), 1690L)
  expect_length(unique(geo$region), 50L)
  expect_false(anyDuplicated(geo$store) > 0)
  arm <- tapply(geo$treated, geo$region, unique)
  expect_true(all(lengths(arm) == 1L))           # constant within a region
  expect_identical(as.vector(table(unlist(arm))), c(25L, 25L))
  expect_true(all(table(geo$region) >= 6 & table(geo$region) <= 60))
  expect_false(anyNA(geo))
})

test_that("sessions.csv: one row per user, 2,000 per variant, conversions <= sessions", {
  users <- read_extdata("sessions.csv")
  expect_identical(names(users), c("user_id", "variant", "sessions", "conversions", "revenue"))
  expect_false(anyDuplicated(users$user_id) > 0)
  expect_identical(as.vector(table(users$variant)), c(2000L, 2000L))
  expect_identical(sort(unique(users$variant)), c("A", "B"))
  expect_true(all(users$sessions >= 1))
  expect_true(all(users$conversions >= 0 & users$conversions <= users$sessions))
  expect_true(all(users$revenue[users$conversions == 0] == 0))
  expect_true(all(users$revenue[users$conversions > 0] > 0))
})

test_that("did_panel.csv: a balanced panel of 40 stores x 12 weeks, groups constant by store", {
  panel <- read_extdata("did_panel.csv")
  expect_identical(names(panel), c("store", "group", "week", "period", "sales"))
  expect_identical(nrow(panel), 480L)
  expect_true(all(table(panel$store) == 12L))
  expect_true(all(tapply(panel$group, panel$store, function(g) length(unique(g))) == 1L))
  expect_identical(as.vector(table(panel$group)) / 12, c(20, 20))
  expect_identical(panel$period == "post", panel$week >= 7)
  expect_false(anyNA(panel))
})
