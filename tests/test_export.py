"""`songset export`: the folder layout ACE-Step 1.5's dataset builder scans, its dataset.json, NOTICE."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import build_sidecars, clean_annotation, song_metadata, write_tone

from songset.cli import main
from songset.export import export_dataset
from songset.io import atomic_write_json, sha256_file

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
    build_sidecars(
        data, attributions={"beta.wav": "Beta by Someone, CC BY 4.0"}, lineage={"params_sha256": "c" * 64}
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
        ".songset-export", "NOTICE", "alpha.json", "alpha.lyrics.txt", "alpha.wav", "beta.json", "beta.wav",
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
    # beta is an instrumental: no lyrics file, which ACE-Step's scan would take for a sung song
    assert os.stat(out / "alpha.wav").st_ino == os.stat(project / "data" / "audio" / "a" / "alpha.wav").st_ino
    assert result.linked == 2  # type: ignore[attr-defined]

    dataset = json.loads((out / "dataset.json").read_text())
    assert set(dataset["metadata"]) >= ACESTEP_METADATA_FIELDS and dataset["metadata"]["num_samples"] == 2
    samples = {s["id"]: s for s in dataset["samples"]}
    assert all(set(s) <= ACESTEP_SAMPLE_FIELDS for s in samples.values())
    # Not under an ACE-Step checkout: the path stays absolute, and the user is told where to export.
    assert Path(samples["alpha"]["audio_path"]) == (out / "alpha.wav").resolve()
    assert any("not inside an ACE-Step checkout" in w for w in result.warnings)  # type: ignore[attr-defined]
    assert samples["alpha"]["duration"] == 95 and isinstance(samples["alpha"]["duration"], int)
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


def test_export_after_a_failed_export(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """22.7: the export fails half way (beta's audio changed); the user restores the audio and runs it again."""
    monkeypatch.chdir(project)
    args = ["export", "out", "--sidecars", "data/sidecars", "--audio", "data/audio", "--copy"]
    beta = Path("data/audio/b/c/beta.wav")
    original = beta.read_bytes()
    write_tone(beta, 12.0, freq=330.0)
    assert main(args) == 2
    assert "audio changed since its sidecar was built" in capsys.readouterr().err
    assert not Path("out").exists()  # nothing half-built is left where the export goes
    assert not [p for p in project.iterdir() if p.name.startswith(".out.")]  # nor beside it
    beta.write_bytes(original)
    assert main(args) == 0  # no --force needed
    assert json.loads(Path("out/dataset.json").read_text())["metadata"]["num_samples"] == 2
    # An existing export that fails to update is left exactly as it was.
    before = {p.name: p.read_bytes() for p in Path("out").iterdir()}
    write_tone(beta, 12.0, freq=330.0)
    assert main(args) == 2
    assert {p.name: p.read_bytes() for p in Path("out").iterdir()} == before


def test_export_under_acestep_is_relocatable_and_shows_prompts(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user exports into ACE-Step's datasets folder, reads the prompts, then moves the ACE-Step checkout."""
    monkeypatch.chdir(project)
    (project / "ACE-Step-1.5" / "acestep" / "training").mkdir(parents=True)
    args = ["export", "ACE-Step-1.5/datasets/mine", "--sidecars", "data/sidecars", "--audio", "data/audio"]
    assert main([*args, "--show-prompts"]) == 0
    out = capsys.readouterr().out
    assert "== alpha: prompt " in out and "# Metas\n- bpm: 122\n" in out and "- duration: 95 seconds\n" in out
    samples = json.loads(Path("ACE-Step-1.5/datasets/mine/dataset.json").read_text())["samples"]
    assert [s["audio_path"] for s in samples] == ["datasets/mine/alpha.wav", "datasets/mine/beta.wav"]
    os.rename("ACE-Step-1.5", "moved")  # ACE-Step resolves audio_path against its working directory
    assert all((project / "moved" / s["audio_path"]).is_file() for s in samples)
    elsewhere = project / "not-acestep"
    assert main(["export", str(elsewhere / "x"), "--acestep-root", "moved", "--sidecars", "data/sidecars",
                 "--audio", "data/audio"]) == 2  # fmt: skip
    assert "not under the ACE-Step working directory" in capsys.readouterr().err


def test_unknown_vocals_are_not_exported_as_instrumental(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """22.3: the annotation could not tell whether gamma is sung; the user exports and reads dataset.json."""
    data = project / "data"
    audio = write_tone(data / "audio" / "gamma.wav", 11.0, freq=523.0)  # its own audio, not a copy
    atomic_write_json(data / "clean" / "gamma.json", clean_annotation("gamma", vocal_presence="unknown"))
    meta = song_metadata("gamma", audio_file=audio.name, audio_sha256=sha256_file(audio))
    atomic_write_json(data / "metadata" / "gamma.json", meta)
    build_sidecars(data)
    monkeypatch.chdir(project)
    assert main(["export", "out", "--sidecars", "data/sidecars", "--audio", "data/audio"]) == 0
    assert "gamma: vocals unknown" in capsys.readouterr().err
    dataset = json.loads(Path("out/dataset.json").read_text())
    gamma = next(s for s in dataset["samples"] if s["id"] == "gamma")
    assert {"lyrics", "raw_lyrics", "is_instrumental", "language"}.isdisjoint(gamma)  # unknown: left out
    assert dataset["metadata"]["all_instrumental"] is False  # not every song is known to be instrumental
    assert not Path("out/gamma.lyrics.txt").exists()
    beta = next(s for s in dataset["samples"] if s["id"] == "beta")  # a known instrumental still says so
    assert beta["is_instrumental"] is True and beta["lyrics"] == "[Instrumental]"
