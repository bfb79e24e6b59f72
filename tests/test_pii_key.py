"""A weak PII key (short, a repeated character or sequence, a word) is refused at start with a message that says how
to make a strong one; a random 32-byte key in any usual spelling is accepted, from the environment or the dev file."""
import secrets
from datetime import date

import pytest

from influence_pipeline.settings import SettingsError, ensure_dev_pii_key, load_settings
from tests.conftest import FIXTURE_DATE

HINT = 'python -c "import secrets; print(secrets.token_hex(32))"'
WEAK = {"a": "it has 1 bytes, fewer than 32", "password": "it has 8 bytes, fewer than 32",
        "31 bytes": "it has 31 bytes, fewer than 32", "repeated char": "it looks guessable (1 distinct characters",
        "repeated word": "it looks guessable (7 distinct characters",
        "repeated sequence": "it is a short sequence repeated"}
KEYS = {"a": "a", "password": "password", "31 bytes": secrets.token_hex(32)[:31], "repeated char": "a" * 64,
        "repeated word": "password" * 4, "repeated sequence": "0123456789abcdef" * 4}


@pytest.mark.parametrize("name", list(WEAK))
def test_a_weak_key_is_refused_with_how_to_make_one(monkeypatch, tmp_path, name):
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INFLUENCE_PII_KEY", KEYS[name])
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith(f"INFLUENCE_PII_KEY is too weak for the PII key: {WEAK[name]}")
    assert HINT in message
    assert len(KEYS[name]) < 8 or KEYS[name] not in message  # the key itself is never echoed


# Made per test, not at collection: xdist workers must collect the same test ids.
@pytest.mark.parametrize("make", [lambda: secrets.token_hex(32), lambda: secrets.token_urlsafe(32),
                                  lambda: secrets.token_hex(48)], ids=["token_hex(32)", "token_urlsafe(32)",
                                                                      "token_hex(48)"])
def test_a_strong_key_is_accepted(monkeypatch, tmp_path, make):
    key = make()
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INFLUENCE_PII_KEY", key)
    assert load_settings().pii_key_bytes() == key.encode()


def test_the_dev_key_file_is_checked_and_the_generated_one_passes(monkeypatch, tmp_path):
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("INFLUENCE_PII_KEY", raising=False)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    (tmp_path / ".pii_key").write_text("dev\n")
    with pytest.raises(SettingsError, match=rf"^the dev key in {tmp_path / '.pii_key'} is too weak.*token_hex\(32\)"):
        load_settings()
    (tmp_path / ".pii_key").unlink()
    path, created = ensure_dev_pii_key(tmp_path)
    assert created and load_settings().pii_key_bytes() == path.read_text().strip().encode()


def test_a_night_with_a_weak_key_stops_before_any_work(prefect_harness, data_dir, monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    monkeypatch.setenv("INFLUENCE_PII_KEY", "benchmark-key")
    with pytest.raises(SettingsError, match="INFLUENCE_PII_KEY is too weak"):
        nightly(ds=date.fromisoformat(FIXTURE_DATE))
    assert not (data_dir / "lake").exists() and not (data_dir / "warehouse.duckdb").exists()
