"""Night snapshots of the lake: sealed nights never change, unchanged partitions are shared, `current` switches in
one rename, pruning keeps what reruns and open readers need, a lake from before snapshots is adopted."""
import os
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from influence_pipeline.sinks.lake import write_partition, write_whole
from influence_pipeline.sinks.snapshots import (
    SnapshotMissing,
    adopt_unversioned,
    base_for,
    building,
    changed_files,
    current,
    prune,
    seal,
    switch,
)

D = [date(2026, 11, 1) + timedelta(days=i) for i in range(5)]
ROWS = pa.table({"post_id": ["a", "b"], "views": [1, 2]})
INPUTS = {"web_events": "abc"}


def _night(root, day, base, value=1):
    with building(root, day, base) as path:
        write_partition(pa.table({"v": [value]}), path, "staging", "stg_x", "landing_date", day)
        write_whole(pa.table({"v": [value]}), path, "marts", "dim_x")
        return seal(path, day, base, INPUTS, f"run-{day}")


def test_a_night_shares_unchanged_files_and_never_changes_the_one_it_built_on(tmp_path):
    first = _night(tmp_path, D[0], None)
    second = _night(tmp_path, D[1], first, value=2)
    old_day = "staging/stg_x/landing_date=2026-11-01/part-0.parquet"
    assert os.path.samefile(first.path / old_day, second.path / old_day)  # a hard link, no copy
    assert not os.path.samefile(first.path / "marts/dim_x/part-0.parquet", second.path / "marts/dim_x/part-0.parquet")
    assert [(layer, table, part) for layer, table, part, _ in changed_files(first.path, second.path)] == [
        ("marts", "dim_x", None), ("staging", "stg_x", "landing_date=2026-11-02")]
    assert pq.read_table(first.path / "marts/dim_x/part-0.parquet")["v"].to_pylist() == [1]
    assert second.nights == {D[0]: first.id, D[1]: second.id} and second.inputs == INPUTS


def test_current_switches_to_a_whole_night_and_a_failed_night_leaves_nothing(tmp_path):
    first = _night(tmp_path, D[0], None)
    switch(tmp_path, first)
    with pytest.raises(RuntimeError):
        with building(tmp_path, D[1], first):
            raise RuntimeError("validation failed")
    assert current(tmp_path).id == first.id
    assert [p.name for p in (tmp_path / "nights").iterdir()] == [first.id]


def test_a_rerun_builds_on_the_night_before_it_and_one_pruned_away_is_refused_by_name(tmp_path):
    nights = [None]
    for day in D:
        nights.append(_night(tmp_path, day, nights[-1]))
    switch(tmp_path, nights[-1])
    assert base_for(tmp_path, current(tmp_path), D[3]).id == nights[3].id
    assert base_for(tmp_path, current(tmp_path), D[0]) is None  # before everything: in-order nightlies start empty
    assert prune(tmp_path, keep_nights=2, also_keep=set()) == 3
    with pytest.raises(SnapshotMissing, match="builds on the state after night 2026-11-02.*keep_nights"):
        base_for(tmp_path, current(tmp_path), D[2])
    assert base_for(tmp_path, current(tmp_path), D[4]).id == nights[4].id


def test_a_lake_from_before_snapshots_becomes_the_first_one(tmp_path):
    for day in D[:2]:
        write_partition(ROWS, tmp_path, "staging", "stg_posts", "landing_date", day)
    write_whole(ROWS, tmp_path, "marts", "dim_account")
    adopted = adopt_unversioned(tmp_path, lambda day: {"web_events": f"sha-{day}"})
    assert current(tmp_path).id == adopted.id and adopted.night == D[1]
    assert adopted.inputs == {"web_events": "sha-2026-11-02"}
    assert (tmp_path / "current/staging/stg_posts/landing_date=2026-11-01/part-0.parquet").exists()
    assert not (tmp_path / "staging").exists()
    assert adopt_unversioned(tmp_path, lambda day: {}) is None
    with pytest.raises(SnapshotMissing):
        base_for(tmp_path, adopted, D[1])
