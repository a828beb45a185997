"""The `lyrics` stage: every song's lyrics, language and vocal presence (with sources) ->
data/annotations/lyrics/<song>.json (SongLyrics).

The per-song key covers every input byte that decides the output: the audio (its tags), the lyrics
file, the override's lyrics and language, the clean annotation's sections and vocal facts (not its
caption), the settings and the transcriber. Transcriptions are kept apart, keyed by audio and
transcriber only, so a song whose other inputs change is never transcribed twice.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import yaml

from songset.cache import ResultCache, cache_key
from songset.config import instantiate, settings_of
from songset.io import read_json, sha256_json
from songset.lyrics.resolve import LYRICS_VERSION, LyricsSettings, clean_facts, resolve_lyrics
from songset.runner import SongJob, StageResult, describe_error, run_stage
from songset.schemas import SongFailure, SongLyrics
from songset.songs import Song
from songset.stages.base import RunOptions, audio_jobs, json_writer, open_cache
from songset.transcribers.base import Transcriber

STAGE = "lyrics"
LYRICS_SUFFIXES = (".lrc", ".txt")  # an .lrc (timed) is read before a .txt of the same song


def transcription_key(audio_sha256: str, transcriber_parts: dict[str, Any]) -> str:
    """A transcription depends on the audio and the transcriber only."""
    return cache_key(stage="transcription", audio_sha256=audio_sha256, **transcriber_parts)


def _override_facts(text: str | None) -> Any:
    """The override's lyrics and language (its caption or bpm decide nothing here); unparsable text
    is keyed whole, and the song then fails with the file named."""
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {"unparsed": text}
    if not isinstance(data, dict):
        return {"unparsed": text}
    return {"lyrics": data.get("lyrics"), "language": data.get("language")}


def _song_inputs(song_id: str, lyrics_dir: Path, overrides_dir: Path, clean_dir: Path) -> dict[str, Any]:
    found = [lyrics_dir / f"{song_id}{suffix}" for suffix in LYRICS_SUFFIXES]
    present = [p for p in found if p.is_file()]
    override_path = next(
        (p for p in (overrides_dir / f"{song_id}.yaml", overrides_dir / f"{song_id}.yml") if p.is_file()),
        overrides_dir / f"{song_id}.yaml",
    )
    clean_path = clean_dir / f"{song_id}.json"
    return {
        "lyrics": present[0].read_bytes() if present else None,
        "lyrics_file": str(present[0] if present else found[-1]),
        "lyrics_ignored": [str(p) for p in present[1:]],
        "override": override_path.read_text(encoding="utf-8") if override_path.is_file() else None,
        "override_file": str(override_path),
        "clean": clean_facts(read_json(clean_path)) if clean_path.is_file() else None,
    }


def _compute(job: SongJob, transcriber: Transcriber, settings: LyricsSettings) -> SongLyrics:
    result = resolve_lyrics(job, transcriber, settings)
    ignored = [
        f"{path}: ignored, {job.inputs['lyrics_file']} is read first" for path in job.inputs["lyrics_ignored"]
    ]
    return result.model_copy(update={"warnings": [*ignored, *result.warnings]}) if ignored else result


def run_lyrics(
    songs: list[Song],
    transcriber_cfg: Any,
    lyrics_cfg: Any,
    lyrics_dir: Path,
    overrides_dir: Path,
    clean_dir: Path,
    out_dir: Path,
    options: RunOptions,
) -> StageResult[SongLyrics]:
    settings = LyricsSettings.model_validate(settings_of(lyrics_cfg or {}))
    transcriber: Transcriber = instantiate(transcriber_cfg)
    transcriber_parts = transcriber.identity().key_parts()
    stage_parts = {
        "transcriber": transcriber_parts,
        "settings": settings.output_settings(),
        "version": LYRICS_VERSION,
    }
    audio = audio_jobs(STAGE, songs, stage_parts)
    cache = open_cache(options, STAGE)
    memo = ResultCache(cache.root / "transcriptions") if cache is not None else None
    jobs: list[SongJob] = []
    failed: list[SongFailure] = list(audio.failed)
    for job in audio.jobs:
        try:
            extra = _song_inputs(job.id, lyrics_dir, overrides_dir, clean_dir)
        except (OSError, ValueError) as exc:
            failed.append(SongFailure(id=job.id, file=str(job.file), stage=STAGE, reason=describe_error(exc)))
            continue
        key = cache_key(
            audio_key=job.key,
            lyrics=sha256_json(extra["lyrics"].hex() if extra["lyrics"] is not None else None),
            lyrics_file=Path(extra["lyrics_file"]).suffix if extra["lyrics"] is not None else None,
            override=sha256_json(_override_facts(extra["override"])),
            clean=sha256_json(extra["clean"]),
        )
        memo_key = transcription_key(job.inputs.audio_sha256, transcriber_parts)
        extra["transcription"] = memo.get(memo_key) if memo is not None and transcriber.enabled else None
        inputs = {"audio_sha256": job.inputs.audio_sha256, **extra}
        jobs.append(dataclasses.replace(job, key=key, inputs=inputs))

    write_output = json_writer(out_dir)

    def write(job: SongJob, result: SongLyrics) -> None:
        write_output(job, result)
        if memo is not None and result.transcription is not None:
            key = transcription_key(job.inputs["audio_sha256"], transcriber_parts)
            if key not in memo:
                memo.put(key, result.transcription)

    return run_stage(
        STAGE,
        jobs,
        functools.partial(_compute, transcriber=transcriber, settings=settings),
        SongLyrics,
        cache,
        write,
        workers=options.workers if transcriber.parallel_processes else 1,
        settings_sha256=sha256_json(stage_parts),
        pre_failed=failed,
        skipped=audio.skipped,
        prepare=transcriber.check_ready if transcriber.enabled else None,
        executor=options.executor,
        resources=transcriber.resources(),
        holds_model=not transcriber.parallel_processes,
    )
