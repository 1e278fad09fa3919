## Satterthwaite degrees of freedom of CR2 (Bell-McCaffrey; Pustejovsky and
## Tipton 2018, clubSandwich's test = "Satterthwaite") and the moments of the
## HTZ Wald test, from per-cluster cross-products (see src/satterthwaite.cpp
## for the algebra). Under the working model (target variance I, as
## clubSandwich's vcovCR.lm) the CR2 variance of a contrast c is a quadratic
## form sum_g (p_g' eps)^2 in normal errors, with mean sum_g p_g'p_g and
## variance 2 sum_{g,h} (p_g'p_h)^2; the df is 2 mean^2 / variance.

## What the df need from a CR2 fit: the per-cluster moments (M1 = X_g'W X_g;
## with weights also M0 = X_g'X_g and M2 = X_g'W^2 X_g) in the scaled, centred
## coordinates of the bread, the design positions, the bread, and the map
## from contrasts of the reported coefficients to those coordinates
## (C~ = C %*% to_scaled: the covariance is reported as U D V~ D U', D the
## column scales and U the uncentring).
cr2_basis <- function(M0, M1, M2, design, bread, intercept, shift, z_scale) {
  k <- length(z_scale)
  U <- diag(k)
  if (intercept && k > 1L && length(shift) && any(shift != 0)) U[1L, -1L] <- -shift
  list(M0 = M0, M1 = M1, M2 = M2, weighted = !is.null(M2), design = as.integer(design),
       bread = unname(bread), to_scaled = U * rep(z_scale, each = k),
       names = rownames(bread))
}

## Contrasts of the reported coefficients (rows of C) in the coordinates of
## the basis, each row scaled to largest entry 1: the df do not depend on a
## contrast's scale, and a contrast of a column in units of 1e155 would
## otherwise have moments that underflow.
scaled_contrasts <- function(basis, C) {
  Cs <- C %*% basis$to_scaled
  size <- apply(abs(Cs), 1L, max)
  size[!(size > 0) | !is.finite(size)] <- 1
  Cs / size
}

## The moments of the contrasts in the rows of Cs (q x k, in the basis'
## coordinates: scaled_contrasts()): omega_diag, the diagonal of omega =
## E[C V C'] up to scale, denom (per contrast) and, with `joint`, omega and
## the HTZ total (memory O(q) per cluster without `joint`, O(q^2) with it). With `parts` (the scores
## r0, r1 of scores_from_rows()) also `scores`, their CR2 adjustment (as
## adjusted_scores()), from the same eigen-decomposition of each cluster.
cr2_contrast_moments <- function(basis, Cs, joint = FALSE, threads = 1L, parts = NULL) {
  Ct <- t(Cs)
  storage.mode(Ct) <- "double"
  B <- basis$bread
  none <- matrix(0, length(basis$design), 0L)
  r1 <- if (is.null(parts)) none else parts$r1
  r0 <- if (is.null(parts) || !basis$weighted) none else parts$r0
  if (basis$weighted) {
    Q <- B %*% unpack_sum(basis$M2, basis$design) %*% B
    cpp_cr2_df_moments(basis$M0, basis$M1, basis$M2, TRUE, basis$design, B, Q, Ct,
                       joint, threads, r0, r1)
  } else {
    cpp_cr2_df_moments(basis$M1, basis$M1, basis$M1, FALSE, basis$design, B,
                       matrix(0, 1L, 1L), Ct, joint, threads, r0, r1)
  }
}

## How many contrasts go in one call: the C++ side keeps one m x m sum per
## contrast (m = k, or 2k with weights); with hundreds of coefficients
## (cluster fixed effects) the contrasts go in blocks that keep those sums
## under about 16M doubles.
contrasts_per_block <- function(basis) {
  m <- length(basis$design) * (if (basis$weighted) 2L else 1L)
  max(1L, floor(2^24 / m^2))
}

## Satterthwaite df from the moments: 2 mean^2 / variance (NaN when the
## expected variance is not positive or the ratio is not finite).
satterthwaite_from_moments <- function(E, denom, terms) {
  out <- E^2 / denom
  out[!is.finite(out) | E <= 0] <- NaN
  names(out) <- terms
  out
}

## Satterthwaite df of each contrast (rows of C), in blocks of contrasts.
cr2_satterthwaite <- function(basis, C, threads = 1L) {
  blocks <- split(seq_len(nrow(C)), ceiling(seq_len(nrow(C)) / contrasts_per_block(basis)))
  E <- denom <- numeric(nrow(C))
  for (b in blocks) {
    mom <- cr2_contrast_moments(basis, scaled_contrasts(basis, C[b, , drop = FALSE]), FALSE, threads)
    E[b] <- mom$omega_diag
    denom[b] <- mom$denom
  }
  satterthwaite_from_moments(E, denom, rownames(C))
}

## The CR2-adjusted scores of an lm fit's clusters (equal to
## adjusted_scores()) and, from the same eigen-decomposition of each cluster,
## the Satterthwaite df of every coefficient (equal to cr2_satterthwaite()
## with identity contrasts): the df then cost little more than the
## covariance. `parts` as scores_from_rows() gives them for type "CR2". NULL
## when the coefficients do not fit in one block of contrasts.
cr2_scores_with_df <- function(basis, parts, threads = 1L) {
  C <- identity_contrasts(basis$names)
  if (nrow(C) > contrasts_per_block(basis)) return(NULL)
  mom <- cr2_contrast_moments(basis, scaled_contrasts(basis, C), FALSE, threads, parts)
  list(scores = mom$scores,
       df = satterthwaite_from_moments(mom$omega_diag, mom$denom, rownames(C)))
}

## The HTZ denominator df nu (clubSandwich's Wald_testing(): nu = q (q + 1) /
## sum(total_variance_mat) for the contrasts transformed by omega^-1/2).
cr2_htz_nu <- function(basis, C, threads = 1L) {
  q <- nrow(C)
  m <- length(basis$design) * (if (basis$weighted) 2L else 1L)
  if ((m * q)^2 > 2^25) {
    abort(sprintf('the HTZ test of %d constraints on a model with %d coefficients needs a %d x %d working matrix; test fewer constraints, or use test = "chi-sq" or "naive-F".',
                  q, length(basis$design), m * q, m * q))
  }
  Cs <- scaled_contrasts(basis, C)
  omega <- cr2_contrast_moments(basis, Cs, TRUE, threads)$omega
  if (!all(is.finite(omega))) return(NaN)
  eig <- eigen(omega, symmetric = TRUE)
  keep <- eig$values > 1e-12 * max(eig$values)
  inv_root <- eig$vectors[, keep, drop = FALSE] %*%
    (t(eig$vectors[, keep, drop = FALSE]) / sqrt(eig$values[keep]))
  total <- cr2_contrast_moments(basis, inv_root %*% Cs, TRUE, threads)$total
  q * (q + 1) / total
}

identity_contrasts <- function(terms) {
  C <- diag(1, length(terms))
  dimnames(C) <- list(terms, terms)
  C
}

## A contrast matrix over the reported (non-aliased) coefficients `kept`
## (names) from `contrasts`: NULL (every coefficient), a q x p matrix over all
## coefficients (`all`, aliased included; their columns must be zero) or over
## the non-aliased ones.
contrast_matrix <- function(contrasts, all, kept, arg = "contrasts") {
  if (is.null(contrasts)) return(identity_contrasts(kept))
  C <- contrasts
  if (is.null(dim(C))) C <- matrix(C, nrow = 1L)
  if (!is.numeric(C) || anyNA(C) || any(!is.finite(C))) {
    abort(sprintf("`%s` must be a numeric matrix with one column per coefficient and no missing values.", arg))
  }
  if (ncol(C) == length(all) && length(all) != length(kept)) {
    aliased <- !(all %in% kept)
    if (any(C[, aliased] != 0)) {
      abort(sprintf("`%s` puts weight on %s, which %s aliased (not estimable); drop %s from the model or the constraint.",
                    arg, paste0("`", all[aliased][colSums(C[, aliased, drop = FALSE] != 0) > 0], "`", collapse = ", "),
                    if (sum(colSums(C[, aliased, drop = FALSE] != 0) > 0) > 1L) "are" else "is",
                    "it"))
    }
    C <- C[, !aliased, drop = FALSE]
  } else if (ncol(C) != length(kept)) {
    abort(sprintf("`%s` has %d columns but the model has %d coefficients%s; give one column per coefficient.",
                  arg, ncol(C), length(all),
                  if (length(kept) < length(all)) sprintf(" (%d not aliased)", length(kept)) else ""))
  }
  colnames(C) <- kept
  C
}

## The CR2 basis of a fit: an lm (not glm) or a cluster_lm fit, with `cluster`
## in the package's forms.
fit_cr2_basis <- function(fit, cluster = NULL, threads = NULL, what = "fit") {
  check_cr2_fit(fit, what)
  res <- if (inherits(fit, "cluster_lm")) {
    vcov_cluster_cluster_lm_result(fit, cluster = cluster, type = "CR2", threads = threads)
  } else {
    vcov_cluster_lm_result(fit, cluster = cluster, type = "CR2", threads = threads)
  }
  res
}

## Satterthwaite df and HTZ are derived for linear models; clubSandwich's
## working model for a glm has no per-cluster reduction here.
check_cr2_fit <- function(fit, what = "fit") {
  if (inherits(fit, "glm")) {
    abort(sprintf("`%s` is a glm: Satterthwaite degrees of freedom and HTZ tests are available for linear models only (lm() or cluster_lm() fits); for a glm use df = \"cluster\" (G - 1) or wild_boot() on a linear probability model.", what))
  }
  if (!inherits(fit, "lm") && !inherits(fit, "cluster_lm")) {
    abort(sprintf("`%s` must be an lm() or cluster_lm() fit, not %s.", what, class(fit)[1L]))
  }
  if (inherits(fit, "mlm")) {
    abort(sprintf("`%s` is a multivariate (mlm) fit; fit one lm() per outcome.", what))
  }
}

## Satterthwaite degrees of freedom of CR2 for contrasts of an lm or
## cluster_lm fit: `contrasts` a q x p matrix (one row per contrast, one
## column per coefficient, aliased ones included or not); NULL for each
## coefficient. Returns q df, as clubSandwich::coef_test(test =
## "Satterthwaite") (and linear_contrast()) give. Internal, for other
## functions of the package. (Not called satterthwaite_df(): that name is
## taken by the mixed model's df in R/ri_lmer_inference.R.)
cr2_satterthwaite_df <- function(fit, cluster = NULL, contrasts = NULL, threads = NULL) {
  res <- fit_cr2_basis(fit, cluster, threads)
  basis <- res$cr2
  C <- contrast_matrix(contrasts, names(coef(fit)), basis$names)
  cr2_satterthwaite(basis, C, resolve_threads(threads))
}

## The degrees of freedom of predict.cluster_lm() for the rows of X (columns
## the kept coefficients): G - 1, or for a CR2 fit the Satterthwaite df of
## each row's linear combination x0' b (one contrast per distinct row; NA for
## rows with missing values). `df` as predict.cluster_lm()'s argument.
prediction_df <- function(object, X, df = NULL) {
  G <- min(object$G)
  cr2 <- identical(object$type, "CR2")
  check_prediction_df(df, object$type)
  if (!is.null(df) && !identical(df, "Satterthwaite")) {
    return(if (identical(df, "cluster")) G - 1 else df)
  }
  if (!cr2) return(G - 1)
  check_satterthwaite_clusters(G, is.null(df))
  basis <- cluster_lm_cr2_basis(object, "CR2")
  out <- rep(NA_real_, nrow(X))
  names(out) <- rownames(X)
  ok <- which(rowSums(!is.finite(X)) == 0L)
  if (!length(ok) || is.null(basis)) return(out)
  ## distinct rows, compared exactly (hexadecimal doubles)
  key <- do.call(paste, lapply(seq_len(ncol(X)), function(j) sprintf("%a", X[ok, j])))
  first <- !duplicated(key)
  C <- X[ok[first], basis$names, drop = FALSE]
  rownames(C) <- NULL
  out[ok] <- cr2_satterthwaite(basis, C, resolve_threads(NULL))[match(key, key[first])]
  out
}

## predict.cluster_lm()'s `df` for a fit of covariance type `type`.
check_prediction_df <- function(df, type) {
  if (identical(df, "Satterthwaite") && !identical(type, "CR2")) {
    abort(sprintf('df = "Satterthwaite" is defined for the CR2 covariance only, but this fit has type = "%s"; refit with type = "CR2", or use df = "cluster" (G - 1).',
                  type))
  }
  if (is.null(df) || identical(df, "Satterthwaite") || identical(df, "cluster")) return(invisible())
  if (!is.numeric(df) || length(df) != 1L || is.na(df) || df <= 0) {
    abort('`df` must be NULL, "Satterthwaite", "cluster" or a single positive number.')
  }
}
