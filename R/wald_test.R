#' Cluster-robust Wald tests of several coefficients
#'
#' Tests that q linear combinations of the coefficients are zero (or equal
#' `rhs`) together, with a cluster-robust covariance. With the default
#' `type = "CR2"` and `test = "HTZ"` this is the test of Pustejovsky and
#' Tipton (2018), clubSandwich's default: the Wald statistic is referred to
#' Hotelling's T-squared distribution whose degrees of freedom match the
#' first two moments of the CR2 covariance under a working model of
#' independent errors with constant variance (the model `vcovCR()` uses for
#' `lm` fits). It equals `clubSandwich::Wald_test(fit, constraints, vcov =
#' "CR2", cluster = g, test = "HTZ")`, computed from per-cluster
#' cross-products in O(G p^3) operations, without the n_g x n_g or G x G
#' arrays clubSandwich builds.
#'
#' The tests, each an F statistic F on (df1, df2) degrees of freedom, with
#' Q = (C b - r)' (C V C')^-1 (C b - r) and q constraints:
#' * `"HTZ"`: F = delta Q / q on (q, nu - q + 1), delta = (nu - q + 1) / nu,
#'   nu from the Satterthwaite-type approximation (CR2 only). With one
#'   constraint it is the square of [coef_test()]'s Satterthwaite t test.
#'   When nu - q + 1 is not positive (too few effective clusters for q
#'   constraints) F is 0 and the p-value `NA`, as in clubSandwich, with a
#'   warning of class `clusterab_htz_undefined`.
#' * `"chi-sq"`: F = Q / q on (q, Inf), i.e. Q against chi-squared with q df.
#' * `"naive-F"`: F = Q / q on (q, G - 1).
#'
#' @param fit An [lm()] fit (with or without weights) or a [cluster_lm()]
#'   fit. HTZ is for linear models only; a `glm` works with "chi-sq" and
#'   "naive-F".
#' @param constraints The hypothesis: a character vector of coefficient names
#'   (all of them zero), or a q x p matrix C (one row per constraint, one
#'   column per coefficient, aliased coefficients included or not) for
#'   C b = `rhs`. The rows must be linearly independent.
#' @param cluster The clustering, in the package's forms: a column name, a
#'   one-sided formula (`~ g`) or a vector with one id per observation;
#'   `NULL` uses a [cluster_lm()] fit's own.
#' @param type Covariance type (see [vcov_cluster()]); "HTZ" needs "CR2".
#' @param test One or more of "HTZ" (the default), "chi-sq" and "naive-F".
#' @param rhs The right-hand side r, one value per constraint (default 0).
#' @param threads Number of threads (see [vcov_cluster()]).
#' @param ... Ignored.
#' @return For one test, a list of class `c("wald_test", "htest")` with
#'   `statistic` (F), `parameter` (`df1`, `df2`), `p.value`, `method`,
#'   `data.name`, and `chisq` (Q), `delta`, `test`, `type`, `G`,
#'   `constraints` (the matrix C over the estimated coefficients) and `rhs`.
#'   For several tests, a data frame of class `wald_tests` with one row per
#'   test and clubSandwich's columns `test`, `Fstat`, `delta`, `df_num`,
#'   `df_denom`, `p_val`. `tidy()` gives broom's columns (`statistic`,
#'   `num.df`, `den.df`, `p.value`, `method`) for both.
#' @references Pustejovsky, J. E. and Tipton, E. (2018). Small-sample methods
#'   for cluster-robust variance estimation and hypothesis testing in fixed
#'   effects models. Journal of Business & Economic Statistics 36(4), 672-683.
#' @seealso [coef_test()] for one coefficient at a time.
#' @examples
#' fit <- lm(revenue ~ treated + baseline, data = geo_experiment)
#' wald_test(fit, c("treated", "baseline"), cluster = ~ region)
#' wald_test(fit, c("treated", "baseline"), cluster = ~ region,
#'           test = c("HTZ", "chi-sq", "naive-F"))
#' # a matrix: treated = baseline
#' wald_test(fit, matrix(c(0, 1, -1), 1), cluster = ~ region)
#' @export
wald_test <- function(fit, constraints, cluster = NULL, type = "CR2",
                      test = c("HTZ", "chi-sq", "naive-F"), rhs = NULL,
                      threads = NULL, ...) {
  tests <- c("HTZ", "chi-sq", "naive-F")
  if (missing(test)) test <- "HTZ"
  if (!is.character(test) || !length(test) || anyNA(test) || !all(test %in% tests)) {
    abort(sprintf("`test` must be one or more of %s.", paste0('"', tests, '"', collapse = ", ")))
  }
  test <- unique(test)
  if (missing(constraints)) {
    abort("`constraints` is missing: give coefficient names (tested to be zero) or a matrix with one row per constraint.")
  }
  if (inherits(fit, "glm") && "HTZ" %in% test) check_cr2_fit(fit, "fit")
  if (!inherits(fit, "lm") && !inherits(fit, "cluster_lm")) check_cr2_fit(fit, "fit")
  if (inherits(fit, "mlm")) check_cr2_fit(fit, "fit")
  type <- check_vcov_type(type, "CR2")
  if ("HTZ" %in% test && type != "CR2") {
    abort(sprintf('test = "HTZ" needs type = "CR2" (its degrees of freedom are derived for the CR2 covariance), not "%s"; use type = "CR2", or test = "chi-sq" or "naive-F" with type = "%s".',
                  type, type))
  }
  if (is.null(cluster) && !inherits(fit, "cluster_lm") && is.null(attr(fit, "cluster"))) {
    abort("`cluster` is missing: give the clustering (a column name, a one-sided formula such as ~ g, or a vector with one id per observation).")
  }
  label <- cluster_label(substitute(cluster))
  info <- if (is.null(threads)) {
    coef_vcov(fit, NULL, cluster, type, label = label)
  } else {
    coef_vcov(fit, NULL, cluster, type, label = label, threads = threads)
  }
  if (isTRUE(info$signal)) signal_notes(info$notes)
  G <- min(info$G)
  if (G < 3L) {
    abort(sprintf("`cluster` has %d clusters; a cluster-robust Wald test needs at least 3 (and is unreliable with few): use randomization_test() or cluster_ttest() instead.", G))
  }
  V <- info$vcov
  kept <- rownames(V)
  all_names <- names(coef(fit))
  est <- coef(fit)[kept]
  C <- wald_constraints(constraints, all_names, kept)
  q <- nrow(C)
  if (is.null(rhs)) rhs <- rep(0, q)
  if (!is.numeric(rhs) || length(rhs) != q || anyNA(rhs)) {
    abort(sprintf("`rhs` must be a numeric vector with one value per constraint (%d).", q))
  }
  diff <- drop(C %*% est) - rhs
  CVC <- C %*% V %*% t(C)
  ## decided on the correlation matrix, so that constraints in different
  ## units (a coefficient of a column in units of 1e155) do not matter
  sd <- sqrt(diag(CVC))
  R <- if (all(is.finite(sd) & sd > 0)) tryCatch(chol(CVC / outer(sd, sd)), error = function(e) NULL)
  if (is.null(R) || min(diag(R))^2 <= 1e-12) {
    abort(sprintf("the cluster-robust covariance of the %d constraints is singular (rank < %d): with %d clusters at most %d independent constraints can be tested; test fewer coefficients.",
                  q, q, G, G - 1L))
  }
  Q <- sum(backsolve(R, diff / sd, transpose = TRUE)^2)
  rows <- lapply(test, function(t) {
    switch(t,
      HTZ = {
        nu <- cr2_htz_nu(info$cr2, C, resolve_threads(threads))
        delta <- max((nu - q + 1) / nu, 0)
        df2 <- nu - q + 1
        Fstat <- delta * Q / q
        if (!(is.finite(df2) && df2 > 0)) {
          warn(sprintf("the HTZ test's denominator degrees of freedom (nu - q + 1 = %s) are not positive: the CR2 covariance has too few effective clusters for %d constraints, so the p-value is NA (as clubSandwich gives); test fewer constraints, or use wild_boot() or randomization_test().",
                       format(signif(df2, 3L)), q), class = "clusterab_htz_undefined")
        }
        data.frame(test = t, Fstat = Fstat, delta = delta, df_num = q, df_denom = df2,
                   p_val = if (is.finite(df2) && df2 > 0) stats::pf(Fstat, q, df2, lower.tail = FALSE) else NA_real_,
                   stringsAsFactors = FALSE)
      },
      "chi-sq" = data.frame(test = t, Fstat = Q / q, delta = 1, df_num = q, df_denom = Inf,
                            p_val = stats::pchisq(Q, q, lower.tail = FALSE), stringsAsFactors = FALSE),
      "naive-F" = data.frame(test = t, Fstat = Q / q, delta = 1, df_num = q, df_denom = G - 1,
                             p_val = stats::pf(Q / q, q, G - 1, lower.tail = FALSE), stringsAsFactors = FALSE))
  })
  tab <- do.call(rbind, rows)
  data_name <- sprintf("%s; %s", paste(deparse(substitute(fit), width.cutoff = 60L), collapse = " "),
                       constraint_text(C, rhs))
  if (length(test) > 1L) {
    rownames(tab) <- NULL
    return(structure(tab, class = c("wald_tests", "data.frame"), type = info$type,
                     clusters = info$G, data.name = data_name, chisq = Q))
  }
  structure(list(statistic = c(F = tab$Fstat), parameter = c(df1 = q, df2 = tab$df_denom),
                 p.value = tab$p_val, method = wald_method(test, q),
                 data.name = data_name, chisq = Q, delta = tab$delta, test = test,
                 type = info$type, G = info$G, constraints = C, rhs = rhs),
            class = c("wald_test", "htest"))
}

## The constraint matrix over the estimated coefficients `kept`.
wald_constraints <- function(constraints, all, kept) {
  if (is.character(constraints)) {
    if (!length(constraints) || anyNA(constraints)) {
      abort("`constraints` must name at least one coefficient.")
    }
    unknown <- setdiff(constraints, all)
    if (length(unknown)) {
      abort(sprintf("`constraints` names %s, which %s not a coefficient of the model (%s).",
                    paste0("`", unknown, "`", collapse = ", "),
                    if (length(unknown) > 1L) "are" else "is",
                    paste0("`", all, "`", collapse = ", ")))
    }
    aliased <- setdiff(constraints, kept)
    if (length(aliased)) {
      abort(sprintf("`constraints` names %s, which %s aliased (not estimable: a combination of the other columns); drop %s from the constraints or the model.",
                    paste0("`", aliased, "`", collapse = ", "),
                    if (length(aliased) > 1L) "are" else "is",
                    if (length(aliased) > 1L) "them" else "it"))
    }
    if (anyDuplicated(constraints)) {
      abort(sprintf("`constraints` names %s more than once; the constraints must be linearly independent.",
                    paste0("`", unique(constraints[duplicated(constraints)]), "`", collapse = ", ")))
    }
    C <- matrix(0, length(constraints), length(kept), dimnames = list(constraints, kept))
    C[cbind(seq_along(constraints), match(constraints, kept))] <- 1
    return(C)
  }
  if (is.data.frame(constraints) || is.list(constraints)) {
    abort("`constraints` must be a character vector of coefficient names or a numeric matrix.")
  }
  C <- contrast_matrix(constraints, all, kept, "constraints")
  if (all(C == 0)) abort("`constraints` is all zero: it constrains nothing.")
  scaled <- C / sqrt(rowSums(C^2))
  if (any(rowSums(C^2) == 0) || qr(scaled, tol = 1e-10)$rank < nrow(C)) {
    abort(sprintf("the %d rows of `constraints` are not linearly independent (rank %d); drop the redundant rows.",
                  nrow(C), if (any(rowSums(C^2) == 0)) qr(C)$rank else qr(scaled, tol = 1e-10)$rank))
  }
  if (is.null(rownames(C))) rownames(C) <- paste0("constraint ", seq_len(nrow(C)))
  C
}

## "treated = 0, baseline = 0" or "2 linear constraints".
constraint_text <- function(C, rhs) {
  unit <- rowSums(C != 0) == 1L & rowSums(C) == 1
  if (all(unit)) {
    return(paste(sprintf("%s = %s", colnames(C)[apply(C != 0, 1L, which)], format(rhs)),
                 collapse = ", "))
  }
  sprintf("%d linear constraint%s C b = r", nrow(C), if (nrow(C) > 1L) "s" else "")
}

wald_method <- function(test, q) {
  what <- switch(test,
    HTZ = "Hotelling's T-squared approximation (HTZ)",
    "chi-sq" = "chi-squared reference",
    "naive-F" = "F with G - 1 df (naive-F)")
  sprintf("Cluster-robust Wald test of %d constraint%s, %s", q, if (q > 1L) "s" else "", what)
}

wald_footer <- function(type, G, test) {
  sprintf("Standard errors: %s; test: %s", vcov_text(type, G), paste(test, collapse = ", "))
}

#' @export
print.wald_test <- function(x, digits = getOption("digits"), ...) {
  NextMethod(digits = digits)
  cat(wald_footer(x$type, x$G, x$test), "\n\n", sep = "")
  invisible(x)
}

#' @export
print.wald_tests <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat("\nCluster-robust Wald tests\n\n")
  cat("data:  ", attr(x, "data.name"), "\n\n", sep = "")
  print(as.data.frame(unclass(x), stringsAsFactors = FALSE)[names(x)], digits = digits, row.names = FALSE)
  cat(wald_footer(attr(x, "type"), attr(x, "clusters"), x$test), "\n\n", sep = "")
  invisible(x)
}

#' Tidy a Wald test
#'
#' @param x A [wald_test()] result (one test, or a table of several).
#' @param row.names,optional Ignored (for the `as.data.frame()` generic).
#' @param ... Ignored.
#' @return A data frame with one row per test and broom's columns `test`,
#'   `statistic` (F), `num.df`, `den.df`, `p.value`, `delta`, `method`,
#'   `vcov.type` and `nclusters`.
#' @method tidy wald_test
#' @export
tidy.wald_test <- function(x, ...) {
  data.frame(test = x$test, statistic = unname(x$statistic), num.df = unname(x$parameter[1L]),
             den.df = unname(x$parameter[2L]), p.value = x$p.value, delta = x$delta,
             method = x$method, vcov.type = x$type, nclusters = min(x$G),
             stringsAsFactors = FALSE)
}

#' @rdname tidy.wald_test
#' @method tidy wald_tests
#' @export
tidy.wald_tests <- function(x, ...) {
  q <- x$df_num
  data.frame(test = x$test, statistic = x$Fstat, num.df = q, den.df = x$df_denom,
             p.value = x$p_val, delta = x$delta,
             method = vapply(seq_along(q), function(i) wald_method(x$test[i], q[i]), ""),
             vcov.type = attr(x, "type"), nclusters = min(attr(x, "clusters")),
             stringsAsFactors = FALSE)
}

#' @rdname tidy.wald_test
#' @export
as.data.frame.wald_test <- function(x, row.names = NULL, optional = FALSE, ...) tidy.wald_test(x)
