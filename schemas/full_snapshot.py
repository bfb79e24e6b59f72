"""Full-snapshot deliveries that shrink are suspect.

A full-snapshot dataset (the roster exports, marked `fullSnapshot: true` in their contracts) is delivered whole every
day: each file replaces the previous one, and everything built from it — dim_account, dim_influencer, the campaign
marts — follows the latest file. A file cut short by the exporting system (empty, header only, half the roster) would
therefore not just lack rows: it would delete them from the published tables. So a delivery with 0 rows, or with fewer
than `full_snapshots.min_ratio` × the rows of the previous delivery, is refused before anything of it is written.

Pure: counts in, a verdict out. sources/ingest.py finds the previous delivery in the manifest and raises.
"""
from __future__ import annotations

from datetime import date


def shrink_refusal(dataset: str, rows: int, previous_rows: int | None, min_ratio: float, *, file: str | None = None,
                   previous_date: date | str | None = None) -> str | None:
    """Why a delivery of `rows` rows of the full-snapshot `dataset` is refused, or None when it is accepted.

    `previous_rows` are the rows of the previous delivery (None: this is the first). Refused: 0 rows, or fewer than
    `min_ratio` × `previous_rows`. `min_ratio` 0 turns the check off. `file` and `previous_date` only name things in
    the message."""
    if not 0 <= min_ratio <= 1:
        raise ValueError(f"full_snapshots.min_ratio must be between 0 and 1, not {min_ratio}")
    if min_ratio == 0:
        return None
    previous = f"the previous delivery{f' ({previous_date})' if previous_date else ''}"
    if rows == 0:
        found = "has 0 rows" + (" (no earlier delivery)" if previous_rows is None else
                                f", against {previous_rows:,} in {previous}")
    elif previous_rows is not None and rows < min_ratio * previous_rows:
        found = (f"has {rows:,} rows, {1 - rows / previous_rows:.0%} fewer than the {previous_rows:,} of {previous}: "
                 f"fewer than {min_ratio:g} × the previous rows")
    else:
        return None
    where = f"{file}: " if file else ""
    return (f"{where}{dataset} is a full snapshot (each delivery replaces the whole dataset) "
            f"and this delivery {found}. "
            "Refused before anything of it was written: the published tables stay as they are. "
            "If the file was cut short, ask for it again; if the shrink is genuine, set full_snapshots.min_ratio "
            "lower (0 turns the check off) in a copy of influence_pipeline/rules.yaml named by INFLUENCE_RULES_FILE, and run "
            "the date again.")
