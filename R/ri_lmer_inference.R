## Inference for ri_lmer fits: degrees of freedom (Satterthwaite as
## lmerTest, Kenward-Roger as pbkrtest, or counting groups), the summary and
## anova tables, confidence intervals and the ICC. Everything works from the
## fit's per-cluster statistics, in the centred coordinates of the fit
## (`to_original` maps them back), so no cost grows with the number of rows.

## The pieces of Satterthwaite's method as lmerTest defines them: the
## asymptotic covariance of the variance parameters (theta, sigma), twice the
## inverse Hessian of the unprofiled deviance, and the Jacobian of vcov(beta)
## with respect to them. Both are exact here (lmerTest differentiates
## numerically).
satterthwaite_parts <- function(fit) {
  ## theta and sigma of the fit's scaled weights, as `crit` holds them (the
  ## df do not depend on the parametrisation)
  crit <- fit$parts$crit
  theta <- fit$parts$theta
  rho <- theta^2
  sigma <- fit$parts$sigma
  dfres <- if (fit$REML) fit$nobs - length(fit$coefficients) else fit$nobs
  ## derivatives in rho, then in theta (d/dtheta = 2 theta d/drho)
  f1 <- crit$ldL2_1 + if (fit$REML) crit$ldA_1 else 0
  f2 <- crit$ldL2_2 + if (fit$REML) crit$ldA_2 else 0
  f_tt <- 2 * f1 + 4 * rho * f2
  g_t <- 2 * theta * crit$r2_1
  g_tt <- 2 * crit$r2_1 + 4 * rho * crit$r2_2
  H <- matrix(c(f_tt + g_tt / sigma^2, -2 * g_t / sigma^3,
                -2 * g_t / sigma^3, -2 * dfres / sigma^2 + 6 * crit$r2 / sigma^4), 2L, 2L)
  ## the cut-off for (near) null directions is applied to the Hessian in
  ## (theta, sigma / sigma-hat), which is free of the units of y
  D <- c(1, sigma)
  eig <- eigen(H * outer(D, D), symmetric = TRUE)
  pos <- eig$values > 1e-8
  vectors <- eig$vectors[, pos, drop = FALSE]
  vcov_varpar <- 2 * vectors %*% (t(vectors) / eig$values[pos]) * outer(D, D)
  A_inv <- solve_symmetric(crit$A)
  To <- fit$parts$to_original
  jac <- list(-sigma^2 * A_inv %*% (2 * theta * crit$dA) %*% A_inv, 2 * sigma * A_inv)
  list(vcov_varpar = vcov_varpar, jacobian = lapply(jac, function(J) To %*% J %*% t(To)))
}

## Satterthwaite df of one contrast L (original coordinates).
satterthwaite_df <- function(L, fit, sp) {
  v <- drop(L %*% fit$vcov %*% L)
  grad <- vapply(sp$jacobian, function(J) drop(L %*% J %*% L), 0)
  2 * v^2 / drop(grad %*% sp$vcov_varpar %*% grad)
}

## Kenward-Roger pieces (pbkrtest's vcovAdj), from the centred statistics.
kenward_roger_parts <- function(fit) {
  if (!fit$REML) {
    abort("Kenward-Roger's method is only available for REML fits (as in pbkrtest); refit with REML = TRUE.",
         call. = FALSE)
  }
  if (fit$weighted) {
    abort("Kenward-Roger's method is not available with weights (pbkrtest ignores them); use ddf = \"Satterthwaite\".",
         call. = FALSE)
  }
  parts <- fit$parts
  p <- length(fit$coefficients)
  kr_parts(parts$M, t(parts$prep$sums[seq_len(p), , drop = FALSE]), parts$prep$n,
           parts$sigma^2, (parts$theta * parts$sigma)^2)
}

## G minus the number of cluster-level columns (constant within every
## cluster, such as the intercept and a cluster-randomised treatment).
cluster_df <- function(fit) {
  p <- length(fit$coefficients)
  within <- diag(fit$parts$prep$within)[seq_len(p)]
  total <- diag(fit$parts$M)
  df <- fit$ngrps - sum(within <= 1e-10 * total)
  if (df <= 0) {
    abort(sprintf("ddf = \"cluster\" leaves %d degrees of freedom (%d groups, %d cluster-level parameters); use \"Satterthwaite\" or \"Kenward-Roger\".",
                 df, fit$ngrps, fit$ngrps - df), call. = FALSE)
  }
  df
}

check_ddf <- function(ddf) {
  choices <- c("Satterthwaite", "Kenward-Roger", "cluster")
  if (!is.character(ddf) || length(ddf) < 1L || !ddf[1L] %in% choices) {
    abort("`ddf` must be one of \"Satterthwaite\", \"Kenward-Roger\" or \"cluster\".", call. = FALSE)
  }
  ddf[1L]
}

## Estimate, standard error and df of each fixed effect.
fixed_effects_table <- function(fit, ddf) {
  beta <- fit$coefficients
  p <- length(beta)
  V <- fit$vcov
  if (p == 0L) {
    ## a model without fixed effects (y ~ 0 + (1 | g)): an empty table
    none <- numeric(0)
    return(cbind(Estimate = none, `Std. Error` = none, df = none, `t value` = none,
                 `Pr(>|t|)` = none))
  }
  if (ddf == "Satterthwaite") {
    sp <- satterthwaite_parts(fit)
    df <- vapply(seq_len(p), function(j) satterthwaite_df(diag(p)[j, ], fit, sp), 0)
  } else if (ddf == "Kenward-Roger") {
    kr <- kenward_roger_parts(fit)
    To <- fit$parts$to_original
    V <- To %*% kr$Phi_A %*% t(To)
    df <- vapply(seq_len(p), function(j) kr_ddf(To[j, , drop = FALSE], kr), 0)
  } else {
    df <- rep(cluster_df(fit), p)
  }
  se <- sqrt(diag(V))
  tval <- beta / se
  cbind(Estimate = beta, `Std. Error` = se, df = df, `t value` = tval,
        `Pr(>|t|)` = 2 * stats::pt(abs(tval), df, lower.tail = FALSE))
}

#' Summaries, tests and intervals for ri_lmer fits
#'
#' `summary()` gives lmerTest's table of fixed effects: estimates, standard
#' errors, degrees of freedom, t values and p-values, with the degrees of
#' freedom by
#' * `"Satterthwaite"` (default): equal to `lmerTest`'s, computed from the
#'   exact Hessian of the deviance with respect to (theta, sigma) where
#'   lmerTest differentiates numerically;
#' * `"Kenward-Roger"`: equal to `pbkrtest`'s, with its adjusted standard
#'   errors; unweighted REML fits only;
#' * `"cluster"`: G minus the number of cluster-level columns (columns that
#'   are constant within every group, the intercept among them), for every
#'   coefficient: the between-cluster df, conservative for covariates that
#'   vary within groups.
#'
#' On a singular fit (random-intercept variance 0) the methods part ways:
#' Satterthwaite's df is then about N - p, Kenward-Roger's about G - 1; the
#' summary says so.
#'
#' `anova()` with one fit gives an F test for each term of the fixed part
#' (all of its coefficients are zero), with the same choice of `ddf`; this is
#' lmerTest's type III table when the model has no interactions (or uses
#' sum-to-zero contrasts). With several fits it gives likelihood-ratio tests,
#' refitting REML fits by ML first, as lme4 does.
#'
#' `confint()` with `method = "profile"` (default) gives profile-likelihood
#' intervals for the standard deviations `.sig01` (random intercept) and `.sigma`
#' (residual), named as `lme4::confint.merMod(oldNames = TRUE)` names them.
#' The fixed effects get profile-likelihood intervals too (or Wald
#' intervals with `method = "Wald"`). As in lme4, the profiles are of the ML
#' deviance, also for REML fits.
#'
#' @param object An [ri_lmer()] fit.
#' @param ddf Degrees of freedom: "Satterthwaite", "Kenward-Roger" or "cluster".
#' @param ... For `anova()`, further `ri_lmer` fits to compare; otherwise ignored.
#' @return `summary()`: an object of class `summary.ri_lmer` whose
#'   `coefficients` is the table; `anova()`: a data frame of class `anova`;
#'   `confint()`: a matrix with one row per parameter.
#' @examples
#' fit <- ri_lmer(revenue ~ treated + baseline + (1 | region), data = geo_experiment)
#' summary(fit)
#' anova(fit)
#' anova(fit, ddf = "Kenward-Roger")
#' confint(fit)
#' @export
summary.ri_lmer <- function(object, ddf = "Satterthwaite", ...) {
  ddf <- check_ddf(ddf)
  structure(list(fit = object, coefficients = fixed_effects_table(object, ddf), ddf = ddf),
            class = "summary.ri_lmer")
}

#' @export
print.ri_lmer <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  print_fit_header(x, digits)
  if (length(x$coefficients)) {
    cat("Fixed Effects:\n")
    print.default(format(x$coefficients, digits = digits), print.gap = 2L, quote = FALSE)
  } else {
    cat("No fixed effect coefficients\n")
  }
  if (x$singular) cat("boundary (singular) fit: the random-intercept variance is 0\n")
  invisible(x)
}

print_fit_header <- function(x, digits, variance = FALSE, tests = NULL) {
  cat(sprintf("Linear mixed model fit by %s%s ['ri_lmer']\n",
              if (x$REML) "REML" else "maximum likelihood",
              if (is.null(tests)) "" else paste0(". t-tests use ", tests)))
  cat("Formula:", deparse1(x$formula), "\n")
  if (!is.null(x$call$data)) cat("   Data:", deparse1(x$call$data), "\n")
  if (x$REML) {
    cat(sprintf("REML criterion at convergence: %s\n", format(round(x$criterion, 4))))
  } else {
    ll <- logLik(x)
    vals <- c(AIC = stats::AIC(ll), BIC = stats::BIC(ll), logLik = ll, deviance = x$criterion,
              df.resid = df.residual(x))
    print(round(vals, 4))
  }
  cat("Random effects:\n")
  print(variance_table(VarCorr(x), digits, if (variance) c("Variance", "Std.Dev.") else "Std.Dev."),
        quote = FALSE, right = FALSE)
  cat(sprintf("Number of obs: %s, groups:  %s, %s\n", format(x$nobs, big.mark = ","),
              x$group_name, format(x$ngrps, big.mark = ",")))
}

#' @export
print.summary.ri_lmer <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  fit <- x$fit
  tests <- switch(x$ddf, Satterthwaite = "Satterthwaite's method",
                  `Kenward-Roger` = "Kenward-Roger's method (adjusted standard errors)",
                  cluster = "df = groups - cluster-level parameters")
  print_fit_header(fit, digits, variance = TRUE, tests = tests)
  if (!is.null(fit$rows)) {
    cat("\nScaled residuals:\n")
    r <- residuals(fit, type = "pearson", scaled = TRUE)
    q <- stats::quantile(r, na.rm = TRUE)
    names(q) <- c("Min", "1Q", "Median", "3Q", "Max")
    print(q, digits = digits)
  }
  if (nrow(x$coefficients)) {
    cat("\nFixed effects:\n")
    stats::printCoefmat(x$coefficients, digits = digits, has.Pvalue = TRUE, P.values = TRUE)
  } else {
    cat("\nNo fixed effect coefficients\n")
  }
  if (fit$singular) {
    cat(sprintf("boundary (singular) fit: the random-intercept variance is 0; %s\n",
                switch(x$ddf,
                       Satterthwaite = "Satterthwaite's df are then about N - p (as if rows were independent); Kenward-Roger's about G - 1.",
                       `Kenward-Roger` = "Kenward-Roger's df are then about G - 1; Satterthwaite's about N - p.",
                       cluster = "the df count groups.")))
  }
  invisible(x)
}

#' @rdname summary.ri_lmer
#' @export
anova.ri_lmer <- function(object, ..., ddf = "Satterthwaite") {
  others <- list(...)
  if (length(others)) {
    if (!all(vapply(others, inherits, NA, "ri_lmer"))) {
      abort("anova() compares ri_lmer fits; every model in `...` must be one.", call. = FALSE)
    }
    return(compare_ri_lmer(c(list(object), others),
                           vapply(as.list(match.call())[-1L][seq_len(length(others) + 1L)], deparse1, "")))
  }
  ddf <- check_ddf(ddf)
  terms <- setdiff(unique(object$assign), 0L)
  beta <- object$coefficients
  p <- length(beta)
  sp <- if (ddf == "Satterthwaite" && length(terms)) satterthwaite_parts(object)
  kr <- if (ddf == "Kenward-Roger" && length(terms)) kenward_roger_parts(object)
  rows <- lapply(terms, function(k) {
    L <- diag(p)[object$assign == k, , drop = FALSE]
    term_ftest(L, object, ddf, sp, kr)
  })
  table <- if (length(rows)) {
    as.data.frame(do.call(rbind, rows))
  } else {
    ## no fixed-effect terms (only an intercept, or none): an empty table
    as.data.frame(matrix(numeric(0), 0L, 6L, dimnames = list(NULL, c("Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"))))
  }
  rownames(table) <- object$term_labels[terms]
  method <- switch(ddf, Satterthwaite = "Satterthwaite's method",
                   `Kenward-Roger` = "Kenward-Roger's method", cluster = "df = groups - cluster-level parameters")
  structure(table, heading = sprintf("Analysis of Variance Table (F tests of each term's coefficients) with %s", method),
            class = c("anova", "data.frame"))
}

## The F test of L beta = 0, as lmerTest's contestMD (Satterthwaite) and
## pbkrtest's KRmodcomp.
term_ftest <- function(L, fit, ddf, sp, kr) {
  beta <- fit$coefficients
  q <- nrow(L)
  sigma2 <- fit$sigma^2
  out <- function(F, ndf, dendf, scale = 1) {
    c(`Sum Sq` = F * sigma2 * ndf, `Mean Sq` = F * sigma2, NumDF = ndf, DenDF = dendf,
      `F value` = F * scale, `Pr(>F)` = stats::pf(F * scale, ndf, dendf, lower.tail = FALSE))
  }
  if (ddf == "Kenward-Roger") {
    To <- fit$parts$to_original
    res <- kr_ftest(L %*% To, fit$parts$crit$beta, kr)
    return(out(res$stat_unscaled, q, res$ddf, res$F_scaling))
  }
  VL <- L %*% fit$vcov %*% t(L)
  Lb <- drop(L %*% beta)
  if (ddf == "cluster") {
    return(out(drop(crossprod(Lb, solve(VL, Lb))) / q, q, cluster_df(fit)))
  }
  ## Satterthwaite: one df per eigen-direction of L V L', then combined
  eig <- eigen(VL, symmetric = TRUE)
  pos <- eig$values > max(sqrt(.Machine$double.eps) * eig$values[1L], 0)
  PtL <- crossprod(eig$vectors, L)[pos, , drop = FALSE]
  nu <- vapply(seq_len(nrow(PtL)), function(m) satterthwaite_df(PtL[m, ], fit, sp), 0)
  F <- sum(drop(PtL %*% beta)^2 / eig$values[pos]) / sum(pos)
  out(F, sum(pos), combine_satterthwaite_df(nu))
}

## lmerTest's combination of one-df Satterthwaite df into the F test's df.
combine_satterthwaite_df <- function(nu) {
  if (length(nu) == 1L) return(nu)
  if (all(abs(diff(nu)) < 1e-8)) return(mean(nu))
  if (any(nu <= 2)) return(2)
  E <- sum(nu / (nu - 2))
  2 * E / (E - length(nu))
}

## Likelihood-ratio comparison of nested fits, by ML as lme4's anova().
compare_ri_lmer <- function(fits, names) {
  if (any(vapply(fits, function(f) f$REML, NA))) {
    message("refitting model(s) with ML (instead of REML)")
    fits <- lapply(fits, function(f) if (f$REML) refit_ml(f) else f)
  }
  n <- vapply(fits, function(f) f$nobs, 0)
  if (length(unique(n)) > 1L) {
    abort("the models were fitted to different numbers of rows; compare fits of the same data.", call. = FALSE)
  }
  npar <- vapply(fits, function(f) length(f$coefficients) + 2, 0)
  o <- order(npar)
  fits <- fits[o]
  npar <- npar[o]
  ll <- vapply(fits, function(f) as.numeric(logLik(f)), 0)
  dev <- -2 * ll
  chisq <- c(NA, pmax(-diff(dev), 0))
  df <- c(NA, diff(npar))
  table <- data.frame(npar = npar, AIC = dev + 2 * npar, BIC = dev + log(n[1L]) * npar,
                      logLik = ll, deviance = dev, Chisq = chisq, Df = df,
                      `Pr(>Chisq)` = stats::pchisq(chisq, df, lower.tail = FALSE),
                      row.names = names[o], check.names = FALSE)
  structure(table, heading = "Likelihood-ratio tests of ri_lmer fits (by ML)",
            class = c("anova", "data.frame"))
}

refit_ml <- function(fit) {
  call <- fit$call
  call$REML <- FALSE
  eval(call, environment(fit$formula))
}

#' @rdname summary.ri_lmer
#' @param parm Parameters: names or positions among `.sig01`, `.sigma` and
#'   the fixed effects; default all.
#' @param level Confidence level.
#' @param method "profile" (profile-likelihood intervals for every
#'   parameter, as lme4's default) or "Wald" (fixed effects only; `NA` for
#'   the standard deviations, as lme4).
#' @export
confint.ri_lmer <- function(object, parm, level = 0.95, method = c("profile", "Wald"), ...) {
  method <- arg_match(method)
  check_conf_level(level, "level")
  z <- stats::qnorm((1 + level) / 2)
  beta <- object$coefficients
  se <- sqrt(diag(object$vcov))
  names <- c(".sig01", ".sigma", names(beta))
  wanted <- if (missing(parm)) names else if (is.numeric(parm)) names[parm] else parm
  if (anyNA(wanted) || !all(wanted %in% names)) {
    abort(sprintf("`parm` must name parameters among %s.", paste(names, collapse = ", ")), call. = FALSE)
  }
  out <- matrix(NA_real_, length(wanted), 2L)
  ml <- if (method == "profile") ml_optimum(object)
  for (i in seq_along(wanted)) {
    w <- wanted[i]
    j <- match(w, names(beta))
    out[i, ] <- if (!is.na(j) && method == "Wald") {
      beta[[j]] + c(-z, z) * se[[j]]
    } else if (method == "Wald") {
      c(NA_real_, NA_real_)
    } else if (!is.na(j)) {
      fixed_profile_interval(object, j, level, ml)
    } else {
      profile_interval(object, sub("^\\.", "", w), level, ml)
    }
  }
  pct <- paste(format(100 * c((1 - level) / 2, (1 + level) / 2), trim = TRUE, scientific = FALSE, digits = 3), "%")
  dimnames(out) <- list(wanted, pct)
  out
}

## The ML fit's rho and deviance (a REML fit's profiles use the ML deviance),
## found once per confint() call and shared by every profile.
ml_optimum <- function(fit) {
  prep <- fit$parts$prep
  rho <- if (fit$REML) ri_optimise(prep, fit$nobs, FALSE)$rho else fit$parts$theta^2
  list(rho = rho, crit = cpp_ri_criterion(prep$within, prep$sums, prep$n, rho, fit$nobs, FALSE, 0L))
}

## Profile-likelihood interval of fixed effect j: the ML deviance with
## beta_j held at b, minimised over everything else, rises by
## qchisq(level, 1) at the limits. Holding a'beta = b (a the row of
## to_original, in the fit's centred coordinates) eliminates the coefficient
## k with the largest |a_k|, a linear map R of the columns of (X, y).
fixed_profile_interval <- function(fit, j, level, ml) {
  prep <- fit$parts$prep
  p <- length(fit$coefficients)
  q <- p + 1L
  a <- fit$parts$to_original[j, ]
  const <- if (j == 1L && fit$parts$intercept) fit$parts$shift[length(fit$parts$shift)] else 0
  k <- which.max(abs(a))
  others <- setdiff(seq_len(p), k)
  deviance_at <- function(b) {
    R <- matrix(0, q, q - 1L)
    R[cbind(others, seq_along(others))] <- 1
    R[k, seq_along(others)] <- -a[others] / a[k]
    R[q, q - 1L] <- 1
    R[k, q - 1L] <- -(b - const) / a[k]
    sub <- list(within = crossprod(R, prep$within %*% R), sums = crossprod(R, prep$sums), n = prep$n)
    rho <- ri_optimise(sub, fit$nobs, FALSE, around = ml$rho)$rho
    cpp_ri_criterion(sub$within, sub$sums, sub$n, rho, fit$nobs, FALSE, 0L)$deviance
  }
  cut <- stats::qchisq(level, 1)
  rise <- function(b) deviance_at(b) - ml$crit$deviance - cut
  centre <- sum(a * ml$crit$beta) + const
  step <- sqrt(fit$vcov[j, j])
  limit <- function(direction) {
    far <- centre + direction * 2 * step
    while (rise(far) < 0) far <- centre + 2 * (far - centre)
    stats::uniroot(rise, sort(c(centre, far)), tol = step * 1e-9)$root
  }
  c(limit(-1), limit(1))
}

## The ML deviance with sigma_b or sigma held at `value`, minimised over the
## other; beta is profiled throughout. (lme4 profiles the ML deviance for
## REML fits too.)
profiled_deviance <- function(fit, which, value) {
  prep <- fit$parts$prep
  deviance <- function(rho, sigma) {
    crit <- cpp_ri_criterion(prep$within, prep$sums, prep$n, rho, fit$nobs, FALSE, 0L)
    crit$ldL2 + fit$nobs * log(2 * pi * sigma^2) + crit$r2 / sigma^2
  }
  if (which == "sig01") {
    if (value <= 0) {
      crit <- cpp_ri_criterion(prep$within, prep$sums, prep$n, 0, fit$nobs, FALSE, 0L)
      return(crit$deviance)
    }
    f <- function(u) deviance(exp(u), value / sqrt(exp(u)))
  } else {
    f <- function(u) deviance(exp(u), value)
  }
  centre <- log(max(fit$parts$theta^2, 1e-8))
  best <- stats::optimize(f, centre + c(-25, 25), tol = 1e-9)
  value_at <- best$objective
  if (which == "sigma") {
    ## the minimum over rho may sit at rho = 0
    value_at <- min(value_at, deviance(0, value))
  }
  value_at
}

## Profile-likelihood interval of sigma_b ("sig01") or sigma: where the ML
## deviance rises by qchisq(level, 1) above its minimum.
profile_interval <- function(fit, which, level, opt) {
  rho <- opt$rho
  ml <- opt$crit
  dev_min <- ml$deviance
  cut <- stats::qchisq(level, 1)
  sigma_ml <- sqrt(ml$r2 / fit$nobs)
  est <- if (which == "sig01") sqrt(rho) * sigma_ml else sigma_ml
  rise <- function(v) profiled_deviance(fit, which, v) - dev_min - cut
  tol <- sigma_ml * 1e-10
  lower <- if (which == "sig01" && rise(0) <= 0) 0 else {
    lo <- est / 2
    while (rise(lo) < 0) lo <- lo / 2
    stats::uniroot(rise, c(lo, est), tol = tol)$root
  }
  hi <- max(est, sigma_ml) * 2
  while (rise(hi) < 0) hi <- hi * 2
  upper <- stats::uniroot(rise, c(est, hi), tol = tol)$root
  ## sigma of the scaled weights to the data's units (sigma_b needs none)
  if (which == "sigma") c(lower, upper) / sqrt(fit$parts$wscale) else c(lower, upper)
}

## icc() of a fit: sigma_b^2 / (sigma_b^2 + sigma^2), with the profile
## interval of theta (the ICC is theta^2 / (1 + theta^2)).
icc_ri_lmer <- function(x, level) {
  prep <- x$parts$prep
  crit <- function(rho) cpp_ri_criterion(prep$within, prep$sums, prep$n, rho, x$nobs, x$REML, 0L)$deviance
  cut <- stats::qchisq(level, 1)
  dev_min <- x$parts$crit$deviance
  rho_hat <- x$parts$theta^2
  rise <- function(u) crit(exp(u)) - dev_min - cut
  lower <- if (crit(0) - dev_min - cut <= 0) 0 else {
    lo <- log(max(rho_hat, 1e-8)) - 1
    while (rise(lo) < 0 && lo > -50) lo <- lo - 2
    if (rise(lo) < 0) 0 else exp(stats::uniroot(rise, c(lo, log(max(rho_hat, 1e-300))), tol = 1e-12)$root)
  }
  hi <- log(max(rho_hat, 1e-8)) + 1
  while (rise(hi) < 0 && hi < 50) hi <- hi + 2
  upper <- if (rise(hi) < 0) Inf else
    exp(stats::uniroot(rise, c(log(max(rho_hat, 1e-300)), hi), tol = 1e-12)$root)
  ## rho of the scaled weights to the data's units (rho scales as 1 / weight)
  to_icc <- function(r) if (is.infinite(r)) 1 else r * x$parts$wscale / (1 + r * x$parts$wscale)
  ci <- c(to_icc(lower), to_icc(upper))
  attr(ci, "conf.level") <- level
  structure(list(estimate = to_icc(rho_hat), conf.int = ci,
                 method = sprintf("ICC of a random-intercept model (%s), profile-likelihood interval",
                                  if (x$REML) "REML" else "ML"),
                 n_clusters = x$ngrps, n_obs = x$nobs,
                 variance = c(between = (x$theta * x$sigma)^2, within = x$sigma^2)),
            class = "clusterab_icc")
}

#' Tidy an ri_lmer fit
#'
#' One row per fixed effect (`effect = "fixed"`, with the t test of
#' [summary.ri_lmer()]) and per standard deviation (`effect = "ran_pars"`,
#' terms `sd__(Intercept)` and `sd__Observation`, as broom.mixed names them).
#'
#' @param x An [ri_lmer()] fit.
#' @param ddf Degrees of freedom for the fixed effects, as in [summary.ri_lmer()].
#' @param conf.int Add Wald confidence limits for the fixed effects?
#' @param conf.level Their level.
#' @param ... Ignored.
#' @return A data frame with columns `effect`, `group`, `term`, `estimate`,
#'   `std.error`, `statistic`, `df`, `p.value` (and `conf.low`, `conf.high`).
#' @method tidy ri_lmer
#' @export
tidy.ri_lmer <- function(x, ddf = "Satterthwaite", conf.int = FALSE, conf.level = 0.95, ...) {
  check_flag(conf.int, "conf.int")
  if (conf.int) check_conf_level(conf.level, "conf.level")
  tab <- fixed_effects_table(x, check_ddf(ddf))
  fixed <- data.frame(effect = rep("fixed", nrow(tab)), group = rep(NA_character_, nrow(tab)),
                      term = as.character(rownames(tab)),
                      estimate = tab[, 1L], std.error = tab[, 2L], statistic = tab[, 4L],
                      df = tab[, 3L], p.value = tab[, 5L], row.names = NULL)
  if (conf.int) {
    q <- stats::qt((1 + conf.level) / 2, tab[, 3L])
    fixed$conf.low <- tab[, 1L] - q * tab[, 2L]
    fixed$conf.high <- tab[, 1L] + q * tab[, 2L]
  }
  ran <- data.frame(effect = "ran_pars", group = c(x$group_name, "Residual"),
                    term = c("sd__(Intercept)", "sd__Observation"),
                    estimate = c(x$theta * x$sigma, x$sigma), std.error = NA_real_,
                    statistic = NA_real_, df = NA_real_, p.value = NA_real_)
  if (conf.int) ran$conf.low <- ran$conf.high <- NA_real_
  rbind(fixed, ran)
}
