"""What a writer of hea_zoo.files may leave behind."""

from __future__ import annotations

from pathlib import Path


def leftovers(folder: Path) -> list[str]:
    """The temporary files and folders under `folder` (none once every writer is done)."""
    return sorted(p.name for p in Path(folder).rglob(".*") if ".tmp" in p.name)
