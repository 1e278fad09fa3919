## network_exposure(): against a brute-force loop over the edges.

random_edges <- function(n_units, n_edges, ids = seq_len(n_units)) {
  data.frame(from = ids[sample.int(n_units, n_edges, TRUE)],
             to = ids[sample.int(n_units, n_edges, TRUE)], stringsAsFactors = FALSE)
}

expect_exposure_equal <- function(res, ref, unit_ids) {
  expect_equal(res$degree, ref$degree)
  expect_equal(res$treated_neighbours, ref$treated, tolerance = 1e-14)
  expect_equal(res$exposure, ref$exposure, tolerance = 1e-14)
}

test_that("network_exposure() equals a loop over the edges: undirected and directed", {
  set.seed(11)
  n <- 40
  edges <- random_edges(n, 120)
  edges <- rbind(edges, data.frame(from = c(3, 5, 5), to = c(3, 7, 7)))  # a self-loop, duplicates
  z <- rbinom(n + 2, 1, 0.4)
  units <- seq_len(n + 2)  # units 41 and 42 have no edges
  for (directed in c(FALSE, TRUE)) {
    res <- network_exposure(edges, data.frame(unit = units, treated = z), directed = directed)
    ref <- brute_exposure(units, z, brute_neighbours(units, edges$from, edges$to, directed = directed))
    expect_equal(res$unit, units)
    expect_exposure_equal(res, ref)
    expect_equal(res$degree[41:42], c(0L, 0L))
    expect_equal(res$exposure[41:42], c(0, 0))
    expect_equal(attr(res, "self_loops"), 1 + sum(edges$from[1:120] == edges$to[1:120]))
  }
})

test_that("network_exposure() with weights sums the weights of duplicate edges", {
  set.seed(12)
  n <- 30
  edges <- random_edges(n, 90)
  edges <- rbind(edges, edges[1:10, ])
  edges$w <- runif(nrow(edges), 0, 3)
  edges$w[5] <- 0
  z <- rbinom(n, 1, 0.5)
  for (directed in c(FALSE, TRUE)) {
    res <- network_exposure(edges, data.frame(unit = seq_len(n), arm = z), weight = "w",
                            directed = directed)
    nb <- brute_neighbours(seq_len(n), edges$from, edges$to, edges$w, directed)
    ref <- brute_exposure(seq_len(n), z, nb)
    expect_exposure_equal(res, ref)
    expect_equal(res$total_weight, ref$total, tolerance = 1e-14)
  }
})

test_that("duplicate edges are merged and counted; a-b and b-a are one undirected edge", {
  edges <- data.frame(from = c("a", "b", "a", "a", "c"), to = c("b", "a", "b", "c", "c"))
  res <- network_exposure(edges, c(a = 0, b = 1, c = 1))
  expect_equal(res$degree, c(2L, 1L, 1L))
  expect_equal(res$treated_neighbours, c(2, 0, 0))
  expect_equal(attr(res, "duplicates"), 2)
  expect_equal(attr(res, "self_loops"), 1)
  dir <- network_exposure(edges, c(a = 0, b = 1, c = 1), directed = TRUE)
  ## directed: b -> a is a different edge from a -> b; a -> b twice is one
  expect_equal(dir$degree, c(1L, 1L, 1L))
  expect_equal(attr(dir, "duplicates"), 1)
})

test_that("character, factor and mixed-type ids; arms as labels; named vectors", {
  set.seed(13)
  ids <- paste0("user_", 1:25)
  edges <- random_edges(25, 60, ids)
  z <- rbinom(25, 1, 0.5)
  arm <- ifelse(z == 1, "treatment", "control")
  ref <- brute_exposure(ids, z, brute_neighbours(ids, edges$from, edges$to))
  res <- network_exposure(edges, data.frame(unit = ids, arm = arm))
  expect_exposure_equal(res, ref)
  fac <- edges
  fac$from <- factor(fac$from)
  fac$to <- factor(fac$to, levels = rev(ids))
  expect_equal(network_exposure(fac, stats::setNames(z, ids))$exposure, ref$exposure)
  ## numeric unit ids against integer edge ends
  num <- data.frame(from = c(1L, 2L), to = c(2L, 3L))
  res <- network_exposure(num, data.frame(id = c(1, 2, 3), t = c(TRUE, FALSE, FALSE)), unit = "id")
  expect_named(res, c("id", "degree", "treated_neighbours", "exposure"))
  expect_equal(res$treated_neighbours, c(0, 1, 0))
})

test_that("network_exposure() refuses bad input with classed errors naming the argument", {
  edges <- data.frame(from = 1:3, to = 2:4)
  tr <- data.frame(unit = 1:4, treated = c(1, 0, 0, 1))
  expect_error(network_exposure(edges, tr[1:3, ]), class = "clusterab_unknown_unit")
  expect_error(network_exposure(edges, tr[1:3, ]), "not in `treatment`")
  expect_error(network_exposure(as.matrix(edges), tr), class = "clusterab_error")
  expect_error(network_exposure(edges, tr, from = "src"), "no column `src`")
  expect_error(network_exposure(data.frame(from = c(1, NA), to = 2:3), tr), "missing id")
  expect_error(network_exposure(transform(edges, w = c(1, -1, 2)), tr, weight = "w"),
               "non-negative")
  expect_error(network_exposure(transform(edges, w = c(1, NA, 2)), tr, weight = "w"),
               "finite")
  expect_error(network_exposure(transform(edges, w = c("a", "b", "c")), tr, weight = "w"),
               "numeric")
  expect_error(network_exposure(edges, tr, weight = "nope"), "`weight`")
  expect_error(network_exposure(edges, data.frame(unit = c(1, 1, 2, 3), treated = 0:3 %% 2)),
               "more than once")
  expect_error(network_exposure(edges, data.frame(unit = 1:4, treated = c(1, NA, 0, 0))),
               "missing")
  expect_error(network_exposure(edges, data.frame(unit = 1:4, arm = c("a", "b", "c", "a"))),
               "3 arms")
  expect_error(network_exposure(edges, data.frame(unit = 1:4, a = 1, b = 0)), "two columns")
  expect_error(network_exposure(edges, data.frame(id = 1:4, treated = 1)), "no column `unit`")
  expect_error(network_exposure(edges, c(1, 0, 0, 1)), "named by unit id")
  expect_error(network_exposure(edges, tr, directed = NA), "`directed`")
})

test_that("an edge list with no edges gives every unit degree 0", {
  res <- network_exposure(data.frame(from = integer(0), to = integer(0)),
                          data.frame(unit = 1:3, treated = c(1, 0, 1)))
  expect_equal(res$degree, c(0L, 0L, 0L))
  expect_equal(res$exposure, c(0, 0, 0))
})

test_that("the graph is built in pieces on several threads, identically", {
  set.seed(14)
  n <- 5000
  edges <- data.frame(from = sample.int(n, 3e5, TRUE), to = sample.int(n, 3e5, TRUE),
                      w = runif(3e5))
  edges <- rbind(edges, edges[1:500, ])
  tr <- data.frame(unit = seq_len(n), treated = rbinom(n, 1, 0.3))
  for (directed in c(FALSE, TRUE)) {
    for (weight in list(NULL, "w")) {
      one <- clusterab:::network_graph(edges, tr$unit, directed = directed, weight = weight,
                                       transpose = TRUE, threads = 1L)
      two <- clusterab:::network_graph(edges, tr$unit, directed = directed, weight = weight,
                                       transpose = TRUE, threads = 2L)
      expect_identical(one, two)
    }
  }
  ## and the counts equal a plain tabulation of the distinct pairs
  pairs <- unique(rbind(edges[c("from", "to")], setNames(edges[c("to", "from")], c("from", "to"))))
  pairs <- pairs[pairs$from != pairs$to, ]
  res <- network_exposure(edges, tr)
  expect_equal(res$degree, tabulate(pairs$to, n))
  expect_equal(res$treated_neighbours, tabulate(pairs$to[tr$treated[pairs$from] == 1], n))
})
