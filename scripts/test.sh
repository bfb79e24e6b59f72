#!/usr/bin/env bash
# The test command: installs everything the tests need on a fresh Debian machine, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false GX_ANALYTICS_ENABLED=false
bash scripts/setup.sh
bash scripts/postgres.sh
bash scripts/chromium.sh
# The page tests skip without a browser on a developer's machine; here a missing browser is a failure.
export INFLUENCE_REQUIRE_BROWSER=1
export INFLUENCE_TEST_PG_URL=${INFLUENCE_TEST_PG_URL:-postgresql+psycopg://influence:influence@127.0.0.1:${PGPORT:-5432}/influence_test}
# Two workers (the machine has two cores), each with its own PostgreSQL database and Prefect test server;
# work stealing keeps both busy when a few long end-to-end tests remain.
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" --dist worksteal --durations=25 "$@"
