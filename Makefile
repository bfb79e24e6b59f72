.PHONY: demo test
demo:  ## sample data → nightly runs → ./data (DuckDB warehouse + Parquet lake), then a summary
	bash scripts/demo.sh
test:  ## install what the tests need (package, PostgreSQL) and run them
	bash scripts/test.sh
