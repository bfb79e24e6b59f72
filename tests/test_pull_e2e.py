"""Pull → nightly → marts, end to end on the fake APIs: three nights whose platform and shop data came through the four
pulls publish the same marts as the same data delivered as files.

The world's files are first put in the form the APIs can return: Instagram and TikTok stamp one fetch time per pull
(the API gives no per-account time) and YouTube's Data API rounds subscriber counts to three significant figures, so a
delivered export made from the same API answers would carry exactly these values.
"""
import csv
import io
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from influence_pipeline.fake_api.sample_apis import sample_apis
from influence_pipeline.fake_api.youtube import three_figures
from influence_pipeline.sample import generate
from influence_pipeline.sources.api.landing_out import read_pull_record
from tests.conftest import TEST_PII_KEY

START, DAYS = date(2026, 11, 1), 3
FETCH_STAMPS = {"instagram": "T02:00:00+0000", "tiktok": "T03:00:00+0000"}
#: Fields a delivered export had that no API returns today (the Graph API has no link-sticker-taps metric).
NOT_IN_THE_API = {"story_insights.ndjson": ("link_clicks",)}
#: Account files a pull stamps with whose credentials read the account (docs/landing.md, "Pulls").
ACCOUNT_FILES = ("users.ndjson", "user_info.ndjson", "channel_report.csv")


def _as_the_apis_answer(world: Path) -> None:
    for source, stamp in FETCH_STAMPS.items():
        for path in (world / source).glob("*/*.ndjson"):
            lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            for record in lines:
                if "fetched_at" in record:
                    record["fetched_at"] = path.parent.name + stamp
                for name in NOT_IN_THE_API.get(path.name, ()):
                    record.pop(name, None)
                if path.name in ACCOUNT_FILES:
                    record["access"] = "creator"  # every creator is connected in this test
            path.write_text("".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in lines))
    for path in (world / "youtube").glob("*/channel_report.csv"):
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        for row in rows:
            row["subscriber_count"] = str(three_figures(int(row["subscriber_count"])))
            row["access"] = "creator"
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(out.getvalue())


def _nights(data: Path, monkeypatch) -> dict[str, list]:
    from influence_pipeline.flows.nightly import nightly

    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data))
    for n in range(DAYS):
        nightly(ds=START + timedelta(days=n))
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        tables = [t for (t,) in con.sql("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' "
                                        "ORDER BY 1").fetchall()]
        return {t: [dict(zip(con.sql(f'SELECT * FROM marts."{t}" LIMIT 0').columns, row))
                    for row in con.sql(f'SELECT * FROM marts."{t}" ORDER BY ALL').fetchall()] for t in tables}


@pytest.mark.slow
def test_pulled_nights_publish_the_marts_of_delivered_files(prefect_harness, tmp_path, monkeypatch):
    world = tmp_path / "world"
    generate(world, START, DAYS, scale=0.2, seed=7, dirty_rate=0.0)
    _as_the_apis_answer(world)
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("INFLUENCE_RULES_FILE", raising=False)

    delivered = tmp_path / "delivered"
    shutil.copytree(world, delivered / "landing")
    pulled = tmp_path / "pulled"
    with sample_apis(world, pulled, START) as apis:
        for n in range(DAYS):
            records = apis.pull_day(START + timedelta(days=n))
            assert all(r.incomplete is None and all(a.status == "ok" for a in r.accounts) for r in records)
        assert all(not r.query.get("access_token") and not r.query.get("key") for r in apis.server.requests)

    for source, folder in (("instagram", "instagram"), ("tiktok", "tiktok"), ("youtube", "youtube"),
                           ("shopify", "orders")):
        assert {p.name for p in (pulled / "landing" / folder).iterdir()} == {
            (START + timedelta(days=n)).isoformat() for n in range(DAYS)}
        assert read_pull_record(pulled / "landing", source, START)["files"]

    expected = _nights(delivered, monkeypatch)
    got = _nights(pulled, monkeypatch)
    assert got.keys() == expected.keys() and len(expected) >= 10
    assert sum(len(rows) for rows in expected.values()) > 1000
    # every account with a pulled snapshot says its insights were read with the creator's token
    assert {r["metrics_access"] for r in got["dim_account"] if r["followers"] is not None} == {"creator"}
    for table, rows in expected.items():
        differing = [(n, {k: (e[k], g[k]) for k in e if e[k] != g[k]}) for n, (e, g) in enumerate(zip(rows, got[table]))
                     if e != g]
        assert len(got[table]) == len(rows) and not differing, f"{table}: {differing[:3]}"
