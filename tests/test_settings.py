"""Settings and business rules: defaults, overrides, and failing loudly at start."""
import pytest
from pydantic import ValidationError

from influence_pipeline.rules_file import load_rules
from influence_pipeline.settings import Settings, SettingsError, ensure_dev_pii_key, load_settings
from tests.conftest import TEST_PII_KEY


def test_defaults_put_everything_under_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    settings = Settings()
    assert settings.landing_dir == tmp_path / "landing"
    assert settings.resolved_warehouse_url == f"duckdb:///{tmp_path.resolve()}/warehouse.duckdb"
    assert settings.is_embedded_warehouse


def test_embedded_warehouse_uses_the_dev_key_and_production_refuses_to(tmp_path, monkeypatch):
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("INFLUENCE_PII_KEY", raising=False)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    with pytest.raises(SettingsError, match="influence dev-key"):
        load_settings()
    key_file, created = ensure_dev_pii_key(tmp_path)
    assert created and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert load_settings().pii_key_bytes() == key_file.read_text().strip().encode()
    assert ensure_dev_pii_key(tmp_path) == (key_file, False)
    monkeypatch.setenv("INFLUENCE_WAREHOUSE_URL", "postgresql+psycopg://bi:hunter2@db.internal/analytics")
    with pytest.raises(SettingsError, match=r"postgresql\+psycopg://bi:\*\*\*@db.internal/analytics"):
        load_settings()


def test_rules_override_merges_key_by_key(tmp_path):
    override = tmp_path / "rules.yaml"
    override.write_text("attribution:\n  lookback_days: 7\ntiers:\n  micro: 10000\n")
    rules = load_rules(override)
    defaults = load_rules()
    assert rules.attribution.lookback_days == 7
    assert rules.attribution.session_timeout_minutes == defaults.attribution.session_timeout_minutes
    assert rules.tiers["micro"] == 10000 and rules.tiers["macro"] == defaults.tiers["macro"]


def test_rules_reject_unknown_keys_and_bad_values(tmp_path):
    override = tmp_path / "rules.yaml"
    override.write_text("attribution:\n  lookbak_days: 7\n")
    with pytest.raises(ValidationError, match="lookbak_days"):
        load_rules(override)
    override.write_text("attribution:\n  precedence: newest_wins\n")
    with pytest.raises(ValidationError, match="precedence"):
        load_rules(override)


def test_default_ds_is_yesterday_in_the_landing_timezone():
    from datetime import date, datetime, timezone
    from zoneinfo import ZoneInfo

    from influence_pipeline.flows.nightly import default_ds

    # 03:00 in Berlin on the 25th is 02:00 UTC on the 25th
    assert default_ds(datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc), ZoneInfo("Europe/Berlin")) == date(2026, 11, 24)
    # 03:00 in Tokyo on the 25th is 18:00 UTC on the 24th: still the 24th's files are yesterday's in Tokyo
    assert default_ds(datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc), ZoneInfo("Asia/Tokyo")) == date(2026, 11, 24)
    assert default_ds(datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc), ZoneInfo("UTC")) == date(2026, 11, 23)


def test_an_unknown_timezone_fails_at_start(monkeypatch, tmp_path):
    import pytest

    from influence_pipeline.settings import SettingsError, load_settings

    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.setenv("INFLUENCE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="not an IANA timezone"):
        load_settings()
