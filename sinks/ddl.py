"""Warehouse DDL rendered by SQLAlchemy from Arrow schemas (no hand-built SQL strings).

DuckDB speaks PostgreSQL's DDL, so one dialect renders statements for both warehouses.
"""
from __future__ import annotations

import re
from datetime import date

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateColumn, CreateSchema, CreateTable

DIALECT = postgresql.dialect()
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _sql_type(arrow_type: pa.DataType) -> sa.types.TypeEngine:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return sa.Text()
    if pa.types.is_boolean(arrow_type):
        return sa.Boolean()
    if pa.types.is_int64(arrow_type):
        return sa.BigInteger()
    if pa.types.is_integer(arrow_type):
        return sa.Integer()
    if pa.types.is_floating(arrow_type):
        return sa.Double()
    if pa.types.is_decimal(arrow_type):
        return sa.Numeric(arrow_type.precision, arrow_type.scale)
    if pa.types.is_date(arrow_type):
        return sa.Date()
    if pa.types.is_timestamp(arrow_type):
        return sa.DateTime(timezone=arrow_type.tz is not None)
    raise TypeError(f"no warehouse type for Arrow type {arrow_type}")


def check_identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain lower-case SQL identifier")
    return name


def sa_table(schema: str, table: str, arrow_schema: pa.Schema) -> sa.Table:
    columns = [sa.Column(check_identifier(f.name), _sql_type(f.type)) for f in arrow_schema]
    return sa.Table(check_identifier(table), sa.MetaData(schema=check_identifier(schema)), *columns)


def render(statement: sa.sql.ClauseElement) -> str:
    return str(statement.compile(dialect=DIALECT, compile_kwargs={"literal_binds": True}))


def create_schema_sql(schema: str) -> str:
    return render(CreateSchema(check_identifier(schema), if_not_exists=True))


def create_table_sql(table: sa.Table) -> str:
    return render(CreateTable(table, if_not_exists=True))


def delete_partition_sql(table: sa.Table, column: str, value: object) -> str:
    return render(sa.delete(table).where(table.c[column] == sa.literal(value, table.c[column].type)))


def delete_all_sql(table: sa.Table) -> str:
    return render(sa.delete(table))


def insert_from_sql(table: sa.Table, source: str) -> str:
    """INSERT INTO table (cols) SELECT cols FROM source — matching columns by name, not by position."""
    names = [c.name for c in table.columns]
    select = sa.select(*[sa.column(n) for n in names]).select_from(sa.table(check_identifier(source)))
    return render(sa.insert(table).from_select(names, select))


def add_column_sql(table: sa.Table, name: str) -> str:
    """ALTER TABLE … ADD COLUMN for a column a contract gained; the column definition is SQLAlchemy's own rendering
    and the identifiers were checked when the table was built."""
    definition = CreateColumn(table.c[name]).compile(dialect=DIALECT)
    return str(sa.DDL(f"ALTER TABLE %(fullname)s ADD COLUMN {definition}").against(table).compile(dialect=DIALECT))


EXISTING_COLUMNS_SQL = ("SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = {param} AND table_name = {param}")
