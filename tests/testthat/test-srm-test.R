## srm_test(): chisq.test(counts, p = split) on the units per variant.

tol <- 1e-10

srm_logs <- function() {
  ex <- data.frame(user_id = 1:1000, experiment_id = "e1",
                   variant = rep(c("control", "treatment"), c(530, 470)),
                   exposure_time = as.POSIXct("2026-03-01", tz = "UTC") + (1:1000) * 60,
                   stringsAsFactors = FALSE)
  ## user 1 exposed twice (counts once), user 2 also seen in treatment (dropped)
  extra <- ex[1:2, ]
  extra$exposure_time <- extra$exposure_time + 3600
  extra$variant[2] <- "treatment"
  rbind(ex, extra)
}

test_that("equals chisq.test(counts, p = split), units counted once, two-variant units dropped", {
  ex <- srm_logs()
  res <- srm_test(ex)
  counts <- c(control = 529, treatment = 470)
  ref <- chisq.test(counts, p = c(0.5, 0.5))
  expect_s3_class(res, "htest")
  expect_equal(unname(res$statistic), unname(ref$statistic), tolerance = tol)
  expect_equal(unname(res$parameter), unname(ref$parameter))
  expect_equal(res$p.value, ref$p.value, tolerance = tol)
  expect_equal(res$observed, counts)
  expect_equal(res$expected, ref$expected, tolerance = tol)
  expect_false(res$srm)
  for (split in list(c(0.53, 0.47), c(control = 53, treatment = 47), c(treatment = 0.47, control = 0.53))) {
    s <- srm_test(ex, split = split)
    expect_equal(s$p.value, chisq.test(counts, p = c(0.53, 0.47))$p.value, tolerance = tol)
  }
  expect_output(print(res), "No sample-ratio mismatch")
  td <- tidy(res)
  expect_equal(td$units, "529 / 470")
  expect_equal(td$variants, "control / treatment")
  expect_equal(as.data.frame(res)$p.value, res$p.value)
})

test_that("a mismatch is flagged below p = 0.001", {
  ex <- data.frame(user_id = 1:1000, experiment_id = "e1",
                   variant = rep(c("A", "B"), c(560, 440)), exposure_time = 0)
  res <- srm_test(ex)
  expect_equal(res$p.value, chisq.test(c(560, 440))$p.value, tolerance = tol)
  expect_true(res$srm)
  expect_output(print(res), "SAMPLE RATIO MISMATCH")
})

test_that("several experiments and variants; an experiment_units table; renamed columns", {
  ex <- srm_logs()
  ex2 <- data.frame(user_id = 1:900, experiment_id = "e2", variant = rep(c("control", "b", "c"), c(310, 300, 290)),
                    exposure_time = as.POSIXct("2026-03-05", tz = "UTC"), stringsAsFactors = FALSE)
  both <- rbind(ex, ex2)
  res <- srm_test(both, split = list(e1 = c(0.5, 0.5), e2 = c(control = 0.4, b = 0.3, c = 0.3)))
  expect_s3_class(res, "srm_test")
  td <- tidy(res)
  expect_equal(td$experiment_id, c("e1", "e2"))
  expect_equal(td$df, c(1, 2))
  expect_equal(td$p.value[2], chisq.test(c(310, 300, 290), p = c(0.4, 0.3, 0.3))$p.value, tolerance = tol)
  expect_equal(td$variants[2], "control / b / c")
  expect_output(print(res), "e2")
  one <- srm_test(both, experiment_id = "e2")
  expect_s3_class(one, "htest")
  expect_equal(one$p.value, chisq.test(c(310, 300, 290))$p.value, tolerance = tol)
  ## the per-unit table of compute_metrics() gives the same counts
  m <- read_metrics('{"visits": {"event": {"name": "visit"}, "aggregation": "count",
                                 "window": {"start": "0 days", "end": "1 day"}}}')
  ev <- data.frame(user_id = 1, event_name = "visit", event_time = as.POSIXct("2026-03-05", tz = "UTC"))
  units <- compute_metrics(both, ev, m)
  expect_equal(tidy(srm_test(units)), tidy(srm_test(both)))
  ## columns renamed
  ren <- both
  names(ren)[names(ren) == "variant"] <- "arm"
  expect_equal(tidy(srm_test(ren, columns = c(variant = "arm"))), tidy(srm_test(both)))
})

test_that("bad input: classed errors", {
  ex <- srm_logs()
  expect_error(srm_test(ex, split = c(0.2, 0.3, 0.5)), class = "clusterab_error",
               regexp = "3 shares but the data have 2 variants")
  expect_error(srm_test(ex, split = c(-1, 2)), class = "clusterab_error", regexp = "negative")
  expect_error(srm_test(ex, split = c(0, 1)), class = "clusterab_error", regexp = "positive")
  expect_error(srm_test(ex, split = c(control = 0.5, purple = 0.5)), class = "clusterab_error",
               regexp = "\"purple\", which has no exposures")
  expect_error(srm_test(ex, split = c(control = 1)), class = "clusterab_error",
               regexp = "no share for variant \"treatment\"")
  expect_error(srm_test(ex, split = "half"), class = "clusterab_error", regexp = "numeric vector")
  expect_error(srm_test(ex, experiment_id = "e9"), class = "clusterab_error", regexp = "e9")
  expect_error(srm_test(ex[ex$variant == "control", ]), class = "clusterab_error",
               regexp = "single variant")
  expect_error(srm_test(ex[, c("user_id", "experiment_id")]), class = "clusterab_error",
               regexp = "variant")
  expect_error(srm_test(1:3), class = "clusterab_error", regexp = "data frame")
  expect_error(srm_test(ex, split = list(e2 = c(0.5, 0.5))), class = "clusterab_error",
               regexp = "without an entry for experiment \"e1\"")
})

test_that("exposure times are not needed to count units", {
  ex <- srm_logs()
  expect_equal(tidy(srm_test(ex[, c("user_id", "experiment_id", "variant")])), tidy(srm_test(ex)))
})
