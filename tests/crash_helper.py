"""Run by the crash tests in a child process that the test kills with SIGKILL at the worst moment.

    python -m tests.crash_helper warehouse URL     load a partition, announce "deleted" once its rows are gone
                                                   inside the open transaction, then hang until killed
    python -m tests.crash_helper parquet LAKE_DIR  write a large partition, slowly enough to be killed mid-write
"""
import sys
import time
from datetime import date

import pyarrow as pa

from influence_pipeline.sinks.lake import write_partition
from influence_pipeline.sinks.warehouse import connect_warehouse

DAY = date(2026, 11, 2)
SCHEMA = pa.schema([("post_id", pa.string()), ("views", pa.int64()), ("landing_date", pa.date32())])


def rows(prefix: str, n: int) -> pa.Table:
    return pa.table({"post_id": [f"{prefix}{i}" for i in range(n)], "views": list(range(n)),
                     "landing_date": pa.array([DAY] * n, pa.date32())}, schema=SCHEMA)


def _hang_after_delete(url: str) -> None:
    import psycopg

    def announce_and_hang(*_args, **_kwargs):
        print("deleted", flush=True)  # the DELETE ran; the insert has not
        time.sleep(600)

    # The hang is injected at the first step after DELETE in each engine: DuckDB scanning the incoming Arrow rows,
    # PostgreSQL's COPY. Everything before it is the real loader.
    psycopg.Copy.write = announce_and_hang

    def batches():
        announce_and_hang()
        yield from rows("new", 3).to_batches()

    reader = pa.RecordBatchReader.from_batches(SCHEMA, batches())
    warehouse = connect_warehouse(url)
    incoming = reader if url.startswith("duckdb") else rows("new", 3)
    warehouse.replace_partition("staging", "stg_crash", incoming, "landing_date", DAY)


if __name__ == "__main__":
    mode, target = sys.argv[1], sys.argv[2]
    if mode == "warehouse":
        _hang_after_delete(target)
    else:
        big = pa.concat_tables([rows(f"big{k}-", 1_000_000) for k in range(4)])
        print("writing", flush=True)
        write_partition(big, __import__("pathlib").Path(target), "staging", "stg_crash", "landing_date", DAY)
