"""Shopify orders in the current shape (GraphQL `Order` nodes, raw shopify_order_nodes) stage exactly as the same
orders in the previous shape (REST, raw shopify_orders): the same stg_orders and stg_order_discount_codes rows, PII
hashes included; a node that breaks the contract is quarantined with the rule named; the pull lands nodes as returned.
The REST conversion lives on as a test oracle (tests/shopify_rest.py)."""
from __future__ import annotations

import copy
import json
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from influence_pipeline.fake_api.shopify import graphql_order
from influence_pipeline.sample import generate
from influence_pipeline.schemas.contract import load_contracts
from influence_pipeline.schemas.raw import BY_NAME as RAW
from influence_pipeline.schemas.row_rules import row_rules
from influence_pipeline.sources.api import shopify, shopify_map
from influence_pipeline.sources.api.shopify_bulk import BULK_ORDERS, assemble, bulk_selection
from influence_pipeline.sources.landing import read_landing_file
from influence_pipeline.transforms.quarantine import split_batch
from influence_pipeline.transforms.staging.commerce import build_stg_order_discount_codes, build_stg_orders
from influence_pipeline.transforms.staging.shopify_nodes import path_and_query
from tests.conftest import FIXTURES, TEST_PII_KEY
from tests.shopify_rest import discount_codes, gid_int, money, order_record, path_and_query as rest_path_and_query
from tests.test_pull_shopify import D1, D2, D3, Setup, after, instant

DS = date(2026, 11, 2)
KEY = TEST_PII_KEY.encode()
GOLDEN = FIXTURES / "landing" / "orders" / DS.isoformat() / "orders.ndjson"


def _rest(n: int, **changes) -> dict:
    row = {"id": n, "name": f"#{n}", "created_at": "2026-11-02T10:30:00-05:00",
           "updated_at": "2026-11-02T10:30:05-05:00",
           "customer": {"id": 7000 + n, "email": f"Buyer{n}@Example.com", "first_name": "Ann", "last_name": "Lee"},
           "email": f"buyer{n}@example.com", "browser_ip": "2001:db8::7", "total_price": "45.00",
           "subtotal_price": "40.00", "total_discounts": "15.00", "currency": "EUR", "discount_codes": [],
           "landing_site": "/products/x?utm_source=instagram&utm_campaign=Winter%20Glow",
           "referring_site": "https://l.instagram.com/", "financial_status": "paid", "refunds": [], "test": False,
           "source_name": "web"}
    return {**row, **changes}


def _cases() -> list[tuple[dict, dict]]:
    """(REST row, node) pairs: the golden day's orders and the cases the mapping must get right."""
    golden = [json.loads(line) for line in GOLDEN.read_text().splitlines()[:3]]  # line 4 is meant to be quarantined
    pairs = [(row, graphql_order(row)) for row in golden]
    codes = [{"code": "JANE15", "amount": "6.00", "type": "percentage"},
             {"code": "TENOFF", "amount": "4.00", "type": "fixed_amount"},
             {"code": "FREESHIP", "amount": "5.00", "type": "shipping"}]
    refunded = _rest(9101, discount_codes=codes, financial_status="partially_refunded", refunds=[
        {"id": 9, "created_at": "2026-11-02T13:00:00-05:00",
         "transactions": [{"amount": "10.00", "kind": "refund"}, {"amount": "2.50", "kind": "refund"}]}])
    pairs.append((refunded, graphql_order(refunded)))
    pending = _rest(9102, landing_site=None, referring_site=None)  # journey not attributed yet: unknown, not ""
    pairs.append((pending, graphql_order(_rest(9102), ready=False)))
    no_email = _rest(9103, customer={"id": 7999, "email": None, "first_name": None, "last_name": "Solo"}, email=None)
    pairs.append((no_email, graphql_order(no_email)))
    guest = _rest(9104, customer=None, landing_site="", referring_site="", source_name="iphone")  # app order
    pairs.append((guest, graphql_order(guest)))
    names_only = _rest(9105, discount_codes=[{"code": "legacy20", "amount": None, "type": None}])
    node = graphql_order(_rest(9105))
    node["discountCodes"] = ["legacy20"]  # a code Shopify names, without a code application (a script discount)
    pairs.append((names_only, node))
    return pairs


def _hand_written_nodes() -> list[dict]:
    """Nodes the fake never makes: allocations of one code over several lines and shipping, a non-code (automatic)
    application, a last visit differing from the first, a fragment in the landing page, a refund with two kinds."""
    base = graphql_order(_rest(9201, discount_codes=[{"code": "A10", "amount": "3.00", "type": "fixed_amount"}]))
    node = copy.deepcopy(base)
    node["discountApplications"]["nodes"].append({"__typename": "AutomaticDiscountApplication", "index": 1,
                                                  "targetType": "LINE_ITEM", "title": "Autumn",
                                                  "value": {"__typename": "MoneyV2", "amount": "1.0"}})
    node["shippingLines"]["nodes"][0]["discountAllocations"].append(
        {"allocatedAmountSet": {"shopMoney": {"amount": "0.5"}}, "discountApplication": {"index": 0}})
    node["customerJourneySummary"] = {"ready": True,
                                      "firstVisit": {"landingPage": "https://s.com/first", "referrerUrl": "x"},
                                      "lastVisit": {"landingPage": "https://s.com/p/y?utm_source=tt#top",
                                                    "referrerUrl": None}}
    node["refunds"] = [{"id": "gid://shopify/Refund/1", "createdAt": "2026-11-02T18:00:00Z", "transactions": {
        "nodes": [{"kind": "REFUND", "amountSet": {"shopMoney": {"amount": "4.5"}}},
                  {"kind": "REFUND", "amountSet": {"shopMoney": {"amount": "0.25"}}}]}}]
    first_only = graphql_order(_rest(9202))
    first_only["customerJourneySummary"]["lastVisit"] = None
    first_only["customerJourneySummary"]["firstVisit"] = {"landingPage": "https://s.com", "referrerUrl": ""}
    return [node, first_only]


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _clean(name: str, path: Path) -> pl.DataFrame:
    dataset, contract = RAW[name], load_contracts()[name]
    raw = pl.from_arrow(read_landing_file(dataset, path, f"orders/{DS}/{dataset.file}", "run", KEY))
    split = split_batch(raw, contract, row_rules(contract, DS, {}))
    # only an older version of an order in the same file is set aside (the contract's dedupeLatestBy)
    assert set(split.quarantined["rule_id"]) <= {f"{name}.duplicate_key"}, split.quarantined["reason"].to_list()
    return split.clean


def _empty(name: str) -> pl.LazyFrame:
    return pl.LazyFrame(schema=pl.Schema(RAW[name].arrow_schema))


def _staged(tmp_path: Path, rest: list[dict], nodes: list[dict]) -> tuple[dict, dict]:
    """(stg_orders, stg_order_discount_codes) of the orders delivered as REST rows, then as nodes; lineage dropped."""
    rest_raw = _clean("shopify_orders", _write(tmp_path / "rest" / "orders.ndjson", rest)).lazy()
    node_raw = _clean("shopify_order_nodes", _write(tmp_path / "nodes" / "order_nodes.ndjson", [
        {**n, "api_version": "2025-10", "fetched_at": "2026-11-03T02:00:00Z"} for n in nodes])).lazy()
    out = {}
    for shape, frames in (("rest", (rest_raw, _empty("shopify_order_nodes"))),
                          ("nodes", (_empty("shopify_orders"), node_raw))):
        orders = build_stg_orders(*frames, landing_date=DS).collect()
        codes = build_stg_order_discount_codes(*frames, landing_date=DS).collect()
        out[shape] = [f.drop("_source_file", "_row_number").sort(f.columns[:2]).to_dicts() for f in (orders, codes)]
    return out["rest"], out["nodes"]


def test_both_shapes_stage_the_same_orders_and_codes(tmp_path):
    pairs = _cases()
    (orders, codes), (node_orders, node_codes) = _staged(tmp_path, [r for r, _ in pairs], [n for _, n in pairs])
    assert node_orders == orders and node_codes == codes
    by_id = {r["order_id"]: r for r in node_orders}
    assert len(by_id) == len(pairs) - 1  # the golden day delivers order 4990 twice: the later version wins
    assert by_id["9102"]["landing_site"] is None and by_id["9102"]["referring_site"] is None  # not ready: unknown
    assert by_id["9104"]["landing_site"] == "" and by_id["9104"]["customer_id"] is None
    assert by_id["9101"]["refunded_amount"] == pytest.approx(12.5) and by_id["9101"]["financial_status"] == \
        "partially_refunded"
    assert by_id["9103"]["customer_email_hash"] is None and by_id["9103"]["customer_id"] == "7999"
    assert by_id["9101"]["customer_email_hash"] is not None
    assert by_id["9101"]["utm_source"] == "instagram" and by_id["9101"]["browser_ip_hash"]
    code_rows = {(c["order_id"], c["discount_code"]): (c["discount_amount"], c["discount_type"]) for c in node_codes}
    assert {k: (float(a), t) for k, (a, t) in code_rows.items() if k[0] == "9101"} == {
        ("9101", "JANE15"): (6.0, "percentage"), ("9101", "TENOFF"): (4.0, "fixed_amount"),
        ("9101", "FREESHIP"): (5.0, "shipping")}
    assert code_rows[("9105", "LEGACY20")] == (None, None) and by_id["9105"]["discount_code_count"] == 1


def test_staged_nodes_agree_with_the_rest_conversion_oracle(tmp_path):
    nodes = _hand_written_nodes()
    rest = [order_record(n, "2025-10") for n in nodes]
    assert rest[0]["discount_codes"] == [{"code": "A10", "amount": "3.50", "type": "fixed_amount"}]
    assert rest[0]["landing_site"] == "/p/y?utm_source=tt" and rest[1]["landing_site"] == "/"
    (orders, codes), (node_orders, node_codes) = _staged(tmp_path, rest, nodes)
    assert node_orders == orders and node_codes == codes
    assert [float(c["discount_amount"]) for c in node_codes if c["order_id"] == "9201"] == [3.5]
    first = next(r for r in node_orders if r["order_id"] == "9201")
    assert first["refunded_amount"] == pytest.approx(4.75) and first["utm_source"] == "tt"
    assert first["referring_site"] is None and first["landing_site"] == "/p/y?utm_source=tt"


def test_a_pulled_rerun_in_the_other_shape_keeps_the_latest_version(tmp_path):
    """Both shapes of one day are concatenated before the latest-per-order dedupe: a newer node beats an older REST
    row of the same order, and the codes are those of the newer version."""
    old = _rest(9301, discount_codes=[{"code": "OLD", "amount": "1.00", "type": "fixed_amount"}])
    new = _rest(9301, updated_at="2026-11-02T12:00:00-05:00", financial_status="refunded",
                discount_codes=[{"code": "NEW", "amount": "2.00", "type": "fixed_amount"}])
    rest_raw = _clean("shopify_orders", _write(tmp_path / "r" / "orders.ndjson", [old])).lazy()
    node_raw = _clean("shopify_order_nodes", _write(tmp_path / "n" / "order_nodes.ndjson", [graphql_order(new)])).lazy()
    [order] = build_stg_orders(rest_raw, node_raw, DS).collect().to_dicts()
    assert order["financial_status"] == "refunded" and order["_source_file"].endswith("order_nodes.ndjson")
    codes = build_stg_order_discount_codes(rest_raw, node_raw, DS).collect()
    assert codes["discount_code"].to_list() == ["NEW"]


@pytest.mark.parametrize("change, rule_id, reason", [
    (lambda n: n.update(id="5001"), "shopify_order_nodes.id.pattern",
     'id "5001" does not match ^gid://shopify/Order/[0-9]+$'),
    (lambda n: n["totalPriceSet"]["shopMoney"].update(amount="-59.9"), "shopify_order_nodes.total_price.range", None),
    (lambda n: n.update(currencyCode="usd"), "shopify_order_nodes.currency_code.pattern", None),
    (lambda n: n.update(displayFinancialStatus="paid"), "shopify_order_nodes.display_financial_status.enum", None),
])
def test_a_bad_node_is_quarantined_with_the_rule_named(tmp_path, change, rule_id, reason):
    nodes = [graphql_order(json.loads(line)) for line in GOLDEN.read_text().splitlines()[1:3]]
    change(nodes[0])
    dataset, contract = RAW["shopify_order_nodes"], load_contracts()["shopify_order_nodes"]
    path = _write(tmp_path / "order_nodes.ndjson", nodes)
    raw = pl.from_arrow(read_landing_file(dataset, path, f"orders/{DS}/order_nodes.ndjson", "run", KEY))
    split = split_batch(raw, contract, row_rules(contract, DS, {}))
    [row] = split.quarantined.to_dicts()
    assert row["_row_number"] == 1 and row["rule_id"] == rule_id
    if reason:
        assert row["reason"] == reason
    assert split.clean["_row_number"].to_list() == [2]


def test_pii_is_hashed_alike_in_both_shapes_and_never_kept_in_clear(tmp_path):
    row = _rest(9401, customer={"id": 1, "email": " Same@Example.COM", "first_name": "Bo", "last_name": "Li"},
                email="same@example.com", browser_ip="198.51.100.9")
    rest = pl.from_arrow(read_landing_file(RAW["shopify_orders"], _write(tmp_path / "r.ndjson", [row]), "r", "x", KEY))
    nodes = pl.from_arrow(read_landing_file(RAW["shopify_order_nodes"], _write(tmp_path / "n.ndjson",
                                                                               [graphql_order(row)]), "n", "x", KEY))
    assert nodes["customer_email_hash"][0] == rest["customer_email_hash"][0] == rest["email_hash"][0]
    assert nodes["client_ip_hash"][0] == rest["browser_ip_hash"][0] is not None
    assert nodes["customer_first_name_hash"][0] == rest["customer_first_name_hash"][0]
    text = nodes.write_csv()
    assert "@example.com" not in text.lower() and "198.51.100.9" not in text and "Bo" not in text.split("\n", 1)[1]


def test_node_key_refuses_what_cannot_be_staged():
    node = graphql_order(_rest(9501))
    assert shopify_map.node_key(node)[0] == 9501
    for broken in ({**node, "id": None}, {**node, "id": "5001"}, {**node, "updatedAt": "yesterday"},
                   {**node, "totalPriceSet": {"shopMoney": {"amount": "12,50"}}},
                   {**node, "refunds": [{"transactions": {"nodes": [{"amountSet": {"shopMoney": {"amount": "NaN"}}}]}}]}):
        with pytest.raises((ValueError, TypeError, KeyError)):
            shopify_map.node_key(broken)
    assert shopify_map.journey_ready(node) and not shopify_map.journey_ready(graphql_order(_rest(9502), ready=False))


def test_path_and_query_as_the_rest_export_writes_it():
    urls = ["https://shop.example.com/products/x?utm_source=ig", "https://shop.example.com", "/already/a/path?q=1",
            "https://s.com/p?#frag", "https://s.com/p#frag", "//cdn.s.com/a?b=c", "", None]
    got = pl.select(path_and_query(pl.Series(urls, dtype=pl.String))).to_series().to_list()
    assert got == [rest_path_and_query(u) for u in urls]
    assert got[:2] == ["/products/x?utm_source=ig", "/"]


def test_rest_oracle_pieces():
    assert gid_int("gid://shopify/Order/5001") == 5001 and gid_int(None) is None
    assert money("19.9") == "19.90" and money("0.0") == "0.00" and money("1.125") == "1.125"
    with pytest.raises(ValueError):
        money("12,50")
    rest = _rest(1, discount_codes=[{"code": "JANE15", "amount": "6.00", "type": "percentage"},
                                    {"code": "FREESHIP", "amount": "5.00", "type": "shipping"}], customer=None)
    assert discount_codes(graphql_order(rest)) == rest["discount_codes"]
    row = order_record(graphql_order(rest), "2025-10")
    assert row["created_at"] == "2026-11-02T15:30:00Z" and row["customer"] is None


# ------------------------------------------------------------------------------------------- the pull's landing file
@pytest.fixture(scope="module")
def world_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shopify_nodes") / "world"
    generate(root, D1, 3, 0.2, 7, 0.0)
    return root


@pytest.fixture
def shop(tmp_path, world_dir):
    setup = Setup(tmp_path, world_dir)
    yield setup
    setup.server.stop()


def test_the_pull_lands_each_node_as_returned(shop):
    shop.fake.journey_pending = {next(iter(shop.fake.current_orders()))}
    shop.pull(D1)
    landed = shop.nodes(D1)
    current = shop.fake.current_orders()
    assert landed and len(landed) == len(shop.truth(D1))
    for node in landed:
        assert node["api_version"] == "2025-10" and node["fetched_at"] == "2026-11-02T02:00:00Z"  # the pull's start
        as_returned = {k: v for k, v in node.items() if k not in ("api_version", "fetched_at")}
        assert as_returned == shop.fake._node(current[shopify_map.gid_int(node["id"])])  # no conversion
    assert [instant(n["updatedAt"]) for n in landed] == sorted(instant(n["updatedAt"]) for n in landed)


def test_bulk_nodes_stage_as_the_delivered_rest_rows(shop, tmp_path):
    """A bulk operation's JSONL, reassembled, lands nodes that stage exactly like the shop's REST files."""
    shop.cursor.put(high_water="2026-10-25T00:00:00Z", seen=[], pending={})  # a week behind
    shop.pull(D3)
    nodes = shop.nodes(D3)
    assert any(len(n["lineItems"]["nodes"]) for n in nodes) and any(n["refunds"] for n in nodes)
    latest: dict[int, dict] = {}
    for row in [r for day in (D1, D2, D3) for r in shop.truth(day)]:  # Shopify serves each order's current version
        if row["id"] not in latest or instant(row["updated_at"]) >= instant(latest[row["id"]]["updated_at"]):
            latest[row["id"]] = row
    assert instant(shop.cursor.read()["high_water"]) >= after(D3, 0) - shopify.OVERLAP
    (orders, codes), (node_orders, node_codes) = _staged(tmp_path, list(latest.values()), nodes)
    assert len(node_orders) == len(latest) and node_codes and node_orders == orders and node_codes == codes


def test_assemble_bulk_lines():
    order = "gid://shopify/Order/1"
    lines = [{"id": order, "refunds": [{"id": "gid://shopify/Refund/7", "createdAt": "2026-11-02T18:00:00Z"}]},
             {"__typename": "OrderTransaction", "kind": "REFUND", "amountSet": {"shopMoney": {"amount": "5.0"}},
              "__parentId": order},  # parented to the order, not the refund: goes to its only refund
             {"__typename": "LineItem", "id": "gid://shopify/LineItem/11", "discountAllocations": [],
              "__parentId": order},
             {"__typename": "ShippingLine", "id": "gid://shopify/ShippingLine/12", "discountAllocations": [],
              "__parentId": order},
             {"__typename": "DiscountCodeApplication", "index": 0, "code": "X", "__parentId": order}]
    [node] = assemble(lines)
    assert node["refunds"][0]["transactions"]["nodes"][0]["kind"] == "REFUND"
    assert len(node["lineItems"]["nodes"]) == len(node["shippingLines"]["nodes"]) == 1
    assert node["discountApplications"]["nodes"][0]["code"] == "X"


def test_bulk_query_is_derived_from_the_paged_fragment():
    assert "poNumber" in bulk_selection(shopify_map.ORDER_FRAGMENT.replace("clientIp", "clientIp poNumber"))
    assert "first:" not in BULK_ORDERS and "nodes" not in BULK_ORDERS and BULK_ORDERS.count("{") == BULK_ORDERS.count("}")
    words = set(re.findall(r"[A-Za-z_]\w*", shopify_map.ORDER_FRAGMENT)) - {"fragment", "LandingOrder", "Order", "first"}
    assert words - {"nodes"} <= set(re.findall(r"[A-Za-z_]\w*", BULK_ORDERS))
