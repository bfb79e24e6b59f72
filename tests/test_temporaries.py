"""Temporaries (influence_pipeline.atomic): written in the data dir's staging directory, out of every reader's glob
over the lake, and swept at the next start whatever their age — the BI copy's and its `.wal` included — while a live
writer's stay; and a killed run takes Prefect's temporary server with it."""
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from influence_pipeline.atomic import STAGING_DIR, TMP_MARK, prepare_staging, stage, unstage, write_atomic
from influence_pipeline.sinks.lake import sweep_temporaries, write_partition
from tests.conftest import FIXTURE_DATE
from tests.crash_helper import DAY, rows

ROOT = Path(__file__).resolve().parents[1]
DS = date.fromisoformat(FIXTURE_DATE)


def _count(glob: str) -> int:
    with duckdb.connect() as con:
        return con.execute("SELECT count(*) FROM read_parquet(?)", [glob]).fetchone()[0]


def _leftover_name(target: str) -> str:
    """A temporary's name as a killed writer leaves it (no writer holds its lock any more)."""
    return f"{TMP_MARK}{uuid.uuid4().hex}-{target}.partial"


def _kill_mid_write(lake: Path) -> Path:
    """A child writing a large partition into `lake`, SIGKILLed once its temporary exists; returns that temporary."""
    child = subprocess.Popen([sys.executable, "-m", "tests.crash_helper", "parquet", str(lake)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    staging = lake.parent / STAGING_DIR
    deadline = time.monotonic() + 60
    while not list(staging.glob("*.partial")) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    [tmp] = list(staging.glob("*.partial"))
    return tmp


def test_a_temporary_is_written_where_no_glob_over_the_lake_reaches_it(tmp_path):
    lake = tmp_path / "data" / "lake"
    prepare_staging(tmp_path / "data")
    write_partition(rows("old", 5), lake, "staging", "stg_t", "landing_date", DAY)
    seen = {}

    def write(tmp: Path) -> None:  # the temporary is a complete Parquet file before its rename
        pq.write_table(rows("new", 7).drop_columns(["landing_date"]), tmp)
        seen["where"] = tmp.parent
        seen["counts"] = [_count(str(lake / "**" / "*.parquet")), _count(str(lake / "**" / "*")),
                          _count(str(lake / "staging" / "stg_t" / "*" / "*"))]

    target = lake / "staging" / "stg_t" / f"landing_date={DAY}" / "part-0.parquet"
    write_atomic(target, write)
    assert seen == {"where": tmp_path / "data" / STAGING_DIR, "counts": [5, 5, 5]}
    assert _count(str(lake / "**" / "*.parquet")) == 7
    assert [p.name for p in (tmp_path / "data" / STAGING_DIR).iterdir()] == []  # lock file gone with it


def test_a_killed_writers_temporary_stays_out_of_the_lake_and_is_swept_whatever_its_age(tmp_path):
    lake = tmp_path / "data" / "lake"
    prepare_staging(tmp_path / "data")
    path = write_partition(rows("old", 5), lake, "staging", "stg_crash", "landing_date", DAY)
    tmp = _kill_mid_write(lake)
    assert tmp.stat().st_mtime > time.time() - 3600  # younger than an hour: the sweep used to leave it
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert _count(str(lake / "**" / "*")) == 5
    assert sweep_temporaries(tmp_path / "data") == 1
    assert list((tmp_path / "data" / STAGING_DIR).iterdir()) == []


def test_a_live_writers_temporary_is_not_swept(tmp_path):
    prepare_staging(tmp_path)
    tmp = stage(tmp_path / "lake" / "t" / "part-0.parquet")
    try:
        tmp.write_bytes(b"being written")
        assert sweep_temporaries(tmp_path) == 0 and tmp.exists()
    finally:
        unstage(tmp)
    assert list((tmp_path / STAGING_DIR).iterdir()) == []


def test_without_a_staging_directory_the_temporary_lies_beside_its_target_and_is_swept(tmp_path):
    target = tmp_path / "reports" / "report.html"
    seen = {}
    write_atomic(target, lambda tmp: (tmp.write_text("page"), seen.setdefault("dir", tmp.parent)))
    assert seen["dir"] == target.parent and target.read_text() == "page"
    leftover = target.with_name(_leftover_name(target.name))
    leftover.write_text("half")
    assert sweep_temporaries(tmp_path) == 1 and [p.name for p in target.parent.iterdir()] == [target.name]


def _plant_leftovers(data: Path) -> tuple[list[Path], str, int]:
    """What killed runs leave, younger than an hour: a complete Parquet temporary beside a raw partition, a dead
    night's building directory, the BI copy's temporaries and `.wal` (old and new names), a staged temporary.
    Returns them, a glob over the raw table and its true row count."""
    partition = sorted((data / "lake" / "raw" / "web_events").glob("*/*.parquet"))[0]
    table_glob = str(partition.parent.parent / "*" / "*")
    rows_before = _count(table_glob)
    beside = partition.with_name(_leftover_name(partition.name))
    shutil.copy(partition, beside)
    night = next(p for p in (data / "lake" / "nights").iterdir() if not p.name.startswith("."))
    building = data / "lake" / "nights" / f".building-{FIXTURE_DATE}-deadbeef0000"
    shutil.copytree(night, building)
    bi = data / "bi"
    staged = data / STAGING_DIR / _leftover_name("warehouse.duckdb")
    leftovers = [beside, building, bi / f".warehouse.duckdb.{uuid.uuid4().hex}.tmp",
                 bi / f".warehouse.duckdb.{uuid.uuid4().hex}.tmp.wal", bi / _leftover_name("warehouse.duckdb"),
                 bi / f"{_leftover_name('warehouse.duckdb')}.wal", staged, staged.with_name(f"{staged.name}.wal")]
    for path in leftovers[2:]:
        path.write_bytes(b"left by a killed run")
    return leftovers, table_glob, rows_before


def test_the_next_start_sweeps_every_leftover_and_a_glob_never_counts_one(prefect_harness, data_dir):
    from influence_pipeline.flows.nightly import nightly

    nightly(ds=DS)
    assert (data_dir / STAGING_DIR).is_dir()
    leftovers, table_glob, rows_before = _plant_leftovers(data_dir)
    assert _count(table_glob) == 2 * rows_before  # the finding: a reader's */* glob counts the temporary's rows
    assert all(path.exists() for path in leftovers)

    nightly(ds=DS)
    assert [path for path in leftovers if path.exists()] == []
    assert _count(table_glob) == rows_before
    assert list((data_dir / STAGING_DIR).iterdir()) == []
    assert sorted(p.name for p in (data_dir / "bi").iterdir()) == ["warehouse.duckdb"]
    with duckdb.connect(str(data_dir / "bi" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.fct_visit").fetchone()[0] > 0
    tmp_names = [p for p in data_dir.rglob(f"{TMP_MARK}*")] + list((data_dir / "lake" / "nights").glob(".*"))
    assert tmp_names == []


def test_a_killed_runs_staged_parquet_is_gone_after_the_next_start(prefect_harness, data_dir):
    from influence_pipeline.flows.nightly import nightly

    nightly(ds=DS)
    lake = data_dir / "lake"
    before = _count(str(lake / "current" / "**" / "*.parquet"))
    tmp = _kill_mid_write(lake)
    assert _count(str(lake / "current" / "**" / "*.parquet")) == before
    nightly(ds=DS)
    assert not tmp.exists() and list((data_dir / STAGING_DIR).iterdir()) == []


def test_a_prepared_bi_copy_is_built_in_staging_and_discarded_with_its_companions(tmp_path):
    from influence_pipeline.sinks.bi import discard_readonly_copy, prepare_readonly_copy

    prepare_staging(tmp_path)
    target = tmp_path / "bi" / "warehouse.duckdb"
    prepared = prepare_readonly_copy(tmp_path / "lake" / "current" / "marts", target)
    assert prepared.parent == tmp_path / STAGING_DIR and not target.exists()
    with duckdb.connect(str(prepared), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'marts'").fetchone()[0] > 0
    prepared.with_name(f"{prepared.name}.wal").write_bytes(b"")
    discard_readonly_copy(prepared)
    assert list((tmp_path / STAGING_DIR).iterdir()) == []


def test_an_interrupted_sweep_keeps_nothing_it_should_drop(tmp_path):
    """A temporary whose lock file went first (a sweep killed half-way) counts as dead."""
    staging = prepare_staging(tmp_path)
    orphan = staging / _leftover_name("part-0.parquet")
    pq.write_table(pa.table({"a": [1]}), orphan)
    assert sweep_temporaries(tmp_path) == 1 and not orphan.exists()


def _children(pid: int) -> dict[int, str]:
    """Live (not zombie) child processes of `pid`: pid -> command line."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(stat.parent.name)] = cmdline
    return found


def assert_gone(pids: list[int]) -> None:
    """Every process of `pids` ends within 30 s (a killed run's server and watchdog)."""
    deadline = time.monotonic() + 30
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, pids))


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_run_takes_its_temporary_prefect_server_with_it(data_dir, tmp_path):
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)  # the CLI's default: Prefect starts a temporary server for the run
    child = subprocess.Popen([sys.executable, "-m", "influence_pipeline", "run", "--date", FIXTURE_DATE], cwd=ROOT,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock, deadline = data_dir / ".writer.lock", time.monotonic() + 240
        while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)  # the run holds the data dir: its server is up and tied to it
        children = _children(child.pid)
        servers = [pid for pid, cmd in children.items() if "uvicorn" in cmd]
        watchdogs = [pid for pid, cmd in children.items() if "SIG_IGN" in cmd]
        assert child.poll() is None and len(servers) == 1 and len(watchdogs) == 1, children
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert_gone(servers + watchdogs)
