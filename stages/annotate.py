"""DVC stage `annotate`: data/audio/* -> data/annotations/raw/<song>.json (timestamped prose + provenance)."""

from pathlib import Path

from songset.pipeline import finish_stage, run_annotate
from songset.songs import discover_songs
from songset.stage_main import guarded, run_options, stage_config


def main() -> int:
    cfg = stage_config()
    songs = discover_songs(Path(cfg.paths.audio))
    result = run_annotate(songs, cfg.annotator, Path(cfg.paths.raw), run_options(cfg))
    finish_stage(result, Path(cfg.paths.reports))
    return 0  # per-song failures are recorded; the validate stage decides whether the dataset passes


if __name__ == "__main__":
    raise SystemExit(guarded(main))
