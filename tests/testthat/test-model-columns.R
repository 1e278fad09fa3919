## The shared front end (model_columns()): factors coded as lm() and lmer()
## code them, by a factor's contrasts() attribute, the `contrasts` argument
## and options("contrasts"); and what it records (terms, contrasts, xlevels)
## so that predict() codes new data the same way.

## Data with an unordered factor (contrasts set on it or not), an ordered
## factor and a second factor, for interactions.
sim_factors <- function(seed, sum_contrasts = TRUE) {
  d <- sim_clustered(G = 30, seed = seed)
  set.seed(seed)
  d$o <- factor(sample(c("low", "mid", "high"), nrow(d), replace = TRUE),
                levels = c("low", "mid", "high"), ordered = TRUE)
  d$k <- factor(sample(c("u", "v"), nrow(d), replace = TRUE))
  if (sum_contrasts) contrasts(d$f) <- contr.sum(3)
  d
}

factor_formulas <- list(y ~ f + x1,
                        y ~ f * x1 + o,
                        y ~ treat + f:x1,
                        y ~ f * k + x2,
                        y ~ 0 + f + o:x2)

## lm() with the data in its call, so that sandwich::vcovCL(ref, cluster = ~ g)
## finds them from any frame.
lm_ref <- function(...) do.call(stats::lm, list(...))

## cluster_lm() and lm() agree on names, coefficients, the cluster-robust
## covariance and the recorded contrasts and levels.
expect_codes_as_lm <- function(fit, ref, type = "HC1") {
  expect_rel_equal(coef(fit), coef(ref), 1e-10)
  expect_vcov_equal(vcov(fit), sandwich::vcovCL(ref, cluster = ~ g, type = type), 1e-10)
  expect_identical(fit$contrasts, ref$contrasts)
  expect_identical(fit$xlevels, ref$xlevels)
}

test_that("a factor's contrasts() attribute is honoured by cluster_lm() as by lm()", {
  need("sandwich")
  d <- sim_factors(seed = 71)
  for (fm in factor_formulas) {
    ref <- lm_ref(fm, data = d)
    expect_codes_as_lm(cluster_lm(fm, data = d, cluster = ~ g), ref)
    expect_codes_as_lm(cluster_lm(fm, data = d, cluster = "g", type = "HC0"), ref, "HC0")
  }
  ## the sum contrasts, not treatment contrasts (fb, fc), as before
  expect_identical(names(coef(cluster_lm(y ~ f + x1, d, cluster = ~ g))), c("(Intercept)", "f1", "f2", "x1"))
  ## the weighted and CR2 routes code the factor the same way
  need("clubSandwich")
  ref <- lm_ref(y ~ f * x1 + o, data = d, weights = d$w)
  fit <- cluster_lm(y ~ f * x1 + o, data = d, cluster = ~ g, weights = ~ w, type = "CR2")
  expect_rel_equal(coef(fit), coef(ref), 1e-10)
  expect_vcov_equal(vcov(fit), as.matrix(clubSandwich::vcovCR(ref, cluster = d$g, type = "CR2")), 1e-10)
})

test_that("the contrasts argument is lm()'s: names, functions and matrices", { quiet_few({
    need("sandwich")
    d <- sim_factors(seed = 72, sum_contrasts = FALSE)
    args <- list(list(f = "contr.sum"), list(f = contr.helmert, o = "contr.treatment"),
                 list(f = contr.sum(3), k = "contr.sum"))
    for (fm in factor_formulas) {
      for (ctr in args) {
        ctr <- ctr[intersect(names(ctr), all.vars(fm))]
        ref <- lm_ref(fm, data = d, contrasts = if (length(ctr)) ctr)
        expect_codes_as_lm(cluster_lm(fm, data = d, cluster = ~ g, contrasts = if (length(ctr)) ctr), ref)
      }
    }
    ## a covariance with another clustering refits with the fit's contrasts
    fit <- cluster_lm(y ~ f * x1, data = d, cluster = ~ g, contrasts = list(f = "contr.sum"))
    ref <- lm_ref(y ~ f * x1, data = d, contrasts = list(f = "contr.sum"))
    expect_vcov_equal(vcov_cluster(fit, cluster = ~ h), sandwich::vcovCL(ref, cluster = ~ h, type = "HC1"), 1e-10)
    ## the argument wins over the attribute, which wins over options(), as in lm()
    d2 <- d
    contrasts(d2$f) <- contr.helmert(3)
    ref <- lm_ref(y ~ f + x1, data = d2, contrasts = list(f = "contr.sum"))
    expect_codes_as_lm(cluster_lm(y ~ f + x1, data = d2, cluster = ~ g,
                                  contrasts = list(f = "contr.sum")), ref)
}) })

test_that("options(contrasts = ) is honoured, for ordered factors too", {
  need("sandwich")
  d <- sim_factors(seed = 73, sum_contrasts = FALSE)
  op <- options(contrasts = c("contr.sum", "contr.treatment"))
  on.exit(options(op), add = TRUE)
  expect_identical(names(coef(cluster_lm(y ~ f + o, d, cluster = ~ g))),
                   c("(Intercept)", "f1", "f2", "omid", "ohigh"))
  for (fm in factor_formulas) {
    ref <- lm_ref(fm, data = d)
    expect_codes_as_lm(cluster_lm(fm, data = d, cluster = ~ g), ref)
  }
})

test_that("cluster_stats() codes factors as lm(): a fit from the statistics equals lm()", {
  need("sandwich")
  d <- sim_factors(seed = 74)
  ref <- lm_ref(y ~ f * x1 + o, data = d)
  st <- cluster_stats(d, y ~ f * x1 + o, cluster = "g")
  expect_identical(st$z_names, c("(1)", names(coef(ref))[-1L], "y"))
  fit <- cluster_lm(st)
  expect_rel_equal(coef(fit), coef(ref), 1e-10)
  expect_vcov_equal(vcov(fit), sandwich::vcovCL(ref, cluster = ~ g, type = "HC1"), 1e-10)
  d2 <- sim_factors(seed = 74, sum_contrasts = FALSE)
  st2 <- cluster_stats(y ~ f * x1 + o, d2, cluster = ~ g, contrasts = list(f = "contr.sum"))
  expect_identical(st2$moments, st$moments)
  expect_error(cluster_lm(st, contrasts = list(f = "contr.sum")), class = "clusterab_error")
})

test_that("ri_lmer() codes factors as lme4::lmer(): attribute, argument and options()", {
  need("lme4")
  ctl <- lme4::lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-11))
  check <- function(ours, ref) {
    expect_identical(names(fixef(ours)), names(lme4::fixef(ref)))
    expect_lte(max(abs(fixef(ours) - lme4::fixef(ref))) / max(abs(lme4::fixef(ref))), 1e-8)
    expect_lte(abs(ours$theta - lme4::getME(ref, "theta")) / lme4::getME(ref, "theta"), 1e-6)
    expect_lte(abs(sigma(ours) - sigma(ref)) / sigma(ref), 1e-6)
    expect_lte(abs(as.numeric(logLik(ours)) - as.numeric(logLik(ref))) / abs(as.numeric(logLik(ref))), 1e-8)
    expect_lte(max(abs(vcov(ours) - as.matrix(vcov(ref)))) / max(abs(diag(as.matrix(vcov(ref))))), 1e-6)
    new <- ref@frame[c(1, 7, 30), ]
    ## (lme4 warns that it drops the contrasts attribute of new data; the fit's code them)
    expect_lte(max(abs(predict(ours, new) - suppressWarnings(stats::predict(ref, new)))), 1e-6 * sd(new$y))
  }
  d <- sim_factors(seed = 75)
  fm <- y ~ f * x1 + o + (1 | g)
  check(ri_lmer(fm, d), lme4::lmer(fm, d, control = ctl))
  d2 <- sim_factors(seed = 75, sum_contrasts = FALSE)
  check(ri_lmer(fm, d2, contrasts = list(f = "contr.helmert")),
        lme4::lmer(fm, d2, contrasts = list(f = "contr.helmert"), control = ctl))
  op <- options(contrasts = c("contr.sum", "contr.poly"))
  on.exit(options(op), add = TRUE)
  check(ri_lmer(y ~ f * k + x2 + (1 | g), d2), lme4::lmer(y ~ f * k + x2 + (1 | g), d2, control = ctl))
  expect_error(ri_lmer(cluster_stats(d2, y ~ f, cluster = "g"), contrasts = list(f = "contr.sum")),
               class = "clusterab_error")
})

test_that("unused levels are dropped as lm() drops them, and their contrasts with a warning", { quiet_few({
    need("sandwich")
    d <- sim_factors(seed = 76, sum_contrasts = FALSE)
    d$f4 <- factor(as.character(d$f), levels = c("a", "b", "c", "z"))
    contrasts(d$f4) <- contr.sum(4)
    ref <- suppressWarnings(lm_ref(y ~ f4 + x1, data = d))
    expect_warning(fit <- cluster_lm(y ~ f4 + x1, data = d, cluster = ~ g),
                   "contrasts dropped from factor f4", class = "clusterab_contrasts_dropped")
    expect_codes_as_lm(fit, ref)
    ## a level used only by rows dropped for missing values goes too
    d$x1[d$f == "c"] <- NA
    fit <- cluster_lm(y ~ f + x1, data = d, cluster = ~ g)
    ref <- lm_ref(y ~ f + x1, data = d)
    expect_codes_as_lm(fit, ref)
    expect_identical(fit$xlevels, list(f = c("a", "b")))
}) })

test_that("bad contrasts give clear errors or lm()'s warning", {
  d <- sim_factors(seed = 77)
  expect_error(cluster_lm(y ~ f, d, cluster = ~ g, contrasts = "contr.sum"), class = "clusterab_error")
  expect_error(cluster_lm(y ~ f, d, cluster = ~ g, contrasts = list("contr.sum")), class = "clusterab_error")
  expect_warning(cluster_lm(y ~ f, d, cluster = ~ g, contrasts = list(nothere = "contr.sum")),
                 "nothere", class = "clusterab_contrasts_ignored")
})

## predict(): lm()'s prediction with the cluster-robust covariance.

## predict.lm()'s interval with V = sandwich::vcovCL() and G - 1 df.
robust_prediction <- function(ref, newdata, G, level = 0.95, type = "HC1", cluster = ~ g) {
  tt <- delete.response(terms(ref))
  mf <- suppressWarnings(model.frame(tt, newdata, xlev = ref$xlevels))
  X <- model.matrix(tt, mf, contrasts.arg = ref$contrasts)
  X <- X[, !is.na(coef(ref)), drop = FALSE]
  V <- sandwich::vcovCL(ref, cluster = cluster, type = type)
  fit <- drop(X %*% coef(ref)[colnames(X)])
  if (!is.null(model.offset(mf))) fit <- fit + model.offset(mf)
  se <- sqrt(diag(X %*% V %*% t(X)))
  half <- qt((1 + level) / 2, G - 1) * se
  cbind(fit = fit, lwr = fit - half, upr = fit + half)
}

test_that("predict(interval = 'confidence') is lm()'s interval with the cluster-robust covariance and G - 1 df", { quiet_few({
    need("sandwich")
    d <- sim_factors(seed = 78)
    d$chr <- as.character(d$k)
    new <- sim_factors(seed = 79)[1:12, ]
    new$chr <- as.character(new$k)
    new_one_level <- new[new$f == "b", ]
    formulas <- list(y ~ f * x1 + o, y ~ poly(x1, 2) + scale(x2) + chr, y ~ treat + offset(x2),
                     y ~ 0 + f + log(x2))
    for (fm in formulas) {
      ref <- lm_ref(fm, data = d)
      fit <- cluster_lm(fm, data = d, cluster = ~ g)
      for (nd in list(new, new_one_level)) {
        ## (predict.lm() warns that it drops the contrasts attribute of `nd`)
        expect_equal(predict(fit, nd), suppressWarnings(predict(ref, nd)), tolerance = 1e-10)
        for (level in c(0.95, 0.8)) {
          expect_equal(predict(fit, nd, interval = "confidence", level = level),
                       robust_prediction(ref, nd, G = 30, level = level), tolerance = 1e-10)
        }
      }
    }
    ## another type, and multiway clustering (the df use the smaller G)
    ref <- lm_ref(y ~ f * x1, data = d)
    fit <- cluster_lm(y ~ f * x1, data = d, cluster = ~ g, type = "HC0")
    expect_equal(predict(fit, new, interval = "confidence"),
                 robust_prediction(ref, new, G = 30, type = "HC0"), tolerance = 1e-10)
    fit2 <- cluster_lm(y ~ f * x1, data = d, cluster = ~ g + h)
    expect_equal(predict(fit2, new, interval = "confidence"),
                 robust_prediction(ref, new, G = 7, cluster = ~ g + h), tolerance = 1e-10)
    se <- predict(fit, new, se.fit = TRUE)
    expect_named(se, c("fit", "se.fit", "df", "residual.scale"))
    expect_identical(se$df, 29)
}) })

test_that("a fit keeps no rows: fitted(), residuals(), model.frame() and predict() without newdata say so", { quiet_few({
    d <- sim_clustered(G = 10, seed = 80)
    fit <- cluster_lm(y ~ x1 + f, d, cluster = ~ g)
    expect_error(fitted(fit), "predict\\(fit, newdata = data\\)", class = "clusterab_no_rows")
    expect_error(residuals(fit), "keeps no rows", class = "clusterab_no_rows")
    expect_error(resid(fit), class = "clusterab_error")
    expect_error(model.frame(fit), "lm\\(\\)", class = "clusterab_no_rows")
    expect_error(predict(fit), "newdata", class = "clusterab_no_rows")
    expect_equal(predict(fit, d), predict(lm(y ~ x1 + f, d), d), tolerance = 1e-10)
    expect_error(predict(fit, as.matrix(d)), class = "clusterab_error")
    expect_error(predict(fit, d, level = 2), class = "clusterab_error")
    expect_error(predict(fit, d, interval = "prediction"))
    bad <- d[1:3, ]
    bad$f <- c("a", "b", "new")
    expect_error(predict(fit, bad), "new", class = "clusterab_error")
    ## aliased columns are left out, with predict.lm()'s warning
    d$x3 <- 2 * d$x1
    fit <- cluster_lm(y ~ x1 + x3, d, cluster = ~ g)
    expect_warning(p <- predict(fit, d[1:5, ]), class = "clusterab_rank_deficient")
    expect_equal(p, suppressWarnings(predict(lm(y ~ x1 + x3, d), d[1:5, ])), tolerance = 1e-10)
}) })

test_that("a fit from cluster_stats() predicts from numeric columns, and says why not otherwise", { quiet_few({
  d <- sim_clustered(G = 20, seed = 81)
  new <- d[1:6, ]
  from_data <- cluster_lm(y ~ x1 + x2 + x1:x2, d, cluster = ~ g)
  st <- cluster_stats(d, y ~ x1 + x2 + x1:x2, cluster = ~ g)
  expect_equal(predict(cluster_lm(st), new, interval = "confidence"),
               predict(from_data, new, interval = "confidence"), tolerance = 1e-10)
  ## a sub-model of the statistics
  expect_equal(predict(cluster_lm(y ~ x1, st), new), predict(cluster_lm(y ~ x1, d, cluster = ~ g), new),
               tolerance = 1e-10)
  st_f <- cluster_stats(d, y ~ x1 + f, cluster = ~ g)
  expect_error(predict(cluster_lm(st_f), new), "cluster_stats", class = "clusterab_error")
  expect_error(predict(cluster_lm(st)), class = "clusterab_no_rows")
}) })

test_that("no rows left: the message names the variable or the weights responsible", {
  d <- sim_clustered(G = 30, seed = 61)
  d$y[] <- NA
  expect_error(cluster_lm(y ~ x1, data = d, cluster = "g"), "`y` is missing in every row",
               class = "clusterab_error")
  d <- sim_clustered(G = 30, seed = 61)
  d$x1[] <- NA
  expect_error(cluster_stats(d, y ~ x1, cluster = "g"), "`x1` is missing in every row",
               class = "clusterab_error")
  d <- sim_clustered(G = 30, seed = 61)
  expect_error(cluster_lm(y ~ x1, data = d, cluster = "g", weights = rep(0, nrow(d))),
               "`weights` are zero or missing in every row", class = "clusterab_error")
  ## no variable missing everywhere, but every row missing something
  d$y[1:10] <- NA
  d$x1[-(1:10)] <- NA
  expect_error(cluster_lm(y ~ x1, data = d, cluster = "g"), "missing value in `y`, `x1`",
               class = "clusterab_error")
})

test_that("a formula that cannot be evaluated, a matrix outcome or matrix weights name their argument", {
  d <- sim_clustered(G = 30, seed = 62)
  expect_error(cluster_lm(formula = no_such_object, data = d, cluster = "g"), "`formula`",
               class = "clusterab_error")
  expect_error(cluster_stats(d, formula = no_such_object, cluster = "g"), "`formula`",
               class = "clusterab_error")
  expect_error(cluster_lm(cbind(y, x1) ~ treat, data = d, cluster = "g"),
               "`formula`: the outcome `cbind\\(y, x1\\)` must be a numeric vector, not a matrix",
               class = "clusterab_error")
  d$w <- cbind(d$w, d$w)   # reached the C++ code as a 2n vector before
  expect_error(cluster_lm(y ~ x1, data = d, cluster = "g", weights = "w"), "`weights` must be one",
               class = "clusterab_error")
  expect_error(cluster_stats(d, y ~ x1, cluster = "g", weights = "w"), "`weights` must be one",
               class = "clusterab_error")
})

test_that("with one row, a column name is still a column name (weights = \"w\")", {
  d <- sim_clustered(G = 30, seed = 63)[1L, ]
  ## before: "w" was read as one weight value, "`weights` must be numeric"
  mc <- clusterab:::model_columns(y ~ x1, d, weights = "w", cluster = "g")
  expect_identical(mc$w, d$w)
  expect_identical(mc$cluster$g, d$g)
})

test_that("the parallel NA check finds the rows complete.cases() finds, for any thread count", {
  set.seed(11)
  n <- 3e5  # several row pieces of the C++ pass
  d <- data.frame(y = rnorm(n), x1 = rnorm(n), x2 = rnorm(n), x3 = rnorm(n),
                  i = sample.int(5L, n, TRUE), f = factor(sample(letters[1:3], n, TRUE)),
                  g = sample.int(50L, n, TRUE))
  d$y[c(1, n)] <- NA               # first and last row
  d$x1[200000] <- NaN              # NaN counts as missing, as for anyNA()
  d$x3[65536:65537] <- NA          # across a piece boundary
  d$i[7] <- NA                     # an integer column: the R path
  d$f[9] <- NA                     # a factor: the R path
  vars <- d[c("y", "x1", "x2", "x3", "i", "f")]
  expected <- vapply(vars, anyNA, logical(1L))
  for (th in c(1L, 2L)) {
    expect_identical(columns_any_na(as.list(vars), th), unname(expected))
    mc <- model_columns(y ~ x1 + x2 + x3 + i + f, d, cluster = ~ g, threads = th)
    expect_identical(mc$dropped, which(!complete.cases(vars)))
  }
  expect_identical(cpp_columns_any_na(list(1:3, c(1, NA, 3), "a", c(1, 2, 3)), 2L),
                   c(NA, TRUE, NA, FALSE))
  fit1 <- quiet_few(cluster_lm(y ~ x1 + x2 + x3 + i + f, d, cluster = ~ g, threads = 1L))
  fit2 <- quiet_few(cluster_lm(y ~ x1 + x2 + x3 + i + f, d, cluster = ~ g, threads = 2L))
  ref <- lm(y ~ x1 + x2 + x3 + i + f, d)
  expect_equal(unname(coef(fit1)), unname(coef(ref)), tolerance = 1e-10)
  expect_identical(vcov(fit1), vcov(fit2))
})
