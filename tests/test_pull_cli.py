"""`influence pull` and `influence connect` through the real Prefect flow, against the fake Instagram Graph API: what
an operator types, what the run records, and that a creator who revoked the app turns the run red without stopping
the others' data."""
import json
import shutil
import stat
from datetime import date

import pytest
from typer.testing import CliRunner

from influence_pipeline.cli import app
from influence_pipeline.fake_api.instagram import FakeInstagram
from influence_pipeline.fake_api.server import FakeApiServer, SampleWorld
from influence_pipeline.sample import generate
from influence_pipeline.sources.api.accounts import roster_accounts
from influence_pipeline.sources.api.landing_out import read_ndjson, read_pull_record
from influence_pipeline.sources.api.state import TokenStore
from tests.conftest import TEST_PII_KEY

DS = date(2026, 11, 2)
BRAND = "brand-long-lived-token-0123456789"


@pytest.fixture
def instagram(tmp_path, monkeypatch):
    world = tmp_path / "world"
    generate(world, date(2026, 11, 1), 2, 0.1, 7, 0.0)
    data = tmp_path / "data"
    shutil.copytree(world / "roster", data / "landing" / "roster")
    ids = [a.platform_account_id for a in roster_accounts(data / "landing", DS, "instagram")]
    tokens = {ig_id: f"creator-token-{ig_id}" for ig_id in ids}
    fake = FakeInstagram(SampleWorld(world, DS), brand_token=BRAND, creator_tokens=tokens,
                         revoked_tokens={tokens[ids[0]]})
    with FakeApiServer([fake]) as server:
        for name, value in (("DATA_DIR", str(data)), ("INSTAGRAM_API_BASE_URL", server.base_url("/instagram")),
                            ("INSTAGRAM_ACCESS_TOKEN", BRAND), ("INSTAGRAM_BUSINESS_ACCOUNT_ID", fake.brand_id),
                            ("PULL_FAST_RETRIES", "true"), ("PII_KEY", TEST_PII_KEY)):
            monkeypatch.setenv(f"INFLUENCE_{name}", value)
        yield data, ids, tokens


def test_connect_then_pull_lands_the_day_and_reports_the_revoked_creator(prefect_harness, instagram):
    data, ids, tokens = instagram
    runner = CliRunner()
    for ig_id in ids:
        token = json.dumps({"access_token": tokens[ig_id], "expires_at": "2027-01-01T00:00:00+00:00"})
        connected = runner.invoke(app, ["connect", "--platform", "instagram", "--account", ig_id], input=token)
        assert connected.exit_code == 0 and tokens[ig_id] not in connected.output
    store = TokenStore.in_data_dir(data)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600 and store.accounts("instagram") == sorted(ids)

    result = runner.invoke(app, ["pull", "--source", "instagram", "--date", DS.isoformat()], terminal_width=200)
    assert result.exit_code == 1, result.output  # one creator needs a human
    assert f"stopped  {ids[0]} (creator)" in result.output
    assert "reconnect" in result.output
    assert all(t not in result.output for t in [*tokens.values(), BRAND])

    record = read_pull_record(data / "landing", "instagram", DS)
    assert {a["account_id"]: a["status"] for a in record["accounts"]} == {
        ig_id: "stopped" if ig_id == ids[0] else "ok" for ig_id in ids}
    users = read_ndjson(data / "landing" / "instagram" / DS.isoformat() / "users.ndjson")
    assert {u["id"] for u in users} == set(ids[1:])


def test_pull_refuses_an_unknown_source_and_missing_credentials(prefect_harness, instagram, monkeypatch):
    runner = CliRunner()
    unknown = runner.invoke(app, ["pull", "--source", "pinterest"], terminal_width=200)
    assert unknown.exit_code == 2 and "'pinterest' is not one of" in " ".join(unknown.output.split())
    monkeypatch.delenv("INFLUENCE_INSTAGRAM_ACCESS_TOKEN")
    missing = runner.invoke(app, ["pull", "--source", "instagram", "--date", DS.isoformat()], terminal_width=200)
    assert missing.exit_code == 1 and "INFLUENCE_INSTAGRAM_ACCESS_TOKEN" in missing.output
    assert not (instagram[0] / "landing" / "instagram").exists()
