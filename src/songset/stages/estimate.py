"""Stage `estimate`: songs -> duration, bpm, key, meter with confidences (SongMetadata), one JSON per song.

Inputs per song: `AudioInputs` (content hash, duration). Compute: `estimate_song` with the configured
estimator. Writes `<id>.json` in the metadata folder.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from songset import numba_cache
from songset.config import instantiate
from songset.estimators.base import Estimator, estimate_song
from songset.io import sha256_json
from songset.runner import StageResult, run_stage
from songset.schemas import SongMetadata
from songset.songs import Song
from songset.stages.base import RunOptions, audio_jobs, json_writer, open_cache


def run_estimate(
    songs: list[Song], estimator_cfg: Any, out_dir: Path, options: RunOptions
) -> StageResult[SongMetadata]:
    estimator: Estimator = instantiate(estimator_cfg)
    parts = estimator.identity().key_parts()
    audio = audio_jobs("estimate", songs, parts)
    return run_stage(
        "estimate",
        audio.jobs,
        functools.partial(estimate_song, estimator=estimator),
        SongMetadata,
        open_cache(options, "estimate"),
        json_writer(out_dir),
        workers=options.workers,
        settings_sha256=sha256_json(parts),
        pre_failed=audio.failed,
        skipped=audio.skipped,
        prepare=numba_cache.prepare,
        executor=options.executor,
    )
