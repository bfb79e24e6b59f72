"""GX data docs made safe to open offline. GX 1.x pages load jQuery, Bootstrap 4, bootstrap-table, popper,
font-awesome, a datepicker and Vega from CDNs and a logo from a remote bucket. None of those files ships with GX or
is on the machine (bootstrap-table in particular, which draws the index's whole table from inline data), so the
docs cannot be made to work offline with local copies. Instead every external reference is removed — no page makes
an outbound request when viewed, and none throws for a missing jQuery — and a notice sends the reader to the
nightly's own validation page. The index gets a static list of the runs' validation pages in place of its
script-drawn table; the validation pages themselves are static HTML and stay readable.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.S | re.I)
_REMOTE_ELEMENT = re.compile(r"<(?:link|img)\b[^>]*\b(?:href|src)\s*=\s*([\"'])(?:https?:)?//[^>]*>", re.I)
_REMOTE_ATTRIBUTE = re.compile(r"\s(?:href|src)\s*=\s*([\"'])(?:https?:)?//.*?\1", re.I | re.S)
_REMOTE_CSS_URL = re.compile(r"url\(\s*([\"']?)(?:https?:)?//[^)]*\)", re.I)
_STATIC = re.compile(r"""(\b(?:href|src)\s*=\s*["'])(?:\./|\.\./)*static/""", re.I)
_BODY = re.compile(r"<body\b[^>]*>", re.I)
_RUNS_LIST = re.compile(r"<div id='offline-runs'>.*?</ul></div></div>", re.S)

NOTICE = ("<div style='font-family:system-ui,sans-serif;background:#fff8e1;border:1px solid #e0c060;"
          "padding:.6rem 1rem;margin:.5rem'>Offline copy of the Great Expectations data docs: their scripts and "
          "CDN styles are removed, so nothing is fetched from the network and the interactive tables stay empty. "
          "Every rule of a published night, failed ones first, is on the nightly's validation page: "
          "<code>validation-&lt;date&gt;.html</code> beside the report in the reports folder.</div>")


def offline_css(text: str) -> str:
    """CSS text → the same with every remote url(...) replaced by none."""
    return _REMOTE_CSS_URL.sub("none", text)


def offline_html(page: str, insert: str = NOTICE) -> str:
    """A data docs page → the same page without scripts, remote stylesheets, remote images, remote links (the
    anchors keep their text) and remote CSS urls, with `insert` at the top of the body. Idempotent once `insert`
    is there."""
    page = _SCRIPT.sub("", page)  # the inline scripts only drive the CDN libraries: without them they would throw
    page = _REMOTE_ELEMENT.sub("", page)
    page = _REMOTE_ATTRIBUTE.sub("", page)
    page = offline_css(page)
    if insert and insert not in page:
        page = _BODY.sub(lambda m: m.group(0) + insert, page, count=1)
    return page


def _local_static(page: str, depth: int) -> str:
    """Links to the site's static/ folder made relative to a page `depth` folders below it: GX counts a dotted
    suite name ("raw.web_events") as one folder, so its favicon link misses by one and fails to load."""
    return _STATIC.sub(lambda m: m.group(1) + "../" * depth + "static/", page)


def runs_list(site: Path) -> str:
    """The data docs folder → an HTML list of its validation pages, newest run first, as links relative to the
    index (the static stand-in for the index's script-drawn table)."""
    pages = sorted((site / "validations").glob("**/*.html"), reverse=True,
                   key=lambda p: (p.parent.parent.name[:10], p.parent.name, str(p)))  # landing date, run time
    items = "".join(f"<li><a href='{html.escape(p.relative_to(site).as_posix())}'>"
                    f"{html.escape(p.parent.parent.name)} · {html.escape(p.stem)}</a></li>" for p in pages)
    return (f"<div id='offline-runs'><div style='font-family:system-ui,sans-serif;margin:.5rem 1rem'>"
            f"<h2>Validation pages</h2><ul>{items or '<li>none</li>'}</ul></div></div>")


def make_site_offline(site: Path, since: float = 0) -> int:
    """Rewrite the data docs under `site` (local_site) in place so they make no outbound request; returns the
    number of files changed. Validation pages last written before `since` (a time.time()) are skipped: an earlier
    build rewrote them, and reading two weeks of pages again would make every night slower."""
    changed = 0
    for path in site.glob("**/*"):
        if path.suffix not in (".html", ".css") or not path.is_file():
            continue
        if path.suffix == ".html" and path != site / "index.html" and path.stat().st_mtime < since:
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".css":
            new = offline_css(text)
        elif path == site / "index.html":
            # GX writes the index anew on each build; should an old one be rewritten again, its list is replaced.
            bare = _RUNS_LIST.sub("", text.replace(NOTICE, ""))
            new = offline_html(bare, NOTICE + runs_list(site))
        else:
            new = _local_static(offline_html(text), len(path.relative_to(site).parts) - 1)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    return changed
