"""ACE-Step 1.5 reads exactly what songset meant: its reading rules, written out here, run on `songset export`.

Written from reading ACE-Step 1.5 (github:ace-step/ACE-Step-1.5) at commit
f30aee4c186c33b7b8a6ea59a4b7fc36f795b49f (2026-02-08), and, for the folder scan that reads `<stem>.json`
and `<stem>.lyrics.txt`, which came after that commit, `acestep/training/dataset_builder_modules/scan.py`
and `audio_io.py` as in the fork ifgcguitarclub/ACE-Step-1.5 at ae802be538e316ac7652df0baf1b61104db014be.
Nothing is imported from ACE-Step; the rules are restated independently of `songset.acestep`, so a change
on either side shows up here:

- `dataset_builder_modules/models.py` `AudioSample`: field names, types and defaults (`duration: int`,
  `lyrics="[Instrumental]"`, `is_instrumental=True`, `language="unknown"`); `from_dict` drops unknown keys.
- `serialization.py` `load_dataset`: `{"metadata": {...}, "samples": [...]}`.
- scan: audio `.wav .mp3 .flac .ogg .opus`; `<stem>.lyrics.txt` (then `<stem>.txt`) makes a song sung;
  `<stem>.json` gives `caption bpm keyscale timesignature language`, and any `language` but
  "instrumental" makes it sung; the duration is measured from the audio as whole seconds.
- `preprocess_text.py` `build_text_prompt` + `constants.py` `SFT_GEN_PROMPT`, `DEFAULT_DIT_INSTRUCTION`;
  `preprocess_utils.py` `build_metas_str`; `encode_text` cuts at 256 tokens, `encode_lyrics` at 512; the
  Qwen3-Embedding tokenizer appends one `<|endoftext|>`.
- generation: `handler.py` `_build_metadata_dict` + `_dict_to_meta_string` (`int(duration)`, `N/A`).
- `constants.py` `VALID_LANGUAGES`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from conftest import PROJECT_ROOT, build_sidecars, clean_annotation, song_metadata, write_tone

from songset.export import export_dataset
from songset.io import atomic_write_json, sha256_file
from songset.tokens import qwen3_tokenizer

SCANNED = (".wav", ".mp3", ".flac", ".ogg", ".opus")
VALID_LANGUAGES = [
    "ar", "az", "bg", "bn", "ca", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fr", "he", "hi", "hr", "ht",
    "hu", "id", "is", "it", "ja", "ko", "la", "lt", "ms", "ne", "nl", "no", "pa", "pl", "pt", "ro", "ru", "sa",
    "sk", "sr", "sv", "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "yue", "zh", "unknown",
]  # fmt: skip
TEXT_LIMIT, LYRICS_LIMIT, APPENDED = 256, 512, 1


@dataclass
class Sample:
    """ACE-Step's AudioSample: its fields, types and defaults."""

    id: str = ""
    audio_path: str = ""
    filename: str = ""
    caption: str = ""
    genre: str = ""
    lyrics: str = "[Instrumental]"
    raw_lyrics: str = ""
    formatted_lyrics: str = ""
    bpm: int | None = None
    keyscale: str = ""
    timesignature: str = ""
    duration: int = 0
    language: str = "unknown"
    is_instrumental: bool = True
    custom_tag: str = ""
    labeled: bool = False
    prompt_override: str | None = None


FIELD_TYPES = {"bpm": (int, type(None)), "duration": (int,), "is_instrumental": (bool,), "labeled": (bool,)}


def load_dataset_json(path: Path) -> list[Sample]:
    """ACE-Step's "Load existing dataset": unknown keys dropped, missing ones defaulted."""
    data = json.loads(path.read_text(encoding="utf-8"))
    names = {f.name for f in fields(Sample)}
    return [Sample(**{k: v for k, v in s.items() if k in names}) for s in data.get("samples", [])]


def scan_folder(folder: Path, all_instrumental: bool = True) -> list[Sample]:
    """ACE-Step's folder scan of a dataset folder (the builder call, before the UI's own edits)."""
    samples = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SCANNED):
        base = path.with_suffix("")
        lyrics = next(
            (t for s in (".lyrics.txt", ".txt") if (t := _text(Path(f"{base}{s}"))) is not None),
            None,
        )
        sample = Sample(
            audio_path=str(path),
            filename=path.name,
            duration=int(sf.info(str(path)).duration),
            is_instrumental=all_instrumental and lyrics is None,
            lyrics=lyrics if lyrics is not None else "[Instrumental]",
            raw_lyrics=lyrics or "",
        )
        meta_path = Path(f"{base}.json")
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        for key in ("caption", "bpm", "keyscale", "timesignature", "language"):
            if meta.get(key):
                setattr(sample, key, meta[key])
        if meta.get("language") and meta["language"] != "instrumental":
            sample.is_instrumental = False
        samples.append(sample)
    return samples


def _text(path: Path) -> str | None:
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip() or None


def training_prompt(sample: Sample) -> str:
    metas = (
        f"- bpm: {sample.bpm if sample.bpm else 'N/A'}\n"
        f"- timesignature: {sample.timesignature if sample.timesignature else 'N/A'}\n"
        f"- keyscale: {sample.keyscale if sample.keyscale else 'N/A'}\n"
        f"- duration: {sample.duration} seconds\n"
    )
    return (
        "# Instruction\nFill the audio semantic mask based on the given conditions:\n\n"
        f"# Caption\n{sample.caption}\n\n# Metas\n{metas}<|endoftext|>\n"
    )


def generation_metas(bpm: Any, keyscale: str, timesignature: str, duration: float) -> str:
    meta = {
        "bpm": bpm if bpm else "N/A",
        "keyscale": keyscale if keyscale.strip() else "N/A",
        "timesignature": timesignature if timesignature.strip() and timesignature != "N/A" else "N/A",
        "duration": f"{int(duration)} seconds",
    }
    return (
        f"- bpm: {meta['bpm']}\n- timesignature: {meta['timesignature']}\n"
        f"- keyscale: {meta['keyscale']}\n- duration: {meta['duration']}\n"
    )


def encoded_length(text: str) -> int:
    return len(qwen3_tokenizer().encode(text)) + APPENDED


def _song(data: Path, song: str, seconds: float, **clean: Any) -> None:
    audio = write_tone(data / "audio" / f"{song}.wav", seconds)
    atomic_write_json(data / "clean" / f"{song}.json", clean_annotation(song, **clean))
    meta = song_metadata(song, duration=seconds, audio_file=audio.name, audio_sha256=sha256_file(audio))
    atomic_write_json(data / "metadata" / f"{song}.json", meta)


@pytest.fixture(scope="module")
def small_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One sung song with lyrics, one instrumental, one of unknown vocals, one sung without lyrics."""
    data = tmp_path_factory.mktemp("project") / "data"
    _song(data, "sung", 12.7, vocal_presence="vocal", vocal_language="en")
    _song(data, "instrumental", 11.4, vocal_presence="instrumental")
    _song(data, "unknown", 10.9, vocal_presence="unknown")
    _song(data, "hummed", 11.2, vocal_presence="vocal", vocal_language="en")
    (data / "lyrics").mkdir()
    (data / "lyrics" / "sung.txt").write_text("[Verse]\nla la la\n")
    build_sidecars(data, lineage={"params_sha256": "c" * 64})
    return data / "sidecars", data / "audio"


def _demo() -> tuple[Path, Path]:
    sidecars = PROJECT_ROOT / "data" / "sidecars"
    if not (sidecars / "songset-manifest.json").is_file():
        pytest.skip("the demo is not built here (run `dvc repro`)")
    return sidecars, PROJECT_ROOT / "data" / "audio"


@pytest.fixture(params=["small", "demo"])
def exported(
    request: pytest.FixtureRequest, tmp_path: Path, small_project: tuple[Path, Path]
) -> tuple[Path, Path, Path]:
    """`songset export` into a folder under an ACE-Step working directory (a checkout's layout)."""
    sidecars, audio = small_project if request.param == "small" else _demo()
    acestep = tmp_path / "ACE-Step-1.5"
    (acestep / "acestep" / "training").mkdir(parents=True)
    out = acestep / "datasets" / "songset"
    export_dataset(sidecars, audio, out, link=False)
    return acestep, out, sidecars


def test_dataset_json_loads_every_song_with_every_field_as_written(exported: tuple[Path, Path, Path]) -> None:
    acestep, out, sidecars = exported
    raw = json.loads((out / "dataset.json").read_text())
    assert set(raw) == {"metadata", "samples"}
    names = {f.name for f in fields(Sample)}
    loaded = load_dataset_json(out / "dataset.json")
    assert len(loaded) == len(list(out.glob("*.json"))) - 1 == raw["metadata"]["num_samples"] > 0
    for written, sample in zip(raw["samples"], loaded, strict=True):
        assert set(written) <= names, "a key ACE-Step drops"
        for key, types in FIELD_TYPES.items():
            assert isinstance(getattr(sample, key), types), (sample.id, key)
        assert sample.language in VALID_LANGUAGES
        # Relative to the working directory ACE-Step runs in, which is what it resolves against.
        assert not os.path.isabs(sample.audio_path) and (acestep / sample.audio_path).is_file()
        sidecar = json.loads((sidecars / f"{sample.id}.json").read_text())
        assert sample.duration == int(sidecar["duration"])
        assert (sample.caption, sample.bpm) == (sidecar["caption"], sidecar.get("bpm"))
        assert (sample.keyscale, sample.timesignature) == (
            sidecar.get("keyscale", ""),
            sidecar.get("timesignature", ""),
        )
        if sidecar.get("lyrics") not in (None, "[Instrumental]"):
            assert sample.lyrics == sidecar["lyrics"] and not sample.is_instrumental
        if sidecar.get("lyrics") == "[Instrumental]":
            assert sample.is_instrumental and sample.lyrics == "[Instrumental]"
        elif sidecar.get("language") or "vocals_without_lyrics" in sidecar["source"]["flags"]:
            assert not sample.is_instrumental and sample.language == sidecar.get("language", "unknown")
        else:  # vocals unknown: songset states nothing, so ACE-Step's defaults stand, unstated by songset
            assert {"lyrics", "is_instrumental", "language"}.isdisjoint(written)
    assert raw["metadata"]["all_instrumental"] == all(
        s.get("is_instrumental") is True for s in raw["samples"]
    )


def test_the_scan_reads_what_dataset_json_says(exported: tuple[Path, Path, Path]) -> None:
    _, out, _ = exported
    loaded = {s.filename: s for s in load_dataset_json(out / "dataset.json")}
    scanned = scan_folder(out)
    assert sorted(s.filename for s in scanned) == sorted(loaded)
    for sample in scanned:
        want = loaded[sample.filename]
        for key in ("caption", "bpm", "keyscale", "timesignature", "duration"):
            assert getattr(sample, key) == getattr(want, key), (sample.filename, key)
        written = json.loads((out / "dataset.json").read_text())["samples"]
        stated = next(s for s in written if s["filename"] == sample.filename)
        if "is_instrumental" in stated:  # known: the scan agrees, lyrics and all
            assert sample.is_instrumental == want.is_instrumental, sample.filename
            assert sample.lyrics == want.lyrics
            if not want.is_instrumental:
                assert sample.language == want.language


def test_no_prompt_is_cut_and_training_metas_are_generation_metas(exported: tuple[Path, Path, Path]) -> None:
    _, out, sidecars = exported
    for sample in load_dataset_json(out / "dataset.json"):
        prompt = training_prompt(sample)
        assert encoded_length(prompt) <= TEXT_LIMIT, (sample.id, encoded_length(prompt))
        assert encoded_length(sample.lyrics or "[Instrumental]") <= LYRICS_LIMIT
        sidecar = json.loads((sidecars / f"{sample.id}.json").read_text())
        # A user asks for the song's own values and length at generation time.
        asked = generation_metas(
            sidecar.get("bpm"),
            sidecar.get("keyscale", ""),
            sidecar.get("timesignature", ""),
            sidecar["duration"],
        )
        assert prompt.split("# Metas\n")[1].removesuffix("<|endoftext|>\n") == asked, sample.id


def test_instrumentals_and_unknown_vocals_as_acestep_reads_them(small_project: tuple[Path, Path]) -> None:
    """22.3: a song whose vocals are unknown is not exported as an instrumental."""
    tmp = small_project[0].parent / "acestep-run"
    (tmp / "acestep" / "training").mkdir(parents=True, exist_ok=True)
    out = tmp / "datasets" / "mine"
    export_dataset(*small_project, out, link=False)
    raw = {s["id"]: s for s in json.loads((out / "dataset.json").read_text())["samples"]}
    assert (
        raw["instrumental"]["is_instrumental"] is True and raw["instrumental"]["lyrics"] == "[Instrumental]"
    )
    assert raw["sung"]["is_instrumental"] is False and raw["sung"]["language"] == "en"
    assert raw["hummed"]["is_instrumental"] is False and "lyrics" not in raw["hummed"]
    assert {"lyrics", "is_instrumental", "language"}.isdisjoint(raw["unknown"])
    assert json.loads((out / "dataset.json").read_text())["metadata"]["all_instrumental"] is False
    assert not (out / "instrumental.lyrics.txt").exists()
    scanned = {s.filename: s for s in scan_folder(out)}
    assert scanned["instrumental.wav"].is_instrumental  # no lyrics file, no sung `language` in its .json
    assert not scanned["sung.wav"].is_instrumental and scanned["sung.wav"].lyrics == "[Verse]\nla la la"
