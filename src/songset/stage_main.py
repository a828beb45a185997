"""What every DVC stage entry point does before and after its one library call."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from songset.config import load_params, to_plain
from songset.pipeline import RunOptions
from songset.runner import Executor, make_executor
from songset.songs import Song, discover_songs, select_songs


def setup_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("SONGSET_LOG_LEVEL", "WARNING"),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def stage_config() -> DictConfig:
    """params.yaml as committed (or as `dvc exp run` composed it), plus overrides given on the command line."""
    setup_logging()
    return load_params(Path(os.environ.get("SONGSET_PARAMS", "params.yaml")), overrides=sys.argv[1:])


def run_options(cfg: DictConfig) -> RunOptions:
    return RunOptions(
        cache_dir=Path(cfg.paths.cache), workers=max(1, int(cfg.run.jobs)), executor=executor_of(cfg.run)
    )


def executor_of(run_cfg: Any) -> Executor:
    """`run.executor` (default local) built from its own settings block `run.<name>`, checked at start."""
    name = str(run_cfg.get("executor") or "local")
    settings = run_cfg.get(name)
    return make_executor(name, to_plain(settings) if settings is not None else None)


def guarded(main: Callable[[], int]) -> int:
    """Run a stage; a full disk, a read-only folder or a missing input ends it with one clear line."""
    try:
        return main()
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def stage_songs(cfg: DictConfig) -> list[Song]:
    """The songs this run builds: everything under paths.audio, narrowed by run.subset."""
    subset = cfg.run.get("subset") or {}
    songs = discover_songs(Path(cfg.paths.audio))
    return select_songs(songs, list(subset.get("songs") or []), subset.get("count"))
