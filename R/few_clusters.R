## Too few clusters, said out loud: the diagnostics that vcov_cluster(),
## coef_test() and cluster_lm() attach to a cluster-robust covariance, and the
## text that every printed table uses to say which covariance it shows.

## Types without a small-sample correction worth the name: with fewer than
## `few_clusters_limit` clusters their t tests over-reject.
uncorrected_types <- c("HC0", "HC1", "CR0", "CR1", "CR1p", "CR1S")
few_clusters_limit <- 30L

## Coefficients that cannot be estimated without one particular cluster, from
## per-cluster cross-products. `packed`: the packed upper triangles of
## M_g = X_g' W_g X_g (one column per cluster) of z = (1, columns, ...);
## `design`: 0-based positions in z of the coefficients (named `coef_names`);
## with `intercept`, the columns are centred at `shift` (one value per slope)
## and the intercept is the functional (1, -shift) of the centred coefficients.
##
## Coefficient j (the functional f_j) needs cluster g when f_j is not in the
## range of M - M_g, the cross-products without g: then some direction c with
## c_j != 0 is seen by cluster g alone, the cluster's score in that direction
## is zero whatever the data, and the cluster-robust variance of beta_j
## ignores that cluster (one treated cluster, one cluster per arm, a regressor
## nonzero in one cluster only). In whitened coordinates (M = L L', after
## scaling M to unit diagonal) K_g = L^-1 M_g L^-T has eigenvalues in [0, 1]
## that do not depend on the units of the columns; an eigenvalue of 1 (to
## 1e-8) is a direction of cluster g alone, and f_j needs g when its
## whitened image has a share above 1e-8 in those directions. The partial
## leverage criterion (B M_g B)_jj / B_jj = 1 is the special case where all
## of beta_j rests on g. Cost: tr(K_g) = sum of the eigenvalues, and the
## traces of all clusters add up to k, so at most k clusters can have an
## eigenvalue of 1: one O(G k^2) product screens them, and only those get an
## eigen-decomposition (skipped when that would take more than about 5e7
## flops, as with hundreds of cluster fixed effects).
## Returns a data frame of the coefficients flagged and the cluster (index).
single_cluster_coefs <- function(packed, design, coef_names, intercept, shift) {
  none <- data.frame(term = character(0), cluster = integer(0), stringsAsFactors = FALSE)
  k <- length(design)
  if (k == 0L || NCOL(packed) < 2L) return(none)
  ## positions of the (design x design) entries in the packed columns
  d1 <- design + 1L
  pos <- outer(d1, d1, function(i, j) {
    a <- pmin(i, j); b <- pmax(i, j)
    b * (b - 1L) / 2L + a
  })
  M <- matrix(rowSums(packed)[pos], k, k)
  s <- sqrt(diag(M))
  if (!all(is.finite(s)) || any(s <= 0)) return(none)
  L <- tryCatch(t(chol(M / outer(s, s))), error = function(e) NULL)
  if (is.null(L)) return(none)
  Linv <- forwardsolve(L, diag(k))
  Minv <- crossprod(Linv) / outer(s, s)        # M^-1 in the original scale
  ## tr(M^-1 M_g) for every cluster in one pass over the packed moments
  upper <- upper.tri(pos, diag = TRUE)
  weights <- numeric(NROW(packed))
  weights[pos[upper]] <- (Minv * (2 - diag(k)))[upper]
  trace <- drop(crossprod(packed, weights))
  candidates <- which(trace > 1 - 1e-8)
  ## a k x k eigen-decomposition per candidate: skipped when that is too much
  ## work (such as hundreds of cluster fixed effects)
  if (!length(candidates) || length(candidates) * k^3 > 5e7) return(none)
  ## the functionals f_j (columns), in scaled and whitened coordinates:
  ## v_j = L^-1 D^-1 f_j with D = diag(s)
  Fm <- diag(k)
  if (intercept && design[1L] == 0L && k > 1L) Fm[-1L, 1L] <- -shift
  V <- Linv %*% (Fm / s)
  share_total <- colSums(V^2)
  out <- none
  for (g in candidates) {
    Mg <- matrix(packed[pos, g], k, k) / outer(s, s)
    K <- Linv %*% Mg %*% t(Linv)
    eig <- eigen((K + t(K)) / 2, symmetric = TRUE)
    U <- eig$vectors[, eig$values > 1 - 1e-8, drop = FALSE]
    if (!ncol(U)) next
    share <- colSums(crossprod(U, V)^2) / share_total
    hit <- which(share > 1e-8 & !(coef_names %in% out$term))
    if (length(hit)) out <- rbind(out, data.frame(term = coef_names[hit], cluster = g,
                                                  stringsAsFactors = FALSE))
  }
  out[order(match(out$term, coef_names)), , drop = FALSE]
}

## The notes (warnings to give, and to print under the table) for a
## cluster-robust covariance: `G` the numbers of clusters of the clustering
## variables (named by their labels), `single` a single_cluster_coefs()
## result with a column `id` (the cluster's id, as text) and `variable`.
few_cluster_notes <- function(G, type, single = NULL) {
  notes <- list()
  if (!is.null(single) && nrow(single)) {
    for (v in unique(single$variable)) {
      rows <- single[single$variable == v, , drop = FALSE]
      one <- nrow(rows) == 1L
      which <- if (one) {
        sprintf("`%s` cannot be estimated without cluster %s of %s: its estimate rests",
                rows$term, rows$id, label_text(v))
      } else {
        shown <- utils::head(rows, 5L)
        sprintf("%d coefficients cannot be estimated without one particular cluster of %s (%s%s): their estimates rest",
                nrow(rows), label_text(v),
                paste0("`", shown$term, "`: cluster ", shown$id, collapse = "; "),
                if (nrow(rows) > 5L) sprintf("; and %d more", nrow(rows) - 5L) else "")
      }
      notes[[length(notes) + 1L]] <- list(
        class = c("clusterab_single_cluster", "clusterab_few_clusters"),
        message = paste0(which, sprintf(paste0(
          " on a single cluster, so %s cluster-robust standard error%s degenerate (%s that ",
          "cluster's variation and %s often near zero). This happens with one treated cluster, ",
          "one cluster per arm or a regressor that is nonzero in one cluster only; compare the ",
          "clusters with randomization_test() or cluster_ttest() instead."),
          if (one) "its" else "their", if (one) " is" else "s are",
          if (one) "it ignores" else "they ignore", if (one) "is" else "are")))
    }
  }
  if (type %in% uncorrected_types && length(G) && min(G) < few_clusters_limit) {
    j <- which.min(G)
    notes[[length(notes) + 1L]] <- list(
      class = "clusterab_few_clusters",
      message = sprintf(paste0(
        "only %d clusters (%s): with fewer than %d clusters, %s standard errors are too small ",
        "and their t tests reject too often. Prefer type = \"CR2\" with Satterthwaite df, ",
        "the wild cluster bootstrap (wild_boot()), randomisation inference ",
        "(randomization_test()) or the cluster-level test (cluster_ttest()); ",
        "cluster_diagnostics() shows whether a few clusters dominate."),
        G[[j]], label_text(names(G)[j]), few_clusters_limit, type))
  }
  notes
}

## Gives the notes as classed warnings (muffle them with
## suppressWarnings(classes = "clusterab_few_clusters")).
signal_notes <- function(notes) {
  for (note in notes) warn(note$message, class = note$class)
  invisible(notes)
}

note_text <- function(notes) vapply(notes, `[[`, "", "message")

## Note lines under a printed table.
print_notes <- function(notes) {
  if (length(notes)) cat(paste0("Note: ", notes, "\n"), sep = "")
}

label_text <- function(label) {
  if (is.null(label) || is.na(label) || label %in% c("", "cluster")) "`cluster`" else paste0("`", label, "`")
}

## The single-cluster coefficients of a term with per-cluster moments, with
## the cluster ids (`ids`: one per cluster) and the variable's label.
single_cluster_table <- function(packed, design, coef_names, intercept, shift, ids, variable) {
  out <- single_cluster_coefs(packed, design, coef_names, intercept, shift)
  out$id <- format(ids[out$cluster], trim = TRUE)
  out$variable <- rep(variable, nrow(out))
  out
}

## "CR2, 40 clusters (region)" or "HC1, 20 clusters (g) and 7 clusters (h)".
vcov_text <- function(type, G) {
  if (is.null(type) || is.na(type)) return("from the `vcov` given")
  if (!length(G)) return(sprintf("%s (heteroskedasticity-consistent, no clustering)", type))
  labels <- names(G)
  if (is.null(labels)) labels <- rep("", length(G))
  counts <- paste0(vapply(G, format, "", big.mark = ","), " clusters",
                   ifelse(labels == "", "", paste0(" (", labels, ")")))
  paste0(type, ", ", paste(counts, collapse = " and "))
}

## "t tests with 39 df (G - 1)" / "z tests".
df_text <- function(df, rule) {
  if (!is.finite(df) || df <= 0) return("z tests (normal distribution)")
  sprintf("t tests with %s df (%s)", format(df, big.mark = ","), rule)
}

## A label for a `cluster` argument given as an expression: a vector's
## expression (`d$g`) names it, a string or formula is named by its variables.
cluster_label <- function(expr) {
  if (is.null(expr) || is.character(expr) || (is.call(expr) && identical(expr[[1L]], as.name("~")))) {
    return(NULL)
  }
  paste(deparse(expr, width.cutoff = 60L), collapse = " ")
}
