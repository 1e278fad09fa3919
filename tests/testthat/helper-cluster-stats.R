## Statistics compared with the data-frame method's: the same clusters (in
## any order), counts, centring and moments to `tolerance` (the database and
## the shards add up the rows in another order). Used by the DBI, CSV and
## shard tests.

## The data-frame statistics with clusters in the order of `ids`.
reorder_stats <- function(st, ids) {
  o <- match(ids, st$cluster)
  st$moments <- lapply(st$moments, function(m) m[, o, drop = FALSE])
  st$n <- st$n[o]
  st$cluster <- st$cluster[o]
  st
}

## `db`: statistics computed elsewhere (a database, files, shards); `df`: the
## data-frame method's on the same rows.
expect_same_stats <- function(db, df, tolerance = 1e-10) {
  expect_s3_class(db, "cluster_stats")
  expect_setequal(db$cluster, df$cluster)
  df <- reorder_stats(df, db$cluster)
  expect_identical(names(db), names(df))
  expect_identical(db$n, df$n)
  expect_identical(db$z_names, df$z_names)
  expect_identical(db$intercept, df$intercept)
  expect_identical(db$weighted, df$weighted)
  expect_identical(db$weight_varies, df$weight_varies)
  expect_equal(db$nobs, df$nobs)
  expect_equal(db$dropped, df$dropped)
  expect_identical(names(db$shift), names(df$shift))
  expect_equal(db$shift, df$shift, tolerance = tolerance)
  expect_identical(names(db$moments), names(df$moments))
  for (p in names(df$moments)) {
    expect_identical(dim(db$moments[[p]]), dim(df$moments[[p]]))
    expect_equal(db$moments[[p]], df$moments[[p]], tolerance = tolerance)
  }
}
