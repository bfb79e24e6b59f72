"""first_line_per_key: one row per key, the earliest line's, in line order, whether the batch arrives in line order
(kept as it streams past) or not (sorted first)."""
import polars as pl
import pytest

from influence_pipeline.transforms.staging.common import first_line_per_key

ROWS = pl.DataFrame({"_row_number": [1, 2, 3, 4, 5, 6], "event_id": ["a", "b", "a", None, "c", None],
                     "value": ["a1", "b2", "a3", "n4", "c5", "n6"]})
EXPECTED = {"_row_number": [1, 2, 4, 5], "event_id": ["a", "b", None, "c"], "value": ["a1", "b2", "n4", "c5"]}


@pytest.mark.parametrize("order", ["lines", "reversed", "shuffled"])
def test_the_earliest_line_of_each_key_is_kept_in_line_order(order):
    rows = {"lines": ROWS, "reversed": ROWS.reverse(), "shuffled": ROWS.sample(fraction=1, shuffle=True, seed=3)}[order]
    assert first_line_per_key(rows.lazy(), "event_id").collect().to_dict(as_series=False) == EXPECTED


def test_a_batch_in_line_order_streams_to_the_same_rows_as_a_sorted_one(tmp_path):
    rows = pl.DataFrame({"_row_number": range(1, 50_001), "event_id": [f"e{i % 37_000}" for i in range(50_000)]})
    rows.write_parquet(tmp_path / "batch.parquet")
    streamed = first_line_per_key(pl.scan_parquet(tmp_path / "batch.parquet"), "event_id")
    streamed.sink_parquet(tmp_path / "out.parquet")
    expected = rows.sort("_row_number").unique(subset=["event_id"], keep="first", maintain_order=True)
    assert pl.read_parquet(tmp_path / "out.parquet").equals(expected)
    assert expected.height == 37_000
