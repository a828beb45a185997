"""README "Export": ACE-Step's folder scan reads `.wav .mp3 .flac .ogg .opus`; other formats are exported
with a warning naming the file, and still listed in dataset.json for its trainer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import build_sidecars, clean_annotation, song_metadata, write_tone

from songset.acestep import SCANNED_AUDIO
from songset.export import MARKER, export_dataset
from songset.io import atomic_write_json, sha256_file
from songset.validate import MANIFEST_NAME


def project(root: Path, files: dict[str, str]) -> Path:
    """Sidecars for songs stored as `name -> suffix`; returns the data folder."""
    data = root / "data"
    for index, (song, suffix) in enumerate(files.items()):
        # each song its own audio: byte-identical files are one song (the copy is skipped)
        audio = write_tone(data / "audio" / f"{song}{suffix}", 11.0, freq=220.0 + 55.0 * index)
        atomic_write_json(data / "clean" / f"{song}.json", clean_annotation(song))
        meta = song_metadata(song, audio_file=audio.name, audio_sha256=sha256_file(audio))
        atomic_write_json(data / "metadata" / f"{song}.json", meta)
    build_sidecars(data)
    return data


def in_acestep(root: Path) -> Path:
    """An export folder inside an ACE-Step working directory (where ACE-Step accepts datasets)."""
    (root / "acestep" / "training").mkdir(parents=True, exist_ok=True)
    return root / "datasets" / "export"


def test_the_scanned_formats_are_acesteps() -> None:
    """ACE-Step 1.5 acestep/training/dataset_builder.py scan_directory's extensions."""
    assert frozenset({".wav", ".mp3", ".flac", ".ogg", ".opus"}) == SCANNED_AUDIO


def test_unscanned_format_is_exported_with_a_warning_naming_it(tmp_path: Path) -> None:
    data = project(tmp_path, {"scanned": ".wav", "apple": ".aiff", "upper": ".FLAC"})
    out = in_acestep(tmp_path)
    result = export_dataset(data / "sidecars", data / "audio", out)
    assert sorted(result.songs) == ["apple", "scanned", "upper"]
    assert len(result.warnings) == 1, result.warnings
    warning = result.warnings[0]
    assert warning.startswith("apple.aiff: ") and "folder scan" in warning and ".opus" in warning
    assert (out / "apple.aiff").is_file() and (out / "upper.flac").is_file()
    samples = {s["id"]: s for s in json.loads((out / "dataset.json").read_text())["samples"]}
    assert samples["apple"]["filename"] == "apple.aiff"
    assert samples["apple"]["audio_path"] == "datasets/export/apple.aiff"  # relative to ACE-Step's root


def test_only_scanned_formats_export_without_warnings(tmp_path: Path) -> None:
    data = project(tmp_path, {"a": ".wav", "b": ".flac", "c": ".ogg"})
    result = export_dataset(data / "sidecars", data / "audio", in_acestep(tmp_path))
    assert result.warnings == [] and len(result.songs) == 3


def test_samples_hold_songset_values_under_the_builders_names_and_its_empty_defaults(tmp_path: Path) -> None:
    """A vocal song with every value known, and one with nothing known beyond caption and duration."""
    data = tmp_path / "data"
    for song, freq in (("known", 220.0), ("unknown", 330.0)):
        audio = write_tone(data / "audio" / f"{song}.wav", 11.0, freq=freq)
        vocal = song == "known"
        clean = clean_annotation(
            song,
            vocal_presence="vocal" if vocal else "unknown",
            vocal_language="en" if vocal else None,
            tags={"genre": ["jazz", "swing"] if vocal else []},
        )
        atomic_write_json(data / "clean" / f"{song}.json", clean)
        meta = song_metadata(song, audio_file=audio.name, audio_sha256=sha256_file(audio))
        if not vocal:
            meta = meta.model_copy(update={"bpm": None, "keyscale": None, "timesignature": None})
        atomic_write_json(data / "metadata" / f"{song}.json", meta)
    (data / "lyrics").mkdir()
    (data / "lyrics" / "known.txt").write_text("[Verse]\nla la la\n")
    build_sidecars(data)
    out = in_acestep(tmp_path)
    export_dataset(data / "sidecars", data / "audio", out)
    samples = {s["id"]: s for s in json.loads((out / "dataset.json").read_text())["samples"]}
    caption = clean_annotation().caption
    assert samples["known"] == {
        "id": "known",
        "audio_path": "datasets/export/known.wav",
        "filename": "known.wav",
        "caption": caption,
        "genre": "jazz, swing",
        "lyrics": "[Verse]\nla la la",
        "raw_lyrics": "[Verse]\nla la la",
        "bpm": 122,
        "keyscale": "F# minor",
        "timesignature": "4",
        "duration": 95,  # ACE-Step's AudioSample.duration is an int; generation renders int(duration)
        "language": "en",
        "is_instrumental": False,
        "labeled": True,
    }
    # nothing known beyond caption and duration: nothing is stated (unknown values are left out, never
    # placeholders), so the builder's own defaults apply
    assert samples["unknown"] == {
        "id": "unknown",
        "audio_path": "datasets/export/unknown.wav",
        "filename": "unknown.wav",
        "caption": caption,
        "duration": 95,
        "labeled": True,
    }
    metadata = json.loads((out / "dataset.json").read_text())["metadata"]
    assert metadata["num_samples"] == 2 and metadata["all_instrumental"] is False


def test_copy_mode_copies_and_counts_copies(tmp_path: Path) -> None:
    data = project(tmp_path, {"a": ".wav", "b": ".flac"})
    result = export_dataset(data / "sidecars", data / "audio", tmp_path / "export", link=False)
    assert (result.linked, result.copied) == (0, 2)
    assert os.stat(tmp_path / "export" / "a.wav").st_ino != os.stat(data / "audio" / "a.wav").st_ino
    linked = export_dataset(data / "sidecars", data / "audio", tmp_path / "linked")
    assert (linked.linked, linked.copied) == (2, 0)
    assert os.stat(tmp_path / "linked" / "a.wav").st_ino == os.stat(data / "audio" / "a.wav").st_ino


def test_export_creates_nested_folders_and_names_the_dataset_songset_by_default(tmp_path: Path) -> None:
    data = project(tmp_path, {"a": ".wav"})
    out = tmp_path / "new" / "nested" / "export"
    export_dataset(data / "sidecars", data / "audio", out)
    assert json.loads((out / "dataset.json").read_text())["metadata"]["name"] == "songset"


def test_nothing_to_export_says_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "sidecars").mkdir()
    with pytest.raises(ValueError) as err:
        export_dataset(tmp_path / "sidecars", tmp_path, tmp_path / "out")
    assert (
        str(err.value)
        == f"{tmp_path / 'sidecars'}: no sidecars to export (run `dvc repro` or `dvc pull` first)"
    )


def test_unscanned_format_warning_word_for_word(tmp_path: Path) -> None:
    data = project(tmp_path, {"apple": ".aiff"})
    result = export_dataset(data / "sidecars", data / "audio", in_acestep(tmp_path))
    assert result.warnings == [
        "apple.aiff: ACE-Step's folder scan reads only .flac .mp3 .ogg .opus .wav; "
        "it is listed in dataset.json but convert it for a folder scan"
    ]


def test_unsafe_stem_is_skipped_with_a_warning_and_the_rest_export(tmp_path: Path) -> None:
    data = project(tmp_path, {"a": ".wav", "b": ".wav"})
    (data / "sidecars" / "a.json").rename(data / "sidecars" / "a bad.json")
    result = export_dataset(data / "sidecars", data / "audio", in_acestep(tmp_path))
    assert result.songs == ["b"]
    assert result.warnings == [f"{data / 'sidecars' / 'a bad.json'}: unsafe file stem, skipped"]


def test_missing_audio_names_the_sidecar_song_and_folder(tmp_path: Path) -> None:
    data = project(tmp_path, {"a": ".wav"})
    (data / "audio" / "a.wav").unlink()
    with pytest.raises(ValueError) as err:
        export_dataset(data / "sidecars", data / "audio", tmp_path / "export")
    assert str(err.value) == f"{data / 'sidecars' / 'a.json'}: no audio for song 'a' under {data / 'audio'}"


def test_an_unchanged_dataset_exports_to_identical_bytes(tmp_path: Path) -> None:
    """No clock in the export: sidecars carry no creation time (timings live in reports/stages/), so the
    same sidecars give the same dataset.json, and DVC sees no change."""
    data = project(tmp_path, {"a": ".wav", "b": ".wav"})
    first, second = in_acestep(tmp_path), tmp_path / "datasets" / "again"
    export_dataset(data / "sidecars", data / "audio", first)
    export_dataset(data / "sidecars", data / "audio", second)
    one = json.loads((first / "dataset.json").read_text())
    two = json.loads((second / "dataset.json").read_text())
    assert one["metadata"] == two["metadata"]
    assert [{**s, "audio_path": ""} for s in one["samples"]] == [
        {**s, "audio_path": ""} for s in two["samples"]
    ]


def test_a_tampered_export_marker_never_removes_anything_outside_the_folder(tmp_path: Path) -> None:
    data = project(tmp_path, {"a": ".wav"})
    out = tmp_path / "export"
    export_dataset(data / "sidecars", data / "audio", out)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / MARKER).write_text("../victim.txt\n.\n..\nold.wav\n")
    (out / "old.wav").write_bytes(b"left over")
    export_dataset(data / "sidecars", data / "audio", out)
    assert victim.read_text() == "keep me" and not (out / "old.wav").exists()


def test_dataset_metadata_and_notice_word_for_word(tmp_path: Path) -> None:
    data = project(tmp_path, {"a": ".wav", "b": ".wav"})
    manifest_path = data / "sidecars" / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest.update(git_revision="f" * 40, params_sha256="e" * 64)
    manifest_path.write_text(json.dumps(manifest))
    notice = tmp_path / "NOTICE"
    notice.write_text("songset\nproject notice\n\n\n")
    out = tmp_path / "export"
    export_dataset(data / "sidecars", data / "audio", out, notice=notice, name="my-style")
    metadata = json.loads((out / "dataset.json").read_text())["metadata"]
    del metadata["created_at"]
    assert metadata == {
        "name": "my-style",
        "custom_tag": "",
        "tag_position": "prepend",
        "num_samples": 2,
        "all_instrumental": True,
        "genre_ratio": 0,
        "songset_git_revision": "f" * 40,
        "songset_params_sha256": "e" * 64,
    }
    assert (out / "NOTICE").read_text() == (
        "songset\nproject notice\n\nSongs in this export and their credits:\n\n(none given)\n"
    )
    # instrumentals get no lyrics file: any lyrics file makes ACE-Step's scan call the song vocal
    assert (out / MARKER).read_text() == "a.json\na.wav\nb.json\nb.wav\n"


def test_without_a_manifest_or_notice_the_export_still_builds(tmp_path: Path) -> None:
    data = project(tmp_path, {"a": ".wav"})
    (data / "sidecars" / MANIFEST_NAME).unlink()
    out = tmp_path / "export"
    (out).mkdir()
    (out / MARKER).write_text("gone.wav\n")  # listed by an earlier export, deleted by hand since
    export_dataset(data / "sidecars", data / "audio", out, notice=tmp_path / "no-such-NOTICE")
    metadata = json.loads((out / "dataset.json").read_text())["metadata"]
    assert metadata["songset_git_revision"] is None and metadata["songset_params_sha256"] is None
    assert (out / "NOTICE").read_text() == "Songs in this export and their credits:\n\n(none given)\n"
