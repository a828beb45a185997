"""Content-addressed per-song results: the key is a hash of everything that decides the output.

Adding one song to a thousand costs one song of work, and a crash resumes where it stopped, because every
finished song is in here before the stage moves on. Entries are written atomically (write to a temporary
file, then rename), so two runs at once or a SIGKILL can never leave a half-written entry.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from songset.io import atomic_write_text, dumps_json, is_remote, sha256_json, sweep_orphan_temp_files


def cache_key(**parts: Any) -> str:
    """sha256 over the named parts (audio hash, backend, model revision, prompt hash, settings...)."""
    return sha256_json(parts)


class ResultCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # unreadable entry: recompute and overwrite

    def put(self, key: str, value: Any) -> None:
        atomic_write_text(self.path(key), dumps_json(value))

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def sweep_stale_temp_files(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary files a killed run left behind; recent ones may belong to a run still going."""
        if is_remote(self.root) or not self.root.is_dir():
            return 0  # object stores: an upload is whole or absent
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.root.glob("*/.*.tmp"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed + sweep_orphan_temp_files(self.root, "*/.*.tmp")
