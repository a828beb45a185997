"""What every stage shares: run options, the per-song cache, the atomic JSON writer, the audio job
builder (for the stages that read songs) and the per-stage summaries.

Why here: each stage module owns its own inputs and writing; this is the part they would otherwise copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from songset.cache import ResultCache, cache_key
from songset.io import atomic_write_json, read_json, sha256_file, sweep_orphan_temp_files
from songset.runner import (
    Executor,
    LocalExecutor,
    SongError,
    SongJob,
    StageResult,
    describe_error,
    write_summary,
)
from songset.schemas import SongFailure, StageSummary
from songset.songs import Song


@dataclass(frozen=True)
class RunOptions:
    cache_dir: Path | None  # None: no per-song cache (every song computed)
    workers: int = 1
    executor: Executor = field(default_factory=LocalExecutor)  # run.executor: where songs are computed


def open_cache(options: RunOptions, stage: str) -> ResultCache | None:
    """The stage's per-song cache, swept of a killed run's temp files; None when caching is off."""
    if options.cache_dir is None:
        return None
    cache = ResultCache(options.cache_dir / stage)
    cache.sweep_stale_temp_files()
    return cache


def json_writer(out_dir: Path) -> Callable[[SongJob[Any], Any], None]:
    """Writes each song's model as `<id>.json`, atomically, as soon as it exists."""
    sweep_orphan_temp_files(out_dir)  # a killed run's half-written leftovers never reach a DVC output

    def write(job: SongJob[Any], model: Any) -> None:
        atomic_write_json(out_dir / f"{job.id}.json", model)

    return write


@dataclass(frozen=True)
class AudioInputs:
    """What the audio stages (annotate, estimate) know of a song before computing: its content and length."""

    audio_sha256: str
    duration: float  # seconds, from the header, rounded to milliseconds


@dataclass
class AudioJobs:
    jobs: list[SongJob[AudioInputs]]
    failed: list[SongFailure]
    skipped: list[SongFailure]  # byte-identical copies: the song is built once, under its first file


def audio_jobs(stage: str, songs: Iterable[Song], key_parts: dict[str, Any]) -> AudioJobs:
    """Hash and header-check every song; unreadable, empty or out-of-range files fail here, cheaply."""
    from songset.audio import check_duration, read_info  # soundfile/numpy: only stages that read audio

    out = AudioJobs([], [], [])
    for song in songs:
        if song.duplicate_of is not None:
            reason = f"the same audio as {song.duplicate_of}; skipped (built once)"
            out.skipped.append(SongFailure(id=song.id, file=str(song.path), stage=stage, reason=reason))
            continue
        try:
            info = read_info(song.path)
            check_duration(song.path, info.duration)
            audio_sha = song.sha256 or sha256_file(song.path)
        except (SongError, OSError) as exc:
            out.failed.append(
                SongFailure(id=song.id, file=str(song.path), stage=stage, reason=describe_error(exc))
            )
            continue
        key = cache_key(stage=stage, audio_sha256=audio_sha, **key_parts)
        inputs = AudioInputs(audio_sha256=audio_sha, duration=round(info.duration, 3))
        identity = {"id": song.id, "audio_file": song.path.name}
        out.jobs.append(SongJob(id=song.id, file=song.path, key=key, inputs=inputs, identity=identity))
    return out


def finish_stage(result: StageResult[Any], reports_dir: Path) -> StageSummary:
    write_summary(result.summary, reports_dir / "stages" / f"{result.summary.stage}.json")
    return result.summary


def load_stage_summaries(stages_dir: Path) -> list[StageSummary]:
    if not stages_dir.is_dir():
        return []
    return [StageSummary.model_validate(read_json(p)) for p in sorted(stages_dir.glob("*.json"))]


def upstream_failures(stages_dir: Path) -> list[SongFailure]:
    return [failure for summary in load_stage_summaries(stages_dir) for failure in summary.failed]
