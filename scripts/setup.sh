#!/bin/sh
# Installs everything clusterab needs to build, test and check, on a fresh
# Debian machine with R: Debian's r-cran-* binaries when apt-get and root are
# available (seconds), else CRAN with install.packages() (compiles; slower).
set -e
R_PKGS="Rcpp RcppEigen RcppParallel BH cli data.table generics testthat sandwich lmtest clubSandwich lme4 lmerTest boot knitr rmarkdown estimatr pbkrtest psych DBI RSQLite roxygen2"
# installed = found on the library path (checked without loading anything)
missing=$(Rscript -e "p <- strsplit('$R_PKGS', ' ')[[1]]; cat(p[!nzchar(vapply(p, function(x) system.file(package = x), ''))])")
tools_missing=""
for t in pandoc qpdf tidy; do command -v "$t" >/dev/null 2>&1 || tools_missing="$tools_missing $t"; done
if [ -z "$missing" ] && [ -z "$tools_missing" ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup: installing Debian packages for:$missing$tools_missing"
  deb=""
  for p in $missing; do deb="$deb r-cran-$(echo "$p" | tr 'A-Z' 'a-z')"; done
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $deb $tools_missing >/dev/null
fi
# Whatever is still missing comes from CRAN (into the user library if the
# system one is not writable).
Rscript -e "
p <- strsplit('$R_PKGS', ' ')[[1]]
miss <- p[!nzchar(vapply(p, function(x) system.file(package = x), ''))]
if (length(miss)) {
  lib <- .libPaths()[1]
  if (file.access(lib, 2) != 0) {
    lib <- Sys.getenv('R_LIBS_USER'); dir.create(lib, recursive = TRUE, showWarnings = FALSE)
    .libPaths(c(lib, .libPaths()))
  }
  message('setup: installing from CRAN: ', paste(miss, collapse = ' '))
  install.packages(miss, lib = lib, repos = 'https://cloud.r-project.org')
}"
