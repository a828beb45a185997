"""`songset export DIR`: the folder ACE-Step 1.5 reads, with attribution travelling beside the audio.

Layout (one flat folder, every file of a song sharing its safe stem):

    DIR/<stem><ext>          the audio, hard-linked when DIR is on the same filesystem, else copied
    DIR/<stem>.json          the sidecar, byte for byte as validated in data/sidecars/
    DIR/<stem>.lyrics.txt    sung lyrics only (ACE-Step's scan takes any lyrics file as a sung song)
    DIR/dataset.json         ACE-Step's dataset file ("Load existing dataset", its trainer)
    DIR/NOTICE               the project NOTICE plus every song's credit line

Two ACE-Step paths read it (the rules, and the ACE-Step files they come from, are in `songset.acestep`):

- the folder scan (`dataset_builder_modules/scan.py`, in versions that read `<stem>.json`): audio
  `.wav .mp3 .flac .ogg .opus`, `caption bpm keyscale timesignature language` from `<stem>.json`, lyrics from
  `<stem>.lyrics.txt`, the duration measured from the audio as whole seconds;
- `dataset.json` (`serialization.py` `load_dataset`): `{"metadata": ..., "samples": [...]}` with
  `AudioSample`'s fields (`models.py`); unknown keys are dropped, missing ones take the builder's defaults.
  Unknown values are left out. `duration` is whole seconds, as `AudioSample` declares it and as the prompt
  renders it at generation time. `audio_path` is relative to the ACE-Step working directory the folder sits
  under: that is what ACE-Step resolves relative paths against, and newer ACE-Step
  (`acestep/training/path_safety.py`) accepts no dataset outside it.

The folder is built beside DIR and moved into place only when complete: a failed export leaves DIR as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from songset.acestep import (
    LYRICS_MAX_TOKENS,
    SCANNED_AUDIO,
    TEXT_MAX_TOKENS,
    Metas,
    lyrics_tokens,
    prompt_tokens,
    sung_lyrics,
    text_prompt,
)
from songset.io import atomic_write_json, atomic_write_text, read_json, sha256_file
from songset.schemas import INSTRUMENTAL_LYRICS, Sidecar
from songset.sidecar_fields import SIDECAR_FIELDS, SidecarField
from songset.songs import discover_songs
from songset.validate import MANIFEST_NAME, sidecar_files

MARKER = ".songset-export"  # lists what the last export wrote, so a re-export removes dropped songs
_SAFE_STEM = re.compile(r"^[\w()+,-][\w.()+,-]*$")


@dataclass
class SongPrompt:
    """What ACE-Step's text encoder and lyrics encoder will read for one song, and what it costs."""

    song: str
    prompt: str
    prompt_tokens: int
    lyrics_tokens: int


@dataclass
class _Staged:
    """What the build put into the staging folder."""

    written: list[str] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    credits: list[str] = field(default_factory=list)
    created: str = ""  # the newest sidecar's time, so an unchanged dataset exports to identical bytes


@dataclass
class ExportResult:
    songs: list[str] = field(default_factory=list)
    linked: int = 0
    copied: int = 0
    warnings: list[str] = field(default_factory=list)
    prompts: list[SongPrompt] = field(default_factory=list)
    acestep_root: Path | None = None


def find_acestep_root(folder: Path) -> Path | None:
    """The nearest folder above `folder` holding an ACE-Step 1.5 checkout (`acestep/training/`)."""
    for candidate in [folder, *folder.parents]:
        if (candidate / "acestep" / "training").is_dir():
            return candidate
    return None


def vocals(sidecar: Sidecar) -> bool | None:
    """True sung, False instrumental, None not known: a song is only called instrumental when it is known."""
    if sung_lyrics(sidecar) or sidecar.language or "vocals_without_lyrics" in sidecar.source.flags:
        return True
    if sidecar.lyrics and sidecar.lyrics.strip() == INSTRUMENTAL_LYRICS:
        return False
    return None


def acestep_sample(
    stem: str,
    sidecar: Sidecar,
    audio_path: str,
    filename: str,
    fields: Mapping[str, SidecarField] = SIDECAR_FIELDS,
) -> dict[str, Any]:
    """One `AudioSample` as ACE-Step's builder saves it: each sidecar field under the key its table row
    names (`acestep`), known values only.

    A vocal field (one whose row says what an instrumental states) is stated only when the vocals are
    known: an instrumental gets the row's `instrumental` value, as ACE-Step's own sample editor saves one
    (training_handlers.py); a sung song its own value, never that marker. Not sidecar fields, so not in
    the table: the genre (the annotation's tags), the duration in whole seconds (`AudioSample.duration` is
    an int), `raw_lyrics` (the sung lyrics) and `is_instrumental` (what the vocals are known to be).
    """
    sample: dict[str, Any] = {"id": stem, "audio_path": audio_path, "filename": filename}
    sung = vocals(sidecar)
    exported = [f for f in fields.values() if f.acestep]
    for f in exported:
        if f.instrumental is None:
            sample[str(f.acestep)] = getattr(sidecar, f.name)
    sample |= {
        "genre": ", ".join(sidecar.source.tags.genre),
        "duration": int(sidecar.duration),
        "labeled": True,
    }
    for f in exported:
        if f.instrumental is not None and sung is not None:
            value = f.instrumental if sung is False else getattr(sidecar, f.name)
            sung_marker = sung and isinstance(value, str) and value.strip() == f.instrumental
            sample[str(f.acestep)] = None if sung_marker else value
    lyrics = sung_lyrics(sidecar)
    if lyrics:
        sample["raw_lyrics"] = lyrics
    if sung is not None:
        sample["is_instrumental"] = not sung
    return {k: v for k, v in sample.items() if v is not None and v != ""}


def _previous_files(out_dir: Path) -> set[str]:
    marker = out_dir / MARKER
    return set(marker.read_text(encoding="utf-8").split("\n")) - {""} if marker.is_file() else set()


def _place(source: Path, target: Path, link: bool) -> bool:
    """Hard-link (free, same bytes) when allowed and possible, else copy; True when linked."""
    if link:
        try:
            os.link(source, target)
            return True
        except OSError:
            pass
    shutil.copy2(source, target)
    return False


def _audio_path(final: Path, root: Path | None) -> str:
    return Path(os.path.relpath(final, root)).as_posix() if root else str(final)


def export_dataset(
    sidecars_dir: Path,
    audio_dir: Path,
    out_dir: Path,
    *,
    notice: Path | None = None,
    name: str = "songset",
    link: bool = True,
    force: bool = False,
    acestep_root: Path | None = None,
) -> ExportResult:
    """Write the ACE-Step folder; the audio is checked against the sha256 each sidecar was built from."""
    files = sidecar_files(sidecars_dir) if sidecars_dir.is_dir() else []
    if not files:
        raise ValueError(f"{sidecars_dir}: no sidecars to export (run `dvc repro` or `dvc pull` first)")
    out_dir = Path(os.path.abspath(out_dir))
    previous = _previous_files(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not previous and not force:
        raise ValueError(f"{out_dir} is not empty and is not a songset export; pass --force to write into it")
    root = Path(os.path.realpath(acestep_root)) if acestep_root else find_acestep_root(out_dir.parent)
    real_out = Path(os.path.realpath(out_dir))
    result = ExportResult(acestep_root=root)
    if acestep_root and root and root != real_out and root not in real_out.parents:
        raise ValueError(
            f"{out_dir} is not under the ACE-Step working directory {root}: ACE-Step accepts datasets only "
            "under it (acestep/training/path_safety.py); export to a folder inside it, e.g. "
            f"{root / 'datasets' / out_dir.name}"
        )
    if root is None:
        result.warnings.append(
            f"{out_dir} is not inside an ACE-Step checkout, so audio_path in dataset.json is absolute; export "
            "into a folder under ACE-Step's working directory (e.g. ACE-Step-1.5/datasets/NAME) to make it "
            "relocatable and readable by ACE-Step versions that accept only paths under it"
        )
    audio_by_id = {s.id: s.path for s in discover_songs(audio_dir) if s.duplicate_of is None}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".songset-tmp", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    try:
        staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 would follow the folder into place
        staged = _build(files, audio_by_id, audio_dir, staging, out_dir, root, link, result)
        _write_dataset_files(staging, sidecars_dir, notice, name, staged)
        _move_into_place(staging, out_dir, previous, staged.written)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _build(
    files: list[Path],
    audio_by_id: dict[str, Path],
    audio_dir: Path,
    staging: Path,
    out_dir: Path,
    root: Path | None,
    link: bool,
    result: ExportResult,
) -> _Staged:
    """Every song's files into `staging`."""
    staged = _Staged()
    for path in files:
        stem = path.stem
        if not _SAFE_STEM.match(stem) or stem in (".", ".."):
            result.warnings.append(f"{path}: unsafe file stem, skipped")
            continue
        sidecar = Sidecar.model_validate(read_json(path))
        audio = audio_by_id.get(stem)
        if audio is None:
            raise ValueError(f"{path}: no audio for song {stem!r} under {audio_dir}")
        if sha256_file(audio) != sidecar.source.audio_sha256:
            raise ValueError(f"{audio}: audio changed since its sidecar was built (run `dvc repro`)")
        filename = f"{stem}{audio.suffix.lower()}"
        if _place(audio, staging / filename, link):
            result.linked += 1
        else:
            result.copied += 1
        if audio.suffix.lower() not in SCANNED_AUDIO:
            result.warnings.append(
                f"{filename}: ACE-Step's folder scan reads only {' '.join(sorted(SCANNED_AUDIO))}; "
                "it is listed in dataset.json but convert it for a folder scan"
            )
        shutil.copyfile(path, staging / f"{stem}.json")
        staged.written += [filename, f"{stem}.json"]
        lyrics = sung_lyrics(sidecar)
        if lyrics:
            atomic_write_text(staging / f"{stem}.lyrics.txt", lyrics.rstrip("\n") + "\n")
            staged.written.append(f"{stem}.lyrics.txt")
        staged.samples.append(acestep_sample(stem, sidecar, _audio_path(out_dir / filename, root), filename))
        if sidecar.source.attribution:
            staged.credits.append(f"{filename}\n  {sidecar.source.attribution}")
        if "sidecar" in sidecar.source.provenance:
            staged.created = max(staged.created, sidecar.source.provenance["sidecar"].created_at or "")
        result.songs.append(stem)
        _check_prompt(stem, sidecar, result)
    return staged


def _check_prompt(stem: str, sidecar: Sidecar, result: ExportResult) -> None:
    """Record the prompt ACE-Step builds for the song and warn where ACE-Step would cut or invent."""
    metas = Metas.of(sidecar)
    tokens = prompt_tokens(sidecar.caption, metas)
    lyric_tokens = lyrics_tokens(sung_lyrics(sidecar))
    result.prompts.append(SongPrompt(stem, text_prompt(sidecar.caption, metas), tokens, lyric_tokens))
    if tokens > TEXT_MAX_TOKENS:
        result.warnings.append(
            f"{stem}: ACE-Step's prompt is {tokens} tokens, over {TEXT_MAX_TOKENS}; it cuts the end, the metas "
            "(bpm, key, duration) first: shorten the caption"
        )
    if lyric_tokens > LYRICS_MAX_TOKENS:
        result.warnings.append(
            f"{stem}: lyrics are {lyric_tokens} tokens; ACE-Step trains on the first {LYRICS_MAX_TOKENS} only"
        )
    if vocals(sidecar) is None:
        result.warnings.append(
            f"{stem}: vocals unknown, so nothing is stated; ACE-Step's defaults take it as an instrumental "
            f"(state it in data/overrides/{stem}.yaml: lyrics, or language)"
        )
    elif vocals(sidecar) and not sung_lyrics(sidecar):
        result.warnings.append(
            f"{stem}: sung but no lyrics; ACE-Step trains it with `{INSTRUMENTAL_LYRICS}` as its lyrics "
            f"(add data/lyrics/{stem}.txt)"
        )


def _write_dataset_files(
    staging: Path, sidecars_dir: Path, notice: Path | None, name: str, staged: _Staged
) -> None:
    manifest_path = sidecars_dir / MANIFEST_NAME
    manifest = read_json(manifest_path) if manifest_path.is_file() else {}
    atomic_write_json(
        staging / "dataset.json",
        {
            "metadata": {
                "name": name,
                "custom_tag": "",
                "tag_position": "prepend",
                "created_at": staged.created,
                "num_samples": len(staged.samples),
                "all_instrumental": all(s.get("is_instrumental") is True for s in staged.samples),
                "genre_ratio": 0,
                "songset_git_revision": manifest.get("git_revision"),
                "songset_params_sha256": manifest.get("params_sha256"),
            },
            "samples": staged.samples,
        },
    )
    parts = [notice.read_text(encoding="utf-8").rstrip()] if notice and notice.is_file() else []
    parts.append(
        "Songs in this export and their credits:\n\n" + ("\n\n".join(staged.credits) or "(none given)")
    )
    atomic_write_text(staging / "NOTICE", "\n\n".join(parts) + "\n")
    atomic_write_text(staging / MARKER, "\n".join(sorted(staged.written)) + "\n")


def _move_into_place(staging: Path, out_dir: Path, previous: set[str], written: list[str]) -> None:
    """A new (or empty) folder is renamed into place whole; an earlier export is updated file by file
    (each a rename), its dropped songs removed, anything else in it left alone; the marker goes last."""
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    for stale in previous - set(written) - {"dataset.json", "NOTICE"}:
        if "/" not in stale and stale not in (".", ".."):
            (out_dir / stale).unlink(missing_ok=True)
    for name in [*written, "dataset.json", "NOTICE", MARKER]:
        os.replace(staging / name, out_dir / name)
