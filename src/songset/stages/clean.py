"""Stage `clean`: raw annotations -> CleanAnnotation (caption, tags, sections, events), one JSON per song.

Inputs per song: `CleanInputs` (the parsed raw annotation and the hash of its file). Compute: `clean_song`
with the configured cleaner. Writes `<id>.json` in the clean folder; a paid cleaner's token use is summed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from songset.cache import cache_key
from songset.cleaners.base import Cleaner, clean_song
from songset.config import instantiate
from songset.io import read_json, sha256_file, sha256_json
from songset.runner import SongJob, StageResult, describe_error, run_stage
from songset.schemas import CleanAnnotation, RawAnnotation, SongFailure
from songset.stages.base import RunOptions, json_writer, open_cache


@dataclass(frozen=True)
class CleanInputs:
    raw: RawAnnotation
    raw_sha256: str  # of the raw file as written: the cache key and the provenance's input hash


def clean_jobs(
    raw_files: list[Path], key_parts: dict[str, Any]
) -> tuple[list[SongJob[CleanInputs]], list[SongFailure]]:
    """One job per readable raw annotation; a file that is not one fails here, naming the file."""
    jobs: list[SongJob[CleanInputs]] = []
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
        key = cache_key(stage="clean", raw_sha256=raw_sha, **key_parts)
        inputs = CleanInputs(raw=raw, raw_sha256=raw_sha)
        jobs.append(SongJob(id=raw.id, file=path, key=key, inputs=inputs, identity={"id": raw.id}))
    return jobs, failed


def run_clean(
    raw_files: list[Path], cleaner_cfg: Any, out_dir: Path, options: RunOptions
) -> StageResult[CleanAnnotation]:
    cleaner: Cleaner = instantiate(cleaner_cfg)
    parts = cleaner.identity().key_parts()
    jobs, failed = clean_jobs(raw_files, parts)
    result = run_stage(
        "clean",
        jobs,
        functools.partial(clean_song, cleaner=cleaner),
        CleanAnnotation,
        open_cache(options, "clean"),
        json_writer(out_dir),
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
