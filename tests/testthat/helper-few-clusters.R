## Muffles the few-cluster warnings (class "clusterab_few_clusters") of
## `code`, for tests that check numbers on designs with fewer than 30
## clusters; other warnings still surface, and the few-cluster warnings are
## tested in blocks of their own (test-coef-test.R).
quiet_few <- function(code) {
  withCallingHandlers(code, clusterab_few_clusters = function(w) invokeRestart("muffleWarning"))
}

## Muffles the "fewer than 30 clusters" warning but not the single-cluster one.
quiet_few_but_single <- function(code) {
  withCallingHandlers(code, clusterab_few_clusters = function(w) {
    if (!inherits(w, "clusterab_single_cluster")) invokeRestart("muffleWarning")
  })
}
