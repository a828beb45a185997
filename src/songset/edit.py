"""`songset edit SONG`: a human decision, made in $EDITOR, checked before it is saved.

The file opens pre-filled with what the sidecar says now, so a person corrects rather than retypes.
Only what the person decided is saved: a value left exactly as it was pre-filled from an estimate is
not frozen into the override, so it keeps following the pipeline. An invalid file is never saved:
the editor re-opens with the error on top (interactive), or the command fails naming the field.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from songset.io import atomic_write_text, read_json
from songset.runner import SongError
from songset.schemas import Override, Sidecar
from songset.sidecar_fields import SIDECAR_FIELDS, SidecarField
from songset.sidecars import parse_override


def edit_help(
    fields: Mapping[str, SidecarField] = SIDECAR_FIELDS, override: type[Override] = Override
) -> dict[str, str]:
    """Override key -> its help, in the order the file shows them: the sidecar fields a person decides
    (their help from the field table), then the override's own keys (their pydantic description)."""
    keys = {f.override: f.help for f in fields.values() if f.override}
    for name, info in override.model_fields.items():
        if name not in keys:
            if not info.description:
                raise ValueError(f"override key {name!r}: no sidecar field row and no description to show")
            keys[name] = info.description
    unknown = set(keys) - set(override.model_fields)
    if unknown:
        raise ValueError(f"sidecar fields name override keys {sorted(unknown)} that Override does not have")
    return keys


HELP: dict[str, str] = edit_help()
EDITABLE: tuple[str, ...] = tuple(HELP)
FROM_SIDECAR: frozenset[str] = frozenset(f.override for f in SIDECAR_FIELDS.values() if f.override)
_ERROR_PREFIX = "# ERROR: "


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def _dump_field(name: str, value: Any) -> str:
    if isinstance(value, str) and "\n" in value:
        value = value.rstrip("\n") + "\n"
    text = yaml.dump({name: value}, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=110)
    return str(text)


def current_values(sidecar: Sidecar | None, existing: Override) -> tuple[dict[str, Any], set[str]]:
    """Pre-fill values (override first, then the sidecar) and the names a human already decided."""
    decided = {k for k in EDITABLE if getattr(existing, k) is not None}
    values: dict[str, Any] = {}
    for name in EDITABLE:
        value = getattr(existing, name)
        if value is None and sidecar is not None and name in FROM_SIDECAR:
            value = getattr(
                sidecar, name, None
            )  # `language`: the sidecar's sung language, none if instrumental
        values[name] = value
    return values, decided


def render_template(
    song: str,
    values: dict[str, Any],
    decided: set[str],
    errors: list[str],
    field_help: Mapping[str, str] = HELP,
) -> str:
    """The file the editor shows: errors, what each field does (`field_help`, by key), then the values."""
    lines = [f"{_ERROR_PREFIX}{e}" for e in errors]
    lines += [
        f"# Human override for {song}: these values win over every estimate on every re-run.",
        "# Change a value to decide it; delete a line (or set it to null) to let the pipeline decide.",
        "# Values left as pre-filled from an estimate are not saved, so they keep following the pipeline.",
        "#",
    ]
    lines += [f"#   {name}: {text}" for name, text in field_help.items()]
    lines.append("")
    text = "\n".join(lines) + "\n"
    for name in field_help:
        origin = "your override" if name in decided else "estimate" if values[name] is not None else "unknown"
        text += f"# {name} ({origin})\n" + _dump_field(name, values[name])
    return text


def saved_text(song: str, override: Override, previous: str | None = None) -> str:
    """What goes into data/overrides/<song>.yaml: the decided fields only.

    An existing file is updated in place (ruamel round trip), so the comments a person wrote there,
    often the reason for a decision, stay; a new file gets a short header.
    """
    if previous is not None:
        kept = _update_in_place(previous, override)
        if kept is not None:
            return kept
    text = f"# Human override for {song} (written by `songset edit`; these values always win).\n"
    for name in EDITABLE:
        value = getattr(override, name)
        if value is not None:
            text += _dump_field(name, value)
    return text


def _update_in_place(previous: str, override: Override) -> str | None:
    """`previous` with the decided values set and the others removed, comments kept; None if unreadable."""
    import io

    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.scalarstring import LiteralScalarString

    from songset.keep import round_trip_yaml

    try:
        data = round_trip_yaml().load(previous)
    except YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    for name in EDITABLE:
        value = getattr(override, name)
        if value is None:
            data.pop(name, None)
        elif data.get(name) != value or type(data.get(name)) is not type(value):
            data[name] = LiteralScalarString(value) if isinstance(value, str) and "\n" in value else value
    buffer = io.StringIO()
    round_trip_yaml().dump(data, buffer)
    return buffer.getvalue()


def decide(edited: Override, values: dict[str, Any], decided: set[str]) -> Override:
    """Keep fields the person set or changed; drop estimates they left untouched."""
    kept: dict[str, Any] = {}
    for name in EDITABLE:
        value = getattr(edited, name)
        if value is None:
            continue
        before = values.get(name)
        if name in decided or _norm(value) != _norm(before):
            kept[name] = value
    return Override.model_validate(kept)


def _norm(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def run_editor(path: Path) -> None:
    """$VISUAL or $EDITOR (may carry arguments, e.g. `code -w`), else vi."""
    command = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
    done = subprocess.run([*command, str(path)], check=False)
    if done.returncode != 0:
        raise ValueError(f"editor {command[0]} exited with status {done.returncode}; nothing saved")


def _ask_reopen() -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input("re-open the editor to fix it? [Y/n] ").strip().lower()
    return answer in ("", "y", "yes")


def edit_override(
    song: str,
    sidecars_dir: Path,
    overrides_dir: Path,
    *,
    editor: Callable[[Path], None] = run_editor,
    reopen: Callable[[], bool] = _ask_reopen,
) -> tuple[Path, Override | None]:
    """Edit and validate one song's override; returns the saved file and override (None: unchanged)."""
    target = overrides_dir / f"{song}.yaml"
    legacy = overrides_dir / f"{song}.yml"
    source = target if target.is_file() else legacy if legacy.is_file() else target
    sidecar_path = sidecars_dir / f"{song}.json"
    if not source.is_file() and not sidecar_path.is_file():
        raise ValueError(f"no sidecar {sidecar_path} and no override for {song!r}; check the song id")
    existing_text = source.read_text(encoding="utf-8") if source.is_file() else None
    sidecar = Sidecar.model_validate(read_json(sidecar_path)) if sidecar_path.is_file() else None
    broken = False
    try:
        existing = parse_override(existing_text, str(source)) or Override()
        values, decided = current_values(sidecar, existing)
        first_draft = render_template(song, values, decided, [])
    except SongError as exc:  # a broken override: open it as it is, with what is wrong on top, to fix
        existing, values, decided = Override(), {}, set(EDITABLE)  # every line in it is the person's
        broken = True
        first_draft = f"{_ERROR_PREFIX}{exc}\n{existing_text}"

    with tempfile.TemporaryDirectory(prefix="songset-edit-") as tmp:
        draft = Path(tmp) / f"{song}.yaml"
        draft.write_text(first_draft, encoding="utf-8")
        while True:
            editor(draft)
            text = draft.read_text(encoding="utf-8")
            try:
                edited = parse_override(text, str(target)) or Override()
                break
            except SongError as exc:
                print(f"not valid: {exc}", file=sys.stderr)  # said before asking whether to fix it
                if not reopen():
                    raise ValueError(f"not saved: {exc}") from exc
                body = "\n".join(line for line in text.splitlines() if not line.startswith(_ERROR_PREFIX))
                draft.write_text(f"{_ERROR_PREFIX}{exc}\n{body}\n", encoding="utf-8")

    final = decide(edited, values, decided)
    if final == existing and source.is_file() and not broken:
        return source, None
    if final == Override() and not source.is_file():
        return target, None
    overrides_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, saved_text(song, final, existing_text))
    if source != target:
        source.unlink(missing_ok=True)
    return target, final
