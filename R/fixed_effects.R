## Absorbed fixed effects: `cluster_lm(y ~ x | fe1 + fe2, ...)`.
##
## The fixed effects are never expanded into dummy columns. The outcome and
## the covariates are demeaned within them (weighted with weights) in C++
## (src/fixed_effects.cpp: exact for one effect, accelerated alternating
## projections for more), and the demeaned columns go through the ordinary
## compress step without an intercept. By Frisch-Waugh-Lovell the slopes,
## their residuals and their scores equal those of the regression with the
## dummies; only the count of parameters k (the small-sample rule `ssc`)
## has to be told about the absorbed levels.

## `y ~ x | fe1 + fe2` -> list(formula = y ~ x, fixef = the fe terms as
## strings); a formula without `|` comes back as it is.
split_fixef_formula <- function(formula, allow_fixef = TRUE) {
  rhs <- formula[[3L]]
  if (!(is.call(rhs) && identical(rhs[[1L]], as.name("|")))) {
    return(list(formula = formula, fixef = character(0)))
  }
  if (!allow_fixef) {
    abort("`formula` has a `|` part (absorbed fixed effects, `y ~ x | unit`): only cluster_lm() absorbs fixed effects; here add them as factors (`y ~ x + factor(unit)`).",
          call. = FALSE)
  }
  fe_part <- rhs[[3L]]
  if (is.call(fe_part) && identical(fe_part[[1L]], as.name("|"))) {
    abort("`formula` has more than one `|` part; give the fixed effects once, as `y ~ x | unit + period` (instrumental variables are not supported).",
          call. = FALSE)
  }
  fe_terms <- unique(fixef_term_labels(fe_part))
  if (!length(fe_terms)) {
    abort("`formula`: the part after `|` names no fixed effect; write `y ~ x | unit` or drop the `|`.",
          call. = FALSE)
  }
  if (any(grepl("[[]|:", fe_terms))) {
    abort(sprintf("`formula`: fixed effect(s) %s are not supported: give variables (`unit`), or combinations of them with `^` (`unit^period`); varying slopes (`unit[x]`) and `:` are not supported.",
                  paste0("`", fe_terms[grepl("[[]|:", fe_terms)], "`", collapse = ", ")), call. = FALSE)
  }
  main <- formula
  main[[3L]] <- rhs[[2L]]
  list(formula = main, fixef = fe_terms)
}

## The terms of `fe1 + fe2 + a^b` (not through terms(), which reads `^` as
## a power), as strings.
fixef_term_labels <- function(e) {
  if (is.call(e) && identical(e[[1L]], as.name("+")) && length(e) == 3L) {
    return(c(fixef_term_labels(e[[2L]]), fixef_term_labels(e[[3L]])))
  }
  if (is.call(e) && identical(e[[1L]], as.name("("))) return(fixef_term_labels(e[[2L]]))
  if (is.numeric(e) || (is.call(e) && identical(e[[1L]], as.name("-")))) {
    abort(sprintf("`formula`: `%s` after `|` is not a fixed effect; the part after `|` names variables, as `y ~ x | unit + period`.",
                  deparse1(e)), call. = FALSE)
  }
  deparse1(e)
}

## The fixed-effect variables, one per term, from `data` (then `env`); a
## term `a^b` is the combination of a and b. A variable that is nowhere to be
## found is an error naming it.
fixef_variables <- function(fe_terms, data, env, n) {
  one <- function(name, term) {
    if (name %in% names(data)) return(data[[name]])
    expr <- str2lang(name)
    if (is.name(expr) && !exists(name, envir = env)) {
      abort(sprintf("fixed effect `%s` in `formula` was not found in `data`; the part after `|` must name columns of `data`.",
                    name), call. = FALSE)
    }
    tryCatch(eval(expr, data, env), error = function(e) {
      abort(sprintf("could not evaluate the fixed effect `%s` in `formula`: %s", name,
                    conditionMessage(e)), call. = FALSE)
    })
  }
  out <- lapply(fe_terms, function(term) {
    vars <- strsplit(term, "^", fixed = TRUE)[[1L]]
    vals <- lapply(trimws(vars), one, term = term)
    for (j in seq_along(vals)) {
      if (NROW(vals[[j]]) != n) {
        abort(sprintf("fixed effect `%s` has %d values but `data` has %d rows.",
                      trimws(vars[j]), NROW(vals[[j]]), n), call. = FALSE)
      }
    }
    if (length(vals) == 1L) return(vals[[1L]])
    ## a combination: one level per observed combination (NA if any part is)
    miss <- Reduce(`|`, lapply(vals, is.na))
    ids <- do.call(paste, c(lapply(vals, as.character), sep = "\r"))
    ids[miss] <- NA
    ids
  })
  stats::setNames(out, fe_terms)
}

## Integer codes (0-based) and numbers of levels of the fixed effects, after
## dropping, repeatedly, the rows that are alone in their level of some
## effect (singletons, as fixest's default fixef.rm does: they are fitted
## perfectly and tell nothing about the slopes). `keep` is NULL when none
## was dropped, else the rows kept.
fixef_codes <- function(fixef) {
  codes <- lapply(names(fixef), function(v) cluster_codes(fixef[[v]], sprintf("fixed effect `%s`", v)))
  res <- cpp_fixef_prepare(lapply(codes, `[[`, "codes"), vapply(codes, `[[`, integer(1L), "G"))
  if (!is.null(res$keep) && !length(res$keep)) {
    abort("every row is alone in its level of some fixed effect (a singleton); nothing is left to estimate the slopes from: check the fixed effects after `|`.",
          call. = FALSE)
  }
  res
}

## Rows `keep` of everything in `mc` that has one value per row (but the
## outcome and the columns without `columns`: the demeaning reads their rows).
subset_model_columns <- function(mc, keep, columns = TRUE) {
  if (columns) {
    mc$y <- mc$y[keep]
    mc$columns <- lapply(mc$columns, `[`, keep)
  }
  if (!is.null(mc$w)) mc$w <- mc$w[keep]
  if (!is.null(mc$offset)) mc$offset <- mc$offset[keep]
  if (!is.null(mc$cluster)) mc$cluster <- as_frame(lapply(mc$cluster, `[`, keep))
  mc$fixef <- lapply(mc$fixef, `[`, keep)
  mc$n <- length(keep)
  mc
}

## The demeaning options of a fit (the defaults for a fit without effects).
fixef_control_of <- function(fit) {
  info <- fit$fixef_info
  if (is.null(info)) default_fixef_control() else check_fixef_control(info$tol, info$iter)
}

## cluster_lm()'s defaults of fixef.tol and fixef.iter, read from its formals
## so that they are written in one place.
default_fixef_control <- function() {
  f <- formals(cluster_lm)
  check_fixef_control(f$fixef.tol, f$fixef.iter)
}

## The fixed-effect options of cluster_lm(): tolerance and sweeps.
check_fixef_control <- function(tol, iter) {
  if (!is.numeric(tol) || length(tol) != 1L || is.na(tol) || tol <= 0 || tol >= 1) {
    abort("`fixef.tol` must be a single number between 0 and 1, such as 1e-10.", call. = FALSE)
  }
  if (!is.numeric(iter) || length(iter) != 1L || is.na(iter) || iter < 1 || iter != round(iter)) {
    abort("`fixef.iter` must be a single positive whole number, such as 10000.", call. = FALSE)
  }
  list(tol = as.double(tol), iter = as.integer(min(iter, .Machine$integer.max)))
}

## Demeans the outcome and the covariates of `mc` within its fixed effects
## (singletons dropped first) and returns `mc` with the demeaned columns, no
## intercept, and `fixef_info`. A covariate that the fixed effects absorb
## (constant within them) is set to zero, so that the least squares alias
## it (NA coefficient), with a message, as fixest reports such a variable.
absorb_fixed_effects <- function(mc, threads, control, quiet = FALSE) {
  fc <- fixef_codes(mc$fixef)
  if (!is.null(fc$keep)) mc <- subset_model_columns(mc, fc$keep, columns = FALSE)
  res <- cpp_demean(c(mc$columns, list(mc$y)), fc$codes, fc$levels, mc$w,
                    control$tol, control$iter, threads, fc$keep)
  cols <- res$columns
  m <- length(cols)
  names(cols) <- c(names(mc$columns), mc$yname)
  if (!quiet && !all(res$converged)) {
    bad <- !res$converged
    warn(sprintf("the demeaning within the fixed effects did not converge in `fixef.iter` = %d sweeps for %s: the relative change reached is %s, above `fixef.tol` = %s. Coefficients may be inaccurate; raise `fixef.iter`.",
                 control$iter, paste0("`", names(cols)[bad], "`", collapse = ", "),
                 format(max(res$reached[bad]), digits = 3), format(control$tol)),
         class = "clusterab_fixef_not_converged")
  }
  ## absorbed columns: what is left is below lm()'s tolerance (1e-7) of the
  ## column's spread (its root mean square about its mean)
  w <- mc$w
  spread <- res$spread
  left <- res$left
  absorbed <- left <= 1e-7 * spread
  absorbed_x <- absorbed[-m]
  if (any(absorbed_x)) {
    for (j in which(absorbed_x)) cols[[j]] <- numeric(length(cols[[m]]))
    if (!quiet) inform(sprintf("%s %s collinear with the fixed effects (constant within them) and %s removed (NA coefficient), as fixest does.",
                   paste0("`", names(mc$columns)[absorbed_x], "`", collapse = ", "),
                   if (sum(absorbed_x) > 1L) "are" else "is",
                   if (sum(absorbed_x) > 1L) "are" else "is"),
           class = "clusterab_fixef_collinear")
  }
  wsum <- if (is.null(w)) length(cols[[m]]) else sum(w)
  tss_total <- spread[m]^2 * wsum
  tss_within <- left[m]^2 * wsum
  mc$columns <- cols[-m]
  mc$y <- cols[[m]]
  mc$intercept <- FALSE
  mc$fixef_info <- list(names = names(mc$fixef), levels = stats::setNames(fc$levels, names(mc$fixef)),
                        codes = fc$codes, singletons = fc$singletons,
                        iterations = max(res$iterations), converged = all(res$converged),
                        tol = control$tol, iter = control$iter,
                        tss_total = tss_total, tss_within = tss_within,
                        absorbed = names(mc$columns)[absorbed_x])
  mc$fixef <- NULL
  mc
}

## The number of absorbed parameters counted in k, by the small-sample rule
## `ssc` (fixest's ssc(K.fixef = ...), Stata's areg / xtreg):
## * "full": every level, less the redundant ones (exact for two effects:
##   one per connected component of the graph that links the levels of the
##   two effects that share rows; one more per further effect) - the rank of
##   the dummies with an intercept, as in lm() with the dummies (Stata areg,
##   fixest K.fixef = "full").
## * "nested" (default): effects nested in a clustering variable (every level
##   within one cluster) are not counted; if one is, the others count their
##   levels less one and one is added for the intercept (fixest's default
##   "nonnested"; Stata xtreg, fe); with none nested as "full".
## * "none": none counted.
## Also returns which effects are nested and the redundant levels.
fixef_k <- function(info, cluster_codes_list, ssc) {
  codes <- info$codes
  L <- info$levels
  Q <- length(codes)
  redundant <- integer(Q)
  if (Q >= 2L) {
    redundant[2L] <- cpp_fixef_components(codes[[1L]], codes[[2L]], L[[1L]], L[[2L]])
    if (Q >= 3L) redundant[3:Q] <- 1L
  }
  nested <- vapply(seq_len(Q), function(j) {
    any(vapply(cluster_codes_list, function(cl) cpp_nested_in(codes[[j]], cl, L[[j]]), NA))
  }, NA)
  full <- sum(L) - sum(redundant)
  k <- switch(ssc,
    full = full,
    none = 0L,
    nested = if (any(nested)) 1L + sum(L[!nested] - 1L) else full)
  list(k = as.integer(k), k_full = as.integer(full), nested = stats::setNames(nested, info$names),
       redundant = stats::setNames(redundant, info$names))
}

## cluster_lm()'s hook: demean, and record what the statistics need (k) and
## the types that cannot be computed from the demeaned columns.
check_fixef_type <- function(type, nested, names) {
  if (type %in% c("HC2", "HC3")) {
    abort(sprintf('type = "%s" is not available with absorbed fixed effects: its leverages include the fixed effects, which are not columns here. Use "HC1", a clustered type, or add the effects as factors (`y ~ x + factor(%s)`).',
                  type, names[1L]), call. = FALSE)
  }
  if (type %in% c("CR2", "CR3") && !all(nested)) {
    bad <- names[!nested]
    abort(sprintf('type = "%s" with absorbed fixed effects needs them nested in the clusters (each level within one cluster), but %s %s not: clubSandwich then adjusts with the dummies of those effects. Add %s as factor covariates instead (`y ~ x + factor(%s) | %s`), or use "CR1S" / "CR1".',
                  type, paste0("`", bad, "`", collapse = ", "), if (length(bad) > 1L) "are" else "is",
                  if (length(bad) > 1L) "them" else "it", bad[1L],
                  if (any(nested)) paste(names[nested], collapse = " + ") else "..."),
          call. = FALSE)
  }
}

#' Estimated fixed effects of a cluster_lm fit
#'
#' The effects absorbed by `cluster_lm(y ~ x | fe1 + fe2, ...)`, computed
#' again from the data of the call: the fitted fixed-effect part `y - X b -
#' residuals` is split into its effects. With one fixed effect these are the
#' group means of `y - X b` (fixest's `fixef()`); with more, the effects are
#' identified only up to constants, and they are normalised as fixest does:
#' in every effect but the first, the level of the first observation is 0
#' (for a set of effects whose levels form one connected group).
#'
#' `fixef` is nlme's generic (also used by lme4), re-exported.
#'
#' @param object A [cluster_lm()] fit with absorbed fixed effects.
#' @param ... Ignored.
#' @return A named list with one named numeric vector per fixed effect (its
#'   levels as names, sorted), with class `cluster_lm_fixef`.
#' @examples
#' d <- geo_experiment
#' fit <- cluster_lm(revenue ~ baseline | region, data = d, cluster = ~ region)
#' head(fixef(fit)$region)
#' @export
fixef.cluster_lm <- function(object, ...) {
  info <- object$fixef_info
  if (is.null(info)) {
    abort("this cluster_lm fit has no absorbed fixed effects (no `|` in its formula); fixef() needs a fit such as cluster_lm(y ~ x | unit, ...).",
          call. = FALSE)
  }
  call <- object$call
  env <- environment(object$formula)
  data <- eval(call$data, env)
  weights <- eval(call$weights, env)
  mc <- model_columns(object$formula, data, weights = weights, cluster = NULL,
                      contrasts = object$contrasts, allow_fixef = TRUE)
  labels <- lapply(mc$fixef, function(x) x)
  fc <- fixef_codes(mc$fixef)
  if (!is.null(fc$keep)) {
    mc <- subset_model_columns(mc, fc$keep)
    labels <- lapply(labels, `[`, fc$keep)
  }
  b <- object$coefficients
  b[is.na(b)] <- 0
  xb <- numeric(length(mc$y))
  for (j in names(mc$columns)) if (j %in% names(b)) xb <- xb + b[[j]] * mc$columns[[j]]
  u <- mc$y - xb
  e <- cpp_demean(list(u), fc$codes, fc$levels, mc$w, info$tol, info$iter, 1L)$columns[[1L]]
  est <- cpp_fixef_coefs(u - e, fc$codes, fc$levels, mc$w, info$tol, info$iter)$effects
  Q <- length(est)
  for (j in seq_len(Q)[-1L]) {
    ref <- est[[j]][fc$codes[[j]][1L] + 1L]
    est[[j]] <- est[[j]] - ref
    est[[1L]] <- est[[1L]] + ref
  }
  out <- lapply(seq_len(Q), function(j) {
    first <- match(seq_len(fc$levels[j]) - 1L, fc$codes[[j]])
    lab <- labels[[j]][first]
    o <- order(lab)
    stats::setNames(est[[j]][o], gsub("\r", "_", as.character(lab[o]), fixed = TRUE))  # a^b: "a_b", as fixest
  })
  structure(stats::setNames(out, info$names), class = c("cluster_lm_fixef", "list"))
}

#' @export
print.cluster_lm_fixef <- function(x, ...) {
  for (j in names(x)) {
    cat(sprintf("%s (%d levels):\n", j, length(x[[j]])))
    print(utils::head(x[[j]], 10L))
    if (length(x[[j]]) > 10L) cat(sprintf("... and %d more\n", length(x[[j]]) - 10L))
  }
  invisible(x)
}

## One line for print(): the absorbed effects, their levels, the rule for k.
fixef_text <- function(info) {
  if (is.null(info)) return(NULL)
  eff <- paste0(info$names, " (", vapply(info$levels, format, "", big.mark = ","), " levels",
                ifelse(info$nested, ", nested in the clusters", ""), ")", collapse = ", ")
  single <- if (info$singletons > 0L) sprintf("; %s singleton row(s) dropped", format(info$singletons, big.mark = ",")) else ""
  sprintf("Absorbed fixed effects: %s; %s of their parameters counted in k (ssc = \"%s\")%s\n",
          eff, format(info$k, big.mark = ","), info$ssc, single)
}

## The fit's record of its absorbed effects (what print(), fixef() and a
## refit need; not the codes), and R-squared as fixest reports it: `r.squared`
## about the outcome's mean, `within.r.squared` after the fixed effects.
add_fixef_info <- function(fit, info, fe, ssc) {
  within <- fit$r.squared
  fit$within.r.squared <- within
  fit$r.squared <- 1 - (1 - within) * info$tss_within / info$tss_total
  fit$adj.r.squared <- 1 - (1 - fit$r.squared) * (fit$nobs - 1) / (fit$nobs - fit$rank - fe$k_full)
  fit$fixef_k <- fe  # what a recomputation of the statistics attaches (fit_moments())
  info$codes <- NULL
  info$tss_total <- info$tss_within <- NULL
  fit$fixef_info <- c(info, list(nested = fe$nested, redundant = fe$redundant,
                                 k = fe$k, k_full = fe$k_full, ssc = ssc))
  fit
}
