"""One fuzz case: a mutated landing file goes through ingest, the row rules and validation (the check step), and
every staging model that reads its dataset — the real code the nightly flow calls — and is classified:

- `handled`: every row of the file is in the raw batch, and published or quarantined with a rule and a reason
  (rows in = clean + quarantined, as the audit demands), and staging builds;
- `refused`: a LandingFileError whose message names the file;
- `crashed`: anything else — an uncaught exception, an unbalanced split, a refusal that does not name the file."""
from __future__ import annotations

import csv
import gzip
import io
import json
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from influence_pipeline.schemas.checkpoint import evaluate_raw
from influence_pipeline.schemas.raw import BY_NAME as RAW
from influence_pipeline.schemas.row_rules import row_rules
from influence_pipeline.sources import ndjson_native
from influence_pipeline.sources.ingest import ingest_dataset, scan_raw
from influence_pipeline.sources.landing import LandingFileError
from influence_pipeline.transforms.quarantine import check_batch, same_day_references
from influence_pipeline.transforms.staging.registry import BY_NAME as STAGING_MODELS
from tests.bad_input.helpers import CONTRACTS, DS, KEY
from tests.fuzz.mutations import MUTATIONS
from tests.fuzz.seeds import Origin

_ROOT = str(Path(__file__).resolve().parents[2])
CASE_SECONDS = 120  # a case still running after this is a hang: a night would never end


@dataclass
class Case:
    index: int
    origin: str
    dataset: str
    mutation: str
    container: str  # plain | gzip | gzip_truncated | parquet
    reader: str  # per_line | native (NDJSON only)
    data: bytes = b""
    rel: str = ""
    expected_rows: int | None = None  # the rows the file holds, when the fuzzer can count them independently


@dataclass
class Outcome:
    status: str  # handled | refused | crashed
    rows_in: int = 0
    rows_quarantined: int = 0
    message: str = ""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def make_case(index: int, seed: int, origins: dict[str, Origin]) -> Case:
    """Case `index` of the run seeded `seed`: mutations taken in turn, everything else drawn at random."""
    rng = Random(f"{seed}:{index}")
    names = sorted(MUTATIONS)
    mutation = names[index % len(names)]
    origin = origins[rng.choice(sorted(origins))]
    dataset = rng.choice(sorted(origin.files))
    fmt = RAW[dataset].fmt
    containers = ["plain"] * 4 + ["gzip", "gzip", "gzip_truncated"] + (["parquet"] * 2 if fmt == "ndjson" else [])
    container = rng.choice(containers)
    reader = "native" if fmt == "ndjson" and container != "parquet" and rng.random() < 0.3 else "per_line"
    case = Case(index, origin.name, dataset, mutation, container, reader)
    _pack(case, MUTATIONS[mutation](origin.files[dataset], fmt, rng), origin.files[dataset], rng)
    return case


def _pack(case: Case, mutated: bytes, seed_bytes: bytes, rng: Random) -> None:
    """The landing file of the case in its container, its path relative to the landing dir, its row count."""
    dataset = RAW[case.dataset]
    rel = f"{dataset.source}/{DS.isoformat()}/{dataset.file}"
    if case.container == "parquet":
        case.rel = rel.removesuffix(".ndjson") + ".parquet"
        if case.mutation in ("byte_flip", "truncate") and rng.random() < 0.5:  # a damaged Parquet file
            case.data = MUTATIONS[case.mutation](_parquet(seed_bytes)[0], "parquet", rng)
        else:
            case.data, case.expected_rows = _parquet(mutated)
        return
    if case.container == "plain":
        case.rel, case.data = rel, mutated
    else:
        packed = gzip.compress(mutated, mtime=0)
        if case.container == "gzip_truncated":
            packed = packed[:rng.randrange(max(1, len(packed) - 8))]
        case.rel, case.data = rel + ".gz", packed
    if case.container != "gzip_truncated":
        case.expected_rows = _ndjson_rows(mutated) if dataset.fmt == "ndjson" else _csv_rows(mutated)


def _ndjson_rows(data: bytes) -> int:
    """Lines that are not blank: each is a row, parsed or quarantined."""
    text = data.decode("utf-8", "replace")
    return sum(1 for line in text.split("\n") if (s := line.removesuffix("\r")) and not s.isspace())


def _csv_rows(data: bytes) -> int | None:
    """Records after the header that are not blank, as any CSV reader counts them (None: no CSV at all)."""
    try:
        records = list(csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline="")))
    except csv.Error:
        return None
    return sum(1 for r in records[1:] if r)


def _parquet(ndjson: bytes) -> tuple[bytes, int]:
    """The JSON objects among NDJSON lines as a Parquet file (columns whose types clash written as text)."""
    records = []
    for line in ndjson.split(b"\n"):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and _encodable(record):
            records.append(record)
    try:
        return _parquet_bytes(pa.Table.from_pylist(records))
    except (pa.ArrowException, OverflowError, RecursionError, ValueError):  # mixed types, {} or a huge integer
        texts = [{k: v if v is None or isinstance(v, str) else json.dumps(v) for k, v in r.items()} for r in records]
        return _parquet_bytes(pa.Table.from_pylist(texts))


def _parquet_bytes(table: pa.Table) -> tuple[bytes, int]:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue(), table.num_rows


def _encodable(record: dict) -> bool:
    """Whether Parquet can hold the record: its text has no lone surrogate (a JSON escape can make one)."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError, ValueError):
        return False
    return True


def _timeout(signum, frame):
    raise TimeoutError(f"case still running after {CASE_SECONDS} s")


def run_case(case: Case, origin: Origin) -> Outcome:
    """Run one case in a landing dir and lake of its own and classify it."""
    started = time.perf_counter()
    previous_min = ndjson_native.NATIVE_MIN_BYTES
    if case.reader == "native":
        ndjson_native.NATIVE_MIN_BYTES = 0
    previous_handler = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(CASE_SECONDS)
    try:
        with tempfile.TemporaryDirectory(prefix="fuzz-") as work:
            outcome = _run(case, origin, Path(work))
    except Exception as exc:  # noqa: BLE001 — anything uncaught is exactly what the fuzzer looks for
        outcome = Outcome("crashed", message=_head(exc))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous_handler)
        ndjson_native.NATIVE_MIN_BYTES = previous_min
    outcome.seconds = time.perf_counter() - started
    return outcome


def _head(exc: BaseException) -> str:
    """The exception, the project's own frames of its traceback (not the fuzzer's, not a library's) and its last
    frame: enough to locate it."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if f.filename.startswith(_ROOT) and "site-packages" not in f.filename
           and "/tests/fuzz/" not in f.filename]
    shown = own[-4:] + [f for f in frames[-1:] if f not in own[-4:]]
    where = "".join(f"  {f.filename}:{f.lineno} in {f.name}: {(f.line or '').strip()[:160]}\n" for f in shown)
    return (where + "".join(traceback.format_exception_only(exc)))[-1500:]


def _run(case: Case, origin: Origin, work: Path) -> Outcome:
    path = work / "landing" / case.rel
    path.parent.mkdir(parents=True)
    path.write_bytes(case.data)
    dataset, contract = RAW[case.dataset], CONTRACTS[case.dataset]
    lake = work / "lake"
    try:
        result = ingest_dataset(dataset, work / "landing", lake, DS, "fuzz-run", KEY, 0.5)
    except LandingFileError as exc:
        message = str(exc)
        if case.rel not in message:
            return Outcome("crashed", message=message, problems=[f"refusal does not name {case.rel}"])
        return Outcome("refused", message=message[:300])
    raw = scan_raw(lake, dataset, DS).collect()
    raws = {**origin.raw, case.dataset: raw}
    checked = check_batch(raw, contract, row_rules(contract, DS, same_day_references(contract, raws)))
    checked = evaluate_raw(checked, contract)
    split = checked.split
    problems = _balance_problems(case, result.rows, raw, split.clean, split.quarantined)
    for spec in STAGING_MODELS.values():
        if case.dataset in spec.inputs:
            frames = [(split.clean if n == case.dataset else origin.clean[n]).lazy() for n in spec.inputs]
            spec.build(*frames, landing_date=DS).collect()
    status = "crashed" if problems else "handled"
    return Outcome(status, raw.height, split.quarantined.height, "; ".join(problems)[:1500], problems=problems)


def _balance_problems(case: Case, ingested: int, raw: pl.DataFrame, clean: pl.DataFrame,
                      quarantined: pl.DataFrame) -> list[str]:
    """What breaks "every row published or quarantined with a reason": none when the case is handled."""
    problems = []
    if ingested != raw.height:
        problems.append(f"ingest reported {ingested} rows, the raw batch holds {raw.height}")
    if case.expected_rows is not None and case.expected_rows != raw.height:
        problems.append(f"the file holds {case.expected_rows} rows, the raw batch {raw.height}")
    if raw.height != clean.height + quarantined.height:
        problems.append(f"{raw.height} rows in but {clean.height} clean + {quarantined.height} quarantined")
    if raw["_row_number"].n_unique() != raw.height:
        problems.append("two raw rows share a line number")
    if quarantined.height:
        unexplained = quarantined.filter(pl.col("reason").is_null() | (pl.col("reason").str.strip_chars() == "")
                                         | pl.col("rule_id").is_null())
        if unexplained.height:
            problems.append(f"{unexplained.height} quarantined rows without a rule or reason")
        if (quarantined["_source_file"] != case.rel).any():
            problems.append(f"quarantined rows not naming {case.rel}")
    return problems
