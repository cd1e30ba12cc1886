#!/usr/bin/env bash
# The PostgreSQL suite against one more server version (default 17, from the
# npm package pg17): every pg-* and resume-pg* integration file (their cases
# are named "PostgreSQL", which -t postgres does not match), then the cases of the
# shared files (scenarios, CLI, ledger, signals, control, adversarial, replica
# discovery) whose names say postgres. Only PostgreSQL servers are started.
# `npm test` runs it after the full suite (on the Debian PostgreSQL 15), so CI
# covers 15 and 17. Usage: bash scripts/test-pg.sh [major]
set -euo pipefail
cd "$(dirname "$0")/.."
export GHOSTWRIGHT_TEST_PG_VERSION="${1:-${GHOSTWRIGHT_TEST_PG_VERSION:-17}}"
export GHOSTWRIGHT_TEST_ENGINES=postgres
echo "[ghostwright] PostgreSQL ${GHOSTWRIGHT_TEST_PG_VERSION} suite"
npx vitest run test/integration/pg- test/integration/resume-pg
npx vitest run -t postgres --exclude 'test/integration/pg-*' --exclude 'test/integration/resume-pg*' --exclude 'test/integration/mysql-*' --exclude 'test/unit/**' test/integration test/scenarios
