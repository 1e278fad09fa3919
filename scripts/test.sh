#!/bin/sh
# Installs clusterab (and what the tests need) and runs the whole test suite.
# The last line printed is "testthat: N passed, N failed[, N skipped]"; the
# exit status is non-zero when a test fails.
set -e
cd "$(dirname "$0")/.."
sh scripts/install.sh test
Rscript tests/run-tests.R
