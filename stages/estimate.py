"""DVC stage `estimate`: data/audio/* -> data/metadata/<song>.json (duration, bpm, key, meter + confidences)."""

from pathlib import Path

from songset.stage_main import guarded, run_options, stage_config, stage_songs
from songset.stages.base import finish_stage
from songset.stages.estimate import run_estimate


def main() -> int:
    cfg = stage_config()
    songs = stage_songs(cfg)
    result = run_estimate(songs, cfg.estimator, Path(cfg.paths.metadata), run_options(cfg))
    finish_stage(result, Path(cfg.paths.reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(guarded(main))
