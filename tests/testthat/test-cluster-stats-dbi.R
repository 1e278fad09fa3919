## cluster_stats() on a DBI connection against the data-frame method, lm()
## and sandwich::vcovCL(), on every database of test_databases()
## (helper-databases.R): in-memory SQLite, and a PostgreSQL server.

## A covariance of the model refitted with covariates `cols` centred at
## `centres` (an exact reparametrisation, without the rounding error that a
## covariate such as a year causes in sandwich's computation: about 1e-9 of
## the standard errors here), mapped back to the uncentred intercept.
uncentre_vcov <- function(V, cols, centres) {
  A <- diag(nrow(V))
  dimnames(A) <- dimnames(V)
  A["(Intercept)", cols] <- -centres
  A %*% V %*% t(A)
}

uncentre_coef <- function(b, cols, centres) {
  b["(Intercept)"] <- b["(Intercept)"] - sum(centres * b[cols])
  b
}

for (database in test_databases()) {

  test_that(paste0(database$name, ": S3 dispatch reaches the DBIConnection method for an S4 connection"), {
    d <- sim_clustered(G = 6)
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    expect_true(isS4(con))
    st <- cluster_stats(con, y ~ x1, cluster = "g", table = "d")
    expect_s3_class(st, "cluster_stats")
  })

  test_that(paste0(database$name, ": unweighted statistics equal the data-frame method, lm() and vcovCL"), { quiet_few({
    d <- sim_clustered(G = 20, seed = 11)
    d$g <- sprintf("c%02d", d$g)    # character ids: SQLite sorts them, order differs
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    f <- y ~ treat + x1 + x2 + year
    db <- cluster_stats(con, f, cluster = "g", table = "d")
    df <- cluster_stats(d, f, cluster = "g")
    expect_same_stats(db, df)
    expect_identical(db$cluster, sort(unique(d$g)))
    expect_identical(db$formula, f)
    expect_equal(unname(db$shift), unname(colMeans(d[c("treat", "x1", "x2", "year", "y")])),
                 tolerance = 1e-12)
    fit_db <- cluster_lm(db)
    fit_df <- cluster_lm(df)
    ref <- lm(f, data = d)
    expect_rel_equal(coef(fit_db), coef(ref), 1e-10)
    expect_rel_equal(coef(fit_db), coef(fit_df), 1e-10)
    expect_vcov_equal(vcov(fit_db), vcov(fit_df), 1e-10)
    need("sandwich")
    dc <- d
    dc$year <- dc$year - 2010
    refc <- lm(f, data = dc)
    for (type in c("HC0", "HC1", "HC2", "HC3")) {
      V <- vcov(cluster_lm(db, type = type))
      expect_vcov_equal(V, uncentre_vcov(sandwich::vcovCL(refc, cluster = ~ g, type = type),
                                         "year", 2010), 1e-10)
      expect_vcov_equal(V, sandwich::vcovCL(ref, cluster = ~ g, type = type), 1e-8)
    }
    ## without the year, directly against sandwich at 1e-10
    f2 <- y ~ treat + x1 + x2
    ref2 <- lm(f2, data = d)
    db2 <- cluster_stats(con, f2, cluster = "g", table = "d")
    expect_rel_equal(coef(cluster_lm(db2)), coef(ref2), 1e-10)
    for (type in c("HC0", "HC1", "HC2", "HC3")) {
      expect_vcov_equal(vcov(cluster_lm(db2, type = type)),
                        sandwich::vcovCL(ref2, cluster = ~ g, type = type), 1e-10)
    }
  }) })

  test_that(paste0(database$name, ": covariates with a large mean and a small spread keep their precision"), { quiet_few({
    set.seed(3)
    G <- 15
    size <- sample(2:30, G, replace = TRUE)
    g <- rep(seq_len(G), size)
    n <- length(g)
    year <- sample(2000:2020, n, replace = TRUE)
    day <- 18262 + runif(n, 0, 365)          # days since 1970 in 2020
    y <- 5 + 0.3 * (year - 2010) + 0.01 * (day - 18262) + rnorm(G)[g] + rnorm(n)
    d <- data.frame(g = g, year = year, day = day, y = y)
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    f <- y ~ year + day
    db <- cluster_stats(con, f, cluster = ~ g, table = "d")
    expect_same_stats(db, cluster_stats(d, f, cluster = ~ g))
    fit <- cluster_lm(db)
    dc <- d
    dc$year <- dc$year - 2010
    dc$day <- dc$day - 18262
    refc <- lm(f, data = dc)
    expect_rel_equal(coef(fit), uncentre_coef(coef(refc), c("year", "day"), c(2010, 18262)), 1e-10)
    expect_rel_equal(coef(fit), coef(lm(f, data = d)), 1e-8)
    need("sandwich")
    expect_vcov_equal(vcov(fit), uncentre_vcov(sandwich::vcovCL(refc, cluster = ~ g),
                                               c("year", "day"), c(2010, 18262)), 1e-10)
  }) })

  test_that(paste0(database$name, ": weighted statistics hold all weight powers and match HC1/HC2 of vcovCL"), { quiet_few({
    d <- sim_clustered(G = 18, seed = 5)
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    f <- y ~ treat + x1 + year
    db <- cluster_stats(con, f, cluster = "g", weights = "w", table = "d")
    df <- cluster_stats(d, f, cluster = "g", weights = "w")
    expect_identical(names(db$moments), c("0", "1", "2"))
    expect_true(db$weighted)
    expect_true(db$weight_varies)
    expect_same_stats(db, df)
    expect_same_stats(cluster_stats(con, f, cluster = ~ g, weights = ~ w, table = "d"), df)
    ref <- lm(f, data = d, weights = w)
    expect_rel_equal(coef(cluster_lm(db)), coef(ref), 1e-10)
    for (type in c("HC1", "HC2", "HC3", "CR2")) {
      expect_vcov_equal(vcov(cluster_lm(db, type = type)), vcov(cluster_lm(df, type = type)), 1e-10)
    }
    need("sandwich")
    dc <- d
    dc$year <- dc$year - 2010
    refc <- lm(f, data = dc, weights = w)
    for (type in c("HC0", "HC1", "HC2", "HC3")) {
      V <- vcov(cluster_lm(db, type = type))
      expect_vcov_equal(V, uncentre_vcov(sandwich::vcovCL(refc, cluster = ~ g, type = type),
                                         "year", 2010), 1e-10)
      expect_vcov_equal(V, sandwich::vcovCL(ref, cluster = ~ g, type = type), 1e-8)
    }
  }) })

  test_that(paste0(database$name, ": weights constant within clusters: weight_varies is FALSE"), { quiet_few({
    d <- sim_clustered(G = 10, seed = 8)
    d$w <- c(0.5, 1, 2, 3)[d$g %% 4 + 1]
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    db <- cluster_stats(con, y ~ x1, cluster = "g", weights = "w", table = "d")
    expect_false(db$weight_varies)
    expect_same_stats(db, cluster_stats(d, y ~ x1, cluster = "g", weights = "w"))
  }) })

  test_that(paste0(database$name, ": many columns: the sums are split over several GROUP BY queries"), { quiet_few({
    d <- sim_clustered(G = 10, seed = 6)
    set.seed(6)
    X <- matrix(rnorm(nrow(d) * 30), ncol = 30, dimnames = list(NULL, paste0("v", 1:30)))
    d <- cbind(d[c("g", "w", "y")], X)
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    f <- reformulate(colnames(X), "y")
    db <- cluster_stats(con, f, cluster = "g", weights = "w", table = "d")   # 3 x 528 sums
    expect_same_stats(db, cluster_stats(d, f, cluster = "g", weights = "w"))
  }) })

  test_that(paste0(database$name, ": no intercept: no shift, as the data-frame method and lm()"), { quiet_few({
    d <- sim_clustered(G = 12, seed = 2)
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    for (f in list(y ~ x1 + x2 - 1, y ~ 0 + x1 + x2)) {
      db <- cluster_stats(con, f, cluster = "g", table = "d")
      expect_false(db$intercept)
      expect_identical(unname(db$shift), c(0, 0, 0))
      expect_same_stats(db, cluster_stats(d, f, cluster = "g"))
      expect_rel_equal(coef(cluster_lm(db)), coef(lm(f, data = d)), 1e-10)
    }
    ## weighted, no intercept
    db <- cluster_stats(con, y ~ 0 + x1 + year, cluster = "g", weights = "w", table = "d")
    expect_same_stats(db, cluster_stats(d, y ~ 0 + x1 + year, cluster = "g", weights = "w"))
  }) })

  test_that(paste0(database$name, ": integer columns, integer weights and `.` in the formula work"), { quiet_few({
    d <- sim_clustered(G = 9, seed = 4)
    d <- data.frame(g = d$g, h = d$h, year = d$year, y = d$y, wi = d$h)  # h, year, wi integer
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    db <- cluster_stats(con, y ~ h + year, cluster = "g", weights = "wi", table = "d")
    expect_same_stats(db, cluster_stats(d, y ~ h + year, cluster = "g", weights = "wi"))
    d2 <- d[c("g", "h", "year", "y")]
    DBI::dbWriteTable(con, "d2", d2, row.names = FALSE)
    db <- cluster_stats(con, y ~ . - g, cluster = "g", table = "d2")
    expect_identical(db$z_names, c("(1)", "h", "year", "y"))
    expect_same_stats(db, cluster_stats(d2, y ~ . - g, cluster = "g"))
  }) })

  test_that(paste0(database$name, ": NULLs are left out as na.omit does; zero weights are left out"), { quiet_few({
    d <- sim_clustered(G = 14, seed = 7)
    d$y[c(3, 40)] <- NA
    d$x1[c(5, 41, 90)] <- NA
    d$w[c(7, 60)] <- NA
    d$w[c(8, 70, 71)] <- 0
    d$x2[10] <- NA          # x2 is not in the model: that row is kept
    d$g[3] <- NA            # NULL cluster in a row left out anyway: no error
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    f <- y ~ treat + x1 + year
    db <- cluster_stats(con, f, cluster = "g", weights = "w", table = "d")
    df <- cluster_stats(d, f, cluster = "g", weights = "w")
    expect_same_stats(db, df)
    expect_equal(db$nobs, nrow(d) - 10L)
    expect_equal(db$dropped, 10L)
    ref <- lm(f, data = d, weights = w, subset = w > 0)
    expect_rel_equal(coef(cluster_lm(db)), coef(ref), 1e-10)
    need("sandwich")
    dc <- d
    dc$year <- dc$year - 2010
    refc <- lm(f, data = dc, weights = w, subset = w > 0)
    expect_vcov_equal(vcov(cluster_lm(db, type = "HC2")),
                      uncentre_vcov(sandwich::vcovCL(refc, cluster = ~ g, type = "HC2"), "year", 2010),
                      1e-10)
    ## unweighted, with NULLs
    db <- cluster_stats(con, f, cluster = "g", table = "d")
    expect_same_stats(db, cluster_stats(d, f, cluster = "g"))
    expect_equal(db$dropped, 5L)
  }) })

  test_that(paste0(database$name, ": a NULL cluster among the rows used is an error with a count"), { quiet_few({
    d <- sim_clustered(G = 8, seed = 9)
    d$g[c(2, 5)] <- NA
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", table = "d"),
                 "`cluster` column `g` is NULL in 2 of the rows used.*give them a cluster id")
  }) })

  test_that(paste0(database$name, ": negative weights, empty tables and infinite values are errors"), { quiet_few({
    d <- sim_clustered(G = 8, seed = 10)
    neg <- d
    neg$w[c(1, 4, 9)] <- -1
    inf <- d
    inf$x1[3] <- Inf
    con <- database_with(database, d = d, neg = neg, inf = inf, empty = d[0, ])
    on.exit(DBI::dbDisconnect(con))
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", weights = "w", table = "neg"),
                 "`weights` must be non-negative; 3 are negative")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", table = "empty"),
                 "`table` names table `empty`, which has no rows")
    DBI::dbExecute(con, "CREATE TABLE nulls AS SELECT g, x1, y FROM d")
    DBI::dbExecute(con, "UPDATE nulls SET y = NULL")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", table = "nulls"),
                 "no rows of table `nulls` are left")
    DBI::dbExecute(con, "CREATE TABLE zerow AS SELECT g, x1, y, 0.0 AS w FROM d")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", weights = "w", table = "zerow"),
                 "no rows of table `zerow` are left.*zero weight")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", table = "inf"),
                 "`x1` contain\\(s\\) infinite values")
  }) })

  test_that(paste0(database$name, ": columns whose squares leave the range of doubles are refused, naming them"), { quiet_few({
    ## Before: tiny columns gave zero variance and infinite t statistics
    ## silently; huge ones an error that named no column.
    d <- sim_clustered(G = 8, seed = 11)
    tiny <- d
    tiny$x1 <- d$x1 * 1e-170
    huge <- d
    huge$y <- d$y * 1e200
    wide <- d
    wide$x1 <- d$x1 * 1e145
    wide$w <- d$w * 1e140
    con <- database_with(database, tiny = tiny, huge = huge, wide = wide)
    on.exit(DBI::dbDisconnect(con))
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", table = "tiny"),
                 "column `x1` \\(a term of `formula`\\) of table `tiny` has values that are all tiny.*Multiply",
                 class = "clusterab_error")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", table = "huge"),
                 "column `y` \\(the outcome in `formula`\\).*huge.*Divide", class = "clusterab_error")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", weights = "w", table = "wide"),
                 "cross-products of column `x1` \\(a term of `formula`\\) and column `w` \\(`weights`\\)",
                 class = "clusterab_error")
  }) })

  test_that(paste0(database$name, ": clear errors for the table, the columns and the formula"), { quiet_few({
    d <- sim_clustered(G = 8, seed = 12)
    d$f <- as.character(d$f)
    con <- database_with(database, d = d)
    on.exit(DBI::dbDisconnect(con))
    expect_error(cluster_stats(con, y ~ x1, cluster = "g"), "`table` is required")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", table = "nope"),
                 "table `nope` was not found in the database.*dbListTables")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", table = c("a", "b")),
                 "`table` must be the name of a table")
    expect_error(cluster_stats(con, y ~ x9, cluster = "g", table = "d"),
                 "`formula` names column\\(s\\) `x9` that are not in table `d`")
    expect_error(cluster_stats(con, yy ~ x1, cluster = "g", table = "d"),
                 "`formula` names column\\(s\\) `yy`")
    expect_error(cluster_stats(con, y ~ x1, cluster = "gg", table = "d"),
                 "`cluster` names column `gg`, which is not in table `d`")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", weights = "ww", table = "d"),
                 "`weights` names column `ww`, which is not in table `d`")
    expect_error(cluster_stats(con, y ~ x1 + f, cluster = "g", table = "d"),
                 "column `f` of table `d`, which is text in the database, not numeric; create a numeric column")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", weights = "f", table = "d"),
                 "`weights` uses column `f`.*not numeric")
    expect_error(cluster_stats(con, y ~ factor(h) + x1, cluster = "g", table = "d"),
                 "`formula` term `factor\\(h\\)` is not a column name.*create a numeric column")
    expect_error(cluster_stats(con, y ~ log(x2), cluster = "g", table = "d"),
                 "term `log\\(x2\\)` is not a column name")
    expect_error(cluster_stats(con, y ~ I(x1^2), cluster = "g", table = "d"),
                 "term `I\\(x1\\^2\\)` is not a column name")
    expect_error(cluster_stats(con, log(y) ~ x1, cluster = "g", table = "d"),
                 "term `log\\(y\\)` is not a column name")
    expect_error(cluster_stats(con, y ~ x1 * x2, cluster = "g", table = "d"),
                 "`formula` term `x1:x2` is an interaction.*create a numeric column")
    expect_error(cluster_stats(con, y ~ x1 + offset(x2), cluster = "g", table = "d"),
                 "term `offset\\(x2\\)` is not a column name")
    expect_error(cluster_stats(con, ~ x1, cluster = "g", table = "d"),
                 "`formula` must be a two-sided formula")
    expect_error(cluster_stats(con, y ~ x1, table = "d"), "`cluster` is required")
    expect_error(cluster_stats(con, y ~ x1, cluster = d$g, table = "d"),
                 "`cluster` must be a column name.*cannot hold the values")
    expect_error(cluster_stats(con, y ~ x1, cluster = ~ g + h, table = "d"),
                 "^`cluster` must name one clustering variable", class = "clusterab_error")
    expect_error(cluster_stats(con, y ~ x1, cluster = c("g", "h"), table = "d"),
                 "^`cluster` must name one clustering variable", class = "clusterab_error")
    expect_error(cluster_stats(con, y ~ x1, cluster = ~ factor(g), table = "d"),
                 "`cluster` must name one column as it is")
    expect_error(cluster_stats(con, y ~ x1, cluster = "g", weights = d$w, table = "d"),
                 "`weights` must be a column name")
  }) })

  test_that(paste0(database$name, ": a table named by DBI::Id() and names that need quoting work"), { quiet_few({
      d <- sim_clustered(G = 7, seed = 13)
      d2 <- data.frame(`my group` = d$g, `x one` = d$x1, `the y` = d$y, check.names = FALSE)
      con <- database_with(database, `my table` = d2)
      on.exit(DBI::dbDisconnect(con))
      db <- cluster_stats(con, `the y` ~ `x one`, cluster = "my group",
                          table = DBI::Id(table = "my table"))
      df <- cluster_stats(d2, `the y` ~ `x one`, cluster = "my group")
      expect_same_stats(db, df)
      expect_identical(db$z_names, df$z_names)
      expect_identical(db$z_names, c("(1)", "`x one`", "the y"))
      expect_s3_class(cluster_lm(db), "cluster_lm")
  }) })

  test_that(paste0(database$name, ": shards in tables (and a data frame) combine to the statistics of all the rows"), { quiet_few({
      d <- sim_clustered(G = 30, seed = 14)
      parts <- split(d, rep_len(1:3, nrow(d)))
      con <- database_with(database, p1 = parts[[1L]], p2 = parts[[2L]])
      on.exit(DBI::dbDisconnect(con))
      f <- y ~ treat + x1 + year
      for (weights in list(NULL, "w")) {
        st1 <- cluster_stats(con, f, cluster = "g", weights = weights, table = "p1")
        st2 <- cluster_stats(con, f, cluster = "g", weights = weights, table = "p2", shift = st1)
        st3 <- cluster_stats(parts[[3L]], f, cluster = "g", weights = weights, shift = st1, threads = 1)
        merged <- rbind(st1, st2, st3)
        whole <- do.call(rbind, parts)
        ref <- cluster_stats(whole, f, cluster = "g", weights = weights, shift = st1, threads = 1)
        expect_same_stats(merged, ref)
        fit <- cluster_lm(merged, type = "HC1")
        fit1 <- cluster_lm(cluster_stats(whole, f, cluster = "g", weights = weights, threads = 1), type = "HC1")
        expect_rel_equal(coef(fit), coef(fit1), 1e-10)
        expect_vcov_equal(vcov(fit), vcov(fit1), 1e-10)
        ## each shard centred at its own means: refused
        expect_error(rbind(st1, cluster_stats(con, f, cluster = "g", weights = weights, table = "p2")),
                     "different centring", class = "clusterab_error")
      }
      expect_error(rbind(st1, cluster_stats(con, y ~ treat + x1, cluster = "g", table = "p2")),
                   "different `formula`", class = "clusterab_error")
  }) })

}

test_that("PostgreSQL: a connection that drops before or during the queries is a clear error", {
  database <- test_databases()[[2L]]
  d <- data.frame(y = rnorm(50), x = rnorm(50), g = rep(1:10, 5))
  con <- database_with(database, d = d)
  on.exit(try(DBI::dbDisconnect(con), silent = TRUE))
  ## during: a view whose rows call a function that ends the session on the
  ## 61st call, in the second query (the first reads the 50 rows once)
  DBI::dbExecute(con, "CREATE SEQUENCE calls")
  DBI::dbExecute(con, paste(
    "CREATE FUNCTION boom() RETURNS boolean AS $$",
    "BEGIN IF nextval('calls') > 60 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;",
    "RETURN true; END $$ LANGUAGE plpgsql VOLATILE"))
  DBI::dbExecute(con, "CREATE VIEW v AS SELECT y, x, g FROM d WHERE boom()")
  expect_error(suppressMessages(cluster_stats(con, y ~ x, cluster = "g", table = "v")),
               "connection to the database failed while computing the per-cluster sums",
               class = "clusterab_connection_error")
  ## before: the session ended by another connection
  con2 <- database_with(database, d = d)
  on.exit(try(DBI::dbDisconnect(con2), silent = TRUE), add = TRUE)
  pid <- DBI::dbGetQuery(con2, "SELECT pg_backend_pid() AS pid")$pid
  killer <- database$connect()
  DBI::dbGetQuery(killer, sprintf("SELECT pg_terminate_backend(%d)", pid))
  DBI::dbDisconnect(killer)
  expect_error(cluster_stats(con2, y ~ x, cluster = "g", table = "d"),
               "connection to the database failed while looking up the table",
               class = "clusterab_connection_error")
})
