## Multiway clustering: the meat of several clustering terms from the rows of
## a fit, for the types whose meat needs only the per-cluster scores
## (score_needs() is "r1": HC0, HC1 and their cadjust variants): the sum over
## terms of factor_t * sum_g (B s_tg)(B s_tg)', in one C++ call
## (src/multiway.cpp) that forms the residuals once, never stores the scores
## of one-row clusters (most of an intersection) and runs the terms and
## blocks in parallel with sums in a fixed order (results do not depend on
## the threads). `rows` as for scores_from_rows(); `factors` the signed
## small-sample factors of the terms. With `y` and `beta` (coefficients in
## the data's units, on the kept columns) the residuals are
## y - y_shift - z beta, else rows$e.
multiway_meat <- function(rows, terms, factors, threads, y = NULL, y_shift = 0,
                          beta = numeric(0)) {
  scale <- if (is.null(rows$scale)) rep(1, length(rows$columns)) else rows$scale
  cpp_multiway_meat(rows$columns, rows$intercept, if (is.null(y)) rows$e else y, y_shift, beta,
                    rows$shift, scale, rows$w, if (is.null(rows$wscale)) 1 else rows$wscale,
                    if (is.null(rows$escale)) 1 else rows$escale,
                    lapply(terms, `[[`, "codes"), vapply(terms, `[[`, integer(1L), "G"),
                    factors, unname(rows$bread), threads)
}

## Whether a type's multiway meat goes through multiway_meat().
multiway_scores_only <- function(type, weighted) identical(score_needs(type, weighted), "r1")
