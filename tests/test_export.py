"""`songset export`: the folder layout ACE-Step 1.5's dataset builder scans, its dataset.json, NOTICE."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import clean_annotation, song_metadata, write_tone

from songset.cli import main
from songset.export import export_dataset
from songset.io import atomic_write_json, sha256_file
from songset.pipeline import RunOptions, run_sidecars

# AudioSample fields of ACE-Step 1.5's acestep/training/dataset_builder.py, and the formats it scans.
ACESTEP_SAMPLE_FIELDS = {
    "id", "audio_path", "filename", "caption", "genre", "lyrics", "raw_lyrics", "formatted_lyrics", "bpm",
    "keyscale", "timesignature", "duration", "language", "is_instrumental", "custom_tag", "labeled",
    "prompt_override",
}  # fmt: skip
ACESTEP_METADATA_FIELDS = {
    "name",
    "custom_tag",
    "tag_position",
    "created_at",
    "num_samples",
    "all_instrumental",
}
SCANNED = {".wav", ".mp3", ".flac", ".ogg", ".opus"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Audio in a subfolder, sidecars built from it, lyrics for one song, a credit for the other."""
    data = tmp_path / "data"
    for song, sub, freq in (("alpha", "a", 440.0), ("beta", "b/c", 330.0)):  # two songs, not one copied
        audio = write_tone(data / "audio" / sub / f"{song}.wav", 11.0, freq=freq)
        atomic_write_json(data / "clean" / f"{song}.json", clean_annotation(song))
        meta = song_metadata(song, audio_file=audio.name, audio_sha256=sha256_file(audio))
        atomic_write_json(data / "metadata" / f"{song}.json", meta)
    (data / "lyrics").mkdir()
    (data / "lyrics" / "alpha.txt").write_text("[Verse]\nla la la\n")
    run_sidecars(
        data / "clean",
        data / "metadata",
        data / "lyrics",
        data / "overrides",
        {},
        data / "sidecars",
        RunOptions(cache_dir=None),
        attributions={"beta.wav": "Beta by Someone, CC BY 4.0"},
        lineage={"params_sha256": "c" * 64},
    )
    (tmp_path / "NOTICE").write_text("songset\n=======\nproject notice\n")
    return tmp_path


def export(project: Path, out: Path, **kw: object) -> object:
    data = project / "data"
    return export_dataset(data / "sidecars", data / "audio", out, notice=project / "NOTICE", **kw)  # type: ignore[arg-type]


def test_layout_is_what_the_acestep_builder_scans(project: Path) -> None:
    out = project / "export"
    result = export(project, out)
    assert sorted(p.name for p in out.iterdir()) == [
        ".songset-export", "NOTICE", "alpha.json", "alpha.lyrics.txt", "alpha.wav", "beta.json",
        "beta.lyrics.txt", "beta.wav",
        "dataset.json",
    ]  # fmt: skip
    # What ACE-Step's scan does: walk for audio, then look beside each file for the same stem.
    audio = sorted(p for p in out.iterdir() if p.suffix in SCANNED)
    assert [p.stem for p in audio] == ["alpha", "beta"]
    for path in audio:
        assert (
            path.with_suffix(".json").read_bytes()
            == (project / "data" / "sidecars" / f"{path.stem}.json").read_bytes()
        )
    assert (out / "alpha.lyrics.txt").read_text() == "[Verse]\nla la la\n"
    assert (out / "beta.lyrics.txt").read_text() == "[Instrumental]\n"
    assert os.stat(out / "alpha.wav").st_ino == os.stat(project / "data" / "audio" / "a" / "alpha.wav").st_ino
    assert result.linked == 2  # type: ignore[attr-defined]

    dataset = json.loads((out / "dataset.json").read_text())
    assert set(dataset["metadata"]) >= ACESTEP_METADATA_FIELDS and dataset["metadata"]["num_samples"] == 2
    samples = {s["id"]: s for s in dataset["samples"]}
    assert all(set(s) == ACESTEP_SAMPLE_FIELDS for s in samples.values())
    assert Path(samples["alpha"]["audio_path"]) == (out / "alpha.wav").resolve()
    assert samples["alpha"]["lyrics"] == "[Verse]\nla la la" and not samples["alpha"]["is_instrumental"]
    assert samples["beta"]["lyrics"] == "[Instrumental]" and samples["beta"]["is_instrumental"]
    assert samples["beta"]["bpm"] == 122 and samples["beta"]["keyscale"] == "F# minor"

    notice = (out / "NOTICE").read_text()
    assert "project notice" in notice and "beta.wav\n  Beta by Someone, CC BY 4.0" in notice


def test_reexport_drops_removed_songs_and_is_byte_stable(project: Path) -> None:
    out = project / "export"
    export(project, out)
    first = (out / "dataset.json").read_bytes()
    export(project, out)
    assert (out / "dataset.json").read_bytes() == first  # same dataset, same bytes
    for name in ("alpha.json", "alpha.lyrics.txt"):  # alpha leaves the dataset
        (project / "data" / "sidecars" / name).unlink()
    export(project, out, link=False)
    assert not (out / "alpha.wav").exists() and not (out / "alpha.json").exists()
    assert (out / "beta.wav").exists()
    export(project, out)
    assert json.loads((out / "dataset.json").read_text())["metadata"]["num_samples"] == 1
    assert first != (out / "dataset.json").read_bytes()


def test_refuses_changed_audio_and_foreign_folders(project: Path) -> None:
    foreign = project / "somewhere"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a songset export"):
        export(project, foreign)
    write_tone(project / "data" / "audio" / "a" / "alpha.wav", 12.0, freq=330.0)
    with pytest.raises(ValueError, match="audio changed since its sidecar was built"):
        export(project, project / "fresh")


def test_cli_export(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    assert main(["export", "out", "--sidecars", "data/sidecars", "--audio", "data/audio", "--copy"]) == 0
    assert "exported 2 songs" in capsys.readouterr().err
    assert os.stat("out/beta.wav").st_ino != os.stat("data/audio/b/c/beta.wav").st_ino
