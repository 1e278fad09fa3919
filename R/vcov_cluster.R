#' Cluster-robust covariance matrix
#'
#' The cluster-robust ("sandwich") covariance matrix of the coefficients of a
#' linear or generalised linear model, computed from per-cluster statistics.
#' For `lm` and `glm` fits it equals [sandwich::vcovCL()] with the same
#' arguments (`type` "HC0" to "HC3"), and for the clubSandwich names "CR0",
#' "CR1", "CR1p", "CR1S", "CR2" and "CR3" it equals [clubSandwich::vcovCR()].
#' It can be passed to [lmtest::coeftest()] as
#' `coeftest(fit, vcov = vcov_cluster, cluster = ~ g)`.
#'
#' @section Small-sample adjustments:
#' With G clusters, n observations and k estimated coefficients:
#' * "HC0": no adjustment beyond `cadjust`, which multiplies by G / (G - 1)
#'   (in multiway clustering, see `cadjust` for the choice of G).
#' * "HC1": as HC0, times (n - 1) / (n - k), applied once at the end.
#' * "HC2": the Bell-McCaffrey correction: each cluster's score is computed
#'   from residuals premultiplied by (I - H_gg)^(-1/2), and the result is
#'   multiplied by (G - 1) / G (so that with `cadjust = TRUE` the two factors
#'   cancel and HC2 equals clubSandwich's "CR2").
#' * "HC3": as HC2 with (I - H_gg)^(-1), the leave-one-cluster-out jackknife
#'   ("CR3" with `cadjust = TRUE`).
#' * "CR0", "CR1" (G / (G - 1)), "CR1p" (G / (G - k)), "CR1S"
#'   (G (n - 1) / ((G - 1) (n - k)), equal to "HC1"), "CR2" and "CR3" follow
#'   clubSandwich; `cadjust` is ignored for them and they need a single
#'   clustering variable. "CR1p" is undefined with no more clusters than
#'   coefficients (G <= k): as clubSandwich, the result is then `NaN`, with a
#'   warning of class `clusterab_cr1p_undefined`.
#'
#' With weights that vary within clusters, sandwich's "HC2"/"HC3" and
#' clubSandwich's "CR2" differ (sandwich adjusts `W e` with
#' (I - H W)^(-1/2); clubSandwich uses the unit target variance); both are
#' reproduced. Eigenvalues of I - H_gg that are zero (a cluster whose fitted
#' values are determined by its own coefficients, such as a cluster fixed
#' effect) are dropped, as clubSandwich does; sandwich returns `NaN` there.
#'
#' @section Numerical accuracy:
#' No tolerance depends on the units of the data: multiplying the weights, the
#' outcome or a covariate by a constant changes the result only as the units
#' do (the weights not at all). The leverages of "CR2" with weights are
#' computed on cross-products scaled to unit diagonal, and columns or weights
#' whose squares would overflow or underflow are scaled by powers of two
#' (exactly). With weights, columns are centred at their weighted means. A
#' covariance whose entries do not fit in a double in the data's units (an
#' outcome of 1e-170 has variances near 1e-340) is an error asking to rescale,
#' never a silent `0`, `Inf` or `NaN`. Weights whose span (largest over
#' smallest) exceeds 1e6 get a warning with "CR2" (class
#' `clusterab_ill_conditioned`): the adjustment of a cluster holding one
#' dominant weight is then nearly singular and loses digits in double
#' precision (clubSandwich's value there is rounding noise); beyond 2^500
#' "CR2", "HC2" and "HC3", which need the squared weights, are an error naming
#' `weights`. Standard errors of exactly zero (an outcome fitted exactly) get
#' a warning of class `clusterab_perfect_fit` from [coef_test()] and
#' [cluster_lm()], as [lm()] warns of an "essentially perfect fit". A
#' multiway covariance with negative variances (possible without `fix = TRUE`)
#' gets a warning of class `clusterab_negative_variance` from [cluster_lm()],
#' and those standard errors are `NaN`, as in sandwich. A design so nearly collinear that the
#' normal equations lose digits (a column with less than 1e-10 of its centred
#' variance left after the columns before it) gets a warning of class
#' `clusterab_ill_conditioned`.
#'
#' @section Departures from sandwich:
#' Two places where sandwich surprises follow clubSandwich instead, on
#' purpose: unused levels of a factor `cluster` are not counted as clusters
#' (sandwich counts them in G / (G - 1)), and rows with zero weight are
#' dropped before anything is counted (sandwich keeps them in n, which
#' shrinks the covariance). Without unused levels or zero weights the results
#' are identical.
#'
#' For `glm` fits the "HC" types use the working weights and residuals of
#' the final IRLS iteration, as sandwich does, and the "CR" types use the
#' weights at the fitted means, as clubSandwich does; the two differ at the
#' level of the IRLS convergence tolerance. clubSandwich's "CR2" for a `glm`
#' with non-constant working weights has no per-cluster reduction and is not
#' offered; use "HC2".
#'
#' @param x A fitted model: `lm`, `glm` or [cluster_lm()].
#' @section Too few clusters:
#' Cluster-robust standard errors need many clusters. Two classed warnings
#' (class `"clusterab_few_clusters"`, so
#' `suppressWarnings(expr, classes = "clusterab_few_clusters")` muffles them)
#' say when they do not have them:
#' * fewer than 30 clusters with a type without a real small-sample
#'   correction ("HC0", "HC1", "CR0", "CR1", "CR1p", "CR1S"): prefer "CR2",
#'   randomisation inference ([randomization_test()]) or the cluster-level
#'   test ([cluster_ttest()]);
#' * a coefficient that cannot be estimated without one particular cluster
#'   (one treated cluster, one cluster per arm, a regressor that is nonzero in
#'   one cluster only; class `"clusterab_single_cluster"` too): its
#'   cluster-robust standard error ignores that cluster and is degenerate,
#'   whatever the type. The check is exact and scale-free: coefficient j
#'   needs cluster g when it is not estimable from the cross-products of the
#'   other clusters, which is decided from the eigenvalues (equal to 1) of
#'   the cluster's leverage in whitened coordinates. For `lm` and `glm` fits
#'   it uses the per-cluster cross-products that the leverage types compute
#'   anyway, and for the other types one more pass over the rows when there
#'   are at most 100 clusters (with more it is skipped); [cluster_lm()]
#'   always checks (from its statistics, for the first clustering variable).
#'   It is also skipped when the candidate clusters times k^3 exceed 5e7
#'   (hundreds of cluster fixed effects).
#'
#' Neither is given without clustering (`cluster = NULL` and no
#' `attr(x, "cluster")`).
#'
#' @param cluster The clustering: a column name (`"g"`, or `c("g1", "g2")`
#'   for multiway clustering) or a one-sided formula (`~ g`, `~ g1 + g2`)
#'   whose variables are looked up in the data the model was fitted to, a
#'   vector with one cluster id per observation, or a data frame of such
#'   vectors. A character vector with fewer values than observations is read
#'   as column names. `NULL` uses `attr(x, "cluster")`, else each
#'   observation is its own cluster (heteroskedasticity-consistent errors).
#' @param type "HC0", "HC1", "HC2", "HC3" (sandwich) or "CR0", "CR1",
#'   "CR1p", "CR1S", "CR2", "CR3" (clubSandwich). `NULL` is "HC1" for linear
#'   models and "HC0" for `glm`, as in sandwich, and the fit's own type for a
#'   [cluster_lm()] fit.
#' @param cadjust The cluster adjustment of the "HC" types (the "CR" types
#'   have their own): `TRUE` (the default) multiplies by G / (G - 1); `FALSE`
#'   does not adjust. In multiway clustering the covariance is a sum over
#'   terms (each clustering variable and each intersection of them, with
#'   signs, as in Cameron, Gelbach and Miller 2011) and `TRUE` adjusts each
#'   term by its own G_j / (G_j - 1), as [sandwich::vcovCL()] does; `"min"`
#'   adjusts every term by min(G) / (min(G) - 1), with min(G) the smallest
#'   number of clusters among the clustering variables, as fixest's default
#'   (`ssc(G.df = "min")`; `TRUE` is fixest's `G.df = "conventional"`). With
#'   one clustering variable `"min"` is `TRUE`. The term of one cluster per
#'   observation of `multi0` is never adjusted, as in sandwich.
#' @param multi0 In multiway clustering, replace the intersection term by
#'   one cluster per observation (as sandwich's `multi0`).
#' @param fix Set negative eigenvalues of the result to zero (useful in
#'   multiway clustering, which can give a matrix that is not positive
#'   semi-definite).
#' @param threads Number of threads; default `getOption("clusterab.threads")`,
#'   else all cores.
#' @param ... Ignored.
#' @return A k x k covariance matrix for the k coefficients that are not
#'   aliased (as [sandwich::vcovCL()]).
#' @seealso [coef_test()], [cluster_lm()].
#' @examples
#' fit <- lm(revenue ~ treated + baseline, data = geo_experiment)
#' vcov_cluster(fit, cluster = ~ region)
#' vcov_cluster(fit, cluster = ~ region, type = "CR2")
#' vcov_cluster(fit, cluster = "region", type = "CR2")   # the same
#' @export
vcov_cluster <- function(x, cluster = NULL, type = NULL, cadjust = TRUE,
                         multi0 = FALSE, fix = FALSE, ...) {
  UseMethod("vcov_cluster")
}

#' @export
vcov_cluster.default <- function(x, cluster = NULL, type = NULL, cadjust = TRUE,
                                 multi0 = FALSE, fix = FALSE, ...) {
  abort(sprintf("`x` must be a fitted model: vcov_cluster() works on `lm`, `glm` and `cluster_lm` fits, not on %s.",
               class(x)[1L]), call. = FALSE)
}

#' @rdname vcov_cluster
#' @export
vcov_cluster.lm <- function(x, cluster = NULL, type = NULL, cadjust = TRUE,
                            multi0 = FALSE, fix = FALSE, threads = NULL, ...) {
  res <- vcov_cluster_lm_result(x, cluster, type, cadjust, multi0, fix, threads,
                                label = cluster_label(substitute(cluster)))
  signal_notes(res$notes)
  res$vcov
}

## vcov_cluster() of an lm/glm fit with what the printouts need: the type,
## the numbers of clusters of the clustering variables (named; empty without
## clustering) and the few-cluster notes (not yet signalled). With
## `satterthwaite` (and "CR2" for an lm), the CR2 basis also holds `coef_df`,
## the Satterthwaite df of the coefficients, computed with the adjustment.
vcov_cluster_lm_result <- function(x, cluster = NULL, type = NULL, cadjust = TRUE,
                                   multi0 = FALSE, fix = FALSE, threads = NULL, label = NULL,
                                   satterthwaite = FALSE, ...) {
  if (inherits(x, "mlm")) {
    abort("`x` is a multivariate (mlm) fit, with a matrix outcome; vcov_cluster() needs one outcome: fit one lm() per outcome.",
         call. = FALSE)
  }
  type <- check_vcov_type(type, if (class(x)[1L] == "lm") "HC1" else "HC0")
  check_cadjust(cadjust); check_flag(multi0, "multi0"); check_flag(fix, "fix")
  threads <- resolve_threads(threads)
  rows <- fit_rows(x, type, threads, defer_bread = TRUE)
  check_weight_span(rows$w, type)
  clustered <- !is.null(cluster) || !is.null(attr(x, "cluster"))
  cluster <- fit_cluster(x, cluster, rows)
  if (!is.null(label) && identical(names(cluster), "cluster")) names(cluster) <- label
  terms <- cluster_terms(cluster, multi0)
  check_cluster_terms(terms, type)
  G_min <- min_clusters(terms)
  meat <- NULL
  single <- NULL
  cr2 <- NULL
  if (length(terms) > 1L && multiway_scores_only(type, !is.null(rows$w))) {
    ## multiway with scores only: every term in one C++ call (R/multiway.R)
    factors <- vapply(terms, function(t) t$sign * term_adjustment(t, type, cadjust, rows$n, rows$k, G_min),
                      numeric(1L))
    meat <- multiway_meat(rows, terms, factors, threads)
    if (clustered) {
      for (i in seq_along(cluster)) {
        single <- rbind(single, rows_single_cluster(rows, terms[[i]], list(), cluster[[i]],
                                                    names(cluster)[i], threads))
      }
    }
    terms_left <- integer(0)
  } else {
    terms_left <- seq_along(terms)
  }
  for (i in terms_left) {
    term <- terms[[i]]
    parts <- scores_from_rows(rows, term, type, threads)
    if (is.null(rows$bread)) rows$bread <- bread_from_moments(rows, parts)
    fused <- NULL
    if (type == "CR2" && !inherits(x, "glm")) {
      ## what the Satterthwaite df and HTZ tests need (R/satterthwaite.R)
      cr2 <- cr2_basis(parts$P0, parts$P1, parts$P2, rows$design, rows$bread,
                       rows$intercept, rows$shift, rows$z_scale)
      ## the scores and the df from one eigen-decomposition per cluster
      if (satterthwaite) fused <- cr2_scores_with_df(cr2, parts, threads)
      cr2$coef_df <- fused$df
      parts$adjusted <- fused$scores
    }
    if (clustered && i <= length(cluster)) {
      single <- rbind(single, rows_single_cluster(rows, term, parts, cluster[[i]],
                                                  names(cluster)[i], threads))
    }
    scores <- adjusted_scores(parts, type, rows, threads)
    piece <- term$sign * term_adjustment(term, type, cadjust, rows$n, rows$k, G_min) *
      bread_meat_bread(rows$bread, scores, threads)
    meat <- if (is.null(meat)) piece else meat + piece
  }
  if (type == "HC1") meat <- meat * (rows$n - 1) / (rows$n - rows$k)
  V <- unscale_vcov(symmetric_vcov(meat, rows$bread), rows$z_scale, rows$escale,
                    fit_outcome_name(x))
  V <- uncentre_vcov(V, rows$intercept, rows$shift)
  if (!cr1p_undefined(type, terms[[1L]]$G, rows$k) && !all(is.finite(V))) {
    abort("the covariance does not fit in double precision: the outcome and the covariates differ too much in magnitude; rescale them (multiply or divide by a power of ten) and refit.",
         call. = FALSE)
  }
  if (fix) V <- fix_psd(V)
  G <- if (clustered) {
    stats::setNames(vapply(terms[seq_along(cluster)], `[[`, integer(1L), "G"), names(cluster))
  } else integer(0)
  list(vcov = V, type = type, G = G, notes = if (clustered) few_cluster_notes(G, type, single) else list(),
       cr2 = cr2)
}

## Coefficients of an lm/glm fit that rest on a single cluster of `term`. The
## per-cluster cross-products are those the type computes anyway (HC2, HC3,
## CR2, CR3), else one more pass over the rows when G <= 100 (the few-cluster
## regime, including 50 states with one treated); beyond that the check is
## skipped for the uncorrected types to keep vcov_cluster() at one pass over
## the rows. Positive weights do not change which coefficients are
## estimable, so any weights of the fit will do.
rows_single_cluster <- function(rows, term, parts, ids, variable, threads) {
  packed <- parts$P1
  if (is.null(packed)) {
    if (term$G > 100L) return(NULL)
    packed <- cpp_cluster_moments(rows$columns, NULL, rows$w, term$codes, term$G, rows$shift,
                                  1L, threads, rows$scale)$moments[[1L]]
  }
  single_cluster_table(packed, rows$design, rownames(rows$bread), rows$intercept,
                       rows$shift, ids[term$first], variable)
}

## ---- the engine shared by lm/glm fits and cluster_lm -----------------------

vcov_types <- c("HC0", "HC1", "HC2", "HC3", "CR0", "CR1", "CR1p", "CR1S", "CR2", "CR3")

check_vcov_type <- function(type, default) {
  if (is.null(type)) return(default)
  if (identical(type, "HC")) return("HC0")
  if (!is.character(type) || length(type) != 1L || !(type %in% vcov_types)) {
    abort(sprintf("`type` must be one of %s.", paste0('"', vcov_types, '"', collapse = ", ")),
         call. = FALSE)
  }
  type
}

check_flag <- function(x, what) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    abort(sprintf("`%s` must be TRUE or FALSE.", what), call. = FALSE)
  }
}

is_cr_type <- function(type) startsWith(type, "CR")

## Which per-cluster quantities a type needs: r0 = X'e, r1 = X'We, r2 =
## X'W^2 e and the moments P0 = X'X, P1 = X'WX, P2 = X'W^2X of every cluster.
score_needs <- function(type, weighted) {
  leverage <- type %in% c("HC2", "HC3", "CR2", "CR3")
  if (!leverage) return("r1")
  if (!weighted || type == "CR3") return(c("r1", "P1"))
  if (type == "CR2") return(c("r0", "r1", "P0", "P1", "P2"))
  c("r1", "r2", "P0", "P1")
}

## Per-cluster quantities of one clustering term from the rows of a fit.
## rows: columns (design without intercept), intercept, design (0-based
## positions in z = (1, columns)), w (NULL or weights), e (residuals), shift,
## and optionally the power-of-two scales of the columns (`scale`), of the
## residuals (`escale`) and of the weights (`wscale`): the quantities are then
## those of the scaled rows, in the units of a bread from scaled moments.
scores_from_rows <- function(rows, term, type, threads) {
  needs <- score_needs(type, !is.null(rows$w))
  scale <- rows$scale
  if (!is.null(scale) && all(scale == 1)) scale <- NULL
  es <- if (is.null(rows$escale)) 1 else rows$escale
  ws <- if (is.null(rows$wscale)) 1 else rows$wscale
  w <- rows$w
  if (!is.null(w) && ws != 1) w <- w * ws
  e <- if (es != 1) rows$e * es else rows$e
  out <- list()
  score <- function(r) cpp_cluster_scores(rows$columns, rows$intercept, r, term$codes,
                                          term$G, rows$shift, threads, scale)
  if ("r0" %in% needs) out$r0 <- score(e)
  if ("r1" %in% needs) out$r1 <- score(if (is.null(w)) e else w * e)
  if ("r2" %in% needs) out$r2 <- score(w * w * e)
  powers <- as.integer(sub("P", "", grep("^P", needs, value = TRUE)))
  if (length(powers)) {
    m <- cpp_cluster_moments(rows$columns, NULL, w, term$codes, term$G, rows$shift,
                             powers, threads, scale)
    out[paste0("P", powers)] <- m$moments
  }
  out
}

## Per-cluster quantities from compressed statistics (S1 and, for weighted
## fits that need them, S0 and S2), for coefficients beta on the design, in
## the scaled units of stats_scaled().
scores_from_stats <- function(stats, design, beta, type, threads) {
  weighted <- stats$weighted
  moments <- stats_scaled(stats)$moments
  needs <- score_needs(type, weighted)
  moment <- function(k) {
    m <- moments[[as.character(k)]]
    if (is.null(m)) {
      abort(sprintf('type = "%s" with weights that vary within clusters needs the statistics computed with all weight powers; recompute them with cluster_stats() from the data.', type),
           call. = FALSE)
    }
    m
  }
  gamma <- numeric(length(stats$z_names))
  gamma[design + 1L] <- -beta
  gamma[length(gamma)] <- 1
  out <- list()
  for (k in 0:2) {
    if (paste0("r", k) %in% needs) out[[paste0("r", k)]] <- cpp_stats_scores(moment(k), design, gamma, threads)
    if (paste0("P", k) %in% needs) out[[paste0("P", k)]] <- moment(k)
  }
  out
}

## The adjusted scores s*_g (p x G) of one term for `type`. `fit` supplies the
## design and the bread used for the leverages (fit$leverage_bread, else
## fit$bread). parts$adjusted: already computed (with the Satterthwaite df).
adjusted_scores <- function(parts, type, fit, threads) {
  if (!is.null(parts$adjusted)) return(parts$adjusted)
  if (is.null(parts$P1)) return(parts$r1)
  B <- if (is.null(fit$leverage_bread)) fit$bread else fit$leverage_bread
  design <- fit$design
  power <- if (type %in% c("HC3", "CR3")) -1 else -0.5
  if (type == "CR2" && !is.null(parts$P2)) {
    Q <- B %*% unpack_sum(parts$P2, design) %*% B
    return(cpp_adjusted_scores_cr2w(parts$r0, parts$r1, parts$P0, parts$P1, parts$P2,
                                    design, B, Q, threads))
  }
  if (is.null(parts$r2)) {
    cpp_adjusted_scores(parts$r1, parts$r1, parts$P1, parts$P1, design, B, power, threads)
  } else {
    cpp_adjusted_scores(parts$r1, parts$r2, parts$P1, parts$P0, design, B, power, threads)
  }
}

## Sum over clusters of packed moments, unpacked at `design` (0-based).
unpack_sum <- function(packed, design) {
  total <- rowSums(packed)
  q <- (sqrt(8 * length(total) + 1) - 1) / 2
  full <- matrix(0, q, q)
  full[upper.tri(full, diag = TRUE)] <- total
  full[lower.tri(full)] <- t(full)[lower.tri(full)]
  full[design + 1L, design + 1L, drop = FALSE]
}

## Small-sample factor of one clustering term. The cluster factor follows
## `cadjust`: TRUE, the term's own G / (G - 1) (sandwich); "min", the
## smallest number of clusters of the clustering, G_min / (G_min - 1), for
## every term (fixest's G.df = "min"); FALSE, none. The multi0 term (one
## cluster per observation) never gets one, as in sandwich.
term_adjustment <- function(term, type, cadjust, n, k, G_min = term$G) {
  G <- term$G
  switch(type,
    CR0 = , CR2 = , CR3 = 1,
    CR1 = G / (G - 1),
    CR1p = if (G > k) G / (G - k) else {
      warn_cr1p_undefined(G, k)
      NaN
    },
    CR1S = G * (n - 1) / ((G - 1) * (n - k)),
    {
      adj <- if (term$multi0) {
        if (type == "HC1") (n - k) / (n - 1) else 1
      } else if (identical(cadjust, "min")) {
        G_min / (G_min - 1)
      } else if (isTRUE(cadjust)) G / (G - 1) else 1
      if (type %in% c("HC2", "HC3")) adj <- adj * (G - 1) / G
      adj
    })
}

## The smallest number of clusters among the terms of a clustering (the
## intersections have at least as many as each of their variables; the
## multi0 term, one cluster per observation, is no clustering variable).
min_clusters <- function(terms) {
  min(vapply(terms, function(t) if (isTRUE(t$multi0)) NA_integer_ else t$G, integer(1L)),
      na.rm = TRUE)
}

## `cadjust`: TRUE, FALSE or "min".
check_cadjust <- function(cadjust) {
  if (identical(cadjust, "min") ||
      (is.logical(cadjust) && length(cadjust) == 1L && !is.na(cadjust))) {
    return(invisible(cadjust))
  }
  shown <- if (is.character(cadjust) && length(cadjust) == 1L && !is.na(cadjust)) {
    sprintf('"%s"', cadjust)
  } else if (is.null(cadjust)) "NULL" else if (length(cadjust) != 1L) {
    sprintf("of length %d", length(cadjust))
  } else format(cadjust)
  abort(sprintf('`cadjust` must be TRUE (each clustering term\'s own G / (G - 1), as sandwich), FALSE (no cluster adjustment) or "min" (every term uses min(G) / (min(G) - 1), the smallest number of clusters, as fixest), not %s.',
                shown), class = "clusterab_bad_cadjust", call. = FALSE)
}

## CR1p's factor G / (G - k) is undefined (infinite or negative) with no more
## clusters than coefficients: clubSandwich returns NaN (with R's "NaNs
## produced" warning for G < k, silently for G = k); so do we, with a classed
## warning that says why.
cr1p_undefined <- function(type, G, k) identical(type, "CR1p") && G <= k

warn_cr1p_undefined <- function(G, k) {
  warn(sprintf('type = "CR1p" needs more clusters than coefficients (its factor is G / (G - k)), but G = %d and k = %d; the covariance is NaN. Use "CR2" (or fewer coefficients) instead.',
               G, k), class = "clusterab_cr1p_undefined")
}

check_cluster_terms <- function(terms, type) {
  if (is_cr_type(type) && length(terms) > 1L) {
    abort(sprintf('type = "%s" (clubSandwich) supports one clustering variable; use an "HC" type for multiway clustering.', type),
         call. = FALSE)
  }
  G <- vapply(terms, `[[`, integer(1L), "G")
  if (any(G < 2L)) {
    abort("`cluster` has a single cluster; cluster-robust standard errors need at least two clusters (and are unreliable with few).",
         call. = FALSE)
  }
}

## bread %*% meat %*% bread, symmetrised, with sandwich's eigenvalue `fix`.
## CR2, HC2 and HC3 with weights need the squared weights: where the weights
## span more than about 1e150 (one weight 1e200 times the others), the squares
## of the small ones underflow next to the largest, and the adjustment would
## silently lose those rows. A classed error naming `weights`.
check_weight_span <- function(w, type) {
  if (is.null(w) || !type %in% c("CR2", "HC2", "HC3")) return(invisible())
  pos <- w[w > 0]
  if (length(pos) && min(pos) / max(pos) < 2^-500) {
    abort(sprintf('`weights` span %.0e (largest over smallest): type = "%s" needs their squares, which underflow for the small weights next to the largest; rescale or cap the extreme weights, or use type = "HC1"/"CR1".',
                  max(pos) / min(pos), type),
          class = "clusterab_weight_span", call. = FALSE)
  }
  ## CR2 takes (I - H_gg)^-1/2 through the eigenvalues of a p x p form whose
  ## smallest one falls like (smallest / largest weight)^2 for a cluster
  ## holding one dominant weight: beyond a span of about 1e6 it loses digits
  ## to rounding, and beyond about 1e7 it is dropped as zero (a pseudo-inverse,
  ## as clubSandwich does for singular clusters). Say so rather than print a
  ## number that looks exact. (clubSandwich's own value there is rounding noise.)
  if (type == "CR2" && length(pos) && max(pos) / min(pos) > 1e6) {
    warn(sprintf('`weights` span %.0e (largest over smallest): type = "CR2" cannot be computed accurately in double precision for the clusters of the largest weights (their adjustment is nearly singular; beyond a span of about 1e7 a direction is dropped as singular), so its standard errors may be off. Check the extreme weights, or compare with type = "CR1".',
                 max(pos) / min(pos)), class = c("clusterab_weight_span_warning", "clusterab_ill_conditioned"))
  }
}

## B (S S') B as (B S)(B S)': with one weight far above the others (1e200
## times), the scores of the other clusters are tiny in the weights' scaled
## units (1e-200) and their squares underflow to zero, while B S is of
## ordinary size. Summed over clustering terms by the callers. Numeric
## matrices go to C++ (src/bread_meat_bread.cpp: the same operations in the
## same order as R with the reference BLAS, the entries shared out between
## `threads`, so the result does not depend on their number).
bread_meat_bread <- function(bread, scores, threads = 1L) {
  if (!is.matrix(bread) || !is.matrix(scores) || !is.double(bread) || !is.double(scores) ||
      ncol(bread) != nrow(scores) || anyNA(bread)) {
    return(tcrossprod(bread %*% scores))
  }
  V <- cpp_bread_meat_bread(bread, scores, threads)
  if (!is.null(rownames(bread))) dimnames(V) <- list(rownames(bread), rownames(bread))
  V
}

symmetric_vcov <- function(V, bread) {
  V <- (V + t(V)) / 2
  dimnames(V) <- dimnames(bread)
  V
}

sandwich_product <- function(bread, meat, fix) {
  V <- bread %*% meat %*% bread
  V <- (V + t(V)) / 2
  dimnames(V) <- dimnames(bread)
  if (fix) fix_psd(V) else V
}

## Negative eigenvalues set to zero (sandwich's `fix = TRUE`).
fix_psd <- function(V) {
  eig <- eigen(V, symmetric = TRUE)
  if (any(eig$values < 0)) V[] <- crossprod(sqrt(pmax(eig$values, 0)) * t(eig$vectors))
  V
}

## ---- lm and glm fits -----------------------------------------------------

## The rows of a fitted lm/glm as the engine needs them: design columns (no
## copies for plain numeric terms), weights and residuals (working ones for
## glm), the rows kept (rows with zero prior weight are dropped), and the
## bread (X'WX)^-1. With an intercept the columns are centred at their means
## and the bread comes from the centred cross-products, so that a covariate
## with a large mean and a small spread loses no precision (a QR of the
## uncentred design, as sandwich uses, loses up to cond(X) * eps); the result
## is mapped back by uncentre_vcov(). Without an intercept the fit's QR is used.
## With `defer_bread`, where the type's per-cluster moments P1 = X_g'W_g X_g
## sum to the bread's cross-product (an intercept, and not a glm's CR
## types), the bread is left NULL for the caller to take from them
## (bread_from_moments()): one pass over the rows less.
fit_rows <- function(x, type, threads, defer_bread = FALSE) {
  coefs <- coef(x)
  aliased <- is.na(coefs)
  X <- fit_design(x, names(coefs))
  ## Aliased columns take no part; design = positions in z = (1, columns).
  intercept <- X$intercept && !aliased[1L]
  columns <- X$columns[!aliased[seq_along(X$columns) + X$intercept]]
  design <- c(if (intercept) 0L, seq_along(columns))
  is_glm <- inherits(x, "glm")
  e <- x$residuals
  w <- x$weights                      # prior weights for lm, working for glm
  w_bread <- NULL                     # weights of the bread, when not w
  if (is_glm) {
    prior <- x$prior.weights
    if (is_cr_type(type)) {
      ## clubSandwich's working quantities, at the fitted means; its bread
      ## stays sandwich::bread(), with the last IRLS weights.
      w_bread <- w
      d <- x$family$mu.eta(x$linear.predictors)
      w <- prior * d^2 / x$family$variance(x$fitted.values)
      e <- (x$y - x$fitted.values) / d
    }
    keep <- which(prior > 0)
  } else {
    keep <- if (is.null(w)) NULL else which(w > 0)
  }
  if (!is.null(keep) && length(keep) < length(e)) {
    columns <- lapply(columns, `[`, keep)
    e <- e[keep]
    w <- w[keep]
    if (!is.null(w_bread)) w_bread <- w_bread[keep]
  } else {
    keep <- NULL
  }
  n <- length(e)
  k <- sum(!aliased)
  if (k == 0L) stop_nothing_estimable("x")
  if (n - k <= 0) {
    abort(sprintf("`x`, the fitted model, has no residual degrees of freedom (%d estimable coefficient(s), %d observation(s)); cluster-robust covariance needs more observations than coefficients.",
                  k, n), call. = FALSE)
  }
  names_kept <- names(coefs)[!aliased]
  ## One pass over the columns, residuals and weights: the (weighted) means
  ## that centre the columns, and the magnitudes that set the power-of-two
  ## scales keeping squares of extreme values from overflowing (scaling by
  ## powers of two is exact: ordinary data are untouched).
  wb <- if (is.null(w_bread)) w else w_bread
  summary <- cpp_column_summary(c(columns, list(e), if (!is.null(w)) list(w)), threads, wb)
  if (any(summary$nonfinite > 0)) {
    abort("the fit has infinite or missing residuals, weights or covariates; check its data for values too large for double precision and rescale them.",
         call. = FALSE)
  }
  m_x <- length(columns)
  shift <- if (intercept && m_x) summary$mean[seq_len(m_x)] else numeric(m_x)
  spread <- pmax(summary$max - c(shift, 0, 0)[seq_along(summary$max)],
                 c(shift, 0, 0)[seq_along(summary$max)] - summary$min)
  if (!all(is.finite(spread))) {
    abort("a covariate of the fit spans more than the largest double once centred; rescale it and refit.",
         call. = FALSE)
  }
  x_scale <- power_of_two_scale(spread[seq_len(m_x)])
  escale <- power_of_two_scale(spread[m_x + 1L])
  wscale <- if (is.null(w)) 1 else power_of_two_scale(max(summary$max[m_x + 2L], wb), even = TRUE)
  z_scale <- c(if (intercept) 1, x_scale)
  crossprod_inverse <- function(weights) {
    m <- cpp_cluster_moments(columns, NULL, weights, integer(n), 1L, shift, 1L, threads,
                             if (any(x_scale != 1)) x_scale, wscale)
    crossprod_bread(unpack_sum(m$moments[[1L]], design), names_kept)
  }
  defer <- defer_bread && intercept && is.null(w_bread) &&
    "P1" %in% score_needs(type, !is.null(w))
  bread <- if (defer) {
    NULL
  } else if (intercept) {
    crossprod_inverse(wb)
  } else {
    ## the fit's QR, in data units, taken to the scaled units
    qr_bread(x, coefs) / (wscale * outer(z_scale, z_scale))
  }
  leverage_bread <- NULL
  if (is_glm && type %in% c("CR2", "CR3")) {
    if (type == "CR2" && length(unique(w)) > 1L) {
      abort('type = "CR2" for a glm with non-constant working weights is not available: clubSandwich\'s adjustment for it cannot be reduced to per-cluster statistics. Use type = "HC2" (sandwich\'s Bell-McCaffrey correction) instead.',
           call. = FALSE)
    }
    ## clubSandwich's leverages use X'WX at the fitted means.
    leverage_bread <- crossprod_inverse(w)
  }
  list(columns = columns, intercept = intercept, design = design, w = w, e = e,
       shift = shift, n = n, k = k, bread = bread, leverage_bread = leverage_bread,
       keep = keep, n_fit = length(x$residuals), scale = x_scale, z_scale = z_scale,
       escale = escale, wscale = wscale, names = names_kept)
}

## (X'WX)^-1 from the cross-product A (centred, scaled), named, with the
## warning for a nearly collinear design.
crossprod_bread <- function(A, names) {
  R <- chol(A)
  warn_ill_conditioned(diag(R)^2 / diag(A), names)
  B <- chol2inv(R)
  dimnames(B) <- list(names, names)
  B
}

## The bread that fit_rows(defer_bread = TRUE) left to the caller: the sum of
## the clusters' P1 = X_g'W_g X_g is X'WX, in the same scaled units.
bread_from_moments <- function(rows, parts) {
  crossprod_bread(unpack_sum(parts$P1, rows$design), rows$names)
}

## From scaled to data units: with the design columns scaled by `z_scale` and
## the outcome (residuals) by `yscale`, V = D V~ D / yscale^2, D = diag(z_scale).
## The weights' scale cancels.
## A variance that is not zero but overflows or underflows in those units
## (an outcome of 1e-170 has variances near 1e-340) is an error, not a silent
## Inf or 0; subnormal variances down to 2^-1042 keep 32 bits, and pass.
unscale_vcov <- function(V, z_scale, yscale, yname = NULL) {
  if (all(z_scale == 1) && yscale == 1) return(V)
  out <- z_scale * t(z_scale * (V / yscale)) / yscale
  dimnames(out) <- dimnames(V)
  v <- diag(out)
  lost <- is.finite(diag(V)) & diag(V) > 0 & (!is.finite(v) | v < 2^-1042)
  if (any(lost)) {
    abort(sprintf("the variance of %s %s in double precision (the outcome%s and the covariates differ too much in magnitude); rescale the outcome or those columns (multiply or divide by a power of ten) first.",
                 paste0("`", rownames(V)[lost], "`", collapse = ", "),
                 if (any(is.finite(v[lost]))) "underflows" else "overflows",
                 if (length(yname)) sprintf(" `%s`", yname) else ""),
         call. = FALSE)
  }
  out
}

## From centred to original coordinates: with an intercept, beta_0 =
## beta~_0 - sum_j c_j beta~_j, so V = T V~ T' with T = I, T[1, j] = -c_j.
uncentre_vcov <- function(V, intercept, shift) {
  if (!intercept || length(shift) == 0L || all(shift == 0)) return(V)
  to_original <- diag(nrow(V))
  to_original[1L, -1L] <- -shift
  out <- to_original %*% V %*% t(to_original)
  dimnames(out) <- dimnames(V)
  out
}

solve_symmetric <- function(A) {
  out <- chol2inv(chol(A))
  dimnames(out) <- dimnames(A)
  out
}

## Design columns of a fitted model: from its model frame where possible,
## checked against the coefficient names, else from model.matrix().
fit_design <- function(x, coef_names) {
  mf <- x$model
  if (!is.null(x$x) && is.matrix(x$x)) mf <- NULL
  if (!is.null(mf)) {
    tt <- stats::delete.response(terms(x))
    X <- tryCatch(design_columns(tt, as.list(mf), x$contrasts), error = function(e) NULL)
    if (!is.null(X) &&
        identical(c(if (X$intercept) "(Intercept)", names(X$columns)), coef_names)) {
      return(X)
    }
  }
  mm <- if (!is.null(x$x) && is.matrix(x$x)) x$x else model.matrix(x)
  intercept <- length(coef_names) > 0L && coef_names[1L] == "(Intercept)" &&
    all(mm[, 1L] == 1)
  cols <- seq_len(ncol(mm))
  if (intercept) cols <- cols[-1L]
  list(columns = stats::setNames(lapply(cols, function(j) unname(mm[, j])), colnames(mm)[cols]),
       intercept = intercept)
}

## (X'WX)^-1 for the non-aliased coefficients, from the fit's QR as
## summary.lm() and summary.glm() compute it.
qr_bread <- function(x, coefs) {
  qr <- x$qr
  keep <- !is.na(coefs)
  if (is.null(qr)) {
    abort("the fit has no QR decomposition (was it fitted with qr = FALSE?); refit it with the default qr = TRUE.",
         call. = FALSE)
  }
  p1 <- seq_len(x$rank)
  R <- chol2inv(qr$qr[p1, p1, drop = FALSE])
  ord <- order(qr$pivot[p1])
  B <- R[ord, ord, drop = FALSE]
  dimnames(B) <- list(names(coefs)[keep], names(coefs)[keep])
  B
}

## The cluster data frame of a fitted model, aligned with the rows the fit
## used (after its na.action) and then with the rows kept by fit_rows().
fit_cluster <- function(x, cluster, rows) {
  n_fit <- rows$n_fit
  if (is.null(cluster)) cluster <- attr(x, "cluster")
  if (is.null(cluster)) {
    cluster <- as_frame(list(seq_len(n_fit)))
  } else if (inherits(cluster, "formula")) {
    cluster <- fit_formula_variables(x, cluster)
  } else if (is.character(cluster) && is.null(dim(cluster)) && length(cluster) < n_fit) {
    ## fewer strings than observations: column names (as in cluster_lm())
    cluster <- fit_formula_variables(x, cluster)
  } else if (is.data.frame(cluster)) {
    cluster <- as_frame(as.list(cluster))
  } else if (is.atomic(cluster) && is.null(dim(cluster))) {
    cluster <- as_frame(list(cluster = cluster))
  } else {
    abort("`cluster` must be a column name, a one-sided formula, a vector with one id per observation or a data frame of such vectors.",
          call. = FALSE)
  }
  omitted <- x$na.action
  if (NROW(cluster) != n_fit && !is.null(omitted) &&
      NROW(cluster) == n_fit + length(omitted)) {
    cluster <- as_frame(lapply(cluster, function(v) v[-omitted]))
  }
  if (NROW(cluster) != n_fit) {
    abort(sprintf("`cluster` has %d values but the model was fitted to %d observations%s.",
                 NROW(cluster), n_fit,
                 if (length(omitted)) sprintf(" (%d rows of the data, less %d dropped for missing values)",
                                              n_fit + length(omitted), length(omitted)) else ""),
         call. = FALSE)
  }
  if (!is.null(rows$keep)) cluster <- as_frame(lapply(cluster, `[`, rows$keep))
  cluster
}

## Variables of a `cluster` formula (or column names), taken from the data the
## model was fitted to (its `data` and `subset` arguments), as model.frame()
## would.
fit_formula_variables <- function(x, cluster) {
  vars <- if (is.character(cluster)) unique(cluster) else all.vars(cluster)
  if (length(vars) == 0L) abort("the `cluster` formula names no variables.", call. = FALSE)
  if (anyNA(vars) || any(vars == "")) abort("`cluster` names an empty or missing column name.", call. = FALSE)
  env <- environment(formula(x))
  data <- if (!is.null(x$call$data)) eval(x$call$data, env) else NULL
  vals <- lapply(stats::setNames(vars, vars), function(v) {
    if (!is.null(data) && v %in% names(data)) return(data[[v]])
    if (!is.null(x$model) && v %in% names(x$model)) return(NULL)
    if (exists(v, envir = env)) return(get(v, envir = env))
    abort(sprintf("variable `%s` in `cluster` was not found in the data the model was fitted to.", v),
         call. = FALSE)
  })
  if (any(vapply(vals, is.null, logical(1L)))) {
    ## Only in the model frame: already aligned with the fit.
    return(as_frame(lapply(stats::setNames(vars, vars), function(v) {
      if (!is.null(vals[[v]])) abort(sprintf("variable `%s` in `cluster` could not be aligned with the fit.", v), call. = FALSE)
      x$model[[v]]
    })))
  }
  if (!is.null(x$call$subset)) {
    s <- eval(x$call$subset, data, env)
    if (is.logical(s)) s <- s & !is.na(s)
    vals <- lapply(vals, `[`, s)
  }
  as_frame(vals)
}

## The outcome's name in a fit's formula, for messages ("the outcome" if none).
fit_outcome_name <- function(x) {
  f <- tryCatch(stats::formula(x), error = function(e) NULL)
  if (inherits(f, "formula") && length(f) == 3L) deparse1(f[[2L]]) else NULL
}
