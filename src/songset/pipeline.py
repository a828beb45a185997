"""Stage orchestration shared by the DVC entry points in stages/ and the `songset` command line.

Each `run_*` builds the per-song jobs (inputs + content-addressed cache key), hands them to the shared
runner with the one pure per-song function, and writes outputs atomically. Nothing here branches on
which backend is configured: backends come from `instantiate(cfg)`.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from songset import numba_cache
from songset.acestep import sung_lyrics
from songset.annotators.base import Annotator, annotate_song, annotate_songs
from songset.audio import check_duration, read_info
from songset.cache import ResultCache, cache_key
from songset.cleaners.base import Cleaner, clean_song
from songset.config import instantiate, settings_of
from songset.estimators.base import Estimator, estimate_song
from songset.io import (
    atomic_write_json,
    atomic_write_text,
    read_json,
    sha256_file,
    sha256_json,
    sweep_orphan_temp_files,
)
from songset.runner import (
    Executor,
    LocalExecutor,
    SongError,
    SongJob,
    StageResult,
    describe_error,
    run_stage,
    write_summary,
)
from songset.schemas import (
    CleanAnnotation,
    DatasetManifest,
    ManifestEntry,
    RawAnnotation,
    Sidecar,
    SongFailure,
    SongMetadata,
    StageSummary,
)
from songset.sidecars import SIDECAR_VERSION, SidecarSettings, build_sidecar, sidecar_json
from songset.songs import Song
from songset.validate import MANIFEST_NAME


@dataclass(frozen=True)
class RunOptions:
    cache_dir: Path | None  # None: no per-song cache (every song computed)
    workers: int = 1
    executor: Executor = field(default_factory=LocalExecutor)  # run.executor: where songs are computed


def check_config(cfg: Any) -> None:
    """Every group of a composed config, checked as the stages will read it; one ValueError naming the key."""
    from songset.config import check_settings
    from songset.report import ReportSettings

    for group in ("annotator", "cleaner", "estimator"):
        if cfg.get(group) is not None:
            check_settings(cfg[group])
    for group, model in (("sidecar", SidecarSettings), ("report", ReportSettings)):
        try:
            model.model_validate(settings_of(cfg.get(group) or {}))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"{group}.{key}: {err['msg']}") from None


def _cache(options: RunOptions, stage: str) -> ResultCache | None:
    if options.cache_dir is None:
        return None
    cache = ResultCache(options.cache_dir / stage)
    cache.sweep_stale_temp_files()
    return cache


def _write_model(out_dir: Path) -> Callable[[SongJob, Any], None]:
    sweep_orphan_temp_files(out_dir)  # a killed run's half-written leftovers never reach a DVC output

    def write(job: SongJob, model: Any) -> None:
        atomic_write_json(out_dir / f"{job.id}.json", model)

    return write


@dataclass
class AudioJobs:
    jobs: list[SongJob]
    failed: list[SongFailure]
    skipped: list[SongFailure]  # byte-identical copies: the song is built once, under its first file


def _audio_jobs(stage: str, songs: Iterable[Song], key_parts: dict[str, Any]) -> AudioJobs:
    """Hash and header-check every song; unreadable, empty or out-of-range files fail here, cheaply."""
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
        inputs = {"audio_sha256": audio_sha, "duration": round(info.duration, 3)}
        identity = {"id": song.id, "audio_file": song.path.name}
        out.jobs.append(SongJob(id=song.id, file=song.path, key=key, inputs=inputs, identity=identity))
    return out


def run_annotate(
    songs: list[Song], annotator_cfg: Any, out_dir: Path, options: RunOptions
) -> StageResult[Any]:
    annotator: Annotator = instantiate(annotator_cfg)
    parts = annotator.identity().key_parts()
    audio = _audio_jobs("annotate", songs, parts)

    def prepare() -> None:  # before the first song: a missing key fails once, not song by song
        annotator.check_ready()
        numba_cache.prepare()

    batch_size = int(getattr(annotator, "batch_size", 1))
    return run_stage(
        "annotate",
        audio.jobs,
        functools.partial(annotate_song, annotator=annotator),
        RawAnnotation,
        _cache(options, "annotate"),
        _write_model(out_dir),
        workers=options.workers if annotator.parallel_processes else 1,
        settings_sha256=sha256_json(parts),
        pre_failed=audio.failed,
        skipped=audio.skipped,
        prepare=prepare,
        compute_batch=functools.partial(annotate_songs, annotator=annotator) if batch_size > 1 else None,
        batch_size=batch_size,
        executor=options.executor,
        resources=annotator.resources(),
        holds_model=not annotator.parallel_processes,
    )


def run_estimate(
    songs: list[Song], estimator_cfg: Any, out_dir: Path, options: RunOptions
) -> StageResult[Any]:
    estimator: Estimator = instantiate(estimator_cfg)
    parts = estimator.identity().key_parts()
    audio = _audio_jobs("estimate", songs, parts)
    return run_stage(
        "estimate",
        audio.jobs,
        functools.partial(estimate_song, estimator=estimator),
        SongMetadata,
        _cache(options, "estimate"),
        _write_model(out_dir),
        workers=options.workers,
        settings_sha256=sha256_json(parts),
        pre_failed=audio.failed,
        skipped=audio.skipped,
        prepare=numba_cache.prepare,
        executor=options.executor,
    )


def run_clean(
    raw_files: list[Path], cleaner_cfg: Any, out_dir: Path, options: RunOptions
) -> StageResult[Any]:
    cleaner: Cleaner = instantiate(cleaner_cfg)
    parts = cleaner.identity().key_parts()
    jobs: list[SongJob] = []
    failed: list[SongFailure] = []
    for path in raw_files:
        try:
            raw = RawAnnotation.model_validate(read_json(path))
        except Exception as exc:
            failed.append(
                SongFailure(id=path.stem, file=str(path), stage="clean", reason=describe_error(exc))
            )
            continue
        raw_sha = sha256_file(path)
        key = cache_key(stage="clean", raw_sha256=raw_sha, **parts)
        inputs = {"raw": raw.model_dump(mode="json"), "raw_sha256": raw_sha}
        jobs.append(SongJob(id=raw.id, file=path, key=key, inputs=inputs, identity={"id": raw.id}))
    result = run_stage(
        "clean",
        jobs,
        functools.partial(clean_song, cleaner=cleaner),
        CleanAnnotation,
        _cache(options, "clean"),
        _write_model(out_dir),
        workers=options.workers,
        settings_sha256=sha256_json(parts),
        pre_failed=failed,
        executor=options.executor,
        prepare=cleaner.check_ready,
    )
    result.summary.usage = usage_totals(result.outputs, result.summary.computed)
    return result


def usage_totals(outputs: dict[str, CleanAnnotation], computed: list[str]) -> dict[str, float]:
    """Tokens and estimated cost of a paid cleaner: what this run spent, and what the dataset cost."""
    totals: dict[str, float] = {}
    for song_id, clean in outputs.items():
        usage = clean.provenance["clean"].extra.get("usage") or {}
        for name, value in usage.items():
            for scope in ("dataset", "run") if song_id in computed else ("dataset",):
                totals[f"{scope}_{name}"] = round(totals.get(f"{scope}_{name}", 0.0) + float(value), 6)
    return totals


def _read_optional(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def load_attributions(audio_dir: Path) -> dict[str, str]:
    """`attribution.yaml` beside the audio: file name -> credit line, carried into each sidecar."""
    path = audio_dir / "attribution.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of audio file name -> credit")
    return {str(k): str(v).strip() for k, v in data.items()}


def run_sidecars(
    clean_dir: Path,
    metadata_dir: Path,
    song_lyrics_dir: Path,
    overrides_dir: Path,
    sidecar_cfg: Any,
    out_dir: Path,
    options: RunOptions,
    *,
    attributions: dict[str, str] | None = None,
    lineage: dict[str, Any] | None = None,
) -> StageResult[Any]:
    """Build every sidecar; `lineage` (git revision, dirty flag, params hash) is stamped at write time.

    The stamp is applied when writing, not when computing, so a sidecar taken from the per-song cache
    still names the commit and params that wrote this dataset version. Lyrics, language and declared
    values come from the lyrics stage's output (`song_lyrics_dir`, data/annotations/lyrics).
    """
    settings = SidecarSettings.model_validate(settings_of(sidecar_cfg))
    attributions = attributions or {}
    sweep_orphan_temp_files(out_dir)
    clean_ids = {p.stem for p in clean_dir.glob("*.json")} if clean_dir.is_dir() else set()
    meta_ids = {p.stem for p in metadata_dir.glob("*.json")} if metadata_dir.is_dir() else set()
    jobs: list[SongJob] = []
    failed: list[SongFailure] = []
    for song_id in sorted(clean_ids & meta_ids):  # songs missing upstream already failed there
        clean_path, meta_path = clean_dir / f"{song_id}.json", metadata_dir / f"{song_id}.json"
        lyrics_path = song_lyrics_dir / f"{song_id}.json"
        override_path = next(
            (p for p in (overrides_dir / f"{song_id}.yaml", overrides_dir / f"{song_id}.yml") if p.is_file()),
            overrides_dir / f"{song_id}.yaml",
        )
        try:
            clean = read_json(clean_path)
            metadata = read_json(meta_path)
            song_lyrics = read_json(lyrics_path) if lyrics_path.is_file() else None
            override_bytes = _read_optional(override_path)
            override = override_bytes.decode("utf-8") if override_bytes is not None else None
        except (OSError, ValueError) as exc:
            failed.append(
                SongFailure(id=song_id, file=str(clean_path), stage="sidecars", reason=describe_error(exc))
            )
            continue
        attribution = attributions.get(str(metadata.get("audio_file")))
        key = cache_key(
            stage="sidecars",
            clean=sha256_file(clean_path),
            metadata=sha256_file(meta_path),
            song_lyrics=sha256_file(lyrics_path) if song_lyrics is not None else None,
            override=sha256_json(override),
            attribution=attribution,
            settings=settings.model_dump(),
            version=SIDECAR_VERSION,
        )
        inputs = {
            "clean": clean,
            "metadata": metadata,
            "song_lyrics": song_lyrics,
            "override": override,
            "override_file": str(override_path),
            "attribution": attribution,
        }
        jobs.append(SongJob(id=song_id, file=clean_path, key=key, inputs=inputs))

    def write(job: SongJob, sidecar: Sidecar) -> None:
        if lineage and "sidecar" in sidecar.source.provenance:
            provenance = dict(sidecar.source.provenance)
            provenance["sidecar"] = provenance["sidecar"].model_copy(update=lineage)
            source = sidecar.source.model_copy(update={"provenance": provenance})
            sidecar = sidecar.model_copy(update={"source": source})
        atomic_write_json(out_dir / f"{job.id}.json", sidecar_json(sidecar))
        lyrics_path = out_dir / f"{job.id}.lyrics.txt"
        if sung_lyrics(sidecar):
            atomic_write_text(lyrics_path, sidecar.lyrics.rstrip("\n") + "\n")
        else:
            lyrics_path.unlink(missing_ok=True)

    result = run_stage(
        "sidecars",
        jobs,
        functools.partial(build_sidecar, settings=settings),
        Sidecar,
        _cache(options, "sidecars"),
        write,
        workers=1,  # assembling JSON is cheaper than starting processes
        settings_sha256=sha256_json(settings.model_dump()),
        pre_failed=failed,
        executor=options.executor,
    )
    write_manifest(out_dir, result.outputs, lineage=lineage)
    return result


def write_manifest(
    out_dir: Path,
    sidecars: dict[str, Sidecar],
    *,
    lineage: dict[str, Any] | None = None,
) -> DatasetManifest:
    entries = [
        ManifestEntry(
            id=song_id,
            audio=sidecar.source.audio_file,
            sidecar=f"{song_id}.json",
            lyrics=f"{song_id}.lyrics.txt" if sung_lyrics(sidecar) else None,
            duration=sidecar.duration,
            caption_tokens=sidecar.source.caption_tokens,
            flags=sidecar.source.flags,
        )
        for song_id, sidecar in sorted(sidecars.items())
    ]
    lineage = lineage or {}
    manifest = DatasetManifest(
        songs=len(entries),
        params_sha256=lineage.get("params_sha256") or "",
        git_revision=lineage.get("git_revision"),
        git_dirty=lineage.get("git_dirty"),
        entries=entries,
    )
    atomic_write_json(out_dir / MANIFEST_NAME, manifest)
    return manifest


def load_stage_summaries(stages_dir: Path) -> list[StageSummary]:
    if not stages_dir.is_dir():
        return []
    return [StageSummary.model_validate(read_json(p)) for p in sorted(stages_dir.glob("*.json"))]


def upstream_failures(stages_dir: Path) -> list[SongFailure]:
    return [failure for summary in load_stage_summaries(stages_dir) for failure in summary.failed]


def finish_stage(result: StageResult[Any], reports_dir: Path) -> StageSummary:
    write_summary(result.summary, reports_dir / "stages" / f"{result.summary.stage}.json")
    return result.summary


def write_quality_report(
    raw_dir: Path,
    out_dir: Path,
    report_cfg: Any,
    *,
    sidecar_dir: Path | None = None,
    metadata_dir: Path | None = None,
    stages_dir: Path | None = None,
    allow_partial: bool = False,
    compare_dir: Path | None = None,
) -> Any:
    """quality.json (metrics), quality.md and quality.html (for people) and plots/ (DVC plots data).

    Annotations are searched recursively; with several stacks (provenance groups) the headline pools
    them (keys `group/id`) and `by_stack` measures each stack on its own outputs. `compare_dir`, another
    raw-annotation folder (another experiment), adds a side-by-side section to the HTML.
    """
    from songset import report as quality
    from songset.report_html import render_html

    settings = quality.ReportSettings.model_validate(settings_of(report_cfg))
    for folder in (raw_dir, compare_dir):
        if folder is not None and not folder.is_dir():
            raise FileNotFoundError(errno.ENOENT, "annotation folder not found", str(folder))
    records = quality.load_annotations(raw_dir)
    texts = quality.corpus_texts(records)
    durations = quality.load_durations(metadata_dir) if metadata_dir and metadata_dir.is_dir() else {}
    durations = {
        key: durations[sid] for key in texts if (sid := quality.song_of_key(key, records)) in durations
    }
    summaries = [s.model_dump() for s in load_stage_summaries(stages_dir)] if stages_dir else []
    report = quality.build_report(
        texts,
        settings=settings,
        sidecars=quality.load_sidecars(sidecar_dir) if sidecar_dir and sidecar_dir.is_dir() else None,
        stage_summaries=summaries,
        durations=durations or None,
        allow_partial=allow_partial,
        by_stack=quality.stack_summaries(records, settings),
    )
    if not report.by_stack and records:
        report.by_stack = {records[0].group: quality.summarise(report)}
    comparison = None
    if compare_dir is not None:
        other_records = quality.load_annotations(compare_dir)
        if not other_records:  # else every metric would fall to 0 and look like an improvement
            raise ValueError(f"{compare_dir}: no raw annotations to compare with")
        other = quality.corpus_texts(other_records)
        comparison = quality.compare_reports(
            report,
            texts,
            quality.build_report(other, settings=settings),
            other,
            label_a=str(raw_dir),
            label_b=str(compare_dir),
        )
    atomic_write_json(out_dir / "quality.json", report)
    atomic_write_text(out_dir / "quality.md", quality.render_markdown(report))
    atomic_write_text(out_dir / "quality.html", render_html(report, texts, comparison=comparison))
    for name, rows in quality.plots_data(report).items():
        atomic_write_json(out_dir / "plots" / f"{name}.json", rows)
    print(
        f"[report] {report.songs} songs, {report.failed_songs} failed songs, template reuse {report.template_reuse:.2f}, "
        f"within-output repetition {report.within_repetition:.2f} -> {out_dir / 'quality.html'}"
    )
    return report
