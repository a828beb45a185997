"""What `songset annotate|clean|report --help` lists: each backend's settings with their defaults.

Read from where the defaults live, so the help never drifts from the code: the settings model of each
backend (the `_target_` of each `conf/<group>/*.yaml`, with its preset) and the report's `ReportSettings`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from pydantic import BaseModel

from songset.config import conf_dir
from songset.settings import REQUIRED, conf_values


def constructor_settings(target: str) -> list[tuple[str, str]]:
    """(name, default) of every setting of the backend class `target` names ("pkg.mod.Class")."""
    module, _, name = target.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    if not hasattr(cls, "Settings"):
        raise ValueError(f"{target} declares no settings model")
    values = conf_values(cls)
    transport = cls.Settings.transport_fields()
    return [
        (
            field,
            ("(required)" if values[field] is REQUIRED else repr(values[field]))
            + ("  (transport: not in the cache key)" if field in transport else ""),
        )
        for field in values
    ]


def model_settings(model: type[BaseModel]) -> list[tuple[str, str]]:
    """(name, default) of every field of a pydantic settings model."""
    return [(name, repr(field.default)) for name, field in model.model_fields.items()]


def _lines(settings: list[tuple[str, str]]) -> list[str]:
    width = max((len(n) for n, _ in settings), default=0)
    return [f"    {name:<{width}}  default {default}" for name, default in settings]


def group_help(group: str, config_dir: Path | None = None) -> str:
    """One paragraph per `conf/<group>/*.yaml` backend: `group=name`, its target and its settings."""
    root = (config_dir or conf_dir()) / group
    out = [f"{group} backends (choose with {group}=NAME, set with {group}.SETTING=VALUE):"]
    for path in sorted(root.glob("*.yaml")):
        try:
            target = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("_target_")
        except (OSError, yaml.YAMLError) as exc:
            out.append(f"  {path.stem}: unreadable ({exc})")
            continue
        if not isinstance(target, str):
            continue
        try:
            settings = constructor_settings(target)
        except (ImportError, AttributeError, ValueError) as exc:
            out.append(f"  {group}={path.stem} ({target}): settings unavailable ({exc})")
            continue
        out.append(f"  {group}={path.stem} ({target})")
        out += _lines(settings)
    return "\n".join(out)


def report_help() -> str:
    from songset.report import ReportSettings

    return "\n".join(
        ["report settings (set with report.SETTING=VALUE):", *_lines(model_settings(ReportSettings))]
    )
