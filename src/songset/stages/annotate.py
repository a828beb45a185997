"""Stage `annotate`: songs -> timestamped prose (RawAnnotation), one JSON per song.

Inputs per song: `AudioInputs` (content hash, duration). Compute: `annotate_song` (or `annotate_songs` for a
batching backend) with the configured annotator. Writes `<id>.json` in the raw folder.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from songset import numba_cache
from songset.annotators.base import Annotator, annotate_song, annotate_songs
from songset.config import instantiate
from songset.io import sha256_json
from songset.runner import StageResult, run_stage
from songset.schemas import RawAnnotation
from songset.songs import Song
from songset.stages.base import RunOptions, audio_jobs, json_writer, open_cache


def run_annotate(
    songs: list[Song], annotator_cfg: Any, out_dir: Path, options: RunOptions
) -> StageResult[RawAnnotation]:
    annotator: Annotator = instantiate(annotator_cfg)
    parts = annotator.identity().key_parts()
    audio = audio_jobs("annotate", songs, parts)

    def prepare() -> None:  # before the first song: a missing key fails once, not song by song
        annotator.check_ready()
        numba_cache.prepare()

    batch_size = int(getattr(annotator, "batch_size", 1))
    return run_stage(
        "annotate",
        audio.jobs,
        functools.partial(annotate_song, annotator=annotator),
        RawAnnotation,
        open_cache(options, "annotate"),
        json_writer(out_dir),
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
