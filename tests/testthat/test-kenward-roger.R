## Kenward-Roger from per-cluster statistics (kr_parts, kr_ddf, kr_ftest)
## against pbkrtest on lme4 REML fits, with lme4's variance estimates as input.


## Per-cluster statistics and KR parts of a random-intercept lmer fit.
kr_fit_parts <- function(fit, g) {
  X <- model.matrix(fit)
  kr_parts(M = crossprod(X), S = rowsum(X, g), n_g = rowsum(rep(1, nrow(X)), g)[, 1],
           s2 = sigma(fit)^2, sb2 = lme4::VarCorr(fit)[[1]][1])
}

## max |A_ij - B_ij| / sqrt(B_ii B_jj)
kr_vcov_err <- function(A, B) {
  A <- as.matrix(A); B <- as.matrix(B)
  max(abs(A - B) / sqrt(abs(outer(diag(B), diag(B)))))
}
kr_rel_err <- function(a, b) max(abs(a - b) / abs(b))

## Phi, Phi_A and the one-contrast df of every coefficient and of `extra`
## contrasts; kr_ftest with one row must agree with kr_ddf and KRmodcomp.
kr_check_fit <- function(fit, g, extra = NULL, vcov_tol = 1e-8) {
  parts <- kr_fit_parts(fit, g)
  Phi <- as.matrix(vcov(fit)); PhiA <- pbkrtest::vcovAdj(fit)
  expect_lte(kr_vcov_err(parts$Phi, Phi), vcov_tol)
  expect_lte(kr_vcov_err(parts$Phi_A, PhiA), vcov_tol)
  p <- ncol(Phi)
  for (L in c(split(diag(p), seq_len(p)), extra)) {
    ddf <- kr_ddf(L, parts)
    expect_lte(kr_rel_err(ddf, pbkrtest::Lb_ddf(L, Phi, PhiA)), 1e-6)
    ft <- kr_ftest(matrix(L, 1), lme4::fixef(fit), parts)
    expect_equal(ft$ddf, ddf, tolerance = 1e-12)
    kr_check_ftest(ft, fit, matrix(L, 1))
  }
  invisible(parts)
}

kr_check_ftest <- function(ft, fit, L) {
  ref <- suppressWarnings(pbkrtest::KRmodcomp(fit, L))$test
  expect_equal(ft$ndf, nrow(L))
  expect_lte(kr_rel_err(ft$stat_unscaled, ref["FtestU", "stat"]), 1e-6)
  expect_lte(kr_rel_err(ft$stat_unscaled * ft$F_scaling, ref["Ftest", "stat"]), 1e-6)
  expect_lte(kr_rel_err(ft$F_scaling, ref["Ftest", "F.scaling"]), 1e-6)
  expect_lte(kr_rel_err(ft$ddf, ref["Ftest", "ddf"]), 1e-6)
  expect_lte(kr_rel_err(ft$p.value, ref["Ftest", "p.value"]), 1e-6)
}

## Unbalanced clusters, including sizes 1 and 2; treat is constant within
## cluster, x varies by row, f is a 3-level factor, z has a large mean.
kr_sim <- function(G = 30, seed = 42) {
  set.seed(seed)
  size <- sample(c(1L, 2L, sample(3:25, G - 2L, replace = TRUE)))
  g <- rep(seq_len(G), size)
  n <- length(g)
  d <- data.frame(g = factor(g), treat = rbinom(G, 1, 0.5)[g], x = rnorm(n),
                  f = factor(sample(c("a", "b", "c"), n, replace = TRUE)),
                  z = 2000 + runif(n))
  d$y <- 1 + 0.5 * d$treat + 0.3 * d$x + 0.2 * (d$f == "b") + 2 * (d$z - 2000) +
    rnorm(G, sd = 0.7)[g] + rnorm(n)
  d
}

test_that("sleepstudy: Phi_A, ddf (Days exactly 161) and F test match pbkrtest", {
  need("pbkrtest"); need("lme4")
  d <- lme4::sleepstudy
  fit <- lme4::lmer(Reaction ~ Days + (1 | Subject), d)
  parts <- kr_check_fit(fit, d$Subject, extra = list(c(1, 10)))
  expect_equal(kr_ddf(c(0, 1), parts), 161, tolerance = 1e-8)
  expect_equal(kr_ddf(c(0, 1), parts),
               pbkrtest::Lb_ddf(c(0, 1), vcov(fit), pbkrtest::vcovAdj(fit)),
               tolerance = 1e-8)
})

test_that("Dyestuff: intercept-only model matches pbkrtest", {
  need("pbkrtest"); need("lme4")
  d <- lme4::Dyestuff
  kr_check_fit(lme4::lmer(Yield ~ 1 + (1 | Batch), d), d$Batch)
})

test_that("unbalanced clusters with a cluster-level treatment match pbkrtest", {
  need("pbkrtest"); need("lme4")
  d <- kr_sim()
  expect_true(all(c(1, 2) %in% table(d$g)))
  fit <- lme4::lmer(y ~ treat + x + (1 | g), d)
  parts <- kr_check_fit(fit, d$g, extra = list(c(0, 1, -2), c(1, 0.5, 0.25)))
  L <- rbind(c(0, 1, 0), c(0, 0, 1))
  kr_check_ftest(kr_ftest(L, lme4::fixef(fit), parts), fit, L)
  ## cluster order must not matter
  o <- sample(nlevels(d$g))
  X <- model.matrix(fit); S <- rowsum(X, d$g); n_g <- as.vector(table(d$g))
  p2 <- kr_parts(crossprod(X), S[o, ], n_g[o], sigma(fit)^2, lme4::VarCorr(fit)$g[1])
  expect_equal(p2$Phi_A, parts$Phi_A, tolerance = 1e-12)
})

test_that("3-level factor: two-row L in kr_ftest matches KRmodcomp", {
  need("pbkrtest"); need("lme4")
  d <- kr_sim(seed = 7)
  fit <- lme4::lmer(y ~ f + x + (1 | g), d)
  parts <- kr_check_fit(fit, d$g)
  L <- rbind(c(0, 1, 0, 0), c(0, 0, 1, 0))
  ft <- kr_ftest(L, lme4::fixef(fit), parts)
  expect_identical(ft$ndf, 2L)
  kr_check_ftest(ft, fit, L)
  ## three rows: treat, x and one factor contrast together
  L3 <- rbind(L, c(0, 0, 0, 1))
  kr_check_ftest(kr_ftest(L3, lme4::fixef(fit), parts), fit, L3)
})

test_that("a covariate with a large mean and small spread loses no precision", {
  need("pbkrtest"); need("lme4")
  d <- kr_sim(seed = 3)
  d$zs <- d$z - 2000                       # exact (Sterbenz)
  n_g <- as.vector(table(d$g))
  ## Raw coordinates: df and F tests to 1e-6, but Phi_A only to 2e-7. M holds
  ## z^2 ~ 4e6 against a within-cluster spread of 1/12: a one-ulp change in M
  ## already moves Phi_A by ~1e-8, and pbkrtest's own dense result on this
  ## design is off by as much, so 1e-8 is below what any method can reach.
  fit <- lme4::lmer(y ~ treat + z + (1 | g), d)
  parts <- kr_check_fit(fit, d$g, extra = list(c(1, 0, 2000.5)), vcov_tol = 2e-7)
  L <- rbind(c(0, 1, 0), c(0, 0, 1))
  kr_check_ftest(kr_ftest(L, lme4::fixef(fit), parts), fit, L)
  ## Shifted coordinates, as the caller uses them: X T with T unit upper
  ## triangular (here it subtracts 2000 from z). Reference: pbkrtest on the
  ## equivalent model in zs, which is well conditioned; same variance inputs.
  fit_s <- lme4::lmer(y ~ treat + zs + (1 | g), d)
  s2 <- sigma(fit_s)^2; sb2 <- lme4::VarCorr(fit_s)$g[1]
  Tm <- diag(3); Tm[1, 3] <- -2000
  X <- model.matrix(fit)
  XT <- X %*% Tm
  ps <- kr_parts(crossprod(XT), rowsum(XT, d$g), n_g, s2, sb2)
  expect_lte(kr_vcov_err(ps$Phi_A, pbkrtest::vcovAdj(fit_s)), 1e-8)
  ## raw statistics, mapped to the shifted coordinates (Phi_s = T^-1 Phi T^-T):
  ## only the conditioning floor above separates them from the reference
  pr <- kr_parts(crossprod(X), rowsum(X, d$g), n_g, s2, sb2)
  Ti <- solve(Tm)
  expect_lte(kr_vcov_err(Ti %*% pr$Phi_A %*% t(Ti), pbkrtest::vcovAdj(fit_s)), 2e-7)
  ## a contrast L on beta is L T on beta_s: same df either way
  for (l in list(c(0, 0, 1), c(1, 0, 2000.5)))
    expect_lte(kr_rel_err(kr_ddf(l, pr), kr_ddf(l %*% Tm, ps)), 1e-6)
})

test_that("singular fit (sb2 = 0, Dyestuff2) gives what pbkrtest gives", {
  need("pbkrtest"); need("lme4")
  d <- lme4::Dyestuff2
  fit <- suppressMessages(lme4::lmer(Yield ~ 1 + (1 | Batch), d))
  expect_equal(lme4::VarCorr(fit)$Batch[1], 0)
  parts <- kr_check_fit(fit, d$Batch)
  ## with sb2 = 0 the model is V = s2 I: Phi is the OLS covariance
  expect_equal(parts$Phi[1, 1], sigma(fit)^2 / nrow(d), tolerance = 1e-12)
})

test_that("arbitrary variances and all-singleton clusters match pbkrtest's internals", {
  need("pbkrtest"); need("lme4"); need("Matrix")
  ## Not an lmer fit (lmer refuses one row per cluster), so pbkrtest's
  ## internal workhorse gets Sigma and its derivatives directly. With all
  ## clusters of size 1, J = I and IE2 is singular: both use a g-inverse.
  skip_if_not(exists("vcovAdj_internal", asNamespace("pbkrtest")))
  set.seed(11)
  for (sizes in list(rep(1L, 20), sample(1:6, 20, replace = TRUE))) {
    for (sb2 in c(0, 0.4)) {
      g <- rep(seq_along(sizes), sizes); n <- length(g); s2 <- 1.3
      X <- cbind(1, rnorm(n), rbinom(length(sizes), 1, 0.5)[g])
      Z <- Matrix::sparseMatrix(seq_len(n), g, x = 1)
      G <- list(Z %*% Matrix::t(Z), Matrix::Diagonal(n))
      SG <- list(Sigma = sb2 * G[[1]] + s2 * G[[2]], G = G, n.ggamma = 2)
      Phi <- solve(crossprod(X, as.matrix(solve(SG$Sigma, X))))
      ref <- pbkrtest:::vcovAdj_internal(Phi, SG, X)
      parts <- kr_parts(crossprod(X), rowsum(X, g), as.vector(table(g)), s2, sb2)
      expect_lte(kr_vcov_err(parts$Phi_A, ref), 1e-8)
      expect_equal(parts$condi < 1e-10, attr(ref, "condi") < 1e-10)
      expect_lte(kr_rel_err(kr_ddf(c(0, 0, 1), parts), pbkrtest::Lb_ddf(c(0, 0, 1), Phi, ref)), 1e-6)
    }
  }
})
