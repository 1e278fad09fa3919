#!/bin/sh
# Installs clusterab (and what it needs to run) and runs its main job on the
# bundled event logs of two experiments: the results table of every metric
# and a self-contained HTML report, whose path it prints.
# (The geo experiment's demo: Rscript -e 'demo("geo_experiment", package = "clusterab")')
set -e
cd "$(dirname "$0")/.."
sh scripts/install.sh run
CLUSTERAB_REPORT="${CLUSTERAB_REPORT:-${TMPDIR:-/tmp}/clusterab-experiment-report.html}"
export CLUSTERAB_REPORT
Rscript -e 'demo("experiment_report", package = "clusterab", ask = FALSE, echo = FALSE)'
