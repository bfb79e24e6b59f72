"""`influence query`: a read-only query on the embedded warehouse, printed as a table, CSV or JSON."""
from __future__ import annotations

import csv
import json
import math
import os
import sys
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, TextIO

import typer

NULL_IN_TABLE = "∅"


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _text(value: Any) -> str:
    """A value as CSV and JSON write it: dates and times in ISO 8601, booleans as SQL prints them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)


def write_csv(columns: list[str], rows: list[tuple], out: TextIO) -> None:
    """RFC 4180 with a header; NULL is an empty field."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else _text(v) for v in row] for row in rows])


def _json_value(value: Any) -> str:
    # Written by hand rather than through json.dumps: a DECIMAL must stay the exact number it is (59.90 is not the
    # float nearest to it), and the json module writes a Decimal only as a string or by way of float.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "null"  # JSON has no NaN or Infinity
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_json_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {_json_value(v)}"
                               for k, v in value.items()) + "}"
    return json.dumps(_text(value), ensure_ascii=False)


def write_json(columns: list[str], rows: list[tuple], out: TextIO) -> None:
    """A list of objects, one per row and line: numbers as numbers, dates and times as ISO strings, NULL as null."""
    names = [json.dumps(c, ensure_ascii=False) for c in columns]
    objects = ["{" + ", ".join(f"{n}: {_json_value(v)}" for n, v in zip(names, row)) + "}" for row in rows]
    out.write("[\n" + ",\n".join(f"  {o}" for o in objects) + "\n]\n" if objects else "[]\n")


def write_table(columns: list[str], rows: list[tuple], out: TextIO) -> None:
    """An aligned table. On a terminal it fits the width, wrapping long values; piped or redirected it takes the
    width its longest values need, so nothing is cut short for the program reading it."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    numeric = [any(isinstance(r[i], (int, float, Decimal)) and not isinstance(r[i], bool) for r in rows)
               for i in range(len(columns))]
    table = Table(*columns)
    for column, is_number in zip(table.columns, numeric):
        column.justify, column.overflow = ("right" if is_number else "left"), "fold"
    for row in rows:
        # Text, not str: a value such as "[bold]" is data, not Rich markup
        table.add_row(*[Text(NULL_IN_TABLE if v is None else str(v)) for v in row])
    console = Console(file=out)
    if not console.is_terminal:
        console = Console(file=out, width=Measurement.get(console, console.options.update(width=10**6), table).maximum)
    console.print(table)


WRITERS = {OutputFormat.table: write_table, OutputFormat.csv: write_csv, OutputFormat.json: write_json}


def query(
    sql: Annotated[str, typer.Argument(help="A SQL query for DuckDB.")],
    format_: Annotated[OutputFormat, typer.Option(
        "--format", help="table: aligned, for reading (wraps to the terminal, never cut short when piped); "
                         "csv: with a header, NULL empty; json: a list of objects, dates as ISO strings.")]
    = OutputFormat.table,
) -> None:
    """Run a read-only SQL query on the embedded DuckDB warehouse (the lake is readable with read_parquet too)."""
    import duckdb

    from influence_pipeline.settings import Settings

    settings = Settings()
    if not settings.is_embedded_warehouse:
        raise typer.BadParameter("query reads the embedded DuckDB warehouse; use your SQL client for PostgreSQL")
    path = str(settings.embedded_warehouse_path)
    with duckdb.connect(path, read_only=True) as con:
        cursor = con.execute(sql)
        if cursor.description is None:  # a statement that returns nothing (SET, PRAGMA …)
            return
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    try:
        WRITERS[format_](columns, rows, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # `influence query … | head`: the reader has what it wanted; no traceback, and none again at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
