"""`influence forget` on files: who a person is (identifiers linked through their rows), how landing files are
rewritten without them (format and gzip kept, unparseable lines too), how raw rows of a purged landing file are
emptied, and how a later delivery holding them loads them erased."""
import gzip
import hashlib
import hmac
from datetime import date

from tests.conftest import TEST_PII_KEY


def test_linked_identifiers_are_found_to_the_fixed_point_and_digests_match_no_stored_hash():
    import polars as pl

    from influence_pipeline.transforms.erasure import linked_digests, value_digest

    key = TEST_PII_KEY.encode()
    rows = pl.DataFrame({"row": ["o1", "o1", "w1", "w1", "w2", "x9"], "digest": ["e", "c", "c", "a", "a", "z"]})
    assert linked_digests(rows, {"e"}) == {"e", "c", "a"}  # e-mail → customer (order) → device (checkout)
    assert value_digest("gid://shopify/Customer/42", "customer_id", key) == value_digest(" 42 ", "customer_id", key)
    assert value_digest("Bob@Example.com ", "email", key) == value_digest("bob@example.com", "email", key)
    ingest_hash = hmac.new(key, b"bob@example.com", hashlib.sha256).hexdigest()
    assert value_digest("bob@example.com", "email", key) != ingest_hash
    assert value_digest("gid://shopify/Customer/x", "customer_id", key) is None


def test_erasure_rewrites_landing_files_in_their_format_and_guards_later_deliveries(data_dir):
    import polars as pl

    from influence_pipeline.erasure import erase_person
    from influence_pipeline.erasure_log import without_erased
    from influence_pipeline.schemas.raw import BY_NAME
    from influence_pipeline.sources.landing import iter_landing_tables

    landing, lake, key = data_dir / "landing", data_dir / "lake", TEST_PII_KEY.encode()
    events = next(landing.glob("web_events/*/events.ndjson"))
    lines = events.read_text().split("\n")
    # an unparseable line of the person's device: no field matches, the clear id in it does
    lines.insert(1, '{"event_id":"x","anonymous_id":"anon-2","event_at":')
    events.unlink()
    gz = events.with_name("events.ndjson.gz")
    gz.write_bytes(gzip.compress("\n".join(lines).encode()))
    signups = next(landing.glob("signups/*/signups.csv"))
    signups.write_text(signups.read_text() + 'SU-9,2026-11-02T14:00:00Z,BOB@example.com,"Bob\nB.",News,,x,true\n')
    before = signups.read_text()

    erasure = erase_person(landing, lake, "email", "bob@example.com", key)
    kept = gzip.decompress(gz.read_bytes()).decode().split("\n")
    assert kept == [line for line in lines if "anon-2" not in line and "Bob@Example.com" not in line]
    assert erasure.landing_rows["web_events"] == len(lines) - len(kept) >= 2
    assert erasure.landing_rows["esp_signups"] == 2  # SU-1 and the two-line record SU-9
    assert signups.read_text() == "".join(line for line in before.splitlines(keepends=True)
                                          if not line.startswith(("SU-1,", "SU-9,", 'B."')))

    # the same lines delivered again load as emptied rows once the erasure is logged
    from influence_pipeline.erasure_log import append_log

    append_log(lake, {"kind": "email", "digests": sorted(erasure.digests)})
    gz.write_bytes(gzip.compress("\n".join(lines).encode()))
    rel = str(gz.relative_to(landing))
    table = pl.concat(map(pl.from_arrow, without_erased(
        iter_landing_tables(BY_NAME["web_events"], gz, rel, "r", key), BY_NAME["web_events"], lake, key)))
    erased = table.filter(pl.col("_parse_error") == "erased on request")
    assert erased.height == len(lines) - len(kept)  # the unparseable line too: its masked text held the device
    assert erased.select(pl.all().exclude("_source_file", "_row_number", "_run_id", "_parse_error")
                         ).null_count().row(0) == (erased.height,) * (erased.width - 4)
    assert table.height == len([line for line in lines if line])


def test_erasure_empties_raw_rows_whose_landing_file_was_purged(data_dir):
    import polars as pl

    from influence_pipeline.erasure import erase_person
    from influence_pipeline.schemas.raw import BY_NAME
    from influence_pipeline.sinks.lake import partition_file
    from influence_pipeline.sources.ingest import ingest_dataset

    landing, lake, key = data_dir / "landing", data_dir / "lake", TEST_PII_KEY.encode()
    events = next(landing.glob("web_events/*/events.ndjson"))
    day = date.fromisoformat(events.parent.name)
    ingest_dataset(BY_NAME["web_events"], landing, lake, day, "r1", key)
    events.unlink()  # archived and purged after loading: its rows live on in raw only
    raw_file = partition_file(lake, "raw", "web_events", "landing_date", day)
    before = pl.read_parquet(raw_file)

    erasure = erase_person(landing, lake, "anonymous_id", "anon-2", key)
    after = pl.read_parquet(raw_file)
    theirs = before.get_column("anonymous_id").eq("anon-2").fill_null(False)
    assert erasure.raw_rows["web_events"] == theirs.sum() > 0 and erasure.days == {day}
    assert after.height == before.height  # rows in stays what the file held: the night quarantines the emptied rows
    assert after.filter(theirs).get_column("_parse_error").to_list() == ["erased on request"] * theirs.sum()
    assert "anon-2" not in after.get_column("anonymous_id").to_list() and "Bob@Example.com" not in repr(after.rows())
    assert after.filter(~theirs).equals(before.filter(~theirs))
