"""Warehouse DDL rendered by SQLAlchemy from Arrow schemas; only COMMENT ON is assembled here, from checked
identifiers and `sql_literal`.

DuckDB speaks PostgreSQL's DDL, so one dialect renders statements for both warehouses.

The statements are rendered with their values inline and executed as plain text, never with parameters: the dialect
is told a paramstyle without `%`, or SQLAlchemy would double every `%` in a value for a DBAPI that never reads it (a
contract's "10 %" arrived in the warehouse as "10 %%").
"""
from __future__ import annotations

import re

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateColumn, CreateSchema, CreateTable

DIALECT = postgresql.dialect(paramstyle="named")
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


def sa_table(schema: str, table: str, arrow_schema: pa.Schema, declare_key: bool = True) -> sa.Table:
    """The warehouse table for `table`: from its data contract when it has one (types, primary key, NOT NULL, table
    and column comments), else — quarantine tables, whose columns follow the raw batch — from the Arrow schema."""
    from influence_pipeline.schemas.contract import load_contracts

    contract = load_contracts().get(table)
    if contract is None or contract.layer == "raw":
        columns = [sa.Column(check_identifier(f.name), _sql_type(f.type)) for f in arrow_schema]
        return sa.Table(check_identifier(table), sa.MetaData(schema=check_identifier(schema)), *columns)
    return contract_table(schema, contract, declare_key)


def contract_table(schema: str, contract, declare_key: bool = True) -> sa.Table:
    """Without `declare_key` the key columns stay NOT NULL and the comment names the key, but no constraint (and no
    index) is created: uniqueness is then the contract's error rule, checked before anything is published."""
    import polars as pl

    from influence_pipeline.schemas.contract import polars_schema

    arrow = pl.DataFrame(schema=polars_schema(contract)).to_arrow().schema
    key = set(contract.primary_key)
    columns = [sa.Column(check_identifier(p.name), _sql_type(arrow.field(p.name).type),
                         primary_key=declare_key and p.name in key, nullable=not (p.required or p.name in key),
                         comment=p.description)
               for p in contract.properties]
    comment = f"{contract.description.strip()} Grain: {contract.grain.strip()}".strip()
    if contract.primary_key:
        comment += f" Key: {', '.join(contract.primary_key)}."
    return sa.Table(check_identifier(contract.name), sa.MetaData(schema=check_identifier(schema)), *columns,
                    comment=comment)


def sql_literal(text: str) -> str:
    """`text` as a standard SQL string literal, byte for byte: quotes doubled and nothing else escaped. Right for
    DuckDB and for PostgreSQL with standard_conforming_strings on (its default; the PostgreSQL warehouse also sets it
    for its own sessions, where a backslash would otherwise start an escape). COMMENT ON takes no bind parameters on
    either engine, so comments need a literal."""
    if "\x00" in text:
        raise ValueError("a SQL string cannot hold a NUL character (neither warehouse stores one)")
    return "'" + text.replace("'", "''") + "'"


def comment_sql(table: sa.Table, kind: str = "TABLE") -> list[str]:
    """COMMENT ON statements for the table (or, with kind="VIEW", the view standing for it) and each described
    column: what BI tools show next to the names, exactly as the contract wrote it."""
    if kind not in ("TABLE", "VIEW"):
        raise ValueError(f"cannot comment on a {kind!r}")
    # identifiers were checked when the table was built; every value goes through sql_literal
    name = f"{check_identifier(table.schema)}.{check_identifier(table.name)}"
    statements = [f"COMMENT ON {kind} {name} IS {sql_literal(table.comment)}"] if table.comment else []
    return statements + [f"COMMENT ON COLUMN {name}.{check_identifier(c.name)} IS {sql_literal(c.comment)}"
                         for c in table.columns if c.comment]


#: Column types by family, as information_schema names them in PostgreSQL and DuckDB.
_FAMILIES = (("timestamp", "timestamp"), ("date", "date"), ("bool", "boolean"), ("numeric", "decimal"),
             ("decimal", "decimal"), ("double", "float"), ("real", "float"), ("float", "float"), ("int", "integer"),
             ("text", "text"), ("char", "text"))


def type_family(sql_type: str) -> str:
    lowered = sql_type.lower()
    return next((family for marker, family in _FAMILIES if marker in lowered), lowered)


def incompatibilities(table: sa.Table, existing: dict[str, str]) -> list[str]:
    """What in an existing table (column → information_schema data_type) the new definition cannot load into without
    rewriting data: a column whose type family changed, or one the definition no longer has. Added columns are fine
    (ALTER TABLE ADD COLUMN)."""
    problems = []
    for name, sql_type in existing.items():
        if name not in table.c:
            problems.append(f"column {name} ({sql_type}) is in the warehouse but no longer in the definition")
            continue
        wanted = table.c[name].type.compile(dialect=DIALECT)
        if type_family(sql_type) != type_family(wanted):
            problems.append(f"column {name} is {sql_type} in the warehouse but {wanted} in the definition")
    return problems


def render(statement: sa.sql.ClauseElement) -> str:
    return str(statement.compile(dialect=DIALECT, compile_kwargs={"literal_binds": True}))


def create_schema_sql(schema: str) -> str:
    return render(CreateSchema(check_identifier(schema), if_not_exists=True))


def create_table_sql(table: sa.Table) -> str:
    return render(CreateTable(table, if_not_exists=True))


def delete_partition_sql(table: sa.Table, column: str, value: object) -> str:
    return render(sa.delete(table).where(table.c[column] == sa.literal(value, table.c[column].type)))


def delete_partitions_sql(table: sa.Table, column: str, values: list[object]) -> str:
    return render(sa.delete(table).where(table.c[column].in_([sa.literal(v, table.c[column].type) for v in values])))


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


EXISTING_COLUMNS_SQL = ("SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = {param} AND table_name = {param}")
