"""What adding one song, and doing nothing, costs with `dvc repro` on the demo pipeline.

Targets (issue "One home for every fact"): adding one song costs that song's work plus at most 3 s; a
no-op `dvc repro` stays under 2 s. "That song's work" is the sum of the stages' per-song loop times
(`wall_time_s` in reports/stages/<stage>.json, which covers computing the new song and reading the cached
ones); everything else is overhead: DVC's own checks, Python start-up and imports, config, summaries.

    python bench/incremental.py            # the demo songs, then one more
    python bench/incremental.py --songs 3  # start from the first 3 demo songs

Runs in a temporary copy of the project (its own git and DVC cache); nothing here is touched.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a"}
PER_SONG_STAGES = ("annotate", "clean", "estimate", "sidecars")


def _run(cmd: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout}{result.stderr}")
    return time.perf_counter() - started


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
        noop = [_run(["dvc", "repro"], root) for _ in range(3)]
        shutil.copy2(extra, root / "data" / "audio" / extra.name)
        added = _run(["dvc", "repro"], root)
        work = _stage_work(root)
    song_work = sum(work.get(s, 0.0) for s in PER_SONG_STAGES)
    overhead = added - song_work
    rows = [
        ("first build", f"{len(start)} songs", f"{first:.1f} s", ""),
        ("no-op dvc repro (best of 3)", "", f"{min(noop):.2f} s", "target < 2 s"),
        ("add one song: total", extra.name, f"{added:.1f} s", ""),
        ("  that song's work (per-song loops)", "", f"{song_work:.1f} s", ""),
        ("  overhead (start-up, DVC, reports)", "", f"{overhead:.1f} s", "target <= 3 s"),
    ]
    rows += [(f"    {stage} loop", "", f"{seconds:.2f} s", "") for stage, seconds in work.items()]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'songs':<28} {'time':>9}  note")
    for name, songs, seconds, note in rows:
        print(f"{name:<{width}}  {songs:<28} {seconds:>9}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
