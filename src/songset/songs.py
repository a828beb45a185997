"""Finding songs and naming them: one id per song, safe as a file stem, never colliding."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aiff", ".aif", ".aac", ".webm"}
)
_UNSAFE = re.compile(r"[^\w.()+,-]+", re.UNICODE)


@dataclass(frozen=True)
class Song:
    id: str
    path: Path


def safe_stem(stem: str) -> str:
    """A stem ACE-Step's loader and every shell can handle: no separators, no leading dash or dot."""
    cleaned = re.sub(r"\.{2,}", "_", _UNSAFE.sub("_", stem))
    cleaned = cleaned.strip("_.").lstrip("-.").strip("_") or "song"
    return cleaned[:150]


def discover_songs(audio_dir: Path) -> list[Song]:
    """Every audio file under `audio_dir`, recursively, with ids unique across folders."""
    if not audio_dir.is_dir():
        raise FileNotFoundError(f"audio folder {audio_dir} does not exist")
    paths = sorted(p for p in audio_dir.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    return songs_from_paths(paths, root=audio_dir)


def songs_from_paths(paths: list[Path], root: Path | None = None) -> list[Song]:
    stems = [safe_stem(p.stem) for p in paths]
    counts = Counter(stems)
    songs = []
    for path, stem in zip(paths, stems, strict=True):
        song_id = stem
        if counts[stem] > 1:
            # Same stem in two folders: qualify by the folder path so both survive.
            rel = path.relative_to(root) if root and path.is_relative_to(root) else path
            parent = safe_stem("_".join(rel.parent.parts)) if rel.parent.parts else "root"
            song_id = f"{parent}__{stem}"
        songs.append(Song(id=song_id, path=path))
    ids = Counter(s.id for s in songs)
    dupes = [i for i, n in ids.items() if n > 1]
    if dupes:
        raise ValueError(f"songs with the same id after naming: {', '.join(dupes)}")
    return songs
