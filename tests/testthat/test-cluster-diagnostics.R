## cluster_diagnostics(): leverage, partial leverage, leave-one-cluster-out
## estimates and G*, checked against dense computations on small data (the
## full hat matrix, lm() refits without each cluster, the Frisch-Waugh-Lovell
## residualised regressor, the published G* formula written out directly).

## G clusters of unequal sizes, a cluster-level treatment, a row covariate,
## weights and a cluster effect in the outcome.
diag_data <- function(G = 12, seed = 1, big = NULL) {
  set.seed(seed)
  sizes <- sample(3:30, G, replace = TRUE)
  if (!is.null(big)) sizes[1L] <- big
  g <- rep(seq_len(G), sizes)
  n <- length(g)
  d <- data.frame(g = g, x = rnorm(n), trt = rep(rep_len(0:1, G)[sample(G)], sizes),
                  w = runif(n, 0.5, 2))
  d$y <- 1 + 0.5 * d$trt + d$x + rnorm(G)[g] + rnorm(n)
  d
}

## Estimates of `param` refitted by lm() without each cluster.
refit_without <- function(formula, d, param, weights = NULL) {
  ids <- unique(d$g)
  out <- vapply(ids, function(h) {
    part <- d[d$g != h, ]
    part$.wt <- if (is.null(weights)) 1 else part[[weights]]
    coef(lm(formula, part, weights = .wt))[param]
  }, numeric(length(param)))
  matrix(out, nrow = length(ids), byrow = TRUE)
}

without_matrix <- function(res) {
  as.matrix(res$clusters[, grep("^estimate_without", names(res$clusters)), drop = FALSE])
}

test_that("leave-one-cluster-out estimates equal lm() refits without each cluster", {
  d <- diag_data()
  params <- c("trt", "x", "(Intercept)")
  fit <- lm(y ~ trt + x, d)
  res <- cluster_diagnostics(fit, cluster = ~ g, param = params)
  expect_equal(unname(without_matrix(res)), unname(matrix(refit_without(y ~ trt + x, d, params), ncol = 3)),
               tolerance = 1e-10)
  ## one param: plain column names, and the default is the first slope
  one <- cluster_diagnostics(fit, cluster = "g")
  expect_identical(one$param, "trt")
  expect_named(one$clusters, c("cluster", "n", "leverage", "partial_leverage", "estimate_without", "dominant"))
  expect_equal(one$clusters$estimate_without, unname(refit_without(y ~ trt + x, d, "trt")[, 1L]),
               tolerance = 1e-10)
  expect_equal(one$estimate, coef(fit)["trt"], tolerance = 1e-14)
  expect_equal(one$clusters$n, as.vector(table(d$g)))
})

test_that("leave-one-cluster-out estimates with weights, and from cluster_lm(), equal lm() refits", {
  d <- diag_data(seed = 2)
  params <- c("trt", "x", "(Intercept)")
  ref <- unname(refit_without(y ~ trt + x, d, params, weights = "w"))
  fw <- lm(y ~ trt + x, d, weights = w)
  res <- cluster_diagnostics(fw, cluster = d$g, param = params)
  expect_equal(unname(without_matrix(res)), ref, tolerance = 1e-10)
  cl <- quiet_few(cluster_lm(y ~ trt + x, d, cluster = ~ g, weights = "w"))
  rc <- cluster_diagnostics(cl, param = params)
  expect_equal(unname(without_matrix(rc)), ref, tolerance = 1e-10)
  expect_equal(rc$clusters[, -1L], res$clusters[, -1L], tolerance = 1e-10)
  expect_equal(rc$G_star, res$G_star, tolerance = 1e-10)
  ## cluster_lm() unweighted, and a cluster given to a cluster_lm fit clustered otherwise
  cu <- quiet_few(cluster_lm(y ~ trt + x, d, cluster = ~ g))
  expect_equal(cluster_diagnostics(cu, param = "x")$clusters$estimate_without,
               unname(refit_without(y ~ trt + x, d, "x")[, 1L]), tolerance = 1e-10)
  d$other <- d$g %% 5
  co <- quiet_few(cluster_lm(y ~ trt + x, d, cluster = ~ other))
  expect_equal(cluster_diagnostics(co, cluster = ~ g, param = "x")$clusters$estimate_without,
               unname(refit_without(y ~ trt + x, d, "x")[, 1L]), tolerance = 1e-10)
  ## from cluster_stats(), with a sub-formula
  st <- cluster_stats(d, y ~ trt + x, cluster = "g")
  cs <- quiet_few(cluster_lm(y ~ x, data = st))
  expect_equal(cluster_diagnostics(cs)$clusters$estimate_without,
               unname(refit_without(y ~ x, d, "x")[, 1L]), tolerance = 1e-10)
})

test_that("zero weights, dropped rows and a model without intercept", {
  d <- diag_data(seed = 3)
  d$w[c(1, 5, 40)] <- 0
  d$x[7] <- NA
  fw <- lm(y ~ trt + x, d, weights = w)
  res <- cluster_diagnostics(fw, cluster = d$g, param = c("trt", "x"))
  ok <- d$w > 0 & !is.na(d$x)
  expect_equal(res$clusters$n, as.vector(table(d$g[ok])))
  expect_equal(unname(without_matrix(res)),
               unname(refit_without(y ~ trt + x, d[ok, ], c("trt", "x"), weights = "w")),
               tolerance = 1e-10)
  f0 <- lm(y ~ 0 + trt + x, d)
  r0 <- cluster_diagnostics(f0, cluster = d$g, param = c("trt", "x"))
  ok <- !is.na(d$x)
  expect_equal(unname(without_matrix(r0)), unname(refit_without(y ~ 0 + trt + x, d[ok, ], c("trt", "x"))),
               tolerance = 1e-10)
})

test_that("leverage equals the traces of H_gg of the dense hat matrix", {
  d <- diag_data(seed = 4)
  fit <- lm(y ~ trt + x, d)
  X <- model.matrix(fit)
  H <- X %*% solve(crossprod(X), t(X))
  res <- cluster_diagnostics(fit, cluster = ~ g)
  expect_equal(res$clusters$leverage, as.vector(tapply(diag(H), d$g, sum)), tolerance = 1e-10)
  expect_equal(sum(res$clusters$leverage), 3, tolerance = 1e-12)
  ## weighted: H = W^1/2 X (X'WX)^-1 X' W^1/2, the diagonal as hatvalues()
  fw <- lm(y ~ trt + x, d, weights = w)
  Xw <- sqrt(d$w) * X
  Hw <- Xw %*% solve(crossprod(Xw), t(Xw))
  rw <- cluster_diagnostics(fw, cluster = ~ g)
  expect_equal(rw$clusters$leverage, as.vector(tapply(diag(Hw), d$g, sum)), tolerance = 1e-10)
  expect_equal(rw$clusters$leverage, as.vector(tapply(hatvalues(fw), d$g, sum)), tolerance = 1e-10)
})

test_that("partial leverage equals the dense Frisch-Waugh-Lovell share (summclust's definition)", {
  d <- diag_data(seed = 5)
  for (wt in c(FALSE, TRUE)) {
    fit <- if (wt) lm(y ~ trt + x, d, weights = w) else lm(y ~ trt + x, d)
    w <- if (wt) d$w else rep(1, nrow(d))
    X <- model.matrix(fit)
    res <- cluster_diagnostics(fit, cluster = ~ g, param = c("trt", "x", "(Intercept)"))
    for (j in c("trt", "x", "(Intercept)")) {
      ## the regressor residualised on the others (weighted least squares)
      others <- X[, colnames(X) != j, drop = FALSE]
      xt <- lm.wfit(others, X[, j], w)$residuals
      share <- as.vector(tapply(w * xt^2, d$g, sum)) / sum(w * xt^2)
      expect_equal(res$clusters[[paste0("partial_leverage.", j)]], share, tolerance = 1e-10)
    }
  }
})

## G* of Carter, Schnepel and Steigerwald (2017), written out from the paper:
## gamma_g = e_j' (X'X)^-1 X_g' Omega_g X_g (X'X)^-1 e_j with Omega_g =
## (1 - rho) I + rho 1 1', Gamma = mean((gamma - mean(gamma))^2) / mean(gamma)^2,
## G* = G / (1 + Gamma). With weights (scaled to mean 1): the WLS model
## Var(e_g) = (1 - rho) W_g^-1 + rho 1 1'.
gstar_direct <- function(X, g, j, rho, w = rep(1, nrow(X))) {
  w <- w / mean(w)
  B <- solve(crossprod(X, w * X))
  gamma <- vapply(unique(g), function(h) {
    i <- g == h
    Xg <- X[i, , drop = FALSE]
    Omega <- (1 - rho) * diag(1 / w[i], sum(i)) + rho * matrix(1, sum(i), sum(i))
    A <- t(w[i] * Xg) %*% Omega %*% (w[i] * Xg)
    (B %*% A %*% B)[j, j]
  }, numeric(1))
  Gamma <- mean((gamma - mean(gamma))^2) / mean(gamma)^2
  length(gamma) / (1 + Gamma)
}

test_that("G_star equals the published formula of Carter, Schnepel and Steigerwald", {
  d <- diag_data(seed = 6, big = 120)
  fit <- lm(y ~ trt + x, d)
  fw <- lm(y ~ trt + x, d, weights = w)
  X <- model.matrix(fit)
  for (rho in c(0, 0.3, 1)) {
    res <- cluster_diagnostics(fit, cluster = ~ g, param = c("trt", "x"), rho = rho)
    expect_equal(res$G_star[["trt"]], gstar_direct(X, d$g, "trt", rho), tolerance = 1e-10)
    expect_equal(res$G_star[["x"]], gstar_direct(X, d$g, "x", rho), tolerance = 1e-10)
    rw <- cluster_diagnostics(fw, cluster = ~ g, param = "trt", rho = rho)
    expect_equal(rw$G_star[["trt"]], gstar_direct(X, d$g, "trt", rho, d$w), tolerance = 1e-10)
  }
  ## rho = 0: G* = 1 / sum of squared partial leverages
  r0 <- cluster_diagnostics(fit, cluster = ~ g)
  expect_equal(r0$G_star[["trt"]], 1 / sum(r0$clusters$partial_leverage^2), tolerance = 1e-12)
  ## the units of the weights do not matter, whatever rho
  d2 <- d
  d2$w <- d2$w * 1e6
  expect_equal(cluster_diagnostics(lm(y ~ trt + x, d2, weights = w), cluster = ~ g, rho = 0.5)$G_star,
               cluster_diagnostics(fw, cluster = ~ g, rho = 0.5)$G_star, tolerance = 1e-10)
  ## balanced, an intercept-only model and rho = 1: G* = G
  b <- data.frame(g = rep(1:8, each = 5), y = rnorm(40))
  expect_equal(cluster_diagnostics(lm(y ~ 1, b), cluster = ~ g, rho = 1)$G_star[[1L]], 8, tolerance = 1e-12)
})

test_that("cv_size is the coefficient of variation of the sizes with the population SD", {
  d <- diag_data(seed = 7)
  res <- cluster_diagnostics(lm(y ~ trt + x, d), cluster = ~ g)
  n <- as.vector(table(d$g))
  expect_equal(res$cv_size, sqrt(mean((n - mean(n))^2)) / mean(n), tolerance = 1e-14)
  expect_identical(res$G, 12L)
})

test_that("an ill-conditioned design (a covariate with a large mean and a small spread) keeps its digits", {
  set.seed(8)
  G <- 15
  g <- rep(seq_len(G), sample(5:25, G, replace = TRUE))
  n <- length(g)
  d <- data.frame(g = g, stamp = 1e6 + runif(n), trt = rep(rbinom(G, 1, 0.5), tabulate(g)),
                  w = runif(n, 0.5, 2))
  d$y <- 2 + d$trt + 3 * (d$stamp - 1e6) + rnorm(n)
  ## the reference: lm() refits on the centred covariate (the same slopes,
  ## free of the conditioning of the raw column)
  d$centred <- d$stamp - mean(d$stamp)
  for (wt in c(FALSE, TRUE)) {
    fit <- if (wt) lm(y ~ trt + stamp, d, weights = w) else lm(y ~ trt + stamp, d)
    res <- cluster_diagnostics(fit, cluster = ~ g, param = c("trt", "stamp"))
    ref <- refit_without(y ~ trt + centred, d, c("trt", "centred"), weights = if (wt) "w")
    expect_equal(unname(without_matrix(res)), unname(ref), tolerance = 1e-8)
    ## leverages from the centred design's hat matrix
    X <- cbind(1, d$trt, d$centred)
    ww <- if (wt) d$w else rep(1, n)
    Xw <- sqrt(ww) * X
    H <- Xw %*% solve(crossprod(Xw), t(Xw))
    expect_equal(res$clusters$leverage, as.vector(tapply(diag(H), d$g, sum)), tolerance = 1e-10)
    xt <- lm.wfit(X[, 1:2], d$centred, ww)$residuals
    expect_equal(res$clusters$partial_leverage.stamp,
                 as.vector(tapply(ww * xt^2, d$g, sum)) / sum(ww * xt^2), tolerance = 1e-8)
  }
})

test_that("a cluster whose removal makes the design singular: NA where the param needs it, lm()'s value otherwise", {
  d <- diag_data(seed = 9)
  d$only3 <- ifelse(d$g == 3, rnorm(nrow(d)), 0)   # a regressor seen in cluster 3 only
  fit <- quiet_few(lm(y ~ trt + x + only3, d))
  res <- cluster_diagnostics(fit, cluster = ~ g, param = c("trt", "only3"))
  ## without cluster 3, lm() aliases `only3` and still estimates `trt`
  ref <- refit_without(y ~ trt + x + only3, d, "trt")[, 1L]
  expect_equal(res$clusters$estimate_without.trt, unname(ref), tolerance = 1e-10)
  expect_true(is.na(res$clusters$estimate_without.only3[3L]))
  expect_false(anyNA(res$clusters$estimate_without.only3[-3L]))
  expect_true(res$clusters$dominant[3L])
  expect_output(print(res), "`only3` cannot be estimated without cluster 3")
})

test_that("print() flags a dominant cluster and says what to do; plot(), tidy(), as.data.frame()", {
  d <- diag_data(seed = 10, big = 500)
  fit <- lm(y ~ trt + x, d)
  res <- cluster_diagnostics(fit, cluster = ~ g)
  expect_true(res$clusters$dominant[1L])
  out <- capture.output(print(res))
  expect_true(any(grepl("Dominant clusters", out)))
  expect_true(any(grepl("first coefficient after the intercept", out)))
  expect_true(any(grepl("G\\*\\(0\\)", out)))
  expect_true(any(grepl("CR2 with Satterthwaite df", out)))
  expect_true(any(grepl("wild_boot()", out, fixed = TRUE)))
  expect_identical(tidy(res), res$clusters)
  expect_identical(as.data.frame(res), res$clusters)
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  expect_invisible(plot(res))
  res2 <- cluster_diagnostics(fit, cluster = ~ g, param = c("trt", "x"))
  expect_invisible(plot(res2, param = "x"))
  expect_error(plot(res2, param = "nope"), class = "clusterab_error")
  ## balanced, many clusters: nothing dominates
  b <- data.frame(g = rep(1:40, each = 10), x = rnorm(400))
  b$y <- b$x + rnorm(400)
  expect_output(print(cluster_diagnostics(lm(y ~ x, b), cluster = ~ g)), "without the cluster\\): none")
})

test_that("the too-few-clusters warning points to cluster_diagnostics(), CR2 with Satterthwaite df and wild_boot()", {
  d <- diag_data(seed = 11)
  fit <- lm(y ~ trt + x, d)
  expect_warning(vcov_cluster(fit, cluster = ~ g),
                 "CR2.*Satterthwaite df.*wild_boot\\(\\).*randomization_test\\(\\).*cluster_ttest\\(\\).*cluster_diagnostics\\(\\)",
                 class = "clusterab_few_clusters")
})

test_that("bad input gives classed errors naming the argument", {
  d <- diag_data(seed = 12)
  fit <- lm(y ~ trt + x, d)
  expect_error(cluster_diagnostics(fit, cluster = ~ g, param = "z"), "`param` names `z`, which is not a coefficient",
               class = "clusterab_error")
  expect_error(cluster_diagnostics(fit, cluster = ~ g, param = 2), "`param` must name coefficients",
               class = "clusterab_error")
  d$x2 <- 2 * d$x
  fa <- lm(y ~ trt + x + x2, d)
  expect_error(cluster_diagnostics(fa, cluster = ~ g, param = "x2"), "`x2`, which is aliased",
               class = "clusterab_error")
  ra <- cluster_diagnostics(fa, cluster = ~ g, param = "x")
  expect_identical(ra$param, "x")
  expect_equal(ra$clusters$estimate_without, refit_without(y ~ trt + x + x2, d, "x")[, 1L], tolerance = 1e-10)
  two <- d[d$g %in% 1:2, ]
  expect_error(cluster_diagnostics(lm(y ~ x, two), cluster = ~ g), "has 2 clusters.*at least 3",
               class = "clusterab_error")
  gl <- glm(trt ~ x, data = d, family = binomial())
  expect_error(cluster_diagnostics(gl, cluster = ~ g), "`fit` is a glm.*lm\\(\\)", class = "clusterab_error")
  expect_error(cluster_diagnostics(fit, cluster = d$g[-1]), "`cluster` has .* values but the model was fitted to",
               class = "clusterab_error")
  expect_error(cluster_diagnostics(fit), "`cluster` is required", class = "clusterab_error")
  expect_error(cluster_diagnostics(fit, cluster = ~ g + trt), "one clustering variable",
               class = "clusterab_error")
  expect_error(cluster_diagnostics(fit, cluster = ~ g, rho = 2), "`rho` must be one number between 0 and 1",
               class = "clusterab_error")
  expect_error(cluster_diagnostics(d, cluster = ~ g), "`fit` must be an lm\\(\\) or cluster_lm\\(\\) fit",
               class = "clusterab_error")
})

test_that("extreme units: results are equivariant (power-of-two scaling inside), also with rho > 0", {
  d <- diag_data(seed = 13)
  params <- c("trt", "x", "(Intercept)")
  r1 <- cluster_diagnostics(lm(y ~ trt + x, d, weights = w), cluster = ~ g, param = params, rho = 0.4)
  d2 <- transform(d, x = x * 1e150, y = y * 1e-100, w = w * 1e200)
  r2 <- cluster_diagnostics(lm(y ~ trt + x, d2, weights = w), cluster = ~ g, param = params, rho = 0.4)
  expect_equal(r2$clusters$estimate_without.x, r1$clusters$estimate_without.x * 1e-250, tolerance = 1e-10)
  expect_equal(r2$clusters$estimate_without.trt, r1$clusters$estimate_without.trt * 1e-100, tolerance = 1e-10)
  expect_equal(r2$clusters$`estimate_without.(Intercept)`, r1$clusters$`estimate_without.(Intercept)` * 1e-100,
               tolerance = 1e-10)
  expect_equal(r2$std.error, r1$std.error * c(1e-100, 1e-250, 1e-100), tolerance = 1e-10)
  cols <- grep("leverage", names(r1$clusters))
  expect_equal(r2$clusters[, cols], r1$clusters[, cols], tolerance = 1e-10)
  expect_equal(r2$G_star, r1$G_star, tolerance = 1e-10)
})

test_that("the thread count does not change the result; a multiway cluster_lm fit uses its first variable", {
  d <- diag_data(seed = 14)
  fit <- lm(y ~ trt + x, d)
  expect_identical(cluster_diagnostics(fit, cluster = ~ g, threads = 1),
                   cluster_diagnostics(fit, cluster = ~ g, threads = 2))
  d$h <- d$g %% 4
  cm <- quiet_few(cluster_lm(y ~ trt + x, d, cluster = ~ g + h))
  res <- cluster_diagnostics(cm, param = "x")
  expect_identical(res$G, 12L)
  expect_equal(res$clusters$estimate_without, refit_without(y ~ trt + x, d, "x")[, 1L], tolerance = 1e-10)
  expect_error(cluster_diagnostics(cm, cluster = ~ g + h), "one clustering variable", class = "clusterab_error")
})

test_that("factor covariates and interactions (model.matrix columns) give lm()'s leave-out estimates", {
  d <- diag_data(seed = 15)
  d$f <- factor(sample(c("a", "b", "c"), nrow(d), replace = TRUE))
  fit <- lm(y ~ trt * x + f, d)
  params <- c("trt:x", "fc", "trt")
  res <- cluster_diagnostics(fit, cluster = ~ g, param = params)
  expect_equal(unname(without_matrix(res)), refit_without(y ~ trt * x + f, d, params), tolerance = 1e-10)
  X <- model.matrix(fit)
  H <- X %*% solve(crossprod(X), t(X))
  expect_equal(res$clusters$leverage, as.vector(tapply(diag(H), d$g, sum)), tolerance = 1e-10)
})
