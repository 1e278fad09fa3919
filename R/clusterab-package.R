#' clusterab: fast and honest inference for clustered experiments
#'
#' Cluster-robust covariance matrices and coefficient tests that reproduce
#' 'sandwich' and 'clubSandwich', and random-intercept mixed models that
#' reproduce 'lme4', 'lmerTest' and 'pbkrtest', computed from per-cluster
#' sufficient statistics in one parallel C++ pass. Start with [cluster_lm()]
#' for large data, or [vcov_cluster()] and [coef_test()] on an existing `lm`
#' or `glm` fit, or [ri_lmer()] for a mixed model; [did_boot()],
#' [ratio_test()] and [randomization_test()] for resampling tests. `vignette("clusterab")` walks through a geo experiment and
#' `vignette("methods", package = "clusterab")` gives every formula.
#'
#' Options: `clusterab.threads` sets the default number of threads.
#'
#' @keywords internal
#' @useDynLib clusterab, .registration = TRUE
#' @importFrom Rcpp evalCpp
#' @importFrom RcppParallel RcppParallelLibs
#' @importFrom stats anova coef confint deviance df.residual fitted formula
#'   logLik model.frame model.matrix na.omit nobs pnorm predict pt qnorm qt
#'   residuals sigma terms vcov weights
"_PACKAGE"

# data.table's `[` (`:=`, `.N`, `by =`) works inside this package's functions
# without importing all of data.table's names.
.datatable.aware <- TRUE
