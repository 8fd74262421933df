"""Atomic file writes: the one helper every writer in hea_zoo uses.

A file is written in full under a unique, unpredictable temporary name in its target's
folder (created exclusively and without following symlinks, so a link planted at any name
is never followed), flushed to disk, given the umask's normal mode (like any file the user
creates; a file being replaced keeps its mode), and only then renamed onto the target.
Readers see the old file or the new one, never a part; concurrent writers each write their
own temporary file and the last rename wins whole.

Folders (SavedModels, reports) are staged the same way with `staged_directory` and moved
into place with `replace_directory`, which keeps a complete folder at the target at every
instant (an atomic swap where the system has one; see its docstring).

Temporary names are hidden (``.name.<16 hex>.tmp...``), so servers that look for numeric
version folders (TensorFlow Serving) and globs for ``*.csv`` ignore them. A writer holds
an advisory lock (``flock``) on its temporary file for as long as it writes; the kernel
drops the lock when the process dies, however it dies (SIGKILL included). Every
`atomic_write` first removes the temporary files in its folder whose lock nobody holds
(`remove_dead_temporaries`): what a killed writer left is gone at the next write there.
`remove_stale` clears, by age, what export folders leave.

Only regular files are replaced. The target of a write is resolved first:

- a symlink is **followed** (deliberately: ``--out latest.csv`` pointing at a file updates
  that file, and ``/dev/stdout`` or ``/proc/self/fd/1`` reach the pipe or terminal behind
  them); the link itself is never replaced. A link that points nowhere is refused
  (`hea_zoo.errors.UsageError`), since following it would create a file at a place the
  user may not expect;
- a FIFO, character or block device (a pipe, a terminal, ``/dev/null``) is written
  directly, streaming, never renamed over; a failed write there (``/dev/full``: no space)
  raises `OSError` and nothing reports success;
- a regular file, or a missing one, is written atomically as above;
- anything else (a folder, a socket) is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from hea_zoo.errors import UsageError

__all__ = [
    "FolderPathError",
    "atomic_write",
    "write_text",
    "write_bytes",
    "staged_directory",
    "replace_directory",
    "exchange_paths",
    "temporary_name",
    "remove_stale",
    "remove_dead_temporaries",
    "resolve_output",
    "table_format",
    "same_file",
    "folder_lock",
    "STALE_SECONDS",
    "TABLE_SUFFIXES",
]

_TMP_MARK = ".tmp"
STALE_SECONDS = 3600.0
"""Temporary files and folders older than this are treated as left by a killed writer."""

# Persistent hidden folders behind a version link: ".v<target name>-<16 hex>".
_KEPT = re.compile(r"^\.v(?P<target>[^/]+)-[0-9a-f]{16}$")


class FolderPathError(UsageError, IsADirectoryError):
    """A folder where a file path is expected: a `UsageError` naming the parameter
    (``field``), and the `IsADirectoryError` that callers have always caught."""

    def __init__(self, message: str, field: str | None = None):
        OSError.__init__(self, errno.EISDIR, str(message))
        self.message = str(message)
        self.field = field


def temporary_name(target: Path) -> Path:
    """A fresh hidden name beside `target` that keeps its suffix (``.x.keras`` stays ``.keras``)."""
    target = Path(target)
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


def _existing_mode(path: Path) -> int | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


def resolve_output(path: str | os.PathLike, field: str = "path") -> tuple[Path, bool]:
    """Where a write to `path` lands, and whether it is streamed.

    Returns:
        ``(target, direct)``: `target` is `path` with symlinks followed; `direct` is True
        when `target` is a FIFO or a device (written in place, streaming), False when it is
        a regular file or missing (written atomically).

    Raises:
        hea_zoo.errors.UsageError: `path` is a folder, a socket or other special file, or
            a symlink that points nowhere (`field` names the parameter).
    """
    from hea_zoo.errors import UsageError

    given = Path(path)
    if os.path.islink(given):
        target = Path(os.path.realpath(given))
        if not os.path.lexists(target):
            raise UsageError(f"{given} is a symlink to {os.readlink(given)}, which does not exist; "
                             "give the file itself or create it first.", field=field)  # fmt: skip
    else:
        target = given
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):  # missing (a folder on its path may be a file:
        return target, False  # the caller's folder check names it)
    except OSError as err:
        raise UsageError(f"cannot write {given}: {err.strerror}.", field=field) from None
    if stat.S_ISREG(mode):
        return target, False
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return target, True
    if stat.S_ISDIR(mode):
        raise FolderPathError(f"{given} is a folder; expected a file path.", field=field)
    raise UsageError(f"{given} is not a regular file, a pipe or a device; refusing to write there.", field=field)


def _lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_dead_temporaries(parent: str | os.PathLike) -> list[Path]:
    """Removes the hidden temporary files in `parent` whose writer is gone.

    A live writer holds a lock on its temporary file (`atomic_write`); a file nobody holds
    a lock on was left by a writer that died (killed, crashed, power lost): every writer
    of this module locks its temporary file from the moment it creates it. Folders are
    left to `remove_stale`.

    Returns:
        The removed paths.
    """
    parent = Path(parent)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and _TMP_MARK in name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            try:
                _lock(fd)
            except OSError:
                continue  # a live writer holds it
            os.unlink(entry.path)  # dead writer: its lock went with it
            removed.append(Path(entry.path))
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], field: str = "path") -> Path:
    """Writes `path` atomically: `write(tmp)` fills a fresh temporary file, then it is renamed.

    A symlink at `path` is followed; a FIFO or device there is written directly (the
    module's docstring has the rules). Temporary files of dead writers in the folder are
    removed first.

    Args:
        path: the target file (its folder is created if missing).
        write: called with the temporary path (same folder and suffix as `path`); it must
            write the whole content there (e.g. ``frame.to_csv``, ``model.save``). For a
            FIFO or device target it is called with that target.
        field: the parameter to name in errors (the caller's: ``"out"``).

    Returns:
        The target path (symlinks followed).

    Raises:
        FolderPathError: `path` is a folder (a `UsageError` naming `field` and an
            `IsADirectoryError`).
        hea_zoo.errors.UsageError: `path` is a socket or a dangling symlink.
        Whatever `write` raises; the target is then untouched and the temporary file removed.

    Example:
        >>> atomic_write("table.csv", lambda tmp: frame.to_csv(tmp, index=False))  # doctest: +SKIP
    """
    target, direct = resolve_output(path, field)
    if direct:
        write(target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_temporaries(target.parent)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(16):
        tmp = temporary_name(target)
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any new file
        except FileExistsError:
            continue
        try:
            _lock(fd)  # held until the rename: a cleaner knows this writer is alive
            mine = os.fstat(fd)
            now = os.lstat(tmp)
            if (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino):
                break
        except OSError:
            pass
        os.close(fd)  # a cleaner took it in the instant before the lock: take another name
    else:  # pragma: no cover - 16 collisions of 64 random bits
        raise FileExistsError(f"could not create a temporary file beside {target}")
    try:
        write(tmp)
        if not stat.S_ISREG(os.stat(tmp, follow_symlinks=False).st_mode):
            raise OSError(f"temporary file {tmp} was replaced by a non-file while writing {target}")
        mode = _existing_mode(target)
        if mode is not None:
            os.chmod(tmp, mode)  # a replaced file keeps its permissions
        data_fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.fsync(data_fd)
        finally:
            os.close(data_fd)
        if os.path.lexists(target) and not os.path.isfile(target):  # became a FIFO/device/link meanwhile
            raise OSError(f"{target} is no longer a regular file; not replacing it.")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        os.close(fd)
    _fsync_dir(target.parent)
    return target


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Holds an exclusive lock on `folder` itself for the ``with`` block (no file is made).

    Writers that allocate names in a folder (the next export version) take it, so two
    processes never pick the same name. The lock is advisory (``flock`` on the folder),
    waits for the holder, and goes with its process however it ends, so a killed holder
    never blocks the next one.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet"}
"""The table formats hea_zoo writes, by file suffix (case-insensitive)."""


def table_format(path: str | os.PathLike, field: str = "path") -> str:
    """``"csv"`` or ``"parquet"`` for a table path, checked before any work.

    A FIFO or device (``/dev/stdout``) is written as CSV whatever its name.

    Raises:
        hea_zoo.errors.UsageError: another suffix, or ``.parquet`` without pyarrow.
    """
    from hea_zoo.errors import UsageError

    target = Path(path)
    with contextlib.suppress(OSError):
        mode = os.stat(target).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return "csv"
    kind = TABLE_SUFFIXES.get(target.suffix.lower())
    if kind is None:
        raise UsageError(
            f"{target}: unknown table format {target.suffix or '(no suffix)'!r}; write a .csv or a .parquet file.",
            field=field,
        )
    if kind == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UsageError(
                f"{target}: writing Parquet needs pyarrow: pip install 'hea_zoo[parquet]' (or write a .csv).",
                field=field,
            ) from None
    return kind


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same existing file (symlinks and hard links followed)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def write_text(path: str | os.PathLike, text: str) -> Path:
    """`atomic_write` of a UTF-8 text."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """`atomic_write` of bytes."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


@contextlib.contextmanager
def staged_directory(parent: str | os.PathLike, label: str) -> Iterator[Path]:
    """A fresh hidden folder in `parent` (mode from the umask), removed unless moved away.

    Fill it inside the ``with`` block and move it into place (`replace_directory`) before
    the block ends. Its name (``.<label>.<16 hex>.tmp``) is not a number, so TensorFlow
    Serving never loads it.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    staged = parent / f".{label}.{secrets.token_hex(8)}{_TMP_MARK}"
    os.mkdir(staged, 0o777)  # the umask applies
    try:
        yield staged
    finally:
        _remove_path(staged)


def _remove_path(path: Path) -> None:
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)
    except FileNotFoundError:
        pass
    except OSError:
        pass


# ----------------------------------------------------------------------- atomic swaps
_RENAME_EXCHANGE = 2  # linux/fs.h
_RENAME_SWAP = 2  # macOS stdio.h
_NOT_SUPPORTED = {errno.EINVAL, errno.ENOSYS, getattr(errno, "ENOTSUP", 95), getattr(errno, "EOPNOTSUPP", 95)}


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to load (Windows)
        return None


def exchange_paths(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swaps two existing paths in one atomic step, if the system can.

    Linux ``renameat2(RENAME_EXCHANGE)`` (ext4, xfs, btrfs, tmpfs, overlayfs, ...) or
    macOS ``renamex_np(RENAME_SWAP)`` (APFS). Both paths must be in the same file system.

    Returns:
        True if swapped; False if this system or file system has no atomic swap (nothing
        was changed then).

    Raises:
        OSError: the swap is supported but failed (a path is missing, permissions, ...).
    """
    libc = _libc()
    a_b, b_b = os.fsencode(os.fspath(a)), os.fsencode(os.fspath(b))
    if libc is None:
        return False
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        fn = libc.renameat2
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        result = fn(-100, a_b, -100, b_b, _RENAME_EXCHANGE)  # AT_FDCWD
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        fn = libc.renamex_np
        fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        result = fn(a_b, b_b, _RENAME_SWAP)
    else:
        return False
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in _NOT_SUPPORTED:
        return False
    raise OSError(err, f"cannot swap {os.fspath(a)} and {os.fspath(b)}: {os.strerror(err)}")


def _can_symlink(directory: Path) -> bool:
    probe = directory / f".link-probe.{secrets.token_hex(8)}{_TMP_MARK}"
    try:
        os.symlink(".", probe)
    except (OSError, NotImplementedError):
        return False
    with contextlib.suppress(OSError):
        probe.unlink()
    return True


def _link_target(link: Path) -> Path | None:
    """The hidden sibling folder a version link points to (None for anything else)."""
    try:
        dest = os.readlink(link)
    except OSError:
        return None
    if os.sep in dest or (os.altsep and os.altsep in dest) or not _KEPT.match(dest):
        return None
    return link.parent / dest


def replace_directory(staged: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Moves the complete folder `staged` to `target`; `target` is whole at every instant.

    - `target` missing: one rename.
    - `target` present: one atomic swap (`exchange_paths`), then the previous folder
      (now at the staged name) is removed. A reader, or a server loading `target`, sees
      the old folder or the new one, never none and never a mix.
    - No atomic swap on this file system (NFS, some FUSE mounts, Windows): the new
      folder is kept as the hidden ``.v<target name>-<16 hex>`` beside `target` and
      `target` becomes a relative symlink to it, switched atomically by renaming a new
      link over it (``os.replace``). The previous folder is left for `remove_stale` (a
      reader that has just read the old link still finds it). A `target` that is still a
      real folder is converted once with two renames (the only moment it is briefly
      absent), after which every replacement is atomic. Without symlinks either (Windows
      without the privilege), the two renames are all there is.

    A reader that is loading the old folder while it is replaced can read parts of both
    (loaders open files by path): overwrite versions that are not being loaded, and roll
    out new versions under new numbers.

    Args:
        staged: a complete folder in the same parent as `target` (from `staged_directory`).
        target: where it goes.

    Returns:
        The target path.

    Raises:
        FileExistsError: `target` appeared (another writer) after it was found missing.
    """
    staged, target = Path(staged), Path(target)
    parent = target.parent
    if not os.path.lexists(target):
        if _prefer_links(parent):
            _install_link(staged, target)
        else:
            try:
                os.rename(staged, target)
            except OSError as err:
                if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise FileExistsError(f"{target} was created by another writer meanwhile.") from None
                raise
        _fsync_dir(parent)
        return target
    if not target.is_symlink() and exchange_paths(staged, target):
        _fsync_dir(parent)
        _remove_path(staged)  # the previous folder, now at the staged name
        return target
    if target.is_symlink() or _can_symlink(parent):
        _install_link(staged, target)
        _fsync_dir(parent)
        return target
    old = parent / f".{target.name}.old.{secrets.token_hex(8)}{_TMP_MARK}"  # pragma: no cover
    os.rename(target, old)  # pragma: no cover - Windows without symlinks
    os.rename(staged, target)  # pragma: no cover
    _remove_path(old)  # pragma: no cover
    return target  # pragma: no cover


_LINK_LAYOUT: dict[str, bool] = {}


def _prefer_links(parent: Path) -> bool:
    """True when `parent` has no atomic swap but has symlinks: new folders go in as links,
    so that replacing them later is atomic too. Probed once per folder."""
    key = os.fspath(parent.resolve())
    if key not in _LINK_LAYOUT:
        a = parent / f".swap-probe.{secrets.token_hex(8)}{_TMP_MARK}"
        b = parent / f".swap-probe.{secrets.token_hex(8)}{_TMP_MARK}"
        os.mkdir(a)
        os.mkdir(b)
        try:
            swaps = exchange_paths(a, b)
        except OSError:
            swaps = False
        finally:
            _remove_path(a)
            _remove_path(b)
        _LINK_LAYOUT[key] = (not swaps) and _can_symlink(parent)
    return _LINK_LAYOUT[key]


def _install_link(staged: Path, target: Path) -> None:
    parent = target.parent
    kept = parent / f".v{target.name}-{secrets.token_hex(8)}"
    os.rename(staged, kept)
    link = parent / f".{target.name}.link.{secrets.token_hex(8)}{_TMP_MARK}"
    os.symlink(kept.name, link)  # relative: valid wherever the folder is mounted
    if os.path.lexists(target) and not target.is_symlink():
        old = parent / f".{target.name}.old.{secrets.token_hex(8)}{_TMP_MARK}"
        os.rename(target, old)  # a real folder cannot be swapped for a link in one step
        os.replace(link, target)
        _remove_path(old)
    else:
        # The previous folder stays until `remove_stale` finds it unlinked and old: a
        # reader that read the old link a moment ago still finds what it points to.
        os.replace(link, target)


# ----------------------------------------------------------------------- stale files
def remove_stale(parent: str | os.PathLike, older_than_seconds: float | None = None) -> list[Path]:
    """Removes what killed writers left in `parent`: hidden temporary files and folders,
    and hidden version folders no link points to.

    Only names this module makes (hidden, with ``.tmp``, or ``.v<name>-<16 hex>``
    without a link to them) and last modified more than `older_than_seconds` ago (default
    `STALE_SECONDS`, an hour) are removed, so a concurrent writer's files are left alone.

    Returns:
        The removed paths.
    """
    parent = Path(parent)
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    age = STALE_SECONDS if older_than_seconds is None else float(older_than_seconds)
    now = time.time()

    def old_enough(entry: Path) -> bool:
        try:
            return now - entry.lstat().st_mtime >= age
        except OSError:
            return False

    def remove(entry: Path) -> None:
        _remove_path(entry)
        if not os.path.lexists(entry):
            removed.append(entry)

    # Temporary names first: a writer killed between making its new link and renaming it
    # over the version leaves a temporary link to its new folder, which must not keep it.
    for entry in list(parent.iterdir()):
        if entry.name.startswith(".") and _TMP_MARK in entry.name and old_enough(entry):
            remove(entry)
    entries = list(parent.iterdir())
    linked = {t.name for e in entries if e.is_symlink() for t in [_link_target(e)] if t is not None}
    for entry in entries:
        if _KEPT.match(entry.name) and entry.name not in linked and not entry.is_symlink() and old_enough(entry):
            remove(entry)
    return removed
