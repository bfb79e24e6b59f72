"""`influence attribute-paths`: a path-aggregate file in, heuristic and Markov credit per channel out."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import polars as pl
import typer
from rich import box
from rich.console import Console
from rich.table import Table

OUTPUT_COLUMNS = ("channel", "first_touch_conversions", "first_touch_value", "last_touch_conversions",
                  "last_touch_value", "linear_conversions", "linear_value", "markov_conversions", "markov_value",
                  "markov_removal_effect")


def build_path_report(paths: pl.DataFrame) -> pl.DataFrame:
    """Path aggregates → one row per channel (sorted) with every model's credit, columns as OUTPUT_COLUMNS."""
    from influence_pipeline.transforms.attribution.markov import markov_removal_effects
    from influence_pipeline.transforms.attribution.paths import build_heuristic_credit

    markov = markov_removal_effects(paths).rename({"removal_effect": "markov_removal_effect"})
    heuristics = build_heuristic_credit(paths)
    return (heuristics.join(markov, on="channel", how="full", coalesce=True)
            .with_columns(pl.exclude("channel").fill_null(0.0))
            .select(OUTPUT_COLUMNS).sort("channel"))


def attribute_paths(
    file: Annotated[Path, typer.Argument(help="Path-aggregate file: ';'-separated, header "
                                              "path;total_conversions;total_conversion_value;total_null.")],
    sep: Annotated[str, typer.Option(help="Separator between the channels of a path.")] = ">",
    out: Annotated[Optional[Path], typer.Option(help="Write the result to this CSV file instead of printing it.")]
    = None,
) -> None:
    """Credit channels for conversions from a path file: first touch, last touch, linear and the exact first-order
    Markov model (removal effects). One row per channel; exits 2 on an unreadable file."""
    from influence_pipeline.sources.path_file import PathFileError, read_path_file

    if not sep:
        raise typer.BadParameter("must not be empty", param_hint="--sep")
    try:
        paths = read_path_file(file, sep=sep)
    except PathFileError as exc:
        # one line, never wrapped, on stderr: scripts grep it and the exit code says what kind of failure it was
        Console(stderr=True).print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    report = build_path_report(paths)
    if out is not None:
        report.write_csv(out)
        Console().print(f"wrote {report.height} channels to [bold]{out}[/bold]")
        return
    _print_report(report)


def _print_report(report: pl.DataFrame) -> None:
    # Ten full column names do not fit a terminal: short two-line headers here, the exact names in the CSV.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
                  caption="--out FILE.csv writes every column, named in full, at full precision")
    table.add_column("channel", overflow="fold")
    for model, measure in (("first", "conv."), ("first", "value"), ("last", "conv."), ("last", "value"),
                           ("linear", "conv."), ("linear", "value"), ("markov", "conv."), ("markov", "value"),
                           ("removal", "effect")):
        table.add_column(f"{model}\n{measure}", justify="right", overflow="fold")
    for row in report.iter_rows():
        channel, *credit, effect = row
        table.add_row(channel, *[f"{number:,.2f}" for number in credit], f"{effect:.4f}")
    Console().print(table)
