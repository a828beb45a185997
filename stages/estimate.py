"""DVC stage `estimate`: data/audio/* -> data/metadata/<song>.json (duration, bpm, key, meter + confidences)."""

from pathlib import Path

from songset.pipeline import finish_stage, run_estimate
from songset.songs import discover_songs
from songset.stage_main import guarded, run_options, stage_config


def main() -> int:
    cfg = stage_config()
    songs = discover_songs(Path(cfg.paths.audio))
    result = run_estimate(songs, cfg.estimator, Path(cfg.paths.metadata), run_options(cfg))
    finish_stage(result, Path(cfg.paths.reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(guarded(main))
