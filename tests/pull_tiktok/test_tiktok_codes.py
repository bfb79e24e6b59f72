"""TikTok's error codes and HTTP statuses, sorted by what must happen: retry, refresh the token, or stop the account."""
from __future__ import annotations

import httpx
import pytest

from influence_pipeline.sources.api.client import AccessError, PullError, TransientError
from influence_pipeline.sources.api.tiktok_map import TokenRejected, classify, classify_code


@pytest.mark.parametrize("code, kind", [(40100, TransientError), (40132, TransientError), (50002, TransientError),
                                        (51004, TransientError), (40102, TokenRejected), (40105, TokenRejected),
                                        (40103, AccessError), (40107, AccessError), (40130, AccessError),
                                        (40001, AccessError), (40002, PullError)])
def test_codes_are_sorted_by_what_must_happen(code, kind):
    error = classify_code(code, "message")
    assert type(error) is kind and str(code) in str(error)
    assert classify_code(0, "OK") is None


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_http_throttling_are_transient(status):
    response = httpx.Response(status, json={"code": 50000, "message": "system error"})
    assert isinstance(classify(response, response.json()), TransientError)
