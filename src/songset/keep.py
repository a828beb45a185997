"""`songset keep EXP`: write a winning experiment's settings into conf/, where every later run starts.

`dvc exp apply` only restores the experiment's params.yaml; the next `dvc exp run -S other.key=...` (or
`songset compose`) composes conf/ again and silently drops the kept setting. This module compares the
experiment's params with what conf/ composes to and edits conf/ (comments kept): a changed backend
becomes the group's choice in `conf/config.yaml`, a changed value goes into that file's `<group>:` block
(the group files are generated from the settings models), anything else into `conf/config.yaml`. It then composes conf/ and checks the result equals the
experiment's params (except `run.subset`: a trial on a few songs is never the dataset's default).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from songset.config import compose, conf_dir, to_plain, write_params
from songset.io import atomic_write_text

NOT_KEPT = (("run", "subset"),)  # per-experiment narrowing, never a default


@dataclass
class KeepResult:
    changes: list[str] = field(default_factory=list)  # "sidecar.caption_mode: caption -> events"
    files: list[Path] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ValueError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


def experiment_params(name: str, root: Path = Path(".")) -> dict[str, Any]:
    """params.yaml of a DVC experiment (its name, as `dvc exp show` lists it) or of any git revision."""
    refs = _git(root, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    matches = [ref for ref in refs if ref.rsplit("/", 1)[-1] == name]
    if len(matches) > 1:
        raise ValueError(f"experiment {name!r} is ambiguous: {', '.join(matches)}")
    revision = matches[0] if matches else name
    try:
        text = _git(root, "show", f"{revision}:params.yaml")
    except ValueError:
        raise ValueError(
            f"no experiment or revision named {name!r} (see `dvc exp show`; queued experiments must run first)"
        ) from None
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{name}: params.yaml is not a mapping")
    return data


def _flatten(data: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(data, dict) and data:
        out: dict[tuple[str, ...], Any] = {}
        for key, value in data.items():
            out |= _flatten(value, (*prefix, str(key)))
        return out
    return {prefix: data}


def round_trip_yaml() -> Any:
    from ruamel.yaml import YAML

    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)  # the layout conf/ is written in, so diffs stay small
    rt.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return rt


def _load(path: Path) -> Any:
    return round_trip_yaml().load(path.read_text(encoding="utf-8"))


def _dump(path: Path, data: Any) -> None:
    import io

    buffer = io.StringIO()
    round_trip_yaml().dump(data, buffer)
    atomic_write_text(path, buffer.getvalue())


def _set(node: Any, keys: tuple[str, ...], value: Any) -> None:
    from ruamel.yaml.comments import CommentedMap

    for key in keys[:-1]:
        if key not in node or not isinstance(node[key], dict):
            node[key] = CommentedMap()
        node = node[key]
    node[keys[-1]] = value


def _groups(config: Any) -> list[str]:
    """The config groups conf/config.yaml chooses (annotator, cleaner, ...), in its defaults order."""
    return [str(k) for item in config["defaults"] if isinstance(item, dict) for k in item]


def _choice(defaults: list[Any], group: str) -> tuple[int, str] | None:
    for i, item in enumerate(defaults):
        if isinstance(item, dict) and group in item:
            return i, str(item[group])
    return None


def _best_option(root: Path, group: str, wanted: dict[str, Any]) -> str | None:
    """The group file whose composed settings are closest to `wanted`, among those with its `_target_`."""
    best: tuple[int, str] | None = None
    for path in sorted((root / group).glob("*.yaml")):
        plain = to_plain(compose([f"{group}={path.stem}"], root)[group]) or {}
        if plain.get("_target_") != wanted.get("_target_"):
            continue
        a, b = _flatten(plain), _flatten(wanted)
        distance = sum(a.get(k) != b.get(k) for k in set(a) | set(b))
        if best is None or distance < best[0]:
            best = (distance, path.stem)
    return best[1] if best else None


def keep(
    target: dict[str, Any], root: Path | None = None, params: Path | None = Path("params.yaml")
) -> KeepResult:
    """Edit conf/ so it composes to `target` (run.subset aside); then rewrite `params` from it."""
    root = root or conf_dir()
    result = KeepResult()
    for keys in NOT_KEPT:
        node: Any = target
        for key in keys[:-1]:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict) and keys[-1] in node:
            current = to_plain(compose([], root))
            for key in keys[:-1]:
                current = current.get(key, {})
            if node[keys[-1]] != current.get(keys[-1]):
                result.ignored.append(f"{'.'.join(keys)} (a trial on some songs is not kept as the default)")
            node[keys[-1]] = current.get(keys[-1])

    config_path = root / "config.yaml"
    config = _load(config_path)
    touched: set[Path] = set()
    for group in _groups(config):
        wanted = target.get(group)
        where = _choice(config["defaults"], group)
        if not isinstance(wanted, dict) or where is None:
            continue
        index, chosen = where
        current = to_plain(compose([], root)[group]) or {}
        if current.get("_target_") != wanted.get("_target_"):
            option = _best_option(root, group, wanted)
            if option is None:
                raise ValueError(f"{group}: no conf/{group}/*.yaml has _target_ {wanted.get('_target_')}")
            config["defaults"][index][group] = option
            config.pop(group, None)  # values kept for the previous backend are not this one's settings
            result.changes.append(f"{group}: {chosen} -> {option}")
            _dump(config_path, config)
            touched.add(config_path)
            current = to_plain(compose([], root)[group]) or {}
        # conf/<group>/*.yaml are written from the settings models (`songset conf --write`); a kept value
        # goes into conf/config.yaml's `<group>:` block, which composes after the group file (`_self_` last)
        have, want = _flatten(current), _flatten(wanted)
        changed = False
        for keys in sorted(set(have) | set(want)):
            if have.get(keys) == want.get(keys):
                continue
            label = ".".join((group, *keys))
            if keys not in want:
                raise ValueError(f"{label}: the experiment has no such setting; conf/ cannot remove one")
            _set(config, (group, *keys), want[keys])
            result.changes.append(f"{label}: {have.get(keys)!r} -> {want[keys]!r}")
            changed = True
        if changed:
            _dump(config_path, config)
            touched.add(config_path)

    config = _load(config_path)
    groups = _groups(config)
    have = _flatten({k: v for k, v in to_plain(compose([], root)).items() if k not in groups})
    want = _flatten({k: v for k, v in target.items() if k not in groups})
    for keys in sorted(set(have) | set(want)):
        if have.get(keys) != want.get(keys) and keys in want:
            _set(config, keys, want[keys])
            result.changes.append(f"{'.'.join(keys)}: {have.get(keys)!r} -> {want[keys]!r}")
            _dump(config_path, config)
            touched.add(config_path)
    result.files = sorted(touched)

    composed = to_plain(compose([], root))
    if _flatten(composed) != _flatten(target):
        diff = sorted(
            ".".join(k)
            for k in set(_flatten(composed)) | set(_flatten(target))
            if _flatten(composed).get(k) != _flatten(target).get(k)
        )
        raise ValueError(f"conf/ could not be made to compose to the experiment's params: {', '.join(diff)}")
    if params is not None:
        write_params(params, config_dir=root)
    return result
