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


def test_a_killed_writers_temp_file_is_swept_and_a_live_writers_is_kept(tmp_path: Path) -> None:
    """README "atomic writes and resume": a run killed mid-write leaves `.<name>.<pid>.<random>.tmp`; the
    next run removes it before writing into the folder (a DVC output must not keep it), while a temp file
    of a writer still running (a second run at once) is left alone."""
    import subprocess
    import sys

    from songset.io import sweep_orphan_temp_files

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f".song.json.{dead_pid}.abc123.tmp"
    live = tmp_path / f".other.json.{os.getpid()}.def456.tmp"
    foreign = tmp_path / ".notes.txt.tmp"  # not written by songset: left to the age rule
    for path in (orphan, live, foreign):
        path.write_text("{half")
    assert sweep_orphan_temp_files(tmp_path) == 1
    assert not orphan.exists() and live.exists() and foreign.exists()


def test_atomic_writes_name_their_temp_file_after_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write_text(tmp_path / "song.json", "{}")
    assert seen and seen[0].startswith(f".song.json.{os.getpid()}.") and seen[0].endswith(".tmp")
