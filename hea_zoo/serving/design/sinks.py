"""Where designs are written: CSV and Parquet sinks, block by block, and the check that
an output path can be written before any work."""

from __future__ import annotations

import os
from pathlib import Path

from hea_zoo.errors import UsageError

__all__ = ["check_output_path"]


class _CsvSink:
    def __init__(self, handle, header: list[str]):
        import csv
        import io

        self.handle = handle
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(header)
        handle.write(line.getvalue().encode())

    @staticmethod
    def prepare(block: _Block) -> bytes:
        """The block's rows (in a worker thread)."""
        return block.csv_bytes()

    def write(self, data: bytes) -> None:
        self.handle.write(data)


class _ParquetSink:
    def __init__(self, path: Path):
        self.path = path
        self.writer = None

    @staticmethod
    def prepare(block: _Block):
        """The block as an Arrow table (in a worker thread)."""
        import pyarrow as pa

        return pa.Table.from_pandas(block.frame(), preserve_index=False)

    def write(self, table) -> None:
        import pyarrow.parquet as pq

        if self.writer is None:
            self.writer = pq.ParquetWriter(str(self.path), table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _writable_folder(folder: Path) -> bool:
    """Whether a file can be created in `folder` (tried, not guessed from permission bits)."""
    import secrets

    probe = folder / f".hea_zoo-write-test-{secrets.token_hex(6)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return False
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    return True


def check_output_path(path: str | os.PathLike) -> Path:
    """Checks, before any work, that `path` can be written (`hea_zoo.files`' rules for every
    writer: a symlink is followed, a FIFO or device is written in place, only a regular
    file is replaced; .csv or .parquet).

    Raises:
        UsageError (field ``out``): the path is a folder, a socket or a dangling link, its
            folder cannot be written or made, an unknown suffix, or Parquet without pyarrow.
    """
    from hea_zoo.files import resolve_output, table_format

    target, direct = resolve_output(path, field="out")
    table_format(path, field="out")
    if direct:
        return Path(path)
    existing = target.parent
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"cannot write {target}: {existing} is not a folder.", field="out")
    if not _writable_folder(existing):
        raise UsageError(f"cannot write {target}: the folder {existing} is not writable.", field="out")
    return Path(path)


CsvSink = _CsvSink
ParquetSink = _ParquetSink
