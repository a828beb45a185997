"""conf/<group>/<name>.yaml, written from the settings models: `songset conf --write` / `--check`.

Why: a default stated in the model and again in a conf file drifts (the Transformers annotators once
defaulted to temperature 1.0 while af3_hf.yaml said 0.7). So a conf file is derived: its leading comment
lines and its `_target_` are the input (which backend variant this file is); every setting after them is
written from the backend's settings model and preset, with the field's description as the comment.
Groups without a backend class (sidecar, report, lyrics) name their model in SETTINGS_GROUPS.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from songset.io import atomic_write_text
from songset.settings import (
    IDENTITY_SLOT,
    REQUIRED,
    TRANSPORT,
    BackendSettings,
    conf_values,
    model_defaults,
)

SETTINGS_GROUPS = {
    "sidecar": "songset.sidecars.SidecarSettings",
    "report": "songset.report.ReportSettings",
    "lyrics": "songset.lyrics.resolve.LyricsSettings",
}
COMMENT_COLUMN = 36  # comments line up here unless a setting is longer
KIND_ORDER = (IDENTITY_SLOT, "output", TRANSPORT)
KIND_HEADINGS = {
    IDENTITY_SLOT: "# identity: recorded in its own slot (model id, revision, prompt sha256) and in the cache key",
    "output": "# output: recorded in provenance and in the cache key",
    TRANSPORT: "# transport: how results are fetched; out of the cache key and the provenance",
}


@dataclass(frozen=True)
class ConfFile:
    path: Path
    expected: str

    @property
    def current(self) -> bool:
        return self.path.read_text(encoding="utf-8") == self.expected


def group_model(group: str) -> type[BaseModel]:
    """The settings model of a group without a backend class (sidecar, report, lyrics)."""
    return _import(SETTINGS_GROUPS[group])


def _import(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _scalar(value: Any) -> str:
    if value is REQUIRED:
        return REQUIRED
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False, allow_unicode=True)
    return dumped.removesuffix("\n").removesuffix("\n...")


def _block(name: str, value: dict[str, Any]) -> list[str]:
    """A nested settings block (`separation:`, `guard:`) as indented lines, one setting a line."""
    dumped = yaml.safe_dump(
        {name: value}, default_flow_style=False, width=10_000, sort_keys=False, allow_unicode=True
    )
    return dumped.removesuffix("\n").splitlines()


def _kind(model: type[BaseModel], name: str) -> str:
    extra = model.model_fields[name].json_schema_extra
    for mark in (IDENTITY_SLOT, TRANSPORT):
        if isinstance(extra, dict) and extra.get(mark):
            return mark
    return "output"


def _header(text: str) -> list[str]:
    """The file's own leading comment lines: what a person wrote about this variant."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def settings_lines(model: type[BaseModel], values: dict[str, Any]) -> list[str]:
    """`name: value  # description`, grouped by kind (identity, output, transport) when there are several."""
    kinds = {name: _kind(model, name) for name in values}
    grouped = len(set(kinds.values())) > 1
    out: list[str] = []
    for kind in KIND_ORDER:
        names = [n for n in values if kinds[n] == kind]
        if not names:
            continue
        if grouped:
            out.append(KIND_HEADINGS[kind])
        for name in names:
            about = model.model_fields[name].description
            if isinstance(values[name], dict) and values[name]:
                first, *rest = _block(name, values[name])
                out.append(f"{first.ljust(COMMENT_COLUMN - 1)} # {about}" if about else first)
                out += rest
                continue
            setting = f"{name}: {_scalar(values[name])}"
            if about:
                setting = f"{setting.ljust(COMMENT_COLUMN - 1)} # {about}"
            out.append(setting)
    return out


def render(path: Path) -> str:
    """What `path` (conf/<group>/<name>.yaml) should hold, from its header, `_target_` and the models."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of settings")
    group = path.parent.name
    target = data.get("_target_")
    lines = _header(text)
    if target:
        try:
            backend = _import(str(target))
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"{path}: _target_ {target} cannot be imported ({exc})") from None
        if not isinstance(getattr(backend, "Settings", None), type):
            raise ValueError(f"{path}: {target} declares no settings model (songset.settings.Configured)")
        model: type[BaseModel] = backend.Settings
        values = conf_values(backend)
        lines.append(f"_target_: {target}")
    elif group in SETTINGS_GROUPS:
        model = group_model(group)
        values = model_defaults(model)
    else:
        raise ValueError(f"{path}: no _target_, and {group} is not one of {', '.join(SETTINGS_GROUPS)}")
    if not issubclass(model, BackendSettings):
        raise ValueError(f"{path}: {model.__name__} is not a songset.settings.BackendSettings")
    lines += settings_lines(model, values)
    return "\n".join(lines) + "\n"


def conf_files(config_dir: Path) -> list[ConfFile]:
    """Every settings file under conf/<group>/ with what it should hold."""
    return [ConfFile(path, render(path)) for path in sorted(config_dir.glob("*/*.yaml"))]


def stale_conf_files(config_dir: Path) -> list[Path]:
    return [f.path for f in conf_files(config_dir) if not f.current]


def write_conf_files(config_dir: Path) -> list[Path]:
    """Rewrite every stale conf file; the paths written."""
    written = []
    for conf in conf_files(config_dir):
        if not conf.current:
            atomic_write_text(conf.path, conf.expected)
            written.append(conf.path)
    return written
