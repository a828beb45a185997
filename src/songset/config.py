"""Config: Hydra groups in conf/ composed into params.yaml, the file DVC tracks and stages read.

`dvc exp run -S ...` composes conf/ by itself (hydra.enabled); plain `dvc repro` reads params.yaml as
committed, so `songset compose` writes it with the same call DVC makes (compose, resolve, to_yaml), and a
test keeps the two in step.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from songset.io import atomic_write_text

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
SECRET_NAMES = ("HF_TOKEN", "OPENAI_API_KEY", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT_TOKEN")


def conf_dir() -> Path:
    """conf/ of the project in the working directory, else the one this package was installed from."""
    explicit = os.environ.get("SONGSET_CONF_DIR")
    if explicit:
        return Path(explicit).resolve()
    local = Path.cwd() / "conf"
    if (local / "config.yaml").is_file():
        return local.resolve()
    return PACKAGE_ROOT / "conf"


def compose(overrides: list[str] | None = None, config_dir: Path | None = None) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(str(config_dir or conf_dir()), version_base=None):
        cfg = hydra_compose(config_name="config", overrides=list(overrides or []))
    OmegaConf.resolve(cfg)
    return cfg


def compose_yaml(overrides: list[str] | None = None, config_dir: Path | None = None) -> str:
    """The exact text `dvc exp run` writes to params.yaml for these overrides."""
    return OmegaConf.to_yaml(compose(overrides, config_dir))


def write_params(path: Path, overrides: list[str] | None = None, config_dir: Path | None = None) -> str:
    text = compose_yaml(overrides, config_dir)
    atomic_write_text(path, text)
    return text


def load_params(path: Path = Path("params.yaml"), overrides: list[str] | None = None) -> DictConfig:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `songset compose` in the project root first")
    cfg = OmegaConf.load(path)
    if overrides:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(overrides))
    assert isinstance(cfg, DictConfig)
    return cfg


def to_plain(cfg: Any) -> Any:
    """Config as plain JSON-able data, for provenance and cache keys."""
    if isinstance(cfg, DictConfig) or OmegaConf.is_config(cfg):
        return OmegaConf.to_container(cfg, resolve=True)
    return cfg


def settings_of(cfg: Any) -> dict[str, Any]:
    """The settings part of a backend config: everything but Hydra's `_target_`."""
    plain = to_plain(cfg) or {}
    return {k: v for k, v in plain.items() if k != "_target_"}


def _group_name(cfg: Any) -> str:
    key = cfg._key() if isinstance(cfg, DictConfig) else None
    return str(key) if key else "backend"


def backend_class(cfg: Any, group: str | None = None) -> Any:
    """The class a config group's `_target_` names; a ValueError naming `group._target_` otherwise.

    Imported with importlib rather than Hydra's `get_class`: importing `hydra.utils` costs every stage
    about 0.3 s of CPU at start, and a backend is always a module-level class (`package.module.Class`).
    """
    group = group or _group_name(cfg)
    target = str(cfg.get("_target_"))
    module_name, _, class_name = target.rpartition(".")
    try:
        backend = getattr(importlib.import_module(module_name), class_name)
    except Exception as exc:
        raise ValueError(f"{group}._target_: cannot import {target} ({exc})") from None
    if not isinstance(backend, type):
        raise ValueError(f"{group}._target_: {target} is not a class")
    return backend


def check_settings(cfg: Any) -> None:
    """Every setting is one the backend's settings model takes, of its type; else one ValueError naming it.

    Hydra passes command-line values through as strings or YAML scalars, so without this a mistyped
    key or `estimator.tempo_prior_bpm=fast` would surface as a traceback deep inside the backend.
    """
    group = _group_name(cfg)
    backend = backend_class(cfg, group)
    missing = [k for k in cfg if isinstance(cfg, DictConfig) and OmegaConf.is_missing(cfg, k)]
    if missing:
        raise ValueError(f"{group}.{missing[0]}: required setting is missing (set {group}.{missing[0]}=...)")
    if not hasattr(backend, "validate_settings"):
        raise ValueError(
            f"{group}._target_: {cfg.get('_target_')} declares no settings model (songset.settings.Configured)"
        )
    backend.validate_settings(settings_of(cfg), prefix=group)


def instantiate(cfg: Any) -> Any:
    """Build the backend a config group names with `_target_`: the one place backends are chosen.

    `Backend(**settings)` after `check_settings`, which is what Hydra's `instantiate(cfg, _convert_="all")`
    does for a flat settings block (no nested `_target_`: a backend's nested blocks are settings models, and
    a nested `_target_` fails `check_settings` as an unknown setting) without importing Hydra at start.
    """
    target = cfg.get("_target_") if cfg is not None else None
    if not target:
        raise ValueError(f"config group has no _target_ naming a backend: {to_plain(cfg)}")
    check_settings(cfg)
    return backend_class(cfg)(**settings_of(cfg))
