"""What BI tools get besides the tables: readable views over the marts, and a read-only copy of the embedded
warehouse (DuckDB allows one writer; Metabase or Superset holding the file open would block the nightly run)."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa

from sinks.ddl import DIALECT, check_identifier

VIEWS_DIR = Path(__file__).with_name("views")


def _comment(sql: str) -> str:
    lines = [line.removeprefix("--").strip() for line in sql.splitlines() if line.startswith("--")]
    return " ".join(lines)


def view_statements(schema: str = "marts") -> list[str]:
    """CREATE OR REPLACE VIEW for each file in sinks/views/ (one view per file, named like the file), each followed
    by a COMMENT ON VIEW taken from the file's leading comment lines."""
    statements = []
    for path in sorted(VIEWS_DIR.glob("*.sql")):
        sql = path.read_text()
        name = f"{check_identifier(schema)}.{check_identifier(path.stem)}"
        literal = sa.literal(_comment(sql), sa.String()).compile(dialect=DIALECT, compile_kwargs={"literal_binds": True})
        statements += [sql.strip().rstrip(";"), f"COMMENT ON VIEW {name} IS {literal}"]
    return statements


def publish_readonly_copy(database: Path, target: Path) -> Path:
    """Copy the (closed, checkpointed) DuckDB file to `target` through a temporary file and an atomic rename: a BI
    tool opening `target` sees the previous copy or the new one, never half of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(database, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
