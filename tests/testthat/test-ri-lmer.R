## ri_lmer() against lme4, lmerTest and pbkrtest.

## lme4 (through lmerTest, whose fits are lme4's with the extra pieces for
## Satterthwaite's df) with a tight optimiser, so that its theta is a fair
## reference. do.call() puts the data into the call, so lmerTest can
## re-evaluate it from inside this function.
lmer_tight <- function(formula, data, REML = TRUE, ...) {
  need("lme4")
  fun <- if (requireNamespace("lmerTest", quietly = TRUE)) lmerTest::lmer else lme4::lmer
  do.call(fun, list(formula, data = data, REML = REML, ...,
                    control = lme4::lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-11))))
}

rel_diff <- function(a, b) max(abs(unname(a) - unname(b)) / pmax(abs(unname(b)), 1e-300))
## relative to the largest element: for vectors with entries near zero
vec_rel_diff <- function(a, b) max(abs(unname(a) - unname(b))) / max(abs(unname(b)))
scaled_diff <- function(a, b) max(abs(unname(a) - unname(b))) / max(abs(unname(b)))

expect_matches_lme4 <- function(ours, ref) {
  reml <- lme4::isREML(ref)
  expect_lte(rel_diff(if (reml) REMLcrit(ours) else deviance(ours),
                      if (reml) lme4::REMLcrit(ref) else stats::deviance(ref)), 1e-8)
  expect_lte(vec_rel_diff(fixef(ours), lme4::fixef(ref)), 1e-8)
  expect_identical(names(fixef(ours)), names(lme4::fixef(ref)))
  if (lme4::getME(ref, "theta") == 0) {
    expect_identical(ours$theta, 0)
  } else {
    expect_lte(rel_diff(ours$theta, lme4::getME(ref, "theta")), 1e-6)
  }
  expect_lte(rel_diff(sigma(ours), sigma(ref)), 1e-6)
  vc <- as.data.frame(VarCorr(ours))
  vc_ref <- as.data.frame(lme4::VarCorr(ref))
  expect_lte(max(abs(vc$vcov - vc_ref$vcov) / max(vc_ref$vcov)), 1e-6)
  expect_lte(rel_diff(sqrt(diag(vcov(ours))), sqrt(diag(as.matrix(vcov(ref))))), 1e-6)
  re <- ranef(ours)[[1L]]
  re_ref <- lme4::ranef(ref, condVar = TRUE)[[1L]]
  expect_identical(rownames(re), rownames(re_ref))
  if (any(re_ref[[1L]] != 0)) expect_lte(scaled_diff(re[[1L]], re_ref[[1L]]), 1e-6)
  if (any(attr(re_ref, "postVar") != 0)) {
    expect_lte(scaled_diff(attr(re, "postVar"), attr(re_ref, "postVar")), 1e-6)
  }
  expect_lte(rel_diff(logLik(ours), logLik(ref)), 1e-8)
  expect_identical(attr(logLik(ours), "df"), attr(logLik(ref), "df"))
  expect_lte(rel_diff(AIC(ours), AIC(ref)), 1e-8)
  expect_lte(rel_diff(BIC(ours), BIC(ref)), 1e-8)
  expect_equal(nobs(ours), nobs(ref))
  expect_equal(unname(ngrps(ours)), unname(lme4::ngrps(ref)))
  cmp <- lme4::getME(ref, "devcomp")$cmp
  keep <- !is.na(cmp) & names(cmp) %in% names(ours$devcomp$cmp)
  expect_lte(max(abs(ours$devcomp$cmp[names(cmp)[keep]] - cmp[keep]) / pmax(abs(cmp[keep]), 1)), 1e-6)
  dims <- lme4::getME(ref, "devcomp")$dims
  expect_equal(ours$devcomp$dims, dims[names(ours$devcomp$dims)])
}

expect_satterthwaite_matches <- function(ours, ref, tol = 1e-4) {
  need("lmerTest")
  tab <- summary(ref)$coefficients
  mine <- summary(ours)$coefficients
  expect_lte(rel_diff(mine[, "df"], tab[, "df"]), tol)
  expect_lte(rel_diff(mine[, "Std. Error"], tab[, "Std. Error"]), 1e-6)
  expect_lte(rel_diff(mine[, "Pr(>|t|)"], tab[, "Pr(>|t|)"]), 1e-3)
}

expect_kenward_roger_matches <- function(ours, ref, tol = 1e-4) {
  need("pbkrtest")
  adjusted <- pbkrtest::vcovAdj(ref)
  Vadj <- as.matrix(adjusted)
  V0 <- as.matrix(vcov(ref))
  p <- ncol(V0)
  ddf <- vapply(seq_len(p), function(j) pbkrtest::Lb_ddf(diag(p)[j, ], V0, adjusted), 0)
  mine <- summary(ours, ddf = "Kenward-Roger")$coefficients
  expect_lte(rel_diff(mine[, "df"], ddf), tol)
  expect_lte(rel_diff(mine[, "Std. Error"], sqrt(diag(Vadj))), 1e-6)
}

test_that("sleepstudy: REML and ML fits equal lme4's, df equal lmerTest's and pbkrtest's", {
  need("lme4")
  for (reml in c(TRUE, FALSE)) {
    ours <- ri_lmer(Reaction ~ Days + (1 | Subject), lme4::sleepstudy, REML = reml)
    ref <- lmer_tight(Reaction ~ Days + (1 | Subject), lme4::sleepstudy, REML = reml)
    expect_matches_lme4(ours, ref)
    expect_satterthwaite_matches(ours, ref)
    expect_false(isSingular(ours))
  }
  ours <- ri_lmer(Reaction ~ Days + (1 | Subject), lme4::sleepstudy)
  ref <- lmer_tight(Reaction ~ Days + (1 | Subject), lme4::sleepstudy)
  expect_kenward_roger_matches(ours, ref)
  ## exact integer cases: Days is a within-subject contrast, df = 161
  expect_lte(abs(summary(ours)$coefficients["Days", "df"] - 161), 1e-8)
  expect_lte(abs(summary(ours, ddf = "Kenward-Roger")$coefficients["Days", "df"] - 161), 1e-8)
  ## and the "cluster" df: 18 subjects less the intercept
  expect_equal(unname(summary(ours, ddf = "cluster")$coefficients[, "df"]), c(17, 17))
})

test_that("Dyestuff fits equal lme4's; Dyestuff2 is a singular fit with zero variance", {
  need("lme4")
  for (reml in c(TRUE, FALSE)) {
    ours <- ri_lmer(Yield ~ 1 + (1 | Batch), lme4::Dyestuff, REML = reml)
    ref <- lmer_tight(Yield ~ 1 + (1 | Batch), lme4::Dyestuff, REML = reml)
    expect_matches_lme4(ours, ref)
    expect_satterthwaite_matches(ours, ref)
  }
  expect_kenward_roger_matches(ri_lmer(Yield ~ 1 + (1 | Batch), lme4::Dyestuff),
                               lmer_tight(Yield ~ 1 + (1 | Batch), lme4::Dyestuff))
  for (reml in c(TRUE, FALSE)) {
    ## the message is lme4's, word for word
    ref_message <- tryCatch(lmer_tight(Yield ~ 1 + (1 | Batch), lme4::Dyestuff2, REML = reml),
                            message = conditionMessage)
    expect_identical(tryCatch(ri_lmer(Yield ~ 1 + (1 | Batch), lme4::Dyestuff2, REML = reml),
                              clusterab_singular = conditionMessage), ref_message)
    expect_message(ours <- ri_lmer(Yield ~ 1 + (1 | Batch), lme4::Dyestuff2, REML = reml),
                   "boundary (singular) fit: see help('isSingular')", fixed = TRUE,
                   class = "clusterab_singular")
    ref <- suppressMessages(lmer_tight(Yield ~ 1 + (1 | Batch), lme4::Dyestuff2, REML = reml))
    expect_identical(VarCorr(ours)$Batch[1L, 1L], 0)
    expect_true(isSingular(ours))
    expect_true(lme4::isSingular(ref))
    expect_matches_lme4(ours, ref)
  }
  ours <- suppressMessages(ri_lmer(Yield ~ 1 + (1 | Batch), lme4::Dyestuff2))
  ref <- suppressMessages(lmer_tight(Yield ~ 1 + (1 | Batch), lme4::Dyestuff2))
  expect_satterthwaite_matches(ours, ref)
  expect_kenward_roger_matches(ours, ref)
  ## singular: Satterthwaite about N - 1, Kenward-Roger about G - 1; the summary says so
  expect_equal(unname(summary(ours)$coefficients[, "df"]), 29, tolerance = 1e-8)
  expect_equal(unname(summary(ours, ddf = "Kenward-Roger")$coefficients[, "df"]), 5, tolerance = 1e-8)
  expect_output(print(summary(ours)), "singular")
  expect_output(print(ours), "singular")
})

test_that("unbalanced random data (clusters of 1 and 2 rows, cluster-level treatment) match lme4", {
  need("lme4")
  for (seed in 1:3) {
    d <- sim_clustered(G = 30, seed = seed)
    for (reml in c(TRUE, FALSE)) {
      ours <- ri_lmer(y ~ treat + x1 + f + (1 | g), d, REML = reml)
      ref <- lmer_tight(y ~ treat + x1 + f + (1 | g), d, REML = reml)
      expect_matches_lme4(ours, ref)
      expect_satterthwaite_matches(ours, ref)
      if (reml) expect_kenward_roger_matches(ours, ref)
    }
  }
})

test_that("weighted fits match lme4's precision weights", {
  need("lme4")
  d <- sim_clustered(G = 25, seed = 4)
  for (reml in c(TRUE, FALSE)) {
    ours <- ri_lmer(y ~ treat + x1 + (1 | g), d, REML = reml, weights = "w")
    ref <- lmer_tight(y ~ treat + x1 + (1 | g), d, REML = reml, weights = d$w)
    expect_matches_lme4(ours, ref)
    expect_satterthwaite_matches(ours, ref)
    expect_lte(scaled_diff(residuals(ours), residuals(ref)), 1e-6)
    expect_lte(scaled_diff(residuals(ours, type = "pearson"), residuals(ref, type = "pearson")), 1e-6)
  }
  expect_error(summary(ri_lmer(y ~ treat + (1 | g), d, weights = ~w), ddf = "Kenward-Roger"),
               "not available with weights")
})

test_that("a covariate with a large mean and a small spread loses no precision", {
  need("lme4")
  ill <- sim_ill_conditioned(seed = 2)
  f <- y ~ treat + x1 + year + time + (1 | g)
  ours <- ri_lmer(f, ill$data)
  ## the reference is lme4 on the centred columns, mapped back
  ref <- lmer_tight(f, ill$centred)
  To <- diag(5)
  To[1L, 4:5] <- -c(mean(ill$data$year), mean(ill$data$time))
  b_ref <- drop(To %*% lme4::fixef(ref))
  expect_lte(rel_diff(fixef(ours), b_ref), 1e-7)
  V_ref <- To %*% as.matrix(vcov(ref)) %*% t(To)
  expect_lte(rel_diff(sqrt(diag(vcov(ours))), sqrt(diag(V_ref))), 1e-6)
  expect_lte(rel_diff(REMLcrit(ours), lme4::REMLcrit(ref)), 1e-8)
  expect_lte(rel_diff(ours$theta, lme4::getME(ref, "theta")), 1e-6)
  ## Satterthwaite df are invariant to centring
  need("lmerTest"); need("pbkrtest")
  tab <- summary(ref)$coefficients
  expect_lte(rel_diff(summary(ours)$coefficients[-1L, "df"], tab[-1L, "df"]), 1e-4)
  expect_lte(rel_diff(summary(ours, ddf = "Kenward-Roger")$coefficients[-1L, "df"],
                      vapply(2:5, function(j) pbkrtest::Lb_ddf(diag(5)[j, ], as.matrix(vcov(ref)),
                                                                pbkrtest::vcovAdj(ref)), 0)), 1e-4)
})

test_that("balanced one-way data give the closed forms of the REML estimates", {
  for (seed in 1:4) {
    set.seed(seed)
    G <- 12; k <- 5
    d <- data.frame(g = rep(seq_len(G), each = k))
    d$y <- 3 + rnorm(G, sd = c(0.1, 1, 2, 0.3)[seed])[d$g] + rnorm(G * k)
    a <- stats::anova(stats::lm(y ~ factor(g), d))
    msb <- a[1L, "Mean Sq"]; msw <- a[2L, "Mean Sq"]
    fit <- suppressMessages(ri_lmer(y ~ 1 + (1 | g), d))
    if (msb > msw) {
      expect_lte(abs(VarCorr(fit)$g[1L, 1L] - (msb - msw) / k) / ((msb - msw) / k), 1e-10)
      expect_lte(abs(sigma(fit)^2 - msw) / msw, 1e-10)
      expect_false(isSingular(fit))
    } else {
      expect_identical(VarCorr(fit)$g[1L, 1L], 0)
      expect_lte(abs(sigma(fit)^2 - stats::var(d$y)) / stats::var(d$y), 1e-10)
      expect_true(isSingular(fit))
    }
    ## the intercept's standard error is sqrt(MSB / N) when the fit is interior
    if (msb > msw) expect_lte(abs(sqrt(vcov(fit)[1L, 1L]) - sqrt(msb / (G * k))) / sqrt(msb / (G * k)), 1e-10)
  }
})

test_that("anova() equals lmerTest's type III table and pbkrtest's F tests", {
  need("lme4"); need("lmerTest"); need("pbkrtest")
  d <- sim_clustered(G = 30, seed = 5)
  ours <- ri_lmer(y ~ treat + x1 + f + (1 | g), d)
  ref <- lmer_tight(y ~ treat + x1 + f + (1 | g), d)
  for (ddf in c("Satterthwaite", "Kenward-Roger")) {
    a <- anova(ours, ddf = ddf)
    a_ref <- stats::anova(ref, ddf = ddf)
    expect_identical(rownames(a), rownames(a_ref))
    for (col in c("Sum Sq", "Mean Sq", "F value")) expect_lte(rel_diff(a[[col]], a_ref[[col]]), 1e-6)
    expect_equal(a$NumDF, a_ref$NumDF)
    expect_lte(rel_diff(a$DenDF, a_ref$DenDF), 1e-4)
    expect_lte(rel_diff(a[["Pr(>F)"]], a_ref[["Pr(>F)"]]), 1e-3)
  }
  a <- anova(ours, ddf = "cluster")
  expect_equal(a$DenDF, rep(30 - 2, 3))
})

test_that("anova() of two fits is lme4's likelihood-ratio test", {
  need("lme4")
  d <- sim_clustered(G = 30, seed = 6)
  m0 <- ri_lmer(y ~ x1 + (1 | g), d)
  m1 <- ri_lmer(y ~ x1 + treat + (1 | g), d)
  r0 <- lmer_tight(y ~ x1 + (1 | g), d)
  r1 <- lmer_tight(y ~ x1 + treat + (1 | g), d)
  a <- suppressMessages(anova(m0, m1))
  a_ref <- suppressMessages(stats::anova(r0, r1))
  ## lme4 2.1 calls the deviance column "-2*log(L)": compare by position
  cols <- c("npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)")
  expect_identical(names(a), cols)
  expect_identical(ncol(a_ref), length(cols))
  expect_true(names(a_ref)[5L] %in% c("deviance", "-2*log(L)"))
  for (j in seq_along(cols)) {
    ok <- !is.na(a_ref[[j]])
    expect_lte(rel_diff(a[[j]][ok], a_ref[[j]][ok]), 1e-6)
  }
  expect_message(anova(m0, m1), "refitting")
})

test_that("fitted values, residuals, coef() and predict() equal lme4's", {
  need("lme4")
  d <- sim_clustered(G = 30, seed = 7)
  d$gc <- paste0("id", d$g)
  ours <- ri_lmer(y ~ treat + x1 + f + (1 | gc), d)
  ref <- lmer_tight(y ~ treat + x1 + f + (1 | gc), d)
  expect_lte(scaled_diff(fitted(ours), fitted(ref)), 1e-8)
  expect_lte(scaled_diff(residuals(ours), residuals(ref)), 1e-6)
  expect_lte(scaled_diff(residuals(ours, scaled = TRUE), residuals(ref, scaled = TRUE)), 1e-6)
  co <- coef(ours)$gc
  co_ref <- stats::coef(ref)$gc
  expect_identical(dimnames(co), dimnames(co_ref))
  expect_lte(scaled_diff(as.matrix(co), as.matrix(co_ref)), 1e-7)
  new <- d[c(1, 50, 100), ]
  new$gc[2] <- "unseen"
  expect_error(predict(ours, new), "new levels")
  expect_lte(scaled_diff(predict(ours, new, allow.new.levels = TRUE),
                         stats::predict(ref, new, allow.new.levels = TRUE)), 1e-7)
  expect_lte(scaled_diff(predict(ours, new, re.form = NA), stats::predict(ref, new, re.form = NA)), 1e-7)
  expect_lte(scaled_diff(predict(ours), stats::predict(ref)), 1e-8)
  expect_lte(scaled_diff(predict(ours, re.form = NA), stats::predict(ref, re.form = NA)), 1e-7)
})

test_that("na.exclude pads, subset selects, and zero weights drop rows", {
  need("lme4")
  d <- sim_clustered(G = 20, seed = 8)
  d$x1[c(3, 40)] <- NA
  ours <- ri_lmer(y ~ x1 + (1 | g), d, na.action = na.exclude)
  ref <- lmer_tight(y ~ x1 + (1 | g), d, na.action = na.exclude)
  expect_length(residuals(ours), nrow(d))
  expect_identical(is.na(residuals(ours)), unname(is.na(residuals(ref))))
  expect_lte(scaled_diff(stats::na.omit(residuals(ours)), stats::na.omit(residuals(ref))), 1e-6)
  expect_error(ri_lmer(y ~ x1 + (1 | g), d, na.action = na.fail), "missing values")
  sub <- ri_lmer(y ~ x1 + (1 | g), d, subset = treat == 1)
  expect_equal(fixef(ri_lmer(y ~ x1 + (1 | g), d, subset = treat == 1, weights = d$w)),
               fixef(ri_lmer(y ~ x1 + (1 | g), d[d$treat == 1, ], weights = "w")), tolerance = 1e-12)
  expect_lte(rel_diff(fixef(sub), lme4::fixef(lmer_tight(y ~ x1 + (1 | g), d[d$treat == 1, ]))), 1e-8)
  d$w[1:5] <- 0
  zero <- ri_lmer(y ~ x1 + (1 | g), d, weights = "w")
  kept <- ri_lmer(y ~ x1 + (1 | g), d[-(1:5), ], weights = "w")
  expect_equal(fixef(zero), fixef(kept), tolerance = 1e-12)
  expect_equal(REMLcrit(zero), REMLcrit(kept), tolerance = 1e-12)
})

test_that("a fit from cluster_stats() equals the fit from the data", {
  d <- sim_clustered(G = 40, seed = 9)
  fit <- ri_lmer(y ~ treat + x1 + x2 + (1 | g), d)
  st <- cluster_stats(d, y ~ treat + x1 + x2, cluster = "g")
  expect_identical(deparse1(formula(fit)), "y ~ treat + x1 + x2 + (1 | g)")
  for (from in list(ri_lmer(st), ri_lmer(y ~ treat + x1 + x2 + (1 | g), st), ri_lmer(data = st))) {
    expect_identical(deparse1(formula(from)), "y ~ treat + x1 + x2 + (1 | g)")
    expect_equal(fixef(from), fixef(fit), tolerance = 1e-12)
    expect_equal(vcov(from), vcov(fit), tolerance = 1e-12)
    expect_equal(REMLcrit(from), REMLcrit(fit), tolerance = 1e-12)
    expect_equal(ranef(from), ranef(fit), tolerance = 1e-12)
    expect_equal(summary(from)$coefficients, summary(fit)$coefficients, tolerance = 1e-10)
    expect_error(residuals(from), "cluster_stats")
  }
  ## a sub-model of the statistics
  sub <- ri_lmer(y ~ treat + x1 + (1 | g), st)
  expect_equal(fixef(sub), fixef(ri_lmer(y ~ treat + x1 + (1 | g), d)), tolerance = 1e-12)
  expect_error(ri_lmer(y ~ treat + (1 | h), st), "must be `\\(1 \\| g\\)`")
  ## weighted statistics keep the log-likelihood
  stw <- cluster_stats(d, y ~ treat + x1, cluster = "g", weights = "w")
  expect_equal(logLik(ri_lmer(stw)), logLik(ri_lmer(y ~ treat + x1 + (1 | g), d, weights = "w")),
               tolerance = 1e-12)
})

test_that("results do not depend on the number of threads", {
  d <- sim_clustered(G = 50, seed = 10)
  one <- ri_lmer(y ~ treat + x1 + (1 | g), d, threads = 1)
  two <- ri_lmer(y ~ treat + x1 + (1 | g), d, threads = 2)
  expect_identical(fixef(one), fixef(two))
  expect_identical(vcov(one), vcov(two))
  expect_identical(one$theta, two$theta)
})

test_that("confint() gives lme4's profile intervals for the standard deviations", {
  need("lme4")
  for (reml in c(TRUE, FALSE)) {
    ours <- ri_lmer(Reaction ~ Days + (1 | Subject), lme4::sleepstudy, REML = reml)
    ref <- lmer_tight(Reaction ~ Days + (1 | Subject), lme4::sleepstudy, REML = reml)
    ci <- confint(ours)
    ci_ref <- suppressMessages(stats::confint(ref, oldNames = TRUE))
    expect_identical(dimnames(ci), dimnames(ci_ref))
    ## lme4 interpolates its profile with splines; it is accurate to about 1e-5
    expect_lte(rel_diff(ci, ci_ref), 1e-4)
    wald <- stats::confint(ref, method = "Wald", oldNames = TRUE)
    expect_lte(rel_diff(confint(ours, method = "Wald")[-(1:2), ], wald[-(1:2), ]), 1e-6)
    expect_true(all(is.na(confint(ours, method = "Wald")[1:2, ])))
    expect_identical(rownames(confint(ours, parm = "Days")), "Days")
  }
  ## Dyestuff2: the lower limit of sigma_b is 0
  ci <- confint(suppressMessages(ri_lmer(Yield ~ 1 + (1 | Batch), lme4::Dyestuff2)))
  expect_identical(ci[".sig01", 1L], 0)
})

test_that("icc() of a fit is the variance ratio with a profile interval", {
  need("lme4")
  fit <- ri_lmer(Reaction ~ Days + (1 | Subject), lme4::sleepstudy)
  res <- icc(fit)
  v <- as.data.frame(VarCorr(fit))$vcov
  expect_equal(res$estimate, v[1] / sum(v), tolerance = 1e-12)
  ## the interval maps the sigma_b / sigma profile interval ... inside (0, 1) and around the estimate
  expect_true(res$conf.int[1] < res$estimate && res$estimate < res$conf.int[2])
  ## the limits are where the profiled criterion rises by qchisq(0.95, 1)
  dev <- function(icc) {
    rho <- icc / (1 - icc)
    p <- fit$parts$prep
    clusterab:::cpp_ri_criterion(p$within, p$sums, p$n, rho, fit$nobs, TRUE, 0L)$deviance
  }
  rise <- vapply(res$conf.int, dev, 0) - fit$parts$crit$deviance
  expect_equal(rise, rep(stats::qchisq(0.95, 1), 2), tolerance = 1e-8)
  expect_s3_class(res, "clusterab_icc")
  expect_identical(icc(suppressMessages(ri_lmer(Yield ~ 1 + (1 | Batch), lme4::Dyestuff2)))$estimate, 0)
})

test_that("tidy() and the printed summary have lmerTest's shape", {
  need("lme4")
  fit <- ri_lmer(Reaction ~ Days + (1 | Subject), lme4::sleepstudy)
  td <- tidy(fit, conf.int = TRUE)
  expect_named(td, c("effect", "group", "term", "estimate", "std.error", "statistic", "df",
                     "p.value", "conf.low", "conf.high"))
  expect_identical(td$term, c("(Intercept)", "Days", "sd__(Intercept)", "sd__Observation"))
  expect_output(print(summary(fit)), "Satterthwaite")
  expect_output(print(summary(fit)), "Number of obs: 180, groups:  Subject, 18")
  expect_output(print(fit), "REML criterion at convergence")
  expect_output(print(VarCorr(fit)), "Residual")
  expect_output(print(ranef(fit)), "Subject")
})

test_that("bad input gives clear errors", {
  d <- sim_clustered(G = 20, seed = 11)
  expect_error(ri_lmer(y ~ x1, d), "no random-effects term")
  expect_error(ri_lmer(y ~ x1 + (1 | g) + (1 | h), d), "2 random-effects terms.*lme4")
  expect_error(ri_lmer(y ~ x1 + (x1 | g), d), "random slope.*lme4")
  expect_error(ri_lmer(y ~ x1 + (1 + x1 | g), d), "random slope")
  expect_error(ri_lmer(y ~ x1 + (0 + x1 | g), d), "random slope")
  expect_error(ri_lmer(y ~ x1 + (1 | g/h), d), "one variable")
  d1 <- d
  d1$one <- 1
  expect_error(ri_lmer(y ~ x1 + (1 | one), d1), "only one level")
  d1$row <- seq_len(nrow(d1))
  expect_error(ri_lmer(y ~ x1 + (1 | row), d1), "as many levels as there are rows")
  d1$const <- 5
  expect_error(ri_lmer(const ~ x1 + (1 | g), d1), "zero variance")
  d1$g[c(2, 9)] <- NA
  expect_error(ri_lmer(y ~ x1 + (1 | g), d1), "grouping variable `g`.*2 missing")
  d1 <- d
  d1$x3 <- 2 * d1$x1
  expect_message(fit <- ri_lmer(y ~ x1 + x3 + (1 | g), d1), "rank deficient so dropping 1 column / coefficient: x3")
  expect_identical(names(fixef(fit)), c("(Intercept)", "x1"))
  expect_true(is.na(fixef(fit, add.dropped = TRUE)[["x3"]]))
  if (requireNamespace("lme4", quietly = TRUE)) {
    ref <- suppressMessages(lmer_tight(y ~ x1 + x3 + (1 | g), d1))
    expect_lte(rel_diff(fixef(fit), lme4::fixef(ref)), 1e-8)
  }
  d1$w[3] <- -1
  expect_error(ri_lmer(y ~ x1 + (1 | g), d1, weights = "w"), "non-negative")
  expect_error(ri_lmer(y ~ x1 + (1 | g), d, REML = NA), "REML")
  expect_error(ri_lmer(y ~ x1 + (1 | g), d, na.action = "na.pass"), "na.action")
  expect_error(summary(ri_lmer(y ~ x1 + (1 | g), d), ddf = "KR"), "ddf")
  expect_error(summary(ri_lmer(y ~ x1 + (1 | g), d, REML = FALSE), ddf = "Kenward-Roger"), "REML")
  two <- d[d$g %in% c(3, 4), ]
  two$treat <- as.numeric(two$g == 3)
  expect_error(summary(suppressWarnings(suppressMessages(ri_lmer(y ~ treat + (1 | g), two))), ddf = "cluster"),
               "leaves 0 degrees of freedom")
  expect_error(ri_lmer(y ~ x1 + (1 | g), as.matrix(d)), "data frame")
  expect_error(ri_lmer(y ~ x1 + (1 | g), d, weights = "w", subset = "x"), "subset")
  d1 <- d
  d1$y <- ave(d1$y, d1$g)  # constant within groups: no residual variance
  expect_error(ri_lmer(y ~ 1 + (1 | g), d1), "within groups")
})

test_that("data.tables and statistics from a database give the same fit", {
  need("data.table")
  d <- sim_clustered(G = 30, seed = 12)
  fit <- ri_lmer(y ~ treat + x1 + (1 | g), d, weights = "w")
  dt <- ri_lmer(y ~ treat + x1 + (1 | g), data.table::as.data.table(d), weights = "w",
                subset = x2 > 0.1, na.action = "na.fail")
  expect_equal(fixef(dt), fixef(ri_lmer(y ~ treat + x1 + (1 | g), d[d$x2 > 0.1, ], weights = "w")),
               tolerance = 1e-12)
  need("DBI"); need("RSQLite")
  con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
  on.exit(DBI::dbDisconnect(con))
  DBI::dbWriteTable(con, "rows", d)
  st <- cluster_stats(con, y ~ treat + x1, cluster = "g", weights = "w", table = "rows")
  from_db <- ri_lmer(st)
  expect_equal(fixef(from_db), fixef(fit), tolerance = 1e-10)
  expect_equal(VarCorr(from_db)$g[1L, 1L], VarCorr(fit)$g[1L, 1L], tolerance = 1e-9)
  ## SQLite has no logarithm, so the sum of log weights (a constant of the
  ## log-likelihood) is unknown: the likelihood is NA, never a wrong number
  expect_true(is.na(logLik(from_db)))
  expect_output(print(from_db), "REML criterion at convergence: NA")
})

test_that("lme4's own isSingular() and getME() work on ri_lmer fits", {
  need("lme4")
  fit <- suppressMessages(ri_lmer(Yield ~ 1 + (1 | Batch), lme4::Dyestuff2))
  expect_true(lme4::isSingular(fit))
  expect_false(lme4::isSingular(ri_lmer(Yield ~ 1 + (1 | Batch), lme4::Dyestuff)))
  expect_identical(lme4::getME(fit, "theta"), c(`Batch.(Intercept)` = 0))
  expect_equal(lme4::ngrps(fit), c(Batch = 6L))
  expect_error(lme4::getME(fit, "Zt"), "not available")
})

test_that("an offset is handled as lme4 handles it", {
  need("lme4")
  d <- sim_clustered(G = 25, seed = 13)
  d$o <- 0.3 * d$x2
  ours <- ri_lmer(y ~ x1 + offset(o) + (1 | g), d)
  ref <- lmer_tight(y ~ x1 + offset(o) + (1 | g), d)
  expect_matches_lme4(ours, ref)
  expect_lte(scaled_diff(fitted(ours), fitted(ref)), 1e-8)
  new <- d[1:10, ]
  expect_lte(scaled_diff(predict(ours, new), stats::predict(ref, new)), 1e-8)
  expect_lte(scaled_diff(predict(ours, new, re.form = NA), stats::predict(ref, new, re.form = NA)), 1e-8)
})

test_that("a formula as a string and subset = TRUE are accepted, as lme4 accepts them", {
  need("lme4")
  d <- sim_clustered(G = 20, seed = 14)
  fit <- ri_lmer(y ~ x1 + (1 | g), d)
  expect_equal(fixef(ri_lmer("y ~ x1 + (1 | g)", d)), fixef(fit), tolerance = 1e-14)
  expect_identical(deparse1(formula(ri_lmer("y ~ x1 + (1 | g)", d))), "y ~ x1 + (1 | g)")
  all_rows <- ri_lmer(y ~ x1 + (1 | g), d, subset = TRUE)
  expect_identical(nobs(all_rows), nrow(d))
  expect_equal(fixef(all_rows), fixef(fit), tolerance = 1e-14)
  expect_identical(nobs(lme4::lmer(y ~ x1 + (1 | g), d, subset = TRUE)), nobs(all_rows))
  expect_error(ri_lmer(y ~ x1 + (1 | g), d, subset = c(TRUE, FALSE)), "subset", class = "clusterab_error")
  expect_error(ri_lmer("y ~ ", d), class = "clusterab_error")
})

test_that("a model without fixed effects is fitted as lme4 fits it", {
  need("lme4")
  for (fm in list(Yield ~ 0 + (1 | Batch), Yield ~ -1 + (1 | Batch))) {
    for (reml in c(TRUE, FALSE)) {
      ours <- ri_lmer(fm, lme4::Dyestuff, REML = reml)
      ref <- lmer_tight(fm, lme4::Dyestuff, REML = reml)
      expect_length(fixef(ours), 0L)
      expect_length(lme4::fixef(ref), 0L)
      ## lme4 calls it a maximum-likelihood fit (REML and ML coincide)
      expect_identical(ours$REML, lme4::isREML(ref))
      expect_lte(rel_diff(ours$theta, lme4::getME(ref, "theta")), 1e-6)
      expect_lte(rel_diff(sigma(ours), sigma(ref)), 1e-6)
      expect_lte(rel_diff(logLik(ours), logLik(ref)), 1e-8)
      expect_identical(attr(logLik(ours), "df"), attr(logLik(ref), "df"))
      expect_lte(rel_diff(deviance(ours), deviance(ref)), 1e-8)
      ## without fixed effects the REML criterion is the deviance (lme4's
      ## REMLcrit() of such a fit is not reliable: 7.9e276 for the ML fit)
      expect_lte(rel_diff(REMLcrit(ours), deviance(ref)), 1e-8)
      vc <- as.data.frame(VarCorr(ours))
      expect_lte(rel_diff(vc$vcov, as.data.frame(lme4::VarCorr(ref))$vcov), 1e-6)
      expect_lte(scaled_diff(ranef(ours)$Batch[[1L]], lme4::ranef(ref)$Batch[[1L]]), 1e-6)
      expect_lte(scaled_diff(fitted(ours), fitted(ref)), 1e-8)
      expect_output(print(ours), "No fixed effect coefficients")
      expect_output(print(summary(ours)), "No fixed effect coefficients")
      expect_identical(nrow(anova(ours)), 0L)
      expect_identical(tidy(ours)$effect, c("ran_pars", "ran_pars"))
      expect_identical(rownames(confint(ours)), c(".sig01", ".sigma"))
      expect_identical(unname(predict(ours, lme4::Dyestuff[1:3, ], re.form = NA)), c(0, 0, 0))
    }
  }
})

test_that("fewer than 5 groups give a classed warning; 5 do not", {
  d <- sim_clustered(G = 30, seed = 15)
  expect_warning(ri_lmer(y ~ x1 + (1 | g), d[d$g <= 4, ]), "poorly estimated with 4 groups",
                 class = "clusterab_few_clusters")
  expect_no_warning(ri_lmer(y ~ x1 + (1 | g), d[d$g <= 5, ]))
  st <- cluster_stats(d[d$g <= 3, ], y ~ x1, cluster = "g")
  expect_warning(ri_lmer(st), "3 groups", class = "clusterab_few_clusters")
})

test_that("two groups: lme4's fit, and a flat REML criterion is a singular fit, not a uniroot error", {
  need("lme4")
  ## an ordinary two-group fit matches lme4 (and warns about the two groups)
  set.seed(1)
  d <- data.frame(g = rep(1:2, each = 10), x = rnorm(20))
  d$y <- 1 + d$x + c(-0.5, 0.5)[d$g] + rnorm(20)
  for (reml in c(TRUE, FALSE)) {
    expect_warning(ours <- ri_lmer(y ~ x + (1 | g), d, REML = reml), class = "clusterab_few_clusters")
    expect_matches_lme4(ours, lmer_tight(y ~ x + (1 | g), d, REML = reml))
  }
  ## a group-level treatment with two groups: the fixed effects fit both
  ## group means, and the REML criterion does not depend on theta (this
  ## data set failed in uniroot before)
  set.seed(11)
  d <- data.frame(g = rep(1:2, each = 10), x = rnorm(20))
  d$treat <- as.numeric(d$g == 2)
  d$y <- 1000 * (1 + d$x + d$treat + rnorm(20))
  for (fm in list(y ~ treat + (1 | g), y ~ treat + x + (1 | g))) {
    ref <- suppressWarnings(suppressMessages(lmer_tight(fm, d)))
    expect_message(expect_warning(expect_warning(ours <- ri_lmer(fm, d), class = "clusterab_few_clusters"),
                                  "not identified", class = "clusterab_not_identified"),
                   class = "clusterab_singular")
    expect_identical(ours$theta, 0)
    expect_true(isSingular(ours))
    expect_lte(rel_diff(fixef(ours), lme4::fixef(ref)), 1e-8)
    expect_lte(rel_diff(sigma(ours), sigma(ref)), 1e-8)
    expect_lte(rel_diff(REMLcrit(ours), lme4::REMLcrit(ref)), 1e-10)
    expect_lte(rel_diff(logLik(ours), logLik(ref)), 1e-10)
    ## by ML the variance is identified: 0, lme4's singular fit
    ml <- suppressWarnings(suppressMessages(ri_lmer(fm, d, REML = FALSE)))
    ml_ref <- suppressWarnings(suppressMessages(lmer_tight(fm, d, REML = FALSE)))
    expect_identical(ml$theta, 0)
    expect_lte(lme4::getME(ml_ref, "theta"), 1e-4)
    expect_lte(rel_diff(fixef(ml), lme4::fixef(ml_ref)), 1e-8)
    expect_lte(rel_diff(logLik(ml), logLik(ml_ref)), 1e-10)
  }
})

test_that("a flat REML criterion with more groups, or an ill-conditioned design, is the same singular fit", {
  need("lme4")
  ## three groups, intercept + treat + a group-level covariate: every group
  ## mean is fitted; the rounding drift of the flat criterion used to look
  ## like an unbounded variance
  set.seed(12)
  d <- data.frame(g = rep(1:3, each = 3), x = rnorm(9))
  d$z <- rnorm(3)[d$g]
  d$treat <- as.numeric(d$g == 2)
  d$y <- 1e4 * (d$x + rnorm(3)[d$g] + rnorm(9))
  ref <- suppressWarnings(suppressMessages(lmer_tight(y ~ treat + z + (1 | g), d)))
  suppressMessages(expect_warning(expect_warning(ours <- ri_lmer(y ~ treat + z + (1 | g), d),
                                                 class = "clusterab_few_clusters"),
                                  class = "clusterab_not_identified"))
  expect_identical(ours$theta, 0)
  expect_lte(rel_diff(fixef(ours), lme4::fixef(ref)), 1e-8)
  expect_lte(rel_diff(REMLcrit(ours), lme4::REMLcrit(ref)), 1e-10)
  expect_lte(rel_diff(sigma(ours), sigma(ref)), 1e-8)
  ## group dummies as fixed effects: six groups, the same
  dd <- sim_clustered(G = 6, seed = 16)
  expect_warning(fit <- suppressMessages(ri_lmer(y ~ x1 + factor(g) + (1 | g), dd)),
                 class = "clusterab_not_identified")
  expect_identical(fit$theta, 0)
  ref <- suppressWarnings(suppressMessages(lmer_tight(y ~ x1 + factor(g) + (1 | g), dd)))
  expect_lte(rel_diff(fixef(fit), lme4::fixef(ref)), 1e-8)
  expect_lte(rel_diff(REMLcrit(fit), lme4::REMLcrit(ref)), 1e-10)
})

test_that("glance() has broom.mixed's columns, and as.data.frame() is the tidy() table", {
  need("lme4")
  for (reml in c(TRUE, FALSE)) {
    ours <- ri_lmer(Reaction ~ Days + (1 | Subject), lme4::sleepstudy, REML = reml)
    ref <- lmer_tight(Reaction ~ Days + (1 | Subject), lme4::sleepstudy, REML = reml)
    gl <- glance(ours)
    expect_s3_class(gl, "data.frame")
    expect_named(gl, c("nobs", "sigma", "logLik", "AIC", "BIC", if (reml) "REMLcrit" else "deviance",
                       "df.residual"))
    expect_identical(nrow(gl), 1L)
    expect_identical(gl$nobs, 180L)
    expect_lte(rel_diff(gl$sigma, sigma(ref)), 1e-6)
    expect_lte(rel_diff(gl$logLik, as.numeric(logLik(ref))), 1e-8)
    expect_lte(rel_diff(gl$AIC, AIC(ref)), 1e-8)
    expect_lte(rel_diff(gl$BIC, BIC(ref)), 1e-8)
    expect_lte(rel_diff(gl[[6L]], if (reml) lme4::REMLcrit(ref) else deviance(ref)), 1e-8)
    expect_equal(gl$df.residual, df.residual(ref))
    expect_identical(as.data.frame(ours), tidy(ours))
  }
  ours <- ri_lmer(Reaction ~ Days + (1 | Subject), lme4::sleepstudy)
  expect_identical(as.data.frame(ours, ddf = "Kenward-Roger"), tidy(ours, ddf = "Kenward-Roger"))
})

test_that("weights in other units: lme4's fit, and 1e+-200 give the same inference", {
  d <- sim_clustered(G = 12, seed = 8)
  fit <- ri_lmer(y ~ treat + x1 + (1 | g), d, weights = "w")
  if (requireNamespace("lme4", quietly = TRUE)) {
    ## lme4's theta scales as 1 / sqrt(c), its sigma as sqrt(c) (beyond
    ## c = 1e4 its optimiser's absolute tolerance on theta shows at 1e-8)
    for (c in c(1e-6, 1e4)) {
      d2 <- d
      d2$w <- c * d$w
      for (reml in c(TRUE, FALSE)) {
        expect_matches_lme4(ri_lmer(y ~ treat + x1 + (1 | g), d2, REML = reml, weights = "w"),
                            lmer_tight(y ~ treat + x1 + (1 | g), d2, REML = reml, weights = d2$w))
      }
    }
  }
  ci <- confint(fit)
  for (c in c(1e200, 1e155, 1e-170, 1e-200, 2^-80, 3e7)) {
    d2 <- d
    d2$w <- c * d$w
    scaled <- ri_lmer(y ~ treat + x1 + (1 | g), d2, weights = "w")
    expect_equal(fixef(scaled), fixef(fit), tolerance = 1e-10)
    expect_equal(vcov(scaled), vcov(fit), tolerance = 1e-10)
    expect_equal(summary(scaled)$coefficients, summary(fit)$coefficients, tolerance = 1e-10)
    ## Sum Sq and Mean Sq are F times sigma^2 (as lmerTest): units of 1 / weight
    keep <- c("NumDF", "DenDF", "F value", "Pr(>F)")
    expect_equal(anova(scaled)[keep], anova(fit)[keep], tolerance = 1e-10)
    expect_equal(anova(scaled)[["Sum Sq"]] / c, anova(fit)[["Sum Sq"]], tolerance = 1e-10)
    expect_equal(as.numeric(logLik(scaled)), as.numeric(logLik(fit)), tolerance = 1e-10)
    expect_equal(REMLcrit(scaled), REMLcrit(fit), tolerance = 1e-10)
    expect_equal(ranef(scaled), ranef(fit), tolerance = 1e-10)
    expect_equal(fitted(scaled), fitted(fit), tolerance = 1e-10)
    expect_equal(scaled$theta * sqrt(c), fit$theta, tolerance = 1e-10)
    expect_equal(sigma(scaled) / sqrt(c), sigma(fit), tolerance = 1e-10)
    expect_equal(VarCorr(scaled)$g[1L, 1L], VarCorr(fit)$g[1L, 1L], tolerance = 1e-10)
    expect_identical(isSingular(scaled), isSingular(fit))
    ci2 <- confint(scaled)
    expect_equal(ci2[-2L, ], ci[-2L, ], tolerance = 1e-6)
    expect_equal(ci2[2L, ] / sqrt(c), ci[2L, ], tolerance = 1e-6)
    expect_equal(icc(scaled)$estimate, (scaled$theta^2) / (1 + scaled$theta^2), tolerance = 1e-10)
  }
})

test_that("one weight of 1e200 or 1e155 gives a fit or a classed error, not an R error", {
  d <- sim_clustered(G = 12, seed = 8)
  for (big in c(1e155, 1e200)) {
    d2 <- d
    d2$w[3L] <- big
    res <- tryCatch(suppressMessages(ri_lmer(y ~ treat + x1 + (1 | g), d2, weights = "w")),
                    clusterab_error = function(e) e)
    if (inherits(res, "ri_lmer")) {
      expect_true(all(is.finite(c(fixef(res), vcov(res), sigma(res), res$theta, logLik(res)))))
      expect_true(all(is.finite(summary(res)$coefficients[, 1:4])))
    } else {
      expect_s3_class(res, "clusterab_error")
    }
  }
})

test_that("errors name `formula`, `subset`, the group, `method`, `level` and `conf.level`", {
  d <- sim_clustered(G = 10, seed = 3)
  d$id <- factor(seq_len(nrow(d)))
  expect_error(ri_lmer(y ~ id + (1 | g), d), class = "clusterab_error",
               regexp = "`formula` has [0-9]+ fixed effects for [0-9]+ rows")
  expect_error(ri_lmer(y ~ x1 + (1 | g), d, subset = 1), class = "clusterab_error",
               regexp = "after `subset`, the grouping factor `g` has only 1 level")
  expect_error(ri_lmer(y ~ x1 + (1 | g), d, subset = g == g[1L]), class = "clusterab_error",
               regexp = "`subset`.*`g`")
  one <- d
  one$g <- 1
  expect_error(ri_lmer(y ~ x1 + (1 | g), one), class = "clusterab_error",
               regexp = "grouping factor `g` has only one level")
  fit <- ri_lmer(y ~ x1 + (1 | g), d)
  expect_error(confint(fit, method = "nope"), class = "clusterab_error", regexp = "`method`")
  expect_error(residuals(fit, type = "nope"), class = "clusterab_error", regexp = "`type`")
  for (bad in list(2, 0, 1, -0.5, NA_real_, c(0.9, 0.95), "0.95")) {
    expect_error(confint(fit, level = bad, method = "Wald"), class = "clusterab_error", regexp = "`level`")
    expect_error(tidy(fit, conf.int = TRUE, conf.level = bad), class = "clusterab_error",
                 regexp = "`conf.level`")
  }
  expect_error(tidy(fit, conf.int = NA), class = "clusterab_error", regexp = "`conf.int`")
  expect_identical(confint(fit, method = "W"), confint(fit, method = "Wald"))
})

test_that("methods refuse bad arguments with classed errors naming them", {
  d <- sim_clustered(G = 10, seed = 3)
  fit <- ri_lmer(y ~ treat + x1 + (1 | g), d)
  expect_error(ranef(fit, condVar = NA), class = "clusterab_error", regexp = "`condVar`")
  expect_error(residuals(fit, scaled = NA), class = "clusterab_error", regexp = "`scaled`")
  expect_error(VarCorr(fit, sigma = "a"), class = "clusterab_error", regexp = "`sigma`")
  expect_error(predict(fit, newdata = d, allow.new.levels = NA), class = "clusterab_error",
               regexp = "`allow.new.levels`")
  expect_error(predict(fit, newdata = d[, c("x1", "g")]), class = "clusterab_error",
               regexp = "`treat`.*`newdata`")
  new <- d[1:2, ]
  new$g <- c("nope", as.character(d$g[1L]))
  expect_error(predict(fit, newdata = new), class = "clusterab_error",
               regexp = "`newdata`.*`g`.*nope")
  expect_length(predict(fit, newdata = new, allow.new.levels = TRUE), 2L)
})

test_that("Satterthwaite and Kenward-Roger df do not depend on the units of y and x", {
  d <- sim_clustered(G = 12, seed = 8)
  fit <- ri_lmer(y ~ treat + x1 + (1 | g), d, weights = "w")
  fit_kr <- ri_lmer(y ~ treat + x1 + (1 | g), d)
  for (c in c(1e-6, 1e4, 1e6, 1e30)) {
    d2 <- d
    d2$y <- c * d$y
    d2$x1 <- sqrt(c) * d$x1
    ## before: the Hessian's eigenvalues were cut at 1e-8 in the units of y,
    ## so y * 1e6 gave a df of 1e5 for a within-group coefficient
    scaled <- ri_lmer(y ~ treat + x1 + (1 | g), d2, weights = "w")
    expect_equal(summary(scaled)$coefficients[, c("df", "t value", "Pr(>|t|)")],
                 summary(fit)$coefficients[, c("df", "t value", "Pr(>|t|)")], tolerance = 1e-8)
    expect_equal(anova(scaled)[c("DenDF", "F value")], anova(fit)[c("DenDF", "F value")],
                 tolerance = 1e-8)
    scaled_kr <- ri_lmer(y ~ treat + x1 + (1 | g), d2)
    expect_equal(summary(scaled_kr, ddf = "Kenward-Roger")$coefficients[, c("df", "t value")],
                 summary(fit_kr, ddf = "Kenward-Roger")$coefficients[, c("df", "t value")],
                 tolerance = 1e-8)
  }
  ## lmerTest cuts its Hessian's eigenvalues at 1e-8 in the units of y too:
  ## at y * 1e6 its df for x1 is 28661 instead of 146, so compare at 1e3
  if (requireNamespace("lmerTest", quietly = TRUE)) {
    d2 <- d
    d2$y <- 1e3 * d$y
    expect_satterthwaite_matches(ri_lmer(y ~ treat + x1 + (1 | g), d2, weights = "w"),
                                 lmer_tight(y ~ treat + x1 + (1 | g), d2, weights = d2$w))
  }
})
