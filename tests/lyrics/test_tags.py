"""Declared values read from each tag kind of real files (MP3/ID3, FLAC, Ogg Vorbis, Opus, M4A)."""

from __future__ import annotations

from pathlib import Path

import mutagen
import pytest
from audio_files import write_audio
from mutagen.id3 import ID3, SYLT, TBPM, TIT2, TKEY, TPE1, USLT
from mutagen.mp4 import MP4FreeForm

from songset.lyrics.tags import parse_bpm, parse_key, read_declared


def _mp3(tmp_path: Path, *frames: object) -> Path:
    path = write_audio(tmp_path / "song.mp3")
    tags = ID3()
    for frame in frames:
        tags.add(frame)
    tags.save(path)
    return path


def test_id3_lyrics_bpm_key_artist_title(tmp_path: Path) -> None:
    path = _mp3(
        tmp_path,
        USLT(encoding=3, lang="eng", desc="", text="First line\nSecond line"),
        TBPM(encoding=3, text=["128"]),
        TKEY(encoding=3, text=["F#m"]),
        TPE1(encoding=3, text=["Karissa Hobbs"]),
        TIT2(encoding=3, text=["Let's Go Fishin'"]),
    )
    declared = read_declared(path)
    assert declared.lyrics is not None and declared.lyrics.tag == "USLT"
    assert declared.lyrics.value == "First line\nSecond line"
    assert (declared.bpm.value, declared.bpm.tag) == (128.0, "TBPM")
    assert (declared.keyscale.value, declared.keyscale.tag) == ("F# minor", "TKEY")
    assert (declared.artist.value, declared.title.value) == ("Karissa Hobbs", "Let's Go Fishin'")
    assert declared.warnings == []


def test_id3_synced_lyrics_keep_their_times(tmp_path: Path) -> None:
    sylt = SYLT(encoding=3, lang="eng", format=2, type=1, text=[("Hello there", 1500), ("Goodbye now", 4250)])
    declared = read_declared(_mp3(tmp_path, sylt))
    assert [(line.start, line.text) for line in declared.timed_lines] == [
        (1.5, "Hello there"),
        (4.25, "Goodbye now"),
    ]
    assert declared.lyrics.tag == "SYLT"


@pytest.mark.parametrize("suffix", [".flac", ".ogg", ".opus"])
@pytest.mark.parametrize("lyrics_tag", ["LYRICS", "UNSYNCEDLYRICS"])
def test_vorbis_comments(tmp_path: Path, suffix: str, lyrics_tag: str) -> None:
    path = write_audio(tmp_path / f"song{suffix}")
    audio = mutagen.File(path)
    audio[lyrics_tag] = "Sung words here"
    audio["BPM"] = "97.5"
    audio["INITIALKEY"] = "8A"
    audio["ARTIST"] = "Someone"
    audio.save()
    declared = read_declared(path)
    assert (declared.lyrics.value, declared.lyrics.tag) == ("Sung words here", lyrics_tag)
    assert declared.bpm.value == 97.5
    assert (declared.keyscale.value, declared.keyscale.tag) == ("A minor", "INITIALKEY")
    assert declared.artist.value == "Someone"


def test_vorbis_tempo_and_key_fallback_names(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "song.flac")
    audio = mutagen.File(path)
    audio["TEMPO"] = "140"
    audio["KEY"] = "5d"
    audio.save()
    declared = read_declared(path)
    assert (declared.bpm.value, declared.bpm.tag) == (140.0, "TEMPO")
    assert (declared.keyscale.value, declared.keyscale.tag) == ("E major", "KEY")


def test_mp4_atoms(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "song.m4a")
    audio = mutagen.File(path)
    audio["©lyr"] = ["Line one\nLine two"]
    audio["tmpo"] = [122]
    audio["----:com.apple.iTunes:initialkey"] = [MP4FreeForm(b"Dbmaj")]
    audio["©ART"] = ["Band"]
    audio["©nam"] = ["Tune"]
    audio.save()
    declared = read_declared(path)
    assert (declared.lyrics.value, declared.lyrics.tag) == ("Line one\nLine two", "©lyr")
    assert (declared.bpm.value, declared.bpm.tag) == (122.0, "tmpo")
    assert declared.keyscale.value == "Db major"
    assert (declared.artist.value, declared.title.value) == ("Band", "Tune")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Am", "A minor"),
        ("F#m", "F# minor"),
        ("Dbmaj", "Db major"),
        ("C", "C major"),
        ("Bbm", "Bb minor"),
        ("E minor", "E minor"),
        ("g# Minor", "G# minor"),
        ("8A", "A minor"),
        ("8B", "C major"),
        ("1A", "G# minor"),
        ("12B", "E major"),
        ("1d", "C major"),
        ("1m", "A minor"),
        ("5d", "E major"),
        (
            "Cb",
            "Cb major",
        ),  # a written note keeps its spelling (theory.parse_key_notation); ACE-Step accepts it
    ],
)
def test_key_notations(text: str, expected: str) -> None:
    assert parse_key(text) == expected


@pytest.mark.parametrize("text", ["Am/C", "unknown", "o", "13A", "H minor", ""])
def test_unreadable_keys_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_key(text)


@pytest.mark.parametrize("text", ["fast", "0", "900"])
def test_unreadable_bpm_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bpm(text)


def test_bad_values_are_warnings_naming_file_and_tag(tmp_path: Path) -> None:
    path = _mp3(
        tmp_path,
        TKEY(encoding=3, text=["Am/C"]),
        TBPM(encoding=3, text=["fast"]),
        TPE1(encoding=3, text=["A"]),
    )
    declared = read_declared(path)
    assert declared.keyscale is None and declared.bpm is None
    assert declared.artist.value == "A"  # the good tag is still read
    assert any(str(path) in w and "TKEY" in w and "Am/C" in w for w in declared.warnings)
    assert any(str(path) in w and "TBPM" in w for w in declared.warnings)


def test_corrupt_tag_block_is_a_warning(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "song.flac")
    data = bytearray(path.read_bytes())
    data[4:12] = b"\xff" * 8  # the first metadata block header: a length past the end of the file
    path.write_bytes(bytes(data))
    declared = read_declared(path)
    assert declared.lyrics is None
    assert len(declared.warnings) == 1 and str(path) in declared.warnings[0]


def test_untagged_and_unknown_files_declare_nothing(tmp_path: Path) -> None:
    assert read_declared(write_audio(tmp_path / "plain.mp3")).model_dump(exclude_defaults=True) == {}
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    assert read_declared(text).lyrics is None
