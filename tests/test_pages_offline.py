"""Every page a night writes opens offline: the report, the validation page and GX's data docs, checked statically
(no remote src/href) and in headless Chromium (no outbound or failed request, no console error, charts drawn, no
sideways scrolling of the whole page on a phone)."""
import fcntl
import json
import os
import re
import shutil
import time
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, Chromium
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

DS = date.fromisoformat(FIXTURE_DATE)
PHONE, DESKTOP, TOLERANCE = 390, 1400, 2  # CSS px; tolerance for sub-pixel rounding
LINK_ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "action", "poster", "data"}

needs_browser = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("INFLUENCE_REQUIRE_BROWSER"),
    reason=f"{CHROMIUM} is missing (scripts/test.sh installs it and sets INFLUENCE_REQUIRE_BROWSER=1)")


def _run_night(root: Path) -> dict[str, str]:
    """The nightly on the golden landing files in `root` → its pages by kind (report, validation, gx_index,
    gx_validation) and its results file."""
    from influence_pipeline.flows.nightly import nightly

    shutil.copytree(FIXTURES / "landing", root / "landing")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("INFLUENCE_DATA_DIR", str(root))
        env.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
        env.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
        env.delenv("INFLUENCE_RULES_FILE", raising=False)
        summary = nightly(ds=DS)
    index = Path(summary.data_docs)
    # a raw batch with a failed rule: the page that shows a failure
    (failing,) = (index.parent / "validations" / "raw" / "web_events").glob("*/*/*.html")
    return {"report": summary.report, "validation": summary.validation_page, "gx_index": str(index),
            "gx_validation": str(failing), "results": summary.validation_results}


@pytest.fixture(scope="module")
def pages(prefect_harness, tmp_path_factory, worker_id) -> dict[str, Path]:
    """One night's pages for the whole session: xdist spreads this module's tests over the workers, and a night
    costs a minute, so the first worker runs it and the others wait on a lock and read what it wrote."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent  # the parent is common to the session's workers
    done = shared / "offline-pages.json"
    with open(shared / "offline-pages.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            done.write_text(json.dumps(_run_night(shared / "offline-pages" / "data")))
    return {kind: Path(path) for kind, path in json.loads(done.read_text()).items()}


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        yield chromium


class _Links(HTMLParser):
    """Every link-like attribute value of a page, and the inline CSS."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self._in_style = tag == "style"
        self.links += [(tag, name, value or "") for name, value in attrs if name in LINK_ATTRIBUTES]
        self.css += [value or "" for name, value in attrs if name == "style"]

    def handle_data(self, data):
        if self._in_style:
            self.css.append(data)

    def handle_endtag(self, tag):
        self._in_style = False


def remote_references(page: str) -> list[str]:
    """An HTML page → its references to other hosts: src/href-like attributes and CSS url()s that are http(s) or
    protocol-relative (namespace attributes such as xmlns are not references)."""
    parser = _Links()
    parser.feed(page)
    remote = [f"{tag} {name}={value}" for tag, name, value in parser.links
              if value.strip().lower().startswith(("http://", "https://", "//"))]
    bare = [(css, css.replace(" ", "").replace("'", "").replace('"', "").lower()) for css in parser.css]
    return remote + [css for css, norm in bare if "url(http" in norm or "url(//" in norm]


def test_remote_references_are_found():
    page = ("<html><head><link rel=stylesheet href='https://cdn.example/x.css'><style>b{background:url('//x/y.png')}"
            "</style></head><body><svg xmlns='http://www.w3.org/2000/svg'></svg><a href='#top'>ok</a>"
            "<img src=\"http://x/logo.png\"></body></html>")
    assert remote_references(page) == ["link href=https://cdn.example/x.css", "img src=http://x/logo.png",
                                       "b{background:url('//x/y.png')}"]


def test_no_generated_page_references_another_host(pages):
    site = pages["gx_index"].parent
    generated = [pages["report"], pages["validation"], *site.glob("**/*.html")]
    assert len(generated) > 40  # the report, the validation page, the GX index and a page per validated batch
    found = {str(p): refs for p in generated if (refs := remote_references(p.read_text()))}
    assert found == {}
    assert not [p for p in site.glob("**/*.css")
                if "url(http" in p.read_text().replace(" ", "").replace("'", "").replace('"', "")]


def test_validation_page_lists_every_rule_failed_first(pages):
    page = pages["validation"].read_text()
    assert pages["validation"].name == f"validation-{FIXTURE_DATE}.html"
    assert pages["validation"].parent == pages["report"].parent
    results = json.loads(pages["results"].read_text())["results"]
    failed = [r for r in results if not r["success"]]
    assert "web_events.event_at.future" in {r["rule_id"] for r in failed}  # the fixture's event dated 2099
    assert page.count("<tr class='fail'>") == 2 * len(failed)  # in "Failed rules" and in its dataset's table
    assert page.count("<tr class='ok-row'>") == len(results) - len(failed)
    assert f"{len(results)} rules" in page and f"{len(failed)} failed</span>" in page
    # datasets with a failure come first, and in each table its failed rows come first
    sections = re.findall(r"<section><h2>([^<]+) <small>\((\w+)\)</small> <span class='(bad|ok)'>", page)
    assert len(sections) == len({(r["dataset"], r["stage"]) for r in results})
    flags = [kind == "bad" for _, _, kind in sections]
    assert flags == sorted(flags, reverse=True) and sum(flags) == len({(r["dataset"], r["stage"]) for r in failed})
    web_events = page.index("<h2>web_events <small>(raw)</small>")
    assert page.index("<tr class='fail'>", web_events) < page.index("<tr class='ok-row'>", web_events)


def test_validation_page_escapes_orders_and_handles_no_run():
    from influence_pipeline.report.validation_page import render_validation_page

    rule = {"dataset": "orders", "stage": "raw", "severity": "warning", "success": True, "unexpected_count": 0,
            "element_count": 10, "observed_value": None, "description": "price <b>positive</b>", "rule_id": "b.ok"}
    payload = {"run_id": "r1", "results": [
        rule, {**rule, "rule_id": "a.warn", "success": False, "unexpected_count": 3},
        {**rule, "rule_id": "z.err", "severity": "error", "success": False, "unexpected_count": 1},
        {**rule, "dataset": "dim_date", "stage": "published", "rule_id": "rows", "unexpected_count": None,
         "element_count": None, "observed_value": 30}]}
    page = render_validation_page(payload, DS)
    assert "<b>positive" not in page and "price &lt;b&gt;positive&lt;/b&gt;" in page
    assert page.index("z.err") < page.index("a.warn") < page.index("b.ok")  # errors, then warnings, then passes
    assert "3 / 10" in page and "observed 30" in page and "4 rules" in page and "2 failed" in page
    assert page.index("<h2>orders") < page.index("<h2>dim_date")  # the dataset with failures first
    assert "<script" not in page and remote_references(page) == []
    assert "No validation run recorded for landing date 2026-11-02" in render_validation_page(None, DS)


def test_data_docs_lose_scripts_and_remote_references():
    from influence_pipeline.schemas.data_docs import NOTICE, offline_html

    page = ("<html><head><script src='https://code.jquery.com/jquery.js'></script><link rel='stylesheet' "
            "href='https://cdn.example/b.css'><link href='./static/local.css' rel='stylesheet'><style>.l{background:"
            "url('https://bucket/logo.png')}</style></head><body class='x'><img src=\"https://bucket/logo.png?d=1\">"
            "<a href=\"https://greatexpectations.io\">GX</a><a href='../index.html'>home</a><script>\n$('#t')"
            ".bootstrapTable({});\n</script></body></html>")
    offline = offline_html(page)
    assert "<script" not in offline and remote_references(offline) == []
    assert "./static/local.css" in offline and "<a>GX</a>" in offline and "href='../index.html'" in offline
    assert offline.count(NOTICE) == 1 and offline_html(offline) == offline


def test_site_rewrite_fixes_static_links_and_lists_the_runs(tmp_path):
    from influence_pipeline.schemas.data_docs import make_site_offline

    page = tmp_path / "validations" / "raw" / "web_events" / "2026-11-02-run" / "20261102T010203Z" / "raw.web_events.html"
    page.parent.mkdir(parents=True)
    # GX's link for a dotted suite name: one folder short
    page.write_text("<html><body><link rel='icon' href='../../../../static/images/favicon.ico'>x</body></html>")
    (tmp_path / "index.html").write_text("<html><body><table data-toggle='table'></table></body></html>")
    (tmp_path / "static" / "styles").mkdir(parents=True)
    (tmp_path / "static" / "styles" / "a.css").write_text(".logo{background:url('https://bucket/logo.png')}")
    assert make_site_offline(tmp_path) == 3 and make_site_offline(tmp_path) == 0
    assert "href='../../../../../static/images/favicon.ico'" in page.read_text()
    index = (tmp_path / "index.html").read_text()
    assert index.count("validations/raw/web_events/2026-11-02-run/20261102T010203Z/raw.web_events.html") == 1
    assert (tmp_path / "static" / "styles" / "a.css").read_text() == ".logo{background:none}"


def _timed_open(browser, path: Path, timings: dict) -> object:
    started = time.monotonic()
    page = browser.open(path, width=DESKTOP)
    timings[path.name] = round(time.monotonic() - started, 2)
    return page


@needs_browser
@pytest.mark.parametrize("kind", ["report", "validation", "gx_index", "gx_validation"])
def test_page_loads_offline_and_fits_a_phone(pages, browser, kind, record_property):
    timings: dict = {}
    page = _timed_open(browser, pages[kind], timings)
    record_property("open_seconds", timings)
    assert page.requests, "the page itself is a request"
    assert page.outbound == [] and page.failed == [] and page.errors == []
    assert page.evaluate("document.body.innerText.length") > 200  # something is shown without scripts
    page.resize(PHONE)
    assert page.evaluate("document.documentElement.clientWidth") <= PHONE
    assert page.evaluate("document.body.scrollWidth") <= PHONE + TOLERANCE
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE + TOLERANCE


# Top-level SVGs; within a Vega chart the marks are the shapes of its role-mark groups (not axes, grid, legend).
DRAWN_MARKS = """Array.from(document.querySelectorAll('svg')).filter(s => !s.parentElement.closest('svg')).map(svg => {
  const marks = svg.querySelector('.role-mark') ? svg.querySelectorAll('.role-mark :is(path, rect, circle, line)')
                                                : svg.querySelectorAll('path, rect, circle, line');
  return Array.from(marks).filter(e => { const b = e.getBoundingClientRect(); return b.width > 0 || b.height > 0; })
              .length; })"""


@needs_browser
def test_every_report_chart_draws_marks(pages, browser):
    page = browser.open(pages["report"], width=DESKTOP)
    marks = page.evaluate(DRAWN_MARKS)
    assert len(marks) >= 4 and all(n > 0 for n in marks), marks
    page.resize(PHONE)
    assert all(n > 0 for n in page.evaluate(DRAWN_MARKS))


@needs_browser
def test_checker_sees_outbound_and_failed_requests_and_errors(browser, tmp_path):
    """The checker itself: a page that asks another host and throws is caught (no network here or not, the
    request is made, so it counts)."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><html><head><link rel=stylesheet href='https://cdn.invalid/x.css'>"
                   "<link rel=stylesheet href='missing.css'></head><body><p>x</p>"
                   "<script>console.error('boom'); undefinedFunction();</script></body></html>")
    page = browser.open(bad)
    assert page.outbound == ["https://cdn.invalid/x.css"]
    assert any(f.startswith(bad.with_name("missing.css").as_uri()) for f in page.failed)
    assert any("boom" in e for e in page.errors) and any("undefinedFunction" in e for e in page.errors)
    assert page.evaluate("1 + 1") == 2
