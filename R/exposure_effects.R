## Estimates by exposure condition under network interference (Aronow and
## Samii 2017): exposure probabilities under the design actually used
## (closed form under Bernoulli, otherwise enumerated or simulated with the
## package's per-replicate streams), Horvitz-Thompson and Hajek estimates and
## the conservative variance from joint probabilities (src/exposure_effects.cpp).

utils::globalVariables(c("c0", "c1", "t0", "t1"))

exposure_conditions <- c("c0", "c1", "t0", "t1")

## The contrasts reported: name, then the two conditions (codes 0-3).
exposure_contrasts <- list(direct = c(2L, 0L), spillover = c(1L, 0L),
                           spillover_treated = c(3L, 2L), total = c(3L, 0L))

#' Effects by exposure condition under network interference
#'
#' Horvitz-Thompson and Hajek estimates of the mean outcome in each exposure
#' condition, and of direct and spillover effects, weighting each unit by the
#' inverse of its probability of the condition it was observed in under the
#' randomisation design that was actually used (Aronow and Samii 2017).
#'
#' @param data A data frame with one row per unit: its id (column `unit`),
#'   outcome and treatment (0/1, logical or a two-level arm).
#' @param outcome,treatment Names of the outcome and treatment columns of
#'   `data`.
#' @param edges A data frame of edges, as in [network_exposure()]; every unit
#'   in it must be in `data`.
#' @param design The randomisation that produced `treatment`:
#'   `list(type = "bernoulli", p = 0.4)` (each unit independently),
#'   `list(type = "complete", treated = 500)` (exactly 500 units at random),
#'   or `list(type = "cluster", clusters = <one id per unit>, treated = 20)`
#'   (20 clusters at random, every unit of a cluster in its arm; `clusters`
#'   may also be a data frame of unit and cluster ids, or a
#'   [graph_clusters()] result). `treated` defaults to the number treated.
#' @param mapping The exposure mapping: `"any"` (the default: a unit is
#'   exposed when at least one neighbour is treated) or a share in (0, 1]
#'   (exposed when at least that share of its neighbours, or of their edge
#'   weight, is treated). Isolated units are never exposed.
#' @param unit,from,to,weight,directed As in [network_exposure()].
#' @param R Number of simulated assignments for the probabilities, when they
#'   are not computed exactly.
#' @param exact `NULL` (the default) enumerates every assignment when there
#'   are at most `R`; `TRUE` always, `FALSE` never.
#' @param variance `TRUE` (the default) computes the conservative variance,
#'   which needs the joint probability of every pair of units and is
#'   refused above `getOption("clusterab.max_variance_units", 5000)` units;
#'   `FALSE` gives the point estimates only (any number of units).
#' @param conf.level Confidence level of the intervals.
#' @param threads Number of threads (see [cluster_lm()]).
#'
#' @details
#' Each unit is in one of four conditions: `c0` control with no treated
#' neighbour, `c1` control with treated neighbours (at least one, or at
#' least the share `mapping`), `t0` treated with none, `t1` treated with
#' treated neighbours. Its probability of each condition under the design is
#' exact under Bernoulli assignment (binomial, for unweighted graphs or
#' `mapping = "any"`), exact by enumerating every assignment when there are
#' few, and otherwise the share of `R` simulated assignments, drawn with one
#' stream per replicate from a seed taken from R's RNG, so `set.seed()`
#' reproduces the result whatever the thread count.
#'
#' The Horvitz-Thompson mean of condition k is `sum(y / pi) / N_k` over the
#' units observed in k, where `N_k` counts the units whose probability of k
#' is positive (its `eligible` units); the Hajek mean divides by `sum(1 / pi)`
#' instead. A condition no unit was observed in has `NA` estimates. Units
#' that can never be in a condition (an isolated unit is
#' never exposed; under cluster randomisation a unit whose neighbours are
#' all in its own cluster is never `c1` or `t0`) are counted, not dropped
#' silently: `$means$eligible` and `$probabilities` show them, each contrast
#' is over the units that can be in both its conditions, and a warning of
#' class `clusterab_zero_probability` says how many there are.
#'
#' The variance is Aronow and Samii's conservative estimator: pairs of units
#' that can be in their observed conditions together contribute through
#' their joint probability, and pairs that never can (joint probability
#' zero) through Young's inequality bound, so the variance is not
#' underestimated. That bound can be loose: under graph-cluster
#' randomisation most friends can never be in `t1` and `c0` together, and
#' in the simulation of the network vignette the standard error of the total
#' effect was about five times the estimator's true standard deviation.
#' Simulated joint probabilities also need many draws there (`R` of 5,000 or
#' more); a cluster-level analysis of the same experiment (the clusters as
#' the cluster variable of [cluster_lm()]) is much tighter when its
#' estimand is the one wanted. Under Bernoulli assignment pairs of units more than two
#' steps apart are independent and contribute nothing. The Hajek standard
#' errors use the same estimator on the residuals from each condition's
#' Hajek mean (linearisation), and are `NA` for a condition observed in one
#' unit only (its residual is zero). Intervals are normal; a zero standard
#' error (a condition of probability 1) gives no statistic or p-value. Like every
#' Horvitz-Thompson variance estimator it can be negative in small samples
#' (few units in a condition, negatively dependent assignments): its
#' standard error is then `NA`, with a warning of class
#' `clusterab_negative_variance`. With simulated
#' probabilities a unit observed in a condition that none of the `R`
#' draws produced is an error: raise `R`.
#'
#' @return A list of class `exposure_effects` with
#'   \item{means}{a data frame with columns `condition`, `units` (observed
#'     in the condition), `eligible` (units with a positive probability of
#'     it), `ht`, `hajek`, `std.error` (of `ht`) and `hajek.std.error`.}
#'   \item{contrasts}{a data frame of the direct effect (`t0 - c0`), the
#'     spillover effect on control units (`c1 - c0`), on treated units
#'     (`t1 - t0`) and the total effect (`t1 - c0`), for each estimator
#'     (`"ht"`, `"hajek"`): columns `contrast`, `conditions`, `estimator`,
#'     `estimate`, `std.error`, `statistic`, `p.value`, `conf.low`,
#'     `conf.high`, `eligible`.}
#'   \item{probabilities}{a data.table with one row per unit: its id, its
#'     observed `condition` and its probability of each condition (`c0`,
#'     `c1`, `t0`, `t1`).}
#'   and the design, the mapping, `exact`, `R` and `seed`.
#' @references Aronow, P. M. and Samii, C. (2017). Estimating average causal
#'   effects under general interference, with application to a social network
#'   experiment. *The Annals of Applied Statistics* 11(4), 1912-1947.
#' @seealso [network_exposure()], [spillover_test()], [graph_clusters()].
#' @examples
#' set.seed(1)
#' n <- 200
#' edges <- data.frame(from = sample(n, 400, TRUE), to = sample(n, 400, TRUE))
#' units <- data.frame(unit = seq_len(n), treated = rbinom(n, 1, 0.3))
#' units$y <- rnorm(n) + units$treated
#' fit <- exposure_effects(units, "y", "treated", edges,
#'                         design = list(type = "bernoulli", p = 0.3), R = 2000)
#' fit
#' fit$means
#' @export
exposure_effects <- function(data, outcome, treatment, edges, design, mapping = "any",
                             unit = "unit", from = "from", to = "to", weight = NULL,
                             directed = FALSE, R = 10000, exact = NULL, variance = TRUE,
                             conf.level = 0.95, threads = NULL) {
  d <- network_units(data, outcome, treatment, unit)
  threshold <- mapping_threshold(mapping)
  R <- check_replicates(R, min = 2)
  check_conf_level(conf.level, "conf.level")
  if (!isTRUE(variance) && !isFALSE(variance)) abort("`variance` must be TRUE or FALSE.")
  check_exact(exact)
  threads <- resolve_threads(threads)
  des <- network_design(design, d$units, d$treated, unit)
  n <- length(d$units)
  limit <- getOption("clusterab.max_variance_units", 5000)
  if (variance && n > limit) {
    abort(sprintf("the variance needs the joint probability of every pair of units, and %s units are above the limit of %s (option clusterab.max_variance_units). Use `variance = FALSE` for the point estimates, or spillover_test() to test for spillovers at any size.",
                  format(n, big.mark = ","), format(limit, big.mark = ",")),
          class = "clusterab_too_many_units")
  }
  graph <- network_graph(edges, d$units, from, to, weight, directed, transpose = TRUE,
                         units_arg = "data", threads = threads)
  cond <- 2L * d$treated + as.integer(exposed_units(graph, d$treated, threshold))

  total <- design_assignments(des$bernoulli, des$n_blocks, des$m)
  use_exact <- network_use_exact(exact, total, R)
  closed <- des$bernoulli && (threshold <= 0 || !graph$weighted)
  draws <- NULL
  seed <- NULL
  if (use_exact || variance || !closed) {
    reps <- if (use_exact) total else R
    if (variance || use_exact) check_replicate_memory(reps, n * 4 / 64, "R")
    seed <- if (use_exact) c(0L, 0L) else draw_seed()
    tr <- graph$transpose
    draws <- cpp_exposure_draws(graph$start, graph$nbr, graph$wt, tr$start, tr$nbr, tr$wt,
                                graph$strength, des$block,
                                rep(-1L, des$n_blocks), des$bernoulli, des$p, des$m, threshold,
                                seed, reps, use_exact, variance, threads)
    if (use_exact) seed <- NULL
  }
  prob <- if (closed) bernoulli_probabilities(graph, des$p, threshold) else draws$prob
  colnames(prob) <- exposure_conditions
  pi <- prob[cbind(seq_len(n), cond + 1L)]
  if (any(pi <= 0)) {
    abort(sprintf("%d unit(s) were observed in a condition that none of the R = %s simulated assignments produced, so their probability is unknown; raise `R`.",
                  sum(pi <= 0), format(R, big.mark = ",")), class = "clusterab_unobserved_probability")
  }
  ## huge or tiny outcomes divided by a power of two (exact), so that the
  ## squares in the variance neither overflow nor underflow
  y_scale <- outcome_scale(d$y)
  est <- exposure_estimates(d$y / y_scale, cond, pi, prob)
  if (variance) {
    dep <- if (des$bernoulli) {
      cpp_exposure_dependent(graph$start, graph$nbr, graph$transpose$start, graph$transpose$nbr)
    } else {
      list(start = integer(0), dep = integer(0))
    }
    v <- cpp_exposure_variance(draws$bits, draws$words, draws$weights, draws$total, cond, pi,
                               est$a, est$support, dep$start, dep$dep, threads)
    ## below zero by more than rounding: a negative estimate, which the
    ## Horvitz-Thompson form allows in small samples
    negative <- v$variance < -1e-9 * v$size & est$defined
    if (any(negative)) {
      warn(sprintf("the variance estimate of %s is negative (the Horvitz-Thompson variance estimator can be, with few units in a condition or simulated joint probabilities); %s NA.",
                   paste(est$labels[negative], collapse = ", "),
                   if (sum(negative) == 1L) "its standard error is" else "their standard errors are"),
           class = "clusterab_negative_variance")
    }
    se <- ifelse(negative, NA_real_, sqrt(pmax(v$variance, 0)))
  } else {
    se <- rep(NA_real_, ncol(est$a))
  }
  se[!est$defined] <- NA_real_
  ## a Hajek mean of one unit has residual zero: no standard error
  se[!est$hajek_se] <- NA_real_
  est$value <- est$value * y_scale
  se <- se * y_scale
  k <- length(exposure_conditions)
  means <- data.frame(condition = exposure_conditions, units = tabulate(cond + 1L, k),
                      eligible = unname(colSums(prob > 0)), ht = est$value[seq_len(k)],
                      hajek = est$value[k + seq_len(k)], std.error = se[seq_len(k)],
                      hajek.std.error = se[k + seq_len(k)], stringsAsFactors = FALSE)
  contrasts <- exposure_contrast_table(est, se, 2L * k, conf.level)
  zero <- colSums(prob <= 0)
  if (any(zero > 0)) {
    warn(sprintf("%s: these units %s, so each condition's mean is over the units that can be, and each contrast over the units that can be in both its conditions ($means$eligible, $probabilities).",
                 paste(sprintf("%d unit(s) have probability 0 of %s", zero[zero > 0],
                               exposure_conditions[zero > 0]), collapse = "; "),
                 if (use_exact || closed) "can never be in that condition under the design"
                 else sprintf("were in that condition in none of the R = %s simulated assignments (raise `R` if it is possible but rare)",
                              format(R, big.mark = ","))),
         class = "clusterab_zero_probability")
  }
  probabilities <- data.table::data.table(unit = d$units, condition = exposure_conditions[cond + 1L],
                                          c0 = prob[, 1L], c1 = prob[, 2L], t0 = prob[, 3L],
                                          t1 = prob[, 4L])
  data.table::setnames(probabilities, "unit", unit)
  structure(list(means = means, contrasts = contrasts, probabilities = probabilities,
                 design = des[c("type", "p", "m", "n_blocks")], mapping = mapping,
                 exact = use_exact, closed_form = closed, R = if (use_exact) NULL else R,
                 seed = seed, n_units = n, n_edges = nrow(edges), conf.level = conf.level,
                 outcome = outcome, treatment = treatment),
            class = "exposure_effects")
}

## Exposure probabilities under Bernoulli(p) assignment of units: own
## treatment with probability p, independently of the neighbours; exposed
## with probability 1 - (1 - p)^d for "any" (d the neighbours with positive
## weight), or the binomial tail P(X >= c) with c the fewest treated
## neighbours whose share reaches the threshold (unweighted graphs).
bernoulli_probabilities <- function(graph, p, threshold) {
  n <- graph$n
  if (threshold <= 0) {
    positive <- if (graph$weighted) {
      tabulate(graph_receivers(graph)[graph$wt > 0], n)
    } else {
      graph$degree
    }
    p_exposed <- 1 - (1 - p)^positive
  } else {
    d <- graph$degree
    c <- ceiling(threshold * d)
    ## the same comparison as the C++ mapping, count / degree >= threshold
    c <- ifelse(c > 0 & (c - 1) / d >= threshold, c - 1, c)
    c <- ifelse(c <= d & c / d < threshold, c + 1, c)
    p_exposed <- ifelse(d > 0, stats::pbinom(c - 1, d, p, lower.tail = FALSE), 0)
  }
  cbind((1 - p) * (1 - p_exposed), (1 - p) * p_exposed, p * (1 - p_exposed), p * p_exposed)
}

## The estimates and, for the variance, the observed terms a[i, m] (estimate
## m is sum(a[, m] / pi)) and the masks of the conditions each estimate gives
## a unit a coefficient in. Columns: HT means of c0..t1, Hajek means, then
## the contrasts (HT, then Hajek).
exposure_estimates <- function(y, cond, pi, prob) {
  n <- length(y)
  k <- ncol(prob)
  eligible <- prob > 0
  a <- matrix(0, n, 2L * k + 2L * length(exposure_contrasts))
  support <- matrix(0L, n, ncol(a))
  value <- numeric(ncol(a))
  defined <- logical(ncol(a))
  hajek_mean <- function(in_k) sum(y[in_k] / pi[in_k]) / sum(1 / pi[in_k])
  for (c in seq_len(k)) {
    in_k <- cond == c - 1L
    N <- sum(eligible[, c])
    defined[c] <- defined[k + c] <- any(in_k) && N > 0
    mask <- ifelse(eligible[, c], bitwShiftL(1L, c - 1L), 0L)
    support[, c] <- support[, k + c] <- mask
    if (!defined[c]) {
      value[c] <- value[k + c] <- NA_real_
      next
    }
    a[in_k, c] <- y[in_k] / N
    value[c] <- sum(y[in_k] / pi[in_k]) / N
    mu <- hajek_mean(in_k)
    a[in_k, k + c] <- (y[in_k] - mu) / N
    value[k + c] <- mu
  }
  for (j in seq_along(exposure_contrasts)) {
    pair <- exposure_contrasts[[j]]
    both <- eligible[, pair[1L] + 1L] & eligible[, pair[2L] + 1L]
    N <- sum(both)
    in1 <- both & cond == pair[1L]
    in0 <- both & cond == pair[2L]
    ht <- 2L * k + j
    hj <- 2L * k + length(exposure_contrasts) + j
    mask <- ifelse(both, bitwOr(bitwShiftL(1L, pair[1L]), bitwShiftL(1L, pair[2L])), 0L)
    support[, ht] <- support[, hj] <- mask
    defined[ht] <- defined[hj] <- any(in1) && any(in0)
    if (!defined[ht]) {
      value[ht] <- value[hj] <- NA_real_
      next
    }
    a[in1, ht] <- y[in1] / N
    a[in0, ht] <- -y[in0] / N
    value[ht] <- (sum(y[in1] / pi[in1]) - sum(y[in0] / pi[in0])) / N
    mu1 <- hajek_mean(in1)
    mu0 <- hajek_mean(in0)
    a[in1, hj] <- (y[in1] - mu1) / N
    a[in0, hj] <- -(y[in0] - mu0) / N
    value[hj] <- mu1 - mu0
  }
  labels <- c(paste("HT mean of", exposure_conditions), paste("Hajek mean of", exposure_conditions),
              paste("HT", names(exposure_contrasts)), paste("Hajek", names(exposure_contrasts)))
  units <- tabulate(cond + 1L, k)
  two <- vapply(exposure_contrasts, function(pair) min(units[pair + 1L]) >= 2L, NA)
  hajek_se <- c(rep(TRUE, k), units >= 2L, rep(TRUE, length(exposure_contrasts)), two)
  list(a = a, support = support, value = value, defined = defined, labels = labels,
       hajek_se = hajek_se,
       eligible = c(colSums(eligible), colSums(eligible),
                    rep(vapply(exposure_contrasts, function(pair) {
                      sum(eligible[, pair[1L] + 1L] & eligible[, pair[2L] + 1L])
                    }, 0), 2L)))
}

exposure_contrast_table <- function(est, se, offset, conf.level) {
  nc <- length(exposure_contrasts)
  idx <- offset + seq_len(2L * nc)
  estimate <- est$value[idx]
  s <- se[idx]
  z <- stats::qnorm(1 - (1 - conf.level) / 2)
  conditions <- vapply(exposure_contrasts, function(pair) {
    paste(exposure_conditions[pair[1L] + 1L], "-", exposure_conditions[pair[2L] + 1L])
  }, "")
  ## a zero standard error (conditions of probability 1) leaves no test
  stat <- ifelse(s > 0, estimate / s, NA_real_)
  data.frame(contrast = rep(names(exposure_contrasts), 2L), conditions = rep(unname(conditions), 2L),
             estimator = rep(c("ht", "hajek"), each = nc), estimate = estimate, std.error = s,
             statistic = stat, p.value = 2 * stats::pnorm(-abs(stat)),
             conf.low = estimate - z * s, conf.high = estimate + z * s,
             eligible = est$eligible[idx], stringsAsFactors = FALSE)
}

#' @export
print.exposure_effects <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  des <- x$design
  cat(sprintf("\nEffects by exposure condition (Aronow-Samii), %s units, %s edges\n",
              format(x$n_units, big.mark = ","), format(x$n_edges, big.mark = ",")))
  cat(sprintf("Design: %s; mapping: %s; probabilities %s\n\n",
              switch(des$type, bernoulli = sprintf("Bernoulli(p = %s)", format(des$p)),
                     complete = sprintf("complete randomisation of %d units", des$m),
                     cluster = sprintf("%d of %d clusters treated", des$m, des$n_blocks)),
              if (identical(x$mapping, "any")) "exposed with at least one treated neighbour"
              else sprintf("exposed when a share >= %s of neighbours is treated", format(x$mapping)),
              if (x$closed_form) "in closed form" else if (x$exact) "by exact enumeration"
              else sprintf("from %s simulated assignments", format(x$R, big.mark = ","))))
  m <- x$means
  print(format(m, digits = digits), row.names = FALSE)
  ct <- x$contrasts
  for (e in c("ht", "hajek")) {
    r <- ct[ct$estimator == e, ]
    cat(if (e == "ht") "\nHorvitz-Thompson:\n" else "\nHajek:\n")
    shown <- data.frame(effect = sprintf("%s (%s)", r$contrast, r$conditions),
                        estimate = r$estimate, std.error = r$std.error,
                        ci = sprintf("[%s, %s]", format(signif(r$conf.low, digits)),
                                     format(signif(r$conf.high, digits))),
                        p.value = format.pval(r$p.value, digits = 2L), stringsAsFactors = FALSE)
    names(shown)[4L] <- sprintf("%s%% CI", format(100 * x$conf.level))
    print(format(shown, digits = digits), row.names = FALSE, right = FALSE)
  }
  cat("Normal intervals; std.error: conservative (Aronow-Samii); eligible units in $means\n")
  invisible(x)
}

#' @rdname exposure_effects
#' @param x An `exposure_effects` result.
#' @param ... Unused.
#' @return `tidy()`: the contrasts, with broom's column names (`term`,
#'   `estimator`, `estimate`, `std.error`, `statistic`, `p.value`,
#'   `conf.low`, `conf.high`).
#' @export
tidy.exposure_effects <- function(x, ...) {
  ct <- x$contrasts
  data.frame(term = ct$contrast, estimator = ct$estimator, estimate = ct$estimate,
             std.error = ct$std.error, statistic = ct$statistic, p.value = ct$p.value,
             conf.low = ct$conf.low, conf.high = ct$conf.high, stringsAsFactors = FALSE)
}
