"""Masking of the lines kept for the quarantine: a line that could not be parsed is shown to whoever reads the
quarantine, but personal data in it must not pass landing in clear."""
from __future__ import annotations

import re

from influence_pipeline.schemas.raw import RawDataset
from influence_pipeline.transforms.free_text import RULES

# The free-text rules of the published columns, so a quarantined line hides the same forms (%40, %2540, secret
# query parameters) as a parsed one; Python writes a group reference as \g<1> where Polars writes ${1}.
_RULES = tuple((re.compile(pattern), re.sub(r"\$\{(\d)\}", r"\\g<\1>", replacement)) for pattern, replacement in RULES)
# Cut-off values can only sit at the end of a truncated line.
_PARTIAL_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w.-]*$")
_PARTIAL_IP = re.compile(r"\b\d{1,3}(?:\.\d{0,3}){1,3}$")


def mask_line(line: str, dataset: RawDataset) -> str:
    """An unparseable line is kept for the quarantine, but PII in it must not pass landing in clear: the values of
    the dataset's PII keys, and anything that looks like an e-mail or an IP address, are masked. For a CSV row with
    PII columns the fields cannot be trusted to be where the header says, so only its non-PII shape is kept."""
    # Truncate first: masking regexes on a megabyte line would stall ingestion.
    printable = line[:2000].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    pii_keys = {f.json_path[-1] for f in dataset.fields if f.pii}
    if pii_keys and dataset.fmt == "csv":
        return f"<{len(printable)} characters; not kept: this file holds personal data>"
    for key in pii_keys:
        # A truncated line may end inside the value: mask to the closing quote or to the end of the line.
        printable = re.sub(rf'("{re.escape(key)}"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|$)', r'\1"<pii>"', printable)
    if pii_keys:
        printable = _PARTIAL_IP.sub("<ip>", _PARTIAL_EMAIL.sub("<email>", printable))
    for pattern, replacement in _RULES:
        printable = pattern.sub(replacement, printable)
    return printable
