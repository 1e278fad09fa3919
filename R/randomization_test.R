#' @title Randomisation test for a cluster-randomised experiment
#'
#' @description
#' `randomization_test()` tests the sharp null hypothesis that treatment has
#' no effect on any cluster's mean outcome, by comparing the observed
#' statistic with its distribution over the assignments the design could have
#' produced: every way of choosing the same number of treated clusters (within
#' each block when `blocks` is given; a paired design is blocks of two).
#'
#' @details
#' **Statistics.** The data enter only through per-cluster summaries: the
#' cluster means \eqn{\bar y_g}, sizes \eqn{n_g} and the arm of each cluster.
#' * `stat = "diff_means"`, `weights = "equal"`: the mean of the treated
#'   clusters' means minus that of the control clusters.
#' * `stat = "diff_means"`, `weights = "size"`: the same with cluster means
#'   weighted by cluster size (the difference of the row-level arm means).
#' * `stat = "t"`: Welch's t on the cluster means (the statistic of
#'   [cluster_ttest()]); needs at least two clusters per arm (per block).
#'   It does not depend on the outcome's unit: huge or tiny outcomes are
#'   divided by a power of two before the squared deviations are formed.
#'
#' With blocks, the statistic is the weighted average of the within-block
#' statistics' numerators: block b's difference is weighted by its share of
#' clusters (`weights = "equal"`) or of rows (`"size"`); for `"t"` that
#' difference is divided by the square root of
#' \eqn{\sum_b \omega_b^2 (v_{1b}/G_{1b} + v_{0b}/G_{0b})}.
#'
#' **Exact or Monte Carlo.** Let N be the number of assignments (the product
#' over blocks of `choose(G_b, G_1b)`). `exact = NULL` enumerates all of them
#' when N is at most 1e8 and otherwise draws `R` random assignments;
#' `exact = TRUE` enumerates up to a hard limit of 1e10 (an error beyond it
#' suggests `exact = FALSE`); `exact = FALSE` always draws; a number sets the
#' threshold of the automatic choice. The enumeration walks each block's
#' subsets in revolving-door (Gray code) order, so that each step swaps one
#' cluster in and one out and updates the sums in O(1); blocks are combined
#' as an odometer. The index range is cut into pieces of fixed length, each
#' started by unranking its first assignment, and the pieces are spread over
#' threads, so the counts are identical for any number of threads. A Monte
#' Carlo draw picks, in every block, a uniformly random set of clusters of
#' the observed treated size (its random numbers come from the replicate's
#' own stream, so results do not depend on threads either).
#'
#' **p-values.** Exact: the share of all N assignments whose statistic is at
#' least as extreme as the observed one (the observed assignment is one of
#' them). Monte Carlo: \eqn{(b + 1)/(R + 1)} with b the number of draws at
#' least as extreme, and its Monte Carlo standard error
#' \eqn{\sqrt{p (1 - p) / R}}. "At least as extreme" is \eqn{|T| \ge |T_{obs}|}
#' (two-sided), \eqn{T \ge T_{obs}} (greater) or \eqn{T \le T_{obs}} (less),
#' with a tolerance \eqn{\delta = 10^{-9} \max(|T_{obs}|, s)} for rounding
#' (s is the largest absolute centred cluster mean for the differences and 1
#' for t): assignments within \eqn{\delta} of the boundary count as ties, so
#' that mirror-image assignments, whose statistics are equal in exact
#' arithmetic, are counted whatever the order of summation.
#'
#' **Confidence interval** (difference statistics only). Under a constant
#' additive effect \eqn{\tau} the control outcomes are
#' \eqn{\bar y_g - \tau z_g}, and the statistic of assignment z computed on
#' them is \eqn{A(z) - \tau B(z)}, where A is the statistic on the data and B
#' the same statistic applied to the observed treatment indicator. The
#' interval is the set of \eqn{\tau} whose two-sided p-value exceeds
#' `1 - conf.level`. With Monte Carlo, or exact enumeration of at most 1e7
#' assignments, the pairs (A, B) are stored and the p-value curve is
#' evaluated on them (the limit is option `clusterab.randomization_pairs_limit`,
#' default 1e7, 160 MB); beyond that (`conf.int = TRUE` only) every evaluation
#' enumerates all assignments again. Each end is first bracketed and then
#' narrowed by grid refinement to a width below \eqn{10^{-6}} times the
#' randomisation standard deviation of the statistic; the midpoint of the
#' final bracket is reported. An end is infinite when no shift reaches
#' p-values that small (too few assignments). `conf.int = NULL` computes the
#' interval when the pairs are stored and skips it otherwise; for
#' `stat = "t"` there is no interval.
#'
#' **More than two arms.** With a treatment of three or more values, the
#' control (see `control`) is compared with each other arm in turn, each by
#' its own two-arm test on the clusters of those two arms (the clusters of
#' the other arms are left out and the assignments re-randomise only the
#' clusters of the two arms); there is no multiplicity adjustment.
#'
#' **Memory.** A Monte Carlo run keeps three numbers per draw (the
#' statistic and the two sums the confidence interval needs); a run that
#' would need more than `getOption("clusterab.max_memory", 4e9)` bytes is
#' refused before it starts, with the figure: lower `R`.
#'
#' @param data A data frame or data.table.
#' @param outcome Name of the numeric outcome column (a string).
#' @param treatment Name of the treatment column (a string), constant
#'   within each cluster. Which value is the control follows
#'   [cluster_ttest()]: `control =` if given, else a factor's first level,
#'   `FALSE`, 0, or a common control label (control, A, ...), else the first
#'   sorted value with a message. With more than two arms, each other arm is
#'   compared with the control (see Details).
#' @param cluster The clusters: the name of a column of `data` (a string), a
#'   one-sided formula such as `~ g`, or a vector with one value per row.
#' @param blocks `NULL`, or the blocks (strata, pairs), constant within each
#'   cluster, in the same three forms as `cluster`; randomisation is then
#'   within blocks.
#' @param stat `"diff_means"` (difference in cluster means) or `"t"` (Welch
#'   t on cluster means).
#' @param exact `NULL` (enumerate when there are at most 1e8 assignments),
#'   `TRUE`, `FALSE`, or a number: the largest number of assignments to
#'   enumerate.
#' @param R Number of Monte Carlo draws when the test is not exact; a
#'   positive whole number (checked even when the test is exact).
#' @param alternative `"two.sided"`, `"greater"` or `"less"` (treated minus
#'   control).
#' @param weights `"equal"` (every cluster mean counts the same) or `"size"`
#'   (cluster means weighted by their number of rows); `"t"` needs
#'   `"equal"`.
#' @param conf.level Level of the confidence interval for a constant
#'   additive effect.
#' @param conf.int `NULL` (an interval when cheap, see Details), `TRUE` or
#'   `FALSE`.
#' @param threads Number of threads; `NULL` uses option `clusterab.threads`,
#'   else RcppParallel's default.
#' @param progress Show a progress bar on long runs; `NULL` uses option
#'   `clusterab.progress`, else `interactive()`.
#' @param control The value of the `treatment` column that is the control
#'   arm; `NULL` chooses by the rule of [cluster_ttest()].
#' @return With more than two arms, a list of class
#'   `"randomization_test_arms"` holding one two-arm test per treated arm in
#'   `tests` (with print, summary, tidy, confint and plot methods). With two
#'   arms, a list of class `c("randomization_test", "htest")`: `statistic`
#'   and `t0` (the observed statistic), `estimate` (the difference in means,
#'   treated minus control, weighted as the statistic), `p.value`,
#'   `p.values` (all three alternatives), `mc.std.error` (0 when exact),
#'   `conf.int` (with attribute `conf.level`; `NULL` when not computed),
#'   `null.value`, `alternative`, `method`, `data.name`, `exact` (logical),
#'   `n.assignments` (N), `count` (assignments or draws at least as
#'   extreme; `counts` for all three alternatives), `R` and `seed` (Monte Carlo; `NULL` when exact), `t` (the
#'   Monte Carlo statistics; `NULL` when exact, whose distribution is
#'   instead kept as `distribution`, a histogram: `breaks` and `counts` of
#'   all N statistics, the outer two bins reaching the exact minimum and
#'   maximum; with few distinct values also `values` and `probabilities`,
#'   the exact distribution itself), `tolerance`, `stat`, `weights`, `n_clusters` and `n_obs` per
#'   arm, `arms`, `n_blocks`, `ci_method` (`"stored pairs"`,
#'   `"re-enumeration"`, `"none"`, or `"skipped"` when `conf.int = NULL` and
#'   the pairs were too many to store). Methods: `print`, `summary`, `tidy`,
#'   `glance`, `as.data.frame`, `confint`, `plot`.
#' @examples
#' set.seed(1)
#' size <- sample(5:30, 12, replace = TRUE)
#' d <- data.frame(g = rep(1:12, size), treat = rep(rep(0:1, 6), size))
#' d$y <- 0.5 * d$treat + rnorm(12)[d$g] + rnorm(nrow(d))
#' res <- randomization_test(d, "y", "treat", "g", threads = 1)
#' res
#' tidy(res)
#' ## paired design: clusters 1-2, 3-4, ... form pairs
#' d$pair <- (d$g + 1) %/% 2
#' randomization_test(d, "y", "treat", "g", blocks = "pair", threads = 1)
#' ## Monte Carlo with 2000 draws
#' randomization_test(d, "y", "treat", "g", exact = FALSE, R = 2000, threads = 1)
#' plot(res)
#' @export
randomization_test <- function(data, outcome, treatment, cluster, blocks = NULL,
                               stat = c("diff_means", "t"), exact = NULL, R = 10000,
                               alternative = c("two.sided", "greater", "less"),
                               weights = c("equal", "size"), conf.level = 0.95,
                               conf.int = NULL, threads = NULL, progress = NULL,
                               control = NULL) {
  stat <- arg_match(stat, c("diff_means", "t"), what = "stat")
  alternative <- arg_match(alternative, c("two.sided", "greater", "less"), what = "alternative")
  weights <- arg_match(weights, c("equal", "size"), what = "weights")
  check_conf_level(conf.level, "conf.level")
  R <- check_replicates(R)
  threads <- resolve_threads(threads)
  if (!is.null(conf.int) && !(isTRUE(conf.int) || isFALSE(conf.int))) {
    abort("`conf.int` must be NULL, TRUE or FALSE.", call. = FALSE)
  }
  if (stat == "t" && weights == "size") {
    abort("`stat = \"t\"` is Welch's t on unweighted cluster means; use `weights = \"equal\"`, or `stat = \"diff_means\"` for the size-weighted difference.",
         call. = FALSE)
  }
  if (stat == "t" && isTRUE(conf.int)) {
    abort("a confidence interval by test inversion is available for `stat = \"diff_means\"` only.",
         call. = FALSE)
  }
  arms <- if (is.data.frame(data) && is.character(treatment) && length(treatment) == 1L &&
               treatment %in% names(data) && is.atomic(data[[treatment]]) &&
               is.null(dim(data[[treatment]])) && !anyNA(data[[treatment]]) &&
               length(unique(data[[treatment]])) > 2L) {
    arm_values(data[[treatment]], control, "treatment", "control", "control arm")
  }
  if (length(arms) > 2L) {
    ## Each treated arm against the control, re-randomising clusters between the
    ## two. Vector cluster ids and blocks are subset with the rows.
    cl_all <- data_cluster(data, cluster)
    bl_all <- if (!is.null(blocks)) data_cluster(data, blocks, "blocks")
    tests <- lapply(arms[-1L], function(arm) {
      keep <- data[[treatment]] %in% arms[c(1L, match(arm, arms))]
      two <- as.data.frame(data)[keep, , drop = FALSE]
      if (is.factor(two[[treatment]])) two[[treatment]] <- droplevels(two[[treatment]])
      two_cluster <- if (is.character(cluster) && length(cluster) == 1L ||
                         inherits(cluster, "formula")) cluster else cl_all$values[keep]
      two_blocks <- if (is.null(blocks) || is.character(blocks) && length(blocks) == 1L ||
                        inherits(blocks, "formula")) blocks else bl_all$values[keep]
      randomization_test(two, outcome, treatment, two_cluster, blocks = two_blocks, stat = stat,
                         exact = exact, R = R, alternative = alternative, weights = weights,
                         conf.level = conf.level, conf.int = conf.int, threads = threads,
                         progress = progress, control = as.character(arms[1L]))
    })
    names(tests) <- paste(as.character(arms[-1L]), "-", as.character(arms[1L]))
    return(structure(list(tests = tests, control = as.character(arms[1L])),
                     class = "randomization_test_arms"))
  }
  cl <- rand_clusters(data, outcome, treatment, cluster, blocks, control)
  ## Welch t is scale-free: keep the cluster means divided by a power of two
  ## (exact), so that the squared deviations of huge or tiny outcomes neither
  ## overflow nor underflow. The difference in means is reported in the
  ## outcome's unit.
  if (stat != "t") cl$ybar <- cl$ybar * cl$y_scale
  cluster <- cl$cluster_name
  blocks <- cl$blocks_name
  design <- rand_design(cl, stat, weights)
  total <- prod(choose(design$size, design$k))
  use_exact <- rand_use_exact(exact, total)
  if (!use_exact) check_replicate_memory(R, 3)

  obs <- cpp_rand_statistic(design, design$zenum)
  t0 <- obs[1L]
  if (!is.finite(t0)) {
    abort("the observed t statistic is undefined: `outcome` has the same cluster mean in every cluster of each arm.",
         call. = FALSE)
  }
  scale <- if (stat == "t") 1 else max(abs(design$y))
  tol <- 1e-9 * max(abs(t0), scale)
  thresholds <- c(abs(t0) - tol, t0 - tol, t0 + tol)
  piece <- 2^18

  if (use_exact) {
    pilot <- cpp_rand_monte_carlo(design, c(20240601L, 1L), 0, 2000, threads)
    breaks <- rand_breaks(pilot[1L, ], t0)
    store <- stat != "t" && !isFALSE(conf.int) &&
      total <= getOption("clusterab.randomization_pairs_limit", rand_pairs_limit)
    pair_a <- if (store) numeric(total) else numeric(0)
    pair_b <- if (store) numeric(total) else numeric(0)
    enumerate <- function(tau = numeric(0), tau_thr = numeric(0), brk = breaks, label) {
      parts <- run_chunks(total, function(begin, end) {
        cpp_rand_enumerate(design, begin, end, thresholds, brk, tau, tau_thr, pair_a, pair_b,
                         piece, threads)
      }, chunk = piece * 64, progress = progress, label = label)
      res <- Reduce(`+`, lapply(parts, function(p) replace(p, 4:5, 0)))
      res[4L] <- min(vapply(parts, `[`, 0, 4L))
      res[5L] <- max(vapply(parts, `[`, 0, 5L))
      res
    }
    res <- enumerate(label = "Enumerating assignments")
    counts <- res[1:3]
    p <- counts / total
    se <- c(0, 0, 0)
    nb <- length(breaks)
    distribution <- rand_distribution(breaks, res[5L + seq_len(nb + 1L)], res[4L], res[5L])
    ## few assignments: keep the attained values and their probabilities too,
    ## so that plot() draws the exact distribution as bars
    if (store && total <= rand_values_limit) {
      av <- attained_values(pair_a)
      if (length(av$at) <= rand_max_bars) {
        distribution$values <- av$at
        distribution$probabilities <- av$count / total
      }
    }
    t_rep <- NULL
    seed <- NULL
    sd_null <- stats::sd(pilot[2L, ] - (obs[2L] / obs[3L]) * pilot[3L, ])
    if (store) {
      shift_count <- function(tau, thr) cpp_rand_shift_counts(pair_a, pair_b, tau, thr, threads)
    } else {
      pair_a <- pair_b <- numeric(0)
      shift_count <- function(tau, thr) {
        enumerate(tau, thr, brk = numeric(0), label = "Confidence interval")[5L + 2L + seq_along(tau)]
      }
    }
    shift_p <- function(tau, thr) shift_count(tau, thr) / total
    ci_method <- if (stat == "t" || isFALSE(conf.int)) "none"
                 else if (store) "stored pairs"
                 else if (is.null(conf.int)) "skipped" else "re-enumeration"
  } else {
    seed <- draw_seed()
    draws <- run_chunks(R, function(begin, end) {
      cpp_rand_monte_carlo(design, seed, begin, end, threads)
    }, progress = progress, label = "Drawing assignments")
    draws <- do.call(cbind, draws)
    t_rep <- draws[1L, ]
    counts <- c(sum(abs(t_rep) >= thresholds[1L]), sum(t_rep >= thresholds[2L]),
                sum(t_rep <= thresholds[3L]))
    p <- (counts + 1) / (R + 1)
    se <- sqrt(p * (1 - p) / R)
    distribution <- NULL
    sd_null <- stats::sd(draws[2L, ] - (obs[2L] / obs[3L]) * draws[3L, ])
    pair_a <- draws[2L, ]
    pair_b <- draws[3L, ]
    rm(draws)
    shift_p <- function(tau, thr) (cpp_rand_shift_counts(pair_a, pair_b, tau, thr, threads) + 1) / (R + 1)
    ci_method <- if (stat == "t" || isFALSE(conf.int)) "none" else "stored pairs"
  }
  names(p) <- names(counts) <- names(se) <- c("two.sided", "greater", "less")

  ci <- NULL
  if (ci_method %in% c("stored pairs", "re-enumeration")) {
    ci <- rand_invert(shift_p, t0 = obs[2L], b0 = obs[3L], sd_null = sd_null, scale = scale,
                    alpha = 1 - conf.level)
    attr(ci, "conf.level") <- conf.level
  }
  rm(pair_a, pair_b)

  ## the difference in means in the outcome's unit (Welch t saw y / y_scale)
  est <- if (stat == "t") obs[2L] * cl$y_scale else obs[2L]
  stat_name <- if (stat == "t") "t" else "difference in means"
  method <- sprintf("%s randomisation test of %s on cluster means%s%s",
                    if (use_exact) "Exact" else "Monte Carlo",
                    if (stat == "t") "Welch t" else "the difference",
                    if (weights == "size") ", size-weighted" else "",
                    if (!is.null(blocks)) sprintf(", within %d blocks", length(design$size)) else "")
  structure(list(
    statistic = stats::setNames(t0, stat_name), t0 = t0,
    estimate = c(`difference in means` = est), p.value = p[[alternative]], p.values = p,
    mc.std.error = se[[alternative]], conf.int = ci,
    null.value = c(`difference in means` = 0), alternative = alternative, method = method,
    data.name = sprintf("%s by %s (%s, clusters: %s%s)", outcome, treatment,
                        paste(cl$arms[["treated"]], "-", cl$arms[["control"]]), cluster,
                        if (is.null(blocks)) "" else sprintf(", blocks: %s", blocks)),
    exact = use_exact, n.assignments = total, count = counts[[alternative]], counts = counts,
    R = if (use_exact) NULL else R, seed = seed, t = t_rep, distribution = distribution,
    tolerance = tol, stat = stat, weights = weights, n_clusters = cl$n_clusters,
    n_obs = cl$n_obs, arms = cl$arms, n_blocks = length(design$size), ci_method = ci_method,
    cluster_name = cluster
  ), class = c("randomization_test", "htest"))
}

## Per-cluster summaries (mean, size, arm, block) with the input checks.
rand_clusters <- function(data, outcome, treatment, cluster, blocks, control = NULL) {
  cols <- experiment_columns(data, outcome, treatment, cluster)
  y <- cols$y
  tr <- cols$tr
  g <- cols$g
  bl_col <- if (is.null(blocks)) NULL else data_cluster(data, blocks, "blocks")
  bl <- bl_col$values
  check_finite_column(y, "outcome", outcome)
  check_no_missing(tr, "treatment")
  check_no_missing(g, "cluster")
  if (!is.null(bl)) {
    check_no_missing(bl, "blocks")
    if (inherits(bl, c("Date", "POSIXt"))) bl <- as.character(bl)
  }
  if (!(is.logical(tr) || is.numeric(tr) || is.factor(tr) || is.character(tr))) {
    abort(sprintf("`treatment` column '%s' must be logical, numeric, factor or character, not %s.",
                 treatment, class(tr)[1L]), call. = FALSE)
  }
  codes <- cluster_codes(g, "cluster")
  code <- codes$codes + 1L
  G <- codes$G
  ids <- g[codes$first]
  constant_within <- function(v, arg, why) {
    vcode <- match(v, unique(v))
    pair <- !duplicated((code - 1) * max(vcode) + vcode)
    mixed <- which(tabulate(code[pair], G) > 1L)
    if (length(mixed) > 0L) {
      abort(sprintf("`%s` is not constant within %d cluster%s (for example cluster '%s'); %s",
                   arg, length(mixed), if (length(mixed) == 1L) "" else "s",
                   format(ids[mixed[1L]]), why), call. = FALSE)
    }
  }
  constant_within(tr, "treatment",
                  "randomisation must be by cluster, so every row of a cluster needs the same treatment.")
  if (!is.null(bl)) {
    constant_within(bl, "blocks", "each cluster must belong to one block.")
  }
  values <- unique(if (is.factor(tr)) as.character(tr) else tr)
  if (length(values) == 1L) {
    abort(sprintf("all %d clusters are in the same arm (`treatment` is always %s); a randomisation test needs treated and control clusters.",
                 G, format(values)), call. = FALSE)
  }
  arms <- treatment_arms(tr, control)
  treated <- attr(arms, "treated")
  attr(arms, "treated") <- NULL
  n <- tabulate(code, G)
  ## the means of y / y_scale (a power of two: exact): sums of huge values
  ## cannot overflow
  y_scale <- outcome_scale(y)
  ybar <- as.vector(rowsum(as.double(y) / y_scale, code, reorder = TRUE)) / n
  z <- treated[codes$first]
  block <- if (is.null(bl)) rep(1L, G) else match(bl[codes$first], unique(bl[codes$first]))
  n_clusters <- stats::setNames(c(sum(!z), sum(z)), arms)
  n_obs <- stats::setNames(c(sum(n[!z]), sum(n[z])), arms)
  list(ybar = ybar, n = n, z = z, block = block,
       block_ids = if (is.null(bl)) NULL else unique(bl[codes$first]),
       arms = arms, n_clusters = n_clusters, n_obs = n_obs, cluster_name = cols$cluster_name,
       y_scale = y_scale,
       blocks_name = bl_col$name)
}

## The design the C++ layer sees: clusters sorted by block (the block with
## the most combinations first, the fastest digit of the odometer), means
## centred within blocks, the enumerated set per block (the smaller arm),
## and the block weights.
rand_design <- function(cl, stat, weights) {
  B <- max(cl$block)
  size <- tabulate(cl$block, B)
  treated <- tabulate(cl$block[cl$z], B)
  need <- if (stat == "t") 2L else 1L
  bad <- which(treated < need | size - treated < need)
  if (length(bad) > 0L) {
    where <- if (B == 1L) "" else sprintf(" of block '%s'", format(cl$block_ids[bad[1L]]))
    abort(sprintf("each arm%s needs at least %d cluster%s for %s; found %d treated and %d control clusters%s.%s",
                 if (B == 1L) "" else " of every block of `blocks`", need, if (need == 1L) "" else "s",
                 if (stat == "t") "a t statistic" else "a difference in means",
                 treated[bad[1L]], size[bad[1L]] - treated[bad[1L]], where,
                 if (stat == "t") " Use `stat = \"diff_means\"` (for example in paired designs)." else ""),
         call. = FALSE)
  }
  combos <- choose(size, treated)
  block_order <- order(-combos, seq_len(B))
  rank_of_block <- match(seq_len(B), block_order)
  ord <- order(rank_of_block[cl$block], seq_along(cl$block))
  block <- rank_of_block[cl$block[ord]]
  size <- size[block_order]
  treated <- treated[block_order]
  y <- cl$ybar[ord]
  y <- y - (rowsum(y, block, reorder = TRUE) / size)[block]
  n <- cl$n[ord]
  z <- cl$z[ord]
  flipped <- treated > size / 2
  omega <- if (weights == "equal") size / sum(size) else {
    rows <- as.vector(rowsum(n, block, reorder = TRUE))
    rows / sum(rows)
  }
  list(y = as.double(y), w = if (weights == "equal") rep(1, length(y)) else as.double(n),
       zobs = as.double(z), start = as.integer(cumsum(c(0L, size))[seq_len(length(size))]),
       size = as.integer(size), k = as.integer(ifelse(flipped, size - treated, treated)),
       flipped = flipped, omega = as.double(omega), welch = stat == "t",
       zenum = as.integer(ifelse(flipped[block], !z, z)))
}

rand_exact_limit <- 1e10
rand_pairs_limit <- 1e7
rand_values_limit <- 1e5  # attained values are looked for up to this many assignments
rand_max_bars <- 50L      # and kept when there are at most this many

rand_use_exact <- function(exact, total) {
  bad <- function() {
    abort(sprintf("exact enumeration of %s assignments is beyond the limit of %s (it would take too long); use `exact = FALSE` for a Monte Carlo test with `R` draws.",
                 format(total, big.mark = ",", scientific = total > 1e15),
                 format(rand_exact_limit, big.mark = ",")), call. = FALSE)
  }
  if (is.null(exact)) return(total <= 1e8)
  if (is.logical(exact) && length(exact) == 1L && !is.na(exact)) {
    if (exact && total > rand_exact_limit) bad()
    return(exact)
  }
  if (is.numeric(exact) && length(exact) == 1L && !is.na(exact) && exact >= 0) {
    if (exact > rand_exact_limit && total > rand_exact_limit) bad()
    return(total <= exact)
  }
  abort("`exact` must be NULL, TRUE, FALSE or a number of assignments (the largest to enumerate).",
       call. = FALSE)
}

## Histogram breaks for the exact distribution: 100 equal bins over the
## range of a pilot sample (a fixed seed, so exact results never depend on
## R's RNG) widened to include the observed statistic; the enumeration adds
## two outer bins reaching its exact minimum and maximum.
rand_breaks <- function(pilot, t0) {
  pilot <- pilot[is.finite(pilot)]
  r <- range(c(pilot, t0, -t0))
  if (diff(r) == 0) r <- r + c(-1, 1) * max(abs(r[1L]), 1) * 1e-6
  seq(r[1L], r[2L], length.out = 101L)
}

## The exact histogram: the interior bins plus one bin below and one above,
## which reach the exact minimum and maximum (dropped when empty).
rand_distribution <- function(breaks, counts, min, max) {
  nb <- length(breaks)
  m <- length(counts)
  ## a statistic equal to the last break lands in the bin above: merge it
  ## into the last interior bin when that outer bin would have no width
  if (max <= breaks[nb]) {
    counts[m - 1L] <- counts[m - 1L] + counts[m]
    counts[m] <- 0
  }
  keep <- c(counts[1L] > 0, rep(TRUE, m - 2L), counts[m] > 0)
  breaks <- c(if (keep[1L]) min, breaks, if (keep[m]) max)
  list(breaks = breaks, counts = counts[keep])
}

## Confidence interval by inverting the two-sided test of a constant shift
## tau: p(tau) counts |A - tau B| >= |t0 - tau b0| (minus the tolerance).
## Each end is bracketed by doubling steps from the point estimate, then
## narrowed on a grid of 8 points per pass until the bracket is shorter than
## 1e-6 randomisation standard deviations; the midpoint is reported.
rand_invert <- function(shift_p, t0, b0, sd_null, scale, alpha) {
  tau_hat <- t0 / b0
  if (!is.finite(sd_null) || sd_null <= 0) sd_null <- max(scale, 1)
  pfun <- function(tau) {
    adj <- abs(t0 - tau * b0)
    shift_p(tau, adj - 1e-9 * pmax(adj, scale))
  }
  ## brackets: steps of 1/4 to 32 standard deviations, then (rarely) up to 2^20
  bracket <- function(steps, inside) {
    p <- pfun(c(tau_hat - steps, tau_hat + steps))
    m <- length(steps)
    lapply(1:2, function(side) {
      ps <- p[(side - 1L) * m + seq_len(m)]
      out <- which(ps <= alpha)
      sgn <- if (side == 1L) -1 else 1
      if (length(out) == 0L) return(c(outside = NA, inside = tau_hat + sgn * steps[m]))
      j <- out[1L]
      c(outside = tau_hat + sgn * steps[j],
        inside = if (j == 1L) inside[side] else tau_hat + sgn * steps[j - 1L])
    })
  }
  ends <- bracket(sd_null * 2^(-2:5), c(tau_hat, tau_hat))
  if (anyNA(c(ends[[1L]][["outside"]], ends[[2L]][["outside"]]))) {
    far <- bracket(sd_null * 2^(6:20), c(ends[[1L]][["inside"]], ends[[2L]][["inside"]]))
    for (s in 1:2) if (is.na(ends[[s]][["outside"]])) ends[[s]] <- far[[s]]
  }
  precision <- 1e-6 * sd_null
  repeat {
    open <- vapply(ends, function(e) !is.na(e[["outside"]]) && abs(e[["outside"]] - e[["inside"]]) > precision, TRUE)
    if (!any(open)) break
    grids <- lapply(which(open), function(s) {
      seq(ends[[s]][["outside"]], ends[[s]][["inside"]], length.out = 10L)[2:9]
    })
    pg <- pfun(unlist(grids))
    for (i in seq_along(grids)) {
      s <- which(open)[i]
      ps <- pg[(i - 1L) * 8L + 1:8]
      grid <- c(ends[[s]][["outside"]], grids[[i]], ends[[s]][["inside"]])
      ## the first grid point (from outside) that is not rejected
      j <- which(c(ps, 1) > alpha)[1L]
      ends[[s]] <- c(outside = grid[j], inside = grid[j + 1L])
    }
  }
  mid <- vapply(ends, function(e) if (is.na(e[["outside"]])) NA_real_ else mean(e), 0)
  c(if (is.na(mid[1L])) -Inf else mid[1L], if (is.na(mid[2L])) Inf else mid[2L])
}

#' @export
print.randomization_test <- function(x, ...) {
  print(structure(unclass(x)[c("statistic", "parameter", "p.value", "conf.int", "estimate",
                               "null.value", "alternative", "method", "data.name")],
                  class = "htest"), ...)
  if (x$exact) {
    cat(sprintf("exact: all %s assignments enumerated\n", format(x$n.assignments, big.mark = ",")))
  } else {
    cat(sprintf("Monte Carlo: %s random draws from %s possible assignments; Monte Carlo standard error of the p-value %s\n",
                format(x$R, big.mark = ","), format(x$n.assignments, big.mark = ",", digits = 4),
                format(x$mc.std.error, digits = 3)))
  }
  if (identical(x$ci_method, "skipped")) {
    cat("no confidence interval: too many assignments to store (use conf.int = TRUE to compute it by re-enumeration)\n")
  }
  cat(sprintf("%d clusters%s: %d treated (%s), %d control (%s)", as.integer(sum(x$n_clusters)),
              if (is.null(x$cluster_name)) "" else sprintf(" (`%s`)", x$cluster_name),
              as.integer(x$n_clusters[2L]), x$arms[["treated"]],
              as.integer(x$n_clusters[1L]), x$arms[["control"]]),
      if (x$n_blocks > 1L) sprintf("in %d blocks", x$n_blocks), "\n\n")
  invisible(x)
}

#' Summarise a randomisation test
#'
#' @param object A [randomization_test()] result.
#' @param x A `summary.randomization_test` object.
#' @param ... Ignored.
#' @return `summary()` returns an object of class
#'   `summary.randomization_test`: the test plus `table`, a data frame of
#'   clusters and rows per arm and the p-values of all three alternatives;
#'   its `print()` method shows the test and the table.
#' @export
summary.randomization_test <- function(object, ...) {
  object$table <- data.frame(arm = names(object$n_clusters),
                             clusters = as.vector(object$n_clusters),
                             rows = as.vector(object$n_obs), stringsAsFactors = FALSE)
  class(object) <- c("summary.randomization_test", class(object))
  object
}

#' @rdname summary.randomization_test
#' @export
print.summary.randomization_test <- function(x, ...) {
  print.randomization_test(x)
  print(x$table, row.names = FALSE)
  cat("\np-values: ", paste(sprintf("%s %s", names(x$p.values), format(x$p.values, digits = 4)),
                           collapse = ", "), "\n", sep = "")
  invisible(x)
}

#' Tidy a randomisation test
#'
#' @param x A [randomization_test()] result.
#' @param ... Ignored.
#' @return A one-row data frame with `estimate`, `statistic`, `p.value`,
#'   `mc.std.error` (0 when exact), `conf.low`, `conf.high` (`NA` when no
#'   interval was computed), `n.assignments`, `exact`, `method` and
#'   `alternative`.
#' @method tidy randomization_test
#' @export
tidy.randomization_test <- function(x, ...) {
  ci <- if (is.null(x$conf.int)) c(NA_real_, NA_real_) else x$conf.int
  data.frame(estimate = unname(x$estimate), statistic = unname(x$statistic),
             p.value = x$p.value, mc.std.error = x$mc.std.error,
             conf.low = ci[1L], conf.high = ci[2L], n.assignments = x$n.assignments,
             exact = x$exact, method = x$method, alternative = x$alternative,
             stringsAsFactors = FALSE)
}

#' Glance at a randomisation test
#'
#' @param x A [randomization_test()] result.
#' @param ... Ignored.
#' @return A one-row data frame: the columns of [tidy()][tidy.randomization_test]
#'   and `nobs` (rows), `n.clusters` and `n.blocks`.
#' @method glance randomization_test
#' @export
glance.randomization_test <- function(x, ...) {
  cbind(tidy.randomization_test(x), nobs = sum(x$n_obs), n.clusters = sum(x$n_clusters),
        n.blocks = x$n_blocks)
}

#' @export
as.data.frame.randomization_test <- function(x, row.names = NULL, optional = FALSE, ...) {
  result_frame(tidy(x), row.names)
}

#' @export
confint.randomization_test <- function(object, parm, level = NULL, ...) {
  if (!is.null(level) && !isTRUE(all.equal(level, attr(object$conf.int, "conf.level")))) {
    abort("the interval was computed at the `conf.level` of the call; rerun randomization_test() with another `conf.level`.",
         call. = FALSE)
  }
  ci <- if (is.null(object$conf.int)) c(NA_real_, NA_real_) else as.vector(object$conf.int)
  a <- attr(object$conf.int, "conf.level")
  if (is.null(a)) a <- NA_real_
  pct <- paste(format(100 * c((1 - a) / 2, (1 + a) / 2), trim = TRUE, digits = 3), "%")
  matrix(ci, 1L, 2L, dimnames = list(names(object$estimate), pct))
}

#' Plot a randomisation distribution
#'
#' Draws the randomisation distribution of the statistic with the observed
#' value marked. A Monte Carlo distribution with few distinct values (at
#' most 50, as with few clusters) is drawn as bars at the attained values,
#' with heights the share of draws; with more, as a histogram. An exact
#' distribution is drawn as bars at its attained values, with heights their
#' probabilities, when it has at most 50 distinct values (and at most 1e5
#' assignments, for the difference in means); otherwise as the histogram
#' of all assignments kept by
#' [randomization_test()] (100 equal bins over the bulk; a tail bin that
#' reaches the exact minimum or maximum is merged into its neighbour when it
#' is narrower than half a bin, so that no bin is a sliver).
#'
#' @param x A [randomization_test()] result.
#' @param main,xlab Title and axis label.
#' @param ... Passed to [graphics::plot()].
#' @return Invisibly, what was drawn: a list with `type` (`"bars"` or
#'   `"histogram"`) and `at` and `height` (bars) or `breaks`, `counts` and
#'   `density` (histogram).
#' @export
plot.randomization_test <- function(x, main = NULL, xlab = NULL, ...) {
  if (is.null(main)) main <- if (x$exact) "Exact randomisation distribution" else "Monte Carlo randomisation distribution"
  if (is.null(xlab)) xlab <- names(x$statistic)
  if (!x$exact) return(plot_replicates(x$t, x$t0, main = main, xlab = xlab, ...))
  if (!is.null(x$distribution$values)) {
    return(invisible(plot_bars(x$distribution$values, x$distribution$probabilities, x$t0, NULL,
                               main, xlab, ...)))
  }
  d <- exact_bins(x$distribution$breaks, x$distribution$counts)
  invisible(plot_histogram(d$breaks, d$counts, x$t0, NULL, main, xlab, ...))
}

## The bins of the exact distribution without slivers: a first or last bin
## narrower than half the typical bin (the enumeration's exact minimum or
## maximum lay just beyond the pilot's range) joins its neighbour.
exact_bins <- function(breaks, counts) {
  width <- diff(breaks)
  if (length(counts) >= 3L) {
    typical <- stats::median(width)
    if (width[1L] < typical / 2) {
      counts <- c(counts[1L] + counts[2L], counts[-(1:2)])
      breaks <- breaks[-2L]
    }
    m <- length(counts)
    if (diff(utils::tail(breaks, 2L)) < typical / 2) {
      counts <- c(counts[seq_len(m - 2L)], counts[m - 1L] + counts[m])
      breaks <- breaks[-(length(breaks) - 1L)]
    }
  }
  list(breaks = breaks, counts = counts)
}

#' @export
print.randomization_test_arms <- function(x, ...) {
  for (comparison in names(x$tests)) {
    cat("\n==", comparison, "==\n")
    print(x$tests[[comparison]], ...)
  }
  invisible(x)
}

#' @export
summary.randomization_test_arms <- function(object, ...) {
  object$tests <- lapply(object$tests, summary)
  object
}

#' @method tidy randomization_test_arms
#' @export
tidy.randomization_test_arms <- function(x, ...) {
  rows <- lapply(names(x$tests), function(comparison) {
    cbind(comparison = comparison, tidy(x$tests[[comparison]]))
  })
  do.call(rbind, rows)
}

#' @method glance randomization_test_arms
#' @export
glance.randomization_test_arms <- function(x, ...) {
  rows <- lapply(names(x$tests), function(comparison) {
    cbind(comparison = comparison, glance(x$tests[[comparison]]))
  })
  do.call(rbind, rows)
}

#' @export
as.data.frame.randomization_test_arms <- function(x, row.names = NULL, optional = FALSE, ...) {
  result_frame(tidy(x), row.names)
}

#' @export
confint.randomization_test_arms <- function(object, parm, level = NULL, ...) {
  out <- do.call(rbind, lapply(object$tests, stats::confint, level = level))
  rownames(out) <- names(object$tests)
  out
}

#' @export
plot.randomization_test_arms <- function(x, ...) {
  for (comparison in names(x$tests)) plot(x$tests[[comparison]], main = comparison, ...)
  invisible(x)
}
