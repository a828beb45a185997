"""DVC stage `clean`: data/annotations/raw/*.json -> data/annotations/clean/<song>.json (CleanAnnotation)."""

from pathlib import Path

from songset.stage_main import guarded, run_options, stage_config
from songset.stages.base import finish_stage
from songset.stages.clean import run_clean


def main() -> int:
    cfg = stage_config()
    raw_dir = Path(cfg.paths.raw)
    raw_files = sorted(raw_dir.glob("*.json")) if raw_dir.is_dir() else []
    result = run_clean(raw_files, cfg.cleaner, Path(cfg.paths.clean), run_options(cfg))
    finish_stage(result, Path(cfg.paths.reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(guarded(main))
