"""DVC stage `lyrics`: audio + data/lyrics + overrides + clean sections -> data/annotations/lyrics/<song>.json."""

from pathlib import Path

from songset.stage_main import guarded, run_options, stage_config, stage_songs
from songset.stages.base import finish_stage
from songset.stages.lyrics import run_lyrics


def main() -> int:
    cfg = stage_config()
    paths = cfg.paths
    result = run_lyrics(
        stage_songs(cfg),
        cfg.transcriber,
        cfg.lyrics,
        Path(paths.lyrics),
        Path(paths.overrides),
        Path(paths.clean),
        Path(paths.song_lyrics),
        run_options(cfg),
    )
    finish_stage(result, Path(paths.reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(guarded(main))
