## Clustered regression data for the CR2, Satterthwaite and Wald tests
## (test-satterthwaite.R, test-wald-test.R): G clusters whose sizes are
## `sizes` ("balanced": 10 rows each; "unequal": one cluster of 500 rows, the
## others 2 to 15; "varied": 3 to 25), a cluster-level treatment `trt`, a
## covariate `x1` with a cluster component, `x2`, weights `w` that vary
## within clusters, with `factor` a three-level factor `f`, and an outcome `y`
## with cluster effects and errors whose spread depends on `trt`.
regression_data <- function(sizes = c("varied", "balanced", "unequal"), seed = 1,
                            G = switch(sizes, balanced = 12L, unequal = 20L, 16L),
                            x1_effect = 1, factor = FALSE) {
  sizes <- match.arg(sizes)
  set.seed(seed)
  size <- switch(sizes,
    balanced = rep(10L, G),
    unequal = c(500L, sample(2:15, G - 1L, replace = TRUE)),
    varied = sample(3:25, G, replace = TRUE))
  g <- rep(seq_len(G), size)
  n <- length(g)
  trt <- rep(c(0, 1), length.out = G)[sample(G)][g]
  x1 <- rnorm(n) + rnorm(G)[g]
  x2 <- runif(n)
  w <- runif(n, 0.5, 3)
  d <- data.frame(g = g, trt = trt, x1 = x1, x2 = x2, w = w)
  if (factor) d$f <- factor(sample(c("a", "b", "c"), n, replace = TRUE))
  d$y <- 1 + 0.3 * trt + x1_effect * x1 - x2 + rnorm(G)[g] + rnorm(n) * (1 + trt)
  d
}
