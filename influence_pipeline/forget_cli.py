"""`influence forget`: erase one person (GDPR Art. 17 / CCPA deletion) from landing, lake, warehouse and BI copy."""
from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def _one_identifier(email: str | None, customer_id: str | None, anonymous_id: str | None) -> tuple[str, str]:
    given = [(k, v) for k, v in (("email", email), ("customer_id", customer_id), ("anonymous_id", anonymous_id))
             if v is not None]
    if len(given) != 1 or not given[0][1].strip():
        raise typer.BadParameter("give exactly one of --email, --customer-id, --anonymous-id, not empty",
                                 param_hint="--email")
    return given[0]


def forget(
    email: Annotated[str | None, typer.Option(help="The person's e-mail address (orders, signups, web events).")]
    = None,
    customer_id: Annotated[str | None, typer.Option(help="Their shop customer id (`42` or `gid://shopify/Customer/42`).")]
    = None,
    anonymous_id: Annotated[str | None, typer.Option(help="A site-tracker (or GA4 pseudo) id of their device.")] = None,
) -> None:
    """Erase a person: their lines in the landing files and raw lake, then every night from the earliest that held
    them is rebuilt and published (staging, marts, quarantine, warehouse, BI copy), older snapshots pruned.
    Identifiers linked through their rows (an order's e-mail and customer id, a checkout's device) go too. The
    erasure log keeps keyed digests only; a landing file holding them delivered again loads them as quarantined
    `erased on request` rows with no values."""
    from pydantic import SecretStr

    from influence_pipeline.cli import clear_errors
    from influence_pipeline.erasure_flow import forget as forget_flow
    from influence_pipeline.settings import load_settings

    kind, value = _one_identifier(email, customer_id, anonymous_id)
    with clear_errors():
        load_settings()  # no PII key, no erasure: the digests need it, and a missing secret must fail first
        try:
            summary = forget_flow(kind=kind, value=SecretStr(value))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=f"--{kind.replace('_', '-')}") from None
    table = Table(title=f"erased by {kind.replace('_', ' ')}")
    for column in ("dataset", "landing lines removed", "raw rows emptied"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for name in sorted(summary.landing_rows.keys() | summary.raw_rows.keys()):
        table.add_row(name, f"{summary.landing_rows.get(name, 0):,}", f"{summary.raw_rows.get(name, 0):,}")
    if table.row_count:
        console.print(table)
    else:
        console.print("found in no landing file or raw partition; deliveries holding them will load them erased",
                      highlight=False)
    if summary.replayed:
        console.print(f"nights rebuilt and published: {summary.replayed[0]} → {summary.replayed[-1]} "
                      f"({len(summary.replayed)}); {summary.snapshots_pruned} older snapshots deleted", highlight=False)
    else:
        console.print("no processed night held them: nothing to rebuild", highlight=False)
    console.print(f"erasure log: {summary.log}", highlight=False)
