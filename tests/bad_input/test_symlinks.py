"""Landing files reached through a symbolic link, or that are no regular file: a link to /etc/passwd was read, its
lines quarantined in `_raw_line` and, for a CSV, its first line quoted in the error. Now the file is refused before
anything of it is opened, with a LandingFileError naming it; nothing is written for it (no raw partition, no manifest
entry), and the outside file's content appears nowhere."""
import os

import pytest

from influence_pipeline.sources.ingest import arrived_late, ingest_dataset, landing_path
from influence_pipeline.sources.manifest import read_all
from tests.bad_input.helpers import DS, KEY, RAW, LandingFileError, _file, _rel


def _refused(landing, lake, name: str) -> str:
    with pytest.raises(LandingFileError) as raised:
        ingest_dataset(RAW[name], landing, lake, DS, "run-1", KEY)
    message = str(raised.value)
    assert message.startswith(_rel(name) + ": ")
    assert "root:x" not in message and "/etc" not in message
    assert not (lake / "raw" / name).exists() and read_all(lake) == []  # nothing written for it
    return message


@pytest.mark.parametrize("name", ["web_events", "roster_campaigns"])  # NDJSON, CSV
def test_a_landing_file_that_links_outside_is_refused_naming_it(landing, tmp_path, outside, name):
    path = _file(landing, name)
    path.unlink()
    path.symlink_to(outside)
    message = _refused(landing, tmp_path / "lake", name)
    assert "is a symbolic link" in message
    leaked = [p for p in (tmp_path / "lake").rglob("*") if p.is_file() and b"root:x" in p.read_bytes()]
    assert leaked == []


def test_a_link_to_a_file_inside_landing_is_refused_too(landing, tmp_path):
    # a link is refused whatever it points at: what it points at can change between the check and the read
    path = _file(landing, "web_events")
    target = path.with_name("copy.ndjson")
    path.rename(target)
    path.symlink_to(target.name)
    assert "is a symbolic link" in _refused(landing, tmp_path / "lake", "web_events")


def test_a_dangling_link_is_refused_not_called_missing(landing, tmp_path):
    path = _file(landing, "web_events")
    path.unlink()
    path.symlink_to(tmp_path / "nowhere.ndjson")
    assert "is a symbolic link" in _refused(landing, tmp_path / "lake", "web_events")


def test_a_linked_folder_under_landing_is_refused_naming_the_folder(landing, tmp_path, outside):
    day = _file(landing, "web_events").parent
    real = tmp_path / "elsewhere"
    day.rename(real)
    (real / "events.ndjson").write_text(outside.read_text())
    day.symlink_to(real, target_is_directory=True)
    message = _refused(landing, tmp_path / "lake", "web_events")
    assert f"lies under web_events/{DS}, which is a symbolic link" in message


def test_a_pipe_is_refused_without_blocking(landing, tmp_path):
    path = _file(landing, "web_events")
    path.unlink()
    os.mkfifo(path)  # opening it to read would wait for a writer forever
    assert "not a regular file" in _refused(landing, tmp_path / "lake", "web_events")


def test_a_link_replacing_a_loaded_file_reruns_its_night_to_refuse_it(landing, tmp_path, outside):
    """The nightly's late-file check never hashes the link (it would read the outside file); it reports the file as
    changed, so the night is run again and its ingest refuses it naming the file."""
    lake = tmp_path / "lake"
    ingest_dataset(RAW["web_events"], landing, lake, DS, "run-1", KEY)
    path, _ = landing_path(landing, RAW["web_events"], DS)
    path.unlink()
    path.symlink_to(outside)
    assert arrived_late(RAW["web_events"], landing, lake, DS)
    with pytest.raises(LandingFileError, match="is a symbolic link"):
        ingest_dataset(RAW["web_events"], landing, lake, DS, "run-2", KEY)
    assert [e.run_id for e in read_all(lake)] == ["run-1"]  # the loaded rows stay as they were
