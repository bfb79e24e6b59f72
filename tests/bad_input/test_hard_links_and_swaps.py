"""Landing files are opened without following any link (O_NOFOLLOW at every level below the landing dir) and the
opened file itself is checked: a hard link (a second name for a file that may lie outside landing) is refused
naming the file, unless INFLUENCE_LANDING_HARD_LINKS allows it, and a link or another file swapped in after the
check (refuse_unsafe) is refused at the open instead of read. The outside file's content appears nowhere."""
import os
import stat
from datetime import datetime, timezone

import pytest

from influence_pipeline.sources import safe_open
from influence_pipeline.sources.ingest import ingest_dataset, refuse_unsafe
from influence_pipeline.sources.landing import read_landing_file
from influence_pipeline.sources.manifest import read_all
from tests.bad_input.helpers import DS, KEY, RAW, LandingFileError, _file, _rel
from tests.bad_input.test_symlinks import _refused
from tests.bad_input.test_time_range import _events_parquet


@pytest.mark.parametrize("name", ["web_events", "roster_campaigns"])  # NDJSON, CSV
def test_a_hard_link_to_a_file_outside_landing_is_refused_naming_it(landing, tmp_path, outside, name):
    path = _file(landing, name)
    path.unlink()
    os.link(outside, path)
    message = _refused(landing, tmp_path / "lake", name)
    assert "has 2 names (hard links)" in message and "INFLUENCE_LANDING_HARD_LINKS" in message
    leaked = [p for p in (tmp_path / "lake").rglob("*") if p.is_file() and b"root:x" in p.read_bytes()]
    assert leaked == []


def test_hard_links_are_read_when_the_setting_allows_them(landing, tmp_path, monkeypatch):
    path = _file(landing, "web_events")
    os.link(path, tmp_path / "archived-copy.ndjson")  # a delivery tool keeping a second name
    monkeypatch.setenv("INFLUENCE_LANDING_HARD_LINKS", "true")
    result = ingest_dataset(RAW["web_events"], landing, tmp_path / "lake", DS, "run-1", KEY)
    assert (result.status, result.rows) == ("loaded", 7)
    assert [e.file for e in read_all(tmp_path / "lake")] == [_rel("web_events")]


def _swap_after_check(landing, name: str, swap) -> str:
    """Check the landing file as ingestion does, then `swap` it, then read it: the read's refusal message."""
    refuse_unsafe(landing, _rel(name))
    swap(_file(landing, name))
    with pytest.raises(LandingFileError) as raised:
        read_landing_file(RAW[name], _file(landing, name), _rel(name), "run-1", KEY)
    message = str(raised.value)
    assert message.startswith(_rel(name) + ": ") and message.endswith("it was not read")
    assert "root:x" not in message and "/etc" not in message
    return message


@pytest.mark.parametrize("name", ["web_events", "roster_campaigns"])
def test_a_link_swapped_in_after_the_check_is_not_followed(landing, outside, name):
    def swap(path):
        path.unlink()
        path.symlink_to(outside)

    assert "is a symbolic link (swapped in after its check)" in _swap_after_check(landing, name, swap)


def test_a_folder_link_swapped_in_after_the_check_is_not_followed(landing, tmp_path, outside):
    def swap(path):
        real = tmp_path / "elsewhere"
        path.parent.rename(real)
        (real / path.name).write_text(outside.read_text())
        path.parent.symlink_to(real, target_is_directory=True)

    message = _swap_after_check(landing, "web_events", swap)
    assert f"lies under web_events/{DS}, which is a symbolic link" in message


def test_a_hard_link_swapped_in_after_the_check_is_refused_at_the_open(landing, outside):
    def swap(path):
        path.unlink()
        os.link(outside, path)

    assert "has 2 names (hard links)" in _swap_after_check(landing, "web_events", swap)


def test_a_parquet_file_swapped_for_a_link_after_the_check_is_not_followed(landing, tmp_path, outside):
    _events_parquet(landing, datetime(2026, 11, 2, 9, tzinfo=timezone.utc))
    parquet = _file(landing, "web_events").with_suffix(".parquet")
    rel = _rel("web_events").replace(".ndjson", ".parquet")
    refuse_unsafe(landing, rel)
    parquet.unlink()
    parquet.symlink_to(outside)
    with pytest.raises(LandingFileError, match=f"^{rel}: is a symbolic link"):
        read_landing_file(RAW["web_events"], parquet, rel, "run-1", KEY)


def test_the_opened_file_must_be_the_one_the_path_showed(tmp_path, monkeypatch):
    """A rename racing the open (the path showed one file, another was opened) is refused, not read."""
    path, other = tmp_path / "events.ndjson", tmp_path / "other.ndjson"
    path.write_text("{}\n")
    other.write_text("{}\n")
    real_lstat = os.lstat
    monkeypatch.setattr(safe_open.os, "lstat", lambda p, *a, **k: real_lstat(other if p == path else p, *a, **k))
    with pytest.raises(LandingFileError, match="was replaced by another file while being opened"):
        safe_open.open_landing(path, "events.ndjson")


def test_a_regular_landing_file_opens_and_a_pipe_does_not_block(tmp_path):
    path = tmp_path / "day" / "events.ndjson"
    path.parent.mkdir()
    path.write_bytes(b'{"a": 1}\n')
    with safe_open.open_landing(path, "day/events.ndjson") as handle:
        assert handle.read() == b'{"a": 1}\n' and stat.S_ISREG(os.fstat(handle.fileno()).st_mode)
    pipe = tmp_path / "day" / "pipe.ndjson"
    os.mkfifo(pipe)
    with pytest.raises(LandingFileError, match="^day/pipe.ndjson: not a regular file"):
        safe_open.open_landing(pipe, "day/pipe.ndjson")
