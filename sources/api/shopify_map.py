"""Shopify Admin GraphQL `Order` nodes as the pull lands them (pure functions, no I/O).

The pull lands each node as the API returns it (landing/orders/<date>/order_nodes.ndjson, raw contract
shopify_order_nodes); staging (transforms/staging/shopify_nodes.py) maps it onto the columns of the REST order shape.
GraphQL differs from REST: ids are GIDs, enums are upper case, money comes as `MoneyBag` sets, `DateTime` is UTC
(`Z`), and a discount code's amount is not on its application but on the allocations of line items and shipping
lines, joined by the application's `index`. Here only what the pull itself needs: the selection, a node's version
key (checking the node can be staged at all) and whether its journey is attributed.
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

#: What the pull asks of every order: only the fields staging reads. Its requested cost is 124 points
#: (objects 1, connections 2 + first x node), so a page holds 8 orders under the 1000-point single-query cap; an
#: order with more than 10 line items or 3 refunds is read incompletely (per-code amounts, refunds). The bulk query
#: (shopify_bulk.BULK_ORDERS) is derived from this text, so the two selections cannot drift apart.
ORDER_FRAGMENT = """
fragment LandingOrder on Order {
  id name createdAt updatedAt email clientIp currencyCode test sourceName displayFinancialStatus
  customer { id firstName lastName defaultEmailAddress { emailAddress } }
  totalPriceSet { shopMoney { amount currencyCode } }
  subtotalPriceSet { shopMoney { amount currencyCode } }
  totalDiscountsSet { shopMoney { amount currencyCode } }
  discountCodes
  discountApplications(first: 5) {
    nodes {
      __typename index allocationMethod targetType
      value { __typename ... on MoneyV2 { amount currencyCode } ... on PricingPercentageValue { percentage } }
      ... on DiscountCodeApplication { code }
    }
  }
  lineItems(first: 10) {
    nodes { discountAllocations { allocatedAmountSet { shopMoney { amount } } discountApplication { index } } }
  }
  shippingLines(first: 2) {
    nodes { discountAllocations { allocatedAmountSet { shopMoney { amount } } discountApplication { index } } }
  }
  refunds(first: 3) {
    id createdAt
    transactions(first: 3) { nodes { kind amountSet { shopMoney { amount currencyCode } } } }
  }
  customerJourneySummary { ready firstVisit { landingPage referrerUrl } lastVisit { landingPage referrerUrl } }
}
"""


def gid_int(gid: object) -> int:
    """`gid://shopify/Order/5001` -> 5001; anything else raises ValueError (the node is skipped)."""
    if not isinstance(gid, str) or not gid.startswith("gid://shopify/"):
        raise ValueError("not a Shopify global id")
    return int(gid.rsplit("/", 1)[-1].split("?", 1)[0])


def instant(value: object) -> datetime:
    """A GraphQL `DateTime` (`2026-11-01T15:30:00Z`) -> an aware UTC datetime; ValueError/TypeError when it is not one."""
    if not isinstance(value, str):
        raise TypeError("timestamp is not a string")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _check_money(value: object) -> None:
    """Every `amount` anywhere in the node must be a finite decimal: staging would read a bad one as null (an order
    without its total, a discount code without its amount), so such a node is not landed."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "amount" and inner is not None:
                try:
                    amount = Decimal(str(inner))
                except InvalidOperation:
                    raise ValueError("money amount is not a decimal") from None
                if not amount.is_finite():
                    raise ValueError("money amount is not finite")
            else:
                _check_money(inner)
    elif isinstance(value, list):
        for inner in value:
            _check_money(inner)


def node_key(node: dict) -> tuple[int, datetime]:
    """The version `(order id, updatedAt)` of an Order node. Raises ValueError/TypeError/KeyError when the node cannot
    be used: no Order GID, an unparsable `updatedAt`, a money amount that is not a number."""
    key = gid_int(node["id"]), instant(node["updatedAt"])
    _check_money(node)
    return key


def journey_ready(node: dict) -> bool:
    """Whether Shopify has attributed the order's sessions; until then the landing site and referrer are unknown."""
    summary = node.get("customerJourneySummary")
    return summary is None or bool(summary.get("ready"))
