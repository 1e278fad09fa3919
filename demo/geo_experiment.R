## A geo experiment: 40 sales regions were randomised, half to a promotion,
## and revenue was measured in their 1,964 stores. The regions, not the
## stores, are the independent units.
library(clusterab)
data(geo_experiment, package = "clusterab")
n_stores <- nrow(geo_experiment)
cat(sprintf("%s stores in %d regions (%d treated)\n", format(n_stores, big.mark = ","),
            length(unique(geo_experiment$region)),
            length(unique(geo_experiment$region[geo_experiment$treated == 1]))))

## p-values as printCoefmat() shows them ("< 2e-16", not 0), numbers to a
## few significant digits without trailing zeros
format_p <- function(p) vapply(p, format.pval, "", digits = 2, eps = 2e-16)
format_num <- function(x, digits = 3) formatC(signif(x, digits), digits = digits, format = "fg")

fit <- lm(revenue ~ treated + baseline, data = geo_experiment)
naive <- coef_test(fit, vcov = vcov(fit))
clustered <- coef_test(fit, cluster = ~ region, type = "CR2", df = "cluster")

cat("\nStores treated as independent (the usual lm() standard errors):")
print(naive)
cat("Clustered by region (CR2 with G - 1 degrees of freedom):")
print(clustered)

se_ratio <- clustered[, 2] / naive[, 2]
contrast <- data.frame(Estimate = format_num(naive[, 1], 4),
                       `Naive SE` = format_num(naive[, 2]),
                       `Clustered SE` = format_num(clustered[, 2]),
                       `SE ratio` = format_num(se_ratio, 2),
                       `Naive p` = format_p(naive[, 4]),
                       `Clustered p` = format_p(clustered[, 4]),
                       row.names = rownames(naive), check.names = FALSE)
cat("Naive versus clustered:\n\n")
print(contrast)
cat(sprintf("\nThe clustered standard error of the treatment effect is %.1f times the naive one:\nthe naive test claims p = %s; honestly, p = %s.\n",
            se_ratio[["treated"]], format_p(naive["treated", 4]),
            format_p(clustered["treated", 4])))

cat("\nThe same model through the fast path (one C++ pass, no lm object):\n")
print(summary(cluster_lm(revenue ~ treated + baseline, data = geo_experiment,
                         cluster = ~ region, type = "CR2"), df = "cluster"))

cat("\nA random-intercept model for the regions (as lme4::lmer), with Kenward-Roger df:\n\n")
mixed <- ri_lmer(revenue ~ treated + baseline + (1 | region), data = geo_experiment)
print(VarCorr(mixed))
cat("\n")
fixed <- summary(mixed, ddf = "Kenward-Roger")$coefficients
fixed[, "df"] <- round(fixed[, "df"], 1)
printCoefmat(fixed, digits = 4, cs.ind = 1:2, tst.ind = 4, signif.legend = FALSE)
cat(sprintf(paste0(
  "\nThe mixed model estimates the effect at %s, the regression at %s. They estimate\n",
  "the same effect but weight the data differently: the mixed model is a GLS fit\n",
  "that weights each region by the precision of its mean (more stores, more weight,\n",
  "the less so the more regions differ), where the regression weights every store\n",
  "equally. The two differ by chance, well within either standard error.\n\n"),
  format_num(fixed["treated", 1]), format_num(coef(fit)[["treated"]])))
rho <- icc(mixed)
print(rho)
sizes <- as.vector(table(geo_experiment$region))
cat(sprintf("Design effect for these region sizes: %s, so the %s stores carry the information of about %.0f independent ones.\n",
            format_num(design_effect(sizes, rho$estimate)), format(n_stores, big.mark = ","),
            effective_n(n_stores, sizes, rho$estimate)))
