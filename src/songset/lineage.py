"""Lineage: which commit, params and per-stage stack made a sidecar, and whether it still matches dvc.lock.

A training set is only reproducible if each file says where it came from. The sidecar stage stamps the
git revision and the params hash into `source.provenance["sidecar"]`; every upstream stage already
records its backend, model revision, adapter, prompt hash and settings. `songset trace` prints that
chain; `songset trace --check` compares it with dvc.lock, which is what `dvc pull` and `dvc repro` trust.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from songset.io import read_json, sha256_file
from songset.schemas import Provenance, Sidecar
from songset.validate import sidecar_files

# dvc.yaml stage -> (params group, provenance block) of the stages that feed a sidecar.
STAGE_PARAMS: dict[str, tuple[str, str]] = {
    "annotate": ("annotator", "annotate"),
    "clean": ("cleaner", "clean"),
    "estimate": ("estimator", "estimate"),
    "lyrics": ("lyrics", "lyrics"),
    "sidecars": ("sidecar", "sidecar"),
}
# Paths a `dvc repro` itself rewrites; changes there do not make the *source* dirty.
_GENERATED = ("dvc.lock", "reports/")


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_lineage(root: Path = Path(".")) -> dict[str, Any]:
    """HEAD commit and a dirty flag; None values outside a git checkout (a plain copy of the data)."""
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        return {"git_revision": None, "git_dirty": None}
    # Untracked files count: a new override or song not yet committed changes what gets built.
    status = _git(root, "status", "--porcelain", "--untracked-files=all") or ""
    changed = [
        line[3:].strip()
        for line in status.splitlines()
        # DVC writes a .gitignore beside each new output during `dvc repro`: generated, not source
        if line.strip() and not (line.startswith("??") and line.rstrip().endswith(".gitignore"))
    ]
    dirty = any(not path.startswith(_GENERATED) for path in changed)
    return {"git_revision": head.strip(), "git_dirty": dirty}


def lineage_stamp(root: Path = Path("."), params: Path = Path("params.yaml")) -> dict[str, Any]:
    """What the sidecar stage writes into each sidecar's provenance: git revision, dirty flag, params hash."""
    stamp = git_lineage(root)
    stamp["params_sha256"] = sha256_file(params) if params.is_file() else None
    return stamp


# ---- trace ------------------------------------------------------------------------------------------------


def _settings_line(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "(none)"


def _stage_lines(name: str, prov: Provenance) -> list[str]:
    model = prov.model_id or ""
    if prov.model_revision:
        model = f"{model}@{prov.model_revision}" if model else f"@{prov.model_revision}"
    head = f"  -> {name}: backend={prov.backend}"
    if model:
        head += f" model={model}"
    if prov.adapter:
        head += f" adapter={prov.adapter}" + (f"@{prov.adapter_revision}" if prov.adapter_revision else "")
    lines = [head]
    if prov.prompt is not None:
        lines.append(f"       prompt={prov.prompt.name} sha256={prov.prompt.sha256[:16]}")
    lines.append(f"       settings: {_settings_line(prov.settings)}")
    lines.append(
        f"       cache_key={prov.cache_key[:16]}" + (f" created={prov.created_at}" if prov.created_at else "")
    )
    return lines


def trace_lines(sidecar: Sidecar, path: Path) -> list[str]:
    """The chain audio -> annotate -> clean -> estimate -> sidecar, readable in a terminal."""
    src = sidecar.source
    lines = [f"{path.stem}: {path}", f"  audio: {src.audio_file} sha256={src.audio_sha256[:16]}"]
    for stage in ("annotate", "clean", "estimate"):
        if stage in src.provenance:
            lines += _stage_lines(stage, src.provenance[stage])
    for stage, prov in src.provenance.items():
        if stage not in ("annotate", "clean", "estimate", "sidecar"):
            lines += _stage_lines(stage, prov)
    side = src.provenance.get("sidecar")
    if side is not None:
        lines += _stage_lines("sidecar", side)
        dirty = {True: " (dirty)", False: "", None: ""}[side.git_dirty]
        lines.append(
            f"       git={side.git_revision or 'unknown'}{dirty} params_sha256={(side.params_sha256 or 'unknown')[:16]}"
        )
    lines.append(f"  overrides applied: {', '.join(src.overridden) or 'none'}")
    notes = (side.extra.get("override_notes") if side is not None else None) or None
    if notes:
        lines.append(f"  override notes: {notes}")
    for warning in src.warnings:
        lines.append(f"  warning: {warning}")
    if src.flags:
        lines.append(f"  flags: {', '.join(src.flags)}")
    return lines


def find_sidecar(song: str, sidecars_dir: Path) -> Path:
    """A song id or a path to its sidecar; a clear error naming what was looked for."""
    as_path = Path(song)
    if as_path.suffix == ".json" and as_path.is_file():
        return as_path
    path = sidecars_dir / f"{song}.json"
    if not path.is_file():
        raise ValueError(f"no sidecar for {song!r} in {sidecars_dir}")
    return path


# ---- check against dvc.lock ------------------------------------------------------------------------------


@dataclass
class LockCheck:
    stale: dict[str, list[str]] = field(default_factory=dict)  # song -> reasons
    notes: list[str] = field(default_factory=list)

    def add(self, song: str, reason: str) -> None:
        self.stale.setdefault(song, []).append(reason)

    def lines(self) -> list[str]:
        return [f"{song}: stale: {'; '.join(reasons)}" for song, reasons in sorted(self.stale.items())]


def _lock_params(stage: dict[str, Any], group: str) -> dict[str, Any]:
    """A params group as dvc.lock recorded it, whether tracked whole (`annotator`) or by key."""
    out: dict[str, Any] = {}
    for values in (stage.get("params") or {}).values():
        for key, value in values.items():
            if key == group and isinstance(value, dict):
                out.update(value)
            elif key.startswith(f"{group}."):
                out[key[len(group) + 1 :]] = value
    return out


def dir_md5(directory: Path) -> str:
    """DVC's hash of a directory output (md5 of its sorted file list), to compare with dvc.lock."""
    entries = sorted(
        (
            {"md5": hashlib.md5(p.read_bytes()).hexdigest(), "relpath": p.relative_to(directory).as_posix()}
            for p in directory.rglob("*")
            if p.is_file()
        ),
        key=lambda e: e["relpath"],
    )
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def _locked_listing(root: Path, dir_hash: str) -> dict[str, str] | None:
    """relpath -> md5 of a directory output from the local DVC cache, when it is there."""
    digest = dir_hash.removesuffix(".dir")
    path = root / ".dvc" / "cache" / "files" / "md5" / digest[:2] / f"{digest[2:]}.dir"
    if not path.is_file():
        return None
    return {e["relpath"]: e["md5"] for e in json.loads(path.read_text(encoding="utf-8"))}


def check_against_lock(root: Path, sidecars_dir: Path) -> LockCheck:
    """Which sidecars no longer match dvc.lock: upstream settings changed, or the file itself changed."""
    result = LockCheck()
    # dvc.lock names outputs relative to the project root; files are read from the same place.
    if sidecars_dir.is_absolute():
        out_key = sidecars_dir.resolve().relative_to(root.resolve()).as_posix()
    else:
        out_key = sidecars_dir.as_posix()
        sidecars_dir = root / sidecars_dir
    lock_path = root / "dvc.lock"
    if not lock_path.is_file():
        raise ValueError(f"{lock_path}: no dvc.lock (run `dvc repro` first)")
    lock = yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}
    stages: dict[str, Any] = lock.get("stages") or {}
    files = sidecar_files(sidecars_dir)

    for path in files:
        song = path.stem
        try:
            sidecar = Sidecar.model_validate(read_json(path))
        except Exception as exc:  # a broken file is stale by definition
            result.add(song, f"not a valid sidecar ({exc.__class__.__name__})")
            continue
        for stage_name, (group, block) in STAGE_PARAMS.items():
            if stage_name not in stages:
                continue
            prov = sidecar.source.provenance.get(block)
            if prov is None:
                result.add(song, f"no {block} provenance")
                continue
            locked = {k: v for k, v in _lock_params(stages[stage_name], group).items() if k != "_target_"}
            for key, value in sorted(locked.items()):
                if key in prov.settings and prov.settings[key] != value:
                    result.add(
                        song, f"{group}.{key} is {value!r} in dvc.lock but {prov.settings[key]!r} here"
                    )

    outs = {o["path"]: o for o in (stages.get("sidecars") or {}).get("outs", [])}
    locked_out = outs.get(out_key)
    if locked_out is None:
        result.notes.append(f"dvc.lock records no output {out_key}; file hashes not checked")
        return result
    locked_hash = str(locked_out.get("md5", ""))
    if sidecars_dir.is_dir() and dir_md5(sidecars_dir) == locked_hash:
        return result
    listing = _locked_listing(root, locked_hash)
    if listing is None:
        result.add(
            "dataset", f"{out_key} differs from dvc.lock ({locked_hash}); run `dvc pull` or `dvc repro`"
        )
        return result
    present = {p.relative_to(sidecars_dir).as_posix() for p in sidecars_dir.rglob("*") if p.is_file()}
    for relpath in sorted(present | set(listing)):
        song = relpath.removesuffix(".json").removesuffix(".lyrics.txt")
        if relpath not in listing:
            result.add(song, f"{relpath} is not in dvc.lock")
        elif relpath not in present:
            result.add(song, f"{relpath} is in dvc.lock but missing")
        elif hashlib.md5((sidecars_dir / relpath).read_bytes()).hexdigest() != listing[relpath]:
            result.add(song, f"{relpath} changed since dvc.lock")
    return result
