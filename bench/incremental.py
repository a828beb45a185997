"""What adding one song, and doing nothing, costs with `dvc repro` on the demo pipeline.

Targets (issue "One home for every fact"): adding one song costs that song's work plus at most 3 s; a
no-op `dvc repro` stays under 2 s. "That song's work" is the sum of the stages' per-song loop times
(`wall_time_s` in reports/stages/<stage>.json, which covers computing the new song and reading the cached
ones); everything else is overhead: DVC's own checks, Python start-up and imports, config, summaries.

    python bench/incremental.py            # the demo songs, then one more
    python bench/incremental.py --songs 3  # start from the first 3 demo songs

Then, with everything built, each stage's own start-up (`python stages/<stage>.py` with every song cached,
minus its loop) and DVC's alone (`dvc --version`, `dvc status`), so the overhead can be placed. Each
figure has its CPU seconds beside its wall seconds (the command and the processes it waited for): on a
shared machine the load moves wall time far more than CPU time. Load averages are printed with the table.

Runs in a temporary copy of the project (its own git and DVC cache); nothing here is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a"}
PER_SONG_STAGES = ("annotate", "clean", "estimate", "lyrics", "sidecars")
STAGES = ("annotate", "clean", "estimate", "lyrics", "sidecars", "report", "validate")


def _run(cmd: list[str], cwd: Path, *, check: bool = True) -> float:
    return _timed(cmd, cwd, check=check)[0]


def _timed(cmd: list[str], cwd: Path, *, check: bool = True) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and the processes it waited for). CPU time moves far less
    than wall time with the machine's load, so start-up costs are compared on it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout}{result.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _project(target: Path, songs: list[Path]) -> Path:
    for item in ("dvc.yaml", "params.yaml", ".dvcignore"):
        shutil.copy2(ROOT / item, target / item)
    for folder in ("conf", "stages", "src"):
        shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (target / ".dvc").mkdir()
    shutil.copy2(ROOT / ".dvc" / "config", target / ".dvc" / "config")
    for folder in ("audio", "lyrics", "overrides"):
        (target / "data" / folder).mkdir(parents=True)
    for song in songs:
        shutil.copy2(song, target / "data" / "audio" / song.name)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    return target


def _commit(root: Path) -> None:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-qm", "x"],
        cwd=root,
        check=True,
    )


def _stage_work(root: Path) -> dict[str, float]:
    out = {}
    for path in sorted((root / "reports" / "stages").glob("*.json")):
        out[path.stem] = float(json.loads(path.read_text()).get("wall_time_s", 0.0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--songs", type=int, default=None, help="demo songs to start from (default: all but one)"
    )
    args = parser.parse_args()
    demo = sorted(p for p in (ROOT / "data" / "audio").iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    start = demo[: args.songs] if args.songs else demo[:-1]
    extra = next(p for p in demo if p not in start)
    with tempfile.TemporaryDirectory(prefix="songset-incremental-") as tmp:
        root = _project(Path(tmp), start)
        _commit(root)
        first = _run(["dvc", "repro"], root)
        _commit(root)
        noop = [_timed(["dvc", "repro"], root) for _ in range(3)]
        shutil.copy2(extra, root / "data" / "audio" / extra.name)
        added, added_cpu = _timed(["dvc", "repro"], root)
        work = _stage_work(root)
        loads = os.getloadavg()
        startup: dict[str, tuple[float, float]] = {}
        for stage in STAGES:  # every song cached now: what is left is start-up, config and summaries
            wall, cpu = min(
                _timed([sys.executable, f"stages/{stage}.py"], root, check=False) for _ in range(2)
            )
            startup[stage] = (wall - _stage_work(root).get(stage, 0.0), cpu)
        python_alone = min(_timed([sys.executable, "-c", "pass"], root) for _ in range(3))
        dvc_version = min(_timed(["dvc", "--version"], root) for _ in range(3))
        dvc_status = min(_timed(["dvc", "status"], root) for _ in range(3))
    song_work = sum(work.get(s, 0.0) for s in PER_SONG_STAGES)
    overhead = added - song_work
    best_noop = min(noop)
    rows = [
        ("first build", f"{len(start)} songs", f"{first:.1f} s", "", ""),
        ("no-op dvc repro (best of 3)", "", f"{best_noop[0]:.2f} s", f"{best_noop[1]:.2f} s", "target < 2 s"),
        ("add one song: total", extra.name, f"{added:.1f} s", f"{added_cpu:.1f} s", ""),
        ("  that song's work (per-song loops)", "", f"{song_work:.1f} s", "", ""),
        ("  overhead (start-up, DVC, reports)", "", f"{overhead:.1f} s", "", "target <= 3 s"),
    ]
    rows += [(f"    {stage} loop", "", f"{seconds:.2f} s", "", "") for stage, seconds in work.items()]
    rows += [
        (f"{stage} run, all cached (wall minus loop)", "", f"{wall:.2f} s", f"{cpu:.2f} s", "")
        for stage, (wall, cpu) in startup.items()
    ]
    startup_cpu = sum(cpu for _, cpu in startup.values())
    rows += [
        (
            "overhead estimate, CPU: all-cached stages + no-op repro",
            "",
            "",
            f"{startup_cpu + best_noop[1]:.2f} s",
            "load-independent; target <= 3 s",
        ),
        ("python -c pass", "", f"{python_alone[0]:.2f} s", f"{python_alone[1]:.2f} s", ""),
        ("dvc --version (DVC's own start-up)", "", f"{dvc_version[0]:.2f} s", f"{dvc_version[1]:.2f} s", ""),
        ("dvc status (nothing changed)", "", f"{dvc_status[0]:.2f} s", f"{dvc_status[1]:.2f} s", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'songs':<28} {'wall':>9} {'cpu':>9}  note")
    for name, songs, wall_s, cpu_s, note in rows:
        print(f"{name:<{width}}  {songs:<28} {wall_s:>9} {cpu_s:>9}  {note}")
    print(f"load averages after adding the song (1, 5, 15 min): {loads[0]:.2f} {loads[1]:.2f} {loads[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
