"""DVC stage `annotate`: data/audio/* -> data/annotations/raw/<song>.json (timestamped prose + provenance)."""

from pathlib import Path

from songset.stage_main import guarded, run_options, stage_config, stage_songs
from songset.stages.annotate import run_annotate
from songset.stages.base import finish_stage


def main() -> int:
    cfg = stage_config()
    songs = stage_songs(cfg)
    result = run_annotate(songs, cfg.annotator, Path(cfg.paths.raw), run_options(cfg))
    finish_stage(result, Path(cfg.paths.reports))
    return 0  # per-song failures are recorded; the validate stage decides whether the dataset passes


if __name__ == "__main__":
    raise SystemExit(guarded(main))
