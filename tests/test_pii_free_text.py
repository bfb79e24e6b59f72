"""Personal data inside URLs and other free text (contract `freeText: true`) is masked at ingestion: e-mails, phone
numbers and IPs written plainly, %-encoded or double-encoded, and the values of query parameters named like personal
or secret data, are found nowhere in the lake, the warehouse, the BI copy, the validation results or the report after
a nightly, while the utm_* values attribution reads survive exactly."""
import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from influence_pipeline.schemas.raw import BY_NAME
from influence_pipeline.sources.masking import mask_line
from influence_pipeline.transforms.free_text import mask_free_text
from influence_pipeline.transforms.staging.common import UTM_PARAMS, url_path, utm_columns
from tests.conftest import FIXTURE_DATE

DS = date.fromisoformat(FIXTURE_DATE)

#: Page URLs and referrers of valid events (published), each hiding personal data in another form.
DIRTY_EVENTS = {
    "0b1f6b2e-6d1c-4f0e-9a51-1f2e3d4c5b01": (
        "https://shop.example.com/products/serum?utm_source=instagram&utm_medium=influencer&utm_campaign=leak-test"
        "&utm_content=Reel+One&email=leaky.alice@mail-one.example&phone=%2B44+20+7946+0958",
        "https://l.instagram.com/?u=https%3A%2F%2Fshop.example.com%2F%3Fcontact%3Dleaky.bob%2540mail-two.example"),
    "0b1f6b2e-6d1c-4f0e-9a51-1f2e3d4c5b02": (
        "https://shop.example.com/?utm_source=tiktok&utm_medium=influencer&utm_campaign=leak%20two"
        "&note=write+to+leaky.carol%40mail-three.example+or+call+%2B1+415+555+0134&from=198.51.100.23",
        "https://ref.example.org/path?visitor=2001%3Adb8%3A%3A7&msg=leaky.dan%2540mail-four.example"),
    "0b1f6b2e-6d1c-4f0e-9a51-1f2e3d4c5b03": (
        "https://shop.example.com/products/serum?utm_source=youtube&utm_medium=video&utm_campaign=leak-three"
        "&access_token=EAAGleakytoken123&user_email=leaky.erin%40mail-five.example&tel=(415)%20555-0199",
        "http://198.51.100.99/?ip=198.51.100.100"),
}
#: A line that is no JSON: it goes to the quarantine, masked.
MALFORMED = ('{"event_id": "0b1f6b2e-6d1c-4f0e-9a51-1f2e3d4c5b04", "page_url": "https://shop.example.com/?e='
             'leaky.frank%2540mail-six.example&t=leaky.gina%40mail-seven.example&ip=198.51.100.42", "ip": ')
#: Every form in which the personal data above could be found in clear.
NEEDLES = ("leaky.alice", "leaky.bob", "leaky.carol", "leaky.dan", "leaky.erin", "leaky.frank", "leaky.gina",
           "mail-one.example", "mail-six.example", "7946 0958", "7946+0958", "415 555 0134", "415+555+0134",
           "555-0199", "198.51.100.23", "198.51.100.99", "198.51.100.100", "198.51.100.42", "2001:db8::7",
           "2001%3Adb8%3A%3A7", "db8%3A%3A7", "EAAGleakytoken123")
UTMS = {"0b1f6b2e-6d1c-4f0e-9a51-1f2e3d4c5b01": ("instagram", "influencer", "leak-test", "reel one", None),
        "0b1f6b2e-6d1c-4f0e-9a51-1f2e3d4c5b02": ("tiktok", "influencer", "leak two", None, None),
        "0b1f6b2e-6d1c-4f0e-9a51-1f2e3d4c5b03": ("youtube", "video", "leak-three", None, None)}


def _leaks(text: str) -> list[str]:
    return [n for n in NEEDLES if n.lower() in text.lower()]


def test_masking_hides_every_form_and_keeps_utms_hosts_and_paths():
    urls = [u for pair in DIRTY_EVENTS.values() for u in pair]
    frame = pl.DataFrame({"u": urls})
    masked = mask_free_text(frame, ["u"])
    assert [_leaks(u) for u in masked["u"]] == [[]] * len(urls)
    assert masked["u"][0] == ("https://shop.example.com/products/serum?utm_source=instagram&utm_medium=influencer"
                              "&utm_campaign=leak-test&utm_content=Reel+One&email=<redacted>&phone=<redacted>")
    assert masked["u"][3] == "https://ref.example.org/path?visitor=<ip>&msg=<email>"

    def parsed(f: pl.DataFrame) -> pl.DataFrame:
        return f.select(*utm_columns(pl.col("u")), url_path(pl.col("u")).alias("path"))

    assert parsed(masked).equals(parsed(frame))


@pytest.mark.parametrize(("text", "masked"), [
    *((same, same) for same in ("/p?utm_source=ig&utm_campaign=bf%2B2026&utm_content=a%2540b",
                                "/p?q=2026-11-01T10:22:03.123Z&id=1234567890123&size=10+12+14",
                                "/orders/6f1c1b2e-0000-5000-8000-000000000001?ref=0301234-5678")),
    ("/p?recipe=cake&customer%5Bemail%5D=x%40y.z", "/p?recipe=cake&customer%5Bemail%5D=<redacted>"),
    ("/p?next=%2Fa%3Fmail%3Dq%2540r.s%26utm_source%3Dig", "/p?next=%2Fa%3Fmail%3D<redacted>%26utm_source%3Dig"),
    ("/p?x=::1&y=fe80::1ff:fe23:4567:890a&z=10.0.0.1", "/p?x=<ip>&y=<ip>&z=<ip>"),
    ("/p?c=call%20030%201234%205678&d=555.123.4567", "/p?c=call%20<phone>&d=<phone>"),
    (None, None),
])
def test_masking_leaves_ids_times_and_utms_alone(text, masked):
    assert mask_free_text(pl.DataFrame({"u": [text]}, schema={"u": pl.String}), ["u"])["u"][0] == masked


def test_free_text_fields_come_from_the_contracts():
    declared = {(d, f.name) for d, ds in BY_NAME.items() for f in ds.fields if f.free_text}
    assert {("web_events", "page_url"), ("web_events", "referrer"), ("shopify_orders", "landing_site"),
            ("shopify_orders", "referring_site"), ("esp_signups", "landing_url"), ("ga4_events", "event_params"),
            ("shopify_order_nodes", "customer_journey_summary")} <= declared
    assert not any(f.free_text and f.pii for ds in BY_NAME.values() for f in ds.fields)


def test_a_quarantined_line_hides_encoded_forms_too():
    masked = mask_line(MALFORMED, BY_NAME["web_events"])
    assert _leaks(masked) == [] and "0b1f6b2e-6d1c-4f0e-9a51-1f2e3d4c5b04" in masked


def _dirty_landing(data_dir: Path) -> None:
    events = data_dir / "landing" / "web_events" / FIXTURE_DATE / "events.ndjson"
    lines = [json.dumps({"event_id": eid, "event_at": f"{FIXTURE_DATE}T12:0{i}:00.000Z", "anonymous_id": f"anon-l{i}",
                         "event_type": "page_view", "page_url": page, "referrer": ref, "user_agent": "Mozilla/5.0",
                         "ip": "198.51.100.250"})
             for i, (eid, (page, ref)) in enumerate(DIRTY_EVENTS.items())]
    events.write_text(events.read_text().rstrip("\n") + "\n" + "\n".join([*lines, MALFORMED]) + "\n")


def _output_texts(data_dir: Path):
    """(path, text) of every output: Parquet and DuckDB files read back with DuckDB, every other file as text."""
    outputs = (p for p in data_dir.rglob("*") if p.is_file() and "landing" not in p.relative_to(data_dir).parts)
    # A connection of its own: DuckDB's module-level default connection is shared by the whole test process, and a
    # result another test left unfinished on it refuses every later query.
    with duckdb.connect() as reader:
        for path in sorted(outputs):
            if path.suffix == ".parquet":
                yield path, repr(reader.read_parquet(str(path)).fetchall())
            elif path.suffix == ".duckdb":
                with duckdb.connect(str(path), read_only=True) as con:
                    names = con.execute("SELECT schema_name || '.' || table_name FROM duckdb_tables() UNION ALL "
                                        "SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal"
                                        ).fetchall()
                    for (name,) in names:
                        yield Path(f"{path}:{name}"), repr(con.table(name).fetchall())
            elif not path.name.endswith(".wal"):
                yield path, path.read_bytes().decode("utf-8", "replace")


@pytest.mark.parametrize("reader", ["per_line", "native"])
def test_no_personal_data_in_clear_after_a_night(prefect_harness, data_dir, monkeypatch, reader):
    from influence_pipeline.flows.nightly import nightly
    from influence_pipeline.sources import ndjson_native

    if reader == "native":
        monkeypatch.setattr(ndjson_native, "NATIVE_MIN_BYTES", 0)
    _dirty_landing(data_dir)
    summary = nightly(ds=DS)
    assert summary.ingested["web_events"]["rows"] == 11 and summary.quarantined["web_events"] == 4

    scanned = dict(_output_texts(data_dir))
    assert any(".parquet" in str(p) for p in scanned) and any("warehouse.duckdb:" in str(p) for p in scanned)
    assert any(p.suffix == ".html" for p in scanned)
    assert {str(p): _leaks(t) for p, t in scanned.items() if _leaks(t)} == {}
    lake = data_dir / "lake" / "current"
    with duckdb.connect() as con:
        staged = con.execute(
            "SELECT event_id, utm_source, utm_medium, utm_campaign, utm_content, utm_term, page_url "
            "FROM read_parquet(?, hive_partitioning = true) WHERE event_id LIKE '0b1f6b2e-%' ORDER BY event_id",
            [str(lake / "staging" / "stg_web_events" / "*" / "*.parquet")]).fetchall()
        quarantined = con.execute(
            "SELECT _raw_line FROM read_parquet(?, hive_partitioning = true) WHERE _raw_line LIKE '%0b1f6b2e-%'",
            [str(lake / "quarantine" / "web_events" / "*" / "*.parquet")]).fetchall()
    assert {row[0]: row[1:1 + len(UTM_PARAMS)] for row in staged} == UTMS
    assert staged[0][-1].endswith("&email=<redacted>&phone=<redacted>")
    assert len(quarantined) == 1 and "<email>" in quarantined[0][0]
