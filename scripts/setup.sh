#!/usr/bin/env bash
# One-time set-up of a fresh machine: the database server binaries the
# sandbox starts (Debian packages, only when missing) and the npm packages.
# Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ] && ! command -v mysqld >/dev/null 2>&1 && [ ! -x /usr/sbin/mysqld ]; then
  need_apt+=(mariadb-server)
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} with apt-get"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# Benchmark loads and peers (sysbench, pt-online-schema-change, pg_repack for
# PostgreSQL 15): optional, so a failure here only warns; the benches say which
# tool is missing. apt-get update only when the first install attempt fails.
if command -v apt-get >/dev/null 2>&1; then
  bench_apt=()
  command -v sysbench >/dev/null 2>&1 || bench_apt+=(sysbench)
  command -v pt-online-schema-change >/dev/null 2>&1 || bench_apt+=(percona-toolkit)
  if [ -x /usr/lib/postgresql/15/bin/postgres ] && [ ! -x /usr/lib/postgresql/15/bin/pg_repack ]; then bench_apt+=(postgresql-15-repack); fi
  if [ ${#bench_apt[@]} -gt 0 ]; then
    echo "installing benchmark tools with apt-get (optional): ${bench_apt[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    { timeout 300 $SUDO apt-get install -y -qq --no-install-recommends "${bench_apt[@]}" \
      || { timeout 120 $SUDO apt-get update -qq && timeout 300 $SUDO apt-get install -y -qq --no-install-recommends "${bench_apt[@]}"; }; } \
      || echo "warning: could not install ${bench_apt[*]}; the benchmarks will skip what is missing"
  fi
fi

if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
