"""The PostgreSQL warehouse loads through binary COPY encoded from Arrow (sinks.pg_binary): every value the contracts'
types can hold must come back exactly as it went in, and whatever cannot go binary unchanged must still load (or fail)
as it did through CSV."""
import math
from datetime import date, datetime, timezone
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest
from sqlalchemy.engine import make_url

from influence_pipeline.sinks import pg_binary
from influence_pipeline.sinks.warehouse import connect_warehouse

pytestmark = pytest.mark.postgres

DAY = date(2026, 11, 2)
UTC = timezone.utc
TEXTS = ["", "plain", "tab\there", "new\nline", "cr\r\nlf", 'quote " and \'', "back\\slash \\N \\.", "comma, semi;",
         "emoji 😀 é ß 中文", " leading and trailing ", "NULL", "\\N", "\u2028\u00a0", "x" * 10_000]
FLOATS = [0.0, -0.0, 1.5, -2.25, 0.1, 1e308, -1e-308, 5e-324, math.pi, math.nan, math.inf, -math.inf]
DECIMALS = [Decimal("0.00"), Decimal("0.01"), Decimal("-0.05"), Decimal("123.40"), Decimal("-99999.99"),
            Decimal("9999999999999999.99"), Decimal("-9999999999999999.99"), Decimal("1000000.00")]
DATES = [date(1, 1, 1), date(1899, 12, 31), date(1970, 1, 1), date(1999, 12, 31), date(2000, 1, 1),
         date(2000, 2, 29), date(2026, 11, 2), date(9999, 12, 31)]
INSTANTS = [datetime(1, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
            datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), datetime(2000, 1, 1, tzinfo=UTC),
            datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC), datetime(2026, 11, 2, 13, 14, 15, 123_456, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)]


def _connect(url: str) -> psycopg.Connection:
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                           password=parsed.password, dbname=parsed.database)


def _read(url: str, schema: str, table: str, columns: list[str], order: str) -> list[tuple]:
    query = psycopg.sql.SQL("SELECT {} FROM {}.{} ORDER BY {}").format(
        psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, columns)), psycopg.sql.Identifier(schema),
        psycopg.sql.Identifier(table), psycopg.sql.Identifier(order))
    with _connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")  # year 1 and year 9999 instants stay in Python's range
        return conn.execute(query).fetchall()


def _same(a, b) -> bool:
    """Exact equality, NaN equal to itself and -0.0 told from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


def _assert_round_trip(rows: pa.Table, back: list[tuple]) -> None:
    expected = list(zip(*(rows.column(c).to_pylist() for c in rows.column_names)))
    assert len(back) == len(expected)
    for want, got in zip(expected, back):
        mismatched = [(name, w, g) for name, w, g in zip(rows.column_names, want, got) if not _same(w, g)]
        assert not mismatched, mismatched


@pytest.fixture
def binary_used(monkeypatch) -> list[bool]:
    """One entry per load: True when it went through binary COPY, False when it fell back to CSV."""
    used, encode = [], pg_binary.encode

    def spy(rows, column_types, key=()):
        stream = encode(rows, column_types, key)
        used.append(stream is not None)
        return stream

    monkeypatch.setattr(pg_binary, "encode", spy)
    return used


def _cycle(values: list, n: int) -> list:
    return [values[i % len(values)] for i in range(n)]


def _probe_table(n: int) -> pa.Table:
    """Every type the contracts use, plus int32 and naive timestamps (a raw batch's own types), each column NULL on
    its own rhythm so NULLs meet every other value."""
    def nulls(values: list, every: int) -> list:
        return [None if i % every == every - 1 else v for i, v in enumerate(values)]

    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "txt": pa.array(nulls(_cycle(TEXTS, n), 5), pa.large_string()),
        "big": pa.array(nulls(_cycle([0, 1, -1, 2**63 - 1, -2**63, 2**31, -2**31 - 1], n), 6), pa.int64()),
        "small": pa.array(nulls(_cycle([0, 1, -1, 2**31 - 1, -2**31], n), 7), pa.int32()),
        "dbl": pa.array(nulls(_cycle(FLOATS, n), 8), pa.float64()),
        "money": pa.array(nulls(_cycle(DECIMALS, n), 9), pa.decimal128(18, 2)),
        "flag": pa.array(nulls(_cycle([True, False], n), 3), pa.bool_()),
        "day": pa.array(nulls(_cycle(DATES, n), 4), pa.date32()),
        "at": pa.array(nulls(_cycle(INSTANTS, n), 10), pa.timestamp("us", tz="UTC")),
        "local": pa.array(nulls([i.replace(tzinfo=None) for i in _cycle(INSTANTS, n)], 11), pa.timestamp("us")),
        "landing_date": pa.array([DAY] * n, pa.date32()),
    })


def test_every_column_type_round_trips_exactly_through_binary_copy(pg_url, binary_used):
    rows = _probe_table(200)
    warehouse = connect_warehouse(pg_url)
    try:
        warehouse.replace_partition("quarantine", "binary_probe", rows, "landing_date", DAY)
        warehouse.replace_partition("quarantine", "binary_probe", rows, "landing_date", DAY)  # a rerun replaces
    finally:
        warehouse.close()
    assert binary_used == [True, True]
    _assert_round_trip(rows, _read(pg_url, "quarantine", "binary_probe", rows.column_names, "id"))


def test_many_batches_chunks_and_slices_round_trip(pg_url, binary_used):
    """More rows than one encoded batch, a table whose first chunk is empty, and a slice whose validity bitmaps start
    mid-byte: the offsets Arrow keeps must not shift a value or a NULL."""
    whole = _probe_table(150_011)
    chunked = pa.concat_tables([whole.slice(0, 0), whole.slice(0, 70_000), whole.slice(70_000, 0),
                                whole.slice(70_000)])
    sliced = whole.slice(3, 1_001)
    warehouse = connect_warehouse(pg_url)
    try:
        warehouse.replace_table("quarantine", "binary_chunks", chunked)
        warehouse.replace_table("quarantine", "binary_slice", sliced)
    finally:
        warehouse.close()
    assert binary_used == [True, True]
    _assert_round_trip(whole, _read(pg_url, "quarantine", "binary_chunks", whole.column_names, "id"))
    _assert_round_trip(sliced, _read(pg_url, "quarantine", "binary_slice", sliced.column_names, "id"))


@pytest.mark.parametrize(("table", "partition", "n"), [("fct_conversion", "converted_date", 60),
                                                       ("stg_post_snapshots", "landing_date", 70_001)])
def test_a_contract_table_round_trips_in_key_order(pg_url, binary_used, table, partition, n):
    """fct_conversion has text, bigint, double, numeric(18,2), boolean, date and timestamptz columns, some NOT NULL
    and a declared key; stg_post_snapshots a three-column key and here more rows than one encoded batch. Values are
    built from the contract's own Polars schema, as the pipeline hands them over, and arrive in reverse key order:
    the loader sends them sorted by the key."""
    import polars as pl

    from influence_pipeline.schemas.contract import load_contracts, polars_schema

    contract = load_contracts()[table]
    required = {p.name for p in contract.properties if p.required} | set(contract.primary_key)
    first_key = contract.primary_key[0]
    samples = {pl.String: TEXTS, pl.Int64: [0, -7, 2**62], pl.Float64: FLOATS, pl.Boolean: [True, False],
               pl.Date: DATES, pl.Datetime: INSTANTS, pl.Decimal: DECIMALS}
    columns = {}
    for name, dtype in polars_schema(contract).items():
        values = _cycle(next(v for kind, v in samples.items() if dtype.is_(kind) or isinstance(dtype, kind)), n)
        if name == first_key:
            values = [f"k-{i:06d}" for i in reversed(range(n))]
        elif name == partition:
            values = [DAY] * n
        elif name not in required:
            values = [None if i % 4 == 3 else v for i, v in enumerate(values)]
        columns[name] = pl.Series(name, values, dtype=dtype, strict=False)
    rows = pl.DataFrame(columns).to_arrow()
    warehouse = connect_warehouse(pg_url)
    try:
        warehouse.replace_partition(contract.layer, table, rows, partition, DAY)
    finally:
        warehouse.close()
    assert binary_used == [True]
    _assert_round_trip(rows.sort_by(first_key), _read(pg_url, contract.layer, table, rows.column_names, first_key))
    with _connect(pg_url) as conn:  # sent in key order, so stored in it: a serial scan reads it back so
        conn.execute("SET max_parallel_workers_per_gather = 0")
        stored = conn.execute(psycopg.sql.SQL("SELECT {} FROM {}.{}").format(
            psycopg.sql.Identifier(first_key), psycopg.sql.Identifier(contract.layer),
            psycopg.sql.Identifier(table))).fetchall()
    assert [k for (k,) in stored] == [f"k-{i:06d}" for i in range(n)]


def test_a_nul_character_fails_the_load_and_keeps_the_previous_partition(pg_url, binary_used):
    """PostgreSQL text cannot hold NUL: the server rejects it (as it did through CSV) and the DELETE rolls back."""
    good = pa.table({"k": ["a", "b"], "landing_date": pa.array([DAY, DAY], pa.date32())})
    bad = pa.table({"k": ["c\x00d"], "landing_date": pa.array([DAY], pa.date32())})
    warehouse = connect_warehouse(pg_url)
    try:
        warehouse.replace_partition("quarantine", "nul_probe", good, "landing_date", DAY)
        with pytest.raises(psycopg.DataError, match="0x00"):
            warehouse.replace_partition("quarantine", "nul_probe", bad, "landing_date", DAY)
    finally:
        warehouse.close()
    assert binary_used == [True, True]
    assert _read(pg_url, "quarantine", "nul_probe", ["k"], "k") == [("a",), ("b",)]


def test_types_binary_cannot_carry_unchanged_go_through_csv(pg_url, binary_used):
    """An integer column keeps its type when a later batch carries int64 (binary, narrowed exactly); a value too big
    for it, float32 digits and nanoseconds fall back to CSV, where the server converts or rejects them as before."""
    warehouse = connect_warehouse(pg_url)
    day = pa.array([DAY], pa.date32())
    try:
        warehouse.replace_partition("quarantine", "narrow", pa.table({"n": pa.array([1], pa.int32()),
                                                                      "landing_date": day}), "landing_date", DAY)
        warehouse.replace_partition("quarantine", "narrow", pa.table({"n": pa.array([2**31 - 1], pa.int64()),
                                                                      "landing_date": day}), "landing_date", DAY)
        assert _read(pg_url, "quarantine", "narrow", ["n"], "n") == [(2**31 - 1,)]
        with pytest.raises(psycopg.errors.NumericValueOutOfRange):
            warehouse.replace_partition("quarantine", "narrow", pa.table({"n": pa.array([2**31], pa.int64()),
                                                                          "landing_date": day}), "landing_date", DAY)
        assert _read(pg_url, "quarantine", "narrow", ["n"], "n") == [(2**31 - 1,)]

        warehouse.replace_table("quarantine", "float32", pa.table({"x": pa.array([0.1], pa.float32())}))
        assert _read(pg_url, "quarantine", "float32", ["x"], "x") == [(0.1,)]  # the digits float32 printed

        at = datetime(2026, 11, 2, 1, 2, 3, 456_789, tzinfo=UTC)
        nanos = pa.array([int(at.timestamp()) * 10**9 + 456_789_400], pa.timestamp("ns", tz="UTC"))
        warehouse.replace_table("quarantine", "nanos", pa.table({"at": nanos}))
        assert _read(pg_url, "quarantine", "nanos", ["at"], "at") == [(at,)]  # rounded by the server, as before
    finally:
        warehouse.close()
    assert binary_used == [True, True, False, False, False]


def test_cast_for_copy_targets_the_binary_formats():
    rows = pa.table({"t": pa.array(["x"]).dictionary_encode(), "i": pa.array([1], pa.int16()),
                     "at": pa.array([0], pa.timestamp("s", tz="Europe/Paris")), "d": pa.array([0], pa.date64()),
                     "none": pa.nulls(1)})
    cast = pg_binary.cast_for_copy(rows, {"t": "text", "i": "bigint", "at": "timestamp with time zone",
                                          "d": "date", "none": "integer"})
    assert cast.schema.types == [pa.large_string(), pa.int64(), pa.timestamp("us", tz="UTC"), pa.date32(), pa.int32()]
    assert cast.column("at").to_pylist() == [datetime(1970, 1, 1, tzinfo=UTC)]
    assert pg_binary.cast_for_copy(rows, {"t": "text"}) is None  # a column the table lacks: COPY names it
    assert pg_binary.cast_for_copy(pa.table({"s": ["1"]}), {"s": "bigint"}) is None  # the server parses strings
    assert pg_binary.cast_for_copy(pa.table({"s": [1.0]}), {"s": "real"}) is None
    assert pg_binary.cast_for_copy(pa.table({"s": [1]}), {"s": "double precision"}) is None
