"""The pure layer stays pure: transforms/ imports no application code (flows, sinks, sources, settings, the CLI) and
calls no reader, writer, clock or environment lookup — frames in, frames out."""
import ast
from pathlib import Path

import pytest

TRANSFORMS = Path(__file__).resolve().parents[1] / "transforms"
#: What a transform may import from the package besides other transforms: the contract and rule types it is handed.
ALLOWED_PACKAGE = ("influence_pipeline.transforms", "influence_pipeline.schemas.contract",
                   "influence_pipeline.schemas.row_rules")
#: Calls that read, write, tell the time or look up configuration.
IMPURE_ATTRIBUTES = {"now", "today", "utcnow", "environ", "getenv", "read_csv", "read_parquet", "read_ndjson",
                     "read_json", "scan_parquet", "scan_csv", "scan_ndjson", "write_parquet", "write_csv",
                     "sink_parquet", "write_text", "write_bytes", "read_text", "read_bytes", "load_contracts",
                     "load_rules", "get_settings"}
#: Reference tables shipped with the package are data, not configuration: read once, the same on every machine.
REFERENCE_DATA = {("staging/countries.py", "read_text"), ("staging/registry.py", "load_contracts")}
MODULES = sorted(TRANSFORMS.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(TRANSFORMS).as_posix())
def test_a_transform_imports_only_transforms_and_contract_types(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
    application = [name for name in imported if name.split(".")[0] == "influence_pipeline"
                   and not name.startswith(ALLOWED_PACKAGE)]
    assert application == [], f"{path.name} imports application code"
    assert "influence_pipeline" not in [name for name in imported if "." not in name]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(TRANSFORMS).as_posix())
def test_a_transform_reads_no_file_clock_or_setting(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    relative = path.relative_to(TRANSFORMS).as_posix()
    calls = {node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    calls |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "environ"}
    calls |= {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open"}
    impure = {c for c in calls & (IMPURE_ATTRIBUTES | {"open"}) if (relative, c) not in REFERENCE_DATA}
    assert impure == set(), f"{relative} calls {sorted(impure)}"
