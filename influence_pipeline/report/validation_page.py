"""The validation page: one run's rule outcomes (the results JSON that schemas/gx.py writes) as a self-contained HTML
page — inline CSS, no script, no external URL — so it opens offline, unlike GX's data docs, which load their
scripts and styles from CDNs."""
from __future__ import annotations

import html
import json
from datetime import date
from itertools import groupby
from pathlib import Path

from influence_pipeline.atomic import write_atomic

# The report's family (system-ui, plain tables); tables sit in .scroll wrappers so a phone scrolls them sideways
# instead of the whole page.
STYLE = """body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem}h1,h2,p{overflow-wrap:anywhere}.sub{color:#666;margin-top:0}section{margin:1.8rem 0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.9rem}td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;
vertical-align:top}td.n,th.n{text-align:right;white-space:nowrap}tr.fail{background:#fdecea}tr.fail td.s{color:#b00;
font-weight:600}td.s{white-space:nowrap}.ok{color:#176b2c}.bad{color:#b00}.desc{min-width:16rem}"""


def read_validation_results(validation_dir: Path, ds: date) -> dict | None:
    """validation_dir/results/<ds>/*.json → the latest run's payload (landing_date, run_id, results), or None when
    `ds` has no run."""
    runs = sorted((validation_dir / "results" / ds.isoformat()).glob("*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(runs[-1].read_text()) if runs else None


def _esc(value) -> str:
    return "" if value is None else html.escape(str(value))


def _count(result: dict) -> str:
    """'unexpected / elements' for a row rule; the observed value for a dataset rule (row count, say)."""
    if result.get("unexpected_count") is not None:
        return f"{result['unexpected_count']:,} / {result.get('element_count') or 0:,}"
    observed = result.get("observed_value")
    return "" if observed is None else f"observed {_esc(json.dumps(observed) if isinstance(observed, (list, dict)) else observed)}"


def _order(result: dict) -> tuple:
    """Failed first, errors before warnings, then by rule id."""
    return (result["success"], result["severity"] != "error", result["rule_id"])


def _rows(results: list[dict], with_dataset: bool) -> str:
    rows = []
    for r in sorted(results, key=_order):
        status = "pass" if r["success"] else "FAIL"
        cells = ([f"<td>{_esc(r['dataset'])}</td><td>{_esc(r['stage'])}</td>"] if with_dataset else []) + [
            f"<td>{_esc(r['rule_id'])}</td><td>{_esc(r['severity'])}</td><td class='s'>{status}</td>",
            f"<td class='n'>{_count(r)}</td><td class='desc'>{_esc(r.get('description'))}</td>"]
        rows.append(f"<tr class='{'ok-row' if r['success'] else 'fail'}'>{''.join(cells)}</tr>")
    return "".join(rows)


def _table(results: list[dict], with_dataset: bool = False) -> str:
    head = (["dataset", "stage"] if with_dataset else []) + ["rule", "severity", "result"]
    heads = "".join(f"<th>{h}</th>" for h in head) + "<th class='n'>unexpected / rows</th><th>description</th>"
    return (f"<div class='scroll'><table><thead><tr>{heads}</tr></thead>"
            f"<tbody>{_rows(results, with_dataset)}</tbody></table></div>")


def _totals(results: list[dict]) -> str:
    """Rules, passed and failed (errors, warnings) per stage and overall."""
    lines = []
    for stage in sorted({r["stage"] for r in results}) + ["all"]:
        mine = [r for r in results if stage in ("all", r["stage"])]
        failed = [r for r in mine if not r["success"]]
        errors = sum(r["severity"] == "error" for r in failed)
        cells = [stage, len({r["dataset"] for r in mine}), len(mine), len(mine) - len(failed), errors,
                 len(failed) - errors]
        tag = "th" if stage == "all" else "td"
        lines.append("<tr>" + "".join(f"<{tag}{'' if i == 0 else ' class=n'}>{_esc(c)}</{tag}>"
                                      for i, c in enumerate(cells)) + "</tr>")
    head = "".join(f"<th{'' if i == 0 else ' class=n'}>{h}</th>" for i, h in enumerate(
        ("stage", "datasets", "rules", "passed", "failed: error", "failed: warning")))
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table></div>"


def render_validation_page(payload: dict | None, ds: date) -> str:
    """A run's results payload (read_validation_results; None: no run for `ds`) → the HTML page."""
    results = (payload or {}).get("results", [])
    failed = [r for r in results if not r["success"]]
    if payload is None:
        body = f"<p>No validation run recorded for landing date {ds}.</p>"
    else:
        verdict = (f"<span class='bad'>{len(failed)} failed</span>" if failed else "<span class='ok'>all passed</span>")
        body = (f"<p class='sub'>Landing date {ds} · run {_esc(payload.get('run_id'))} · {len(results)} rules · "
                f"{verdict}</p><section><h2>Totals</h2>{_totals(results)}</section>")
        body += ("<section><h2>Failed rules</h2>" + _table(failed, with_dataset=True) + "</section>" if failed
                 else "<section><h2>Failed rules</h2><p>None.</p></section>")
        # Datasets with a failure first, then raw before published, then by name.
        key = lambda r: (r["dataset"], r["stage"])  # noqa: E731
        groups = [(k, list(g)) for k, g in groupby(sorted(results, key=key), key=key)]
        groups.sort(key=lambda g: (all(r["success"] for r in g[1]), g[0][1] != "raw", g[0][0]))
        for (dataset, stage), mine in groups:
            bad = sum(not r["success"] for r in mine)
            note = f" <span class='bad'>· {bad} failed</span>" if bad else f" <span class='ok'>· {len(mine)} passed</span>"
            body += f"<section><h2>{_esc(dataset)} <small>({_esc(stage)})</small>{note}</h2>{_table(mine)}</section>"
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>influence-pipeline validation {ds}</title><style>{STYLE}</style></head><body>"
            f"<h1>Validation results</h1>{body}</body></html>")


def write_validation_page(validation_dir: Path, ds: date, out: Path) -> Path:
    """Render the latest validation run of `ds` to `out`, atomically; returns `out`."""
    return write_atomic(out, render_validation_page(read_validation_results(validation_dir, ds), ds))
