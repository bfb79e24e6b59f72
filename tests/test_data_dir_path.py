"""A data dir path with any legal character (`%`, `%41`, spaces, quotes, `#`, `?`, unicode) works end to end: the
warehouse URL is built so that SQLAlchemy's make_url gives the path back exactly, and a nightly run there publishes,
BI copy included. DuckDB itself cannot write a database under a `?` (it cuts the path there to name the WAL): that
warehouse is refused at start with the way out, and a `?` data dir works with the warehouse file elsewhere."""
import shutil
from datetime import date

import duckdb
import pytest
from sqlalchemy.engine import make_url

from influence_pipeline.settings import Settings, SettingsError, duckdb_path, duckdb_url
from tests.conftest import FIXTURE_DATE, FIXTURES, TEST_PII_KEY

DS = date.fromisoformat(FIXTURE_DATE)
ODD_NAME = "data %41 'q' \"dq\" #?"
NAMES = [ODD_NAME, "100%", "a%2Fb", "sp ace", "ünï cødé", "a+b=c@d:e,f;g&h[i]", "x?y=1#z", "%%"]


@pytest.mark.parametrize("name", NAMES)
def test_the_warehouse_url_gives_the_path_back_exactly(tmp_path, name):
    path = tmp_path / name / "warehouse.duckdb"
    url = duckdb_url(path)
    assert duckdb_path(url) == path and make_url(url).get_backend_name() == "duckdb"


@pytest.mark.parametrize("name", [n for n in NAMES if "?" not in n])
def test_the_default_warehouse_of_an_odd_data_dir_is_found_again(tmp_path, name):
    settings = Settings(data_dir=tmp_path / name)
    assert duckdb_path(settings.resolved_warehouse_url) == (tmp_path / name).resolve() / "warehouse.duckdb"
    assert settings.embedded_warehouse_path == (tmp_path / name).resolve() / "warehouse.duckdb"


def test_the_unquoted_url_was_the_bug(tmp_path):
    path = tmp_path / ODD_NAME / "warehouse.duckdb"
    assert make_url(f"duckdb:///{path}").database != str(path)  # %41 decoded to A, `?…` read as a query string
    assert make_url(duckdb_url(path)).database == str(path)


def test_an_ordinary_path_keeps_its_plain_url(tmp_path):
    assert duckdb_url(tmp_path / "warehouse.duckdb") == f"duckdb:///{tmp_path}/warehouse.duckdb"


def test_duckdb_cannot_write_under_a_question_mark_so_that_warehouse_is_refused_at_start(tmp_path):
    with pytest.raises(duckdb.Error, match=r"\.wal\?"):  # DuckDB's own behaviour, the reason for the refusal
        with duckdb.connect(str(_mkdir(tmp_path / "d?x") / "w.duckdb")) as con:
            con.execute("CREATE TABLE t AS SELECT 1 AS a")
    with pytest.raises(SettingsError, match="INFLUENCE_WAREHOUSE_URL to a DuckDB file whose path holds no"):
        Settings(data_dir=tmp_path / ODD_NAME).resolved_warehouse_url
    with pytest.raises(SettingsError, match="cannot be written"):
        Settings(warehouse_url=duckdb_url(tmp_path / "d?x" / "w.duckdb")).resolved_warehouse_url


def _mkdir(path):
    path.mkdir(parents=True)
    return path


def _odd_data_dir(tmp_path, monkeypatch, name: str):
    data = tmp_path / name
    shutil.copytree(FIXTURES / "landing", data / "landing")
    monkeypatch.setenv("INFLUENCE_DATA_DIR", str(data))
    monkeypatch.setenv("INFLUENCE_PII_KEY", TEST_PII_KEY)
    monkeypatch.delenv("INFLUENCE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("INFLUENCE_RULES_FILE", raising=False)
    return data


def _assert_published(summary, data, warehouse) -> None:
    """The night published: report written, audit rows of the run, and a BI copy beside the warehouse that DuckDB
    opens holding the warehouse's rows (and no leftover beside it)."""
    assert summary.report and (data / "reports" / f"report-{FIXTURE_DATE}.html").exists()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        visits = con.execute("SELECT count(*) FROM marts.fct_visit").fetchone()[0]
        statuses = dict(con.execute("SELECT dataset, status FROM audit.run_sources WHERE run_id = ?",
                                    [summary.run_id]).fetchall())
    copy = warehouse.parent / "bi" / warehouse.name
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.fct_visit").fetchone()[0] == visits > 0
        assert con.execute("SELECT count(*) FROM marts.dim_influencer").fetchone()[0] > 0
    assert statuses and set(statuses.values()) <= {"ok", "warning", "missing"}
    assert sorted(p.name for p in copy.parent.iterdir()) == [warehouse.name]


def test_a_nightly_in_a_data_dir_with_odd_characters_publishes_its_bi_copy(prefect_harness, tmp_path, monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    data = _odd_data_dir(tmp_path, monkeypatch, ODD_NAME.removesuffix("?"))
    summary = nightly(ds=DS)
    _assert_published(summary, data, data / "warehouse.duckdb")
    assert sorted(p.name for p in tmp_path.iterdir()) == [data.name]  # nothing written to a decoded twin path


def test_a_question_mark_data_dir_publishes_with_its_warehouse_elsewhere(prefect_harness, tmp_path, monkeypatch):
    from influence_pipeline.flows.nightly import nightly

    data = _odd_data_dir(tmp_path, monkeypatch, ODD_NAME)
    with pytest.raises(SettingsError, match="cannot be written"):
        nightly(ds=DS)
    assert not (data / "lake").exists()
    warehouse = tmp_path / "warehouse %41 'q' #" / "warehouse.duckdb"
    monkeypatch.setenv("INFLUENCE_WAREHOUSE_URL", duckdb_url(warehouse))
    _assert_published(nightly(ds=DS), data, warehouse)
