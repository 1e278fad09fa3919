## A geo experiment: 40 sales regions were randomised, half to a promotion,
## and revenue was measured in their 1,964 stores. The regions, not the
## stores, are the independent units.
library(clusterab)
data(geo_experiment, package = "clusterab")
cat(sprintf("%d stores in %d regions (%d treated)\n", nrow(geo_experiment),
            length(unique(geo_experiment$region)),
            length(unique(geo_experiment$region[geo_experiment$treated == 1]))))

fit <- lm(revenue ~ treated + baseline, data = geo_experiment)
naive <- coef_test(fit, vcov = vcov(fit))
clustered <- coef_test(fit, cluster = ~ region, type = "CR2", df = "cluster")

cat("\nStores treated as independent (the usual lm() standard errors):")
print(naive)
cat("Clustered by region (CR2 with G - 1 degrees of freedom):")
print(clustered)

contrast <- cbind(naive[, 1:2], clustered[, 2], clustered[, 2] / naive[, 2],
                  naive[, 4], clustered[, 4])
colnames(contrast) <- c("Estimate", "Naive SE", "Clustered SE", "SE ratio",
                        "Naive p", "Clustered p")
cat("Naive versus clustered:\n\n")
print(signif(contrast, 4))
cat(sprintf("\nThe clustered standard error of the treatment effect is %.1f times the naive one:\nthe naive test claims p = %.2g; honestly, p = %.2g.\n",
            contrast["treated", "SE ratio"], contrast["treated", "Naive p"],
            contrast["treated", "Clustered p"]))

cat("\nThe same model through the fast path (one C++ pass, no lm object):\n")
print(summary(cluster_lm(revenue ~ treated + baseline, data = geo_experiment,
                         cluster = ~ region, type = "CR2"), df = "cluster"))

cat("\nA random-intercept model for the regions (as lme4::lmer), with Kenward-Roger df:\n")
mixed <- ri_lmer(revenue ~ treated + baseline + (1 | region), data = geo_experiment)
print(summary(mixed, ddf = "Kenward-Roger"))
rho <- icc(mixed)
print(rho)
sizes <- as.vector(table(geo_experiment$region))
cat(sprintf("Design effect for these region sizes: %.1f, so the %d stores carry the information of about %.0f independent ones.\n",
            design_effect(sizes, rho$estimate), nrow(geo_experiment),
            effective_n(nrow(geo_experiment), sizes, rho$estimate)))
