"""Atomic file writes and content hashes: a killed stage never leaves a half-written file behind."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once, at import (setting it to read it is not thread-safe): files are created 0600 by mkstemp,
# so each one is given the mode a plain `open()` would, as DVC's checkouts are.
FILE_MODE = 0o666 & ~_read_umask()


LOCAL_PROTOCOLS = frozenset({"", "file", "local"})


def is_remote(path: Path) -> bool:
    """An fsspec URL (a `UPath` on s3://, gs://, ...), not a local or mounted path."""
    return str(getattr(path, "protocol", "") or "") not in LOCAL_PROTOCOLS


def atomic_write_bytes(path: Path, data: bytes) -> None:
    if is_remote(path):  # object stores publish an upload whole or not at all: no temp file, no rename
        path.write_bytes(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid is in the name, so a later run can tell a killed writer's leftover from a live one's
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _writer_alive(temp: Path) -> bool:
    """Whether the process that is writing `temp` (`.<name>.<pid>.<random>.tmp`) still runs here."""
    parts = temp.name.rsplit(".", 3)
    if len(parts) != 4 or not parts[1].isdigit():
        return True  # not ours, or written before pids were in the name: leave it to the age rule
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphan_temp_files(folder: Path, pattern: str = ".*.tmp") -> int:
    """Remove the temporary files of writers that were killed mid-write (their pid is gone).

    Why: outputs are written by the driver only, and a folder DVC tracks must not keep a killed run's
    leftover; a temp file whose writer still runs (a second run at once) is left alone."""
    removed = 0
    if is_remote(folder):
        return 0  # object stores have no half-written files
    for temp in folder.glob(pattern) if folder.is_dir() else ():
        if not _writer_alive(temp):
            temp.unlink(missing_ok=True)
            removed += 1
    return removed


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(data: Any) -> str:
    """One canonical JSON form, so equal content gives equal bytes (and equal DVC hashes)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", exclude_none=False)
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, dumps_json(data))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(data: Any) -> str:
    """Hash of a JSON-able value independent of key order."""
    return sha256_text(
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    )
