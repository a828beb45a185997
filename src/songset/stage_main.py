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
from songset.runner import Executor, make_executor
from songset.songs import Song, discover_songs, select_songs
from songset.stages.base import RunOptions
from songset.storage import location


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
        cache_dir=location(cfg.paths.cache), workers=max(1, int(cfg.run.jobs)), executor=executor_of(cfg.run)
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


def in_dvc_workspace() -> bool:
    """True when DVC runs this stage in the project's own folder (`dvc repro`, `dvc exp run` without
    --temp/--queue), whose data outputs are the dataset; False in an experiment's temporary copy."""
    root = os.environ.get("DVC_ROOT")
    return bool(root) and Path(root).resolve() == Path.cwd().resolve()


def reset_subset(params: Path) -> None:
    """Take `run.subset` out of params.yaml again, leaving every other setting as DVC wrote it."""
    from omegaconf import OmegaConf

    from songset.io import atomic_write_text

    data = OmegaConf.load(params)
    OmegaConf.update(data, "run.subset", {"songs": [], "count": None}, force_add=True)
    atomic_write_text(params, OmegaConf.to_yaml(data))  # the form `songset compose` and DVC write


def stage_songs(cfg: DictConfig) -> list[Song]:
    """The songs this run builds: everything under paths.audio, narrowed by run.subset.

    A subset is only built in an experiment's own copy (`dvc exp run --temp` or `--queue`): built in
    the workspace it would replace the full dataset there. Asked for there, the stage stops before any
    song is built and puts params.yaml back, so neither a partial dataset nor the subset stays behind.
    """
    subset = cfg.run.get("subset") or {}
    ids, count = list(subset.get("songs") or []), subset.get("count")
    if (ids or count is not None) and in_dvc_workspace():
        params = Path(os.environ.get("SONGSET_PARAMS", "params.yaml"))
        if params.is_file():
            reset_subset(params)
        raise ValueError(
            "run.subset builds only some songs and would replace the full dataset in this workspace: run "
            "it as `dvc exp run --temp -S run.subset...` (or --queue); run.subset was taken out of "
            f"{params} again, and `dvc checkout` restores any output DVC removed before this stage ran"
        )
    songs = discover_songs(location(cfg.paths.audio))
    return select_songs(songs, ids, count)
