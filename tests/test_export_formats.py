"""README "Export": ACE-Step's folder scan reads `.wav .mp3 .flac .ogg .opus`; other formats are exported
with a warning naming the file, and still listed in dataset.json for its trainer."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import clean_annotation, song_metadata, write_tone

from songset.export import ACESTEP_SCANNED, export_dataset
from songset.io import atomic_write_json, sha256_file
from songset.pipeline import RunOptions, run_sidecars


def project(root: Path, files: dict[str, str]) -> Path:
    """Sidecars for songs stored as `name -> suffix`; returns the data folder."""
    data = root / "data"
    for song, suffix in files.items():
        audio = write_tone(data / "audio" / f"{song}{suffix}", 11.0)
        atomic_write_json(data / "clean" / f"{song}.json", clean_annotation(song))
        meta = song_metadata(song, audio_file=audio.name, audio_sha256=sha256_file(audio))
        atomic_write_json(data / "metadata" / f"{song}.json", meta)
    run_sidecars(
        data / "clean",
        data / "metadata",
        data / "lyrics",
        data / "overrides",
        {},
        data / "sidecars",
        RunOptions(cache_dir=None),
    )
    return data


def test_the_scanned_formats_are_acesteps() -> None:
    """ACE-Step 1.5 acestep/training/dataset_builder.py scan_directory's extensions."""
    assert frozenset({".wav", ".mp3", ".flac", ".ogg", ".opus"}) == ACESTEP_SCANNED


def test_unscanned_format_is_exported_with_a_warning_naming_it(tmp_path: Path) -> None:
    data = project(tmp_path, {"scanned": ".wav", "apple": ".aiff", "upper": ".FLAC"})
    out = tmp_path / "export"
    result = export_dataset(data / "sidecars", data / "audio", out)
    assert sorted(result.songs) == ["apple", "scanned", "upper"]
    assert len(result.warnings) == 1, result.warnings
    warning = result.warnings[0]
    assert warning.startswith("apple.aiff: ") and "folder scan" in warning and ".opus" in warning
    assert (out / "apple.aiff").is_file() and (out / "upper.flac").is_file()
    samples = {s["id"]: s for s in json.loads((out / "dataset.json").read_text())["samples"]}
    assert samples["apple"]["filename"] == "apple.aiff"
    assert Path(samples["apple"]["audio_path"]) == (out / "apple.aiff").resolve()


def test_only_scanned_formats_export_without_warnings(tmp_path: Path) -> None:
    data = project(tmp_path, {"a": ".wav", "b": ".flac", "c": ".ogg"})
    result = export_dataset(data / "sidecars", data / "audio", tmp_path / "export")
    assert result.warnings == [] and len(result.songs) == 3
