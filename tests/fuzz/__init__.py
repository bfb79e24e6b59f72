"""A fuzzer of landing files: mutate the landing file of every source and format, run ingest + validate + staging
through the real code paths, and classify every case as handled (rows published or quarantined with a reason, audit
balanced), refused (a LandingFileError naming the file) or crashed. `python -m tests.fuzz --cases 2000 --seed 1
--json out.json` runs thousands; tests/fuzz/test_fuzz.py runs a few, deterministically."""
