#!/usr/bin/env bash
# The demo: install, then two weeks of sample data through the nightly flow into ./data (DuckDB + Parquet).
set -euo pipefail
cd "$(dirname "$0")/.."
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false GX_ANALYTICS_ENABLED=false
bash scripts/setup.sh
exec .venv/bin/influence demo "$@"
