## The R half of scripts/setup.sh: which packages a command needs, and the
## CRAN route for those still missing. Usage:
##   Rscript scripts/setup.R missing MODE   the missing packages, one line
##   Rscript scripts/setup.R install MODE   install them from CRAN
##   Rscript scripts/setup.R lib            the library to install into
## MODE is "run" (scripts/example.sh), "test" (scripts/test.sh) or "check"
## (.ci/run). The package lists are read from DESCRIPTION:
##   run:   Imports and LinkingTo; knitr and rmarkdown to build the vignettes
##          (optional: skipped without pandoc, and a failure only warns);
##   test:  those, testthat, and the reference packages of Suggests
##          (optional: a failure warns, the tests that need one skip);
##   check: all of them required, as R CMD check with
##          _R_CHECK_FORCE_SUGGESTS_=true needs them.
## CLUSTERAB_SETUP_EXTRA="pkg, pkg (>= 1.0)" adds required packages, and
## CLUSTERAB_SETUP_OPTIONAL optional ones (to test the failure paths of these
## scripts).
## Packages come from CRAN as set by R's own `repos` option, one at a time,
## dependencies first, so that the first failure stops the run (or, for an
## optional package, is reported) at once, with the system library it lacks.

args <- commandArgs(trailingOnly = TRUE)
step <- if (length(args) >= 1) args[[1]] else "missing"
mode <- if (length(args) >= 2) args[[2]] else "test"

say <- function(...) cat("setup: ", ..., "\n", sep = "")
fail <- function(...) {
  say(...)
  ## keep the build logs a message points to, nothing else
  if (exists("log_dir") && !length(list.files(log_dir))) unlink(log_dir, recursive = TRUE)
  quit(save = "no", status = 1)
}

## Library ------------------------------------------------------------------

## The first library on the path if it is writable (root, or a user who set
## up a library of their own), else the user library R_LIBS_USER, created
## if needed and put first on the path.
target_library <- function() {
  lib <- .libPaths()[1]
  if (file.access(lib, 2) == 0) return(lib)
  lib <- path.expand(Sys.getenv("R_LIBS_USER"))
  if (!nzchar(lib)) {
    fail("R_LIBS_USER is not set and ", .libPaths()[1], " is not writable: ",
         "set R_LIBS_USER (e.g. in ~/.Renviron) to a directory of your own.")
  }
  if (!dir.exists(lib) && !dir.create(lib, recursive = TRUE, showWarnings = FALSE)) {
    fail("cannot create the user library ", lib, " (R_LIBS_USER).")
  }
  .libPaths(c(lib, .libPaths()))
  lib
}

if (step == "lib") {
  cat(target_library())
  quit(save = "no")
}

## What MODE needs -----------------------------------------------------------

## "a (>= 1.0), b" -> data frame of name, op, version
parse_deps <- function(x) {
  x <- x[!is.na(x)]
  if (!length(x)) return(data.frame(name = character(), op = character(), version = character()))
  parts <- trimws(unlist(strsplit(gsub("\n", " ", x), ",")))
  parts <- parts[nzchar(parts)]
  m <- regmatches(parts, regexec("^([[:alnum:].]+)\\s*(\\(\\s*([<>=]+)\\s*([^)]+)\\))?$", parts))
  data.frame(name = vapply(m, `[`, "", 2), op = vapply(m, `[`, "", 4),
             version = trimws(vapply(m, `[`, "", 5)))
}

desc <- read.dcf("DESCRIPTION", fields = c("Imports", "LinkingTo", "Suggests"))
base_pkgs <- rownames(installed.packages(priority = "base"))
runtime <- parse_deps(desc[1, c("Imports", "LinkingTo")])
runtime <- runtime[!duplicated(runtime$name) & !runtime$name %in% base_pkgs, ]
suggests <- parse_deps(desc[1, "Suggests"])
vignette_pkgs <- suggests[suggests$name %in% c("knitr", "rmarkdown"), ]
extra <- parse_deps(Sys.getenv("CLUSTERAB_SETUP_EXTRA"))
extra_optional <- parse_deps(Sys.getenv("CLUSTERAB_SETUP_OPTIONAL"))

switch(mode,
  run = {
    required <- rbind(runtime, extra)
    optional <- vignette_pkgs
  },
  test = {
    required <- rbind(runtime, suggests[suggests$name == "testthat", ], extra)
    optional <- suggests[suggests$name != "testthat", ]
  },
  check = {
    required <- rbind(runtime, suggests, extra)
    optional <- required[0, ]
  },
  fail("unknown mode \"", mode, "\": use run, test or check.")
)
optional <- rbind(optional, extra_optional)

## installed, and new enough for the version requirement `op version`
satisfied <- function(name, op = "", version = "") {
  if (name %in% base_pkgs) return(TRUE)
  if (!nzchar(system.file(package = name))) return(FALSE)
  if (!nzchar(op)) return(TRUE)
  have <- utils::packageVersion(name)
  do.call(op, list(have, package_version(version)))
}
missing_of <- function(deps) {
  deps$name[!mapply(satisfied, deps$name, deps$op, deps$version)]
}

if (step == "missing") {
  cat(unique(c(missing_of(required), missing_of(optional))), "\n")
  quit(save = "no")
}
if (step != "install") fail("unknown step \"", step, "\": use missing, install or lib.")

## The CRAN route -------------------------------------------------------------

pandoc_ok <- nzchar(Sys.which("pandoc"))
if (mode == "run" && !pandoc_ok && length(missing_of(optional))) {
  say("pandoc is not installed, so the vignettes will not be built and knitr ",
      "and rmarkdown are not installed (as root: apt-get install pandoc).")
  optional <- optional[0, ]
}
todo_required <- missing_of(required)
todo_optional <- missing_of(optional)
if (!length(todo_required) && !length(todo_optional)) quit(save = "no")

repos <- getOption("repos")
repos <- repos[!is.na(repos) & nzchar(repos) & repos != "@CRAN@"]
if (!length(repos)) {
  fail("R has no CRAN mirror set (getOption(\"repos\") is \"@CRAN@\" or empty), ",
       "so the missing packages (", paste(c(todo_required, todo_optional), collapse = " "),
       ") cannot be installed. Choose a mirror in ~/.Rprofile, e.g.\n",
       "  options(repos = c(CRAN = \"https://<your CRAN mirror>\"))\n",
       "and run this command again.")
}
lib <- target_library()
say("installing from CRAN (", paste(repos, collapse = " "), ") into ", lib, ": ",
    paste(c(todo_required, todo_optional), collapse = " "))

db <- utils::available.packages(repos = repos)
## without the filter on R's version, to tell "needs a newer R" apart
db_all <- utils::available.packages(repos = repos, filters = c("OS_type", "subarch", "duplicates"))

## System requirements of packages that commonly fail to compile, and the
## signs of them in a build log.
known_needs <- c(RcppParallel = "cmake", nloptr = "cmake", xml2 = "libxml2-dev",
                 curl = "libcurl4-openssl-dev", openssl = "libssl-dev",
                 systemfonts = "libfontconfig1-dev", textshaping = "libharfbuzz-dev libfribidi-dev",
                 ragg = "libfreetype6-dev libpng-dev", RPostgres = "libpq-dev")
log_signs <- c("cmake" = "cmake", "libxml-2\\.0|xml2-config|libxml/" = "libxml2-dev",
               "curl/curl\\.h|libcurl" = "libcurl4-openssl-dev", "openssl/" = "libssl-dev",
               "gfortran" = "gfortran", "-llapack|-lblas" = "liblapack-dev",
               "zlib\\.h" = "zlib1g-dev", "fontconfig" = "libfontconfig1-dev",
               "libpq-fe\\.h" = "libpq-dev", "uv\\.h|libuv" = "libuv1-dev")

why_unavailable <- function(name) {
  if (name %in% rownames(db_all)) {
    sprintf("%s is not available from CRAN for R %s (its current version needs: %s)",
            name, getRversion(), gsub("\n", " ", db_all[name, "Depends"]))
  } else {
    sprintf("%s is not available from CRAN (%s)", name, paste(repos, collapse = " "))
  }
}

## The packages to install for `name`, dependencies first; stops (returns a
## reason) when one of them is not on CRAN.
plan_for <- function(name, op = "", version = "") {
  plan <- character()
  visit <- function(p, op, version, chain) {
    if (satisfied(p, op, version) || p %in% plan) return(NULL)
    if (p %in% chain) return(NULL)
    if (!p %in% rownames(db)) {
      return(paste0(why_unavailable(p),
                    if (length(chain)) paste0("; needed by ", paste(rev(chain), collapse = " <- "))))
    }
    deps <- parse_deps(db[p, c("Depends", "Imports", "LinkingTo")])
    deps <- deps[deps$name != "R", ]
    for (i in seq_len(nrow(deps))) {
      why <- visit(deps$name[i], deps$op[i], deps$version[i], c(chain, p))
      if (!is.null(why)) return(why)
    }
    plan <<- c(plan, p)
    NULL
  }
  why <- visit(name, op, version, character())
  list(plan = plan, why = why)
}

## Build logs in a private directory that outlives this R session (R deletes
## its own tempdir() on exit), so that a failure's log can be read.
## fs (for rmarkdown) needs libuv1-dev unless it builds the libuv it bundles
if (!nzchar(Sys.getenv("USE_BUNDLED_LIBUV"))) Sys.setenv(USE_BUNDLED_LIBUV = "1")

log_dir <- tempfile("clusterab-setup-", tmpdir = dirname(tempdir()))
dir.create(log_dir, mode = "0700")

## Installs one package (its dependencies are in already); NULL on success,
## else why it failed.
install_one <- function(p) {
  ## its warning ("non-zero exit status") is replaced by the message below
  suppressWarnings(utils::install.packages(p, lib = lib, repos = repos, dependencies = FALSE,
                                           quiet = TRUE, keep_outputs = log_dir))
  if (nzchar(system.file(package = p, lib.loc = lib))) return(NULL)
  out <- file.path(log_dir, paste0(p, ".out"))
  lines <- if (file.exists(out)) readLines(out, warn = FALSE) else character()
  needs <- unname(known_needs[p])
  if (is.na(needs)) {
    hit <- vapply(names(log_signs), function(s) any(grepl(s, lines)), NA)
    needs <- if (any(hit)) unname(log_signs[hit][1]) else NA
  }
  paste0("installing ", p, " from CRAN failed",
         if (!is.na(needs)) paste0(": it needs ", needs, " (as root: apt-get install ", needs, ")"),
         ".\nLast lines of its build log (", out, "):\n",
         paste(utils::tail(lines, 25), collapse = "\n"))
}

install_with_deps <- function(name, op, version) {
  p <- plan_for(name, op, version)
  if (!is.null(p$why)) return(p$why)
  for (q in p$plan) {
    say("installing ", q, if (q != name) paste0(" (for ", name, ")"))
    why <- install_one(q)
    if (!is.null(why)) return(if (q != name) paste0(why, "\n(", q, " is needed by ", name, ")") else why)
  }
  NULL
}

started <- Sys.time()
for (i in which(required$name %in% todo_required)) {
  if (satisfied(required$name[i], required$op[i], required$version[i])) next
  why <- install_with_deps(required$name[i], required$op[i], required$version[i])
  if (!is.null(why)) fail(why, "\nsetup: stopped: ", required$name[i], " is required.")
}
skipped <- character()
for (i in which(optional$name %in% todo_optional)) {
  if (satisfied(optional$name[i], optional$op[i], optional$version[i])) next
  why <- install_with_deps(optional$name[i], optional$op[i], optional$version[i])
  if (!is.null(why)) {
    say("WARNING: ", why)
    say("WARNING: going on without ", optional$name[i],
        if (mode == "run") ": the vignettes will not be built."
        else ": the tests that compare with it will be skipped.")
    skipped <- c(skipped, optional$name[i])
  }
}
if (!length(skipped)) unlink(log_dir, recursive = TRUE)
say(sprintf("CRAN installs done in %.0f min", as.numeric(Sys.time() - started, units = "mins")),
    if (length(skipped)) paste0("; not installed (optional): ", paste(skipped, collapse = " ")))
