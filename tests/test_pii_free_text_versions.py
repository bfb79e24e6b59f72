"""`user_agent` is free text (its contract says so), and the IP masking tells versions from addresses: a dotted quad
after a product name and "/" (Chrome/120.0.0.0), glued to a letter (/v1.2.3.4) or followed by more parts
(Instagram 250.1.0.34.111) is a version and stays byte for byte; an IP in text or a URL is still masked, in the
published columns (Polars) and in a quarantined line (Python's re) alike."""
import json
import shutil

import polars as pl
import pytest

from influence_pipeline.schemas.raw import BY_NAME
from influence_pipeline.sources.ingest import ingest_dataset, scan_raw
from influence_pipeline.sources.masking import mask_line
from influence_pipeline.transforms.free_text import mask_free_text
from tests.bad_input.helpers import DS, KEY, _edit_ndjson, _file
from tests.conftest import FIXTURES

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
          "Safari/537.36")
INSTAGRAM = ("Mozilla/5.0 (Linux; Android 13; SM-S918B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like "
             "Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 Instagram 250.1.0.34.111 Android")
FACEBOOK = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Mobile/15E148 [FBAN/FBIOS;FBAV/1.2.3.4;FBBV/10.0.0.1]")


def _masked(text: str) -> str:
    return mask_free_text(pl.DataFrame({"u": [text]}), ["u"])["u"][0]


@pytest.mark.parametrize("text", [CHROME, INSTAGRAM, FACEBOOK, "Chrome/120.0.0.0", "curl/7.1.2.3",
                                  "https://api.example.com/v1.2.3.4/users", "/downloads/app-v10.0.0.1.zip",
                                  "Firefox/121.0 Gecko/20100101 rv:121.0"])
def test_versions_are_no_ips_and_stay_byte_for_byte(text):
    assert _masked(text) == text


@pytest.mark.parametrize(("text", "masked"), [
    ("/p?ip=10.1.2.3", "/p?ip=<redacted>"),  # a secret parameter's whole value
    ("/p?from=10.1.2.3&x=1", "/p?from=<ip>&x=1"),
    ("seen from 203.0.113.9.", "seen from <ip>."),
    ("http://192.168.0.1/", "http://<ip>/"),
    ("http://192.168.0.1:8080/x", "http://<ip>:8080/x"),
    ("https://shop.example.com/10.1.2.3", "https://shop.example.com/<ip>"),
    ("/geo/10.1.2.3?x=1", "/geo/<ip>?x=1"),
    ("GET /10.1.2.3 HTTP/1.1", "GET /<ip> HTTP/1.1"),
    ("10.0.0.1/10.0.0.2", "<ip>/<ip>"),
    ("1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4", "<ip> <ip> <ip> <ip>"),
    ("/r?u=http%3A%2F%2F198.51.100.7%2Fx", "/r?u=http%3A%2F%2F<ip>%2Fx"),
    (f"{CHROME} (via 203.0.113.9, 198.51.100.1)", f"{CHROME} (via <ip>, <ip>)"),
])
def test_ips_in_text_and_urls_are_still_masked(text, masked):
    assert _masked(text) == masked


def test_a_quarantined_line_masks_the_same_way():
    """mask_line runs the same patterns with Python's re (a broken line never reaches Polars)."""
    line = '{"event_id": "e-1", "user_agent": "' + CHROME + ' via 203.0.113.9", "referrer": "http://192.168.0.1/'
    masked = mask_line(line, BY_NAME["web_events"])
    assert "Chrome/120.0.0.0 Safari/537.36 via <ip>" in masked and "http://<ip>/" in masked
    assert "203.0.113.9" not in masked and "192.168.0.1" not in masked


def test_user_agent_is_free_text_and_masked_at_ingestion(tmp_path):
    assert {f.name: f.free_text for f in BY_NAME["web_events"].fields}["user_agent"] is True
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "landing", landing)
    typed = f"{CHROME} ua-leak.person@mail.example +44 20 7946 0958 203.0.113.77"
    _edit_ndjson(_file(landing, "web_events"), 1, {"user_agent": typed})
    _edit_ndjson(_file(landing, "web_events"), 2, {"user_agent": INSTAGRAM})
    ingest_dataset(BY_NAME["web_events"], landing, tmp_path / "lake", DS, "run-1", KEY)
    agents = scan_raw(tmp_path / "lake", BY_NAME["web_events"], DS).sort("_row_number").collect()["user_agent"]
    assert agents[:2].to_list() == [f"{CHROME} <email> <phone> <ip>", INSTAGRAM]
    assert json.loads(_file(landing, "web_events").read_text().splitlines()[0])["user_agent"] == typed  # landing as is
