#!/bin/sh
# Installs clusterab from this checkout, with its vignettes, after
# scripts/setup.sh has installed what MODE needs: sh scripts/install.sh [run|test|check]
# The package is built (R CMD build, which builds the vignettes when knitr,
# rmarkdown and pandoc are there) and the tarball installed (R CMD INSTALL)
# into the first writable library: the system one for root, else the user
# library R_LIBS_USER.
set -e
mode=${1:-run}
cd "$(dirname "$0")/.."
sh scripts/setup.sh "$mode"
lib=$(Rscript scripts/setup.R lib)
log=$(mktemp "${TMPDIR:-/tmp}/clusterab-install.XXXXXX")
build=$(mktemp -d "${TMPDIR:-/tmp}/clusterab-build.XXXXXX")
fail() {
  tail -n 40 "$log"
  echo "install: $1 failed; the whole log is $log"
  rm -rf "$build"
  exit 1
}
if Rscript -e 'quit(status = !(requireNamespace("knitr", quietly = TRUE) && requireNamespace("rmarkdown", quietly = TRUE) && rmarkdown::pandoc_available("1.14")))' 2>/dev/null; then
  vignettes=""
else
  vignettes="--no-build-vignettes"
  echo "install: knitr, rmarkdown or pandoc is missing, so the vignettes are not built"
fi
src=$(pwd)
echo "install: building and installing clusterab into $lib (log: $log)"
if ! (cd "$build" && R CMD build --no-manual $vignettes "$src") >"$log" 2>&1; then
  [ -z "$vignettes" ] || fail "R CMD build"
  # a vignette that fails to build should not keep the package from a user
  tail -n 20 "$log"
  echo "install: WARNING: building the vignettes failed (above); installing clusterab without them"
  (cd "$build" && R CMD build --no-manual --no-build-vignettes "$src") >>"$log" 2>&1 || fail "R CMD build"
fi
R CMD INSTALL -l "$lib" "$build"/clusterab_*.tar.gz >>"$log" 2>&1 || fail "R CMD INSTALL"
rm -rf "$build" "$log"
echo "install: clusterab installed in $lib"
