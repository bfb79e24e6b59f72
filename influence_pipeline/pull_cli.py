"""`influence pull`, `influence connect` and `influence accounts`: fetch a source from its API into landing/, store a
creator's token, list which roster accounts have one."""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from influence_pipeline.cli import _parse_date, clear_errors, console

SourceOpt = Annotated[str, typer.Option("--source", help="instagram, tiktok, youtube or shopify.")]


def pull(
    source: SourceOpt,
    date_: Annotated[str | None, typer.Option("--date", help="Landing date to fill, YYYY-MM-DD (default: today for "
                                              "the social platforms, yesterday for Shopify, in INFLUENCE_TIMEZONE).")]
    = None,
    mode: Annotated[str, typer.Option(help="daily, or stories (Instagram: current stories only, merged into the "
                                      "day's files; run it every few hours, stories vanish after 24 h).")] = "daily",
) -> None:
    """Pull one source from its API into landing/<source>/<date>/, the files a delivered export would be, plus a
    _pull.json saying which accounts were read, how, and which need a human (exit 1 if any, or if the source
    stopped early)."""
    from influence_pipeline.flows.pull import pull as pull_flow
    from influence_pipeline.sources.api.client import PullError
    from influence_pipeline.sources.api.pull import PULLERS

    if source not in PULLERS:
        raise typer.BadParameter(f"{source!r} is not one of {', '.join(PULLERS)}", param_hint="--source")
    day = None if date_ is None else _parse_date(date_, "--date")
    with clear_errors():
        try:
            record = pull_flow(source=source, ds=day, mode=mode, fail_on_stopped=False)
        except PullError as exc:  # a whole-source stop (quota, the shop's token): its message says what to do
            console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
    console.print(f"{source} {record['landing_date']}: " + (", ".join(
        f"{name} {rows} rows" for name, rows in record["files"].items()) or "no files"), highlight=False)
    for account in record["accounts"]:
        if account["status"] != "ok":
            console.print(f"  {account['status']:8} {account['account_id']} ({account['access']}): "
                          f"{account['message']}", highlight=False, soft_wrap=True)
    for warning in record["warnings"]:
        console.print(f"  [yellow]warning[/yellow] {warning}", highlight=False, soft_wrap=True)
    if record["incomplete"]:
        console.print(f"  [bold red]incomplete[/bold red] {record['incomplete']}", highlight=False, soft_wrap=True)
    if record["incomplete"] or any(a["status"] in ("stopped", "failed") for a in record["accounts"]):
        raise typer.Exit(1)


def connect(
    platform: Annotated[str, typer.Option(help="instagram, tiktok or youtube.")],
    account: Annotated[str, typer.Option(help="The roster's platform_account_id (IG user id, TikTok username, "
                                         "YouTube channel id).")],
) -> None:
    """Store a creator's token, read as JSON from stdin ({"access_token", "expires_at", "refresh_token",
    "refresh_expires_at", "extra"}), in the token store (mode 0600). Never echoed; the pulls refresh it from then on."""
    from influence_pipeline.sources.api.config import ApiSettings
    from influence_pipeline.sources.api.state import Token, TokenStore

    if platform not in ("instagram", "tiktok", "youtube"):
        raise typer.BadParameter("creators connect on instagram, tiktok or youtube", param_hint="--platform")
    try:
        fields = json.loads(sys.stdin.read())
        token = Token(**{k: fields[k] for k in fields if k in Token.__dataclass_fields__})
    except (ValueError, TypeError, KeyError):
        # not the exception text: it could quote the token
        raise typer.BadParameter("stdin must hold a JSON object with at least access_token") from None
    settings = ApiSettings()
    store = TokenStore(settings.token_store_path)
    store.put(platform, account, token)
    console.print(f"stored the {platform} token of {account} in {store.path}", highlight=False)


def accounts(
    date_: Annotated[str | None, typer.Option("--date", help="Roster and pulls as of this date, YYYY-MM-DD "
                                              "(default: today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per account, for scripts.")] = False,
) -> None:
    """List the roster's social accounts with their creator's token (connected, renew soon, expired, not connected),
    the access a pull reads them with (creator: full insights; public: public figures only; none) and how the latest
    pull went. Tokens are never shown."""
    from dataclasses import asdict
    from datetime import UTC, datetime

    from rich.table import Table

    from influence_pipeline.sources.api.accounts import RosterMissing
    from influence_pipeline.sources.api.config import ApiSettings
    from influence_pipeline.sources.api.roster_access import roster_access
    from influence_pipeline.sources.api.state import TokenStore

    settings = ApiSettings()
    now = datetime.now(UTC)
    day = now.date() if date_ is None else _parse_date(date_, "--date")
    try:
        rows = roster_access(settings.landing_dir, TokenStore(settings.token_store_path), day, now,
                             settings.token_expiry_warning_days)
    except RosterMissing as exc:
        raise typer.BadParameter(str(exc), param_hint="--date") from None
    if as_json:
        sys.stdout.write("".join(json.dumps(asdict(row), ensure_ascii=False) + "\n" for row in rows))
        return
    table = Table(title=f"roster accounts and creators' tokens as of {day}")
    for column in ("platform", "account", "handle", "token", "until", "access", "last pull", "message"):
        table.add_column(column)
    for row in rows:
        account = row.platform_account_id + ("" if row.in_roster else " (not in roster)")
        last = f"{row.last_status} {row.last_pull_date}" if row.last_status else "-"
        table.add_row(row.platform, account, row.handle and f"@{row.handle}", row.token, (row.token_until or "")[:10],
                      row.access, last, row.last_message)
    console.print(table)
    connected = sum(r.access == "creator" for r in rows if r.in_roster)
    console.print(f"{connected} of {sum(r.in_roster for r in rows)} roster accounts read with the creator's token; "
                  "connect one with `influence connect --platform P --account A` (token JSON on stdin)", highlight=False,
                  soft_wrap=True)


def pull_sample(world: Path, delivered: Path, data_dir: Path, dates: list[date]) -> None:
    """The demo's pulls: serve the sample in `world` through the fake APIs (one Instagram and YouTube creator in five
    not connected, to show both access models), pull every source for each date into `data_dir`, print a summary."""
    from rich.table import Table

    from influence_pipeline.fake_api.sample_apis import sample_apis

    totals: dict[str, dict[str, int]] = {}
    with sample_apis(world, data_dir, dates[0], public_every=5, delivered_dir=delivered) as apis:
        console.print(f"fake APIs on {apis.server.base_url('')}: pulling {len(dates)} days of 4 sources")
        for day in dates:
            for record in apis.pull_day(day):
                total = totals.setdefault(record.source, {"rows": 0, "requests": 0, "retries": 0})
                total["rows"] += sum(record.files.values())
                total["requests"] += record.requests
                total["retries"] += record.retries
                for account in record.accounts:
                    total[account.status] = total.get(account.status, 0) + 1
    table = Table(title="pulled from the fake APIs: rows landed, requests, account-days by status")
    for column in ("source", "rows", "requests", "retries", "ok", "partial", "stopped", "failed", "skipped"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for source, total in totals.items():
        table.add_row(source, *(str(total.get(k, 0)) for k in ("rows", "requests", "retries", "ok", "partial",
                                                               "stopped", "failed", "skipped")))
    console.print(table)
    console.print("partial: read publicly (Business Discovery, YouTube Data API); insights need the creator's "
                  "authorisation. Each landing day's _pull.json lists accounts, endpoints and API versions.")
