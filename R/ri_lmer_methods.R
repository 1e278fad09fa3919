## Methods for ri_lmer fits, shaped like lme4's for merMod objects.

#' Extractors for ri_lmer fits
#'
#' The lme4 extractors for [ri_lmer()] fits. `fixef()`, `ranef()` and
#' `VarCorr()` are nlme's generics (which lme4 also uses), re-exported here,
#' so they work whether or not lme4 is attached; so do `ngrps()`,
#' `isSingular()` and lme4's `getME()` (for "theta", "lower", "beta",
#' "sigma", "devcomp" and a few more). lme4's `REMLcrit()` is not generic:
#' when lme4 is attached after clusterab it masks ours, so write
#' `clusterab::REMLcrit(fit)` then. `ranef()` gives the
#' conditional modes of the random intercepts, ordered as lme4 orders them
#' (factor levels, or sorted ids), with their conditional variances in the
#' attribute "postVar" when `condVar = TRUE`.
#'
#' @param object,x An [ri_lmer()] fit.
#' @param condVar Attach the conditional variances?
#' @param add.dropped Include aliased (dropped) columns as `NA`?
#' @param sigma Scale of the standard deviations in `VarCorr()`'s print (1).
#' @param REML For `deviance()`: `NULL` (the fit's own criterion for ML
#'   fits; for REML fits, the REML criterion with a note, as lme4 warns) or a
#'   flag choosing the ML deviance or the REML criterion at the estimates.
#' @param type For `residuals()`: "response" (default) or "pearson" (times
#'   the square root of the weights).
#' @param scaled Divide residuals by sigma?
#' @param ... Ignored.
#' @name ri_lmer_methods
#' @return As the lme4 methods of the same name.
#' @examples
#' fit <- ri_lmer(revenue ~ treated + (1 | region), data = geo_experiment)
#' fixef(fit)
#' head(ranef(fit)$region)
#' VarCorr(fit)
#' sigma(fit)
#' logLik(fit)
#' head(coef(fit)$region)
#' ngrps(fit)
#' isSingular(fit)
NULL

#' @importFrom nlme fixef ranef VarCorr
#' @export
nlme::fixef
#' @export
nlme::ranef
#' @export
nlme::VarCorr

#' @rdname ri_lmer_methods
#' @export
fixef.ri_lmer <- function(object, add.dropped = FALSE, ...) {
  if (!add.dropped || !any(object$aliased)) return(object$coefficients)
  out <- stats::setNames(rep(NA_real_, length(object$aliased)), names(object$aliased))
  out[names(object$coefficients)] <- object$coefficients
  out
}

#' @rdname ri_lmer_methods
#' @export
ranef.ri_lmer <- function(object, condVar = TRUE, ...) {
  check_flag(condVar, "condVar")
  o <- object$group_order
  block <- data.frame(`(Intercept)` = object$ranef[o], check.names = FALSE,
                      row.names = as.character(object$cluster[o]))
  if (condVar) attr(block, "postVar") <- array(object$condvar[o], c(1L, 1L, length(o)))
  structure(stats::setNames(list(block), object$group_name), class = "ranef_ri_lmer")
}

#' @export
print.ranef_ri_lmer <- function(x, ...) {
  for (g in names(x)) {
    cat("$", g, "\n", sep = "")
    block <- x[[g]]
    attr(block, "postVar") <- NULL
    print(block, ...)
    cat("\n")
  }
  if (!is.null(attr(x[[1L]], "postVar"))) cat("with conditional variances for \"", names(x)[1L], "\" \n", sep = "")
  invisible(x)
}

#' @export
as.data.frame.ranef_ri_lmer <- function(x, row.names = NULL, optional = FALSE, ...) {
  block <- x[[1L]]
  pv <- attr(block, "postVar")
  data.frame(grpvar = names(x)[1L], term = factor("(Intercept)"),
             grp = factor(rownames(block), levels = rownames(block)),
             condval = block[[1L]], condsd = if (is.null(pv)) NA_real_ else sqrt(as.vector(pv)))
}

#' @rdname ri_lmer_methods
#' @export
VarCorr.ri_lmer <- function(x, sigma = 1, ...) {
  if (!is.numeric(sigma) || length(sigma) != 1L || is.na(sigma) || sigma <= 0) {
    abort("`sigma` must be a single positive number (the scale of the printed standard deviations).",
         call. = FALSE)
  }
  sd_b <- x$theta * x$sigma
  block <- matrix(sd_b^2, 1L, 1L, dimnames = list("(Intercept)", "(Intercept)"))
  attr(block, "stddev") <- c(`(Intercept)` = sd_b)
  attr(block, "correlation") <- matrix(1, 1L, 1L, dimnames = dimnames(block))
  structure(stats::setNames(list(block), x$group_name), sc = x$sigma, useSc = TRUE,
            class = "VarCorr_ri_lmer")
}

#' @export
as.data.frame.VarCorr_ri_lmer <- function(x, row.names = NULL, optional = FALSE, ...) {
  sc <- attr(x, "sc")
  data.frame(grp = c(names(x)[1L], "Residual"), var1 = c("(Intercept)", NA),
             var2 = NA_character_, vcov = c(x[[1L]][1L, 1L], sc^2),
             sdcor = c(attr(x[[1L]], "stddev"), sc), row.names = NULL)
}

#' @export
print.VarCorr_ri_lmer <- function(x, digits = max(3L, getOption("digits") - 2L),
                                  comp = "Std.Dev.", ...) {
  print(variance_table(x, digits, comp), quote = FALSE, right = FALSE)
  invisible(x)
}

## lme4's table of variance components.
variance_table <- function(x, digits, comp = c("Variance", "Std.Dev.")) {
  d <- as.data.frame(x)
  out <- cbind(Groups = d$grp, Name = c("(Intercept)", ""))
  if ("Variance" %in% comp) out <- cbind(out, Variance = format(d$vcov, digits = digits))
  if ("Std.Dev." %in% comp) out <- cbind(out, Std.Dev. = format(d$sdcor, digits = digits))
  rownames(out) <- rep("", nrow(out))
  out
}

#' @rdname ri_lmer_methods
#' @export
sigma.ri_lmer <- function(object, ...) object$sigma

#' @rdname ri_lmer_methods
#' @export
vcov.ri_lmer <- function(object, ...) object$vcov

#' @rdname ri_lmer_methods
#' @export
nobs.ri_lmer <- function(object, ...) object$nobs

#' @rdname ri_lmer_methods
#' @export
logLik.ri_lmer <- function(object, REML = NULL, ...) {
  reml <- if (is.null(REML)) object$REML else REML
  value <- if (reml) -object$criterion_reml / 2 else -object$deviance_ml / 2
  structure(value, nobs = object$nobs, nall = object$nobs,
            df = length(object$coefficients) + 2L, class = "logLik")
}

#' @rdname ri_lmer_methods
#' @export
deviance.ri_lmer <- function(object, REML = NULL, ...) {
  if (is.null(REML)) {
    if (object$REML) {
      abort("deviance() of a REML fit is ambiguous (as in lme4): use REMLcrit() for the REML criterion or deviance(fit, REML = FALSE) for the ML deviance at the REML estimates.",
           call. = FALSE)
    }
    return(object$deviance_ml)
  }
  if (REML) object$criterion_reml else object$deviance_ml
}

#' @rdname ri_lmer_methods
#' @export
df.residual.ri_lmer <- function(object, ...) object$nobs - length(object$coefficients) - 2L

#' @rdname ri_lmer_methods
#' @export
formula.ri_lmer <- function(x, ...) x$formula

#' @rdname ri_lmer_methods
#' @export
coef.ri_lmer <- function(object, ...) {
  o <- object$group_order
  beta <- object$coefficients
  block <- as.data.frame(matrix(beta, length(o), length(beta), byrow = TRUE,
                                dimnames = list(as.character(object$cluster[o]), names(beta))),
                         optional = TRUE)
  if ("(Intercept)" %in% names(beta)) {
    block[["(Intercept)"]] <- beta[["(Intercept)"]] + object$ranef[o]
  } else {
    block <- cbind(`(Intercept)` = object$ranef[o], block)
  }
  structure(stats::setNames(list(block), object$group_name), class = "coef_ri_lmer")
}

#' @export
print.coef_ri_lmer <- function(x, ...) {
  for (g in names(x)) {
    cat("$", g, "\n", sep = "")
    print(x[[g]], ...)
    cat("\n")
  }
  invisible(x)
}

#' @rdname ri_lmer_methods
#' @export
fitted.ri_lmer <- function(object, ...) {
  rows <- ri_rows(object)
  offset <- if (is.null(rows$offset)) 0 else rows$offset
  pad_excluded(rows$y + offset - row_residuals(object), object)
}

#' @rdname ri_lmer_methods
#' @export
residuals.ri_lmer <- function(object, type = c("response", "pearson"), scaled = FALSE, ...) {
  type <- arg_match(type)
  check_flag(scaled, "scaled")
  rows <- ri_rows(object)
  r <- row_residuals(object)
  if (type == "pearson" && !is.null(rows$w)) r <- r * sqrt(rows$w)
  if (scaled) r <- r / object$sigma
  pad_excluded(r, object)
}

## The rows of a data fit, or a clear error for a fit from statistics.
ri_rows <- function(object) {
  if (is.null(object$rows)) {
    abort("this ri_lmer fit was made from cluster_stats(), which hold no rows; fitted values and residuals need the data: fit ri_lmer() on the data.",
         call. = FALSE)
  }
  object$rows
}

## y - X beta - b_g for every row used (y less any offset: the offset cancels).
row_residuals <- function(object) {
  rows <- object$rows
  beta <- object$coefficients
  e <- rows$y - object$ranef[rows$codes + 1L]
  for (j in names(beta)) {
    e <- if (j == "(Intercept)") e - beta[[j]] else e - beta[[j]] * rows$columns[[j]]
  }
  e
}

pad_excluded <- function(values, object) {
  rows <- object$rows
  if (rows$na_action != "na.exclude" || length(rows$dropped) == 0L) return(values)
  out <- rep(NA_real_, rows$n_data)
  out[-rows$dropped] <- values
  out
}

#' Predictions from an ri_lmer fit
#'
#' As `lme4::predict.merMod()` for a random-intercept model: the fixed part
#' plus, unless `re.form` is `NA` or `~0`, the group's conditional mode.
#'
#' @param object An [ri_lmer()] fit.
#' @param newdata Optional data frame; without it, the fitted values.
#' @param re.form `NULL` (include the random intercept) or `NA` / `~0`
#'   (population-level predictions).
#' @param allow.new.levels Allow groups not seen in the fit (their random
#'   intercept is 0, the population level)? If `FALSE`, an unseen group is an
#'   error, as in lme4.
#' @param ... Ignored.
#' @return A numeric vector.
#' @examples
#' fit <- ri_lmer(revenue ~ treated + (1 | region), data = geo_experiment)
#' new <- data.frame(treated = c(0, 1), region = c("region 01", "somewhere new"))
#' predict(fit, new, allow.new.levels = TRUE)
#' predict(fit, new, re.form = NA)
#' @export
predict.ri_lmer <- function(object, newdata = NULL, re.form = NULL,
                            allow.new.levels = FALSE, ...) {
  check_flag(allow.new.levels, "allow.new.levels")
  with_random <- is.null(re.form)
  if (!with_random && !(identical(re.form, NA) ||
                        (inherits(re.form, "formula") && identical(deparse1(re.form[[length(re.form)]]), "0")))) {
    abort("`re.form` must be NULL (with the random intercept) or NA / ~0 (without it).", call. = FALSE)
  }
  if (is.null(newdata)) {
    rows <- ri_rows(object)
    fitted <- fitted.ri_lmer(object)
    if (!with_random) fitted <- fitted - pad_excluded(object$ranef[rows$codes + 1L], object)
    return(fitted)
  }
  if (!is.data.frame(newdata)) abort("`newdata` must be a data frame.", call. = FALSE)
  if (is.null(object$rows)) {
    abort("predict() with `newdata` needs a fit made from data, not from cluster_stats().", call. = FALSE)
  }
  X <- new_design(object, newdata)
  eta <- drop(X %*% object$coefficients)
  if (!is.null(attr(X, "offset"))) eta <- eta + attr(X, "offset")
  if (with_random) {
    ids <- newdata[[object$group_name]]
    if (is.null(ids)) {
      abort(sprintf("`newdata` has no column `%s` for the random intercept; add it or use re.form = NA.",
                   object$group_name), call. = FALSE)
    }
    m <- match(as.character(ids), as.character(object$cluster))
    unseen <- is.na(m) & !is.na(ids)
    if (any(unseen) && !allow.new.levels) {
      abort(sprintf("new levels detected in `newdata` (of the grouping factor `%s`): %s; use allow.new.levels = TRUE to predict them at the population level.",
                   object$group_name, paste(utils::head(unique(as.character(ids[unseen])), 5L), collapse = ", ")),
           call. = FALSE)
    }
    b <- ifelse(is.na(m), 0, object$ranef[m])
    b[is.na(ids)] <- if (allow.new.levels) 0 else NA
    eta <- eta + b
  }
  eta
}

## The fixed-effects design of new data, coded as in the fit.
new_design <- function(object, newdata) {
  tt <- object$rows$terms
  env <- environment(object$formula)
  ## the variables are looked up in `newdata`: say so in the error
  vars <- tryCatch(formula_variables(tt, newdata, env), clusterab_error = function(e) {
    abort(gsub("`data`", "`newdata`", conditionMessage(e), fixed = TRUE), call. = FALSE)
  })
  for (v in names(object$rows$xlevels)) {
    lev <- object$rows$xlevels[[v]]
    x <- vars[[v]]
    new <- setdiff(unique(as.character(x[!is.na(x)])), lev)
    if (length(new)) {
      abort(sprintf("factor `%s` has new level(s) %s in `newdata`.", v,
                   paste(new, collapse = ", ")), call. = FALSE)
    }
  }
  frame <- stats::model.frame(tt, without_contrasts(newdata), na.action = stats::na.pass,
                              xlev = object$rows$xlevels)
  mm <- stats::model.matrix(tt, frame, contrasts.arg = object$rows$contrasts)
  off <- stats::model.offset(frame)
  X <- mm[, names(object$coefficients), drop = FALSE]
  if (!is.null(off)) attr(X, "offset") <- off
  X
}

#' @rdname ri_lmer_methods
#' @export
isSingular <- function(x, tol = 1e-4, ...) UseMethod("isSingular")

#' @rdname ri_lmer_methods
#' @param tol Tolerance on theta for `isSingular()`. For a weighted fit this is
#'   the theta of the weights scaled by a power of two to a typical value
#'   near 1 (theta scales as 1 / sqrt(weight)), so that the answer does not
#'   depend on the units of the weights; for an unweighted fit it is lme4's.
#' @export
isSingular.ri_lmer <- function(x, tol = 1e-4, ...) {
  theta <- if (is.null(x$parts$theta)) x$theta else x$parts$theta
  theta < tol
}

#' @export
isSingular.default <- function(x, tol = 1e-4, ...) {
  if (!requireNamespace("lme4", quietly = TRUE)) {
    abort("isSingular() works on ri_lmer fits; for other models install lme4.", call. = FALSE)
  }
  lme4::isSingular(x, tol = tol, ...)
}

#' @rdname ri_lmer_methods
#' @export
REMLcrit <- function(object, ...) UseMethod("REMLcrit")

#' @rdname ri_lmer_methods
#' @export
REMLcrit.ri_lmer <- function(object, ...) object$criterion_reml

#' @export
REMLcrit.default <- function(object, ...) {
  if (!requireNamespace("lme4", quietly = TRUE)) {
    abort("REMLcrit() works on ri_lmer fits; for other models install lme4.", call. = FALSE)
  }
  lme4::REMLcrit(object)
}

#' @rdname ri_lmer_methods
#' @export
ngrps <- function(object, ...) UseMethod("ngrps")

## also a method of lme4's generic, registered when lme4 is loaded
#' @rdname ri_lmer_methods
#' @rawNamespace S3method(lme4::ngrps, ri_lmer)
#' @export
ngrps.ri_lmer <- function(object, ...) stats::setNames(object$ngrps, object$group_name)

#' @export
ngrps.default <- function(object, ...) {
  if (!requireNamespace("lme4", quietly = TRUE)) {
    abort("ngrps() works on ri_lmer fits; for other models install lme4.", call. = FALSE)
  }
  lme4::ngrps(object, ...)
}

## lme4's getME() for the pieces its own functions read (isSingular() needs
## "theta" and "lower"), registered when lme4 is loaded, so that lme4's
## isSingular() works on ri_lmer fits even when lme4 masks ours.
#' @rawNamespace S3method(lme4::getME, ri_lmer)
getME.ri_lmer <- function(object, name, ...) {
  theta <- stats::setNames(object$theta, paste0(object$group_name, ".(Intercept)"))
  switch(name,
         theta = theta,
         lower = 0,
         beta = unname(object$coefficients),
         sigma = object$sigma,
         devcomp = object$devcomp,
         is_REML = object$REML,
         n = object$nobs,
         N = object$nobs,
         p = length(object$coefficients),
         q = object$ngrps,
         abort(sprintf("getME(, \"%s\") is not available for ri_lmer fits; available: theta, lower, beta, sigma, devcomp, is_REML, n, N, p, q.",
                      name), call. = FALSE))
}

#' Glance at an ri_lmer fit
#'
#' One row of model statistics with broom.mixed's columns for `lmer` fits:
#' `nobs`, `sigma`, `logLik`, `AIC`, `BIC`, then `REMLcrit` for a REML fit
#' or `deviance` for a maximum-likelihood one, and `df.residual` (the number
#' of rows less the number of parameters, as lme4 counts them).
#' `as.data.frame()` of a fit gives its [tidy()][tidy.ri_lmer] table.
#'
#' @param x An [ri_lmer()] fit.
#' @param row.names,optional Ignored (as.data.frame()'s arguments).
#' @param ... Ignored by `glance()`; passed to `tidy()` by `as.data.frame()`.
#' @return A data frame with one row.
#' @examples
#' fit <- ri_lmer(revenue ~ treated + (1 | region), data = geo_experiment)
#' glance(fit)
#' as.data.frame(fit)
#' @method glance ri_lmer
#' @export
glance.ri_lmer <- function(x, ...) {
  ll <- logLik(x)
  out <- data.frame(nobs = x$nobs, sigma = x$sigma, logLik = as.numeric(ll),
                    AIC = stats::AIC(ll), BIC = stats::BIC(ll))
  if (x$REML) out$REMLcrit <- x$criterion_reml else out$deviance <- x$deviance_ml
  out$df.residual <- df.residual(x)
  out
}

#' @rdname glance.ri_lmer
#' @export
as.data.frame.ri_lmer <- function(x, row.names = NULL, optional = FALSE, ...) {
  tidy(x, ...)
}
