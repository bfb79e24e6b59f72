"""Masking of the lines kept for the quarantine: a line that could not be parsed is shown to whoever reads the
quarantine, but personal data in it must not pass landing in clear."""
from __future__ import annotations

import re

from influence_pipeline.schemas.raw import RawDataset

_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]+(\.[\w-]+)+")
_IPV4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
_IPV6 = re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{1,4})*\b")
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
    return _IPV6.sub("<ip>", _IPV4.sub("<ip>", _EMAIL.sub("<email>", printable)))
