## Bad-input sweep (issue 8). Every exported function, and the methods of its
## results, is called on generated bad inputs: NA/NaN/Inf in each column,
## empty data, one row, one cluster, every row its own cluster, huge and tiny
## magnitudes, ids of every type, list and matrix columns, duplicated names,
## wrong argument types, absurd numbers of replicates and threads.
##
## The property: a call returns a valid result (finite estimates, standard
## errors, p-values and intervals, unless the case says that the documented
## answer is not finite) or fails with a classed error ("clusterab_error")
## whose message names the offending argument or column. Never a crash, a
## hang, an unclassed error or warning (from base R, uniroot, Rcpp::stop,
## Eigen), or a silent NaN.
##
## The cases are data. A family (one test_that() at the end of the file) is a
## list of cases plus a validator per function. A case (sweep_case()) has
##   label   what is special about the input (reported when the case fails);
##   call    the call, unevaluated, in terms of the objects of `data` (the
##           data set `d`) and of `setup`;
##   names   argument(s) or column(s), one of which an error message must
##           name, as `name`, 'name' or "name";
##   expect  "either" (a valid result or a classed error; the default),
##           "error" (invalid input: must be refused) or "value"
##           (legitimate input: must give a valid result);
##   nonfinite  TRUE where a non-finite answer is the documented one;
##   reference  data for the same call whose result must have the same
##           scale-free key (t statistics, p-values; see sweep_keys): a
##           change of units must not change the inference;
##   check   optional function(x, env) returning further problems: a
##           comparison with a reference package (an oracle), for inputs
##           where a wrong number would otherwise pass as valid;
##   setup, cleanup  expressions run before and after the call (fitting an
##           lm(), writing a database table, setting an option); when setup
##           fails the case does not apply and is skipped;
##   time_limit  seconds of elapsed time (default 10): a run that should have
##           been refused before starting (R = 1e9) fails instead of hanging.
## Cases that crashed (segfaulted) the R process when they were found are
## listed in sweep_known_crashes. They run by default (they are the point);
## CLUSTERAB_SWEEP_SKIP_CRASH=1 leaves them out while developing.
##
## To see every outcome rather than only the failures, set CLUSTERAB_SWEEP_OUT
## to a directory (one table per family is written there), or source this file
## with `test_that <- function(...) NULL` and call
## sweep_run(sweep_family_cluster_lm()).

sweep_env <- environment()

## ---- the data ---------------------------------------------------------------

## A small clustered experiment: 10 clusters of 3 to 6 rows, treatment `trt`
## assigned by cluster (5 and 5), a period `per` varying within clusters,
## blocks `blk` of two clusters (one treated, one control), weights `w`, and a
## count numerator and denominator for ratio metrics.
sweep_data <- function(G = 10L, seed = 8L) {
  set.seed(seed)
  size <- rep_len(c(3L, 4L, 5L, 6L, 4L), G)
  g <- rep(seq_len(G), size)
  n <- length(g)
  trt <- rep(rep_len(0:1, G), size)
  data.frame(y = 0.3 * trt + rnorm(G)[g] + rnorm(n), x = rnorm(n),
             w = runif(n, 0.5, 2), g = g, trt = trt,
             per = unlist(lapply(size, function(s) rep_len(0:1, s))),
             blk = rep((seq_len(G) + 1L) %/% 2L, size),
             num = rpois(n, 2), den = rpois(n, 4) + 1)
}
sweep_d <- sweep_data()

## A small network experiment: 12 units in 4 clusters `g` of 3 (clusters 2
## and 4 treated), edges mostly within clusters, with weights `w`.
sweep_net <- local({
  set.seed(9)
  g <- rep(1:4, each = 3)
  trt <- as.integer(g %in% c(2, 4))
  data.frame(unit = 1:12, y = rnorm(12) + trt, trt = trt, g = g)
})
sweep_edges <- data.frame(from = c(1, 1, 2, 4, 4, 5, 7, 7, 8, 10, 10, 11, 3, 6, 9, 12),
                          to = c(2, 3, 3, 5, 6, 6, 8, 9, 9, 11, 12, 12, 4, 7, 10, 1),
                          w = c(1, 2, 1, 1, 3, 1, 1, 1, 2, 1, 1, 1, 0.5, 0.5, 0.5, 0.5))
sweep_focal <- c(2, 3, 8, 9)  # two exposed, two not

## ---- perturbations --------------------------------------------------------------
## Each edit is function(v, d): the new column, given the old one and the data.

## Values of outcomes, covariates, weights, numerators and denominators.
value_edits <- list(
  "one NA"           = function(v, d) replace(v, 2L, NA),
  "one NaN"          = function(v, d) replace(v, 2L, NaN),
  "one Inf"          = function(v, d) replace(v, 2L, Inf),
  "one -Inf"         = function(v, d) replace(v, 2L, -Inf),
  "all NA"           = function(v, d) replace(v, seq_along(v), NA),
  "one value 1e200"  = function(v, d) replace(v, 3L, 1e200),
  "one value 1e155"  = function(v, d) replace(v, 3L, 1e155),
  "one value 1e-200" = function(v, d) replace(v, 3L, 1e-200),
  "constant"         = function(v, d) rep(v[1L], length(v)),
  "character"        = function(v, d) as.character(v),
  "factor"           = function(v, d) factor(v),
  "logical"          = function(v, d) v > stats::median(v),
  "Date"             = function(v, d) as.Date("2024-01-01") + round(v),
  "list column"      = function(v, d) I(as.list(v)),
  "complex"          = function(v, d) as.complex(v),
  "matrix column"    = function(v, d) cbind(a = v, b = rev(v))
)

## Changes of units: legitimate, so they must give a valid result with the
## same t statistics and p-values as the original data.
scale_edits <- c("times 1e200" = 1e200, "times 1e155" = 1e155,
                 "times 1e-170" = 1e-170, "times 1e-200" = 1e-200)

## Cluster ids: the edit and what to expect. Every type of id that R users
## keep ids in must work.
cluster_edits <- list(
  "character ids"             = list(function(v, d) paste0("c", v), "value"),
  "factor ids"                = list(function(v, d) factor(v), "value"),
  "factor ids, unused levels" = list(function(v, d) factor(v, levels = 0:20), "value"),
  "Date ids"                  = list(function(v, d) as.Date("2024-01-01") + v, "value"),
  "POSIXct ids"               = list(function(v, d) as.POSIXct("2024-01-01", tz = "UTC") + 3600 * v, "value"),
  "non-integer ids"           = list(function(v, d) v + 0.5, "value"),
  "huge ids"                  = list(function(v, d) v * 1e300, "value"),
  "negative ids"              = list(function(v, d) -v, "value"),
  "one empty-string id"       = list(function(v, d) ifelse(v == 1L, "", paste0("c", v)), "value"),
  "one NA id"                 = list(function(v, d) replace(v, 2L, NA), "either"),
  "one NaN id"                = list(function(v, d) replace(as.double(v), 2L, NaN), "either"),
  "all NA ids"                = list(function(v, d) rep(NA_integer_, length(v)), "either"),
  "list column ids"           = list(function(v, d) I(as.list(v)), "either"),
  "complex ids"               = list(function(v, d) as.complex(v), "either"),
  "matrix column ids"         = list(function(v, d) cbind(v, v), "either"),
  "one cluster"               = list(function(v, d) rep(1L, length(v)), "either"),
  "two clusters"              = list(function(v, d) 1L + (v > 5L), "either"),
  "every row its own cluster" = list(function(v, d) seq_along(v), "either")
)

## Two-valued arm and period columns (and blocks). The legitimate codings
## must work; the rest may be refused.
arm_edits <- list(
  "one NA"                    = function(v, d) replace(v, 2L, NA),
  "all NA"                    = function(v, d) replace(v, seq_along(v), NA),
  "constant"                  = function(v, d) rep(v[1L], length(v)),
  "varies within a cluster"   = function(v, d) replace(v, 1L, 1L - v[1L]),
  "three values, by cluster"  = function(v, d) ifelse(d$g == max(d$g), 2L, v),
  "control/treatment labels"  = function(v, d) c("control", "treatment")[v + 1L],
  "pre/post labels"           = function(v, d) c("pre", "post")[v + 1L],
  "factor"                    = function(v, d) factor(v),
  "logical"                   = function(v, d) v == 1L,
  "numbers 3 and 7"           = function(v, d) c(3, 7)[v + 1L],
  "list column"               = function(v, d) I(as.list(v)),
  "Date"                      = function(v, d) as.Date("2024-01-01") + v,
  "matrix column"             = function(v, d) cbind(v, v)
)
legit_arm_edits <- c("control/treatment labels", "pre/post labels", "factor", "logical",
                     "numbers 3 and 7")

## Whole data sets.
data_edits <- list(
  "0 rows"                 = function(d) d[0L, , drop = FALSE],
  "1 row"                  = function(d) d[1L, , drop = FALSE],
  "2 rows"                 = function(d) d[c(1L, nrow(d)), , drop = FALSE],
  "duplicated column name" = function(d) { names(d)[names(d) == "x"] <- "y"; d },
  "data.table"             = function(d) data.table::as.data.table(d),
  "row names"              = function(d) { rownames(d) <- paste0("r", seq_len(nrow(d))); d }
)
legit_data_edits <- c("data.table", "row names")

## Besides the column itself, the arguments an error about it may name.
column_roles <- list(y = c("outcome", "formula", "numerator"), x = c("formula", "covariates"),
                     w = "weights", g = "cluster", trt = c("treatment", "group"),
                     per = "period", blk = "blocks", num = "numerator",
                     den = "denominator")

## ---- building cases -------------------------------------------------------------

sweep_case <- function(label, call, names = character(0), expect = "either",
                       data = list(d = sweep_d), nonfinite = FALSE, reference = NULL,
                       check = NULL, setup = NULL, cleanup = NULL, time_limit = 10,
                       warns = NULL) {
  stopifnot(expect %in% c("either", "error", "value"), is.call(call))
  list(label = label, call = call, names = names, expect = expect, data = data,
       nonfinite = nonfinite, reference = reference, check = check, setup = setup,
       cleanup = cleanup, time_limit = time_limit, warns = warns)
}

## `call` with arguments replaced (a NULL value is kept, as NULL). The call is
## first written with every argument named, so that a positional argument
## (the `x` of vcov_cluster(fit, ...)) can be replaced too.
with_args <- function(call, ...) {
  args <- list(...)
  call <- match.call(match.fun(call[[1L]]), call)
  for (a in names(args)) call[a] <- list(args[[a]])
  call
}

## The data with column `col` replaced by edit(d[[col]], d).
edit_column <- function(d, col, edit) {
  d[[col]] <- edit(d[[col]], d)
  d
}

## One case per edit of each column in `columns`.
column_cases <- function(prefix, call, columns, edits = value_edits, expect = NULL,
                         d = sweep_d, ...) {
  unlist(lapply(columns, function(col) lapply(names(edits), function(e) {
    exp <- if (is.null(expect)) "either" else if (e %in% expect) "value" else "either"
    sweep_case(sprintf("%s | %s: %s", prefix, col, e), call,
               names = c(col, column_roles[[col]]), expect = exp,
               data = list(d = edit_column(d, col, edits[[e]])), ...)
  })), recursive = FALSE)
}

## Changes of units: valid results, with the key of the original data. For
## the columns not in `value` a classed error naming the column is also right:
## a function that returns a covariance matrix in the data's units cannot
## return one whose entries (scaling as the square of the units, 1e400 or
## 1e-340 here) are not representable in double precision.
scale_cases <- function(prefix, call, columns, d = sweep_d, value = columns, ...) {
  unlist(lapply(columns, function(col) lapply(names(scale_edits), function(e) {
    d2 <- d
    d2[[col]] <- d[[col]] * scale_edits[[e]]
    sweep_case(sprintf("%s | %s: %s", prefix, col, e), call,
               names = c(col, column_roles[[col]]), expect = if (col %in% value) "value" else "either",
               data = list(d = d2), reference = list(d = d), ...)
  })), recursive = FALSE)
}

## `arms`: the function has a treatment or group column, which one cluster (or
## two) cannot hold constant, so an error may name it instead.
cluster_cases <- function(prefix, call, own = "either", arms = FALSE, d = sweep_d, ...) {
  lapply(names(cluster_edits), function(e) {
    expect <- if (e == "every row its own cluster") own else cluster_edits[[e]][[2L]]
    names <- c("g", "cluster")
    if (arms && e %in% c("one cluster", "two clusters")) names <- c(names, "treatment", "group")
    sweep_case(sprintf("%s | cluster ids: %s", prefix, e), call, names = names,
               expect = expect, data = list(d = edit_column(d, "g", cluster_edits[[e]][[1L]])),
               ...)
  })
}

arm_cases <- function(prefix, call, columns, ...) {
  column_cases(prefix, call, columns, edits = arm_edits, expect = legit_arm_edits, ...)
}

## An empty data set must be refused as such; a tiny one may be refused for
## any of its columns (one cluster, one row per arm, ...).
data_names <- list("0 rows" = c("data", "x"),
                   tiny = c("data", "x", "y", "cluster", "g", "outcome", "formula", "treatment",
                            "trt", "group", "period", "per", "numerator", "denominator", "num",
                            "den", "blocks"),
                   "duplicated column name" = c("data", "x", "y"))
data_cases <- function(prefix, call, d = sweep_d, ...) {
  lapply(names(data_edits), function(e) {
    names <- if (e %in% names(data_names)) data_names[[e]] else data_names$tiny
    sweep_case(sprintf("%s | data: %s", prefix, e), call, names = names,
               expect = if (e %in% legit_data_edits) "value" else "either",
               data = list(d = data_edits[[e]](d)), ...)
  })
}

## Values of one argument: `refuse` must be refused with an error naming
## `names`, `accept` must work, `either` may do either. The values are
## unevaluated expressions (write them with alist()), so that a case reads as
## the call a user would write.
arg_cases <- function(prefix, call, arg, refuse = list(), accept = list(), either = list(),
                      names = arg, ...) {
  one <- function(values, expect) lapply(values, function(v) {
    sweep_case(sprintf("%s | %s = %s", prefix, arg, paste(deparse(v), collapse = " ")),
               do.call(with_args, stats::setNames(list(call, v), c("call", arg)), quote = TRUE),
               names = names, expect = expect, ...)
  })
  c(one(refuse, "error"), one(accept, "value"), one(either, "either"))
}

## The `threads` argument. 1000 is capped at the number of cores (as
## data.table and fixest do); 0, NA, fractions, strings and vectors are
## refused, and so is a bad value of option clusterab.threads.
threads_cases <- function(prefix, call, setup = NULL, ...) {
  c(arg_cases(prefix, call, "threads",
              refuse = alist(0, NA, -1, 1.5, "2", TRUE, c(1, 2), Inf, NA_integer_),
              accept = alist(1000, 2L, NULL), setup = setup, ...),
    list(sweep_case(sprintf("%s | option clusterab.threads = \"2\"", prefix),
                    with_args(call, threads = NULL), names = "clusterab.threads",
                    expect = "error", setup = bquote({ .(setup); options(clusterab.threads = "2") }),
                    ...)))
}

## A case on the result of a valid call (the methods' own arguments): `fit`
## is made by `setup`.
method_case <- function(prefix, call, names, expect = "error", setup, ...) {
  sweep_case(sprintf("%s | %s", prefix, paste(deparse(call), collapse = " ")), call,
             names = names, expect = expect, setup = setup, ...)
}

## Further names that an error may name: the fit `x` of vcov_cluster(x, ...).
also_naming <- function(cases, names) {
  lapply(cases, function(case) { case$names <- unique(c(case$names, names)); case })
}

## ---- checking results -------------------------------------------------------------

## Problems with numbers that must be finite: "what has NaN" etc.
nonfinite_problem <- function(what, v, allow_inf = FALSE, allow_na = FALSE) {
  v <- suppressWarnings(as.double(unlist(v, use.names = FALSE)))
  bad <- is.nan(v) | (is.na(v) & !is.nan(v) & !allow_na) | (is.infinite(v) & !allow_inf)
  if (!any(bad)) return(character(0))
  kinds <- unique(ifelse(is.nan(v[bad]), "NaN", ifelse(is.na(v[bad]), "NA", "Inf")))
  sprintf("%s has %s (%d of %d values)", what, paste(kinds, collapse = "/"), sum(bad), length(v))
}

p_value_problem <- function(what, p) {
  p <- as.double(unlist(p))
  c(nonfinite_problem(what, p),
    if (any(p < 0 | p > 1, na.rm = TRUE)) sprintf("%s outside [0, 1]", what))
}

## A tidy() table: NaN anywhere is wrong; NA is allowed in columns that are
## NA by design (a bootstrap row's statistic), Inf only in interval limits.
tidy_problem <- function(tab, allow_inf_limits = FALSE) {
  if (!is.data.frame(tab)) return("tidy() did not return a data frame")
  num <- names(tab)[vapply(tab, is.numeric, NA)]
  out <- character(0)
  for (col in num) {
    v <- tab[[col]]
    inf_ok <- allow_inf_limits && col %in% c("conf.low", "conf.high", "lift.conf.low", "lift.conf.high")
    if (any(is.nan(v)) || (!inf_ok && any(is.infinite(v)))) {
      out <- c(out, sprintf("tidy() column %s has %s", col, if (any(is.nan(v))) "NaN" else "Inf"))
    }
  }
  out
}

## Runs the methods of a result: name -> function(x, env). A classed error
## from a method is acceptable (plot() of a delta-method test); an unclassed
## one is not. Results that are data frames are checked as tidy() tables.
run_methods <- function(x, env, methods, allow_inf_limits = FALSE) {
  out <- character(0)
  for (m in names(methods)) {
    r <- tryCatch(methods[[m]](x, env), error = function(e) e)
    if (inherits(r, "error")) {
      if (!inherits(r, "clusterab_error")) {
        out <- c(out, sprintf("%s failed with an unclassed error: %s", m, conditionMessage(r)))
      }
    } else if (startsWith(m, "tidy")) {
      out <- c(out, tidy_problem(r, allow_inf_limits))
    }
  }
  out
}

printed <- function(x) utils::capture.output(print(x))
plotted <- function(x, ...) { plot(x, ...); invisible(NULL) }

## Coefficients may be NA only where lm() finds them aliased too.
aliased_problem <- function(beta, env, formula, weighted = FALSE) {
  if (!anyNA(beta)) return(character(0))
  ## do.call(): lm() evaluates `weights` in the data, not here
  args <- c(list(formula, data = env$d), if (weighted) list(weights = env$d$w))
  ref <- tryCatch(stats::coef(do.call(stats::lm, args)), error = function(e) NULL)
  if (!is.null(ref) && identical(names(ref), names(beta)) && identical(is.na(ref), is.na(beta))) {
    return(character(0))
  }
  sprintf("coefficient(s) %s are NA (aliased) but lm() estimates them",
          paste(names(beta)[is.na(beta)], collapse = ", "))
}

## One validator per function (the name of the call): check(x, env, case)
## returns problems (character(0) when valid) and runs the methods; key(x, env)
## gives the scale-free numbers that a change of units must not change.
sweep_validators <- list(
  vcov_cluster = list(
    check = function(x, env, case) {
      if (!is.matrix(x) || !is.numeric(x) || nrow(x) != ncol(x)) return("not a square numeric matrix")
      c(if (!case$nonfinite) nonfinite_problem("covariance", x),
        if (any(diag(x) < 0, na.rm = TRUE)) "negative variance on the diagonal",
        if (!isSymmetric(unname(x), tol = 1e-8)) "not symmetric")
    },
    key = function(x, env) {
      fit <- if (!is.null(env$wfit) && identical(rownames(x), names(stats::coef(env$wfit)))) env$wfit else env$fit
      stats::coef(fit)[rownames(x)] / sqrt(diag(x))
    }),
  coef_test = list(
    check = function(x, env, case) {
      c(if (!case$nonfinite) c(nonfinite_problem("estimates and standard errors", x[, 1:3]),
                               p_value_problem("p-values", x[, 4L])),
        run_methods(x, env, list(print = function(x, env) printed(x),
                                 tidy = function(x, env) tidy(x))))
    },
    key = function(x, env) x[, 3L]),
  coef_ci = list(
    check = function(x, env, case) if (!case$nonfinite) nonfinite_problem("intervals", x),
    key = function(x, env) (x[, 1L] + x[, 2L]) / (x[, 2L] - x[, 1L])),
  cluster_lm = list(
    check = function(x, env, case) {
      beta <- stats::coef(x)
      ok <- !is.na(beta)
      c(aliased_problem(beta, env, x$formula, weighted = isTRUE(x$weighted)),
        if (!case$nonfinite) nonfinite_problem("covariance", vcov(x)[ok, ok]),
        run_methods(x, env, list(
          print = function(x, env) printed(x),
          summary = function(x, env) printed(summary(x)),
          confint = function(x, env) confint(x),
          tidy = function(x, env) tidy(x, conf.int = TRUE),
          coef_test = function(x, env) printed(coef_test(x)),
          nobs = function(x, env) nobs(x),
          "vcov_cluster(type = \"CR3\")" = function(x, env) vcov_cluster(x, type = "CR3", threads = 1)))
      )
    },
    key = function(x, env) tidy(x)$statistic),
  cluster_stats = list(
    check = function(x, env, case) {
      c(nonfinite_problem("moments", x$moments),
        run_methods(x, env, list(
          print = function(x, env) printed(x),
          as.data.frame = function(x, env) as.data.frame(x),
          as.data.table = function(x, env) data.table::as.data.table(x),
          cluster_lm = function(x, env) {
            fit <- cluster_lm(x, threads = 1)
            nonfinite_problem("cluster_lm() from the statistics", vcov(fit))
          })))
    },
    key = function(x, env) tidy(cluster_lm(x, threads = 1))$statistic),
  ri_lmer = list(
    check = function(x, env, case) {
      c(if (!case$nonfinite) c(
          nonfinite_problem("fixed effects", fixef(x)),
          nonfinite_problem("covariance of the fixed effects", vcov(x)),
          nonfinite_problem("variance components", c(sigma(x), x$theta)),
          nonfinite_problem("log-likelihood", stats::logLik(x))),
        run_methods(x, env, list(
          print = function(x, env) printed(x),
          summary = function(x, env) printed(summary(x)),
          "summary(ddf = \"Kenward-Roger\")" = function(x, env) printed(summary(x, ddf = "Kenward-Roger")),
          anova = function(x, env) printed(stats::anova(x)),
          ranef = function(x, env) printed(ranef(x)),
          VarCorr = function(x, env) printed(VarCorr(x)),
          coef = function(x, env) printed(stats::coef(x)),
          fitted = function(x, env) stats::fitted(x),
          residuals = function(x, env) stats::residuals(x),
          predict = function(x, env) stats::predict(x),
          "predict(newdata)" = function(x, env) stats::predict(x, newdata = env$d),
          "confint(method = \"Wald\")" = function(x, env) confint(x, method = "Wald"),
          ## The profile is the slow method: legitimate inputs only.
          confint = function(x, env) if (case$expect == "value") confint(x),
          AIC = function(x, env) stats::AIC(x),
          isSingular = function(x, env) isSingular(x),
          tidy = function(x, env) tidy(x, conf.int = TRUE),
          icc = function(x, env) {
            r <- icc(x)
            nonfinite_problem("icc() of the fit", c(r$estimate, r$conf.int))
          })))
    },
    ## theta itself scales with the units of the weights (as lme4's: theta
    ## by 1/sqrt(c) and sigma by sqrt(c) for weights c * w), so the key is
    ## the t statistics, which depend on theta through the GLS weights.
    key = function(x, env) tidy(x)$statistic[seq_along(fixef(x))]),
  icc = list(
    check = function(x, env, case) {
      c(if (!case$nonfinite) nonfinite_problem("ICC and its interval", c(x$estimate, x$conf.int)),
        run_methods(x, env, list(print = function(x, env) printed(x),
                                 tidy = function(x, env) tidy(x))))
    },
    key = function(x, env) x$estimate),
  design_effect = list(
    check = function(x, env, case) {
      c(nonfinite_problem("design effect", x),
        if (!is.numeric(x) || length(x) != 1L || isTRUE(x <= 0)) "not a single positive number")
    },
    key = function(x, env) x),
  cluster_ttest = list(
    check = function(x, env, case) {
      one_sided <- !identical(x$alternative, "two.sided")
      c(if (!case$nonfinite) c(
          nonfinite_problem("estimate, statistic, df and standard error",
                            c(x$estimate, x$statistic, x$parameter, x$stderr)),
          nonfinite_problem("interval", x$conf.int, allow_inf = one_sided),
          p_value_problem("p-value", x$p.value)),
        run_methods(x, env, allow_inf_limits = one_sided,
                    list(print = function(x, env) printed(x), tidy = function(x, env) tidy(x))))
    },
    key = function(x, env) c(x$statistic, x$p.value)),
  did_boot = list(
    check = function(x, env, case) {
      c(if (!case$nonfinite) c(
          nonfinite_problem("estimate, standard errors and intervals",
                            c(x$estimate, x$std.error, x$statistic, x$conf.int, x$boot_ci, x$boot_se)),
          p_value_problem("p-value", x$p.value)),
        run_methods(x, env, list(
          print = function(x, env) printed(x),
          summary = function(x, env) printed(summary(x)),
          confint = function(x, env) confint(x),
          "confint(level = 0.9)" = function(x, env) confint(x, level = 0.9),
          tidy = function(x, env) tidy(x),
          plot = function(x, env) plotted(x))))
    },
    key = function(x, env) c(x$statistic, x$p.value)),
  ratio_test = list(
    check = function(x, env, case) {
      comp <- x$comparisons
      ## A one-sided interval has an infinite end (documented).
      one_sided <- !identical(x$alternative, "two.sided")
      c(if (!case$nonfinite) c(
          nonfinite_problem("differences and standard errors", comp[c("estimate", "std.error")]),
          nonfinite_problem("intervals", comp[c("conf.low", "conf.high")], allow_inf = one_sided),
          p_value_problem("p-values", comp$p.value),
          ## The lift is NA (documented) only when the control ratio is 0.
          if (!any(x$groups$ratio == 0)) c(
            nonfinite_problem("lifts", comp[c("lift", "lift.std.error")]),
            nonfinite_problem("lift intervals", comp[c("lift.conf.low", "lift.conf.high")],
                              allow_inf = one_sided))),
        run_methods(x, env, allow_inf_limits = one_sided, list(
          print = function(x, env) printed(x),
          summary = function(x, env) printed(summary(x)),
          tidy = function(x, env) tidy(x),
          confint = function(x, env) confint(x),
          "confint(type = \"lift\")" = function(x, env) confint(x, type = "lift"),
          plot = function(x, env) plotted(x))))
    },
    key = function(x, env) c(x$comparisons$p.value, x$comparisons$lift)),
  randomization_test = list(
    check = function(x, env, case) {
      tests <- if (inherits(x, "randomization_test_arms")) x$tests else list(x)
      c(unlist(lapply(tests, function(t) c(
          nonfinite_problem("statistic and estimate", c(t$statistic, t$estimate)),
          p_value_problem("p-values", t$p.values),
          ## An infinite end is documented (too few assignments); NaN is not.
          if (!is.null(t$conf.int)) nonfinite_problem("interval", t$conf.int, allow_inf = TRUE)))),
        run_methods(x, env, allow_inf_limits = TRUE, list(
          print = function(x, env) printed(x),
          summary = function(x, env) printed(summary(x)),
          tidy = function(x, env) tidy(x),
          confint = function(x, env) confint(x),
          plot = function(x, env) plotted(x))))
    },
    key = function(x, env) x$p.values)
)
sweep_validators$network_exposure <- list(
  check = function(x, env, case) {
    if (!data.table::is.data.table(x)) return("not a data.table")
    c(nonfinite_problem("exposure table", Filter(is.numeric, x)),
      if (any(x$exposure < 0 | x$exposure > 1)) "exposure outside [0, 1]")
  },
  key = function(x, env) x$exposure)
sweep_validators$exposure_effects <- list(
  check = function(x, env, case) {
    num <- function(tab) Filter(is.numeric, tab)
    c(nonfinite_problem("means", num(x$means), allow_na = TRUE),
      nonfinite_problem("contrasts", num(x$contrasts), allow_na = TRUE),
      p_value_problem("p-values", x$contrasts$p.value[!is.na(x$contrasts$p.value)]),
      nonfinite_problem("probabilities", x$probabilities[, c("c0", "c1", "t0", "t1")]),
      if (any(x$probabilities[, c("c0", "c1", "t0", "t1")] < 0 |
              x$probabilities[, c("c0", "c1", "t0", "t1")] > 1)) "probabilities outside [0, 1]",
      run_methods(x, env, list(print = function(x, env) printed(x),
                               tidy = function(x, env) tidy(x))))
  },
  key = function(x, env) x$contrasts$statistic)
sweep_validators$spillover_test <- list(
  check = function(x, env, case) {
    c(nonfinite_problem("statistic", c(x$statistic, x$t0)),
      p_value_problem("p-value", x$p.value),
      run_methods(x, env, list(print = function(x, env) printed(x),
                               tidy = function(x, env) tidy(x),
                               plot = function(x, env) plotted(x))))
  },
  key = function(x, env) x$p.value)
sweep_validators$graph_clusters <- list(
  check = function(x, env, case) {
    c(if (!data.table::is.data.table(x$clusters)) "clusters is not a data.table",
      nonfinite_problem("cut share", x$cut_share),
      run_methods(x, env, list(print = function(x, env) printed(x))))
  },
  key = function(x, env) NULL)
sweep_validators$effective_n <- sweep_validators$design_effect
## Methods called on their own (confint(fit, level = 0.9), ...): numbers
## that are returned must not be NaN.
sweep_validators$default <- list(
  check = function(x, env, case) {
    if (is.numeric(x) || is.data.frame(x)) {
      nonfinite_problem("result", if (is.data.frame(x)) Filter(is.numeric, x) else x, allow_na = TRUE)
    } else character(0)
  },
  key = function(x, env) NULL)

## Oracles: `got` agrees with a reference package's `want` to `tol`
## (relative), or the problem says by how much it does not.
oracle_problem <- function(what, got, want, tol = 1e-6) {
  got <- unname(as.double(got)); want <- unname(as.double(want))
  if (length(got) != length(want)) return(sprintf("%s: %d values, the reference has %d", what, length(got), length(want)))
  err <- abs(got - want) / pmax(abs(want), 1e-300)
  if (!anyNA(err) && max(err) <= tol) return(character(0))
  sprintf("%s %s, the reference %s (largest relative error %.2g)", what,
          paste(signif(got, 4), collapse = ", "), paste(signif(want, 4), collapse = ", "),
          max(err, na.rm = TRUE))
}

## A weighted fit's coefficients and SEs against lm() and sandwich::vcovCL()
## (HC types) or clubSandwich::vcovCR() (CR2).
weighted_oracle <- function(type) {
  function(x, env) {
    if (!requireNamespace("sandwich", quietly = TRUE) ||
        !requireNamespace("clubSandwich", quietly = TRUE)) return(character(0))
    ref <- stats::lm(y ~ x + trt, data = env$d, weights = w)
    V <- if (type == "CR2") clubSandwich::vcovCR(ref, cluster = env$d$g, type = "CR2")
         else sandwich::vcovCL(ref, cluster = ~ g, type = type)
    se <- if (is.matrix(x)) sqrt(diag(x)) else sqrt(diag(vcov(x)))
    c(if (!is.matrix(x)) oracle_problem("coefficients", stats::coef(x), stats::coef(ref)),
      oracle_problem(sprintf("%s standard errors", type), se, sqrt(diag(as.matrix(V)))))
  }
}

## Scale-free keys agree to 1e-6 (relative, or absolute near 0).
key_problem <- function(a, b) {
  if (length(a) != length(b)) {
    return(sprintf("scale-free key has %d values, %d on the original data (coefficients dropped as aliased?)",
                   length(a), length(b)))
  }
  a <- unname(as.double(a)); b <- unname(as.double(b))
  bad <- !(abs(a - b) <= 1e-6 * pmax(1, abs(b))) | xor(is.na(a), is.na(b))
  bad[is.na(a) & is.na(b)] <- FALSE
  if (!any(bad)) return(character(0))
  sprintf("changes with the units: t statistics/p-values %s, on the original data %s",
          paste(signif(a[bad], 4), collapse = ", "), paste(signif(b[bad], 4), collapse = ", "))
}

## ---- running cases -----------------------------------------------------------------

## Cases found to crash the R process (segfault) on the code of 2026-12-01.
sweep_known_crashes <- c(
  ## Weighted CR2 with a weight or covariate beyond about 1e154: squares
  ## overflow and Eigen reads a null pointer (issue 8).
  "vcov_cluster CR2 weighted | x: one value 1e155",
  "vcov_cluster CR2 weighted | w: one value 1e155",
  "vcov_cluster CR2 weighted | w: times 1e200",
  "vcov_cluster CR2 weighted | w: times 1e155",
  "coef_ci CR2 weighted | w: one value 1e155",
  "coef_ci CR2 weighted | w: times 1e200",
  "coef_ci CR2 weighted | w: times 1e155",
  "cluster_lm CR2 weighted | x: one value 1e200",
  "cluster_lm CR2 weighted | w: one value 1e200",
  "cluster_lm CR2 weighted | w: one value 1e155",
  "cluster_lm CR2 weighted | x: times 1e200",
  "cluster_lm CR2 weighted | x: times 1e155",
  "cluster_lm CR2 weighted | w: times 1e200",
  "cluster_lm CR2 weighted | w: times 1e155",
  ## Exact enumeration of Welch t with an outcome of 1e155: the pilot's t
  ## statistics were not finite, and so were the histogram breaks.
  "randomization_test t | y: one value 1e155"
)

names_argument <- function(msg, names) {
  any(vapply(names, function(n) {
    any(vapply(c("`%s`", "'%s'", "\"%s\""), function(f) grepl(sprintf(f, n), msg, fixed = TRUE), NA))
  }, NA))
}

## Evaluates `expr` in `env` with warnings recorded (unclassed ones are
## problems) and messages muffled, under an elapsed-time limit.
sweep_eval <- function(expr, env, time_limit) {
  warnings <- character(0)
  classes <- character(0)
  setTimeLimit(elapsed = time_limit, transient = TRUE)
  on.exit(setTimeLimit(elapsed = Inf))
  res <- withCallingHandlers(
    tryCatch(list(kind = "value", value = eval(expr, env)),
             error = function(e) list(kind = "error", condition = e),
             interrupt = function(e) list(kind = "interrupt")),
    warning = function(w) {
      if (!inherits(w, "clusterab_warning")) warnings <<- c(warnings, conditionMessage(w))
      classes <<- c(classes, class(w))
      invokeRestart("muffleWarning")
    },
    message = function(m) invokeRestart("muffleMessage"))
  res$warnings <- warnings
  res$classes <- classes
  res
}

## Runs one case: list(status = "pass"/"fail"/"skip", problems, outcome).
sweep_run_case <- function(case) {
  fun <- as.character(case$call[[1L]])
  validator <- sweep_validators[[fun[length(fun)]]]
  if (is.null(validator)) validator <- sweep_validators$default
  opts <- options()
  on.exit({
    new <- setdiff(names(options()), names(opts))
    options(opts)
    if (length(new)) options(stats::setNames(vector("list", length(new)), new))
  })
  make_env <- function(data) {
    env <- list2env(data, parent = sweep_env)
    if (!is.null(case$setup)) {
      ok <- tryCatch({ suppressWarnings(suppressMessages(eval(case$setup, env))); TRUE },
                     error = function(e) FALSE)
      if (!ok) return(NULL)
    }
    env
  }
  env <- make_env(case$data)
  if (is.null(env)) return(list(status = "skip", problems = "setup failed", outcome = "not run"))
  on.exit(if (!is.null(case$cleanup)) try(eval(case$cleanup, env), silent = TRUE), add = TRUE)
  set.seed(20261201)
  res <- sweep_eval(case$call, env, case$time_limit)
  problems <- character(0)
  outcome <- "value"
  if (res$kind == "interrupt") {
    outcome <- "interrupted"
    problems <- sprintf("interrupted: still running after %g s (should be refused before starting, or be fast)",
                        case$time_limit)
  } else if (res$kind == "error") {
    e <- res$condition
    msg <- gsub("\\s+", " ", conditionMessage(e))
    outcome <- sprintf("error <%s>: %s", class(e)[1L], msg)
    if (grepl("reached elapsed time limit", msg, fixed = TRUE)) {
      problems <- sprintf("still running after %g s: should be refused before starting, or be fast",
                          case$time_limit)
    } else if (!inherits(e, "clusterab_error")) {
      problems <- sprintf("unclassed error (%s): %s", paste(class(e), collapse = "/"), msg)
    } else if (case$expect == "value") {
      problems <- sprintf("refused a legitimate input: %s", msg)
    } else if (length(case$names) && !names_argument(msg, case$names)) {
      problems <- sprintf("the error does not name %s: %s",
                          paste0("`", case$names, "`", collapse = " or "), msg)
    }
  } else {
    if (case$expect == "error") {
      problems <- sprintf("accepted; should be refused with an error naming %s",
                          paste0("`", case$names, "`", collapse = " or "))
    }
    x <- res$value
    checked <- sweep_eval(quote(validator$check(x, env, case)),
                          list2env(list(validator = validator, x = x, env = env, case = case)),
                          case$time_limit)
    problems <- c(problems, if (checked$kind == "value") checked$value
                            else sprintf("checking the result failed: %s",
                                         if (checked$kind == "error") conditionMessage(checked$condition) else "interrupted"))
    res$warnings <- c(res$warnings, checked$warnings)
    ## t = 0 / 0 is undefined: NaN statistics are right when the package says
    ## so (a perfect fit, as summary.lm() says "essentially perfect fit").
    if ("clusterab_perfect_fit" %in% c(res$classes, checked$classes)) {
      problems <- problems[!grepl("column (statistic|p.value) has NaN", problems)]
    }
    if (!is.null(case$warns) && !(case$warns %in% c(res$classes, checked$classes))) {
      problems <- c(problems, sprintf("no warning of class %s", case$warns))
    }
    if (!is.null(case$check)) {
      problems <- c(problems, tryCatch(case$check(x, env), error = function(e) {
        sprintf("the comparison with the reference failed: %s", conditionMessage(e))
      }))
    }
    if (!is.null(case$reference) && length(problems) == 0L) {
      ref_env <- make_env(case$reference)
      set.seed(20261201)
      ref <- if (!is.null(ref_env)) sweep_eval(case$call, ref_env, case$time_limit)
      if (!is.null(ref) && ref$kind == "value") {
        problems <- c(problems, tryCatch(key_problem(validator$key(x, env), validator$key(ref$value, ref_env)),
                                         error = function(e) sprintf("key failed: %s", conditionMessage(e))))
      }
    }
  }
  if (length(res$warnings)) {
    problems <- c(problems, sprintf("unclassed warning: %s", unique(res$warnings)))
  }
  list(status = if (length(problems)) "fail" else "pass", problems = problems, outcome = outcome)
}

## Runs a family; a data frame with one row per case.
sweep_run <- function(cases) {
  skip_crash <- identical(Sys.getenv("CLUSTERAB_SWEEP_SKIP_CRASH"), "1")
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  rows <- lapply(cases, function(case) {
    crash <- case$label %in% sweep_known_crashes
    r <- if (crash && skip_crash) {
      list(status = "skip", problems = "crashes the process (CLUSTERAB_SWEEP_SKIP_CRASH=1)", outcome = "not run")
    } else {
      sweep_run_case(case)
    }
    data.frame(label = case$label, call = paste(deparse(case$call), collapse = " "),
               expect = case$expect, status = r$status, crash = crash,
               problem = paste(r$problems, collapse = "; "), outcome = r$outcome,
               stringsAsFactors = FALSE)
  })
  do.call(rbind, rows)
}

## The expectations of a family: one per case, failing with its label. With
## CLUSTERAB_SWEEP_OUT set to a directory, every outcome is also written
## there, one tab-separated file per family.
expect_sweep <- function(cases, family) {
  res <- sweep_run(cases)
  out <- Sys.getenv("CLUSTERAB_SWEEP_OUT")
  if (nzchar(out)) {
    utils::write.table(res, file.path(out, paste0(family, ".tsv")), sep = "\t", quote = FALSE,
                       row.names = FALSE)
  }
  for (i in seq_len(nrow(res))) {
    if (res$status[i] == "skip") next
    expect(res$status[i] == "pass",
           sprintf("[%s] %s\n  call: %s\n  %s", res$label[i], res$problem[i], res$call[i],
                   res$outcome[i]))
  }
  invisible(res)
}

## ---- the families -------------------------------------------------------------------

## Shared argument values.
bad_conf_levels <- alist(2, 0, 1, NA, "0.95", c(0.9, 0.95), -0.5)
bad_replicates  <- alist(0, NA, -1, 2.5, Inf, "199", c(199, 299))

fit_setup <- quote({
  fit <- lm(y ~ x + trt, data = d)
  wfit <- lm(y ~ x + trt, data = d, weights = w)
})

sweep_family_vcov <- function() {
  hc1 <- quote(vcov_cluster(fit, cluster = ~ g, threads = 1))
  cr2 <- quote(vcov_cluster(wfit, cluster = ~ g, type = "CR2", threads = 1))
  ct <- quote(coef_test(fit, cluster = ~ g, type = "CR1", threads = 1))
  ci <- quote(coef_ci(wfit, cluster = ~ g, type = "CR2", threads = 1))
  s <- fit_setup
  also_naming(names = "x", c(lapply(list(hc1, cr2, ct, ci), function(cl) {
      sweep_case(paste(deparse(cl), collapse = " "), cl, expect = "value", setup = s)
    }),
    column_cases("vcov_cluster HC1", hc1, c("y", "x"), setup = s),
    column_cases("vcov_cluster CR2 weighted", cr2, c("y", "x", "w"), setup = s),
    column_cases("coef_test CR1", ct, "y", setup = s),
    column_cases("coef_ci CR2 weighted", ci, "w", setup = s),
    scale_cases("vcov_cluster CR2 weighted", cr2, c("y", "x", "w"), value = "w", setup = s),
    scale_cases("coef_test CR1", ct, c("y", "x"), value = character(0), setup = s),
    scale_cases("coef_ci CR2 weighted", ci, "w", setup = s),
    cluster_cases("vcov_cluster HC1", hc1, own = "value", setup = s),
    cluster_cases("vcov_cluster CR2 weighted", cr2, own = "value", setup = s),
    data_cases("vcov_cluster HC1", hc1, setup = s),
    arg_cases("vcov_cluster HC1", hc1, "cluster", setup = s,
              refuse = alist(1, "nope", d$g[-1], mean, NA, ~ 1, ~ nope, TRUE, character(0)),
              accept = alist("g", ~ g, d$g, as.character(d$g), NULL, ~ g + blk,
                             data.frame(g = d$g, blk = d$blk)),
              either = alist(list(d$g))),
    arg_cases("vcov_cluster HC1", hc1, "type", setup = s,
              refuse = alist("CR9", NA, 1, c("HC1", "CR2"), "cr2", ""),
              accept = alist("HC0", "HC2", "HC3", "CR0", "CR1", "CR1S", "CR3", "HC")),
    arg_cases("vcov_cluster HC1", hc1, "cadjust", setup = s, refuse = alist(NA, "yes", c(TRUE, FALSE))),
    arg_cases("vcov_cluster HC1", hc1, "fix", setup = s, refuse = alist(2, NA)),
    arg_cases("vcov_cluster HC1", hc1, "multi0", setup = s, refuse = alist(NA)),
    threads_cases("vcov_cluster HC1", hc1, setup = s),
    arg_cases("vcov_cluster HC1", hc1, "x", setup = s, names = "x",
              refuse = alist(d, "fit", NULL, 1),
              accept = alist(glm(y ~ x + trt, data = d), lm(y ~ x + trt, data = d, subset = x > -2)),
              either = alist(lm(cbind(y, x) ~ trt, data = d), lm(y ~ x + trt, data = d[1:2, ]),
                             lm(y ~ 0, data = d))),
    ## One weight 1e14 times the others: wrong SEs that looked valid (issue 8).
    ## HC1 must equal sandwich. For CR2 clubSandwich's own answer is rounding
    ## noise at this span (it changes with a 1e-10 change of the weight), and
    ## the adjustment cannot be computed accurately in double precision: the
    ## result must come with the classed warning that says so.
    lapply(c("HC1", "CR2"), function(type) {
      sweep_case(sprintf("vcov_cluster %s weighted | w: one weight 1e14 times the others", type),
                 with_args(quote(vcov_cluster(wfit, cluster = ~ g, threads = 1)), type = type),
                 names = c("w", "weights", "x"),
                 check = if (type == "HC1") weighted_oracle(type),
                 warns = if (type == "CR2") "clusterab_ill_conditioned", setup = s,
                 data = list(d = within(sweep_d, w[3] <- w[3] * 1e14)))
    }),
    ## CR1p with G <= k: clubSandwich gives NaN with a warning (issue 8, item 3).
    list(sweep_case("vcov_cluster CR1p with fewer clusters than coefficients",
                    quote(vcov_cluster(fit, cluster = ~ g2, type = "CR1p", threads = 1)),
                    names = c("type", "cluster"), nonfinite = TRUE,
                    setup = quote({ d$g2 <- 1L + (d$g > 5L); fit <- lm(y ~ x + trt + blk, data = d) }))),
    arg_cases("coef_test CR1", ct, "vcov", setup = s, names = "vcov",
              refuse = alist(diag(2), diag(4), matrix(NA_real_, 3, 3), "HC1", function(x, ...) NULL,
                             matrix(1, 3, 3) * -1),
              accept = alist(vcov, vcov_cluster, vcov_cluster(fit, cluster = ~ g))),
    arg_cases("coef_test CR1", ct, "df", setup = s,
              refuse = alist(-1, "nope", NA, c(1, 2)),
              accept = alist("residual", "cluster", Inf, 5),
              either = alist(0)),
    arg_cases("coef_ci CR2 weighted", ci, "level", setup = s, refuse = bad_conf_levels),
    arg_cases("coef_ci CR2 weighted", ci, "parm", setup = s,
              accept = alist("x", 2), either = alist("nope", 10, NA))
  ))
}

sweep_family_cluster_lm <- function() {
  hc1 <- quote(cluster_lm(y ~ x + trt, d, cluster = ~ g, threads = 1))
  cr2 <- quote(cluster_lm(y ~ x + trt, d, cluster = ~ g, weights = "w", type = "CR2", threads = 1))
  fit <- quote(fit <- cluster_lm(y ~ x + trt, d, cluster = ~ g, threads = 1))
  c(list(sweep_case("cluster_lm HC1 | valid", hc1, expect = "value"),
         sweep_case("cluster_lm CR2 weighted | valid", cr2, expect = "value")),
    column_cases("cluster_lm HC1", hc1, c("y", "x")),
    column_cases("cluster_lm CR2 weighted", cr2, c("y", "x", "w")),
    scale_cases("cluster_lm HC1", hc1, c("y", "x"), value = character(0)),
    scale_cases("cluster_lm CR2 weighted", cr2, c("y", "x", "w"), value = "w"),
    lapply(c("HC1", "CR2"), function(type) {
      sweep_case(sprintf("cluster_lm %s weighted | w: one weight 1e14 times the others", type),
                 with_args(cr2, type = type), names = c("w", "weights"),
                 check = if (type == "HC1") weighted_oracle(type),
                 warns = if (type == "CR2") "clusterab_ill_conditioned",
                 data = list(d = within(sweep_d, w[3] <- w[3] * 1e14)))
    }),
    cluster_cases("cluster_lm HC1", hc1, own = "value"),
    cluster_cases("cluster_lm CR2 weighted", cr2, own = "value"),
    data_cases("cluster_lm HC1", hc1),
    arg_cases("cluster_lm HC1", hc1, "formula",
              refuse = alist(~ x, y ~ nope, 1, y, cbind(y, x) ~ trt),
              accept = alist(y ~ 1, y ~ factor(blk) + x, y ~ x * trt, y ~ 0 + x),
              either = alist("y ~ x + trt", y ~ x + (1 | g))),
    arg_cases("cluster_lm HC1", hc1, "data", refuse = alist(as.matrix(d), NULL, "d", 1),
              either = alist(as.list(d))),
    arg_cases("cluster_lm HC1", hc1, "cluster",
              refuse = alist(1, "nope", d$g[-1], mean, NA, ~ 1, ~ nope, TRUE, NULL),
              accept = alist("g", d$g, ~ g + blk, c("g", "blk")),
              either = alist(list(d$g))),
    arg_cases("cluster_lm HC1", hc1, "weights",
              refuse = alist("nope", -d$w, d$w[-1], mean, c("w", "x"), TRUE,
                             rep(0, nrow(d)), as.character(d$w)),
              accept = alist(~ w, d$w, "w", d$w * 1e6, d$w * 1e-6, "g")),
    arg_cases("cluster_lm HC1", hc1, "type",
              refuse = alist("CR9", NA, 1, c("HC1", "CR2"), "cr2"),
              accept = alist("CR3", "CR1p", "HC3")),
    arg_cases("cluster_lm HC1", hc1, "cadjust", refuse = alist(NA, "yes")),
    threads_cases("cluster_lm HC1", hc1),
    list(method_case("cluster_lm", quote(confint(fit, level = 2)), "level", setup = fit),
         method_case("cluster_lm", quote(confint(fit, parm = "nope")), "parm", "either", setup = fit),
         method_case("cluster_lm", quote(tidy(fit, conf.int = TRUE, conf.level = 2)), "conf.level", setup = fit),
         method_case("cluster_lm", quote(summary(fit, df = "nope")), "df", setup = fit),
         method_case("cluster_lm", quote(summary(fit, df = -1)), "df", setup = fit),
         method_case("cluster_lm", quote(vcov_cluster(fit, type = "CR9")), "type", setup = fit),
         method_case("cluster_lm", quote(vcov_cluster(fit, cluster = d$g[-1])), "cluster", setup = fit),
         method_case("cluster_lm", quote(coef_test(fit, vcov = diag(2))), "vcov", setup = fit))
  )
}

sweep_family_cluster_stats <- function() {
  st <- quote(cluster_stats(d, y ~ x + trt, cluster = "g", weights = "w", threads = 1))
  s <- quote(st <- cluster_stats(d, y ~ x + trt, cluster = "g", threads = 1))
  c(list(sweep_case("cluster_stats | valid", st, expect = "value"),
         ## Model functions take (formula, data): cluster_stats() is generic in both orders.
         sweep_case("cluster_stats | (formula, data) order",
                    quote(cluster_stats(y ~ x + trt, d, cluster = "g", threads = 1)), expect = "value")),
    column_cases("cluster_stats", st, c("y", "x", "w")),
    scale_cases("cluster_stats", st, c("y", "x", "w"), value = character(0)),
    cluster_cases("cluster_stats", st, own = "value"),
    data_cases("cluster_stats", st),
    arg_cases("cluster_stats", st, "cluster",
              refuse = alist(1, "nope", d$g[-1], mean, NA, c("g", "blk"), ~ g + blk, NULL),
              accept = alist(~ g, d$g)),
    arg_cases("cluster_stats", st, "weights", refuse = alist("nope", -d$w, d$w[-1])),
    arg_cases("cluster_stats", st, "formula", refuse = alist(~ x, y ~ nope, 1, NULL)),
    threads_cases("cluster_stats", st),
    list(method_case("cluster_stats", quote(cluster_lm(st, type = "CR9")), "type", setup = s),
         method_case("cluster_stats", quote(cluster_lm(y ~ nope, st)), c("nope", "formula"), setup = s),
         method_case("cluster_stats", quote(cluster_lm(y ~ x, st, threads = 1)), expect = "value",
                     character(0), setup = s),
         method_case("cluster_stats", quote(ri_lmer(st, threads = 1)), expect = "value", character(0), setup = s),
         method_case("cluster_stats", quote(ri_lmer(y ~ x + (1 | nope), st)), c("nope", "formula", "(1 | nope)"), setup = s),
         method_case("cluster_stats", quote(ri_lmer(st, weights = "w")), "weights", setup = s))
  )
}

## cluster_stats() on a database table (SQLite): each case writes its data.
sweep_family_cluster_stats_dbi <- function() {
  st <- quote(cluster_stats(con, y ~ x + trt, cluster = "g", weights = "w", table = "t"))
  s <- quote({
    con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
    DBI::dbWriteTable(con, "t", as.data.frame(d))
  })
  done <- quote(DBI::dbDisconnect(con))
  db_edits <- value_edits[c("one NA", "one Inf", "all NA", "one value 1e200", "one value 1e155",
                            "one value 1e-200", "constant", "character", "logical")]
  c(list(sweep_case("cluster_stats DBI | valid", st, expect = "value", setup = s, cleanup = done)),
    column_cases("cluster_stats DBI", st, c("y", "x", "w"), edits = db_edits, setup = s, cleanup = done),
    scale_cases("cluster_stats DBI", st, c("y", "x", "w"), value = character(0), setup = s, cleanup = done),
    lapply(cluster_cases("cluster_stats DBI", st, own = "value", setup = s, cleanup = done),
           function(case) { if (grepl("(Date|POSIXct) ids", case$label)) case$expect <- "either"; case }),
    also_naming(data_cases("cluster_stats DBI", st, setup = s, cleanup = done)[1:3], "table"),
    arg_cases("cluster_stats DBI", st, "table", refuse = alist("nope", 1, NA, c("t", "u"), NULL),
              names = c("table", "nope"), setup = s, cleanup = done),
    arg_cases("cluster_stats DBI", st, "cluster", refuse = alist(d$g, "nope", ~ g + blk, 1, NA),
              accept = alist(~ g), setup = s, cleanup = done),
    arg_cases("cluster_stats DBI", st, "weights", refuse = alist("nope", d$w, 1), accept = alist(~ w),
              setup = s, cleanup = done),
    arg_cases("cluster_stats DBI", st, "formula", names = c("formula", "nope"),
              refuse = alist(y ~ factor(x), y ~ x:trt, y ~ nope, ~ x, "y ~ x", 1),
              setup = s, cleanup = done)
  )
}

## cluster_stats_sql(): the SQL without a connection.
sweep_family_cluster_stats_sql <- function() {
  ss <- quote(cluster_stats_sql(y ~ x + trt, cluster = "g", weights = "w", table = "t", dialect = "ansi"))
  c(list(sweep_case("cluster_stats_sql | valid", ss, expect = "value"),
         sweep_case("sql_dialects | valid", quote(sql_dialects()), expect = "value")),
    arg_cases("cluster_stats_sql", ss, "dialect", refuse = alist("oracle", NA, 1, c("ansi", "mssql"), NULL),
              accept = alist("bigquery", "mssql")),
    arg_cases("cluster_stats_sql", ss, "table", refuse = alist(1, NA, c("t", "u"), NULL, ""),
              accept = alist(DBI::Id(schema = "ab", table = "t"), DBI::SQL("(SELECT * FROM t) v"))),
    arg_cases("cluster_stats_sql", ss, "cluster", refuse = alist(d$g, ~ g + blk, 1, NA, NULL),
              accept = alist(~ g)),
    arg_cases("cluster_stats_sql", ss, "weights", refuse = alist(d$w, 1), accept = alist(~ w, NULL)),
    arg_cases("cluster_stats_sql", ss, "formula", names = "formula",
              refuse = alist(y ~ factor(x), y ~ x:trt, ~ x, "y ~ x", 1)),
    arg_cases("cluster_stats_sql", ss, "shift",
              refuse = alist(c(x = 0, trt = 0.5), c(0, 0.5, 1), c(x = NA, trt = 0.5, y = 1), "x"),
              accept = alist(c(y = 1, trt = 0.5, x = 0), NULL))
  )
}

## cluster_stats() on CSV files: each case writes its data to a file, read
## in chunks of 7 rows.
sweep_family_cluster_stats_csv <- function() {
  st <- quote(cluster_stats(path, y ~ x + trt, cluster = "g", weights = "w", chunk_rows = 7))
  s <- quote({
    path <- tempfile(fileext = ".csv")
    data.table::fwrite(d, path)
  })
  done <- quote(unlink(path))
  csv_edits <- value_edits[c("one NA", "one Inf", "all NA", "one value 1e200", "one value 1e155",
                             "one value 1e-200", "constant", "character", "logical", "Date")]
  c(list(sweep_case("cluster_stats CSV | valid", st, expect = "value", setup = s, cleanup = done)),
    column_cases("cluster_stats CSV", st, c("y", "x", "w"), edits = csv_edits, setup = s, cleanup = done),
    scale_cases("cluster_stats CSV", st, c("y", "x", "w"), value = character(0), setup = s, cleanup = done),
    ## written to text and read back, Date and POSIXct ids are read as fread reads them
    lapply(cluster_cases("cluster_stats CSV", st, own = "value", setup = s, cleanup = done)[c(1:3, 6:10, 12, 16:18)],
           function(case) { case$names <- c(case$names, "data"); case }),
    also_naming(data_cases("cluster_stats CSV", st, setup = s, cleanup = done)[1:3], "data"),
    arg_cases("cluster_stats CSV", st, "data", refuse = alist("no/such/file.csv", NA_character_, "",
                                                            c(path, "no/such/file.csv"), tempdir()),
              setup = s, cleanup = done),
    arg_cases("cluster_stats CSV", st, "cluster", refuse = alist(d$g, "nope", ~ g + blk, 1, NA),
              accept = alist(~ g), setup = s, cleanup = done),
    arg_cases("cluster_stats CSV", st, "weights", refuse = alist("nope", d$w, 1), accept = alist(~ w),
              setup = s, cleanup = done),
    arg_cases("cluster_stats CSV", st, "formula", names = c("formula", "nope"),
              refuse = alist(y ~ log(x), y ~ nope, ~ x, "y ~ x", 1), accept = alist(y ~ x:trt),
              setup = s, cleanup = done),
    arg_cases("cluster_stats CSV", st, "chunk_rows", refuse = alist(0, -1, 1.5, NA, "7", c(7, 8), Inf),
              accept = alist(1, 1e9), setup = s, cleanup = done)
  )
}

## rbind() of shards and cluster_stats()'s `shift`: shards that differ are
## refused, naming what differs.
sweep_family_cluster_stats_shards <- function() {
  s <- quote({
    d1 <- d[d$g <= 5, ]
    d2 <- d[d$g > 5, ]
    st1 <- cluster_stats(d1, y ~ x + trt, cluster = "g", weights = "w", threads = 1)
  })
  shard2 <- function(...) {
    call <- quote(cluster_stats(d2, y ~ x + trt, cluster = "g", weights = "w", shift = st1, threads = 1))
    with_args(call, ...)
  }
  shard_case <- function(label, second, names, expect = "error") {
    sweep_case(sprintf("cluster_stats shards | %s", label), bquote(rbind(st1, .(second))),
               names = names, expect = expect, setup = s)
  }
  st <- quote(cluster_stats(d, y ~ x + trt, cluster = "g", shift = c(x = 0, trt = 0.5, y = 1), threads = 1))
  c(list(
    shard_case("same formula and shift", shard2(), character(0), expect = "value"),
    shard_case("a different formula", shard2(formula = y ~ x, shift = NULL), c("formula", "shift")),
    shard_case("a different formula, same columns", shard2(formula = y ~ trt + x, shift = NULL), c("formula", "shift")),
    shard_case("different weights", shard2(weights = NULL, shift = NULL), "weights"),
    shard_case("a different cluster", shard2(cluster = "blk", shift = NULL), "cluster"),
    shard_case("a different centring", shard2(shift = NULL), "shift"),
    shard_case("character ids after integer ids", quote(cluster_stats(transform(d2, g = paste0("c", g)), y ~ x + trt,
                                                               cluster = "g", weights = "w", shift = st1, threads = 1)),
               "cluster"),
    shard_case("not statistics", quote(d2), c("cluster_stats", "argument")),
    sweep_case("cluster_stats shards | c() of a list of shards",
               bquote(c(st1, list(.(shard2()), st1))), expect = "value", setup = s),
    sweep_case("cluster_stats shards | shift = a vector", st, expect = "value")),
    arg_cases("cluster_stats shards", st, "shift",
              refuse = alist(c(x = 0, trt = 0.5), c(x = 0, trt = 0.5, y = 1, z = 2), c(0, 0.5, 1),
                             c(x = NA, trt = 0.5, y = 1), c(x = Inf, trt = 0.5, y = 1), "x", list(x = 1)),
              accept = alist(c(y = 1, trt = 0.5, x = 0), NULL)),
    list(sweep_case("cluster_stats shards | no intercept, shift not 0",
               quote(cluster_stats(d, y ~ 0 + x + trt, cluster = "g", shift = c(x = 1, trt = 0, y = 0), threads = 1)),
               names = "shift", expect = "error"))
  )
}

## compute_metrics() and analyze_experiment() on database tables (SQLite):
## each case writes its logs `ex` and `ev` and makes the dbplyr tables.
sweep_family_pipeline_sql <- function() {
  lg <- sim_experiment_logs(n = 15, clustered = TRUE, seed = 12)
  ex <- transform(lg$exposures, exposure_time = as.numeric(exposure_time))
  ev <- transform(lg$events, event_time = as.numeric(event_time))
  logs <- function(ex_edit = identity, ev_edit = identity) list(ex = ex_edit(ex), ev = ev_edit(ev))
  s <- quote({
    con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
    DBI::dbWriteTable(con, "ex", ex)
    DBI::dbWriteTable(con, "ev", ev)
    X <- dplyr::tbl(con, "ex")
    E <- dplyr::tbl(con, "ev")
    m <- experiment_metrics()
  })
  done <- quote(try(DBI::dbDisconnect(con), silent = TRUE))
  cm <- quote(compute_metrics(X, E, m))
  ae <- quote(analyze_experiment(X, E, m))
  case <- function(label, call, names, data = logs(), expect = "error", setup = s) {
    sweep_case(paste("pipeline SQL |", label), call, names = names, expect = expect,
               data = data, setup = setup, cleanup = done)
  }
  first_purchase <- function(v, col, value) { v[[col]][which(v$event_name == "purchase")[1L]] <- value; v }
  c(list(
    case("valid", cm, character(0), expect = "value"),
    case("valid analysis", ae, character(0), expect = "value"),
    case("valid clustered CR2 analysis", with_args(ae, cluster = "household_id", type = "CR2"),
         character(0), expect = "value"),
    case("no variant column", cm, "variant", data = logs(function(x) x[names(x) != "variant"])),
    case("exposure times as text", cm, "exposure_time",
         data = logs(function(x) transform(x, exposure_time = format(.POSIXct(exposure_time, tz = "UTC"))))),
    case("user ids of different types", cm, "user_id",
         data = logs(ev_edit = function(v) transform(v, user_id = paste0("u", user_id)))),
    case("a NULL variant", cm, "variant", data = logs(function(x) { x$variant[2] <- NA; x })),
    case("a NULL user id", cm, "user_id", data = logs(function(x) { x$user_id[2] <- NA; x })),
    case("a NULL cluster", with_args(ae, cluster = "household_id"), c("household_id", "cluster"),
         data = logs(function(x) { x$household_id[4] <- NA; x })),
    case("event values as text", cm, "event_value",
         data = logs(ev_edit = function(v) transform(v, event_value = as.character(event_value)))),
    case("a NULL event value in a window", cm, "event_value",
         data = logs(ev_edit = function(v) first_purchase(v, "event_value", NA))),
    case("a NULL event time", cm, "event_time",
         data = logs(ev_edit = function(v) first_purchase(v, "event_time", NA))),
    case("events as a data frame", with_args(cm, events = quote(ev)), "events"),
    case("events on another connection", with_args(cm, events = quote(E2)), "events",
         setup = bquote({ .(s); con2 <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
                          DBI::dbWriteTable(con2, "ev", ev); E2 <- dplyr::tbl(con2, "ev") })),
    case("the exposures table dropped", cm, "exposures",
         setup = bquote({ .(s); DBI::dbRemoveTable(con, "ex") })),
    case("the events table dropped", ae, "events", setup = bquote({ .(s); DBI::dbRemoveTable(con, "ev") })),
    case("the connection closed", ae, c("exposures", "connection"),
         setup = bquote({ .(s); DBI::dbDisconnect(con) })),
    case("segments", with_args(ae, segment = "country"), "segment")),
    arg_cases("pipeline SQL", ae, "cluster", refuse = alist("nope", ex$household_id, 1, ~ nope),
              accept = alist(~ household_id), data = logs(), setup = s, cleanup = done),
    arg_cases("pipeline SQL", cm, "experiment_id", refuse = alist("nope", NA, list("e1")),
              accept = alist("e1"), data = logs(), setup = s, cleanup = done),
    arg_cases("pipeline SQL per-unit table", quote(analyze_experiment(U, experiment_id = "e1")), "experiment_id",
              refuse = alist("nope", NA, list("e1"), character(0)), accept = alist("e1", NULL), data = logs(),
              setup = bquote({ .(s); U <- compute_metrics(X, E, m) }), cleanup = done)
  )
}

sweep_family_ri_lmer <- function() {
  ri <- quote(ri_lmer(y ~ x + trt + (1 | g), d, threads = 1))
  riw <- quote(ri_lmer(y ~ x + trt + (1 | g), d, weights = "w", threads = 1))
  fit <- quote(fit <- ri_lmer(y ~ x + trt + (1 | g), d, threads = 1))
  c(list(sweep_case("ri_lmer | valid", ri, expect = "value"),
         sweep_case("ri_lmer weighted | valid", riw, expect = "value")),
    column_cases("ri_lmer", ri, c("y", "x")),
    column_cases("ri_lmer weighted", riw, "w"),
    scale_cases("ri_lmer", ri, c("y", "x"), value = character(0)),
    scale_cases("ri_lmer weighted", riw, "w"),
    ## lme4 fits two groups (issue 8: today a uniroot error).
    lapply(cluster_cases("ri_lmer", ri), function(case) {
      if (grepl("two clusters", case$label)) case$expect <- "value"
      case
    }),
    data_cases("ri_lmer", ri),
    arg_cases("ri_lmer", ri, "formula", names = c("formula", "nope", "(x | g)", "(1 | blk)"),
              refuse = alist(y ~ x, y ~ x + (x | g), y ~ x + (1 | g) + (1 | blk), y ~ x + (1 | nope),
                             ~ x + (1 | g), 1),
              ## issue 8, item 4: a string formula and no fixed effects are fitted by lme4.
              accept = alist("y ~ x + trt + (1 | g)", y ~ 1 + (1 | g), y ~ factor(blk) + (1 | g)),
              either = alist(y ~ -1 + (1 | g))),
    ## issue 8, item 4: subset = TRUE keeps every row.
    arg_cases("ri_lmer", ri, "subset", refuse = alist("a"), accept = alist(TRUE, x > -1),
              either = alist(1, FALSE), names = c("subset", "data", "g")),
    arg_cases("ri_lmer", ri, "na.action", refuse = alist("na.nope", 1),
              accept = alist("na.exclude", na.omit)),
    arg_cases("ri_lmer", ri, "REML", refuse = alist(NA, "yes", c(TRUE, FALSE)), accept = alist(FALSE)),
    arg_cases("ri_lmer", ri, "weights", refuse = alist("nope", -d$w, d$w[-1]),
              either = alist(rep(0, nrow(d)))),
    threads_cases("ri_lmer", ri),
    list(method_case("ri_lmer", quote(summary(fit, ddf = "nope")), "ddf", setup = fit),
         method_case("ri_lmer", quote(anova(fit, ddf = "nope")), "ddf", setup = fit),
         method_case("ri_lmer", quote(confint(fit, level = 2)), "level", setup = fit),
         method_case("ri_lmer", quote(confint(fit, method = "nope")), "method", setup = fit),
         method_case("ri_lmer", quote(confint(fit, parm = "nope")), "parm", setup = fit),
         method_case("ri_lmer", quote(predict(fit, newdata = "d")), "newdata", setup = fit),
         method_case("ri_lmer", quote(predict(fit, newdata = d[0, ])), "newdata", "either", setup = fit),
         method_case("ri_lmer", quote(tidy(fit, conf.int = TRUE, conf.level = 2)), "conf.level", setup = fit),
         method_case("ri_lmer", quote(icc(fit, conf.level = 2)), c("conf.level", "level"), setup = fit))
  )
}

sweep_family_icc <- function() {
  ic <- quote(icc(d, "y", "g"))
  de <- quote(design_effect(20, icc = 0.05))
  en <- quote(effective_n(1000, cluster_size = 20, icc = 0.05))
  c(list(sweep_case("icc | valid", ic, expect = "value"),
         sweep_case("design_effect | valid", de, expect = "value"),
         sweep_case("effective_n | valid", en, expect = "value")),
    column_cases("icc", ic, "y"),
    scale_cases("icc", ic, "y"),
    cluster_cases("icc", ic),
    data_cases("icc", ic),
    arg_cases("icc", ic, "outcome", refuse = alist(1, c("y", "x"), "nope", NA, mean, "g2"),
              either = alist(~ y)),
    arg_cases("icc", ic, "cluster", refuse = alist(1, "nope", NA, d$g[-1]),
              accept = alist(~ g, d$g)),
    ## conf.level names the level in every function (DESIGN.md, "Conventions").
    arg_cases("icc", ic, "conf.level", refuse = bad_conf_levels, names = c("conf.level", "level")),
    arg_cases("icc", ic, "x", refuse = alist(as.matrix(d), "d", NULL, 1, lm(y ~ x, d)),
              either = alist(as.list(d))),
    arg_cases("design_effect", de, "cluster_size",
              refuse = alist(0, -1, NA, Inf, "20", numeric(0), list(20), c(10, NA), NULL),
              accept = alist(1, 1e-300, 1e308, c(1e-200, 2e-200), c(10, 20, 30)),
              either = alist(c(1e200, 1), c(1e155, 1e155, 1))),
    arg_cases("design_effect", de, "icc",
              refuse = alist(2, -2, NA, "0.1", c(0.1, 0.2), NULL, -0.5),
              accept = alist(0, 1, -0.01, 1e-200, icc(d, "y", "g"))),
    arg_cases("effective_n", en, "n", refuse = alist(0, -1, NA, Inf, "100", c(1, 2)),
              accept = alist(1e308, 1e-300)),
    list(sweep_case("effective_n | n = 1e308 with a design effect below 1",
                    quote(effective_n(1e308, cluster_size = 20, icc = -0.05)),
                    names = c("n", "icc")))
  )
}

sweep_family_cluster_ttest <- function() {
  tt <- quote(cluster_ttest(d, "y", "trt", "g"))
  ts <- quote(cluster_ttest(d, "y", "trt", "g", weights = "size"))
  c(list(sweep_case("cluster_ttest | valid", tt, expect = "value"),
         sweep_case("cluster_ttest size | valid", ts, expect = "value")),
    column_cases("cluster_ttest", tt, "y"),
    column_cases("cluster_ttest size", ts, "y", edits = value_edits[1:8]),
    scale_cases("cluster_ttest", tt, "y"),
    scale_cases("cluster_ttest size", ts, "y"),
    arm_cases("cluster_ttest", tt, "trt"),
    cluster_cases("cluster_ttest", tt, own = "value", arms = TRUE),
    data_cases("cluster_ttest", tt),
    arg_cases("cluster_ttest", tt, "outcome", refuse = alist(1, c("y", "x"), "nope", NA, mean)),
    arg_cases("cluster_ttest", tt, "treatment", refuse = alist(1, "nope", c("trt", "per"), NA)),
    arg_cases("cluster_ttest", tt, "cluster", refuse = alist(1, "nope", NA, d$g[-1]),
              accept = alist(~ g, d$g)),
    arg_cases("cluster_ttest", tt, "weights", refuse = alist("nope", NA, 1)),
    arg_cases("cluster_ttest", tt, "conf.level", refuse = bad_conf_levels),
    ## issue 8: cluster_ttest() gets `alternative` and `control`.
    arg_cases("cluster_ttest", tt, "alternative", refuse = alist("nope", NA), accept = alist("less")),
    arg_cases("cluster_ttest", tt, "control", refuse = alist("nope", c(0, 1)), accept = alist(1, 0))
  )
}

sweep_family_did_boot <- function() {
  db <- quote(did_boot(d, "y", "trt", "per", cluster = "g", R = 199, threads = 1))
  di <- quote(did_boot(d, "y", "trt", "per", R = 199, covariates = "x", threads = 1))
  fit <- quote(fit <- did_boot(d, "y", "trt", "per", cluster = "g", R = 199, threads = 1))
  c(list(sweep_case("did_boot cluster | valid", db, expect = "value"),
         sweep_case("did_boot iid with covariate | valid", di, expect = "value")),
    column_cases("did_boot cluster", db, "y"),
    column_cases("did_boot iid with covariate", di, "x"),
    scale_cases("did_boot cluster", db, "y"),
    scale_cases("did_boot iid with covariate", di, c("y", "x")),
    arm_cases("did_boot cluster", db, c("trt", "per")),
    cluster_cases("did_boot cluster", db, arms = TRUE),
    data_cases("did_boot cluster", db),
    ## R = 1e9 would run for minutes and need gigabytes: refused before starting.
    arg_cases("did_boot cluster", db, "R", refuse = alist(1e9), time_limit = 1),
    arg_cases("did_boot cluster", db, "R", refuse = c(bad_replicates, alist(1)), accept = alist(2)),
    arg_cases("did_boot cluster", db, "conf.level", refuse = bad_conf_levels),
    arg_cases("did_boot cluster", db, "ci", refuse = alist("nope", NA, 1),
              accept = alist("bca", c("norm", "perc"))),
    ## issue 8: the resampling scheme is `resample`, not `type`.
    arg_cases("did_boot cluster", db, "resample", refuse = alist("nope", NA), accept = alist("iid")),
    arg_cases("did_boot cluster", db, "covariates", refuse = alist("nope", 1, TRUE),
              accept = alist("x", c("x", "blk")), either = alist("y", "g", "per")),
    arg_cases("did_boot cluster", db, "outcome", refuse = alist(1, "nope", c("y", "x"), NA)),
    arg_cases("did_boot cluster", db, "group", refuse = alist(1, "nope", c("trt", "per"))),
    arg_cases("did_boot cluster", db, "period", refuse = alist(1, "nope", "trt")),
    arg_cases("did_boot cluster", db, "cluster", refuse = alist(1, "nope", NA, d$g[-1]),
              accept = alist(~ g, d$g)),
    arg_cases("did_boot cluster", db, "control", refuse = alist("nope"), accept = alist(0, 1)),
    arg_cases("did_boot cluster", db, "pre", refuse = alist("nope"), accept = alist(0, 1)),
    threads_cases("did_boot cluster", db),
    list(method_case("did_boot", quote(confint(fit, level = 2)), "level", setup = fit),
         method_case("did_boot", quote(tidy(fit, conf.level = 2)), "conf.level", setup = fit),
         method_case("did_boot", quote(plot(fit, interval = "nope")), "interval", setup = fit))
  )
}

sweep_family_ratio_test <- function() {
  rd <- quote(ratio_test(d, "num", "den", "trt"))
  rb <- quote(ratio_test(d, "num", "den", "trt", method = "bootstrap", R = 199, threads = 1))
  fit <- quote(fit <- ratio_test(d, "num", "den", "trt", method = "bootstrap", R = 199, threads = 1))
  c(list(sweep_case("ratio_test delta | valid", rd, expect = "value"),
         sweep_case("ratio_test bootstrap | valid", rb, expect = "value"),
         sweep_case("ratio_test delta | zero denominators in one row", rd, expect = "value",
                    data = list(d = within(sweep_d, den[3] <- 0))),
         sweep_case("ratio_test delta | negative numerators", rd, expect = "value",
                    data = list(d = within(sweep_d, num <- num - 3))),
         sweep_case("ratio_test delta | every control denominator zero", rd, names = "denominator",
                    data = list(d = within(sweep_d, den[trt == 0] <- 0))),
         sweep_case("ratio_test delta | a negative denominator", rd, names = "denominator",
                    expect = "error", data = list(d = within(sweep_d, den[3] <- -1))),
         sweep_case("ratio_test bca | valid",
                    with_args(rb, ci = "bca"), expect = "value")),
    column_cases("ratio_test delta", rd, c("num", "den")),
    column_cases("ratio_test bootstrap", rb, c("num", "den"), edits = value_edits[1:9]),
    scale_cases("ratio_test delta", rd, c("num", "den")),
    scale_cases("ratio_test bootstrap", rb, c("num", "den")),
    arm_cases("ratio_test delta", rd, "trt"),
    data_cases("ratio_test delta", rd),
    arg_cases("ratio_test bootstrap", rb, "R", refuse = alist(1e9), time_limit = 1),
    arg_cases("ratio_test bootstrap", rb, "R", refuse = c(bad_replicates, alist(1)), accept = alist(2)),
    arg_cases("ratio_test delta", rd, "method", refuse = alist("nope", NA)),
    arg_cases("ratio_test bootstrap", rb, "ci", refuse = alist("nope", NA)),
    arg_cases("ratio_test delta", rd, "alternative", refuse = alist("nope", NA), accept = alist("less")),
    arg_cases("ratio_test delta", rd, "control", refuse = alist("nope", NA, c(0, 1)), accept = alist(1, "0")),
    arg_cases("ratio_test delta", rd, "conf.level", refuse = bad_conf_levels),
    arg_cases("ratio_test delta", rd, "numerator", refuse = alist(1, "nope", c("num", "den"), NA)),
    ## issue 8: denominator = NULL tests a proportion or a mean.
    arg_cases("ratio_test delta", rd, "denominator", refuse = alist(1, "nope"), accept = alist(NULL)),
    arg_cases("ratio_test delta", rd, "group", refuse = alist(1, "nope", NA)),
    threads_cases("ratio_test bootstrap", rb),
    list(method_case("ratio_test", quote(confint(fit, level = 2)), "level", setup = fit),
         method_case("ratio_test", quote(confint(fit, type = "nope")), "type", setup = fit),
         method_case("ratio_test", quote(plot(fit, which = 5)), "which", setup = fit),
         method_case("ratio_test", quote(plot(fit, type = "nope")), "type", setup = fit))
  )
}

sweep_family_randomization_test <- function() {
  re <- quote(randomization_test(d, "y", "trt", "g", threads = 1))
  rmc <- quote(randomization_test(d, "y", "trt", "g", exact = FALSE, R = 199, threads = 1))
  rb <- quote(randomization_test(d, "y", "trt", "g", blocks = "blk", threads = 1))
  rt <- quote(randomization_test(d, "y", "trt", "g", stat = "t", threads = 1))
  c(list(sweep_case("randomization_test exact | valid", re, expect = "value"),
         sweep_case("randomization_test Monte Carlo | valid", rmc, expect = "value"),
         sweep_case("randomization_test blocked | valid", rb, expect = "value"),
         sweep_case("randomization_test t | valid", rt, expect = "value"),
         sweep_case("randomization_test size-weighted | valid", with_args(re, weights = "size"),
                    expect = "value")),
    column_cases("randomization_test exact", re, "y"),
    column_cases("randomization_test t", rt, "y", edits = value_edits[1:9]),
    scale_cases("randomization_test exact", re, "y"),
    scale_cases("randomization_test Monte Carlo", rmc, "y"),
    arm_cases("randomization_test exact", re, "trt"),
    cluster_cases("randomization_test Monte Carlo", rmc, own = "value", arms = TRUE),
    column_cases("randomization_test blocked", rb, "blk", edits = arm_edits[1:5]),
    data_cases("randomization_test exact", re),
    arg_cases("randomization_test Monte Carlo", rmc, "R", refuse = alist(1e9), time_limit = 1),
    arg_cases("randomization_test Monte Carlo", rmc, "R", refuse = bad_replicates, either = alist(1)),
    arg_cases("randomization_test exact", re, "exact", refuse = alist("yes", NA, -1, c(TRUE, FALSE)),
              accept = alist(TRUE, 1000)),
    arg_cases("randomization_test exact", re, "stat", refuse = alist("nope", NA)),
    arg_cases("randomization_test exact", re, "alternative", refuse = alist("nope", NA),
              accept = alist("less", "greater")),
    arg_cases("randomization_test exact", re, "weights", refuse = alist("nope")),
    arg_cases("randomization_test exact", re, "conf.level", refuse = bad_conf_levels),
    arg_cases("randomization_test exact", re, "conf.int", refuse = alist("yes", NA), accept = alist(TRUE, FALSE)),
    arg_cases("randomization_test exact", re, "blocks", refuse = alist("nope", 1, NA)),
    arg_cases("randomization_test exact", re, "outcome", refuse = alist(1, "nope", c("y", "x"))),
    arg_cases("randomization_test exact", re, "cluster", refuse = alist(1, "nope", NA),
              accept = alist(~ g, d$g)),
    threads_cases("randomization_test exact", re)
  )
}

sweep_family_network <- function() {
  ne <- quote(network_exposure(sweep_edges, d[c("unit", "trt")]))
  ee <- quote(exposure_effects(d, "y", "trt", sweep_edges, design = list(type = "complete"),
                               threads = 1))
  st <- quote(spillover_test(d, "y", "trt", sweep_edges, focal = sweep_focal,
                             design = list(type = "complete"), threads = 1))
  smc <- with_args(st, exact = FALSE, R = 199)
  nd <- list(d = sweep_net)
  bad_edges <- alist(sweep_edges["from"], NULL, "edges", as.matrix(sweep_edges),
                     transform(sweep_edges, from = replace(from, 1, NA)),
                     transform(sweep_edges, from = I(as.list(from))),
                     transform(sweep_edges, to = as.complex(to)),
                     rbind(sweep_edges, data.frame(from = 1, to = 99, w = 1)))
  ok_edges <- alist(data.table::as.data.table(sweep_edges), sweep_edges[0, ],
                    transform(sweep_edges, from = as.character(from)),
                    transform(sweep_edges, from = factor(from), to = factor(to)),
                    rbind(sweep_edges, data.frame(from = 5, to = 5, w = 1)))
  cases <- c(
    list(sweep_case("network_exposure | valid", ne, expect = "value", data = nd),
         sweep_case("network_exposure weighted | valid", with_args(ne, weight = "w"),
                    expect = "value", data = nd),
         sweep_case("exposure_effects complete | valid", ee, expect = "value", data = nd),
         sweep_case("exposure_effects Monte Carlo | valid", with_args(ee, exact = FALSE, R = 500),
                    expect = "value", data = nd),
         sweep_case("spillover_test exact | valid", st, expect = "value", data = nd),
         sweep_case("spillover_test Monte Carlo | valid", smc, expect = "value", data = nd)),
    arg_cases("network_exposure", ne, "edges", refuse = bad_edges, accept = ok_edges,
              names = c("edges", "from", "to", "treatment"), data = nd),
    arg_cases("network_exposure", ne, "treatment",
              refuse = alist(d$trt, d["unit"], data.frame(unit = d$unit, trt = NA), list(1, 2),
                             data.frame(unit = rep(1, 12), trt = d$trt), d),
              accept = alist(stats::setNames(d$trt, d$unit), data.table::as.data.table(d[c("unit", "trt")]),
                             data.frame(unit = d$unit, arm = c("control", "treatment")[d$trt + 1L])),
              names = c("treatment", "unit"), data = nd),
    arg_cases("network_exposure", ne, "weight", refuse = alist("nope", 1, NA, c("w", "w")),
              accept = alist("w", NULL), data = nd),
    arg_cases("network_exposure", ne, "directed", refuse = alist(NA, "yes", c(TRUE, FALSE)),
              accept = alist(TRUE), data = nd),
    arg_cases("network_exposure", ne, "from", refuse = alist("nope", 1, NA), data = nd),
    arg_cases("network_exposure", ne, "unit", refuse = alist("nope", 1, NA), data = nd),
    column_cases("exposure_effects", ee, "y", d = sweep_net),
    scale_cases("exposure_effects", ee, "y", d = sweep_net),
    arm_cases("exposure_effects", ee, "trt", d = sweep_net),
    data_cases("exposure_effects", ee, d = sweep_net),
    arg_cases("exposure_effects", ee, "design",
              refuse = alist("complete", list(type = "complete", treated = 99),
                             list(type = "bernoulli", p = 2), list(type = "bernoulli"),
                             list(type = "cluster", clusters = 1:3), list(type = "nope"),
                             list(type = "cluster", clusters = d$unit %% 2),
                             list(type = "complete", p = 0.5), NULL),
              accept = alist(list(type = "bernoulli", p = 0.5), list(type = "cluster", clusters = d$g),
                             list(type = "cluster", clusters = d[c("unit", "g")], treated = 2)),
              data = nd),
    arg_cases("exposure_effects", ee, "mapping", refuse = alist(0, 2, "all", NA, c(0.5, 0.6), -1),
              accept = alist(0.5, 1), data = nd),
    arg_cases("exposure_effects", ee, "R", refuse = c(bad_replicates, alist(1)), data = nd),
    arg_cases("exposure_effects", with_args(ee, exact = FALSE), "R", refuse = alist(1e12),
              time_limit = 2, data = nd,
              names = c("R", "clusterab.max_memory")),
    arg_cases("exposure_effects", ee, "exact", refuse = alist("yes", NA, c(TRUE, FALSE)),
              accept = alist(TRUE, FALSE), data = nd),
    arg_cases("exposure_effects", ee, "variance", refuse = alist(NA, "yes"), accept = alist(FALSE),
              data = nd),
    arg_cases("exposure_effects", ee, "conf.level", refuse = bad_conf_levels, data = nd),
    arg_cases("exposure_effects", ee, "outcome", refuse = alist(1, "nope", c("y", "trt")), data = nd),
    arg_cases("exposure_effects", ee, "treatment", refuse = alist(1, "nope"), data = nd),
    arg_cases("exposure_effects", ee, "weight", accept = alist("w"), refuse = alist("nope"),
              data = nd, names = c("weight", "w")),
    threads_cases("exposure_effects", ee, data = nd),
    column_cases("spillover_test", st, "y", d = sweep_net),
    scale_cases("spillover_test", st, "y", d = sweep_net),
    scale_cases("spillover_test Monte Carlo", smc, "y", d = sweep_net),
    arm_cases("spillover_test", st, "trt", d = sweep_net),
    data_cases("spillover_test", st, d = sweep_net),
    arg_cases("spillover_test", st, "focal", refuse = alist("nope", c(TRUE, FALSE), NA, 1, 1:12),
              accept = alist(d$unit %in% sweep_focal), either = alist(NULL), data = nd),
    arg_cases("spillover_test", st, "alternative", refuse = alist("nope", NA),
              accept = alist("less", "greater"), data = nd),
    arg_cases("spillover_test", smc, "R", refuse = bad_replicates, data = nd),
    arg_cases("spillover_test", st, "exact", refuse = alist("yes", NA), accept = alist(FALSE),
              data = nd),
    arg_cases("spillover_test", st, "design",
              refuse = alist(list(type = "bernoulli", p = 0), list(type = "complete", treated = 3)),
              accept = alist(list(type = "bernoulli", p = 0.5), list(type = "cluster", clusters = d$g)),
              data = nd),
    threads_cases("spillover_test", st, data = nd)
  )
  if (requireNamespace("igraph", quietly = TRUE)) {
    gc <- quote(graph_clusters(sweep_edges))
    cases <- c(cases,
      list(sweep_case("graph_clusters | valid", gc, expect = "value"),
           sweep_case("graph_clusters weighted | valid", with_args(gc, weight = "w", method = "walktrap"),
                      expect = "value")),
      arg_cases("graph_clusters", gc, "method", refuse = alist("nope", NA, 1),
                accept = alist("components", "label_prop")),
      arg_cases("graph_clusters", gc, "units", refuse = alist(c(1, 1, 2), 1:5, NA),
                accept = alist(1:20), names = c("units", "edges")),
      arg_cases("graph_clusters", gc, "edges", refuse = bad_edges[-8],
                names = c("edges", "from", "to")))
  }
  cases
}

## ---- the tests -------------------------------------------------------------------

test_that("bad inputs: vcov_cluster(), coef_test(), coef_ci()", {
  expect_sweep(sweep_family_vcov(), "vcov")
})

test_that("bad inputs: cluster_lm() and its methods", {
  expect_sweep(sweep_family_cluster_lm(), "cluster_lm")
})

test_that("bad inputs: cluster_stats() on data frames, and fits from it", {
  expect_sweep(sweep_family_cluster_stats(), "cluster_stats")
})

test_that("bad inputs: cluster_stats() on a database table", {
  skip_if_not_installed("DBI")
  skip_if_not_installed("RSQLite")
  expect_sweep(sweep_family_cluster_stats_dbi(), "cluster_stats_dbi")
})

test_that("bad inputs: compute_metrics() and analyze_experiment() on database tables", {
  skip_if_not_installed("RSQLite")
  skip_if_not_installed("dbplyr")
  expect_sweep(sweep_family_pipeline_sql(), "pipeline_sql")
})

test_that("bad inputs: cluster_stats_sql() and sql_dialects()", {
  expect_sweep(sweep_family_cluster_stats_sql(), "cluster_stats_sql")
})

test_that("bad inputs: cluster_stats() on CSV files", {
  expect_sweep(sweep_family_cluster_stats_csv(), "cluster_stats_csv")
})

test_that("bad inputs: rbind() of cluster_stats shards, and `shift`", {
  expect_sweep(sweep_family_cluster_stats_shards(), "cluster_stats_shards")
})

test_that("bad inputs: ri_lmer() and its methods", {
  expect_sweep(sweep_family_ri_lmer(), "ri_lmer")
})

test_that("bad inputs: icc(), design_effect(), effective_n()", {
  expect_sweep(sweep_family_icc(), "icc")
})

test_that("bad inputs: cluster_ttest()", {
  expect_sweep(sweep_family_cluster_ttest(), "cluster_ttest")
})

test_that("bad inputs: did_boot() and its methods", {
  expect_sweep(sweep_family_did_boot(), "did_boot")
})

test_that("bad inputs: ratio_test() and its methods", {
  expect_sweep(sweep_family_ratio_test(), "ratio_test")
})

test_that("bad inputs: randomization_test() and its methods", {
  expect_sweep(sweep_family_randomization_test(), "randomization_test")
})

test_that("bad inputs: network_exposure(), exposure_effects(), spillover_test(), graph_clusters()", {
  expect_sweep(sweep_family_network(), "network")
})
