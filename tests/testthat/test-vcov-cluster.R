## vcov_cluster() against sandwich::vcovCL() and clubSandwich::vcovCR().

## vcov_cluster() equals sandwich::vcovCL() for every HC type, one-way with
## and without cadjust, and two-way with and without multi0.
expect_matches_vcovCL <- function(fit, one, two) {
  for (type in c("HC0", "HC1", "HC2", "HC3")) {
    for (cadjust in c(TRUE, FALSE)) {
      expect_vcov_equal(vcov_cluster(fit, cluster = one, type = type, cadjust = cadjust),
                        sandwich::vcovCL(fit, cluster = one, type = type, cadjust = cadjust), 1e-10)
    }
    for (multi0 in c(TRUE, FALSE)) {
      expect_vcov_equal(vcov_cluster(fit, cluster = two, type = type, multi0 = multi0),
                        sandwich::vcovCL(fit, cluster = two, type = type, multi0 = multi0), 1e-10)
    }
  }
}

petersen <- function() {
  need("sandwich")
  e <- new.env()
  utils::data("PetersenCL", package = "sandwich", envir = e)
  e$PetersenCL
}

test_that("PetersenCL: one-way and two-way HC0-HC3 equal sandwich::vcovCL", { quiet_few({
  PetersenCL <- petersen()
  fit <- lm(y ~ x, data = PetersenCL)
  for (type in c("HC0", "HC1", "HC2", "HC3")) {
    for (cadjust in c(TRUE, FALSE)) {
      expect_vcov_equal(vcov_cluster(fit, cluster = ~ firm, type = type, cadjust = cadjust),
                        sandwich::vcovCL(fit, cluster = ~ firm, type = type, cadjust = cadjust),
                        1e-10)
      for (multi0 in c(TRUE, FALSE)) {
        expect_vcov_equal(
          vcov_cluster(fit, cluster = ~ firm + year, type = type, cadjust = cadjust, multi0 = multi0),
          sandwich::vcovCL(fit, cluster = ~ firm + year, type = type, cadjust = cadjust, multi0 = multi0),
          1e-10)
      }
    }
  }
}) })

test_that("PetersenCL: Stata's and Imbens-Kolesar's published values", {
  PetersenCL <- petersen()
  fit <- lm(y ~ x, data = PetersenCL)
  ## Stata: regress y x, vce(cluster firm)
  expect_equal(unname(sqrt(diag(vcov_cluster(fit, cluster = ~ firm)))),
               c(0.0670127, 0.0505957), tolerance = 1e-5)
  ## Bell-McCaffrey (BMlmSE, Imbens and Kolesar 2016), as quoted in sandwich's tests
  bm <- matrix(c(4.494487e-03, -6.592912e-05, -6.592912e-05, 2.568236e-03), 2,
               dimnames = list(c("(Intercept)", "x"), c("(Intercept)", "x")))
  expect_vcov_equal(vcov_cluster(fit, cluster = ~ firm, type = "CR2"), bm, 1e-6)
})

test_that("PetersenCL: CR0-CR3 equal clubSandwich::vcovCR", {
  need("clubSandwich")
  PetersenCL <- petersen()
  fit <- lm(y ~ x, data = PetersenCL)
  for (type in c("CR0", "CR1", "CR1p", "CR1S", "CR2", "CR3")) {
    expect_vcov_equal(vcov_cluster(fit, cluster = ~ firm, type = type),
                      as.matrix(clubSandwich::vcovCR(fit, cluster = PetersenCL$firm, type = type)),
                      1e-8)
  }
  ## HC1 = CR1S, HC2 = CR2 and HC3 = CR3 with cadjust
  expect_vcov_equal(vcov_cluster(fit, cluster = ~ firm, type = "HC1"),
                    vcov_cluster(fit, cluster = ~ firm, type = "CR1S"), 1e-12)
  expect_vcov_equal(vcov_cluster(fit, cluster = ~ firm, type = "HC2"),
                    vcov_cluster(fit, cluster = ~ firm, type = "CR2"), 1e-12)
})

test_that("random data: lm with and without weights, one- and two-way, HC0-HC3", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 25)
  fits <- list(lm(y ~ treat + x1 + x2 + f, data = d),
               lm(y ~ treat + x1 + x2 + f, data = d, weights = w),
               lm(y ~ 0 + treat + x1 + f, data = d, weights = w))
  for (fit in fits) expect_matches_vcovCL(fit, ~ g, ~ g + h)
}) })

test_that("random data: CR0-CR3 equal clubSandwich, with and without weights", { quiet_few({
  need("clubSandwich")
  d <- sim_clustered(G = 25, seed = 2)
  for (fit in list(lm(y ~ treat + x1 + f, data = d), lm(y ~ treat + x1 + f, data = d, weights = w))) {
    for (type in c("CR0", "CR1", "CR1p", "CR1S", "CR2", "CR3")) {
      expect_vcov_equal(vcov_cluster(fit, cluster = ~ g, type = type),
                        as.matrix(clubSandwich::vcovCR(fit, cluster = d$g, type = type)), 1e-8)
    }
  }
}) })

test_that("glm: binomial and poisson, weights, offsets, one- and two-way, HC0-HC3", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 30, seed = 3)
  d$exposure <- runif(nrow(d), 1, 3)
  fits <- list(glm(yb ~ treat + x1, data = d, family = binomial),
               suppressWarnings(glm(yb ~ treat + x1, data = d, family = binomial, weights = w)),
               glm(yp ~ treat + x1 + f, data = d, family = poisson),
               glm(yp ~ treat + x1 + offset(log(exposure)), data = d, family = poisson, weights = w))
  for (fit in fits) expect_matches_vcovCL(fit, ~ g, ~ g + h)
  ## type = NULL means HC0 for glm, HC1 for lm, as in sandwich
  expect_vcov_equal(vcov_cluster(fits[[1]], cluster = ~ g), sandwich::vcovCL(fits[[1]], cluster = ~ g), 1e-10)
}) })

test_that("glm: CR0, CR1S and CR3 equal clubSandwich; CR2 with varying weights is refused", {
  need("clubSandwich")
  d <- sim_clustered(G = 30, seed = 4)
  fit <- glm(yb ~ treat + x1, data = d, family = binomial)
  for (type in c("CR0", "CR1", "CR1S", "CR3")) {
    expect_vcov_equal(vcov_cluster(fit, cluster = ~ g, type = type),
                      as.matrix(clubSandwich::vcovCR(fit, cluster = d$g, type = type)), 1e-8)
  }
  expect_error(vcov_cluster(fit, cluster = ~ g, type = "CR2"), "HC2")
  gauss <- glm(y ~ treat + x1, data = d)
  expect_vcov_equal(vcov_cluster(gauss, cluster = ~ g, type = "CR2"),
                    as.matrix(clubSandwich::vcovCR(gauss, cluster = d$g, type = "CR2")), 1e-8)
})

test_that("sandwich's InstInnovation examples (glm and lm with subset)", { quiet_few({
  need("sandwich")
  e <- new.env()
  utils::data("InstInnovation", package = "sandwich", envir = e)
  InstInnovation <- e$InstInnovation
  n <- glm(cites ~ institutions, family = "poisson", data = InstInnovation)
  for (type in c("HC0", "HC1", "HC3")) {
    expect_vcov_equal(vcov_cluster(n, cluster = ~ company + year, type = type),
                      sandwich::vcovCL(n, cluster = ~ company + year, type = type), 1e-10)
  }
  expect_vcov_equal(vcov_cluster(n, cluster = ~ company, type = "HC2"),
                    sandwich::vcovCL(n, cluster = ~ company, type = "HC2"), 1e-10)
  o <- lm(log(cites) ~ institutions, data = InstInnovation, subset = cites > 0)
  for (type in c("HC0", "HC1", "HC2", "HC3")) {
    for (multi0 in c(TRUE, FALSE)) {
      expect_vcov_equal(vcov_cluster(o, cluster = ~ company + year, type = type, multi0 = multi0),
                        sandwich::vcovCL(o, cluster = ~ company + year, type = type, multi0 = multi0),
                        1e-10)
    }
  }
}) })

test_that("HC2 with large weighted clusters equals the exact dense computation", {
  ## sandwich's non-symmetric eigen-decomposition loses accuracy for clusters
  ## of hundreds of rows with working weights (1% here), so the reference is
  ## the symmetric form computed densely: W^-1/2 (I - Z B Z')^-1/2 W^1/2.
  need("sandwich")
  e <- new.env()
  utils::data("InstInnovation", package = "sandwich", envir = e)
  d <- droplevels(e$InstInnovation[e$InstInnovation$year %in% 1991:1993, ])
  fit <- glm(cites ~ institutions, family = "poisson", data = d)
  X <- model.matrix(fit); w <- fit$weights; r <- fit$residuals
  B <- chol2inv(qr.R(fit$qr))
  inv_sqrt <- function(A) { ev <- eigen(A, symmetric = TRUE); ev$vectors %*% (ev$values^-0.5 * t(ev$vectors)) }
  S <- t(sapply(split(seq_along(r), d$year), function(i) {
    Z <- sqrt(w[i]) * X[i, , drop = FALSE]
    A <- (1 / sqrt(w[i])) * inv_sqrt(diag(length(i)) - Z %*% B %*% t(Z)) %*% diag(sqrt(w[i]))
    drop(t(X[i, , drop = FALSE]) %*% A %*% (w[i] * r[i]))
  }))
  V <- B %*% crossprod(S) %*% B
  dimnames(V) <- list(names(coef(fit)), names(coef(fit)))
  expect_vcov_equal(vcov_cluster(fit, cluster = ~ year, type = "HC2"), V, 1e-10)
})

test_that("an ill-conditioned design (large mean, small spread) is computed accurately", {
  ## cond(X) is about 3e11 here: sandwich, working on the uncentred design,
  ## is off by about 1e-4. The reference is sandwich on the same model with
  ## centred covariates (cond about 10), mapped back to the original
  ## intercept; we must equal it to 1e-10.
  need("sandwich")
  ill <- sim_ill_conditioned(seed = 5)
  for (family in list(NULL, poisson())) {
    if (is.null(family)) {
      fit <- lm(y ~ treat + year + time, data = ill$data)
      ref_fit <- lm(y ~ treat + year + time, data = ill$centred)
    } else {
      fit <- glm(yp ~ treat + year + time, data = ill$data, family = family)
      ref_fit <- glm(yp ~ treat + year + time, data = ill$centred, family = family)
    }
    expect_gt(kappa(model.matrix(fit), exact = TRUE), 1e10)
    for (type in c("HC1", "HC2", "HC3")) {
      ref <- uncentred_reference(sandwich::vcovCL(ref_fit, cluster = ~ g, type = type), ill,
                                 names(coef(fit)))
      ## the glm reference is a second IRLS fit, which itself agrees with
      ## the first only to about 1e-10
      expect_vcov_equal(vcov_cluster(fit, cluster = ~ g, type = type), ref,
                        if (is.null(family)) 1e-10 else 1e-9)
    }
  }
})

test_that("NA handling follows the fit's na.action; cluster may be a formula or a vector", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 20, seed = 6)
  d$y[c(3, 10)] <- NA
  d$x1[25] <- NA
  for (na in list(na.omit, na.exclude)) {
    fit <- lm(y ~ treat + x1, data = d, na.action = na)
    ref <- sandwich::vcovCL(fit, cluster = ~ g)
    expect_vcov_equal(vcov_cluster(fit, cluster = ~ g), ref, 1e-10)
    expect_vcov_equal(vcov_cluster(fit, cluster = d$g), ref, 1e-10)               # full length
    expect_vcov_equal(vcov_cluster(fit, cluster = d$g[complete.cases(d[c("y", "x1")])]), ref, 1e-10)
    expect_vcov_equal(vcov_cluster(fit, cluster = d["g"]), ref, 1e-10)
    gfit <- glm(yp ~ treat + x1, data = d, family = poisson, na.action = na)
    expect_vcov_equal(vcov_cluster(gfit, cluster = ~ g), sandwich::vcovCL(gfit, cluster = ~ g), 1e-10)
  }
}) })

test_that("aliased coefficients: reduced covariance for the rest, as sandwich", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 20, seed = 7)
  d$x3 <- 2 * d$x1 - d$x2
  fit <- lm(y ~ treat + x1 + x2 + x3, data = d)
  expect_true(is.na(coef(fit)["x3"]))
  V <- vcov_cluster(fit, cluster = ~ g)
  expect_identical(rownames(V), c("(Intercept)", "treat", "x1", "x2"))
  expect_vcov_equal(V, sandwich::vcovCL(fit, cluster = ~ g), 1e-10)
  expect_vcov_equal(vcov_cluster(fit, cluster = ~ g, type = "HC2"),
                    sandwich::vcovCL(fit, cluster = ~ g, type = "HC2"), 1e-10)
}) })

test_that("documented departures: unused factor levels and zero weights are dropped", { quiet_few({
  need("sandwich")
  d <- sim_clustered(G = 20, seed = 8)
  fit <- lm(y ~ treat + x1, data = d)
  gf <- factor(d$g, levels = c(unique(d$g), 999))        # one unused level
  ## sandwich counts 21 clusters in G / (G - 1); we count the 20 that exist
  G <- 20
  expect_vcov_equal(vcov_cluster(fit, cluster = gf),
                    sandwich::vcovCL(fit, cluster = gf) * (G / (G - 1)) / ((G + 1) / G), 1e-10)
  expect_vcov_equal(vcov_cluster(fit, cluster = gf), sandwich::vcovCL(fit, cluster = d$g), 1e-10)
  ## zero weights: we equal sandwich on the data without those rows
  d$w[c(1, 5, 9)] <- 0
  fw <- lm(y ~ treat + x1, data = d, weights = w)
  ref <- sandwich::vcovCL(lm(y ~ treat + x1, data = d[d$w > 0, ], weights = w), cluster = ~ g)
  expect_vcov_equal(vcov_cluster(fw, cluster = ~ g), ref, 1e-10)
  expect_false(isTRUE(all.equal(unname(sandwich::vcovCL(fw, cluster = ~ g)), unname(ref))))
}) })

test_that("clusters of size one give heteroskedasticity-consistent errors", {
  need("sandwich")
  d <- sim_clustered(G = 20, seed = 9)
  fit <- lm(y ~ treat + x1, data = d)
  for (type in c("HC0", "HC1", "HC2", "HC3")) {
    ## with G = n, cadjust makes HC1 n / (n - k) and cancels the (n - 1) / n of HC2/HC3
    expect_vcov_equal(vcov_cluster(fit, cluster = seq_len(nrow(d)), type = type, cadjust = type != "HC0"),
                      sandwich::vcovHC(fit, type = type), 1e-10)
  }
  expect_vcov_equal(vcov_cluster(fit), sandwich::vcovCL(fit), 1e-10)
})

test_that("fix = TRUE repairs a non-positive-definite multiway matrix as sandwich", { quiet_few({
  need("sandwich")
  PetersenCL <- petersen()
  fit <- lm(y ~ x, data = PetersenCL)
  expect_vcov_equal(vcov_cluster(fit, cluster = ~ firm + year, fix = TRUE),
                    sandwich::vcovCL(fit, cluster = ~ firm + year, fix = TRUE), 1e-10)
}) })

test_that("cluster ids of any type give the same result", { quiet_few({
  d <- sim_clustered(G = 15, seed = 10)
  fit <- lm(y ~ treat + x1, data = d)
  ref <- vcov_cluster(fit, cluster = d$g)
  ids <- list(as.character(d$g), factor(d$g), d$g + 0.5, as.Date("2020-01-01") + d$g,
              paste0("geo-", d$g))
  for (id in ids) expect_vcov_equal(vcov_cluster(fit, cluster = id), ref, 1e-13)
}) })

test_that("results do not depend on the number of threads", {
  d <- sim_clustered(G = 30, seed = 11)
  fit <- lm(y ~ treat + x1 + f, data = d, weights = w)
  for (type in c("HC1", "HC2", "CR2")) {
    expect_identical(vcov_cluster(fit, cluster = ~ g, type = type, threads = 1),
                     vcov_cluster(fit, cluster = ~ g, type = type, threads = 2))
  }
})

test_that("vcov_cluster plugs into lmtest::coeftest", { quiet_few({
  need("lmtest"); need("sandwich")
  d <- sim_clustered(G = 20, seed = 12)
  fit <- lm(y ~ treat + x1, data = d)
  expect_equal(lmtest::coeftest(fit, vcov = vcov_cluster, cluster = ~ g),
               lmtest::coeftest(fit, vcov = sandwich::vcovCL, cluster = ~ g), tolerance = 1e-10)
}) })

test_that("bad input: clear errors naming the argument", { quiet_few({
  d <- sim_clustered(G = 10, seed = 13)
  fit <- lm(y ~ x1, data = d)
  with_na <- d$g
  with_na[3] <- NA
  expect_error(vcov_cluster(fit, cluster = with_na), "`cluster` has 1 missing value")
  expect_error(vcov_cluster(fit, cluster = d$g[-1]),
               sprintf("`cluster` has %d values but the model was fitted to %d observations",
                       nrow(d) - 1L, nrow(d)))
  expect_error(vcov_cluster(fit, cluster = rep(1, nrow(d))), "single cluster")
  expect_error(vcov_cluster(fit, cluster = ~ nosuch), "`nosuch` in `cluster` was not found")
  expect_error(vcov_cluster(fit, cluster = ~ g, type = "HC4"), "`type` must be one of")
  expect_error(vcov_cluster(fit, cluster = ~ g, cadjust = NA), "`cadjust`")
  expect_error(vcov_cluster(fit, cluster = ~ g + h, type = "CR2"), "one clustering variable")
  expect_error(vcov_cluster(1:3), "works on `lm`, `glm` and `cluster_lm` fits")
  expect_error(vcov_cluster(lm(cbind(y, x2) ~ x1, data = d), cluster = ~ g), "mlm")
  expect_error(vcov_cluster(fit, cluster = ~ g, threads = 0), "`threads`")
  ## a cluster missing only where the fit dropped the row is fine
  d2 <- d
  d2$y[3] <- NA
  fit2 <- lm(y ~ x1, data = d2)
  expect_silent(suppressWarnings(vcov_cluster(fit2, cluster = with_na), classes = "clusterab_few_clusters"))
  ## as many coefficients as observations
  tiny <- data.frame(y = c(1, 2, 4), x = c(0, 1, 3), g = c(1, 1, 2))
  expect_error(vcov_cluster(lm(y ~ poly(x, 2), data = tiny), cluster = ~ g), "no residual degrees of freedom")
}) })

test_that("`cluster` as a column name is looked up in the model's data", {
  need("sandwich")
  d <- sim_clustered(G = 40, seed = 14)
  d$y[c(2, 9)] <- NA
  fit <- lm(y ~ treat + x1, data = d, subset = x2 > 0.1)
  ## used to fail with a misleading length error
  expect_vcov_equal(vcov_cluster(fit, cluster = "g"), sandwich::vcovCL(fit, cluster = ~ g), 1e-10)
  expect_identical(vcov_cluster(fit, cluster = "g"), vcov_cluster(fit, cluster = ~ g))
  expect_identical(quiet_few(vcov_cluster(fit, cluster = c("g", "h"))),
                   quiet_few(vcov_cluster(fit, cluster = ~ g + h)))
  ## one string per observation is still a vector of ids
  full <- lm(y ~ treat + x1, data = d)
  ids <- paste0("id", d$g)
  expect_identical(vcov_cluster(full, cluster = ids), vcov_cluster(full, cluster = ~ g))
  expect_error(vcov_cluster(full, cluster = "nosuch"), "`nosuch` in `cluster` was not found",
               class = "clusterab_error")
  expect_error(vcov_cluster(full, cluster = c("g", "nosuch")), "`nosuch`", class = "clusterab_error")
  expect_error(vcov_cluster(full, cluster = NA_character_), "`cluster`", class = "clusterab_error")
})

test_that("few clusters: vcov_cluster() warns once, classed, for uncorrected types only", {
  PetersenCL <- petersen()
  fit <- lm(y ~ x, data = PetersenCL)
  expect_warning(vcov_cluster(fit, cluster = ~ year, type = "HC1"), "only 10 clusters \\(`year`\\)",
                 class = "clusterab_few_clusters")
  expect_silent(vcov_cluster(fit, cluster = ~ year, type = "HC2"))
  expect_silent(vcov_cluster(fit, cluster = ~ firm))
  ## multiway: the smallest number of clusters counts
  expect_warning(vcov_cluster(fit, cluster = ~ firm + year), "only 10 clusters \\(`year`\\)",
                 class = "clusterab_few_clusters")
  ## a vector of ids is named by its expression
  expect_warning(vcov_cluster(fit, cluster = PetersenCL$year), "`PetersenCL\\$year`",
                 class = "clusterab_few_clusters")
  ## a dummy for one firm: named, for lm and glm
  PetersenCL$one <- as.numeric(PetersenCL$firm == 7)
  expect_warning(vcov_cluster(lm(y ~ x + one, data = PetersenCL), cluster = ~ firm, type = "CR2"),
                 "`one` cannot be estimated without cluster 7 of `firm`", class = "clusterab_single_cluster")
  PetersenCL$yp <- rpois(nrow(PetersenCL), 2)
  expect_warning(vcov_cluster(glm(yp ~ x + one, data = PetersenCL, family = poisson), cluster = ~ firm,
                              type = "HC2"),
                 "`one` cannot be estimated", class = "clusterab_single_cluster")
})

test_that("refusals name `x`, the fitted model", {
  d <- sim_clustered(G = 30, seed = 66)
  expect_error(vcov_cluster(d, cluster = ~ g), "^`x` must be a fitted model", class = "clusterab_error")
  expect_error(vcov_cluster(NULL), "^`x` must be", class = "clusterab_error")
  expect_error(vcov_cluster(lm(cbind(y, x1) ~ treat, data = d), cluster = ~ g),
               "`x` is a multivariate \\(mlm\\) fit", class = "clusterab_error")
  expect_error(vcov_cluster(lm(y ~ x1 + treat, data = d[match(1:3, d$g), ]), cluster = ~ g),
               "`x`, the fitted model, has no residual degrees of freedom", class = "clusterab_error")
  expect_error(vcov_cluster(lm(y ~ 0, data = d), cluster = ~ g),
               "every coefficient of `x`, the fitted model, is aliased", class = "clusterab_error")
})

test_that("a variance that overflows in the data's units names the outcome", {
  d <- sim_clustered(G = 30, seed = 67)
  d$y <- d$y * 1e200
  fit <- lm(y ~ x1 + treat, data = d, weights = w)
  expect_error(quiet_few(vcov_cluster(fit, cluster = ~ g, type = "CR2")), "the outcome `y`",
               class = "clusterab_error")
})

## ---- multiway clustering: sandwich, fixest, cadjust = "min" -----------------

## Two-way data whose intersection has clusters of one row and of several,
## more than one block of rows and of clusters in the C++ pass.
multiway_data <- function(n = 12000, seed = 201) {
  set.seed(seed)
  d <- data.frame(g1 = sample.int(300, n, TRUE), g2 = sample.int(40, n, TRUE),
                  g3 = sample.int(6, n, TRUE), w = rexp(n))
  ## covariates and errors correlated within every clustering variable, so
  ## that each term's meat is sizeable and the covariance positive definite
  d$x1 <- rnorm(n) + rnorm(300)[d$g1] + rnorm(40)[d$g2] + rnorm(6)[d$g3]
  d$x2 <- runif(n) + rnorm(300)[d$g1] + rnorm(6)[d$g3]
  d$y <- 0.5 * d$x1 + rnorm(300)[d$g1] + rnorm(40)[d$g2] + 2 * rnorm(6)[d$g3] + rnorm(n)
  d
}

test_that("two- and three-way clustering equal sandwich::vcovCL (cadjust, HC0/HC1, weights, multi0)", { quiet_few({
  need("sandwich")
  d <- multiway_data()
  for (wts in c(FALSE, TRUE)) {
    fit <- if (wts) lm(y ~ x1 + x2, data = d, weights = w) else lm(y ~ x1 + x2, data = d)
    for (cl in list(~ g1 + g2, ~ g1 + g2 + g3)) for (type in c("HC0", "HC1")) {
      for (cadjust in c(TRUE, FALSE)) for (multi0 in c(FALSE, TRUE)) {
        ref <- sandwich::vcovCL(fit, cluster = cl, type = type, cadjust = cadjust, multi0 = multi0)
        expect_vcov_equal(vcov_cluster(fit, cluster = cl, type = type, cadjust = cadjust,
                                       multi0 = multi0), ref, 1e-10)
      }
      cfit <- cluster_lm(y ~ x1 + x2, data = d, cluster = cl, type = type,
                         weights = if (wts) ~ w)
      expect_vcov_equal(vcov(cfit), sandwich::vcovCL(fit, cluster = cl, type = type), 1e-10)
      cfit0 <- cluster_lm(y ~ x1 + x2, data = d, cluster = cl, type = type, cadjust = FALSE,
                          weights = if (wts) ~ w)
      expect_vcov_equal(vcov(cfit0), sandwich::vcovCL(fit, cluster = cl, type = type, cadjust = FALSE), 1e-10)
      expect_vcov_equal(vcov_cluster(cfit, multi0 = TRUE),
                        sandwich::vcovCL(fit, cluster = cl, type = type, multi0 = TRUE), 1e-10)
    }
  }
  ## the leverage types keep their per-term path
  fit <- lm(y ~ x1 + x2, data = d)
  expect_vcov_equal(vcov(cluster_lm(y ~ x1 + x2, data = d, cluster = ~ g1 + g2, type = "HC3")),
                    sandwich::vcovCL(fit, cluster = ~ g1 + g2, type = "HC3"), 1e-10)
}) })

test_that("relabelled ids of mixed types give identical multiway covariances", { quiet_few({
  d <- multiway_data(seed = 202)
  fit <- lm(y ~ x1 + x2, data = d)
  ref <- vcov_cluster(fit, cluster = ~ g1 + g2)
  ids <- data.frame(a = paste0("unit-", d$g1), b = as.Date("2020-01-01") + d$g2)
  ids2 <- data.frame(a = factor(d$g1, levels = sample(unique(d$g1))), b = d$g2 * 1e6 + 0.5)
  expect_identical(vcov_cluster(fit, cluster = ids), ref)
  expect_identical(vcov_cluster(fit, cluster = ids2), ref)
  cref <- vcov(cluster_lm(y ~ x1 + x2, data = d, cluster = ~ g1 + g2))
  d$a <- ids$a; d$b <- ids$b
  expect_identical(vcov(cluster_lm(y ~ x1 + x2, data = d, cluster = ~ a + b)), cref)
}) })

test_that('cadjust = "min" is min(G) / (min(G) - 1) for every term, as fixest', { quiet_few({
  need("sandwich")
  d <- multiway_data(seed = 203)
  fit <- lm(y ~ x1 + x2, data = d, weights = w)
  for (cl in list(~ g1 + g2, ~ g1 + g2 + g3)) {
    G_min <- min(lengths(lapply(d[all.vars(cl)], unique)))
    for (type in c("HC0", "HC1")) {
      ## the explicit formula: one factor times the unadjusted sum over terms
      ref <- G_min / (G_min - 1) * sandwich::vcovCL(fit, cluster = cl, type = type, cadjust = FALSE)
      expect_vcov_equal(vcov_cluster(fit, cluster = cl, type = type, cadjust = "min"), ref, 1e-10)
      cfit <- cluster_lm(y ~ x1 + x2, data = d, cluster = cl, type = type, weights = ~ w,
                         cadjust = "min")
      expect_vcov_equal(vcov(cfit), ref, 1e-10)
      expect_vcov_equal(vcov_cluster(cluster_lm(y ~ x1 + x2, data = d, cluster = cl, type = type,
                                                weights = ~ w), cadjust = "min"), ref, 1e-10)
    }
  }
  ## multi0: the one-cluster-per-row term takes no cluster factor
  f0 <- lm(y ~ x1 + x2, data = d)
  ref <- 6 / 5 * (sandwich::vcovCL(f0, cluster = ~ g2, type = "HC0", cadjust = FALSE) +
                    sandwich::vcovCL(f0, cluster = ~ g3, type = "HC0", cadjust = FALSE)) -
    sandwich::vcovHC(f0, type = "HC0")
  expect_vcov_equal(vcov_cluster(f0, cluster = ~ g2 + g3, type = "HC0", cadjust = "min", multi0 = TRUE),
                    ref, 1e-10)
  ## one clustering variable: "min" is TRUE
  expect_identical(vcov(cluster_lm(y ~ x1, data = d, cluster = ~ g1, cadjust = "min")),
                   vcov(cluster_lm(y ~ x1, data = d, cluster = ~ g1)))
}) })

test_that('cadjust = "min" and TRUE equal fixest feols() with G.df = "min" and "conventional"', { quiet_few({
  skip_if_not_installed("fixest")  # not in Debian; CI does not compile it from CRAN (see test-fixed-effects.R)
  d <- multiway_data(seed = 204)
  for (cl in list(~ g1 + g2, ~ g1 + g2 + g3)) {
    fx <- fixest_fun("feols")(y ~ x1 + x2, data = d, cluster = cl, weights = ~ w)
    fit <- lm(y ~ x1 + x2, data = d, weights = w)
    expect_vcov_equal(vcov_cluster(fit, cluster = cl, cadjust = "min"), stats::vcov(fx), 1e-10)
    cfit <- cluster_lm(y ~ x1 + x2, data = d, cluster = cl, weights = ~ w, cadjust = "min")
    expect_vcov_equal(vcov(cfit), stats::vcov(fx), 1e-10)
    expect_vcov_equal(vcov(cluster_lm(y ~ x1 + x2, data = d, cluster = cl, weights = ~ w)),
                      stats::vcov(fx, ssc = fixest_fun("ssc")(G.df = "conventional")), 1e-10)
    ## coef_test: fixest's t tests use min(G) - 1 df
    ct <- coef_test(cfit)
    ref <- fixest_fun("coeftable")(fx)
    expect_equal(unname(ct[, "Std. Error"]), unname(ref[, "Std. Error"]), tolerance = 1e-10)
    expect_equal(unname(ct[, "Pr(>|t|)"]), unname(ref[, "Pr(>|t|)"]), tolerance = 1e-8)
    ct2 <- coef_test(fit, cluster = cl, cadjust = "min")
    expect_equal(unname(ct2[, "Std. Error"]), unname(ref[, "Std. Error"]), tolerance = 1e-10)
  }
}) })

test_that("multiway results do not depend on the number of threads", { quiet_few({
  d <- multiway_data(seed = 205)
  for (cl in list(~ g1 + g2, ~ g1 + g2 + g3)) for (cadjust in list(TRUE, "min")) {
    expect_identical(vcov(cluster_lm(y ~ x1 + x2, data = d, cluster = cl, weights = ~ w,
                                     cadjust = cadjust, threads = 1)),
                     vcov(cluster_lm(y ~ x1 + x2, data = d, cluster = cl, weights = ~ w,
                                     cadjust = cadjust, threads = 2)))
    fit <- lm(y ~ x1 + x2, data = d, weights = w)
    expect_identical(vcov_cluster(fit, cluster = cl, cadjust = cadjust, threads = 1),
                     vcov_cluster(fit, cluster = cl, cadjust = cadjust, threads = 2))
  }
}) })

test_that("a bad `cadjust` is a classed error naming it", { quiet_few({
  d <- multiway_data(n = 500, seed = 206)
  fit <- lm(y ~ x1, data = d)
  cfit <- cluster_lm(y ~ x1, data = d, cluster = ~ g1 + g2)
  for (bad in list("max", "MIN", NA, c(TRUE, FALSE), 1, NULL, NA_character_, list(TRUE))) {
    expect_error(vcov_cluster(fit, cluster = ~ g1 + g2, cadjust = bad), "`cadjust` must be TRUE",
                 class = "clusterab_error")
    expect_error(cluster_lm(y ~ x1, data = d, cluster = ~ g1 + g2, cadjust = bad),
                 "`cadjust` must be TRUE", class = "clusterab_error")
    expect_error(vcov_cluster(cfit, cadjust = bad), "`cadjust`", class = "clusterab_error")
    expect_error(coef_test(fit, cluster = ~ g1 + g2, cadjust = bad), "`cadjust`",
                 class = "clusterab_error")
  }
  expect_error(vcov_cluster(fit, cluster = ~ g1, cadjust = "max"), '"min".*not "max"',
               class = "clusterab_error")
}) })

test_that("multiway scores of clusters with tiny weights do not underflow", { quiet_few({
  ## Two groups with their own coefficients: multiplying one group's weights
  ## by 1e-220 leaves the covariance unchanged, though the squares of its
  ## scores (1e-440) are below the smallest double.
  d <- multiway_data(n = 6000, seed = 207)
  d$grp <- factor(d$g1 %% 2L)
  d$tiny <- ifelse(d$grp == "1", 1e-220, 1) * d$w
  fml <- y ~ 0 + grp + grp:x1 + grp:x2
  for (cl in list(~ g1 + g2, ~ g2 + g3)) for (type in c("HC0", "HC1")) {
    ref <- vcov_cluster(lm(fml, data = d, weights = w), cluster = cl, type = type)
    expect_vcov_equal(vcov(cluster_lm(fml, data = d, cluster = cl, type = type, weights = ~ tiny)),
                      ref, 1e-10)
  }
}) })
