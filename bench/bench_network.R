## Benchmark: the network-interference functions, network_exposure() beside
## a data.table implementation of the same computation, and the times of
## exposure_effects() and spillover_test() at scale, in one R process.
##
## Run from the package root, against an installed clusterab:
##
##     Rscript bench/bench_network.R          # full run: about 3-4 minutes
##     Rscript bench/bench_network.R quick    # units, edges and R / 10: seconds
##
## To benchmark a private build without touching the source tree:
##
##     R CMD INSTALL -l /tmp/benchlib .   (from a copy of the sources)
##     R_LIBS=/tmp/benchlib Rscript bench/bench_network.R
##
## Needs: clusterab, data.table.
##
## Sections (random graphs: both ends of each edge drawn with
## sample.int(n, replace = TRUE), so there are a few self-loops and duplicate
## edges, as in real edge lists):
##   1. network_exposure() with n = 1e6 units and 1e7 undirected edges,
##      beside dt_exposure(), a data.table implementation of the same result
##      written below (data.table on all cores, setDTthreads(0)):
##        a. integer ids                                 target ours < 1 s
##           (data.table also timed on 1 thread: on a busy machine its
##           2-thread time can be the slower one)
##        b. character ids ("u123")                       no target
##        c. directed = TRUE                             no target
##        d. weighted (weight = "w", uniform weights)     no target
##      and the steps of one network_exposure() call (integer ids), timed
##      one by one. Each run prints the largest absolute difference between
##      the two results (column by column) and the number of units whose
##      rows differ: the two must agree exactly (to rounding with weights).
##   2. exposure_effects() on n = 1e5 units and 5e5 edges, 10% of the units
##      treated by complete randomisation, mapping "any":
##        a. design "complete", R = 1e4 simulated assignments,
##           variance = FALSE, on 1 and on 2 threads (results must be
##           identical under set.seed()); the simulated probabilities are
##           checked against the exact hypergeometric ones.   time printed
##        b. design "bernoulli" (closed-form probabilities).  time printed
##        c. variance = TRUE, complete design, n = 2000 units, R = 1e4.
##                                                           time printed
##   3. spillover_test() on the data of section 2, complete design,
##      R = 1e4, on 1 and 2 threads.                          time printed
##
## Only the "< 1 s" target is from the issue ("1e7 edges in well under a
## second"); for the others the issue asks for the time only. "ratio" =
## data.table time / our time.

options(width = 150)
args <- commandArgs(trailingOnly = TRUE)
quick <- "quick" %in% args
shrink <- if (quick) 10 else 1

source(file.path("bench", "bench_helpers.R"))
attach_packages(c("clusterab", "data.table"))

setDTthreads(0)

threads <- clusterab:::resolve_threads(NULL)
cat(sprintf("clusterab %s (%s), data.table %s\n", packageVersion("clusterab"),
            dirname(dirname(system.file(package = "clusterab"))), packageVersion("data.table")))
cat(sprintf("%s, %d cores, clusterab threads = %d, data.table threads = %d%s\n\n", R.version.string,
            parallel::detectCores(), threads, getDTthreads(),
            if (quick) ", QUICK MODE (sizes and R / 10; targets are for the full run)" else ""))

cat(loadavg(), "at start\n\n")

results <- list()
record <- function(section, what, n, edges, ours, ref = NA_real_, target_ours = NA_real_,
                   check = "", note = "") {
  ratio <- ref / ours
  met <- is.na(target_ours) || ours < target_ours
  target <- if (is.na(target_ours)) "" else sprintf("ours < %g s", target_ours)
  results[[length(results) + 1L]] <<- data.frame(
    sec = section, what = what, n = format(n, scientific = TRUE), edges = format(edges, scientific = TRUE),
    ours_s = ours, ref_s = ref, ratio = ratio, target = target,
    met = if (target == "") "-" else if (met) "yes" else "NO", check = check, note = note,
    stringsAsFactors = FALSE)
  cat(sprintf("  ours %.3f s%s%s (%s)%s\n\n", ours,
              if (is.na(ref)) "" else sprintf(", data.table %.3f s", ref),
              if (is.na(ratio)) "" else sprintf(", ratio %.1f", ratio),
              if (target == "") "no target" else sprintf("target %s: %s", target, if (met) "met" else "NOT met"),
              if (note == "") "" else paste0("; ", note)))
}

free <- function() invisible(gc(verbose = FALSE, full = TRUE))

## ---- the data.table reference -------------------------------------------------------

## What network_exposure() computes, in data.table: each edge gives the
## neighbour pair (to <- from) and, undirected, also (from <- to); self-loops
## dropped; repeated (unit, neighbour) pairs are one neighbour (with weights,
## their weights summed); treatment joined on the neighbour; per unit:
## degree = distinct neighbours, treated_neighbours = treated ones (or their
## weight), exposure = their share; units without edges get 0.
dt_exposure <- function(edges, treatment, directed = FALSE, weight = NULL) {
  e <- if (directed) {
    data.table(unit = edges$to, nbr = edges$from)
  } else {
    data.table(unit = c(edges$from, edges$to), nbr = c(edges$to, edges$from))
  }
  if (!is.null(weight)) {
    w <- edges[[weight]]
    set(e, j = "w", value = if (directed) w else c(w, w))
  }
  e <- e[unit != nbr]
  e <- if (is.null(weight)) unique(e, by = c("unit", "nbr")) else e[, .(w = sum(w)), by = .(unit, nbr)]
  tt <- as.data.table(treatment)
  e[tt, on = c(nbr = "unit"), treated := i.treated]
  agg <- if (is.null(weight)) {
    e[, .(degree = .N, treated_neighbours = sum(treated), total = as.double(.N)), by = unit]
  } else {
    e[, .(degree = .N, treated_neighbours = sum(w * treated), total = sum(w)), by = unit]
  }
  out <- tt[, .(unit)]
  out[agg, on = "unit", `:=`(degree = i.degree, treated_neighbours = i.treated_neighbours,
                             total = i.total)]
  out[is.na(degree), `:=`(degree = 0L, treated_neighbours = 0, total = 0)]
  out[, exposure := ifelse(total > 0, treated_neighbours / total, 0)]
  if (!is.null(weight)) setnames(out, "total", "total_weight") else out[, total := NULL]
  out[]
}

## Column-by-column largest absolute difference of two exposure tables, and
## the units (rows) that differ; the unit columns must be identical.
compare_exposure <- function(ours, ref, tol = 0) {
  stopifnot(identical(ours[[1L]], ref[[1L]]))
  cols <- setdiff(names(ref), "unit")
  d <- vapply(cols, function(j) max(abs(as.double(ours[[j]]) - as.double(ref[[j]]))), 0)
  differ <- Reduce(`|`, lapply(cols, function(j) abs(as.double(ours[[j]]) - as.double(ref[[j]])) > tol))
  list(max = d, differ = which(differ),
       text = sprintf("max |ours - data.table|: %s; %d unit(s) differ%s",
                      paste(sprintf("%s %.3g", cols, d), collapse = ", "), sum(differ),
                      if (tol > 0) sprintf(" by more than %g", tol) else ""))
}

## The units (row numbers in `units`) that have a neighbour joined to them
## by more than one edge (diagnosis of a difference).
units_with_repeated_neighbour <- function(edges, units, directed = FALSE) {
  e <- if (directed) data.table(unit = edges$to, nbr = edges$from)
       else data.table(unit = c(edges$from, edges$to), nbr = c(edges$to, edges$from))
  e <- e[unit != nbr]
  match(unique(e$unit[duplicated(e)]), units)
}

explain <- function(cmp, edges, units, directed = FALSE) {
  if (!length(cmp$differ)) return(invisible())
  rep_units <- units_with_repeated_neighbour(edges, units, directed)
  cat(sprintf("  MISMATCH: %d unit(s) differ; %d unit(s) have a neighbour joined by 2+ edges; %d of the differing units are among them\n",
              length(cmp$differ), length(rep_units), sum(cmp$differ %in% rep_units)))
}

make_edges <- function(n, m) {
  data.frame(from = sample.int(n, m, replace = TRUE), to = sample.int(n, m, replace = TRUE))
}

## ---- 1. network_exposure() vs data.table ---------------------------------------------

set.seed(20240801)
n1 <- 1e6 / shrink
m1 <- 1e7 / shrink
edges <- make_edges(n1, m1)
treatment <- data.frame(unit = seq_len(n1), treated = rbinom(n1, 1, 0.5))
loops <- sum(edges$from == edges$to)

cat(sprintf("== 1a. network_exposure(), %g units, %g undirected edges (%d self-loops), integer ids\n",
            n1, m1, loops))
ours <- bench(network_exposure(edges, treatment), reps = 3, budget = 10)
ref <- bench(dt_exposure(edges, treatment), reps = 3, budget = 10)
setDTthreads(1)
ref1 <- bench(dt_exposure(edges, treatment), reps = 3, budget = 10)
setDTthreads(0)
res <- ours$value
cmp <- compare_exposure(res, ref$value)
cat(sprintf("  attributes: self_loops %g, duplicates %g; %s\n", attr(res, "self_loops"),
            attr(res, "duplicates"), cmp$text))
explain(cmp, edges, treatment$unit)
record("1a", "network_exposure integer ids", n1, m1, ours$time, ref$time, target_ours = 1,
       check = sprintf("%d differ", length(cmp$differ)),
       note = sprintf("data.table on 1 thread %.3f s (ratio %.1f)", ref1$time, ref1$time / ours$time))
rm(ours, ref, ref1, res); free()

## The steps of network_exposure() (integer ids), timed one by one through
## the internals (skipped if they have changed).
cat("== 1a'. the steps of one network_exposure() call (integer ids)\n")
steps <- tryCatch({
  ns <- asNamespace("clusterab")
  units <- treatment$unit
  t_assign <- bench(ns$treatment_by_unit(treatment, "unit"), reps = 3, budget = 10)
  t_c <- bench(ids <- c(units, edges$from, edges$to), reps = 3, budget = 10)
  t_codes <- bench(coded <- ns$cluster_codes(ids, "the unit ids"), reps = 3, budget = 10)
  t_check <- bench(coded$G > n1, reps = 3, budget = 10)
  t_graph <- bench(g <- ns$cpp_network_graph(coded$codes, n1, n1, m1, numeric(0), FALSE, FALSE, 2L),
                   reps = 3, budget = 10)
  t_whole <- bench(ns$network_graph(edges, units), reps = 3, budget = 10)
  t_treated <- bench(tw <- ns$cpp_network_treated(g$start, g$nbr, g$wt, treatment$treated), reps = 3, budget = 10)
  t_share <- bench(ns$exposure_share(tw, g$strength), reps = 3, budget = 10)
  tab <- data.frame(step = c("treatment_by_unit()", "c(units, from, to)", "cluster_codes()",
                             "unknown-id check", "cpp_network_graph()",
                             "network_graph() whole", "cpp_network_treated()", "exposure_share()"),
                    seconds = sprintf("%.3f", c(t_assign$time, t_c$time, t_codes$time, t_check$time,
                                                t_graph$time, t_whole$time,
                                                t_treated$time, t_share$time)))
  print(tab, row.names = FALSE, right = FALSE)
  cat(sprintf("  (graph in memory: nbr %.0f MB, wt %.0f MB (none without weights), start %.0f MB)\n\n",
              object.size(g$nbr) / 2^20, object.size(g$wt) / 2^20, object.size(g$start) / 2^20))
  rm(ids, coded, g, tw)
  TRUE
}, error = function(e) {
  cat("  skipped: the internals have changed (", conditionMessage(e), ")\n\n")
  FALSE
})
free()

cat(sprintf("== 1b. network_exposure(), %g units, %g undirected edges, character ids (\"u123\")\n", n1, m1))
edges_chr <- data.frame(from = paste0("u", edges$from), to = paste0("u", edges$to))
treatment_chr <- data.frame(unit = paste0("u", treatment$unit), treated = treatment$treated)
ours <- bench(network_exposure(edges_chr, treatment_chr), reps = 3, budget = 10)
ref <- bench(dt_exposure(edges_chr, treatment_chr), reps = 3, budget = 10)
cmp <- compare_exposure(ours$value, ref$value)
cat(sprintf("  %s\n", cmp$text))
explain(cmp, edges, treatment$unit)
record("1b", "network_exposure character ids", n1, m1, ours$time, ref$time,
       check = sprintf("%d differ", length(cmp$differ)))
rm(edges_chr, treatment_chr, ours, ref); free()

cat(sprintf("== 1c. network_exposure(directed = TRUE), %g units, %g edges, integer ids\n", n1, m1))
ours <- bench(network_exposure(edges, treatment, directed = TRUE), reps = 3, budget = 10)
ref <- bench(dt_exposure(edges, treatment, directed = TRUE), reps = 3, budget = 10)
cmp <- compare_exposure(ours$value, ref$value)
cat(sprintf("  attributes: self_loops %g, duplicates %g; %s\n", attr(ours$value, "self_loops"),
            attr(ours$value, "duplicates"), cmp$text))
explain(cmp, edges, treatment$unit, directed = TRUE)
record("1c", "network_exposure directed", n1, m1, ours$time, ref$time,
       check = sprintf("%d differ", length(cmp$differ)))
rm(ours, ref); free()

cat(sprintf("== 1d. network_exposure(weight = \"w\"), %g units, %g undirected edges, uniform weights\n", n1, m1))
edges$w <- runif(m1)
ours <- bench(network_exposure(edges, treatment, weight = "w"), reps = 3, budget = 10)
ref <- bench(dt_exposure(edges, treatment, weight = "w"), reps = 3, budget = 10)
cmp <- compare_exposure(ours$value, ref$value, tol = 1e-9)
cat(sprintf("  %s (sums in another order: rounding only)\n", cmp$text))
record("1d", "network_exposure weighted", n1, m1, ours$time, ref$time,
       check = sprintf("%d differ", length(cmp$differ)))
rm(edges, treatment, ours, ref); free()

## ---- 2. exposure_effects() ----------------------------------------------------------

## n units, m random undirected edges, a tenth of the units treated by
## complete randomisation; outcome with a direct effect 1 and a spillover 0.5
## on units with a treated neighbour.
make_network_data <- function(n, m) {
  edges <- make_edges(n, m)
  d <- data.frame(unit = seq_len(n), treated = 0L)
  d$treated[sample.int(n, n / 10)] <- 1L
  ex <- network_exposure(edges, d)
  d$y <- 1 + d$treated + 0.5 * (ex$treated_neighbours > 0) + rnorm(n)
  list(d = d, edges = edges, degree = ex$degree)
}

## Calls with the warning about units that can never be in a condition
## (isolated units: never exposed) muffled and its message kept.
zero_note <- character(0)
quietly <- function(expr) {
  withCallingHandlers(expr, clusterab_zero_probability = function(w) {
    zero_note <<- conditionMessage(w)
    invokeRestart("muffleWarning")
  })
}

show_contrasts <- function(fit) {
  ct <- fit$contrasts[fit$contrasts$estimator == "hajek", ]
  paste(sprintf("%s %.3f", ct$contrast, ct$estimate), collapse = ", ")
}

set.seed(20240802)
n2 <- 1e5 / shrink
m2 <- 5e5 / shrink
R2 <- 1e4 / shrink
net <- make_network_data(n2, m2)
d2 <- net$d
edges2 <- net$edges

cat(sprintf("== 2a. exposure_effects(design = complete, R = %g, variance = FALSE), %g units (%d treated), %g edges\n",
            R2, n2, sum(d2$treated), m2))
fit_on <- function(th) {
  set.seed(7)
  quietly(exposure_effects(d2, "y", "treated", edges2, design = list(type = "complete"), R = R2,
                           variance = FALSE, threads = th))
}
t1 <- bench(fit_on(1), reps = 1)
t2 <- bench(fit_on(threads), reps = 1)
f1 <- t1$value
f2 <- t2$value
same <- identical(f1$means, f2$means) && identical(f1$contrasts, f2$contrasts) &&
  identical(f1$probabilities, f2$probabilities)
## exact probabilities under complete randomisation of m of n units, for a
## unit with d distinct neighbours: P(c0) = C(n - d - 1, m) / C(n, m), P(t0)
## = C(n - d - 1, m - 1) / C(n, m); c1 and t1 are the rest of P(control) and
## P(treated).
m_tr <- sum(d2$treated)
dg <- net$degree
p_c0 <- exp(lchoose(n2 - dg - 1, m_tr) - lchoose(n2, m_tr))
p_t0 <- exp(lchoose(n2 - dg - 1, m_tr - 1) - lchoose(n2, m_tr))
exact <- cbind(c0 = p_c0, c1 = (n2 - m_tr) / n2 - p_c0, t0 = p_t0, t1 = m_tr / n2 - p_t0)
sim <- as.matrix(f2$probabilities[, c("c0", "c1", "t0", "t1")])
z <- (sim - exact) / sqrt(pmax(exact * (1 - exact), 1e-12) / R2)
z[exact == 0 & sim == 0] <- 0
cat(sprintf("  1 thread %.2f s, %d threads %.2f s (x%.2f); results identical across threads: %s\n",
            t1$time, threads, t2$time, t1$time / t2$time, if (same) "yes" else "NO"))
cat(sprintf("  simulated vs exact probabilities: max |diff| %.4f, max |z| %.2f over %d unit x condition cells\n",
            max(abs(sim - exact)), max(abs(z)), length(z)))
cat(sprintf("  Hajek: %s\n", show_contrasts(f2)))
record("2a", sprintf("exposure_effects complete R=%g", R2), n2, m2, t2$time,
       check = sprintf("1 vs %d threads identical: %s; max|z| %.1f", threads, if (same) "yes" else "NO", max(abs(z))),
       note = sprintf("1 thread %.2f s", t1$time))
rm(t1, t2, f1, f2, sim, exact, z); free()

cat(sprintf("== 2b. exposure_effects(design = bernoulli, closed form, variance = FALSE), %g units, %g edges\n", n2, m2))
ours <- bench(quietly(exposure_effects(d2, "y", "treated", edges2, design = list(type = "bernoulli", p = 0.1),
                                       variance = FALSE)), reps = 5, budget = 10)
cat(sprintf("  closed form: %s; Hajek: %s\n", ours$value$closed_form, show_contrasts(ours$value)))
record("2b", "exposure_effects bernoulli", n2, m2, ours$time)
rm(ours); free()

n3 <- 2000
m3 <- 1e4
R3 <- 1e4 / shrink
set.seed(20240803)
net3 <- make_network_data(n3, m3)
cat(sprintf("== 2c. exposure_effects(design = complete, R = %g, variance = TRUE), %g units, %g edges\n", R3, n3, m3))
negative <- character(0)
ours <- bench({
  set.seed(8)
  withCallingHandlers(
    quietly(exposure_effects(net3$d, "y", "treated", net3$edges, design = list(type = "complete"), R = R3)),
    clusterab_negative_variance = function(w) {
      negative <<- conditionMessage(w)
      invokeRestart("muffleWarning")
    })
}, reps = 1)
if (length(negative)) cat("  warning:", negative, "\n")
ct <- ours$value$contrasts[ours$value$contrasts$estimator == "hajek", ]
cat(sprintf("  Hajek: %s\n", paste(sprintf("%s %.3f (SE %.3f)", ct$contrast, ct$estimate, ct$std.error),
                                    collapse = ", ")))
record("2c", sprintf("exposure_effects + variance R=%g", R3), n3, m3, ours$time)
rm(ours, net3); free()
if (length(zero_note)) cat("  (muffled warning, e.g.:", zero_note, ")\n\n")

## ---- 3. spillover_test() -------------------------------------------------------------

cat(sprintf("== 3. spillover_test(design = complete, R = %g), %g units, %g edges (the data of section 2)\n",
            R2, n2, m2))
test_on <- function(th) {
  set.seed(9)
  spillover_test(d2, "y", "treated", edges2, design = list(type = "complete"), R = R2, threads = th,
                 progress = FALSE)
}
t1 <- bench(test_on(1), reps = 1)
t2 <- bench(test_on(threads), reps = 1)
same <- identical(t1$value$t, t2$value$t) && identical(t1$value$p.value, t2$value$p.value)
st <- t2$value
cat(sprintf("  %d focal units; statistic %.4f, p = %.4g; 1 thread %.2f s, %d threads %.2f s (x%.2f); identical: %s\n",
            st$n.focal, st$statistic, st$p.value, t1$time, threads, t2$time, t1$time / t2$time,
            if (same) "yes" else "NO"))
record("3", sprintf("spillover_test complete R=%g", R2), n2, m2, t2$time,
       check = sprintf("1 vs %d threads identical: %s", threads, if (same) "yes" else "NO"),
       note = sprintf("1 thread %.2f s", t1$time))
rm(t1, t2, st, d2, edges2, net); free()

## ---- summary ------------------------------------------------------------------------

tab <- do.call(rbind, results)
cat(sprintf("== Summary%s (seconds; ratio = data.table time / ours)\n",
            if (quick) " -- QUICK MODE, targets apply to the full run" else ""))
out <- data.frame(sec = tab$sec, what = tab$what, n = tab$n, edges = tab$edges,
                  ours_s = sprintf("%.3f", tab$ours_s),
                  data.table_s = ifelse(is.na(tab$ref_s), "-", sprintf("%.3f", tab$ref_s)),
                  ratio = ifelse(is.na(tab$ratio), "-", sprintf("%.1f", tab$ratio)),
                  target = tab$target, met = tab$met,
                  `check; note` = paste0(tab$check, ifelse(tab$check != "" & tab$note != "", "; ", ""), tab$note),
                  check.names = FALSE)
old <- options(width = 250)
print(out, row.names = FALSE, right = FALSE)
options(old)
cat(sprintf("\n%d of %d targets met. (%s at end; other jobs running at the same time inflate the times.)\n",
            sum(tab$met == "yes"), sum(tab$met != "-"), loadavg()))
