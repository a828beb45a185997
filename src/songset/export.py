"""`songset export DIR`: the folder ACE-Step 1.5 reads, with attribution travelling beside the audio.

Layout (one flat folder, every file of a song sharing its safe stem):

    DIR/<stem><ext>          the audio, hard-linked when DIR is on the same filesystem, else copied
    DIR/<stem>.json          the sidecar, byte for byte as validated in data/sidecars/
    DIR/<stem>.lyrics.txt    lyrics, when the sidecar has them
    DIR/dataset.json         ACE-Step's dataset file for its trainer
    DIR/NOTICE               the project NOTICE plus every song's credit line

`dataset.json` follows ACE-Step 1.5's `acestep/training/dataset_builder.py`: `DatasetBuilder.save_dataset`
writes `{"metadata": DatasetMetadata.to_dict(), "samples": [AudioSample.to_dict(), ...]}`, with metadata
fields `name, custom_tag, tag_position, created_at, num_samples, all_instrumental, genre_ratio` and sample
fields `id, audio_path, filename, caption, genre, lyrics, raw_lyrics, formatted_lyrics, bpm, keyscale,
timesignature, duration, language, is_instrumental, custom_tag, labeled, prompt_override`; `load_dataset`
drops unknown keys (`AudioSample.from_dict`), and `scan_directory` walks the folder for
`.wav .mp3 .flac .ogg .opus` files. Unknown values are written as the builder's own empty defaults
("" / null), which it treats as "not given".
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from songset.io import atomic_write_json, atomic_write_text, read_json, sha256_file
from songset.schemas import INSTRUMENTAL_LYRICS, Sidecar
from songset.songs import discover_songs

ACESTEP_SCANNED = frozenset({".wav", ".mp3", ".flac", ".ogg", ".opus"})
MARKER = ".songset-export"  # lists what the last export wrote, so a re-export removes dropped songs
_SAFE_STEM = re.compile(r"^[\w()+,-][\w.()+,-]*$")


@dataclass
class ExportResult:
    songs: list[str] = field(default_factory=list)
    linked: int = 0
    copied: int = 0
    warnings: list[str] = field(default_factory=list)


def _place(source: Path, target: Path, link: bool) -> bool:
    """Hard-link (free, same bytes) when allowed and possible, else copy; True when linked."""
    target.unlink(missing_ok=True)
    if link:
        try:
            os.link(source, target)
            return True
        except OSError:
            pass
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copy2(source, tmp)
    os.replace(tmp, target)
    return False


def acestep_sample(stem: str, sidecar: Sidecar, audio: Path) -> dict[str, Any]:
    """One `AudioSample` as ACE-Step's builder saves it; songset's values, the builder's field names."""
    lyrics = sidecar.lyrics or INSTRUMENTAL_LYRICS
    instrumental = lyrics.strip() == INSTRUMENTAL_LYRICS
    return {
        "id": stem,
        "audio_path": str(audio.resolve()),
        "filename": audio.name,
        "caption": sidecar.caption,
        "genre": ", ".join(sidecar.source.tags.genre),
        "lyrics": lyrics,
        "raw_lyrics": "" if instrumental else lyrics,
        "formatted_lyrics": "",
        "bpm": sidecar.bpm,
        "keyscale": sidecar.keyscale or "",
        "timesignature": sidecar.timesignature or "",
        "duration": sidecar.duration,
        "language": sidecar.language or "unknown",
        "is_instrumental": instrumental,
        "custom_tag": "",
        "labeled": True,
        "prompt_override": None,
    }


def _previous_files(out_dir: Path) -> set[str]:
    marker = out_dir / MARKER
    return set(marker.read_text(encoding="utf-8").split("\n")) - {""} if marker.is_file() else set()


def export_dataset(
    sidecars_dir: Path,
    audio_dir: Path,
    out_dir: Path,
    *,
    notice: Path | None = None,
    name: str = "songset",
    link: bool = True,
    force: bool = False,
) -> ExportResult:
    """Write the ACE-Step folder; the audio is checked against the sha256 each sidecar was built from."""
    files = sorted(p for p in sidecars_dir.glob("*.json") if p.name != "dataset.json")
    if not files:
        raise ValueError(f"{sidecars_dir}: no sidecars to export (run `dvc repro` or `dvc pull` first)")
    previous = _previous_files(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not previous and not force:
        raise ValueError(f"{out_dir} is not empty and is not a songset export; pass --force to write into it")
    audio_by_id = {s.id: s.path for s in discover_songs(audio_dir) if s.duplicate_of is None}
    out_dir.mkdir(parents=True, exist_ok=True)

    result = ExportResult()
    written: list[str] = []
    samples: list[dict[str, Any]] = []
    credits: list[str] = []
    created = ""  # the newest sidecar's time, so an unchanged dataset exports to identical bytes
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
        target = out_dir / f"{stem}{audio.suffix.lower()}"
        if _place(audio, target, link):
            result.linked += 1
        else:
            result.copied += 1
        if target.suffix not in ACESTEP_SCANNED:
            result.warnings.append(
                f"{target.name}: ACE-Step's folder scan reads only {' '.join(sorted(ACESTEP_SCANNED))}; "
                "it is listed in dataset.json but convert it for a folder scan"
            )
        shutil.copyfile(path, out_dir / f"{stem}.json")
        names = [target.name, f"{stem}.json"]
        lyrics_src = sidecars_dir / f"{stem}.lyrics.txt"
        lyrics_dst = out_dir / f"{stem}.lyrics.txt"
        if lyrics_src.is_file():
            shutil.copyfile(lyrics_src, lyrics_dst)
            names.append(lyrics_dst.name)
        else:
            lyrics_dst.unlink(missing_ok=True)
        written += names
        samples.append(acestep_sample(stem, sidecar, target))
        if sidecar.source.attribution:
            credits.append(f"{target.name}\n  {sidecar.source.attribution}")
        result.songs.append(stem)
        if "sidecar" in sidecar.source.provenance:
            created = max(created, sidecar.source.provenance["sidecar"].created_at or "")

    for stale in previous - set(written) - {"dataset.json", "NOTICE"}:
        if "/" not in stale and stale not in (".", ".."):
            (out_dir / stale).unlink(missing_ok=True)

    manifest = read_json(sidecars_dir / "dataset.json") if (sidecars_dir / "dataset.json").is_file() else {}
    atomic_write_json(
        out_dir / "dataset.json",
        {
            "metadata": {
                "name": name,
                "custom_tag": "",
                "tag_position": "prepend",
                "created_at": created,
                "num_samples": len(samples),
                "all_instrumental": all(s["is_instrumental"] for s in samples),
                "genre_ratio": 0,
                "songset_git_revision": manifest.get("git_revision"),
                "songset_params_sha256": manifest.get("params_sha256"),
            },
            "samples": samples,
        },
    )
    parts = [notice.read_text(encoding="utf-8").rstrip()] if notice and notice.is_file() else []
    parts.append("Songs in this export and their credits:\n\n" + ("\n\n".join(credits) or "(none given)"))
    atomic_write_text(out_dir / "NOTICE", "\n\n".join(parts) + "\n")
    atomic_write_text(out_dir / MARKER, "\n".join(sorted(written)) + "\n")
    return result
