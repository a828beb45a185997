from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from songset.io import atomic_write_json, atomic_write_text, sha256_json


def test_a_full_disk_keeps_the_previous_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "song.json"
    atomic_write_text(target, "built before\n")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_json(target, {"half": "written"})
    assert target.read_text() == "built before\n"
    assert [p.name for p in tmp_path.iterdir()] == ["song.json"]


def test_json_hash_ignores_key_order() -> None:
    assert sha256_json({"a": 1, "b": [1, 2]}) == sha256_json({"b": [1, 2], "a": 1})
