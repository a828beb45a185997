"""Finding songs and naming them: one id per song, safe as a file stem, never colliding."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from songset.io import sha256_text
from songset.storage import content_sha256, list_files

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aiff", ".aif", ".aac", ".webm"}
)
_UNSAFE = re.compile(r"[^\w.()+,-]+", re.UNICODE)


@dataclass(frozen=True)
class Song:
    id: str
    path: Path
    duplicate_of: Path | None = None  # byte-identical to this earlier file: skipped, and reported
    sha256: str | None = None  # of the file's bytes; None when it could not be read (the stage says why)


def safe_stem(stem: str) -> str:
    """A stem ACE-Step's loader and every shell can handle: no separators, no leading dash or dot."""
    cleaned = re.sub(r"\.{2,}", "_", _UNSAFE.sub("_", stem))
    cleaned = cleaned.strip("_.").lstrip("-.").strip("_") or "song"
    return cleaned[:150]


def discover_songs(audio_dir: Path) -> list[Song]:
    """Every audio file under `audio_dir` (a folder or an fsspec URL), recursively, ids unique across folders."""
    files = [(p, stamp) for p, stamp in list_files(audio_dir) if p.suffix.lower() in AUDIO_EXTENSIONS]
    return songs_from_paths([p for p, _ in files], root=audio_dir, stamps=[s for _, s in files])


def _content_hash(path: Path, stamp: dict[str, Any] | None = None) -> str | None:
    try:
        return content_sha256(path, stamp)
    except OSError:  # unreadable: the stage reports it
        return None


def songs_from_paths(
    paths: list[Path], root: Path | None = None, stamps: list[dict[str, Any]] | None = None
) -> list[Song]:
    """Ids are safe stems; stems shared by several files get a short content hash.

    A content hash (not the folder name) keeps an id stable when folders are renamed or reorganised, and
    two different recordings can never share one. Byte-identical files are the same song, whatever
    their names: the first one in path order is kept and the others are marked `duplicate_of` it (the
    same song twice in a training set weighs it double).
    """
    del root  # ids do not depend on where the files sit
    stamp_of = dict(zip(paths, stamps or [], strict=False))
    paths = list(dict.fromkeys(paths))  # one file named twice on a command line is one file
    hashes = [_content_hash(p, stamp_of.get(p)) for p in paths]
    stems = [safe_stem(p.stem) for p in paths]
    counts = Counter(stems)
    songs: list[Song] = []
    first_by_hash: dict[str, Path] = {}
    for path, stem, digest in zip(paths, stems, hashes, strict=True):
        tag = (digest or sha256_text(str(path)))[:8]
        song_id = f"{stem}-{tag}" if counts[stem] > 1 else stem
        if digest is not None and digest in first_by_hash:
            songs.append(Song(id=song_id, path=path, duplicate_of=first_by_hash[digest], sha256=digest))
            continue
        if digest is not None:
            first_by_hash[digest] = path
        songs.append(Song(id=song_id, path=path, sha256=digest))
    return songs


def select_songs(songs: list[Song], ids: list[str] | None = None, count: int | None = None) -> list[Song]:
    """The subset a run builds (`run.subset`): named ids, else the first `count` by id, else all."""
    if ids:
        known = {song.id: song for song in songs}
        missing = [song_id for song_id in ids if song_id not in known]
        if missing:
            raise ValueError(
                f"run.subset.songs names songs that are not in the audio folder: {', '.join(missing)}"
            )
        return [known[song_id] for song_id in dict.fromkeys(ids)]
    if count is not None:
        if count < 1:
            raise ValueError(f"run.subset.count must be at least 1, got {count}")
        return sorted(songs, key=lambda song: song.id)[:count]
    return songs
