"""Shopify orders through the Admin GraphQL API -> landing/orders/<ds>/order_nodes.ndjson: each `Order` node as the
API returns it (the `LandingOrder` selection of shopify_map), plus `api_version` and `fetched_at` (the pull's start,
UTC). No conversion: staging reads this current shape (raw contract shopify_order_nodes) as well as the REST
`orders.ndjson` still delivered by other means (raw contract shopify_orders).

Incremental: the cursor (`state/pull/shopify.json`) holds the `updated_at` high-water mark. Each pull asks
`orders(sortKey: UPDATED_AT, query: "updated_at:>='from' updated_at:<'to'")` from the mark minus an overlap (an
order committed late with an earlier `updated_at` is still caught) up to the end of day `ds` (UTC) or `now`; the
versions `(id, updatedAt)` landed within the overlap are remembered so each version lands once. The cursor moves
only after the landing file is written, so a pull that dies in between repeats its window.

Attribution (`customerJourneySummary`) is filled by Shopify some time after checkout: an order that is not `ready`
lands as it is (staging reads its landing site and referrer as unknown), its id waits in the cursor's `pending` list,
and later pulls ask for it by id (`nodes(ids:)`) until it is ready (then its ready version lands in that pull's file)
or `PENDING_DAYS` have passed (then it is dropped with a warning).

A window longer than `BULK_AFTER` (a cursor days behind, a first pull far back) is read through a bulk operation
(shopify_bulk) rather than pages. A day whose window lies wholly before the cursor (a re-pull or backfill of a past
day) is replayed: the whole UTC day is asked again, merged into the day's file by version `(id, updatedAt)` and the
cursor left alone. Shopify keeps only the current version of an order, so a replay adds today's state of the orders
last changed that day; the versions landed back then stay (an order changed again later is no longer on that day).

The shop's folders are UTC days (docs/landing.md), while the default landing date comes from INFLUENCE_TIMEZONE
(transforms/windows.default_pull_date): asked for a UTC day that has not ended at `now`, the pull reads up to `now`
and warns "day not complete yet"; the rest of that day lands with the next pull, in that pull's folder (a rerun of
the same day after 00:00 UTC keeps it in this one).

Shopify's answers are checked: a body that is not a JSON object or a connection without its `nodes`/`pageInfo` stops
the pull (PullError naming the query); one order node that cannot be used (no Order GID, an unparsable `updatedAt`,
a money amount that is not a number) is skipped with a warning, so one bad order does not block the cursor forever.
"""
from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import httpx

from influence_pipeline.sources.api.client import (
    MALFORMED,
    AccessError,
    ApiClient,
    PullError,
    RetryPolicy,
    TransientError,
    expect_object,
    malformed_message,
    retry_after_seconds,
)
from influence_pipeline.sources.api.config import ApiSettings
from influence_pipeline.sources.api.landing_out import PullRecord, landing_file, read_ndjson, utc_stamp, write_ndjson
from influence_pipeline.sources.api.shopify_bulk import BULK_POLL_SECONDS, bulk_orders
from influence_pipeline.sources.api.shopify_map import ORDER_FRAGMENT, gid_int, instant, journey_ready, node_key
from influence_pipeline.sources.api.state import CursorStore

SOURCE = "shopify"
FILE = "order_nodes.ndjson"
PAGE_SIZE = 8  # orders per page: 2 + 8 x 124 requested points, under Shopify's 1000-point single-query cap
IDS_PER_QUERY = 8  # ids per `nodes(ids:)` re-pull of orders awaiting attribution
OVERLAP = timedelta(minutes=10)
BULK_AFTER = timedelta(days=3)  # a longer window is read through a bulk operation
PENDING_DAYS = 7  # how long an order's journey is awaited before it is left as landed (null landing site)
#: Pages one `orders` read may take: 10 000 orders. A longer paged window would be a misbehaving cursor (windows over
#: BULK_AFTER go through a bulk operation), so the pull stops rather than loop on `hasNextPage` forever. A shop that
#: changes more orders than this within BULK_AFTER needs a larger cap (or a shorter BULK_AFTER), else it stops daily.
MAX_PAGES = 10_000 // PAGE_SIZE

ORDERS_QUERY = """query PullOrders($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { ...LandingOrder }
  }
}""" + ORDER_FRAGMENT

NODES_QUERY = """query PullOrdersById($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Order { ...LandingOrder } }
}""" + ORDER_FRAGMENT

TOKEN_HELP = ("the Shopify Admin API refused the access token (invalid, revoked, or the app was uninstalled): "
              "reinstall the app or issue a new token and set INFLUENCE_SHOPIFY_ACCESS_TOKEN; the whole Shopify pull "
              "stops (one shop, one token)")


def throttle_wait(cost: dict | None) -> float | None:
    """Seconds until the leaky bucket holds the query's cost: (requested - available) / restore rate."""
    if not cost:
        return None
    status = cost.get("throttleStatus") or {}
    requested, available = cost.get("requestedQueryCost"), status.get("currentlyAvailable")
    restore = status.get("restoreRate")
    if requested is None or available is None or not restore:
        return None
    return max(0.0, (float(requested) - float(available)) / float(restore))


def classify(response: httpx.Response, body: object) -> PullError | None:
    """Shopify's conventions: 401/403 = bad or uninstalled token; 429/5xx = transient; a THROTTLED error inside an
    HTTP 200 = transient, waiting as long as the bucket needs; ACCESS_DENIED = a missing scope; other `errors` =
    a failed query, named by its messages."""
    status = response.status_code
    if status in (401, 403):
        return AccessError(f"HTTP {status}: {TOKEN_HELP}")
    if status == 429 or status >= 500:
        return TransientError(f"HTTP {status}", retry_after_seconds(response))
    if status >= 400:
        return PullError(f"HTTP {status}")
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return None
    if isinstance(errors, str):
        return PullError(f"GraphQL error: {errors}")
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    messages = "; ".join(str(e.get("message")) for e in errors)
    if "THROTTLED" in codes:
        return TransientError(f"THROTTLED: {messages}", throttle_wait((body.get("extensions") or {}).get("cost")))
    if "ACCESS_DENIED" in codes:
        return AccessError(f"ACCESS_DENIED: {messages} (the app lacks a scope: read_orders, and read_all_orders for "
                           "orders older than 60 days)")
    return PullError(f"GraphQL errors: {messages}")


class Shop:
    """One shop's GraphQL endpoint, paced by the cost the last answer reported, so a long pull slows down before
    Shopify throttles it rather than after."""

    def __init__(self, client: ApiClient, version: str, policy: RetryPolicy):
        self.client, self.policy = client, policy
        self.path = f"/admin/api/{version}/graphql.json"
        self.cost: dict | None = None
        self.points = 0  # actual query cost spent, for the pull record

    def query(self, document: str, operation: str, variables: dict) -> dict:
        wait = throttle_wait(self.cost)
        if wait:
            clock.sleep(min(wait, self.policy.wait_max))
        body, _ = self.client.post(self.path, json={"query": document, "operationName": operation,
                                                    "variables": variables})
        body = expect_object(body, f"{SOURCE} {operation}")  # a 200 with an HTML page or a bare list
        self.cost = (body.get("extensions") or {}).get("cost")
        self.points += int((self.cost or {}).get("actualQueryCost") or 0)
        if not isinstance(body.get("data"), dict):
            raise PullError(f"{SOURCE} {operation}: answer without data")
        return body["data"]

    def orders(self, start: datetime, end: datetime, page_size: int) -> list[dict]:
        """Every order whose current `updatedAt` is in [start, end), oldest change first."""
        search = f"updated_at:>='{_iso(start)}' updated_at:<'{_iso(end)}'"
        nodes, after, cursors = [], None, set()
        for _ in range(MAX_PAGES):
            page = self.query(ORDERS_QUERY, "PullOrders", {"first": page_size, "after": after, "query": search})
            connection = page.get("orders")
            info = connection.get("pageInfo") if isinstance(connection, dict) else None
            if not isinstance(info, dict) or not isinstance(connection.get("nodes"), list):
                raise PullError(f"{SOURCE} PullOrders: answer without orders.nodes and orders.pageInfo")
            nodes += connection["nodes"]
            if not info.get("hasNextPage"):
                return nodes
            after = info.get("endCursor")
            if not after or after in cursors:  # asking again would get the same page: an endless loop
                raise PullError(f"{SOURCE} PullOrders: hasNextPage with a {'repeated' if after else 'missing'} "
                                f"endCursor after {len(cursors) + 1} pages ({search})")
            cursors.add(after)
        raise PullError(f"{SOURCE} PullOrders: more than {MAX_PAGES} pages ({MAX_PAGES * page_size} orders) in "
                        f"one window ({search})")

    def by_ids(self, ids: list[int]) -> list[dict | None]:
        out: list[dict | None] = []
        for i in range(0, len(ids), IDS_PER_QUERY):
            chunk = [f"gid://shopify/Order/{n}" for n in ids[i:i + IDS_PER_QUERY]]
            nodes = self.query(NODES_QUERY, "PullOrdersById", {"ids": chunk}).get("nodes")
            if not isinstance(nodes, list) or len(nodes) != len(chunk):  # zipped with the ids: must match one-to-one
                raise PullError(f"{SOURCE} PullOrdersById: expected {len(chunk)} nodes")
            out += nodes
        return out


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(row: dict) -> tuple[int, datetime]:
    return gid_int(row["id"]), instant(row["updatedAt"])


def mapped(node: object, version: str, fetched_at: str, skipped: list[str]) -> tuple[dict, tuple[int, datetime],
                                                                                      bool] | None:
    """(row to land, version key, journey ready) of one order node, or None (noted in `skipped`) when it cannot be
    used. The row is the node as returned plus `api_version` and `fetched_at`."""
    try:
        node = expect_object(node, "order")
        key = node_key(node)
        return {**node, "api_version": version, "fetched_at": fetched_at}, key, journey_ready(node)
    except (PullError, *MALFORMED) as exc:
        name = node.get("id") if isinstance(node, dict) and isinstance(node.get("id"), str) else "without id"
        skipped.append(f"{name[:60]} ({type(exc).__name__})")
        return None


def write_orders(path: Path, earlier: list[dict], fresh: list[dict]) -> int:
    """The day's file: rows an earlier pull of the same day wrote plus this pull's, one per version (this pull's copy
    wins: it may be the attributed one), ordered by change time."""
    rows = {_key(r): r for r in earlier}
    rows.update({_key(r): r for r in fresh})
    return write_ndjson(path, [rows[k] for k in sorted(rows, key=lambda k: (k[1], k[0]))])


def pull(settings: ApiSettings, ds: date, *, now: datetime, policy: RetryPolicy, mode: str = "daily") -> PullRecord:
    """Orders changed since the cursor (up to the end of UTC day `ds`) and orders whose attribution became ready ->
    landing/orders/<ds>/order_nodes.ndjson; returns the pull record. Raises AccessError when the token is refused."""
    version = settings.shopify_api_version
    token = settings.secret("shopify_access_token") or ""
    store = CursorStore(settings.data_dir, SOURCE)
    state = store.read()
    day_start = datetime.combine(ds, time(), UTC)
    day_end = day_start + timedelta(days=1)
    end = min(day_end, now.astimezone(UTC))  # a day not over yet is read up to now (warned below)
    mark = instant(state["high_water"]) if state.get("high_water") else None
    replay = mark is not None and mark - OVERLAP >= day_end
    start = day_start if mark is None or replay else mark - OVERLAP
    seen = set() if replay else {(int(i), instant(u)) for i, u in state.get("seen", [])}
    pending: dict[str, str] = dict(state.get("pending", {}))
    fetched_at = _iso(now)  # the pull's start, stamped on every node it lands
    record = PullRecord(SOURCE, ds.isoformat(), version, utc_stamp(now),
                        endpoints=[f"POST /admin/api/{version}/graphql.json orders(sortKey: UPDATED_AT)"])
    if day_end > now.astimezone(UTC):
        record.warnings.append(f"day not complete yet: {ds} (UTC) is read up to {_iso(now)}; rerun after 00:00 UTC "
                               "for the whole day")
    landed: dict[tuple[int, datetime], dict] = {}
    skipped: list[str] = []  # order nodes that could not be mapped
    client = ApiClient(SOURCE, settings.shopify_api_base_url or "", secrets=[token], classifier=classify,
                       policy=policy, headers={"X-Shopify-Access-Token": token, "Content-Type": "application/json"})
    with client:
        shop = Shop(client, version, policy)
        if end - start > BULK_AFTER:  # days behind: one bulk operation instead of hundreds of pages
            record.endpoints.append(f"POST /admin/api/{version}/graphql.json bulkOperationRunQuery")
            with ApiClient(SOURCE, "", policy=policy) as download:  # the result URL is another host: no token
                try:
                    nodes = bulk_orders(shop.query, download, start, end,
                                        poll_seconds=min(BULK_POLL_SECONDS, policy.wait_max))
                except MALFORMED as exc:  # an answer or JSONL line in an unexpected shape
                    raise PullError(f"bulk operation: {malformed_message(SOURCE, exc)}") from exc
        else:
            nodes = shop.orders(start, end, PAGE_SIZE) if end > start else []
        fetched = set()
        for node in nodes:
            if (read := mapped(node, version, fetched_at, skipped)) is None:
                continue
            row, key, ready = read
            oid = str(key[0])
            fetched.add(oid)
            if key in seen and not (ready and oid in pending):
                continue
            landed[key] = row
            if ready:
                pending.pop(oid, None)
            elif not replay:
                pending.setdefault(oid, _iso(now))
        waiting = [] if replay else [int(i) for i in pending if i not in fetched]
        if waiting:
            record.endpoints.append(f"POST /admin/api/{version}/graphql.json nodes(ids:)")
            for order_id, node in zip(waiting, shop.by_ids(waiting), strict=True):
                if not node:  # deleted, or no longer readable: nothing will ever be attributed
                    pending.pop(str(order_id))
                elif (read := mapped(node, version, fetched_at, skipped)) is not None and read[2]:
                    landed[read[1]] = read[0]
                    pending.pop(str(order_id))
    for oid, first in list(pending.items()):
        if now.astimezone(UTC) - instant(first) > timedelta(days=PENDING_DAYS):
            pending.pop(oid)
            record.warnings.append(f"order {oid}: customer journey still not attributed after {PENDING_DAYS} days; "
                                   "its landing_site stays null")
    if skipped:  # the cursor moves past them: they land again only when Shopify changes them again
        record.warnings.append(f"{len(skipped)} order node(s) skipped as unreadable: {', '.join(skipped[:10])}")
    path = landing_file(settings.landing_dir, SOURCE, ds, FILE)
    # a replay merges too: the versions landed back then stay beside the orders' current state
    record.files[FILE] = write_orders(path, read_ndjson(path), list(landed.values()))
    record.requests, record.retries, record.quota_used = client.stats.requests, client.stats.retries, shop.points
    if not replay:  # only now that the file is on disk may the cursor move past what it holds
        window = [k for k in landed if start <= k[1] < end]
        new_mark = max([moment for moment in (mark, end - OVERLAP) if moment is not None] + [k[1] for k in window])
        keep = {k for k in seen | set(landed) if k[1] >= new_mark - OVERLAP}  # re-pulled ones too
        store.put(high_water=_iso(new_mark), pending=pending,
                  seen=sorted([i, _iso(u)] for i, u in keep))
    return record
