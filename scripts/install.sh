#!/bin/sh
# Sets up dependencies, then installs clusterab from this checkout.
set -e
cd "$(dirname "$0")/.."
sh scripts/setup.sh
lib=$(Rscript -e 'l <- .libPaths()[1]; if (file.access(l, 2) != 0) { l <- Sys.getenv("R_LIBS_USER"); dir.create(l, recursive = TRUE, showWarnings = FALSE) }; cat(l)')
R CMD INSTALL -l "$lib" . >/tmp/clusterab-install.log 2>&1 || {
  tail -n 40 /tmp/clusterab-install.log; echo "install: R CMD INSTALL failed"; exit 1; }
rm -f src/*.o src/*.so
