"""The native reader decodes each line with one json_transform, which gives a scalar field's text without its JSON
type: a value that may be a number DuckDB prints otherwise, or an object or array, is left to the per-line path
whether it came as a number or as a string; plain strings and numbers both print alike are decoded natively."""
from __future__ import annotations

from influence_pipeline.schemas.raw import BY_NAME
from influence_pipeline.sources import ndjson_native
from tests.test_ndjson_native import _both

WEB = BY_NAME["web_events"]
#: values of a scalar field the native reader keeps: their text is the per-line path's, whatever their JSON type
NATIVE = ['"abc"', '"1.5"', '"12"', '"2026-11-02T00:00:00Z"', '"198.51.100.7"', "12", "-7", "0", "1.5", "0.25",
          "true", "false", '"(ad] x"', '"1.50"', "1E2", '"-0"']
#: values left to the per-line path: number-shaped text DuckDB may print otherwise (as a number) and JSON values
LEFT = ['"1e16"', "1e16", '"007"', "2.5E-5", '"12345678901234567890"', "12345678901234567890", '"[x"', '"{y"',
        "[1, 2]", '{"a": 1}']


def test_number_shaped_and_nested_scalars_go_line_by_line_and_read_the_same(tmp_path, monkeypatch):
    values = NATIVE + LEFT
    path = tmp_path / "events.ndjson"
    path.write_text("".join(f'{{"event_id":{v},"order_id":"o{i}"}}\n' for i, v in enumerate(values)))
    decoded, left = ndjson_native.decode_trusted(path.read_bytes(), WEB)
    assert sorted(decoded["_row_number"].to_list()) == list(range(1, len(NATIVE) + 1))
    assert [n for n, _ in left] == list(range(len(NATIVE) + 1, len(values) + 1))
    by_number = dict(zip(decoded["_row_number"], decoded["event_id"]))
    assert [by_number[n] for n in (1, 5, 11, 14, 15, 16)] == ["abc", "198.51.100.7", "true", "1.50", "100.0", "-0"]
    per_line, native = _both(WEB, path, monkeypatch, chunk_bytes=200)
    assert native.equals(per_line)
    texts = per_line.column("event_id").to_pylist()
    assert [texts[len(NATIVE) + i] for i in (0, 2, 4, 6, 8, 9)] == ["1e16", "007", "12345678901234567890", "[x",
                                                                    "[1,2]", '{"a":1}']


def test_lenient_json_is_found_outside_the_read_fields_too(tmp_path, monkeypatch):
    """A trailing comma or a bare nan in a key no field reads: DuckDB would accept the line, Python refuses it."""
    lines = ['{"event_id":"a","extra":[1,2,],"order_id":"o"}', '{"event_id":"b","extra":{"x":Nan}}',
             '{"event_id":"c","extra":"[1,2,]"}', '{"event_id":"d"}']
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    decoded, left = ndjson_native.decode_trusted(path.read_bytes(), WEB)
    assert decoded["_row_number"].to_list() == [4]  # line 3's string merely looks lenient: per-line, never wrong
    per_line, native = _both(WEB, path, monkeypatch, chunk_bytes=100)
    assert native.equals(per_line)
    assert [e is not None for e in per_line.column("_parse_error").to_pylist()] == [True, True, False, False]
