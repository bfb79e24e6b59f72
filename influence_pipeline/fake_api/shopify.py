"""A fake Shopify Admin GraphQL API serving a sample world's orders (`orders/<day>/orders.ndjson`, REST shape).

It parses no GraphQL: it recognises the pull's two operations by name (`PullOrders`: the `orders` connection with an
`updated_at` range search; `PullOrdersById`: `nodes(ids:)`) and answers them in the documented GraphQL shapes, with
the cost extension of every answer and a leaky bucket behind it. Shopify keeps one version of an order, so the fake
serves each order's latest version among the days up to `world.day`.

Bulk operations (`RunOrdersBulk`, `PollOrdersBulk`) answer RUNNING, then COMPLETED with a URL on this server
(`/shopify/bulk/<n>.jsonl`, no token needed, like Shopify's signed storage URLs) serving the JSONL.

Switches: `throttle_next` (THROTTLED that many times), `journey_pending` (ids whose journey is not attributed yet),
`bulk_fail` (an errorCode), `maximum_available`/`restore_rate` (the bucket); a wrong token gets HTTP 401.
"""
from __future__ import annotations

import base64
import json
import re
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

from influence_pipeline.fake_api.server import FakeRequest, FakeResponse, SampleWorld

SHOP_URL = "https://shop.example.com"
MAX_COST = 1000  # Shopify's single-query limit
#: Requested cost of one order with the pull's selection (objects 1, connections 2 + first x node), per Shopify's
#: calculation; actual cost counts what was returned.
ORDER_REQUESTED_COST = 124
BULK_OPERATIONS = {"RunOrdersBulk": 10, "PollOrdersBulk": 1}  # requested cost of a mutation, of a poll
_PATH = re.compile(r"^/admin/api/(?P<version>[0-9]{4}-[0-9]{2}|unstable)/graphql\.json$")
_RANGE = re.compile(r"updated_at:(?P<op>>=|<=|>|<)'?(?P<value>[^'\s]+)'?")


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _z(value: str) -> str:
    """Any ISO timestamp -> GraphQL DateTime (UTC, `Z`)."""
    return _instant(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decimal(value: object) -> str:
    """GraphQL Decimal as Shopify prints it: no padding zeros (`19.9`, `0.0`)."""
    text = format(Decimal(str(value)).normalize(), "f")
    return text if "." in text else text + ".0"


def _money_set(amount: object, currency: str) -> dict:
    bag = {"amount": _decimal(amount), "currencyCode": currency}
    return {"shopMoney": bag, "presentmentMoney": dict(bag)}


def _allocation(amount: Decimal, index: int, currency: str) -> dict:
    return {"allocatedAmountSet": _money_set(amount, currency), "discountApplication": {"index": index}}


def graphql_order(rest: dict, ready: bool = True) -> dict:
    """A REST-shape order row -> the GraphQL Order node the pull selects."""
    cur = rest["currency"]
    gid = f"gid://shopify/Order/{rest['id']}"
    applications, lines, shipping = [], [[], []], []
    for index, code in enumerate(rest.get("discount_codes") or []):
        amount = Decimal(code["amount"])
        if code["type"] == "shipping":
            value, target = {"__typename": "PricingPercentageValue", "percentage": 100.0}, "SHIPPING_LINE"
            shipping.append(_allocation(amount, index, cur))
        else:
            target = "LINE_ITEM"
            if code["type"] == "percentage":
                base = Decimal(rest["subtotal_price"]) + amount
                value = {"__typename": "PricingPercentageValue",
                         "percentage": float(round(amount / base * 100, 1)) if base else 0.0}
            else:
                value = {"__typename": "MoneyV2", "amount": _decimal(amount), "currencyCode": cur}
            half = (amount / 2).quantize(Decimal("0.01"))  # spread over two line items, as an ACROSS code is
            lines[0].append(_allocation(half, index, cur))
            lines[1].append(_allocation(amount - half, index, cur))
        applications.append({"__typename": "DiscountCodeApplication", "index": index, "code": code["code"],
                             "allocationMethod": "ACROSS", "targetSelection": "ALL", "targetType": target,
                             "value": value})
    customer = rest.get("customer")
    landing = rest.get("landing_site") or ""
    visit = None if not landing else {"landingPage": SHOP_URL + landing,
                                      "referrerUrl": rest.get("referring_site") or None}
    return {
        "__typename": "Order", "id": gid, "legacyResourceId": str(rest["id"]), "name": rest["name"],
        "createdAt": _z(rest["created_at"]), "updatedAt": _z(rest["updated_at"]),
        "email": rest.get("email"), "clientIp": rest.get("browser_ip"), "currencyCode": cur,
        "test": rest.get("test", False), "sourceName": rest.get("source_name"),
        "displayFinancialStatus": (rest.get("financial_status") or "").upper() or None,
        "customer": None if not customer else {
            "id": f"gid://shopify/Customer/{customer['id']}", "firstName": customer.get("first_name"),
            "lastName": customer.get("last_name"),
            "defaultEmailAddress": {"emailAddress": customer.get("email")}},
        "totalPriceSet": _money_set(rest["total_price"], cur),
        "subtotalPriceSet": _money_set(rest["subtotal_price"], cur),
        "totalDiscountsSet": _money_set(rest["total_discounts"], cur),
        "discountCodes": [c["code"] for c in rest.get("discount_codes") or []],
        "discountApplications": {"nodes": applications},
        "lineItems": {"nodes": [{"discountAllocations": a} for a in lines]},
        "shippingLines": {"nodes": [{"discountAllocations": shipping}]},
        "refunds": [{"id": f"gid://shopify/Refund/{r['id']}", "createdAt": _z(r["created_at"]),
                     "transactions": {"nodes": [{"kind": t["kind"].upper(), "amountSet": _money_set(t["amount"], cur)}
                                                for t in r.get("transactions") or []]}}
                    for r in rest.get("refunds") or []],
        "customerJourneySummary": (
            {"ready": True, "firstVisit": visit, "lastVisit": visit, "momentsCount": {"count": 1 if visit else 0}}
            if ready else {"ready": False, "firstVisit": None, "lastVisit": None, "momentsCount": None}),
    }


def _actual_cost(node: dict | None) -> int:
    if node is None:
        return 0
    lines = sum(len(li["discountAllocations"]) for li in node["lineItems"]["nodes"])
    refunds = sum(1 + 2 + 3 * len(r["transactions"]["nodes"]) for r in node["refunds"])
    return 16 + 2 * len(node["discountApplications"]["nodes"]) + 4 * lines + refunds


class FakeShopify:
    prefix = "/shopify"

    def __init__(self, world: SampleWorld, access_token: str = "shpat_fake_token", *,
                 maximum_available: float = 2000.0, restore_rate: float = 20_000.0):
        # A real shop restores 100 points/s (Advanced 200, Plus 1000); the default here refills within milliseconds
        # so tests and the demo, which back off in milliseconds, only meet the throttle when they ask for it.
        self.world, self.access_token = world, access_token
        self.throttle_next = 0
        self.throttled = 0  # THROTTLED answers given
        self.journey_pending: set[int] = set()
        self.bulk_running_polls = 1  # polls that see RUNNING before COMPLETED
        self.bulk_fail: str | None = None  # an errorCode (INTERNAL_SERVER_ERROR, TIMEOUT) to fail the bulk operation
        self.bulk: list[dict] = []  # bulk operations run: {"id", "query", "polls"}
        self.download_headers: list[dict[str, str]] = []
        self.maximum_available, self.restore_rate = maximum_available, restore_rate
        self.operations: list[str] = []
        self.searches: list[str] = []  # the `query` argument of each orders request
        self._available, self._at = maximum_available, time.monotonic()
        self._lock = threading.Lock()
        self._cache: tuple[object, dict[int, dict]] = (None, {})

    # the shop's truth: each order's latest version delivered on or before world.day
    def current_orders(self) -> dict[int, dict]:
        if self._cache[0] == self.world.day:  # the world's files do not change, only its day moves
            return self._cache[1]
        latest: dict[int, dict] = {}
        for day in self.world.days("orders"):
            if day > self.world.day:
                break
            for row in self.world.ndjson("orders", "orders.ndjson", day):
                old = latest.get(row["id"])
                if old is None or _instant(row["updated_at"]) >= _instant(old["updated_at"]):
                    latest[row["id"]] = row
        self._cache = (self.world.day, latest)
        return latest

    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.method == "GET" and request.path.startswith("/bulk/"):
            return self._download(request)
        match = _PATH.match(request.path)
        if request.method != "POST" or not match:
            return FakeResponse(404, {"errors": "Not Found"})
        if request.headers.get("x-shopify-access-token") != self.access_token:
            return FakeResponse(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong "
                                                "password)"})
        body = request.json() or {}
        document, variables = body.get("query", ""), body.get("variables") or {}
        operation = body.get("operationName") or (re.findall(r"query\s+(\w+)", document) or [""])[0]
        self.operations.append(operation)
        if operation == "PullOrders":
            self.searches.append(variables.get("query") or "")
            requested = 2 + int(variables["first"]) * ORDER_REQUESTED_COST
        elif operation == "PullOrdersById":
            requested = 1 + len(variables["ids"]) * ORDER_REQUESTED_COST
        elif operation in BULK_OPERATIONS:
            requested = BULK_OPERATIONS[operation]
        else:
            return FakeResponse(200, {"errors": [{"message": f"fake Shopify does not know operation {operation!r}",
                                                  "extensions": {"code": "undefinedField"}}]})
        if requested > MAX_COST:
            return FakeResponse(200, {"errors": [{
                "message": f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_COST}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_COST}}]})
        with self._lock:
            available = self._restore()
            if self.throttle_next > 0 or requested > available:
                self.throttle_next = max(0, self.throttle_next - 1)
                self.throttled += 1
                return FakeResponse(200, {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": self._cost(requested, None, min(available, requested - 1))}})
        if operation == "PullOrders":
            data, actual = self._orders(variables)
        elif operation == "PullOrdersById":
            data, actual = self._nodes(variables)
        elif operation == "RunOrdersBulk":
            data, actual = self._run_bulk(variables), requested
        else:
            data, actual = self._poll_bulk(request.headers.get("host", "")), requested
        with self._lock:
            self._available = self._restore() - actual
            cost = self._cost(requested, actual, self._available)
        return FakeResponse(200, {"data": data, "extensions": {"cost": cost}})

    def _restore(self) -> float:
        now = time.monotonic()
        self._available = min(self.maximum_available, self._available + (now - self._at) * self.restore_rate)
        self._at = now
        return self._available

    def _cost(self, requested: int, actual: int | None, available: float) -> dict:
        return {"requestedQueryCost": requested, "actualQueryCost": actual,
                "throttleStatus": {"maximumAvailable": self.maximum_available,
                                   "currentlyAvailable": max(0.0, round(available, 1)),
                                   "restoreRate": self.restore_rate}}

    def _node(self, row: dict) -> dict:  # tests replace it to serve a malformed order
        return graphql_order(row, ready=row["id"] not in self.journey_pending)

    def _orders(self, variables: dict) -> tuple[dict, int]:
        rows = list(self.current_orders().values())
        for cond in _RANGE.finditer(variables.get("query") or ""):
            bound, op = _instant(cond["value"]), cond["op"]
            rows = [r for r in rows if {">=": lambda t: t >= bound, ">": lambda t: t > bound,
                                        "<=": lambda t: t <= bound, "<": lambda t: t < bound}[op](
                _instant(r["updated_at"]))]
        rows.sort(key=lambda r: (_instant(r["updated_at"]), r["id"]))
        offset = int(base64.b64decode(variables["after"]).decode().split(":")[1]) if variables.get("after") else 0
        page = [self._node(r) for r in rows[offset:offset + int(variables["first"])]]
        end = offset + len(page)
        info = {"hasNextPage": end < len(rows), "hasPreviousPage": offset > 0,
                "startCursor": base64.b64encode(f"cursor:{offset}".encode()).decode() if page else None,
                "endCursor": base64.b64encode(f"cursor:{end}".encode()).decode() if page else None}
        return {"orders": {"pageInfo": info, "nodes": page}}, 2 + sum(_actual_cost(n) for n in page)

    def _nodes(self, variables: dict) -> tuple[dict, int]:
        current = self.current_orders()
        out = []
        for gid in variables["ids"]:
            kind, _, number = gid.removeprefix("gid://shopify/").partition("/")
            row = current.get(int(number)) if kind == "Order" and number.isdigit() else None
            out.append(None if row is None else self._node(row))
        return {"nodes": out}, 1 + sum(_actual_cost(n) for n in out)

    # bulk operations: the run stores the search, polls see RUNNING then COMPLETED, the file is JSONL
    def _run_bulk(self, variables: dict) -> dict:
        document = variables.get("query") or ""
        if "orders(" not in document:
            return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [
                {"field": ["query"], "message": "fake Shopify bulk-queries orders only"}]}}
        operation = {"id": f"gid://shopify/BulkOperation/{len(self.bulk) + 1}", "query": document, "polls": 0}
        self.bulk.append(operation)
        return {"bulkOperationRunQuery": {"bulkOperation": {"id": operation["id"], "status": "CREATED"},
                                          "userErrors": []}}

    def _poll_bulk(self, host: str) -> dict:
        if not self.bulk:
            return {"currentBulkOperation": None}
        operation = self.bulk[-1]
        operation["polls"] += 1
        number = operation["id"].rsplit("/", 1)[1]
        state = {"id": operation["id"], "errorCode": None, "objectCount": "0", "url": None, "partialDataUrl": None}
        if operation["polls"] <= self.bulk_running_polls:
            return {"currentBulkOperation": {**state, "status": "RUNNING"}}
        if self.bulk_fail:
            return {"currentBulkOperation": {**state, "status": "FAILED", "errorCode": self.bulk_fail}}
        lines = self._bulk_lines(operation["query"])
        url = f"http://{host}{self.prefix}/bulk/{number}.jsonl?X-Goog-Signature=fake-signature" if lines else None
        return {"currentBulkOperation": {**state, "status": "COMPLETED", "objectCount": str(len(lines)), "url": url}}

    def _bulk_lines(self, document: str) -> list[dict]:
        """The orders in the search's range, each split into its JSONL lines: every node of a nested connection on a
        line of its own with `__parentId`; parents first, children after all of them (ungrouped output)."""
        rows, _ = self._orders({"query": document, "first": 10**9})
        parents, children = [], []
        for order in rows["orders"]["nodes"]:
            oid = order["id"]
            parents.append({**{k: v for k, v in order.items()
                               if k not in ("__typename", "discountApplications", "lineItems", "shippingLines")},
                            "refunds": [{"id": r["id"], "createdAt": r["createdAt"]} for r in order["refunds"]]})
            children += [{**a, "__parentId": oid} for a in order["discountApplications"]["nodes"]]
            for kind, key in (("LineItem", "lineItems"), ("ShippingLine", "shippingLines")):
                children += [{"__typename": kind, "id": f"gid://shopify/{kind}/{oid.rsplit('/', 1)[1]}{n}", **line,
                              "__parentId": oid} for n, line in enumerate(order[key]["nodes"])]
            for refund in order["refunds"]:
                children += [{"__typename": "OrderTransaction", **t, "__parentId": refund["id"]}
                             for t in refund["transactions"]["nodes"]]
        return parents + children

    def _download(self, request: FakeRequest) -> FakeResponse:
        self.download_headers.append(dict(request.headers))
        number = request.path.removeprefix("/bulk/").removesuffix(".jsonl")
        operation = next((b for b in self.bulk if b["id"].endswith(f"/{number}")), None)
        if operation is None:
            return FakeResponse(404, {"error": "NoSuchKey"})
        payload = "".join(json.dumps(line) + "\n" for line in self._bulk_lines(operation["query"]))
        return FakeResponse(200, raw=payload.encode(), headers={"content-type": "application/jsonl"})
