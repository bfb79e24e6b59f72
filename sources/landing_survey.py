"""What lies in the landing dir that no run reads: unknown source folders, folders of a source not named by a date,
and files of the night's folders that no dataset expects (`orders (1).ndjson`). A run lists them rather than ignoring
them without a word: a sender's misnamed delivery is otherwise lost unseen."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from influence_pipeline.schemas.raw import DATASETS
from influence_pipeline.sources.ingest import landing_forms


def _entries(folder: Path) -> list[tuple[str, bool]]:
    """(name, is a directory) of each entry of `folder`, symbolic links not followed; none when it is no folder."""
    try:
        with os.scandir(folder) as scan:
            return sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in scan)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_date(name: str) -> bool:
    try:
        return date.fromisoformat(name).isoformat() == name  # 20261003 parses too, but is not a folder we read
    except ValueError:
        return False


def unexpected_landing(landing_dir: Path, ds: date) -> list[str]:
    """Paths (relative to `landing_dir`, folders ending in "/") a run for `ds` does not read and no run will: a top
    folder that is no source, a folder of a source not named YYYY-MM-DD, and anything in `<source>/<ds>/` that is
    none of the forms of the source's datasets. Other dates' folders are their own nights' business."""
    expected = {form for dataset in DATASETS for form in landing_forms(dataset, ds)}
    sources = {dataset.source for dataset in DATASETS}
    found = []
    for name, is_dir in _entries(landing_dir):
        if name not in sources or not is_dir:
            found.append(name + "/" if is_dir else name)
            continue
        for day, day_is_dir in _entries(landing_dir / name):
            if not (day_is_dir and _is_date(day)):
                found.append(f"{name}/{day}/" if day_is_dir else f"{name}/{day}")
            elif day == ds.isoformat():
                found += [f"{name}/{day}/{entry}" + ("/" if entry_is_dir else "")
                          for entry, entry_is_dir in _entries(landing_dir / name / day)
                          if f"{name}/{day}/{entry}" not in expected or entry_is_dir]
    return found
