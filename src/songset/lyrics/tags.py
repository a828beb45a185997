"""What an audio file declares in its own tags: lyrics (plain and synced), BPM, key, artist and title.

Producers' DAWs and DJ software write these; a declared value beats an estimate. A value that cannot be
read (`Am/C`, `unknown`, a BPM of `fast`, a corrupt tag block) is a warning naming the file and the tag,
and the value is ignored: it never fails the song.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import mutagen
from mutagen.id3 import ID3
from mutagen.mp4 import MP4FreeForm, MP4Tags
from pydantic import BaseModel, ConfigDict, Field

from songset.schemas import BPM_MAX, BPM_MIN, DeclaredValue, TimedLine
from songset.theory import parse_key_notation

# (field, tag as reported, raw value) in the order they are tried: the first readable one wins
Candidate = tuple[str, str, Any]

_SYLT_MILLISECONDS = 2  # ID3 SYLT time stamp format 2: absolute milliseconds (1 is MPEG frames)


class DeclaredTags(BaseModel):
    """The declared values of one file, each with the tag it came from; `warnings` name file and tag."""

    model_config = ConfigDict(extra="forbid")

    lyrics: DeclaredValue | None = None
    timed_lines: list[TimedLine] = Field(default_factory=list, description="SYLT synced lyrics")
    bpm: DeclaredValue | None = None
    keyscale: DeclaredValue | None = None
    artist: DeclaredValue | None = None
    title: DeclaredValue | None = None
    warnings: list[str] = Field(default_factory=list)


def _text(value: Any) -> str:
    if isinstance(value, MP4FreeForm | bytes):
        return bytes(value).decode("utf-8")
    return str(value)


def _id3(tags: ID3) -> list[Candidate]:
    out: list[Candidate] = []
    for frame in tags.getall("USLT"):
        out.append(("lyrics", "USLT", frame.text))
    for frame in tags.getall("SYLT"):
        out.append(("timed_lyrics", "SYLT", frame))
    for field, frame_id in (("bpm", "TBPM"), ("keyscale", "TKEY"), ("artist", "TPE1"), ("title", "TIT2")):
        for frame in tags.getall(frame_id):
            out.extend((field, frame_id, text) for text in frame.text[:1])
    return out


_VORBIS_FIELDS = (
    ("lyrics", ("LYRICS", "UNSYNCEDLYRICS")),
    ("bpm", ("BPM", "TEMPO")),
    ("keyscale", ("INITIALKEY", "KEY")),
    ("artist", ("ARTIST",)),
    ("title", ("TITLE",)),
)


def _vorbis(tags: Any) -> list[Candidate]:
    out: list[Candidate] = []
    for field, names in _VORBIS_FIELDS:
        for name in names:
            out.extend((field, name, value) for value in (tags.get(name) or [])[:1])
    return out


_MP4_FIELDS = (
    ("lyrics", "©lyr"),
    ("bpm", "tmpo"),
    ("keyscale", "----:com.apple.iTunes:initialkey"),
    ("artist", "©ART"),
    ("title", "©nam"),
)


def _mp4(tags: MP4Tags) -> list[Candidate]:
    out: list[Candidate] = []
    for field, name in _MP4_FIELDS:
        values = tags.get(name) or []
        if field == "bpm" and values and values[0] == 0:  # iTunes writes 0 for "no tempo"
            continue
        out.extend((field, name, value) for value in values[:1])
    return out


def _reader(tags: Any) -> Callable[[Any], list[Candidate]] | None:
    """The candidate reader for a tag container: ID3 (MP3, WAV, AIFF), MP4 atoms or Vorbis comments."""
    if isinstance(tags, ID3):
        return _id3
    if isinstance(tags, MP4Tags):
        return _mp4
    if hasattr(tags, "get") and hasattr(tags, "keys"):  # VCommentDict (Ogg Vorbis/Opus, FLAC), APEv2
        return _vorbis
    return None


# ---- value parsers: a ValueError says why the value is not usable ------------------------------------------


def parse_bpm(text: str) -> float:
    try:
        bpm = float(str(text).strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not BPM_MIN <= bpm <= BPM_MAX:
        raise ValueError(f"{bpm:g} is outside {BPM_MIN}-{BPM_MAX}")
    return round(bpm, 2)


def parse_key(text: str) -> str:
    """A declared key in ACE-Step's spelling (`Am` -> `A minor`, Camelot `8A`, Open Key `5d`...), read by the
    one parser of key notations (`theory.parse_key_notation`); ValueError for `Am/C`, `unknown`, `o`."""
    value = str(text).strip()
    key = parse_key_notation(value)
    if key is None:
        raise ValueError(f"{value!r} is not a key (e.g. Am, F#m, Db major, Camelot 8A, Open Key 5d)")
    return key


def _plain(text: str) -> str:
    value = str(text).strip()
    if not value:
        raise ValueError("empty")
    return value


def _sylt_lines(frame: Any) -> list[TimedLine]:
    if frame.format != _SYLT_MILLISECONDS:
        raise ValueError("time stamps in MPEG frames, not milliseconds")
    lines = [TimedLine(start=round(ms / 1000, 3), text=" ".join(text.split())) for text, ms in frame.text]
    lines = [line for line in lines if line.text]
    if not lines:
        raise ValueError("no text")
    return sorted(lines, key=lambda line: line.start)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "lyrics": _plain,
    "bpm": parse_bpm,
    "keyscale": parse_key,
    "artist": _plain,
    "title": _plain,
}


def read_declared(path: Path) -> DeclaredTags:
    """Every declared value of `path`; an unreadable file or tag block is one warning, never an error."""
    try:
        audio = mutagen.File(path)
    except Exception as exc:  # mutagen raises many error types for corrupt tag blocks
        return DeclaredTags(warnings=[f"{path}: tags unreadable ({type(exc).__name__}: {exc}); ignored"])
    tags = getattr(audio, "tags", None)
    reader = _reader(tags) if tags is not None else None
    if reader is None:
        return DeclaredTags()
    found: dict[str, Any] = {}
    warnings: list[str] = []
    for field, tag, raw in reader(tags):
        if field in found or (field == "timed_lyrics" and "timed_lines" in found):
            continue
        try:
            if field == "timed_lyrics":
                found["timed_lines"] = _sylt_lines(raw)
                found.setdefault(
                    "lyrics",
                    DeclaredValue(value="\n".join(line.text for line in found["timed_lines"]), tag=tag),
                )
                continue
            value = _PARSERS[field](_text(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            if str(exc) != "empty":
                warnings.append(f"{path}: tag {tag} {_text_or_repr(raw)}: {exc}; ignored")
            continue
        found[field] = DeclaredValue(value=value, tag=tag)
    return DeclaredTags(**found, warnings=warnings)


def _text_or_repr(raw: Any) -> str:
    try:
        return repr(_text(raw))[:80]
    except Exception:
        return "(unreadable)"
