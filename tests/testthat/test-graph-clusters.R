## graph_clusters(): igraph's community detection, one cluster id per unit
## and the share of edges cut.

same_partition <- function(a, b) {
  ## two labelings describe the same partition when they map one-to-one
  nrow(unique(data.frame(a, b))) == length(unique(a)) && length(unique(a)) == length(unique(b))
}

test_that("components equal igraph's; the cut share counts edges between clusters", {
  skip_if_not_installed("igraph")
  edges <- data.frame(from = c("a", "b", "d", "e", "e", "g", "a"),
                      to   = c("b", "c", "e", "f", "d", "g", "b"))
  gc <- graph_clusters(edges, method = "components", units = c(letters[1:7], "h"))
  expect_s3_class(gc, "graph_clusters")
  expect_equal(gc$clusters$unit, c(letters[1:7], "h"))
  ig <- igraph::graph_from_data_frame(edges, directed = FALSE,
                                      vertices = data.frame(name = c(letters[1:7], "h")))
  expect_true(same_partition(gc$clusters$cluster, igraph::components(ig)$membership))
  expect_equal(gc$n_clusters, 4L)
  expect_equal(gc$cut_share, 0)
  expect_equal(sort(gc$sizes), c(1L, 1L, 3L, 3L))
  expect_output(print(gc), "8 units in 4 clusters")
})

test_that("louvain: reproducible under set.seed(), cut share by hand, weights used", {
  skip_if_not_installed("igraph")
  set.seed(1)
  ## two dense communities of 15 joined by three edges
  a <- t(utils::combn(15, 2))
  a <- a[sample(nrow(a), 60), ]
  edges <- data.frame(from = c(a[, 1], a[, 1] + 15, 1, 2, 3), to = c(a[, 2], a[, 2] + 15, 16, 17, 18))
  set.seed(2)
  g1 <- graph_clusters(edges)
  set.seed(2)
  g2 <- graph_clusters(edges)
  expect_identical(g1, g2)
  cl <- g1$clusters$cluster[match(1:30, g1$clusters$unit)]
  cut <- cl[edges$from] != cl[edges$to]
  expect_equal(g1$cut_share, mean(cut))
  expect_lte(g1$cut_share, 0.1)
  ## igraph on the same simple graph gives the same partition
  ig <- igraph::simplify(igraph::graph_from_data_frame(edges[c("from", "to")], directed = FALSE))
  set.seed(2)
  ref <- igraph::membership(igraph::cluster_louvain(ig))
  expect_true(same_partition(g1$clusters$cluster, ref[as.character(g1$clusters$unit)]))
  ## equal weights: the share of the weight cut is the share of edges cut
  edges$w <- 1
  g3 <- graph_clusters(edges, method = "walktrap", weight = "w")
  expect_equal(g3$cut_weight_share, g3$cut_share)
})

test_that("the clusters feed a cluster design", {
  skip_if_not_installed("igraph")
  set.seed(3)
  n <- 60
  edges <- data.frame(from = sample(n, 150, TRUE), to = sample(n, 150, TRUE))
  gc <- graph_clusters(edges, units = 1:n)
  treated_clusters <- sample(gc$n_clusters, max(1, gc$n_clusters %/% 2))
  d <- data.frame(unit = gc$clusters$unit,
                  treated = as.integer(gc$clusters$cluster %in% treated_clusters))
  d$y <- rnorm(n) + d$treated
  fit <- suppressWarnings(exposure_effects(d, "y", "treated", edges,
                                           design = list(type = "cluster", clusters = gc)))
  expect_s3_class(fit, "exposure_effects")
  expect_equal(fit$design$n_blocks, gc$n_clusters)
})

test_that("graph_clusters() refuses bad input", {
  skip_if_not_installed("igraph")
  edges <- data.frame(from = 1:3, to = 2:4)
  expect_error(graph_clusters(edges, method = "spectral"), "`method`")
  expect_error(graph_clusters(edges, units = 1:3), class = "clusterab_unknown_unit")
  expect_error(graph_clusters(edges[0, ]), "no edges")
  expect_error(graph_clusters(edges, from = "a"), "no column `a`")
})
