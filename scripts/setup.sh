#!/bin/sh
# Installs what one of the README's commands needs, on a Debian machine with
# R: sh scripts/setup.sh run|test|check
#   run    the runtime dependencies (Imports and LinkingTo of DESCRIPTION),
#          and knitr, rmarkdown and pandoc to build the vignettes;
#   test   also testthat and the reference packages of Suggests;
#   check  also qpdf and tidy, for R CMD check (.ci/run).
# As root with apt-get: Debian's r-cran-* binaries (a few minutes); anything
# Debian lacks, and for any other user everything, comes from CRAN through
# install.packages() into the user library (scripts/setup.R), compiled from
# source. It stops at the first package that fails, naming it and the system
# library it lacks. To test these scripts: CLUSTERAB_SETUP_EXTRA="pkg, ..."
# adds required packages, CLUSTERAB_SETUP_OPTIONAL optional ones,
# CLUSTERAB_SETUP_NO_APT=1 skips apt-get even as root.
set -e
mode=${1:-test}
case "$mode" in
  run|test|check) ;;
  *) echo "usage: sh scripts/setup.sh run|test|check" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
command -v Rscript >/dev/null 2>&1 ||
  { echo "setup: R is not installed (as root: apt-get install r-base-core)"; exit 1; }

# System tools: a C++ compiler and make (clusterab is compiled), pandoc for
# the vignettes, qpdf and tidy for R CMD check.
tools_missing() {
  cxx=$(R CMD config CXX | cut -d ' ' -f 1)
  command -v "$cxx" >/dev/null 2>&1 || echo g++
  command -v make >/dev/null 2>&1 || echo make
  command -v pandoc >/dev/null 2>&1 || echo pandoc
  if [ "$mode" = check ]; then
    for t in qpdf tidy; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done
  fi
}
tools=$(tools_missing | tr '\n' ' ')
missing=$(Rscript scripts/setup.R missing "$mode")

if [ -n "$(echo $missing $tools)" ] && [ "$(id -u)" = 0 ] &&
   command -v apt-get >/dev/null 2>&1 && [ -z "${CLUSTERAB_SETUP_NO_APT:-}" ]; then
  apt-get update -qq
  deb=""
  for p in $missing; do
    d=r-cran-$(echo "$p" | tr 'A-Z' 'a-z')
    # a package Debian does not have is left to CRAN below
    if apt-cache show "$d" >/dev/null 2>&1; then deb="$deb $d"; else echo "setup: Debian has no $d"; fi
  done
  if [ -n "$(echo $deb $tools)" ]; then
    echo "setup: installing Debian packages:$deb $tools"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $deb $tools >/dev/null
  fi
  tools=$(tools_missing | tr '\n' ' ')
fi

case " $tools " in
  *" g++ "*|*" make "*)
    echo "setup: no C++ compiler or make: clusterab is compiled from source (as root: apt-get install g++ make)"
    exit 1 ;;
esac
Rscript scripts/setup.R install "$mode"
