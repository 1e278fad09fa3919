## Kenward-Roger (1997) small-sample adjustment for the random-intercept model
##   y_g = X_g beta + 1 b_g + e_g,  V_g = s2 I + sb2 J_g  (J = 11'),
## computed as pbkrtest computes it (vcovAdj, Lb_ddf, KRmodcomp), but from
## per-cluster statistics only, at cost O(G p^2):
##   M   = sum_g X_g'X_g (p x p),   S = G x p, row g = X_g'1,   n_g = sizes,
##   s2, sb2 = REML estimates of the residual and random-intercept variances.
## Every per-cluster matrix involved has the form a I + b J, and
##   sum_g X_g'(a I + b_g J) X_g = a M + crossprod(S * b, S).
## The variance parameters are ordered as in pbkrtest: 1 = sb2 (dV/dsb2 = J),
## 2 = s2 (dV/ds2 = I).

## kr_parts(M, S, n_g, s2, sb2): list with
##   Phi   = (X'V^-1X)^-1, the unadjusted covariance of beta;
##   Phi_A = pbkrtest::vcovAdj's adjusted covariance, Phi + 2 Phi U Phi;
##   P     = list of P_r = -X'V^-1 G_r V^-1 X (pbkrtest's attr(, "P"));
##   Q     = 2 x 2 list of Q_rs = X'V^-1 G_r V^-1 G_s V^-1 X;
##   IE2   = expected information of (sb2, s2) corrected for estimating beta;
##   W     = 2 IE2^-1 (pbkrtest's attr(, "W")), condi = min |eigen(IE2)|.
## sb2 = 0 (a singular fit) needs no special case: V = s2 I, and the result
## is what pbkrtest returns for such a fit.
kr_parts <- function(M, S, n_g, s2, sb2) {
  M <- as.matrix(M); S <- as.matrix(S); n <- as.numeric(n_g)
  stopifnot(nrow(S) == length(n), ncol(S) == ncol(M), s2 > 0, sb2 >= 0)
  rho <- sb2 / s2
  ## (I - w J) has eigenvalue d = 1 - w n along 1 and 1 elsewhere, so
  ## (I - w J)^k = I - w (1 + d + ... + d^(k-1)) J, free of cancellation.
  d <- 1 / (1 + rho * n)
  w <- rho * d                                  # V_g^-1 = (I - w J) / s2
  cc <- d / s2                                  # J V_g^-1 = V_g^-1 J = cc J
  xq <- function(a, b) a * M + crossprod(S * b, S)
  Phi <- chol2inv(chol(xq(1 / s2, -w / s2)))
  P <- list(-xq(0, cc^2),                                   # V^-1 J V^-1
            -xq(1 / s2^2, -w * (1 + d) / s2^2))             # V^-2
  Q12 <- xq(0, cc^3)                                        # V^-1 J V^-2
  Q <- list(list(xq(0, cc^3 * n), Q12),                     # V^-1 J V^-1 J V^-1
            list(Q12, xq(1 / s2^3, -w * (1 + d + d^2) / s2^3)))  # V^-3
  ## tr(H_r H_s) with H_1 = J V^-1, H_2 = V^-1; tr(V_g^-2) = (n - 1 + d^2) / s2^2
  K <- matrix(c(sum(cc^2 * n^2), sum(cc^2 * n), sum(cc^2 * n),
                sum(n - 1 + d^2) / s2^2), 2, 2)
  IE2 <- matrix(0, 2, 2)
  for (i in 1:2) for (j in 1:2)
    IE2[i, j] <- K[i, j] - 2 * sum(Phi * Q[[i]][[j]]) +
      sum((Phi %*% P[[i]]) * (P[[j]] %*% Phi))
  IE2 <- (IE2 + t(IE2)) / 2
  ## pbkrtest switches to a generalised inverse when IE2 is (near) singular,
  ## e.g. when every cluster has one row and J = I.
  condi <- min(abs(eigen(IE2, symmetric = TRUE, only.values = TRUE)$values))
  W <- 2 * if (condi > 1e-10) solve(IE2) else kr_ginv(IE2)
  W <- (W + t(W)) / 2
  U <- 0
  for (i in 1:2) for (j in 1:2)
    U <- U + W[i, j] * (Q[[i]][[j]] - P[[i]] %*% Phi %*% P[[j]])
  Phi_A <- Phi + 2 * Phi %*% U %*% Phi
  Phi_A <- (Phi_A + t(Phi_A)) / 2
  dimnames(Phi) <- dimnames(Phi_A) <- list(colnames(M), colnames(M))
  list(Phi = Phi, Phi_A = Phi_A, P = P, Q = Q, IE2 = IE2, W = W, condi = condi)
}

## Moore-Penrose inverse with MASS::ginv's tolerance (MASS is not imported).
kr_ginv <- function(X, tol = sqrt(.Machine$double.eps)) {
  s <- svd(X)
  keep <- s$d > max(tol * s$d[1L], 0)
  s$v[, keep, drop = FALSE] %*% (t(s$u[, keep, drop = FALSE]) / s$d[keep])
}

## A1, A2 of Kenward and Roger for the hypothesis L beta = 0 (L: q x p).
kr_A <- function(L, parts) {
  Phi <- parts$Phi; W <- parts$W
  Theta <- crossprod(L, solve(L %*% Phi %*% t(L), L))
  u <- lapply(parts$P, function(P) Theta %*% Phi %*% P %*% Phi)
  tr <- vapply(u, function(x) sum(diag(x)), 0)
  A2 <- 0
  for (i in 1:2) for (j in 1:2) A2 <- A2 + W[i, j] * sum(u[[i]] * t(u[[j]]))
  c(A1 = sum(W * outer(tr, tr)), A2 = A2)
}

## Denominator df, as in pbkrtest::Lb_ddf and pbkrtest:::.KR_adjust.
kr_df_from_A <- function(A, q) {
  A1 <- A[["A1"]]; A2 <- A[["A2"]]
  B <- (A1 + 6 * A2) / (2 * q)
  g <- ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
  den <- 3 * q + 2 * (1 - g)
  V0 <- 1 + g / den * B
  V1 <- 1 - (q - g) / den * B
  V2 <- 1 - (q + 2 - g) / den * B
  if (abs(V0) < 1e-10) V0 <- 0
  ## pbkrtest's .divZero: 0/0 counts as 1
  r <- if (abs(1 - A2 / q) < 1e-14 && abs(V1) < 1e-14) 1 else (1 - A2 / q) / V1
  rho <- r^2 * V0 / (q * V2)
  4 + (q + 2) / (q * rho - 1)
}

## kr_ddf(L, parts): Kenward-Roger df for one contrast L'beta (L a numeric
## vector of length p); equals pbkrtest::Lb_ddf(L, V0 = Phi, Vadj = Phi_A).
kr_ddf <- function(L, parts) {
  L <- matrix(as.numeric(L), nrow = 1L)
  kr_df_from_A(kr_A(L, parts), 1)
}

## kr_ftest(L, beta, parts): KR F test of L beta = 0 (L: q x p, full row
## rank), as pbkrtest::KRmodcomp(model, L). The Wald statistic uses Phi_A;
## stat_unscaled is its value divided by q (KRmodcomp's "FtestU" stat), and
## the reported F statistic is stat_unscaled * F_scaling.
kr_ftest <- function(L, beta, parts) {
  L <- if (is.matrix(L)) L else matrix(as.numeric(L), nrow = 1L)
  q <- nrow(L)
  A <- kr_A(L, parts)
  ddf <- kr_df_from_A(A, q)
  F_scaling <- if (abs(ddf - 2) < 0.01) 1 else ddf * (1 - A[["A2"]] / q) / (ddf - 2)
  Lb <- L %*% as.numeric(beta)
  stat <- as.numeric(crossprod(Lb, solve(L %*% parts$Phi_A %*% t(L), Lb))) / q
  list(stat_unscaled = stat, F_scaling = F_scaling, ndf = q, ddf = ddf,
       p.value = stats::pf(stat * F_scaling, q, ddf, lower.tail = FALSE))
}
