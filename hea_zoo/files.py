"""Atomic file writes: the one helper every writer in hea_zoo uses.

A file is written in full under a unique, unpredictable temporary name in its target's
folder (created exclusively, so a planted symlink is never followed), flushed to disk, given
the umask's normal mode (like any file the user creates), and only then renamed onto the
target. Readers see the old file or the new one, never a part; concurrent writers each
write their own temporary file and the last rename wins whole. Folders (SavedModels,
reports) are staged the same way with `staged_directory`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["atomic_write", "write_text", "write_bytes", "staged_directory", "temporary_name", "remove_stale"]

_TMP_MARK = ".tmp"


def temporary_name(target: Path) -> Path:
    """A fresh hidden name beside `target` that keeps its suffix (``.x.keras`` stays ``.keras``)."""
    return target.with_name(f".{target.stem}.{secrets.token_hex(8)}{_TMP_MARK}{target.suffix}")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Writes `path` atomically: `write(tmp)` fills a fresh temporary file, then it is renamed.

    Args:
        path: the target file (its folder is created if missing).
        write: called with the temporary path (same folder and suffix as `path`); it must
            write the whole content there (e.g. ``frame.to_csv``, ``model.save``).

    Returns:
        The target path.

    Raises:
        Whatever `write` raises; the target is then untouched and the temporary file removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(16):
        tmp = temporary_name(target)
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any new file
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 16 collisions of 64 random bits
        raise FileExistsError(f"could not create a temporary file beside {target}")
    os.close(fd)
    try:
        write(tmp)
        if tmp.is_symlink() or not tmp.is_file():
            raise OSError(f"temporary file {tmp} was replaced while writing {target}")
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)
    return target


def write_text(path: str | os.PathLike, text: str) -> Path:
    """`atomic_write` of a UTF-8 text."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """`atomic_write` of bytes."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


@contextlib.contextmanager
def staged_directory(parent: str | os.PathLike, label: str) -> Iterator[Path]:
    """A fresh hidden folder in `parent` (mode from the umask), removed unless moved away.

    Fill it inside the ``with`` block and rename it into place before the block ends.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    staged = parent / f".{label}.{secrets.token_hex(8)}{_TMP_MARK}"
    os.mkdir(staged, 0o777)  # the umask applies
    try:
        yield staged
    finally:
        if staged.exists() and not staged.is_symlink():
            shutil.rmtree(staged, ignore_errors=True)


def remove_stale(parent: str | os.PathLike, older_than_seconds: float = 3600.0) -> list[Path]:
    """Removes hidden temporary files and folders left in `parent` by killed writers.

    Only names this module makes (hidden, with ``.tmp``) and older than
    `older_than_seconds` are removed, so a concurrent writer's files are left alone.
    """
    import time

    parent = Path(parent)
    removed = []
    if not parent.is_dir():
        return removed
    now = time.time()
    for entry in parent.iterdir():
        if not (entry.name.startswith(".") and _TMP_MARK in entry.name):
            continue
        try:
            if now - entry.lstat().st_mtime < older_than_seconds:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
        except OSError:
            continue
    return removed
