## Runs the test suite on the installed package and prints one summary line:
## "testthat: N passed, N failed[, N skipped]". Used by scripts/test.sh.
library(testthat)
## plots drawn by the tests go nowhere (no Rplots.pdf in the checkout)
grDevices::pdf(NULL)
res <- as.data.frame(test_dir("tests/testthat", package = "clusterab",
                              load_package = "installed", reporter = "summary",
                              stop_on_failure = FALSE, stop_on_warning = FALSE))
passed <- sum(res$passed)
failed <- sum(res$failed) + sum(res$error)
skipped <- sum(res$skipped)
cat(sprintf("testthat: %d passed, %d failed%s\n", passed, failed,
            if (skipped > 0) sprintf(", %d skipped", skipped) else ""))
quit(status = if (failed > 0) 1 else 0)
