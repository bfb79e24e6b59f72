"""Test oracle: a Shopify Admin GraphQL `Order` node -> the REST order shape of docs/landing.md, in plain Python.

This was the pull's conversion (sources/api/shopify_map.order_record) while it landed the REST shape. The pull now
lands nodes as returned and staging maps them (transforms/staging/shopify_nodes.py); the tests keep this conversion
as an independent oracle: a pulled node, converted here, must equal the delivered REST row.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit


def gid_int(gid: str | None) -> int | None:
    """`gid://shopify/Order/5001` -> 5001; None stays None."""
    if gid is None:
        return None
    return int(str(gid).rsplit("/", 1)[-1].split("?", 1)[0])


def money(value: object) -> str | None:
    """A GraphQL Decimal (`"19.9"`, `"0.0"`) -> the REST export's string with at least two decimals (`"19.90"`)."""
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:  # not a number: the order is malformed; ValueError lets the pull skip it with a warning
        raise ValueError("money amount is not a decimal") from None
    if not amount.is_finite():
        raise ValueError("money amount is not finite")
    return str(amount.quantize(Decimal("0.01"))) if amount.as_tuple().exponent > -2 else str(amount)


def shop_money(money_set: dict | None) -> str | None:
    """`{"shopMoney": {"amount": "19.9", ...}}` -> `"19.90"` (shop currency, as the REST `*_price` fields)."""
    return money(((money_set or {}).get("shopMoney") or {}).get("amount"))


def lower_enum(value: str | None) -> str | None:
    """`PARTIALLY_REFUNDED` -> `partially_refunded`."""
    return None if value is None else value.lower()


def _nodes(connection: object) -> list[dict]:
    """A connection (`{"nodes": [...]}` or `{"edges": [{"node": ...}]}`) or a plain list -> its nodes."""
    if connection is None:
        return []
    if isinstance(connection, list):
        return connection
    if "nodes" in connection:
        return connection["nodes"] or []
    return [edge["node"] for edge in connection.get("edges") or []]


def path_and_query(url: str | None) -> str:
    """REST `landing_site` is the landing page without scheme and host: `https://s.com/p/x?utm=a` -> `/p/x?utm=a`."""
    if not url:
        return ""
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return url
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _allocated(node: dict) -> dict[int, Decimal]:
    """Amount per discount-application index, summed over every line item and shipping line."""
    totals: dict[int, Decimal] = {}
    for line in _nodes(node.get("lineItems")) + _nodes(node.get("shippingLines")):
        for allocation in line.get("discountAllocations") or []:
            index = (allocation.get("discountApplication") or {}).get("index")
            amount = ((allocation.get("allocatedAmountSet") or {}).get("shopMoney") or {}).get("amount")
            if index is not None and amount is not None:
                totals[index] = totals.get(index, Decimal(0)) + Decimal(money(amount))
    return totals


def discount_type(application: dict) -> str:
    """REST `discount_codes[].type`: a shipping-line target is `shipping`; else the value's kind says
    `percentage` (PricingPercentageValue) or `fixed_amount` (MoneyV2)."""
    if application.get("targetType") == "SHIPPING_LINE":
        return "shipping"
    value = application.get("value") or {}
    if value.get("__typename") == "PricingPercentageValue" or "percentage" in value:
        return "percentage"
    return "fixed_amount"


def discount_codes(node: dict) -> list[dict]:
    """Code applications with the amount they actually took (their allocations); falls back to `discountCodes`
    (names only, amount unknown) when the order carries no code applications."""
    allocated = _allocated(node)
    out = []
    for application in _nodes(node.get("discountApplications")):
        if application.get("__typename", "DiscountCodeApplication") != "DiscountCodeApplication" \
                or "code" not in application:
            continue
        amount = allocated.get(application.get("index"), Decimal(0))
        out.append({"code": application["code"], "amount": money(amount), "type": discount_type(application)})
    if not out:
        out = [{"code": code, "amount": None, "type": None} for code in node.get("discountCodes") or []]
    return out


def journey_ready(node: dict) -> bool:
    """Whether Shopify has attributed the order's sessions; until then the landing site and referrer are unknown."""
    summary = node.get("customerJourneySummary")
    return summary is None or bool(summary.get("ready"))


def _visit(node: dict) -> dict | None:
    """The session that placed the order (REST `landing_site`): the last visit, else the first (one session)."""
    summary = node.get("customerJourneySummary") or {}
    return summary.get("lastVisit") or summary.get("firstVisit")


def refunds(node: dict) -> list[dict]:
    return [{"id": gid_int(r.get("id")), "created_at": r.get("createdAt"),
             "transactions": [{"amount": shop_money(t.get("amountSet")), "kind": lower_enum(t.get("kind"))}
                              for t in _nodes(r.get("transactions"))]}
            for r in node.get("refunds") or []]


def order_record(node: dict, api_version: str) -> dict:
    """One GraphQL Order node -> one landing order row (REST field names and value styles, plus `api_version`).
    Timestamps stay as sent (UTC `Z`). A journey not yet attributed gives `landing_site`/`referring_site` null
    (unknown), unlike `""` (known to be empty: an app order, no referrer)."""
    customer = node.get("customer")
    ready = journey_ready(node)
    visit = _visit(node) if ready else None
    return {
        "id": gid_int(node["id"]),
        "name": node.get("name"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "customer": None if customer is None else {
            "id": gid_int(customer.get("id")),
            "email": (customer.get("defaultEmailAddress") or {}).get("emailAddress"),
            "first_name": customer.get("firstName"),
            "last_name": customer.get("lastName"),
        },
        "email": node.get("email"),
        "browser_ip": node.get("clientIp"),
        "total_price": shop_money(node.get("totalPriceSet")),
        "subtotal_price": shop_money(node.get("subtotalPriceSet")),
        "total_discounts": shop_money(node.get("totalDiscountsSet")),
        "currency": node.get("currencyCode"),
        "discount_codes": discount_codes(node),
        "landing_site": path_and_query((visit or {}).get("landingPage")) if ready else None,
        "referring_site": ((visit or {}).get("referrerUrl") or "") if ready else None,
        "financial_status": lower_enum(node.get("displayFinancialStatus")),
        "refunds": refunds(node),
        "test": bool(node.get("test")),
        "source_name": node.get("sourceName"),
        "api_version": api_version,
    }
