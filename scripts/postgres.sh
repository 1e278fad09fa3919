#!/bin/sh
# A throwaway PostgreSQL server for the database tests:
#   eval "$(sh scripts/postgres.sh start)"   # prints the export lines
#   sh scripts/postgres.sh stop
# start: installs Debian's postgresql package when its programs are missing
# (as root with apt-get), creates a cluster in a temporary directory owned by
# an unprivileged user (postgres, or nobody; the server refuses to run as
# root), starts it on localhost port $CLUSTERAB_PG_PORT (54329 by default)
# with trust authentication, creates the database `clusterab`, and prints
#   export CLUSTERAB_PG="host=localhost port=54329 user=clusterab dbname=clusterab"
# which the tests read (tests/testthat/helper-databases.R). Everything it
# says goes to stderr, so only the export line is on stdout; when no server
# can be started it prints nothing on stdout and exits 0, and the
# PostgreSQL tests skip, saying why (in CI they fail instead).
# stop: stops the server and removes its directory.
set -u
mode=${1:-start}
port=${CLUSTERAB_PG_PORT:-54329}
state=${TMPDIR:-/tmp}/clusterab-postgres-$port

say() { echo "postgres.sh: $*" >&2; }

bindir() {
  for d in "$(pg_config --bindir 2>/dev/null)" /usr/lib/postgresql/*/bin; do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

# runs a command line as the server's user
as_user() {
  if [ "$(id -u)" = 0 ]; then su "$run_as" -s /bin/sh -c "$1"; else sh -c "$1"; fi
}

case "$mode" in
  stop)
    if [ -f "$state/dir" ]; then
      dir=$(cat "$state/dir")
      run_as=$(cat "$state/user")
      bin=$(bindir) && as_user "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop" >/dev/null 2>&1
      rm -rf "$dir"
    fi
    rm -rf "$state"
    exit 0 ;;
  start) ;;
  *) echo "usage: sh scripts/postgres.sh start|stop" >&2; exit 2 ;;
esac

bin=$(bindir)
if [ -z "$bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing Debian's postgresql"
  # without starting Debian's own cluster: only the throwaway one runs
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy=1
  fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1
  [ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d
  bin=$(bindir)
fi
if [ -z "$bin" ]; then
  say "no PostgreSQL server programs (initdb, pg_ctl); the PostgreSQL tests will skip"
  exit 0
fi

sh "$0" stop
mkdir -p "$state"
dir=$(mktemp -d "${TMPDIR:-/tmp}/clusterab-pg.XXXXXX")
if [ "$(id -u)" = 0 ]; then
  if id postgres >/dev/null 2>&1; then run_as=postgres; else run_as=nobody; fi
  chown "$run_as" "$dir"
else
  run_as=$(id -un)
fi
echo "$dir" > "$state/dir"
echo "$run_as" > "$state/user"
if ! as_user "'$bin/initdb' -D '$dir/data' -U clusterab -A trust -E UTF8 --no-locale" >/dev/null 2>&1; then
  say "initdb failed; the PostgreSQL tests will skip"
  exit 0
fi
if ! as_user "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -w -t 60 -o \"-p $port -k '$dir' -c listen_addresses=localhost -c fsync=off\" start" >/dev/null 2>&1; then
  say "the server did not start (port $port in use?); see $dir/log. The PostgreSQL tests will skip"
  cat "$dir/log" >&2 2>/dev/null
  exit 0
fi
if ! as_user "'$bin/createdb' -h localhost -p $port -U clusterab clusterab" >/dev/null 2>&1; then
  say "createdb failed; the PostgreSQL tests will skip"
  exit 0
fi
say "$("$bin/pg_ctl" --version) running on localhost:$port (data in $dir)"
echo "export CLUSTERAB_PG=\"host=localhost port=$port user=clusterab dbname=clusterab\""
