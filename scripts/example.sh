#!/bin/sh
# Installs clusterab (and what it needs to run) and runs its main job on the
# bundled geo experiment: naive versus cluster-robust standard errors.
set -e
cd "$(dirname "$0")/.."
sh scripts/install.sh run
Rscript -e 'demo("geo_experiment", package = "clusterab", ask = FALSE, echo = FALSE)'
