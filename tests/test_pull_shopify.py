"""Shopify pull against the fake Admin GraphQL API on a real local HTTP server: round trip of two days, pages (and
their end), THROTTLED and proactive pacing, the cursor (moves only after the file is written, overlap without
duplicates, replay of a past day), malformed answers and orders, journeys attributed late, a refused token, bulk operations. The pull lands
`order_nodes.ndjson` (nodes as returned); to compare with the sample's REST files, the landed nodes are converted by
the test oracle tests/shopify_rest.py. The pure pieces (bulk reassembly, the bulk query, staging of nodes):
tests/test_shopify_nodes.py."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from influence_pipeline.fake_api.server import FakeApiServer, FakeResponse, SampleWorld
from influence_pipeline.fake_api.shopify import FakeShopify
from influence_pipeline.sample import generate
from influence_pipeline.sources.api import shopify
from influence_pipeline.sources.api.client import AccessError, PullError, RetryPolicy, TransientError
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import read_ndjson, read_pull_record
from influence_pipeline.sources.api.pull import pull_source
from influence_pipeline.sources.api.state import CursorStore
from tests.shopify_rest import order_record

START = date(2026, 11, 1)
D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
TOKEN = "shpat_secret_token_0123456789"


def after(day: date, hours: int = 2) -> datetime:
    """The nightly pull runs after the UTC day it lands."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, hours=hours)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shopify") / "world"
    generate(root, START, 3, 0.2, 7, 0.0)
    return root


class Setup:
    def __init__(self, tmp_path: Path, world_dir: Path, token: str = TOKEN, **fake_args):
        self.world = SampleWorld(world_dir, D1)
        self.fake = FakeShopify(self.world, access_token=TOKEN, **fake_args)
        self.server = FakeApiServer([self.fake]).start()
        self.settings = ApiSettings(data_dir=tmp_path / "data", shopify_api_base_url=self.server.base_url("/shopify"),
                                    shopify_access_token=token, pull_fast_retries=True)
        self.cursor = CursorStore(self.settings.data_dir, "shopify")

    def pull(self, ds: date, now: datetime | None = None):
        self.world.day = max(self.world.day, ds)
        return shopify.pull(self.settings, ds, now=now or after(ds), policy=RetryPolicy.fast(), mode="daily")

    def nodes(self, ds: date) -> list[dict]:
        return read_ndjson(self.settings.landing_dir / "orders" / ds.isoformat() / "order_nodes.ndjson")

    def landed(self, ds: date) -> list[dict]:
        """The landed nodes in the REST shape (the oracle's conversion), to compare with the sample's files."""
        return [order_record(node, node["api_version"]) for node in self.nodes(ds)]

    def truth(self, ds: date) -> list[dict]:
        return self.world.ndjson("orders", "orders.ndjson", ds)


@pytest.fixture
def shop(tmp_path, world_dir):
    setup = Setup(tmp_path, world_dir)
    yield setup
    setup.server.stop()


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def comparable(row: dict) -> dict:
    """A landing row with timestamps as instants (pulled files carry UTC `Z`, delivered ones the shop's offset)
    and without the pull's own stamp."""
    out = {k: v for k, v in row.items() if k != "api_version"}
    out["created_at"], out["updated_at"] = instant(row["created_at"]), instant(row["updated_at"])
    out["refunds"] = [{**r, "created_at": instant(r["created_at"])} for r in row["refunds"]]
    return out


def by_version(rows: list[dict]) -> dict[tuple[int, datetime], dict]:
    keyed = {(r["id"], instant(r["updated_at"])): comparable(r) for r in rows}
    assert len(keyed) == len(rows), "a version landed twice in one file"
    return keyed


def test_round_trip_two_days(shop):
    for ds in (D1, D2):
        shop.world.day = ds
        record = pull_source("shopify", shop.settings, ds, now=after(ds))
        pulled, truth = by_version(shop.landed(ds)), by_version(shop.truth(ds))
        assert set(pulled) == set(truth)
        for key, row in truth.items():
            assert pulled[key] == row, key
        assert all(r["api_version"] == "2025-10" for r in shop.landed(ds))
        assert all(r["updated_at"].endswith("Z") for r in shop.landed(ds))
        assert record.files == {"order_nodes.ndjson": len(truth)}
        assert read_pull_record(shop.settings.landing_dir, "shopify", ds)["files"] == {"order_nodes.ndjson": len(truth)}
        assert not (shop.settings.landing_dir / "orders" / ds.isoformat() / "orders.ndjson").exists()
    assert any(r["refunds"] for r in shop.landed(D2)), "the sample's day 2 has a refund re-delivery"
    assert not set(by_version(shop.landed(D1))) & set(by_version(shop.landed(D2)))
    # credentials only in the header, never in a URL; one GraphQL endpoint
    assert {(r.method, r.path) for r in shop.server.requests} == {("POST", "/admin/api/2025-10/graphql.json")}
    assert all(r.headers["x-shopify-access-token"] == TOKEN and not r.query for r in shop.server.requests)


def test_pages(shop):
    record = shop.pull(D1)
    rows = len(shop.truth(D1))
    pages = shop.fake.operations.count("PullOrders")
    assert rows > shopify.PAGE_SIZE and pages == -(-rows // shopify.PAGE_SIZE)
    assert record.requests == pages and record.quota_used > 0
    assert len(shop.landed(D1)) == rows


def _pages(info):  # an `orders` answer without orders, its page info `info(after)`
    return lambda variables: ({"orders": {"pageInfo": info(variables.get("after")), "nodes": []}}, 2)


@pytest.mark.parametrize("attribute, answer, message", [  # what the fake answers -> what the PullError says
    ("_orders", _pages(lambda after: {"hasNextPage": True, "endCursor": None}), "missing endCursor"),
    ("_orders", _pages(lambda after: {"hasNextPage": True, "endCursor": "same"}), "repeated endCursor"),
    ("_orders", _pages(lambda after: {"hasNextPage": True, "endCursor": (after or "") + "x"}), "more than 3 pages"),
    ("handle", lambda request: FakeResponse(200, raw=b"<html>maintenance</html>"), "PullOrders: expected a JSON"),
    ("handle", lambda request: FakeResponse(200, [1]), "PullOrders: expected a JSON object, got list"),
    ("handle", lambda request: FakeResponse(200, {"data": {"orders": {"nodes": []}}}), "PullOrders: answer without"),
])
def test_a_broken_answer_stops_the_pull(shop, monkeypatch, attribute, answer, message):
    monkeypatch.setattr(shopify, "MAX_PAGES", 3)  # Shopify saying `hasNextPage` forever must not loop forever
    setattr(shop.fake, attribute, answer)
    with pytest.raises(PullError, match=message):
        pull_source("shopify", shop.settings, D1, now=after(D1))
    assert message in read_pull_record(shop.settings.landing_dir, "shopify", D1)["incomplete"]
    assert shop.fake.operations.count("PullOrders") <= 3 and not shop.cursor.path.exists() and not shop.landed(D1)


def test_malformed_order_is_skipped_with_a_warning(shop):
    bad = [r["id"] for r in shop.truth(D1)][:3]
    breaks = {bad[0]: lambda n: n.pop("updatedAt"), bad[1]: lambda n: n.update(id=None),
              bad[2]: lambda n: n["totalPriceSet"]["shopMoney"].update(amount="12,50")}
    node = shop.fake._node
    shop.fake._node = lambda row: [out := node(row), breaks.get(row["id"], len)(out)][0]  # serve them broken
    record = shop.pull(D1)
    assert any(w.startswith("3 order node(s) skipped") for w in record.warnings)
    truth = {k for k in by_version(shop.truth(D1)) if k[0] not in bad}
    assert set(by_version(shop.landed(D1))) == truth  # the rest landed and the cursor moved past the bad ones
    assert instant(shop.cursor.read()["high_water"]) >= after(D1, 0) - shopify.OVERLAP


def test_throttled_then_success(shop):
    shop.fake.throttle_next = 2
    record = shop.pull(D1)
    assert shop.fake.throttled == 2 and record.retries == 2
    assert set(by_version(shop.landed(D1))) == set(by_version(shop.truth(D1)))


def test_pacing_waits_for_the_bucket(tmp_path, world_dir):
    # a bucket smaller than two pages: without pacing the second page would be THROTTLED
    setup = Setup(tmp_path, world_dir, maximum_available=1000, restore_rate=5000)
    try:
        setup.pull(D1)
        assert setup.fake.operations.count("PullOrders") > 1 and setup.fake.throttled == 0
    finally:
        setup.server.stop()


def test_throttle_wait_from_cost():
    body = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": {"requestedQueryCost": 994, "actualQueryCost": None, "throttleStatus": {
                "maximumAvailable": 2000.0, "currentlyAvailable": 794.0, "restoreRate": 100.0}}}}
    error = shopify.classify(httpx.Response(200), body)
    assert isinstance(error, TransientError) and error.retry_after == pytest.approx(2.0)
    other = shopify.classify(httpx.Response(200), {"errors": [{"message": "Field 'x' doesn't exist on type 'Order'",
                                                               "extensions": {"code": "undefinedField"}}]})
    assert type(other) is PullError and "Field 'x' doesn't exist" in str(other)
    assert isinstance(shopify.classify(httpx.Response(503), None), TransientError)
    assert isinstance(shopify.classify(httpx.Response(403), None), AccessError)


def test_cursor_moves_only_after_the_file_is_written(shop):
    shop.pull(D1)
    before = shop.cursor.read()
    assert instant(before["high_water"]) >= after(D1, 0) - shopify.OVERLAP
    blocker = shop.settings.landing_dir / "orders" / D2.isoformat()
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")  # the day's landing folder cannot be created
    with pytest.raises(OSError):
        shop.pull(D2)
    assert shop.cursor.read() == before
    blocker.unlink()
    shop.pull(D2)
    assert set(by_version(shop.landed(D2))) == set(by_version(shop.truth(D2)))
    assert shop.cursor.read()["high_water"] > before["high_water"]


def test_overlap_lands_each_version_once(shop):
    noon = datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert any(w.startswith("day not complete yet") for w in shop.pull(D1, now=noon).warnings)
    early = shop.landed(D1)
    assert early and all(instant(r["updated_at"]) < noon for r in early)
    # the rest of the day; its window reaches back OVERLAP before the morning's mark
    assert not any("not complete" in w for w in shop.pull(D1, now=after(D1)).warnings)
    lower = shop.fake.searches[-1].split("'")[1]
    assert instant(lower) < noon - shopify.OVERLAP + timedelta(minutes=1)
    assert set(by_version(shop.landed(D1))) == set(by_version(shop.truth(D1)))
    shop.pull(D1, now=after(D1, 3))  # again: nothing new, nothing doubled
    assert set(by_version(shop.landed(D1))) == set(by_version(shop.truth(D1)))
    seen = shop.cursor.read()["seen"]
    assert seen and all(instant(u) >= instant(shop.cursor.read()["high_water"]) - shopify.OVERLAP for _, u in seen)
    shop.pull(D2)
    assert not set(by_version(shop.landed(D1))) & set(by_version(shop.landed(D2)))


def test_replay_of_a_past_day_leaves_the_cursor(shop):
    shop.pull(D1)
    shop.pull(D2)
    cursor = shop.cursor.read()
    # orders of day 1 changed again on day 2: their day-1 versions are no longer on day 1 at Shopify, yet stay landed
    assert {r["id"] for r in shop.truth(D1)} & {r["id"] for r in shop.truth(D2)}
    shop.pull(D1, now=after(D2, 4))
    assert set(by_version(shop.landed(D1))) == set(by_version(shop.truth(D1)))
    (shop.settings.landing_dir / "orders" / D1.isoformat() / "order_nodes.ndjson").unlink()
    shop.pull(D1, now=after(D2, 5))
    assert shop.cursor.read() == cursor
    replayed = shop.landed(D1)
    assert replayed and all(instant(r["updated_at"]).date() == D1 for r in replayed)


def test_journey_not_ready_is_pulled_again(shop):
    waiting = [r["id"] for r in shop.truth(D1) if r["landing_site"]][:3]
    shop.fake.journey_pending = set(waiting)
    shop.pull(D1)
    first = {r["id"]: r for r in shop.landed(D1)}
    assert all(first[i]["landing_site"] is None and first[i]["referring_site"] is None for i in waiting)
    assert sorted(shop.cursor.read()["pending"]) == sorted(str(i) for i in waiting)
    shop.fake.journey_pending = {waiting[0]}  # Shopify attributed two of them
    shop.pull(D2)
    assert "PullOrdersById" in shop.fake.operations
    truth = {r["id"]: comparable(r) for r in shop.truth(D1)}
    second = {r["id"]: comparable(r) for r in shop.landed(D2)}
    assert second[waiting[1]] == truth[waiting[1]] and second[waiting[2]] == truth[waiting[2]]
    assert waiting[0] not in second
    assert set(shop.cursor.read()["pending"]) == {str(waiting[0])}
    # bounded: after PENDING_DAYS the order is given up, with a warning
    record = shop.pull(D2, now=after(D2) + timedelta(days=shopify.PENDING_DAYS + 1))
    assert shop.cursor.read()["pending"] == {}
    assert any(str(waiting[0]) in w for w in record.warnings)


def test_refused_token_stops_the_source(tmp_path, world_dir):
    bad = "shpat_wrong_token_9876543210"
    setup = Setup(tmp_path, world_dir, token=bad)
    try:
        with pytest.raises(AccessError) as caught:
            setup.pull(D1)
        message = str(caught.value)
        assert "401" in message and "INFLUENCE_SHOPIFY_ACCESS_TOKEN" in message and "uninstalled" in message
        assert bad not in message and TOKEN not in message
        assert not setup.landed(D1) and not setup.cursor.path.exists()
        assert all(bad not in str(r.query) and bad not in r.path for r in setup.server.requests)
    finally:
        setup.server.stop()


def test_bulk_operation_for_a_long_window(shop):
    shop.cursor.put(high_water="2026-10-25T00:00:00Z", seen=[], pending={})  # a week behind
    record = shop.pull(D3)
    assert any("bulkOperationRunQuery" in e for e in record.endpoints)
    assert "PullOrders" not in shop.fake.operations and shop.fake.operations.count("PollOrdersBulk") == 2
    latest: dict[int, dict] = {}
    for day in (D1, D2, D3):  # Shopify serves each order's current version only
        latest.update({r["id"]: r for r in shop.truth(day)})
    pulled, truth = by_version(shop.landed(D3)), by_version(list(latest.values()))
    assert set(pulled) == set(truth) and all(pulled[k] == truth[k] for k in truth)
    assert any(r["refunds"] for r in shop.landed(D3)) and any(r["discount_codes"] for r in shop.landed(D3))
    # the result URL is another host: the shop's token is not sent there
    assert shop.fake.download_headers and all("x-shopify-access-token" not in h for h in shop.fake.download_headers)
    assert instant(shop.cursor.read()["high_water"]) >= after(D3, 0) - shopify.OVERLAP


def test_failed_bulk_operation_keeps_the_cursor(shop):
    shop.cursor.put(high_water="2026-10-25T00:00:00Z", seen=[], pending={})
    before = shop.cursor.read()
    shop.fake.bulk_fail = "INTERNAL_SERVER_ERROR"
    with pytest.raises(PullError, match="FAILED.*INTERNAL_SERVER_ERROR"):
        shop.pull(D3)
    assert shop.cursor.read() == before and not shop.landed(D3)
