#!/usr/bin/env bash
# The fast lane for development: lint, then the unit, golden and property tests (no Prefect server, no PostgreSQL,
# fewer Hypothesis examples), two workers. `make test` runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false GX_ANALYTICS_ENABLED=false
[ -x .venv/bin/ruff ] || bash scripts/setup.sh
.venv/bin/ruff check .
HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-dev} exec .venv/bin/python -m pytest -m "not slow and not integration and not postgres" \
  -n "${PYTEST_WORKERS:-2}" -q "$@"
