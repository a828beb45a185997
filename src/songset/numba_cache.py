"""librosa's numba kernels: one cache per user, compiled once under a lock, checked before workers fork.

librosa compiles its `@guvectorize(cache=True)` kernels when it is imported and its `@jit(cache=True)`
ones on first call (beat tracking, peak picking, ...). Without `NUMBA_CACHE_DIR` numba writes next to
librosa's own files (often read-only) or nowhere, so every process compiles again (30-50 s); two workers
compiling the same kernel at once can leave an index that points at the other's object file, after which
every process that loads it dies with SIGSEGV. So:

- `configure()` (called by `songset/__init__`, before anything imports numba) sets `NUMBA_CACHE_DIR` to
  `<user cache dir>/songset/numba` unless the user set it;
- `prepare()` (called by a stage before its workers fork) warms the cache in a child process under a file
  lock, so exactly one process compiles; a child that dies (a signal, or numba failing to load an
  entry) means a corrupt cache, which is removed and rebuilt with a message. A stamp of the checked
  files (size, mtime) skips the check next time, until one of them changes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ENV = "NUMBA_CACHE_DIR"
_STAMP = ".songset-verified"
_LOCK = ".songset.lock"


def default_cache_dir() -> Path:
    """Where the kernels live when the user has not chosen: the platform's user cache folder."""
    from platformdirs import user_cache_path

    return user_cache_path("songset", appauthor=False) / "numba"


def configure() -> Path:
    """Set `NUMBA_CACHE_DIR` (a user's own setting wins); numba reads it once, when it is first imported."""
    current = os.environ.get(ENV)
    if current:
        return Path(current)
    path = default_cache_dir()
    os.environ[ENV] = str(path)
    if "numba" in sys.modules:  # imported before songset: this process keeps numba's own default
        print(
            f"warning: numba was imported before songset; {ENV} for child processes is {path}",
            file=sys.stderr,
        )
    return path


def cache_dir() -> Path:
    return Path(os.environ.get(ENV) or configure())


def _listing(root: Path) -> dict[str, list[int]]:
    """Size and mtime of each compiled file (index .nbi, object .nbc)."""
    out: dict[str, list[int]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".nbi", ".nbc"):
            stat = path.stat()
            out[str(path.relative_to(root))] = [stat.st_size, stat.st_mtime_ns]
    return out


def _still_verified(root: Path, stamp_file: Path) -> bool:
    """Every file that was checked is still there, unchanged (kernels added since are not ours to check)."""
    try:
        checked = json.loads(stamp_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    now = _listing(root)
    return bool(checked) and all(now.get(name) == entry for name, entry in checked.items())


def _run_probe(timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "songset.numba_warm"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env={**os.environ, ENV: str(cache_dir())},
    )


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"


def _clear(root: Path) -> None:
    for child in root.iterdir():
        if child.name == _LOCK:
            continue
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def prepare(timeout_s: float = 900.0) -> None:
    """Make sure the kernel cache is complete and loadable before any worker starts; rebuild it if not.

    Raises RuntimeError (naming the cache folder) when even a fresh cache cannot be built.
    """
    from filelock import FileLock

    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / _LOCK)):
        stamp_file = root / _STAMP
        if _still_verified(root, stamp_file):
            return
        first = not any(root.rglob("*.nbi"))
        if first:
            print(f"[numba] compiling librosa's kernels once into {root} (30-50 s)", file=sys.stderr)
        done = _run_probe(timeout_s)
        if done.returncode != 0:
            tail = (done.stderr or "").strip().splitlines()[-1:] or [""]
            print(
                f"[numba] the kernel cache in {root} is corrupt ({_describe(done.returncode)}"
                f"{': ' + tail[0] if tail[0] else ''}); removing it and compiling again",
                file=sys.stderr,
            )
            _clear(root)
            done = _run_probe(timeout_s)
            if done.returncode != 0:
                raise RuntimeError(
                    f"numba kernel cache {root}: compiling librosa's kernels failed "
                    f"({_describe(done.returncode)}): {(done.stderr or '').strip()[-500:]}"
                )
        stamp_file.write_text(json.dumps(_listing(root)), encoding="utf-8")
