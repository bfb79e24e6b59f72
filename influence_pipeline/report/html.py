"""HTML pieces of the brief: the stylesheet, tiles, tables and inline SVG charts (strings in, strings out). No script
and no external resource: the page is one file that opens from a mail attachment or a file share."""
from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

# Tiles wrap in a grid (eight tiles: two rows of four, four rows of two on a phone), tables scroll sideways in their
# wrapper and charts shrink to the screen: the same page reads at 1 400 px on a desk and at 390 px on a phone.
STYLE = """*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:1.2rem;max-width:1100px;
color:#222;line-height:1.4}
h1{margin:0 0 .2rem;font-size:1.6rem}h2{font-size:1.25rem;margin:0 0 .6rem}h3{font-size:1rem;margin:1rem 0 .4rem}
.sub,.note{color:#555;margin-top:0;font-size:.9rem}section{margin:1.6rem 0}
.tiles{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:.6rem}
.tile{border:1px solid #ddd;border-radius:6px;padding:.55rem .75rem;background:#fafafa}
.tile .label{color:#555;font-size:.85rem}
.tile .value{font-size:1.35rem;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.tile .change{font-size:.85rem;color:#444;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;font-size:.9rem}
td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:right;white-space:nowrap;
font-variant-numeric:tabular-nums}
th{background:#f3f3f3}.l{text-align:left}tr.group th{background:#e8eef6;text-align:left;white-space:normal}
.ok{color:#1a7f37;font-weight:600}.bad{color:#b00;font-weight:600}
.chart svg{width:100%;max-width:640px;height:auto;display:block}
@media (max-width:700px){.tiles{grid-template-columns:repeat(2,minmax(0,1fr))}}
@media (max-width:600px){body{padding:.6rem}h1{font-size:1.3rem}.tile .value{font-size:1.1rem}
td,th{padding:.25rem .4rem;font-size:.85rem}}"""


def esc(value: object) -> str:
    """Any value → escaped text ("" for None)."""
    return "" if value is None else html.escape(str(value))


def tiles(items: Iterable[tuple[str, str, str]], compared_with: str) -> str:
    """(label, formatted value, formatted change) → a wrapping grid of tiles."""
    cells = "".join(f"<div class='tile'><div class='label'>{esc(label)}</div><div class='value'>{esc(value)}</div>"
                    f"<div class='change'>{esc(change)} {esc(compared_with)}</div></div>"
                    for label, value, change in items)
    return f"<div class='tiles'>{cells}</div>"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1,
          classes: Iterable[Sequence[str]] | None = None) -> str:
    """Formatted cells → a table in a sideways-scrolling wrapper; the first `left` columns align left (text), the
    rest right (numbers). `classes` gives extra classes per cell (e.g. ok / bad for a mark)."""
    align = ["l" if i < left else "" for i in range(len(header))]
    head = "".join(f"<th class='{a}'>{esc(h)}</th>" for h, a in zip(header, align))
    rows, extra = list(rows), list(classes) if classes is not None else None
    body = "".join("<tr>" + "".join(
        f"<td class='{' '.join(filter(None, [a, extra[r][i] if extra else '']))}'>{esc(cell)}</td>"
        for i, (cell, a) in enumerate(zip(row, align))) + "</tr>" for r, row in enumerate(rows))
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def svg(chart) -> str:
    """An Altair chart → inline SVG in a wrapper that scales it to the screen."""
    import vl_convert

    return f"<div class='chart'>{vl_convert.vegalite_to_svg(chart.to_json())}</div>"


def section(title: str, content: str, note: str = "") -> str:
    """A titled section, with an optional note under the title."""
    extra = f"<p class='note'>{esc(note)}</p>" if note else ""
    return f"<section><h2>{esc(title)}</h2>{extra}{content}</section>"
