"""A large NDJSON landing file is read and written to its raw partition piece by piece: the pieces together equal
the per-line reader's table, lines keep their numbers across piece boundaries, and an error in a late piece leaves
the published partition as it was."""
from __future__ import annotations

import gzip
import shutil
from datetime import date

import pyarrow.parquet as pq
import pytest

from influence_pipeline.schemas.raw import BY_NAME
from influence_pipeline.sinks.lake import partition_file
from influence_pipeline.sources import landing, ndjson_native
from influence_pipeline.sources.ingest import ingest_dataset
from influence_pipeline.sources.landing import LandingFileError
from influence_pipeline.sources.manifest import read_entry
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

KEY = TEST_PII_KEY.encode()
DS = date.fromisoformat(FIXTURE_DATE)
EVENTS = BY_NAME["web_events"]


def _line(i: int) -> str:
    return f'{{"event_id":"e{i}","event_at":"2026-11-02T10:{i % 60:02d}:00Z","anonymous_id":"a{i}","ip":"10.0.0.{i % 250}"}}'


def _per_line(path, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(ndjson_native, "NATIVE_MIN_BYTES", 1 << 62)
        return landing.read_landing_file(EVENTS, path, path.name, "run", KEY)


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(ndjson_native, "NATIVE_MIN_BYTES", 0)
    monkeypatch.setattr(ndjson_native, "PIECE_BYTES", 1000)
    monkeypatch.setattr(ndjson_native, "CHUNK_BYTES", 300)


def test_piece_boundaries_keep_every_line_and_its_number(tmp_path, monkeypatch, small_pieces):
    """A byte-order mark, CRLF endings, a line longer than a piece, a piece with bytes that are not UTF-8 between
    clean ones, a blank line and no final line break: the pieces read as the whole file does line by line."""
    lines = [_line(i) for i in range(60)]
    lines[7] = lines[7] + "\r"
    lines[20] = '{"event_id":"long","page_url":"https://shop.example/?q=' + "x" * 2500 + '"}'
    lines[31] = '{"event_id":"bad-\xff","event_at":"2026-11-02T10:00:00Z"}'
    lines[40] = ""
    data = b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8", "surrogateescape").replace("\xff".encode(), b"\xff")
    path = tmp_path / "events.ndjson"
    path.write_bytes(data)
    pieces = list(landing.iter_landing_tables(EVENTS, path, path.name, "run", KEY))
    assert len(pieces) > 5
    whole = landing.read_landing_file(EVENTS, path, path.name, "run", KEY)
    assert whole.equals(_per_line(path, monkeypatch))
    numbers = whole.column("_row_number").to_pylist()
    assert numbers == [n for n in range(1, 61) if n != 41]  # line 41 is blank
    errors = dict(zip(numbers, whole.column("_parse_error").to_pylist()))
    assert errors[32].startswith("not valid UTF-8") and errors[21] is None and errors[8] is None
    assert sum(e is not None for e in errors.values()) == 1


def test_ingest_writes_the_partition_piece_by_piece(tmp_path, monkeypatch, small_pieces):
    root = tmp_path / "landing" / "web_events" / FIXTURE_DATE
    root.mkdir(parents=True)
    (root / "events.ndjson").write_text("".join(_line(i) + "\n" for i in range(200)))
    result = ingest_dataset(EVENTS, tmp_path / "landing", tmp_path / "lake", DS, "run-1", KEY)
    raw = pq.ParquetFile(partition_file(tmp_path / "lake", "raw", "web_events", "landing_date", DS))
    assert result.rows == raw.metadata.num_rows == 200
    assert raw.metadata.num_row_groups > 1  # written as read, not gathered first
    provenance = ["_source_file", "_run_id"]
    assert raw.read().drop_columns(provenance).equals(_per_line(root / "events.ndjson", monkeypatch)
                                                      .drop_columns(provenance))


def test_a_gzip_truncated_after_its_first_pieces_leaves_the_published_partition(tmp_path, small_pieces):
    landing_dir = tmp_path / "landing"
    shutil.copytree(FIXTURES / "landing", landing_dir)
    lake = tmp_path / "lake"
    ingest_dataset(EVENTS, landing_dir, lake, DS, "run-1", KEY)
    published = partition_file(lake, "raw", "web_events", "landing_date", DS).read_bytes()
    folder = landing_dir / "web_events" / FIXTURE_DATE
    (folder / "events.ndjson").unlink()
    packed = gzip.compress("".join(_line(i) + "\n" for i in range(3000)).encode())
    (folder / "events.ndjson.gz").write_bytes(packed[: len(packed) * 3 // 4])
    with pytest.raises(LandingFileError, match="events.ndjson.gz: truncated or corrupt gzip"):
        ingest_dataset(EVENTS, landing_dir, lake, DS, "run-2", KEY)
    assert partition_file(lake, "raw", "web_events", "landing_date", DS).read_bytes() == published
    assert read_entry(lake, "web_events", DS).run_id == "run-1"
    assert not [p for p in lake.rglob("*") if p.name.startswith(".tmp-")]


def test_pieces_decoded_ahead_come_back_in_order_and_an_error_stops_them():
    import threading
    import time

    from influence_pipeline.sources.landing import _ahead

    running, most, guard = [0], [0], threading.Lock()

    def job(i):
        def run():
            with guard:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.02 * (5 - i % 5))  # later pieces finish first
            with guard:
                running[0] -= 1
            if i == 7:
                raise ValueError("piece 7 is bad")
            return i
        return run

    got = []
    with pytest.raises(ValueError, match="piece 7"):
        for value in _ahead((job(i) for i in range(20)), workers=2):
            got.append(value)
    assert got == list(range(7))
    assert most[0] <= 2
