"""The native NDJSON reader (DuckDB for the lines it can be trusted with, the per-line path for the rest) gives the
per-line reader's table exactly: on the fixtures, on a dirty generated day, and on generated hostile lines."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from influence_pipeline.sample import generate
from influence_pipeline.schemas.raw import BY_NAME, DATASETS
from influence_pipeline.sources import landing, ndjson_native

FIXTURES = Path(__file__).parent / "fixtures"
KEY = b"k" * 32


def _both(dataset, path: Path, monkeypatch, chunk_bytes: int = 64) -> tuple:
    with monkeypatch.context() as patch:
        patch.setattr(ndjson_native, "NATIVE_MIN_BYTES", 1 << 62)
        per_line = landing.read_landing_file(dataset, path, path.name, "run", KEY)
    with monkeypatch.context() as patch:
        patch.setattr(ndjson_native, "NATIVE_MIN_BYTES", 0)
        # several pieces, and several windows in a piece, even in a small file
        patch.setattr(ndjson_native, "PIECE_BYTES", 4 * chunk_bytes)
        patch.setattr(ndjson_native, "CHUNK_BYTES", chunk_bytes)
        native = landing.read_landing_file(dataset, path, path.name, "run", KEY)
    return per_line, native


def _landing_files(root: Path):
    by_file = {d.file: d for d in DATASETS if d.fmt == "ndjson"}
    for path in sorted(root.rglob("*.ndjson*")):
        name = path.name.removesuffix(".gz")
        if name in by_file and path.parent.parent.name == by_file[name].source:
            yield by_file[name], path


@pytest.fixture(scope="module")
def dirty_day(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    generate(out, date(2026, 11, 2), 1, scale=0.3, dirty_rate=0.1)
    return out


def test_fixtures_and_a_dirty_day_read_the_same(dirty_day, monkeypatch):
    files = [(*f, 64) for f in _landing_files(FIXTURES)] + [(*f, 1 << 18) for f in _landing_files(dirty_day)]
    assert {d.name for d, _, _ in files} >= {"web_events", "instagram_media", "shopify_orders", "tiktok_videos"}
    for dataset, path, chunk_bytes in files:
        per_line, native = _both(dataset, path, monkeypatch, chunk_bytes)
        assert native.equals(per_line), f"{path}: the readers differ"
        assert per_line.num_rows > 0


def test_a_clean_file_is_decoded_natively():
    path = next(p for d, p in _landing_files(FIXTURES) if d.name == "web_events")
    data = path.read_bytes()
    decoded, left = ndjson_native.decode_trusted(data, BY_NAME["web_events"])
    assert decoded.height + len(left) == data.count(b"\n") + (not data.endswith(b"\n"))
    assert decoded.height > len(left)  # the fixture's hostile lines are the few left to the per-line path


# Values both decoders must render alike, or send to the per-line path.
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**25), 10**25), st.sampled_from(["-0", "1e2", "100.50", "1E+16", "0.00001",
                                                                            "0.0001", "-0.0", "1e400", "NaN", "nan", "NAN", "Inf",
                                                                            "-nan", "INFINITY", "-Infinity"]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["\u2028", "tab\there", "quote\"", "back\\slash", "é/", "\x00", "😀", "\ud83d"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.sampled_from(["id", "a", "b"]), inner,
                                                                      max_size=3)), max_leaves=6)
KEYS = st.sampled_from(["event_id", "event_at", "ip", "customer_id", "customer", "owner", "id", "discount_codes", "refunds",
                        "x"])


def _render(pairs: list[tuple[str, object]], style: int) -> str:
    """One JSON object line, written as tools write them: compact, spaced, with a duplicate key, a trailing comma,
    a bare NaN, or not JSON at all."""
    body = [f"{json.dumps(k)}{': ' if style == 1 else ':'}{_number_text(v)}" for k, v in pairs]
    text = "{" + (", " if style == 1 else ",").join(body) + ("," if style == 2 else "") + "}"
    return {3: text[:-1], 4: text.replace(":", ": nan,", 1) if body else text, 5: " " + text}.get(style, text)


def _number_text(value: object) -> str:
    if isinstance(value, str) and value in {"-0", "1e2", "100.50", "1E+16", "0.00001", "0.0001", "-0.0", "1e400",
                                            "NaN", "nan", "NAN", "Inf", "-nan", "INFINITY", "-Infinity"}:
        return value
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) or value != "\ud83d" else '"\\ud83d"'


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(st.tuples(KEYS, VALUES), max_size=6), st.integers(0, 6)), min_size=1,
                max_size=12),
       st.sampled_from(["web_events", "instagram_media", "shopify_orders"]))
def test_hostile_lines_read_the_same(tmp_path, monkeypatch, lines, name):
    dataset = BY_NAME[name]
    # the key that matters for each dataset appears often
    path = tmp_path / dataset.file
    path.write_text("\n".join(_render(pairs, style) for pairs, style in lines) + "\n", encoding="utf-8",
                    errors="surrogatepass")
    per_line, native = _both(dataset, path, monkeypatch)
    assert native.equals(per_line), (native.to_pylist(), per_line.to_pylist())


def test_numbers_print_as_python_prints_them(tmp_path, monkeypatch):
    """DuckDB prints many doubles otherwise (1e16 as 10000000000000000.0, 2.5E-5 as 0.000025): those lines must
    take the per-line path, the plain ones may not."""
    literals = ["0", "-0", "7", "-12", "18446744073709551616", "123456789012345678901", "1.5", "100.50", "-0.0", "0.1",
                "0.0001", "0.00001", "2.5E-5", "1e2", "1E+16", "1e16", "9999999999999998.0", "1234567890123456.7",
                "123456789012345678.0", "1e22", "1.5e300", "5e-324", "1e400", "-1e-400", "NaN", "Infinity"]
    literals += [repr(10.0 ** e * m) for e in range(-30, 31, 3) for m in (1.0, 1.2345, -9.87654321)]
    path = tmp_path / "events.ndjson"
    path.write_text("".join(f'{{"event_id":{x},"customer_id":{x},"order_id":"o{i}"}}\n'
                            for i, x in enumerate(literals)))
    per_line, native = _both(BY_NAME["web_events"], path, monkeypatch, chunk_bytes=1000)
    assert native.equals(per_line)
    _, left = ndjson_native.decode_trusted(path.read_bytes(), BY_NAME["web_events"])
    assert 0 < len(left) < len(literals)


@pytest.mark.parametrize("bare", ["nan", "NAN", "Nan", "-nan", "inf", "Inf", "INF", "infinity", "- inf", "[1, nan]"])
def test_a_bare_non_number_python_refuses_is_quarantined_natively_too(tmp_path, monkeypatch, bare):
    """DuckDB accepts nan and inf in any letter case; Python's json only NaN, Infinity and -Infinity."""
    path = tmp_path / "events.ndjson"
    path.write_text(f'{{"event_id":"a","extra":{bare}}}\n{{"event_id":"b"}}\n')
    per_line, native = _both(BY_NAME["web_events"], path, monkeypatch)
    assert native.equals(per_line)
    assert native.column("_parse_error").to_pylist()[0] is not None


def test_numbers_inside_a_nested_value_print_as_python_prints_them(tmp_path, monkeypatch):
    """An array of plain values keeps its JSON text; orjson reads an integer past 64 bits as a float."""
    path = tmp_path / "orders.ndjson"
    arrays = ["[123456789012345678901]", "[-9223372036854775809,1]", "[18446744073709551615]", "[1e16,2]",
              "[0.00001]", "[100.50,-0.0]", "[1,2,3]", "[]"]
    path.write_text("".join(f'{{"id":{i},"discount_codes":{a}}}\n' for i, a in enumerate(arrays)))
    per_line, native = _both(BY_NAME["shopify_orders"], path, monkeypatch)
    assert native.equals(per_line)
    assert native.column("discount_codes").to_pylist()[0] == "[1.2345678901234568e+20]"


@pytest.mark.parametrize("depth", [63, 64, 65, 200])
def test_nesting_past_the_bound_is_quarantined_by_both_readers(tmp_path, monkeypatch, depth):
    """Brackets inside strings (escaped quotes too) do not count; the line's depth counts its outer object."""
    value = "[" * (depth - 1) + "]" * (depth - 1)
    path = tmp_path / "orders.ndjson"
    path.write_text(f'{{"id":1,"discount_codes":{value}}}\n'
                    f'{{"id":2,"note":"{"[" * 80}\\"{"{" * 80}","discount_codes":[]}}\n')
    per_line, native = _both(BY_NAME["shopify_orders"], path, monkeypatch)
    assert native.equals(per_line)
    errors = per_line.column("_parse_error").to_pylist()
    assert errors[1] is None
    assert (errors[0] == f"nested {depth} levels deep (at most 64 are read)") if depth > 64 else errors[0] is None


def test_a_control_character_inside_a_nested_value_reads_the_same(tmp_path, monkeypatch):
    """Found by test_hostile_lines_read_the_same: DuckDB re-encodes `\\u000f` in a nested value as `\\u000F`."""
    dataset = BY_NAME["shopify_orders"]
    path = tmp_path / dataset.file
    path.write_text(_render([("discount_codes", ["\x0f"])], 0) + "\n" + _render([("discount_codes", ["ok"])], 0)
                    + "\n", encoding="utf-8")
    per_line, native = _both(dataset, path, monkeypatch)
    assert native.equals(per_line)
    assert native["discount_codes"].to_pylist() == ['["\\u000f"]', '["ok"]']
