## cluster_stats() on CSV files, read in chunks, against the data-frame
## method on all the rows (and sandwich for the fit), and the files read by
## future workers (multisession and PSOCK) against one pass.

## `d` written to `k` files (rows dealt round-robin); the paths.
write_shards <- function(d, k) {
  dir <- tempfile("csv")
  dir.create(dir)
  paths <- file.path(dir, sprintf("part-%d.csv", seq_len(k)))
  rows <- split(seq_len(nrow(d)), rep_len(seq_len(k), nrow(d)))
  for (i in seq_len(k)) data.table::fwrite(d[rows[[i]], ], paths[i])
  paths
}

## What fread() of all the files gives, as one data frame.
read_all <- function(paths) as.data.frame(data.table::rbindlist(lapply(paths, data.table::fread)))

csv_data <- function(G = 25, seed = 1) {
  d <- sim_clustered(G = G, seed = seed)
  d$f <- as.character(d$f)
  d$flag <- d$x2 > 0.5
  d$x1[c(3, 50)] <- NA           # rows left out
  d$w[7] <- 0
  d
}

test_that("CSV files in chunks give the statistics of all the rows", {
  d <- csv_data()
  paths <- write_shards(d, 3)
  on.exit(unlink(dirname(paths[1L]), recursive = TRUE))
  all <- read_all(paths)
  f <- y ~ treat + x1 + year + f * flag
  for (weights in list(NULL, "w")) {
    ref <- cluster_stats(all, f, cluster = "g", weights = weights, threads = 1)
    ## chunks of one row, of a size that divides the files' rows, odd, and larger than a file
    for (chunk in c(1, nrow(d) / 3, 7, 1e6)) {
      st <- cluster_stats(paths, f, cluster = "g", weights = weights, chunk_rows = chunk, threads = 1)
      expect_same_stats(st, ref)
      expect_identical(st$cluster, ref$cluster)
      expect_identical(st$formula, f)
      expect_identical(st$nobs, ref$nobs)
      expect_identical(st$dropped, ref$dropped)
    }
  }
})

test_that("fits from CSV files equal lm(), sandwich and the in-memory fit", { quiet_few({
  need("sandwich")
  d <- csv_data(G = 30, seed = 2)
  paths <- write_shards(d, 2)
  on.exit(unlink(dirname(paths[1L]), recursive = TRUE))
  all <- read_all(paths)
  st <- cluster_stats(paths, y ~ treat + x1 + f, cluster = ~ g, weights = ~ w, chunk_rows = 50)
  ## (lm() counts the zero-weight row in HC1's n - k, clusterab leaves it out)
  ref <- stats::lm(y ~ treat + x1 + f, data = all[all$w > 0, ], weights = w)
  for (type in c("HC0", "HC1", "HC2")) {
    fit <- cluster_lm(st, type = type, threads = 1)
    expect_equal(coef(fit), coef(ref), tolerance = 1e-10)
    expect_vcov_equal(vcov(fit), sandwich::vcovCL(ref, cluster = ~ g, type = type), 1e-10)
  }
  m <- ri_lmer(cluster_stats(paths, y ~ treat + x1, cluster = "g", chunk_rows = 50), threads = 1)
  m1 <- ri_lmer(y ~ treat + x1 + (1 | g), all, threads = 1)
  expect_equal(fixef(m), fixef(m1), tolerance = 1e-10)
  expect_equal(vcov(m), vcov(m1), tolerance = 1e-10)
})})

test_that("chunks that fread would read with different types are read alike", {
  d <- csv_data(G = 12, seed = 3)
  d <- d[order(d$g), ]
  n <- nrow(d)
  ## x1 empty in the first chunk (fread: logical), cluster ids numbers then
  ## text, a text variable with a level only in the last chunk
  d$x1[1:10] <- NA
  d$g <- ifelse(seq_len(n) > n / 2, paste0("c", d$g), as.character(d$g))
  d$f[n] <- "zz"
  paths <- write_shards(d, 1)
  on.exit(unlink(dirname(paths[1L]), recursive = TRUE))
  all <- read_all(paths)
  expect_type(all$g, "character")
  st <- cluster_stats(paths, y ~ x1 + f, cluster = "g", chunk_rows = 10, threads = 1)
  ref <- cluster_stats(all, y ~ x1 + f, cluster = "g", threads = 1)
  expect_same_stats(st, ref)
  expect_true("fzz" %in% st$z_names)
})

test_that("a file whose rows are all left out, and a file with only a header", {
  d <- csv_data(G = 10, seed = 4)
  paths <- write_shards(d, 3)
  on.exit(unlink(dirname(paths[1L]), recursive = TRUE))
  part <- data.table::fread(paths[2L])
  part$y <- NA
  data.table::fwrite(part, paths[2L])
  all <- read_all(paths)
  st <- cluster_stats(paths, y ~ x1, cluster = "g", chunk_rows = 5, threads = 1)
  expect_same_stats(st, cluster_stats(all, y ~ x1, cluster = "g", threads = 1))
  data.table::fwrite(part[0L], paths[2L])
  st <- cluster_stats(paths, y ~ x1, cluster = "g", chunk_rows = 5, threads = 1)
  expect_same_stats(st, cluster_stats(read_all(paths), y ~ x1, cluster = "g", threads = 1))
  expect_error(cluster_stats(paths[2L], y ~ x1, cluster = "g"), "only a header", class = "clusterab_error")
})

test_that("errors in a chunk name the file and the rows", {
  d <- csv_data(G = 10, seed = 5)
  d$g[40] <- NA
  paths <- write_shards(d, 1)
  on.exit(unlink(dirname(paths[1L]), recursive = TRUE))
  expect_error(cluster_stats(paths, y ~ x1, cluster = "g", chunk_rows = 15),
               "rows 31 to 45", class = "clusterab_error")
  other <- file.path(dirname(paths), "other.csv")
  data.table::fwrite(d[c("g", "y")], other)
  expect_error(cluster_stats(c(paths, other), y ~ x1, cluster = "g"), "same header",
               class = "clusterab_error")
  expect_error(cluster_stats(paths, y ~ log(x1), cluster = "g"), "`formula`", class = "clusterab_error")
})

test_that("files read by future workers (multisession and PSOCK) equal one pass", {
  need("future.apply")
  d <- csv_data(G = 40, seed = 6)
  paths <- write_shards(d, 4)
  on.exit(unlink(dirname(paths[1L]), recursive = TRUE), add = TRUE)
  f <- y ~ treat + x1 + f
  one <- cluster_stats(paths, f, cluster = "g", weights = "w", chunk_rows = 30, threads = 1)
  old <- future::plan()
  on.exit(future::plan(old), add = TRUE)
  future::plan(future::multisession, workers = 2)
  multi <- cluster_stats(paths, f, cluster = "g", weights = "w", chunk_rows = 30)
  expect_identical(multi, one)
  cl <- parallel::makePSOCKcluster(2)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  future::plan(future::cluster, workers = cl)
  psock <- cluster_stats(paths, f, cluster = "g", weights = "w", chunk_rows = 30)
  expect_identical(psock, one)
  expect_same_stats(psock, cluster_stats(read_all(paths), f, cluster = "g", weights = "w", threads = 1))
})
