"""Benchmark: the estimate stage on 1 and 2 worker processes, local executor against Ray, and Ray's
scheduling overhead per song; projects the cost of 10,000 and 1,000,000 songs from those figures.

    python bench/scale.py [--songs 12] [--seconds 30] [--overhead-songs 300] [--song-minutes 3.5]

Songs are synthetic (bench/synth.py), so nothing outside the repository is needed. Ray runs a private
local instance (`address=local`) with as many CPUs as worker processes. Each configuration runs the
stage twice without a cache: `cold` includes starting the workers (Ray: new worker processes import
songset; local: the fork pool), `warm` reuses them (Ray only; the local pool forks each stage anyway).
Overhead = wall time per song of a do-nothing per-song function through the same executor path.
The machine is shared: the load average is printed with the table. A script that prints a table, not a test.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.expanduser("~/.cache/songset/numba"))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private instance: no token written to ~/.ray

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import soundfile as sf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import SR, synthetic_songs  # noqa: E402

from songset.config import compose  # noqa: E402
from songset.runner import Executor, LocalExecutor, SongJob, StageWork  # noqa: E402
from songset.songs import discover_songs  # noqa: E402
from songset.stages.base import RunOptions  # noqa: E402
from songset.stages.estimate import run_estimate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    executor: str
    workers: int
    run: str
    wall_s: float
    songs: int
    audio_min: float

    @property
    def songs_per_min(self) -> float:
        return 60.0 * self.songs / self.wall_s

    @property
    def s_per_audio_min_per_worker(self) -> float:
        return self.wall_s * self.workers / self.audio_min


def _noop(job: SongJob) -> str:
    return job.id


def time_estimate(audio: Path, executor: Executor, workers: int) -> float:
    cfg = compose(config_dir=ROOT / "conf")
    songs = discover_songs(audio)
    out = audio.parent / "metadata"
    started = time.perf_counter()
    result = run_estimate(songs, cfg.estimator, out, RunOptions(None, workers, executor=executor))
    wall = time.perf_counter() - started
    assert not result.summary.failed, result.summary.failed
    return wall


def ray_overhead_s(executor: Executor, songs: int) -> float:
    """Seconds of wall time per song that the Ray path adds around a per-song function doing nothing."""
    jobs = [SongJob(id=f"s{i}", file=Path(f"s{i}.wav"), key=str(i), inputs=None) for i in range(songs)]
    work: StageWork[str] = StageWork(stage="noop", compute=_noop)
    settled: list[str] = []
    executor.execute(jobs[:20], work, lambda job, result, error: settled.append(result))  # warm workers
    started = time.perf_counter()
    executor.execute(jobs, work, lambda job, result, error: settled.append(result))
    wall = time.perf_counter() - started
    assert len(settled) == songs + 20
    return wall / songs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--songs", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--overhead-songs", type=int, default=300)
    parser.add_argument("--song-minutes", type=float, default=3.5, help="song length for the projection")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="songset-scale-") as tmp:
        return measure(Path(tmp), args)


def measure(tmp: Path, args: argparse.Namespace) -> int:
    import ray

    from songset.ray_executor import RayExecutor

    audio = tmp / "audio"
    audio.mkdir()
    for song in synthetic_songs(args.songs, seconds=args.seconds):
        sf.write(str(audio / f"{song.name}.wav"), song.samples, SR)
    audio_min = args.songs * args.seconds / 60.0
    print(f"load before: {os.getloadavg()}  cpus: {os.cpu_count()}", flush=True)

    rows: list[Row] = []
    overhead: dict[int, float] = {}
    warm_up = tmp / "warm-up" / "audio"
    warm_up.mkdir(parents=True)
    (warm_up / "one.wav").symlink_to(next(audio.glob("*.wav")))
    time_estimate(warm_up, LocalExecutor(), 1)  # numba JIT / cache load in this process, untimed
    for workers in (1, 2):
        for run in ("1st", "2nd"):  # the fork pool inherits this warmed process: both runs are warm
            wall = time_estimate(audio, LocalExecutor(), workers)
            rows.append(Row("local", workers, run, wall, args.songs, audio_min))
        ray.init(
            address="local",
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            _temp_dir=str(tmp / "ray"),  # the session goes with the temporary folder, not to /tmp/ray
        )
        executor = RayExecutor(address="local")
        for run in ("cold", "warm", "warm"):
            wall = time_estimate(audio, executor, workers)
            rows.append(Row("ray", workers, run, wall, args.songs, audio_min))
        overhead[workers] = ray_overhead_s(executor, args.overhead_songs)
        ray.shutdown()
        print(f"done: {workers} worker(s)", flush=True)
    print(f"load after: {os.getloadavg()}")

    print(
        f"\nestimate stage, {args.songs} synthetic songs x {args.seconds:g} s ({audio_min:.1f} audio-min)\n"
    )
    print("| executor | workers | run | wall s | songs/min | s per audio-min per worker |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.executor} | {r.workers} | {r.run} | {r.wall_s:.1f} | {r.songs_per_min:.1f} "
            f"| {r.s_per_audio_min_per_worker:.2f} |"
        )
    print("\nRay scheduling overhead per song (no-op function, warm workers):")
    for workers, seconds in overhead.items():
        print(f"  {workers} worker(s): {seconds * 1000:.1f} ms wall per song")

    sched_s = max(overhead.values())
    print(f"\nprojection at {args.song_minutes:g} min per song (best 1-worker run of each executor):")
    for name in ("local", "ray"):
        best = min(
            (r for r in rows if r.executor == name and r.workers == 1 and r.run != "cold"),
            key=lambda r: r.s_per_audio_min_per_worker,
        )
        per_song_core_s = best.s_per_audio_min_per_worker * args.song_minutes
        for n in (10_000, 1_000_000):
            core_h = n * per_song_core_s / 3600
            extra = (
                f"; Ray scheduling floor {n * sched_s / 3600:.2f} h of driver time" if name == "ray" else ""
            )
            print(
                f"  {name:5} {n:>9,} songs: {best.s_per_audio_min_per_worker:.2f} core-s/audio-min -> "
                f"{core_h:,.0f} core-hours ({core_h / 64:,.1f} h on 64 cores){extra}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
