"""Arrow rows as PostgreSQL's binary COPY stream, encoded by pgpq (Rust, column at a time, no per-row Python).

Binary COPY carries no type names: the server hands each field's bytes to the receive function of the column it lands
in, so every Arrow column is first cast to exactly the type that column takes (int64 for bigint, int32 for integer,
microsecond timestamps, ...). The types come from the table as it is in the database, not from the contract: a column
created as integer stays integer even when the rows now carry int64.

Only exact casts are made. Anything else — a column type outside those below, an Arrow type whose value would change
in the cast (float32 into double, nanoseconds into microseconds), a value that does not fit (int64 overflowing an
integer column), a string into a number column — makes `encode` return None and the caller sends CSV instead, so the
server converts or rejects the values exactly as it always did.
"""
from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

#: information_schema.columns.data_type → the Arrow type pgpq encodes in that column's binary format (None: keep the
#: incoming type, checked in `_target_type`).
_COLUMN_TYPES: dict[str, pa.DataType | None] = {
    "text": pa.large_string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "double precision": pa.float64(),
    "numeric": None,  # the incoming decimal's own precision and scale; the column's typmod is applied by the server
    "boolean": pa.bool_(),
    "date": pa.date32(),
    # the same wire format (microseconds since 2000-01-01); a timestamptz value is the UTC instant
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "timestamp without time zone": pa.timestamp("us"),
}

_BATCH_ROWS = 64 * 1024  # pgpq encodes a batch into one bytes object: bounded memory, few Python calls


def _is_stringlike(arrow_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(arrow_type):
        return _is_stringlike(arrow_type.value_type)
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type)


def _target_type(arrow_type: pa.DataType, column_type: str) -> pa.DataType | None:
    """The Arrow type to cast to for `column_type`, or None when the values would not arrive unchanged."""
    if column_type not in _COLUMN_TYPES:
        return None
    wanted = _COLUMN_TYPES[column_type]
    if pa.types.is_null(arrow_type):  # all NULL: any type will do
        return wanted if wanted is not None else pa.decimal128(1, 0)
    if column_type == "text":
        return wanted if _is_stringlike(arrow_type) else None
    if column_type in ("bigint", "integer"):
        return wanted if pa.types.is_integer(arrow_type) else None  # a narrowing cast that overflows raises
    if column_type == "double precision":
        return wanted if pa.types.is_float64(arrow_type) else None  # float32's digits would change
    if column_type == "numeric":
        return arrow_type if (pa.types.is_decimal32(arrow_type) or pa.types.is_decimal64(arrow_type)
                              or pa.types.is_decimal128(arrow_type)) else None
    if column_type == "boolean":
        return wanted if pa.types.is_boolean(arrow_type) else None
    if column_type == "date":
        return wanted if pa.types.is_date(arrow_type) else None
    # timestamps: an instant stays the same instant; a naive Arrow timestamp is read as UTC, the pipeline's convention
    if not pa.types.is_timestamp(arrow_type):
        return None
    return wanted


def cast_for_copy(rows: pa.Table, column_types: dict[str, str]) -> pa.Table | None:
    """`rows` with each column cast to what its table column (name → information_schema data_type) takes in binary
    COPY, or None when some column cannot go binary unchanged."""
    fields, columns = [], []
    for field, column in zip(rows.schema, rows.columns):
        if field.name not in column_types:
            return None  # let COPY name the unknown column
        wanted = _target_type(field.type, column_types[field.name])
        if wanted is None:
            return None
        if field.type != wanted:
            try:
                column = column.cast(wanted, safe=True)  # raises on overflow and on lost sub-microseconds
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None
        fields.append(pa.field(field.name, wanted, nullable=True))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def encode(rows: pa.Table, column_types: dict[str, str], key: list[str] | tuple[str, ...] = ()) -> Iterator[bytes] | None:
    """The binary COPY stream for `rows` (header, rows, trailer) in pieces, or None when CSV must carry them.

    With `key` (the table's primary key) the rows go in key order: the key's B-tree then grows at its right edge
    instead of splitting pages all over, about a third less server time for a million-row day (measured on
    fct_visit). Byte order is the index's order under the C collation and close to it under others; either way only
    the rows' physical order changes, which SQL leaves undefined."""
    cast = cast_for_copy(rows, column_types)
    if cast is None:
        return None
    order = None
    if key and all(name in cast.column_names for name in key) and cast.num_rows > 1:
        order = pc.sort_indices(cast, sort_keys=[(name, "ascending") for name in key])
    return _stream(cast, order)


def _stream(rows: pa.Table, order: pa.Array | None) -> Iterator[bytes]:
    from pgpq import ArrowToPostgresBinaryEncoder

    encoder = ArrowToPostgresBinaryEncoder(rows.schema)
    yield encoder.write_header()
    if order is None:
        batches = rows.to_batches(max_chunksize=_BATCH_ROWS)
    else:  # gathered a batch at a time, while the server works on the previous one
        batches = (batch for start in range(0, rows.num_rows, _BATCH_ROWS)
                   for batch in rows.take(order.slice(start, _BATCH_ROWS)).to_batches())
    for batch in batches:
        if batch.num_rows:
            yield encoder.write_batch(batch)
    yield encoder.finish()
