"""`influence accounts`: which roster accounts have a creator's token, what a pull reads them with, how the last
pull went."""
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from influence_pipeline.cli import app
from influence_pipeline.sources.api.roster_access import roster_access, token_state
from influence_pipeline.sources.api.state import Token, TokenStore

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
SECRET = "EAAG-very-secret-token"
ROSTER = """influencer_id,platform,platform_account_id,handle,niche,followers
INF-0001,Instagram,1784100001,@jane,beauty,12.5K
INF-0002,IG,1784100002,@max,fitness,8K
INF-0001,TikTok,glowbyjane,@glowbyjane,beauty,1240
INF-0003,YT,UCabc,@chef,food,50K
INF-0004,tiktok,quietone,@quietone,food,3K
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    roster = tmp_path / "landing" / "roster" / "2026-11-28"
    roster.mkdir(parents=True)
    (roster / "social_accounts.csv").write_text(ROSTER)
    store = TokenStore(tmp_path / "state" / "tokens.json")
    store.put("instagram", "1784100001", Token(SECRET, expires_at="2027-01-20T00:00:00+00:00"))
    store.put("instagram", "1784100002", Token(SECRET, expires_at="2026-11-20T00:00:00+00:00"))
    store.put("tiktok", "glowbyjane", Token(SECRET, expires_at="2026-11-29T00:00:00+00:00", refresh_token=SECRET,
                                            refresh_expires_at="2026-12-03T00:00:00+00:00"))
    store.put("youtube", "UCgone", Token(SECRET, refresh_token=SECRET))
    pulled = tmp_path / "landing" / "instagram" / "2026-11-29"
    pulled.mkdir(parents=True)
    (pulled / "_pull.json").write_text(json.dumps({"accounts": [
        {"account_id": "1784100002", "access": "creator", "status": "stopped",
         "message": "token expired on 2026-11-20: ask the creator to reconnect"}]}))
    later = tmp_path / "landing" / "instagram" / "2026-12-01"  # after the date asked: not read
    later.mkdir(parents=True)
    (later / "_pull.json").write_text(json.dumps({"accounts": [{"account_id": "1784100002", "status": "ok"}]}))
    return tmp_path


def test_each_roster_account_says_its_token_and_the_access_a_pull_uses(data_dir):
    rows = roster_access(data_dir / "landing", TokenStore(data_dir / "state" / "tokens.json"), date(2026, 11, 30),
                         NOW, warning_days=7)
    got = {(r.platform, r.platform_account_id): (r.token, r.access, r.in_roster, r.last_status) for r in rows}
    assert got == {
        ("instagram", "1784100001"): ("connected", "creator", True, None),
        ("instagram", "1784100002"): ("expired", "none", True, "stopped"),
        # TikTok's access token lives 24 h and is refreshed by the pull: the refresh token's end is what matters
        ("tiktok", "glowbyjane"): ("renew soon", "creator", True, None),
        ("tiktok", "quietone"): ("not connected", "none", True, None),  # TikTok has no public route
        ("youtube", "UCabc"): ("not connected", "public", True, None),
        ("youtube", "UCgone"): ("connected", "creator", False, None),  # a token the roster no longer lists
    }
    expired = next(r for r in rows if r.platform_account_id == "1784100002")
    assert (expired.last_pull_date, expired.token_until) == ("2026-11-29", "2026-11-20T00:00:00+00:00")
    assert [r.handle for r in rows][:3] == ["jane", "max", "glowbyjane"]


def test_token_state_edges():
    assert token_state(None, NOW, 7) == ("not connected", None)
    assert token_state(Token("t"), NOW, 7) == ("connected", None)  # no known end (a Google refresh token)
    assert token_state(Token("t", expires_at="2026-11-30T06:00:00"), NOW, 7)[0] == "expired"  # naive: UTC, at now
    assert token_state(Token("t", expires_at="2026-12-07T05:59:00+00:00"), NOW, 7)[0] == "renew soon"
    assert token_state(Token("t", expires_at="2026-12-07T06:01:00+00:00"), NOW, 7)[0] == "connected"


def test_the_command_lists_the_accounts_and_never_prints_a_token(data_dir, monkeypatch):
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("INFLUENCE_TOKEN_STORE", raising=False)
    table = CliRunner().invoke(app, ["accounts", "--date", "2026-11-30"])
    assert table.exit_code == 0, table.output
    assert "2 of 5 roster accounts read with the creator's token" in table.output
    as_json = CliRunner().invoke(app, ["accounts", "--date", "2026-11-30", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert SECRET not in table.output + as_json.output
    rows = {r["platform_account_id"]: r for r in map(json.loads, as_json.output.splitlines())}
    assert len(rows) == 6
    assert (rows["quietone"]["token"], rows["quietone"]["access"]) == ("not connected", "none")
    assert rows["1784100002"] | {"last_message": ""} == {
        "platform": "instagram", "platform_account_id": "1784100002", "handle": "max", "token": "expired",
        "token_until": "2026-11-20T00:00:00+00:00", "access": "none", "in_roster": True,
        "last_pull_date": "2026-11-29", "last_status": "stopped", "last_message": ""}
    assert rows["UCgone"]["in_roster"] is False


def test_the_command_without_a_roster_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["accounts", "--date", "2026-11-30"])
    assert result.exit_code == 2
    assert "no roster social_accounts.csv" in result.output
