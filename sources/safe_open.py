"""Opening landing files so that what is read is what was checked: a regular file inside the landing dir, reached
through no symbolic link, with no second name (hard link) unless INFLUENCE_LANDING_HARD_LINKS allows them.

sources/ingest.refuse_unsafe checks the path before anything is opened, but a link can be swapped in between that
check and the open. Here each component below the landing dir is opened with O_NOFOLLOW relative to its parent's
descriptor (openat), so a link swapped in at any level fails the open itself, and the opened descriptor is checked
(fstat): a regular file, one name, and the same device and inode the path had when it was checked.

Hard links are refused by default: a hard link is indistinguishable from the file it shares an inode with, so a
link made inside landing to a file outside it (another user's export, /etc/shadow on a shared disk) would be read
as a landing file. A delivery tool that hard-links its files in (rsync --link-dest, `cp -l`) needs the setting.
"""
from __future__ import annotations

import errno
import gzip
import os
import stat
from pathlib import Path
from typing import BinaryIO

from influence_pipeline.sources.lines import LandingFileError

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the check must not make the open wait for a writer forever.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC


def hard_links_allowed() -> bool:
    """INFLUENCE_LANDING_HARD_LINKS (default false): whether a landing file may have more than one name."""
    from influence_pipeline.settings import Settings

    return Settings().landing_hard_links


def hard_link_refusal(found: os.stat_result) -> str | None:
    """Why a regular file with these stat fields must not be read as a landing file (it has other names), or None."""
    if found.st_nlink <= 1 or hard_links_allowed():
        return None
    return (f"has {found.st_nlink} names (hard links); a hard link can make a file outside the landing dir read as a "
            "landing file, so landing files are read only when they have one name (copy the file in instead, or "
            "set INFLUENCE_LANDING_HARD_LINKS=true if your delivery hard-links its files)")


def _walk(path: Path, rel: str) -> tuple[Path, tuple[str, ...]]:
    """The directory `rel` is relative to and the components below it; when `rel` does not name `path` (a caller
    reading a file outside a landing dir), only the file's own name is guarded."""
    parts = Path(rel).parts
    if parts and ".." not in parts and not Path(rel).is_absolute() and path.parts[-len(parts):] == parts:
        return path.parents[len(parts) - 1], parts
    return path.parent, (path.name,)


def _refused(rel: str, problem: str) -> LandingFileError:
    return LandingFileError(f"{rel}: {problem}; it was not read")


def open_landing(path: Path, rel: str | None = None) -> BinaryIO:
    """The landing file at `path` (`rel` below the landing dir, which names it in errors) opened for binary reading,
    as it lies on disk. Raises LandingFileError naming `rel` when a component below the landing dir is a symbolic
    link, or what was opened is no regular file, has other names (hard links), or is not the file the path showed
    just before (replaced while being opened); other OSErrors (a missing file) pass unchanged."""
    rel = rel or str(path)
    root, parts = _walk(path, rel)
    checked = os.lstat(path)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)  # the landing dir itself may be a link (a mount)
    try:
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            try:
                inner = os.open(part, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                where = "is" if last else f"lies under {Path(*parts[:depth + 1])}, which is"
                raise _refused(rel, f"{where} a symbolic link (swapped in after its check); landing files are read "
                                    "only as regular files inside the landing dir") from None
            os.close(fd)
            fd = inner
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise _refused(rel, "not a regular file (a directory, device or pipe)")
        if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino):
            raise _refused(rel, "was replaced by another file while being opened; run again once it is delivered")
        if refusal := hard_link_refusal(opened):
            raise _refused(rel, refusal)
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
        fd = -1  # the handle owns it now
        return handle
    finally:
        if fd >= 0:
            os.close(fd)


class _OwningGzip(gzip.GzipFile):
    """A GzipFile that closes the file it decompresses (GzipFile leaves a passed-in file object open)."""

    def close(self) -> None:
        raw = self.fileobj
        try:
            super().close()
        finally:
            if raw is not None:
                raw.close()


def open_landing_stream(path: Path, rel: str | None = None) -> BinaryIO:
    """As open_landing, decompressed when the name ends in .gz."""
    handle = open_landing(path, rel)
    return _OwningGzip(fileobj=handle, mode="rb") if path.suffix == ".gz" else handle
