.PHONY: demo test check
demo:  ## sample data → nightly runs → ./data (DuckDB warehouse + Parquet lake), then a summary
	bash scripts/demo.sh
test:  ## install what the tests need (package, PostgreSQL, Chromium) and run every test, in parallel (what CI runs)
	bash scripts/test.sh
check:  ## the fast lane while developing: lint + unit, golden and property tests (no Prefect server, no PostgreSQL)
	bash scripts/check.sh
