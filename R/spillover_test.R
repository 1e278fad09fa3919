## The Athey-Eckles-Imbens (2018) randomisation test of the null hypothesis
## of no spillovers: focal units keep their assignment, the others are
## re-randomised under the design, and the statistic contrasts the focal
## units' outcomes by their exposure (src/spillover_test.cpp).

#' Randomisation test for spillovers on a network
#'
#' Tests the sharp null hypothesis that no unit's outcome depends on the
#' treatment of other units (Athey, Eckles and Imbens 2018). Under it the
#' outcomes of a set of *focal* units are fixed once their own assignments
#' are fixed, while their exposure to treated neighbours still varies when
#' the other units are re-randomised under the design: so the focal units
#' keep their assignment, the others are re-drawn, and the observed contrast
#' between exposed and unexposed focal units is compared with its
#' randomisation distribution. The test is exact for any direct effect.
#'
#' @inheritParams exposure_effects
#' @param focal The focal units: `NULL` (the default) takes a maximal set of
#'   units no two of which are neighbours, greedily in a random order (from
#'   R's RNG, so `set.seed()` reproduces it), so that every focal unit's
#'   neighbours are re-randomised; under a cluster design, a maximal set of
#'   clusters no two of which are joined by an edge, and in them the units
#'   with a neighbour in another cluster. Units whose exposure is the same in
#'   every re-randomisation (an isolated unit; under `"any"`, a unit of a
#'   treated cluster with a neighbour in its own cluster) are left out.
#'   Or a vector of unit ids, or a logical vector with one value per row of
#'   `data`.
#' @param R Number of Monte Carlo re-randomisations, when the assignments
#'   are not enumerated.
#' @param exact `NULL` (the default) enumerates every re-randomisation of the
#'   non-focal units (or clusters) when there are at most `R`; `TRUE`
#'   always, `FALSE` never.
#' @param alternative `"two.sided"` (the default), `"greater"` (exposed
#'   focal units have larger outcomes) or `"less"`.
#' @param progress Show a progress bar on long runs (see [did_boot()]).
#'
#' @details
#' The statistic is the mean outcome of the exposed focal units (by
#' `mapping`) minus that of the unexposed ones, after centring the focal
#' units' outcomes within their own arm (their assignment is fixed, so this
#' removes the direct effect from the contrast and keeps the test exact). A re-randomisation that
#' leaves one of the two groups empty has no statistic; it is counted as at
#' least as extreme as the observed one (so the test stays valid, and
#' conservative), and the number of such draws is kept in `$undefined`.
#' Under a cluster design the clusters of focal units keep their
#' assignment and the other clusters are re-drawn (`treated` of them in
#' all), so the exposure of a focal unit varies through its neighbours in
#' other clusters only. The Monte Carlo p-value is `(1 + count) / (R + 1)`;
#' the exact one is the probability of the re-randomisations at least as
#' extreme.
#'
#' @return A list of class `c("spillover_test", "htest")` with `statistic`
#'   and `estimate` (the observed contrast), `p.value`, `alternative`,
#'   `method`, `data.name`, `t0` and `t` (the observed statistic and the
#'   re-randomised ones, as `boot`; with `weights`, their probabilities, when
#'   enumerated), `exact`, `R`, `seed`, `n.focal`, `focal` (the focal unit
#'   ids), `undefined` and `mc.std.error`.
#' @references Athey, S., Eckles, D. and Imbens, G. W. (2018). Exact p-values
#'   for network interference. *Journal of the American Statistical
#'   Association* 113(521), 230-240.
#' @seealso [exposure_effects()], [network_exposure()].
#' @examples
#' set.seed(2)
#' n <- 300
#' edges <- data.frame(from = sample(n, 600, TRUE), to = sample(n, 600, TRUE))
#' units <- data.frame(unit = seq_len(n), treated = rbinom(n, 1, 0.5))
#' exposure <- network_exposure(edges, units[c("unit", "treated")])$exposure
#' units$y <- rnorm(n) + units$treated + 0.8 * exposure   # spillovers
#' st <- spillover_test(units, "y", "treated", edges, mapping = 0.5,
#'                      design = list(type = "bernoulli", p = 0.5), R = 999)
#' st
#' plot(st)
#' @export
spillover_test <- function(data, outcome, treatment, edges, focal = NULL, design, R = 10000,
                           mapping = "any", unit = "unit", from = "from", to = "to",
                           weight = NULL, directed = FALSE, exact = NULL,
                           alternative = c("two.sided", "greater", "less"), threads = NULL,
                           progress = NULL) {
  alternative <- arg_match(alternative, c("two.sided", "greater", "less"), what = "alternative")
  d <- network_units(data, outcome, treatment, unit)
  threshold <- mapping_threshold(mapping)
  R <- check_replicates(R)
  check_exact(exact)
  threads <- resolve_threads(threads)
  des <- network_design(design, d$units, d$treated, unit)
  graph <- network_graph(edges, d$units, from, to, weight, directed, transpose = TRUE,
                         units_arg = "data", threads = threads)
  is_focal <- focal_units(focal, d$units, graph, des)
  if (is.null(focal)) is_focal <- is_focal & exposure_can_vary(is_focal, graph, des, threshold)
  focal_code <- which(is_focal) - 1L
  if (length(focal_code) < 2L) {
    abort("`focal` must hold at least two units; the test contrasts exposed and unexposed focal units.")
  }
  ## the blocks of focal units keep their assignment; the others are free
  fixed <- rep(-1L, des$n_blocks)
  fixed_blocks <- unique(des$block[is_focal]) + 1L
  fixed[fixed_blocks] <- des$block_treated[fixed_blocks]
  free <- sum(fixed < 0L)
  m_free <- if (des$bernoulli) 0L else des$m - sum(des$block_treated[fixed_blocks])
  if (free == 0L) {
    abort("every unit (or cluster) holds a unit of `focal`, so nothing is re-randomised; choose fewer focal units.")
  }
  ## The focal outcomes centred within their own arms: their assignment is
  ## fixed, so this removes the direct effect from the contrast without
  ## touching its validity. Huge or tiny outcomes are first divided by a
  ## power of two, as in exposure_effects().
  y_scale <- outcome_scale(d$y)
  y_focal <- d$y[is_focal] / y_scale
  arm_focal <- d$treated[is_focal]
  y_focal <- y_focal - stats::ave(y_focal, arm_focal)
  t0 <- cpp_spillover_statistic(graph$start, graph$nbr, graph$wt, graph$strength, des$block,
                                des$block_treated, threshold, focal_code, y_focal)
  if (!is.finite(t0)) {
    abort(sprintf("the observed statistic is undefined: under the observed `treatment`, none or all of the %d focal units are exposed to treated neighbours. The test needs exposed and unexposed focal units; choose other `focal` units or another `mapping`.",
                  length(focal_code)),
          class = "clusterab_undefined_statistic")
  }
  total <- design_assignments(des$bernoulli, free, m_free)
  use_exact <- network_use_exact(exact, total, R)
  reps <- if (use_exact) total else R
  if (!use_exact) check_replicate_memory(R, 2)
  seed <- if (use_exact) c(0L, 0L) else draw_seed()
  draws <- run_chunks(reps, function(begin, end) {
    cpp_spillover_draws(graph$start, graph$nbr, graph$wt, graph$strength, des$block, fixed,
                        des$bernoulli, des$p, m_free, threshold, focal_code, y_focal, seed,
                        begin, end, use_exact, threads)
  }, chunk = 2^14, progress = progress, label = "Re-randomising")
  draws <- do.call(cbind, draws)
  t_rep <- draws[1L, ]
  w <- draws[2L, ]
  tol <- 1e-9 * max(abs(t0), max(abs(y_focal)))
  undefined <- is.na(t_rep)
  extreme <- switch(alternative,
                    two.sided = abs(t_rep) >= abs(t0) - tol,
                    greater = t_rep >= t0 - tol,
                    less = t_rep <= t0 + tol)
  extreme[undefined] <- TRUE
  if (use_exact) {
    p <- min(1, sum(w[extreme]))
    se <- 0
  } else {
    count <- sum(extreme)
    p <- (count + 1) / (R + 1)
    se <- sqrt(p * (1 - p) / R)
  }
  t0 <- t0 * y_scale
  t_rep <- t_rep * y_scale
  tol <- tol * y_scale
  method <- sprintf("%s randomisation test of no spillovers (Athey-Eckles-Imbens), %d focal units",
                    if (use_exact) "Exact" else "Monte Carlo", length(focal_code))
  structure(list(
    statistic = c(`difference in means` = t0), estimate = c(`exposed - unexposed` = t0),
    p.value = p, null.value = c(`exposed - unexposed` = 0), alternative = alternative,
    method = method,
    data.name = sprintf("%s of focal units by exposure to treated neighbours (%s)", outcome,
                        if (identical(mapping, "any")) "at least one" else sprintf("share >= %s", format(mapping))),
    t0 = t0, t = t_rep, weights = if (use_exact) w, exact = use_exact,
    n.assignments = total, R = if (use_exact) NULL else R, seed = if (use_exact) NULL else seed,
    n.focal = length(focal_code), focal = d$units[is_focal], undefined = sum(undefined),
    mc.std.error = se, tolerance = tol
  ), class = c("spillover_test", "htest"))
}

## `focal` -> a logical vector over the units. The default: a maximal set of
## units no two of which are neighbours (greedy, in a random order); under a
## cluster design, a maximal set of clusters no two of which share an edge,
## and in them the units with a neighbour in another cluster (the others'
## exposure cannot vary).
focal_units <- function(focal, units, graph, des) {
  n <- length(units)
  if (is.null(focal)) {
    if (des$type != "cluster") {
      order <- sample.int(n) - 1L
      return(cpp_network_independent_set(graph$start, graph$nbr, graph$transpose$start,
                                         graph$transpose$nbr, order))
    }
    receiver <- graph_receivers(graph)
    from_block <- des$block[graph$nbr + 1L]
    to_block <- des$block[receiver]
    between <- cpp_network_graph(c(from_block, to_block), des$n_blocks, 0, length(from_block),
                                 numeric(0), FALSE, FALSE, 1L)
    order <- sample.int(des$n_blocks) - 1L
    chosen <- cpp_network_independent_set(between$start, between$nbr, between$start,
                                          between$nbr, order)
    outside <- receiver[from_block != to_block]
    return(chosen[des$block + 1L] & seq_len(n) %in% outside)
  }
  if (is.logical(focal)) {
    if (length(focal) != n || anyNA(focal)) {
      abort(sprintf("`focal` as a logical vector needs one TRUE/FALSE per row of `data` (%d), with no NA.", n))
    }
    return(focal)
  }
  if (!is.atomic(focal) || anyNA(focal)) {
    abort("`focal` must be NULL, a vector of unit ids, or a logical vector with one value per row of `data`.")
  }
  at <- match(id_values(focal), id_values(units))
  if (anyNA(at)) {
    abort(sprintf("`focal` has %d id(s) that are not units of `data`, such as \"%s\".",
                  sum(is.na(at)), format(focal[which(is.na(at))[1L]])))
  }
  out <- logical(n)
  out[at] <- TRUE
  out
}

## Which units' exposure differs between the two extreme re-randomisations
## (every free block control, every free block treated) when the blocks of
## the focal units keep their assignment. The mapping is monotone in the
## treated set, so a unit for which they agree is exposed, or not, in every
## re-randomisation: as a focal unit it adds nothing. This depends on the
## fixed blocks only, so the test stays exact.
exposure_can_vary <- function(is_focal, graph, des, threshold) {
  fixed <- des$block %in% des$block[is_focal]
  exposed_if <- function(free_value) {
    exposed_units(graph, ifelse(fixed, des$block_treated[des$block + 1L], free_value), threshold)
  }
  exposed_if(0L) != exposed_if(1L)
}

#' @export
print.spillover_test <- function(x, ...) {
  NextMethod()
  cat(sprintf("%s; %s re-randomisation%s without both exposed and unexposed focal units counted as extreme.\n",
              if (x$exact) sprintf("all %s assignments of the non-focal units enumerated",
                                   format(x$n.assignments, big.mark = ","))
              else sprintf("%s draws, Monte Carlo SE of p %s", format(x$R, big.mark = ","),
                           format(signif(x$mc.std.error, 2))),
              format(x$undefined, big.mark = ","), if (x$undefined == 1) "" else "s"))
  invisible(x)
}

#' @rdname spillover_test
#' @param x A `spillover_test` result.
#' @param ... Unused by `tidy()`; passed to the plotting functions by `plot()`.
#' @return `tidy()`: a one-row data frame (`estimate`, `statistic`,
#'   `p.value`, `method`, `alternative`, `n.focal`).
#' @export
tidy.spillover_test <- function(x, ...) {
  data.frame(estimate = unname(x$estimate), statistic = unname(x$statistic), p.value = x$p.value,
             method = x$method, alternative = x$alternative, n.focal = x$n.focal,
             stringsAsFactors = FALSE)
}

#' @rdname spillover_test
#' @param main,xlab Title and axis label of the plot.
#' @return `plot()`: draws the randomisation distribution with the observed
#'   statistic, and returns what was drawn, invisibly.
#' @export
plot.spillover_test <- function(x, main = NULL, xlab = NULL, ...) {
  if (is.null(main)) main <- "Randomisation distribution under no spillovers"
  if (is.null(xlab)) xlab <- "exposed - unexposed focal units"
  t <- x$t
  if (!is.null(x$weights) && length(unique(x$weights)) > 1L) {
    ## Bernoulli enumeration: assignments have unequal probabilities, so
    ## each attained value's bar is the sum of its assignments' probabilities
    keep <- is.finite(t)
    o <- order(t[keep])
    ts <- t[keep][o]
    id <- cumsum(c(TRUE, diff(ts) > 1e-9 * max(abs(ts))))
    at <- as.vector(rowsum(ts, id)) / tabulate(id)
    height <- as.vector(rowsum(x$weights[keep][o], id))
    return(invisible(plot_bars(at, height, x$t0, NULL, main, xlab, ...)))
  }
  plot_replicates(t, x$t0, NULL, main = main, xlab = xlab, ...)
}
