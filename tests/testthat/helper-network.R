## Brute-force references for the network functions: plain R loops over
## edges and over every assignment of a small design, written without the
## package's code.

## Neighbour weights of each unit (a list of named numeric vectors: names
## are the neighbours' ids as character), by a loop over the edges:
## self-loops dropped, repeated edges merged (a neighbour counts once, or
## with weights, their sum); directed:
## `from` is a neighbour of `to`.
brute_neighbours <- function(units, from, to, w = NULL, directed = FALSE) {
  weighted <- !is.null(w)
  if (!weighted) w <- rep(1, length(from))
  nb <- stats::setNames(replicate(length(units), numeric(0), simplify = FALSE), as.character(units))
  add <- function(receiver, sender, weight) {
    r <- as.character(receiver)
    s <- as.character(sender)
    cur <- nb[[r]]
    cur[s] <- if (s %in% names(cur) && weighted) cur[s] + weight else weight
    nb[[r]] <<- cur
  }
  for (e in seq_along(from)) {
    if (as.character(from[e]) == as.character(to[e])) next
    add(to[e], from[e], w[e])
    if (!directed) add(from[e], to[e], w[e])
  }
  nb
}

## network_exposure() by the loop: degree, treated weight, share.
brute_exposure <- function(units, treated, nb) {
  tr <- stats::setNames(treated, as.character(units))
  degree <- vapply(nb, length, 0L)
  total <- vapply(nb, sum, 0)
  tw <- vapply(nb, function(v) sum(v * tr[names(v)]), 0)
  data.frame(degree = unname(degree), treated = unname(tw), total = unname(total),
             exposure = unname(ifelse(total > 0, tw / total, 0)))
}

## Conditions (0 c0, 1 c1, 2 t0, 3 t1) of every unit for one assignment.
brute_conditions <- function(units, z, nb, threshold = 0) {
  ex <- brute_exposure(units, z, nb)
  exposed <- if (threshold <= 0) ex$treated > 0 else ex$total > 0 & ex$treated / ex$total >= threshold
  2L * z + as.integer(exposed)
}

## Every assignment of a design over n units: a list of (z, weight).
## type "bernoulli" (p), "complete" (m units), "cluster" (clusters, m).
brute_assignments <- function(n, type, p = NULL, m = NULL, clusters = NULL) {
  if (type == "bernoulli") {
    grid <- as.matrix(expand.grid(rep(list(0:1), n)))
    return(lapply(seq_len(nrow(grid)), function(r) {
      z <- unname(grid[r, ])
      list(z = z, w = p^sum(z) * (1 - p)^(n - sum(z)))
    }))
  }
  if (type == "complete") {
    sets <- utils::combn(n, m, simplify = FALSE)
    return(lapply(sets, function(s) list(z = as.integer(seq_len(n) %in% s), w = 1 / length(sets))))
  }
  ids <- unique(clusters)
  sets <- utils::combn(length(ids), m, simplify = FALSE)
  lapply(sets, function(s) list(z = as.integer(clusters %in% ids[s]), w = 1 / length(sets)))
}

## Marginal probabilities (n x 4) and joint ones (array n x 4 x n x 4) by
## enumeration.
brute_probabilities <- function(units, nb, assignments, threshold = 0) {
  n <- length(units)
  marg <- matrix(0, n, 4)
  joint <- array(0, c(n, 4, n, 4))
  for (a in assignments) {
    c <- brute_conditions(units, a$z, nb, threshold) + 1L
    ind <- matrix(0, n, 4)
    ind[cbind(seq_len(n), c)] <- 1
    marg <- marg + a$w * ind
    joint <- joint + a$w * outer(ind, ind)
  }
  list(marginal = marg, joint = joint)
}

## Aronow and Samii (2017): the HT estimate of the mean of condition k
## (codes 0-3) over its eligible units, and of the contrast of means k - l,
## with their conservative variances, in the paper's indicator form (Var of
## each total, and Cov for a contrast).
brute_as_total_var <- function(y, cond, pr, k, E) {
  n <- length(y)
  pk <- pr$marginal[, k + 1L]
  obs <- cond == k & E
  v <- 0
  for (i in which(E)) {
    if (obs[i]) v <- v + (1 - pk[i]) * (y[i] / pk[i])^2
    for (j in which(E)) {
      if (j == i) next
      pij <- pr$joint[i, k + 1L, j, k + 1L]
      if (pij > 0) {
        if (obs[i] && obs[j]) {
          v <- v + (pij - pk[i] * pk[j]) / pij * y[i] * y[j] / (pk[i] * pk[j])
        }
      } else {
        v <- v + obs[i] * y[i]^2 / (2 * pk[i]) + obs[j] * y[j]^2 / (2 * pk[j])
      }
    }
  }
  v
}

brute_as_cov <- function(y, cond, pr, k, l, E) {
  pk <- pr$marginal[, k + 1L]
  pl <- pr$marginal[, l + 1L]
  ik <- cond == k & E
  jl <- cond == l & E
  v <- 0
  for (i in which(E)) {
    for (j in which(E)) {
      pij <- pr$joint[i, k + 1L, j, l + 1L]
      if (pij > 0) {
        if (i != j && ik[i] && jl[j]) {
          v <- v + (pij - pk[i] * pl[j]) / pij * y[i] * y[j] / (pk[i] * pl[j])
        }
      } else {
        v <- v - (ik[i] * y[i]^2 / (2 * pk[i]) + jl[j] * y[j]^2 / (2 * pl[j]))
      }
    }
  }
  v
}

brute_as_mean <- function(y, cond, pr, k) {
  E <- pr$marginal[, k + 1L] > 0
  obs <- cond == k
  N <- sum(E)
  list(ht = sum(y[obs] / pr$marginal[obs, k + 1L]) / N,
       hajek = sum(y[obs] / pr$marginal[obs, k + 1L]) / sum(1 / pr$marginal[obs, k + 1L]),
       var = brute_as_total_var(y, cond, pr, k, E) / N^2)
}

brute_as_contrast <- function(y, cond, pr, k, l) {
  E <- pr$marginal[, k + 1L] > 0 & pr$marginal[, l + 1L] > 0
  N <- sum(E)
  ok <- cond == k & E
  ol <- cond == l & E
  ht <- (sum(y[ok] / pr$marginal[ok, k + 1L]) - sum(y[ol] / pr$marginal[ol, l + 1L])) / N
  var <- (brute_as_total_var(y, cond, pr, k, E) + brute_as_total_var(y, cond, pr, l, E) -
            2 * brute_as_cov(y, cond, pr, k, l, E)) / N^2
  list(ht = ht, var = var)
}

## A small connected test graph of 10 units with a self-loop, a duplicate
## and an isolated unit (10).
small_network <- function() {
  data.frame(from = c(1, 1, 2, 3, 4, 5, 6, 7, 8, 2, 3, 6, 1),
             to   = c(2, 3, 3, 4, 5, 6, 7, 8, 9, 5, 3, 5, 2))
}
