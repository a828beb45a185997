"""Per-song caches cannot go stale silently: a backend whose output changes must carry a new version.

Every per-song cache key holds its backend's `version` (`BackendIdentity.version`, `SIDECAR_VERSION`). A
version bumped by hand alone would let a code change that alters output be served from the cache. So each
backend runs here on a fixed input, and a sha256 of what it produces (and, for served backends, of the
requests it sends) is kept in `tests/golden/backend_outputs.json` beside the version that produced it:

- output changed, version unchanged -> this test fails: bump the backend's version;
- version bumped -> this test fails until the new output is recorded:
  `SONGSET_UPDATE_GOLDEN=1 python -m pytest tests/test_backend_versions.py`.

Provenance is left out of the hash (timings, library versions, cache keys change without the output
changing); everything a later stage or ACE-Step reads is in it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT, clean_annotation, cut_clip, provenance, song_lyrics_for, song_metadata
from fake_openai import FakeServer, ok, send

from songset.annotators.base import annotate_song
from songset.cleaners.base import clean_song
from songset.config import compose, instantiate
from songset.estimators.base import estimate_song
from songset.io import atomic_write_text, sha256_file
from songset.runner import SongJob
from songset.schemas import RawAnnotation
from songset.sidecars import SIDECAR_VERSION, SidecarSettings, build_sidecar
from songset.stages.base import AudioInputs
from songset.stages.clean import CleanInputs

GOLDEN = Path(__file__).resolve().parent / "golden" / "backend_outputs.json"
UPDATE = os.environ.get("SONGSET_UPDATE_GOLDEN") == "1"
KEY = "sk-test-SONGSETgoldenKey0000"

# What a real audio LLM writes, with the things the cleaner must handle: stamps, a heading, a language.
RAW_TEXT = (
    "Overall: a relaxed jazz trio piece at a mid\u2011tempo swing, sung in English by a warm baritone.\n"
    "[0:00-0:12] Intro: upright bass alone, brushed drums enter softly.\n"
    "[0:12-1:00] Verse: Rhodes chords and the vocal melody; the hi\u2011hat keeps time.\n"
    "(1:00-1:35) The outro fades out on a sustained chord."
)
SERVED_TEXT = "[0:00-0:07] A soft jazz intro with brushed drums. [0:07-0:14] Upright bass walks; relaxed."


def _canonical(value: Any) -> Any:
    """Drop provenance (timings, versions, keys); round floats so the last bit of a library never counts."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items()) if k != "provenance"}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        return round(value, 5)
    return value


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(_canonical(value), sort_keys=True).encode()).hexdigest()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cut_clip("clip_jazz", tmp_path_factory.mktemp("golden"))


def _audio_job(path: Path) -> SongJob[AudioInputs]:
    import soundfile as sf

    sha = sha256_file(path)
    return SongJob(
        id=path.stem,
        file=path,
        key="k",
        inputs=AudioInputs(audio_sha256=sha, duration=sf.info(str(path)).duration),
    )


def _raw_job() -> SongJob[CleanInputs]:
    raw = RawAnnotation(
        id="song",
        audio_file="song.ogg",
        audio_sha256="b" * 64,
        duration=95.0,
        text=RAW_TEXT,
        provenance=provenance("annotate"),
    )
    return SongJob(
        id="song",
        file=Path("song.json"),
        key="k",
        inputs=CleanInputs(raw=raw, raw_sha256="r"),
    )


def _config(group: str, *overrides: str) -> Any:
    return getattr(compose([*overrides], config_dir=PROJECT_ROOT / "conf"), group)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("HF_TOKEN", "hf_SONGSETgoldenToken")
    monkeypatch.chdir(PROJECT_ROOT)
    fake = FakeServer(default=ok(SERVED_TEXT))
    yield fake
    fake.close()


def _requests(server: FakeServer) -> list[Any]:
    """What was sent, without the random parts of a request (none today; the audio is in)."""
    return [{"path": r["path"], "body": r["body"]} for r in server.requests]


# Each case: (version, produced) from a fixed input. `produced` is everything the backend decides.
Case = Callable[..., tuple[str, Any]]


def case_descriptor(clip: Path, **_: Any) -> tuple[str, Any]:
    annotator = instantiate(_config("annotator", "annotator=descriptor"))
    return annotator.identity().version, annotate_song(_audio_job(clip), annotator).model_dump(mode="json")


def case_rules(**_: Any) -> tuple[str, Any]:
    cleaner = instantiate(_config("cleaner", "cleaner=rules"))
    return cleaner.identity().version, clean_song(_raw_job(), cleaner).model_dump(mode="json")


def case_librosa(clip: Path, **_: Any) -> tuple[str, Any]:
    estimator = instantiate(_config("estimator", "estimator=librosa"))
    meta = estimate_song(_audio_job(clip), estimator)
    return estimator.identity().version, meta.model_dump(mode="json")


def case_librosa_learned(clip: Path, **_: Any) -> tuple[str, Any]:
    estimator = instantiate(_config("estimator", "estimator=librosa_learned"))
    meta = estimate_song(_audio_job(clip), estimator)
    return estimator.identity().version, meta.model_dump(mode="json")


def case_sidecar(**_: Any) -> tuple[str, Any]:
    settings = SidecarSettings.model_validate(
        {k: v for k, v in dict(_config("sidecar")).items() if k != "_target_"}
    )
    job = SongJob(
        id="song",
        file=Path("song.json"),
        key="k",
        inputs={
            "clean": clean_annotation().model_dump(mode="json"),
            "metadata": song_metadata(audio_file="song.ogg").model_dump(mode="json"),
            "song_lyrics": song_lyrics_for(
                clean_annotation(),
                lyrics=b"[Verse]\nline one\nline two\n",
                lyrics_file="song.txt",
                declared={
                    "keyscale": {"value": "C major", "tag": "TKEY"},
                    "bpm": {"value": 64, "tag": "TBPM"},
                },
            ),
            "override": "bpm: 118\nnotes: counted\n",
            "override_file": "song.yaml",
            "attribution": "A song by someone, CC BY 3.0",
        },
    )
    return SIDECAR_VERSION, build_sidecar(job, settings).model_dump(mode="json")


def case_openai_cleaner(server: FakeServer, **_: Any) -> tuple[str, Any]:
    answer = {
        "caption": "Jazz, relaxed, upright bass, brushed drums, warm Rhodes",
        "genre": ["jazz"],
        "mood": ["relaxed"],
        "instruments": ["upright bass", "drums"],
        "texture": ["warm"],
        "sections": [{"start": 0, "end": 12, "label": "intro", "description": "bass alone"}],
        "events": [{"start": 0, "end": 12, "type": "intro", "intensity": 0.2}],
        "vocal_presence": "vocal",
        "vocal_language": "en",
    }
    server.default = ok(answer)
    cfg = _config("cleaner", "cleaner=openai", f"cleaner.base_url={server.url}", "cleaner.model=test-model")
    cleaner = instantiate(cfg)
    clean = clean_song(_raw_job(), cleaner).model_dump(mode="json")
    return cleaner.identity().version, {"output": clean, "requests": _requests(server)}


def case_openai_audio(clip: Path, server: FakeServer, **_: Any) -> tuple[str, Any]:
    cfg = _config("annotator", "annotator=openai_audio", f"annotator.base_url={server.url}")
    annotator = instantiate(cfg)
    raw = annotate_song(_audio_job(clip), annotator).model_dump(mode="json")
    return annotator.identity().version, {"output": raw, "requests": _requests(server)}


def case_hf_endpoint(clip: Path, server: FakeServer, **_: Any) -> tuple[str, Any]:
    reply = {"text": SERVED_TEXT, "provenance": {"model_type": "audioflamingo3", "seconds": 0.1}}
    server.default = lambda h: send(h, 200, reply)
    cfg = _config("annotator", "annotator=hf_endpoint", f"annotator.url={server.root}")
    annotator = instantiate(cfg)
    raw = annotate_song(_audio_job(clip), annotator).model_dump(mode="json")
    return annotator.identity().version, {"output": raw, "requests": _requests(server)}


def case_openai_transcribe(clip: Path, server: FakeServer, **_: Any) -> tuple[str, Any]:
    segment = {"start": 0.0, "end": 6.5, "text": " Walking bass,", "avg_logprob": -0.3}
    segment.update(compression_ratio=1.2, no_speech_prob=0.1)
    reply = {"text": " Walking bass, brushes.", "language": "english", "segments": [segment]}
    reply["words"] = [{"word": "Walking", "start": 0.2, "end": 0.7}]
    server.default = lambda h: send(h, 200, reply)
    cfg = _config("transcriber", "transcriber=openai", f"transcriber.base_url={server.url}")
    transcriber = instantiate(cfg)
    result = transcriber.transcribe(clip).model_dump(mode="json", exclude={"extra_provenance"})
    return transcriber.identity().version, {"output": result, "requests": _requests(server)}


def case_lyrics(clip: Path, **_: Any) -> tuple[str, Any]:
    """The lyrics stage on a tagged copy of the clip: an LRC file placed under the annotation's sections."""
    import shutil
    import tempfile

    import mutagen

    from songset.lyrics.resolve import LYRICS_VERSION, LyricsSettings, clean_facts, resolve_lyrics
    from songset.transcribers.base import NoTranscriber

    with tempfile.TemporaryDirectory() as folder:
        tagged = Path(shutil.copy(clip, Path(folder) / "song.flac"))
        audio = mutagen.File(tagged)
        audio["BPM"] = "121"
        audio["INITIALKEY"] = "4A"
        audio["ARTIST"] = "Someone"
        audio.save()
        audio = _audio_job(tagged).inputs
        inputs = {
            "audio_sha256": audio.audio_sha256,
            "duration": audio.duration,
            "lyrics": b"[00:01.00]Down by the river\n[00:13.00]We go fishing in the morning light\n",
            "lyrics_file": "song.lrc",
            "override": None,
            "clean": clean_facts(clean_annotation().model_dump(mode="json")),
        }
        job = SongJob(id="song", file=tagged, key="k", inputs=inputs)
        result = resolve_lyrics(job, NoTranscriber(), LyricsSettings())
    return LYRICS_VERSION, result.model_dump(mode="json", exclude={"audio_sha256"})


CASES: dict[str, Case] = {
    "lyrics": case_lyrics,
    "annotate/descriptor": case_descriptor,
    "annotate/openai_audio": case_openai_audio,
    "annotate/hf_endpoint": case_hf_endpoint,
    "clean/rules": case_rules,
    "clean/openai": case_openai_cleaner,
    "estimate/librosa": case_librosa,
    "estimate/librosa_learned": case_librosa_learned,
    "sidecars": case_sidecar,
    "transcribe/openai": case_openai_transcribe,
}


def _recorded() -> dict[str, dict[str, str]]:
    return json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}


def _check(name: str, version: str, produced: Any) -> None:
    digest = _digest(produced)
    recorded = _recorded()
    entry = recorded.get(name)
    if UPDATE:
        recorded[name] = {"version": version, "output_sha256": digest}
        GOLDEN.parent.mkdir(exist_ok=True)
        atomic_write_text(GOLDEN, json.dumps(dict(sorted(recorded.items())), indent=2) + "\n")
        return
    assert entry is not None, f"{name}: no recorded output; run SONGSET_UPDATE_GOLDEN=1 on this test"
    if entry["version"] == version:
        assert entry["output_sha256"] == digest, (
            f"{name}: output changed but its version is still {version!r}: bump the backend's version so "
            "per-song caches stop serving the old output, then record it with SONGSET_UPDATE_GOLDEN=1"
        )
    else:
        pytest.fail(
            f"{name}: version {entry['version']!r} -> {version!r}; record the new output with "
            "SONGSET_UPDATE_GOLDEN=1 python -m pytest tests/test_backend_versions.py"
        )


@pytest.mark.parametrize("name", list(CASES))
def test_backend_output_changes_only_with_a_new_version(
    name: str, request: pytest.FixtureRequest, clip: Path
) -> None:
    case = CASES[name]
    kwargs: dict[str, Any] = {"clip": clip}
    if "server" in case.__code__.co_varnames:
        kwargs["server"] = request.getfixturevalue("server")
    version, produced = case(**kwargs)
    _check(name, version, produced)


def test_in_process_audio_llm_output_changes_only_with_a_new_version(tmp_path: Path, clip: Path) -> None:
    """The Transformers path (AF3's tiny random checkpoint; weights fixed by the builder's seed)."""
    pytest.importorskip("transformers")
    os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach a hub
    from support.hf_tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "af3", "af3")
    cfg = _config(
        "annotator",
        "annotator=af3_hf",
        f"annotator.model={model}",
        "annotator.max_new_tokens=8",
        "annotator.min_new_tokens=8",
    )
    annotator = instantiate(cfg)
    raw = annotate_song(_audio_job(clip), annotator).model_dump(mode="json")
    _check("annotate/af3_hf", annotator.identity().version, raw)


def test_beat_this_output_changes_only_with_a_new_version(tmp_path: Path, clip: Path) -> None:
    """estimator=beat_this on a tiny random checkpoint (weights fixed by the builder's seed)."""
    pytest.importorskip("beat_this.model.beat_tracker")
    from support.beat_this_tiny import save_checkpoint

    checkpoint = save_checkpoint(tmp_path / "tiny.ckpt")
    estimator = instantiate(_config("estimator", "estimator=beat_this", f"estimator.checkpoint={checkpoint}"))
    meta = estimate_song(_audio_job(clip), estimator)
    _check("estimate/beat_this", estimator.identity().version, meta.model_dump(mode="json"))


def test_the_check_sees_a_changed_output() -> None:
    """The guard can fail: a changed output under the recorded version is refused."""
    if UPDATE or "clean/rules" not in _recorded():
        pytest.skip("recording")
    version = _recorded()["clean/rules"]["version"]
    with pytest.raises(AssertionError, match="bump the backend's version"):
        _check("clean/rules", version, {"caption": "something else"})


def test_in_process_transcriber_output_changes_only_with_a_new_version(tmp_path: Path, clip: Path) -> None:
    """Whisper through Transformers (a tiny random checkpoint; weights fixed by the builder's seed)."""
    pytest.importorskip("transformers")
    os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach a hub
    from support.whisper_tiny import build_tiny_whisper

    model = build_tiny_whisper(tmp_path / "whisper")
    cfg = _config(
        "transcriber",
        "transcriber=whisper_hf",
        f"transcriber.model={model}",
        "transcriber.max_new_tokens=8",
        "transcriber.word_timestamps=true",
    )
    transcriber = instantiate(cfg)
    result = transcriber.transcribe(clip).model_dump(mode="json", exclude={"extra_provenance"})
    _check("transcribe/whisper_hf", transcriber.identity().version, result)
