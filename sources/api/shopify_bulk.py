"""Shopify bulk operations for long windows (a backfill, a cursor days behind): one `bulkOperationRunQuery`, polled
through `currentBulkOperation`, its JSONL result downloaded and put back together into the same Order nodes the
paged query returns, so both land the same node shape.

In the JSONL every node of a nested connection is a line of its own, tied to its parent by `__parentId`; the
lines are reassembled here (`assemble`, pure). The result URL is a signed storage URL on another host: it is
fetched without the shop's token, and never echoed (it is a credential for seven days).
"""
from __future__ import annotations

import json
import re
import time as clock
from datetime import datetime

from influence_pipeline.sources.api.client import ApiClient, PullError
from influence_pipeline.sources.api.shopify_map import ORDER_FRAGMENT

BULK_POLL_SECONDS = 5.0
BULK_TIMEOUT_SECONDS = 3 * 3600.0

#: nested connections whose bulk lines also carry `id` (their type has one; `_typename` falls back to the GID)
_WITH_ID = ("lineItems", "shippingLines")
_PAGED = re.compile(r"(\w+)\(first: \d+\) \{\s*nodes \{")


def _closing(text: str, opening: int) -> int:
    """Index of the `}` matching the `{` at `opening`."""
    depth = 0
    for i in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise ValueError("unbalanced selection")


def bulk_selection(fragment: str) -> str:
    """The paged LandingOrder fragment in bulk form: each `name(first: N) { nodes { ... } }` becomes
    `name { edges { node { __typename ... } } }` (bulk connections take no `first`, want `edges { node }`, and
    `__typename` tells the nested lines apart). Derived, not copied, so the paged and bulk selections cannot drift."""
    body = fragment[fragment.index("{") + 1:fragment.rindex("}")]
    while match := _PAGED.search(body):
        inner = match.end() - 1  # the `{` of `nodes {`
        close = _closing(body, inner)
        extra = "__typename id" if match[1] in _WITH_ID else "__typename"
        fields = body[inner + 1:close].strip()
        if fields.split(None, 1)[0] != "__typename":
            fields = f"{extra} {fields}"
        outer_close = _closing(body, body.index("{", match.start()))
        body = (body[:match.start()] + f"{match[1]} {{ edges {{ node {{ {fields} }} }} "
                + body[close + 1:outer_close].strip() + "}" + body[outer_close + 1:])
    return re.sub(r"\(first: \d+\)", "", body).strip()  # list fields too (`refunds`): bulk reads them whole


#: The bulk query: the orders of one `updated_at` range (`%(search)s`) with the LandingOrder selection in bulk form
#: (at most five connections, two levels deep, as Shopify allows).
BULK_ORDERS = ('{\n  orders(query: "%(search)s", sortKey: UPDATED_AT) { edges { node {\n'
               + bulk_selection(ORDER_FRAGMENT).replace("%", "%%") + "\n  } } }\n}")

RUN_MUTATION = """mutation RunOrdersBulk($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message } }
}"""

POLL_QUERY = """query PollOrdersBulk {
  currentBulkOperation(type: QUERY) { id status errorCode objectCount url partialDataUrl }
}"""

#: nested node type -> the Order connection it belongs to
_CONNECTION = {"LineItem": "lineItems", "ShippingLine": "shippingLines"}


def _typename(line: dict) -> str:
    if line.get("__typename"):
        return line["__typename"]
    gid = str(line.get("id") or "")
    return gid.removeprefix("gid://shopify/").split("/", 1)[0] if gid.startswith("gid://") else ""


def assemble(lines: list[dict]) -> list[dict]:
    """JSONL lines -> Order nodes with their nested connections as `{"nodes": [...]}`, in file order.

    Transactions name their Refund as parent; should a file name the Order instead, they go to its only refund
    (an order with several refunds could not be told apart, and its transactions go to the last refund)."""
    orders: dict[str, dict] = {}
    refunds: dict[str, dict] = {}
    for line in lines:
        if "__parentId" not in line:
            order = {**line, "discountApplications": {"nodes": []}, "lineItems": {"nodes": []},
                     "shippingLines": {"nodes": []},
                     "refunds": [{**r, "transactions": {"nodes": []}} for r in line.get("refunds") or []]}
            orders[line["id"]] = order
            refunds.update({r["id"]: r for r in order["refunds"]})
    for line in lines:
        parent = line.get("__parentId")
        if parent is None:
            continue
        child = {k: v for k, v in line.items() if k != "__parentId"}
        kind = _typename(line)
        if kind == "OrderTransaction":
            owner = refunds.get(parent) or (orders[parent]["refunds"][-1] if orders.get(parent, {}).get("refunds")
                                            else None)
            if owner is not None:
                owner["transactions"]["nodes"].append(child)
        elif parent in orders:
            orders[parent][_CONNECTION.get(kind, "discountApplications")]["nodes"].append(child)
    return list(orders.values())


def bulk_orders(query, download: ApiClient, start: datetime, end: datetime, *, poll_seconds: float = BULK_POLL_SECONDS,
                timeout: float = BULK_TIMEOUT_SECONDS) -> list[dict]:
    """Every order whose `updatedAt` is in [start, end), through one bulk operation. `query(document, operation,
    variables) -> data` is the shop's GraphQL call; `download` a client without the shop's token."""
    search = f"updated_at:>='{start.strftime('%Y-%m-%dT%H:%M:%SZ')}' updated_at:<'{end.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    document = BULK_ORDERS % {"search": search.replace('"', '\\"')}
    run = query(RUN_MUTATION, "RunOrdersBulk", {"query": document})["bulkOperationRunQuery"]
    if run.get("userErrors"):
        raise PullError("shopify bulk operation refused: "
                        + "; ".join(f"{e.get('field')}: {e.get('message')}" for e in run["userErrors"]))
    operation_id = run["bulkOperation"]["id"]
    deadline = clock.monotonic() + timeout
    while True:
        current = query(POLL_QUERY, "PollOrdersBulk", {})["currentBulkOperation"] or {}
        if current.get("id") != operation_id:
            raise PullError(f"shopify bulk operation {operation_id} is no longer the current one (another app run "
                            "replaced or cancelled it)")
        if current["status"] == "COMPLETED":
            break
        if current["status"] in ("FAILED", "CANCELED", "CANCELING", "EXPIRED"):
            raise PullError(f"shopify bulk operation {operation_id} ended {current['status']} "
                            f"(errorCode {current.get('errorCode')}, {current.get('objectCount')} objects)")
        if clock.monotonic() > deadline:
            raise PullError(f"shopify bulk operation {operation_id} still {current['status']} after {timeout:.0f} s")
        clock.sleep(poll_seconds)
    if not current.get("url"):  # Shopify gives no file when nothing matched
        return []
    _, response = download.get(current["url"])
    return assemble([json.loads(line) for line in response.text.splitlines() if line.strip()])
