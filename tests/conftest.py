"""Shared builders for schema-valid objects, so each test states only what it is about."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from songset.provenance import make_provenance
from songset.schemas import CleanAnnotation, Provenance, RawAnnotation, SongMetadata

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_AUDIO = PROJECT_ROOT / "data" / "audio"
TEST_DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "songset" / "numba"))


def provenance(stage: str = "annotate", **kw: Any) -> Provenance:
    base: dict[str, Any] = dict(stage=stage, backend="test", cache_key="k", input_sha256="i", settings={})
    base.update(kw)
    return make_provenance(**base)


def clean_annotation(song_id: str = "song", **kw: Any) -> CleanAnnotation:
    data: dict[str, Any] = dict(
        id=song_id,
        duration=95.0,
        caption="Jazz, relaxed, upright bass and brushed drums, warm and intimate.",
        sections=[
            {"start": 0, "end": 12, "label": "intro", "description": "quiet"},
            {"start": 12, "end": 60, "label": "part a", "description": "loud"},
            {"start": 60, "end": 95, "label": "outro", "description": "fades"},
        ],
        events=[
            {"start": 0, "end": 12, "type": "intro", "intensity": 0.3},
            {"start": 12, "end": 60, "type": "build", "intensity": 0.7},
            {"start": 80, "end": 95, "type": "fade_out", "intensity": 0.2},
        ],
        vocal_presence="instrumental",
        rich_details="[0:00-0:12] Intro: quiet. [0:12-1:00] Part A: loud.",
        provenance={"annotate": provenance("annotate"), "clean": provenance("clean")},
    )
    data.update(kw)
    return CleanAnnotation.model_validate(data)


def raw_annotation(song_id: str) -> RawAnnotation:
    """A raw audio-LLM annotation of one 30 s song, as the annotate stage writes it."""
    return RawAnnotation(
        id=song_id,
        audio_file=f"{song_id}.wav",
        audio_sha256="0" * 64,
        duration=30.0,
        text="[0:00-0:30] A warm acoustic guitar plays a slow, gentle melody over soft brushed drums.",
        provenance=provenance("annotate"),
    )


def song_metadata(song_id: str = "song", **kw: Any) -> SongMetadata:
    data: dict[str, Any] = dict(
        id=song_id,
        audio_file=f"{song_id}.ogg",
        audio_sha256="a" * 64,
        duration=95.0,
        sample_rate=22050,
        channels=2,
        bpm=121.6,
        bpm_confidence=0.8,
        keyscale="F# minor",
        key_confidence=0.6,
        timesignature="4",
        timesignature_confidence=0.7,
        provenance=provenance("estimate"),
    )
    data.update(kw)
    return SongMetadata.model_validate(data)


@pytest.fixture
def word_tokenizer(tmp_path: Path) -> str:
    """A local tokenizer.json where every word and every punctuation mark is one token."""
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    return str(path)


def write_tone(path: Path, seconds: float, sr: int = 22050, channels: int = 1, freq: float = 440.0) -> Path:
    """A short harmonic tone with a pulse: enough signal for every estimator, cheap to make."""
    t = np.arange(int(seconds * sr)) / sr
    pulse = 0.5 + 0.5 * (np.sin(2 * np.pi * 2 * t) > 0)
    mono = 0.3 * pulse * (np.sin(2 * np.pi * freq * t) + 0.5 * np.sin(2 * np.pi * 1.5 * freq * t))
    data = np.stack([mono] * channels, axis=1) if channels > 1 else mono
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data.astype(np.float32), sr)
    return path


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    return write_tone(tmp_path / "tone.wav", 12.0)


def copy_project(root: Path) -> Path:
    """A temporary songset project: this repo's pipeline and config, empty data folders, its own git."""
    for item in ("dvc.yaml", "params.yaml", ".dvcignore"):
        if (PROJECT_ROOT / item).exists():
            shutil.copy2(PROJECT_ROOT / item, root / item)
    for folder in ("conf", "stages", "src"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".dvc").mkdir()
    shutil.copy2(PROJECT_ROOT / ".dvc" / "config", root / ".dvc" / "config")
    (root / ".dvc" / ".gitignore").write_text("/config.local\n/tmp\n/cache\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    for folder in ("audio", "lyrics", "overrides"):
        (root / "data" / folder).mkdir(parents=True)
    (root / "data" / "lyrics" / ".gitkeep").touch()
    (root / "data" / "audio" / "attribution.yaml").write_text("{}\n")
    return root


# Short clips of the demo songs: (source file, start s, length s). Enough for every stage, cheap to run.
CLIPS = {
    "clip_jazz": ("Kevin_MacLeod_-_Vibe_Ace.ogg", 20.0, 14.0),
    "clip_acoustic": ("calm_acoustic_1.opus", 2.0, 13.0),
    "clip_vocal": ("Karissa_Hobbs_-_Lets_Go_Fishin.ogg", 30.0, 15.0),
}


def cut_clip(name: str, target: Path) -> Path:
    source, start, seconds = CLIPS[name]
    info = sf.info(str(DEMO_AUDIO / source))
    data, sr = sf.read(
        str(DEMO_AUDIO / source), start=int(start * info.samplerate), frames=int(seconds * info.samplerate)
    )
    path = target / f"{name}.flac"
    sf.write(str(path), data, sr)
    return path


def song_lyrics_for(
    clean: CleanAnnotation | None = None,
    *,
    lyrics: bytes | None = None,
    lyrics_file: str = "data/lyrics/song.txt",
    override: str | None = None,
    override_file: str = "data/overrides/song.yaml",
    declared: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The lyrics stage's decision (its real code, no transcriber) for a song whose audio declares
    `declared` (e.g. {"bpm": {"value": 128, "tag": "TBPM"}}); as the sidecar stage reads it."""
    from songset.lyrics.resolve import LyricsSettings, clean_facts, decide_lyrics
    from songset.lyrics.tags import DeclaredTags
    from songset.runner import SongJob
    from songset.transcribers.base import NoTranscriber

    clean = clean or clean_annotation()
    inputs = {
        "audio_sha256": "a" * 64,
        "lyrics": lyrics,
        "lyrics_file": lyrics_file,
        "override": override,
        "override_file": override_file,
        "clean": clean_facts(clean.model_dump(mode="json")),
    }
    job = SongJob(id=clean.id, file=Path(f"{clean.id}.ogg"), key="lyrics-key", inputs=inputs)
    tags = DeclaredTags.model_validate(declared or {})
    return decide_lyrics(job, tags, NoTranscriber(), LyricsSettings()).model_dump(mode="json")


def write_song_lyrics(data: Path) -> Path:
    """data/song_lyrics/<song>.json for each data/clean/<song>.json, from data/lyrics/<song>.txt|.lrc and
    data/overrides/<song>.yaml, as the lyrics stage decides them (no audio tags, no transcriber)."""
    from songset.io import atomic_write_json

    out = data / "song_lyrics"
    for clean_path in sorted((data / "clean").glob("*.json")):
        clean = CleanAnnotation.model_validate(json.loads(clean_path.read_text()))
        lyrics = next(
            (p for p in (data / "lyrics" / f"{clean.id}{s}" for s in (".lrc", ".txt")) if p.is_file()), None
        )
        override = data / "overrides" / f"{clean.id}.yaml"
        atomic_write_json(
            out / f"{clean.id}.json",
            song_lyrics_for(
                clean,
                lyrics=lyrics.read_bytes() if lyrics else None,
                lyrics_file=str(lyrics) if lyrics else "lyrics",
                override=override.read_text() if override.is_file() else None,
                override_file=str(override),
            ),
        )
    return out


def build_sidecars(data: Path, **kwargs: Any) -> None:
    """Sidecars for a test project's data/{clean,metadata,lyrics,overrides} -> data/sidecars: the lyrics
    stage's decisions first (`write_song_lyrics`), default settings, no per-song cache; `attributions=`
    and `lineage=` go through to run_sidecars."""
    from songset.stages.base import RunOptions
    from songset.stages.sidecars import run_sidecars

    run_sidecars(
        data / "clean",
        data / "metadata",
        write_song_lyrics(data),
        data / "overrides",
        {},
        data / "sidecars",
        RunOptions(cache_dir=None),
        **kwargs,
    )


def stage_summary(root: Path, stage: str) -> dict[str, Any]:
    return json.loads((root / "reports" / "stages" / f"{stage}.json").read_text())


def run_tool(root: Path, *cmd: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    """git, dvc or songset in a temporary project, with output kept for the assertion message."""
    result = subprocess.run(
        list(cmd), cwd=root, env=tool_env(**env), capture_output=True, text=True, timeout=600, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def git_commit(root: Path, message: str = "snapshot") -> None:
    run_tool(root, "git", "add", "-A")
    run_tool(
        root,
        "git",
        "-c",
        "user.name=songset",
        "-c",
        "user.email=songset@example.invalid",
        "commit",
        "-qm",
        message,
    )


def tool_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def repro(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["dvc", "repro", *args],
        cwd=root,
        env=env or tool_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
