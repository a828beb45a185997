"""What each per-song cache key covers (README "Adding your songs", "Served annotation").

A key that misses an input serves a stale result on a warm cache, silently: an edited override ignored, a
new prompt answered from the old one. Each input is changed alone here and must change the key (or, for
the sidecar stage, rebuild the song on a warm cache); what is documented as outside the key (served URLs)
must not change it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import PROJECT_ROOT, clean_annotation, provenance, song_metadata, write_song_lyrics

from songset.annotators.hf_endpoint import HFEndpointAnnotator
from songset.annotators.openai_audio import OpenAIAudioAnnotator
from songset.backend import BackendIdentity
from songset.cache import ResultCache, cache_key
from songset.cleaners.openai_cleaner import OpenAICleaner
from songset.io import atomic_write_json
from songset.schemas import PromptInfo, RawAnnotation
from songset.songs import songs_from_paths
from songset.stages.base import RunOptions, audio_jobs
from songset.stages.clean import run_clean
from songset.stages.sidecars import run_sidecars

PROMPT = PromptInfo(name="p", text="Describe the song.", sha256="1" * 64)
IDENTITY = BackendIdentity(
    backend="b",
    version="1",
    settings={"temperature": 0.0},
    model_id="m",
    model_revision="r1",
    adapter="a",
    adapter_revision="ar1",
    prompt=PROMPT,
)


# ---- backend identity: model, revision, adapter, prompt, settings --------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"backend": "other"},
        {"version": "2"},
        {"settings": {"temperature": 0.7}},
        {"model_id": "m2"},
        {"model_revision": "r2"},
        {"adapter": "a2"},
        {"adapter_revision": "ar2"},
        {"prompt": PROMPT.model_copy(update={"sha256": "2" * 64})},
        {"prompt": None},
    ],
    ids=lambda c: next(iter(c)),
)
def test_every_identity_part_is_in_the_key(change: dict[str, Any]) -> None:
    changed = dataclasses.replace(IDENTITY, **change)
    assert cache_key(**changed.key_parts()) != cache_key(**IDENTITY.key_parts())


def test_prompt_name_and_libraries_are_not_in_the_key() -> None:
    """The prompt counts by its text's hash (a renamed file is the same prompt); library lists are provenance."""
    renamed = dataclasses.replace(IDENTITY, prompt=PROMPT.model_copy(update={"name": "q"}))
    fewer_libraries = dataclasses.replace(IDENTITY, libraries=("songset",))
    assert renamed.key_parts() == IDENTITY.key_parts() == fewer_libraries.key_parts()


@pytest.fixture
def _project_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)  # prompts are files under conf/prompt


# Every backend that sends a prompt, built twice with only the prompt different (or only where it is served).
PROMPTED_BACKENDS: dict[str, tuple[Any, dict[str, Any], dict[str, Any]]] = {
    "openai_audio": (
        OpenAIAudioAnnotator,
        {"model": "served/af3", "base_url": "http://127.0.0.1:9/v1"},
        {"base_url": "http://127.0.0.1:10/v1"},
    ),
    "hf_endpoint": (HFEndpointAnnotator, {"url": "http://127.0.0.1:9"}, {"url": "http://127.0.0.1:10"}),
    "openai cleaner": (
        OpenAICleaner,
        {"model": "m", "base_url": "http://127.0.0.1:9/v1"},
        {"base_url": "http://127.0.0.1:10/v1"},
    ),
}
PROMPT_SETTING = {"openai cleaner": ("prompt_file", "conf/prompt/clean_v1.md", "conf/prompt/events_v1.md")}


@pytest.mark.usefixtures("_project_cwd")
@pytest.mark.parametrize("backend", list(PROMPTED_BACKENDS))
def test_prompt_alone_changes_the_key(backend: str) -> None:
    """Only the prompt differs: an edited prompt is never served from the old prompt's cache entries."""
    cls, settings, _ = PROMPTED_BACKENDS[backend]
    name, first, second = PROMPT_SETTING.get(backend, ("prompt", "timestamped_v1", "events_v1"))
    one, two = cls(**settings, **{name: first}), cls(**settings, **{name: second})
    a, b = one.identity().key_parts(), two.identity().key_parts()
    assert {k for k in a if a[k] != b[k]} == {"prompt_sha256"}
    assert a["prompt_sha256"] == one.prompt.sha256 and b["prompt_sha256"] == two.prompt.sha256


@pytest.mark.usefixtures("_project_cwd")
@pytest.mark.parametrize("backend", list(PROMPTED_BACKENDS))
def test_where_a_backend_is_served_is_not_in_the_key(backend: str) -> None:
    """README "Served annotation": moving a server, or adding one, does not redo the dataset."""
    cls, settings, elsewhere = PROMPTED_BACKENDS[backend]
    here, there = cls(**settings), cls(**{**settings, **elsewhere})
    assert here.identity().key_parts() == there.identity().key_parts()


@pytest.mark.usefixtures("_project_cwd")
def test_served_annotator_urls_and_concurrency_are_not_in_the_key() -> None:
    """README: adding a replica does not re-annotate."""
    one = OpenAIAudioAnnotator(model="served/af3", base_url="http://127.0.0.1:9/v1")
    many = OpenAIAudioAnnotator(
        model="served/af3",
        base_urls=["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"],
        concurrency=16,
        max_retries=1,
        timeout_s=5.0,
    )
    assert one.identity().key_parts() == many.identity().key_parts()
    other_model = OpenAIAudioAnnotator(model="served/qwen", base_url="http://127.0.0.1:9/v1")
    hotter = OpenAIAudioAnnotator(model="served/af3", base_url="http://127.0.0.1:9/v1", temperature=0.7)
    assert other_model.identity().key_parts() != one.identity().key_parts()
    assert hotter.identity().key_parts() != one.identity().key_parts()


# ---- audio stages: the audio's content ---------------------------------------------------------------


def write_wav(path: Path, freq: float) -> Path:
    t = np.arange(int(11.0 * 8000)) / 8000
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 8000)
    return path


def keys(paths: list[Path], stage: str = "estimate", **parts: Any) -> list[str]:
    audio = audio_jobs(stage, songs_from_paths(paths), parts or IDENTITY.key_parts())
    assert not audio.failed and not audio.skipped
    return [j.key for j in audio.jobs]


def test_audio_key_follows_the_audio_content(tmp_path: Path) -> None:
    song = write_wav(tmp_path / "song.wav", 220.0)
    before = keys([song])
    assert keys([song]) == before, "same audio, same settings: the same key"
    write_wav(song, 330.0)  # same name, same length, other audio
    assert keys([song]) != before
    a, b = keys([write_wav(tmp_path / "a.wav", 440.0), write_wav(tmp_path / "b.wav", 550.0)])
    assert a != b


def test_audio_key_follows_the_backend_and_the_stage(tmp_path: Path) -> None:
    song = write_wav(tmp_path / "song.wav", 220.0)
    base = keys([song])
    assert keys([song], **dataclasses.replace(IDENTITY, settings={"temperature": 1.0}).key_parts()) != base
    assert keys([song], stage="annotate") != base


# ---- clean stage: the raw annotation and the cleaner --------------------------------------------------


def test_clean_key_follows_the_raw_annotation_and_the_cleaner_settings(tmp_path: Path) -> None:
    raw_path = tmp_path / "raw" / "song.json"
    raw = RawAnnotation(
        id="song",
        audio_file="song.ogg",
        audio_sha256="b" * 64,
        duration=95.0,
        text="[0:00-0:10] A walking upright bass alone. [0:10-1:00] Brushed drums join; relaxed.",
        provenance=provenance("annotate"),
    )
    atomic_write_json(raw_path, raw)
    cfg = {"_target_": "songset.cleaners.rules.RulesCleaner", "max_caption_words": 60}
    options = RunOptions(cache_dir=tmp_path / "cache")

    def run(config: dict[str, Any]) -> Any:
        return run_clean([raw_path], config, tmp_path / "clean", options).summary

    assert run(cfg).computed == ["song"]
    assert run(cfg).cached == ["song"]
    assert run({**cfg, "max_caption_words": 5}).computed == ["song"]
    atomic_write_json(raw_path, raw.model_copy(update={"text": "[0:00-1:35] A solo harp, bright."}))
    assert run(cfg).computed == ["song"]
    assert "harp" in json.loads((tmp_path / "clean" / "song.json").read_text())["caption"].lower()


# ---- sidecar stage: every input file, the settings, the credit -----------------------------------------


class SidecarProject:
    """One song's upstream files and a warm sidecar cache; `run()` returns the summary and the sidecar."""

    def __init__(self, root: Path) -> None:
        self.data = root / "data"
        self.cache = root / "cache"
        self.settings: dict[str, Any] = {}
        self.attribution = "Song by Someone, CC BY 4.0"
        atomic_write_json(self.data / "clean" / "song.json", clean_annotation(vocal_presence="vocal"))
        atomic_write_json(self.data / "metadata" / "song.json", song_metadata())
        (self.data / "lyrics").mkdir(parents=True)
        (self.data / "lyrics" / "song.txt").write_text("[Verse]\nfirst words\n")
        (self.data / "overrides").mkdir(parents=True)
        (self.data / "overrides" / "song.yaml").write_text("bpm: 90\n")

    def run(self) -> tuple[Any, dict[str, Any]]:
        result = run_sidecars(
            self.data / "clean",
            self.data / "metadata",
            write_song_lyrics(self.data),  # the lyrics stage's output, from data/lyrics and overrides
            self.data / "overrides",
            self.settings,
            self.data / "sidecars",
            RunOptions(cache_dir=self.cache),
            attributions={"song.ogg": self.attribution},
        )
        return result.summary, json.loads((self.data / "sidecars" / "song.json").read_text())


def _edit_override(p: SidecarProject) -> None:
    (p.data / "overrides" / "song.yaml").write_text("bpm: 95\n")


def _edit_lyrics(p: SidecarProject) -> None:
    (p.data / "lyrics" / "song.txt").write_text("[Verse]\nsecond words\n")


def _edit_clean(p: SidecarProject) -> None:
    atomic_write_json(
        p.data / "clean" / "song.json", clean_annotation(vocal_presence="vocal", caption="Solo harp, bright.")
    )


def _edit_metadata(p: SidecarProject) -> None:
    atomic_write_json(p.data / "metadata" / "song.json", song_metadata(keyscale="Bb major"))


def _edit_settings(p: SidecarProject) -> None:
    p.settings = {"artist": "The Band"}


def _edit_attribution(p: SidecarProject) -> None:
    p.attribution = "Song by Someone Else, CC0"


EDITS = {
    "override": (_edit_override, lambda s: s["bpm"] == 95),
    "lyrics": (_edit_lyrics, lambda s: s["lyrics"] == "[Verse]\nsecond words"),
    "clean": (_edit_clean, lambda s: s["caption"] == "Solo harp, bright."),
    "metadata": (_edit_metadata, lambda s: s["keyscale"] == "Bb major"),
    "settings": (_edit_settings, lambda s: s.get("artist") == "The Band"),
    "attribution": (_edit_attribution, lambda s: s["source"]["attribution"].endswith("CC0")),
}


@pytest.mark.parametrize("what", list(EDITS))
def test_sidecar_rebuilds_on_a_warm_cache_when_any_input_changes(tmp_path: Path, what: str) -> None:
    project = SidecarProject(tmp_path)
    first, _ = project.run()
    assert first.computed == ["song"]
    again, before = project.run()
    assert again.cached == ["song"] and not again.computed, "unchanged inputs come from the cache"
    edit, shows = EDITS[what]
    edit(project)
    summary, after = project.run()
    assert summary.computed == ["song"], f"an edited {what} was served from the cache"
    assert shows(after) and not shows(before)


def test_editing_an_override_back_restores_the_cached_sidecar(tmp_path: Path) -> None:
    """Keys are content hashes: going back to an earlier override is a cache hit with the earlier result."""
    project = SidecarProject(tmp_path)
    project.run()
    _edit_override(project)
    project.run()
    (project.data / "overrides" / "song.yaml").write_text("bpm: 90\n")
    summary, sidecar = project.run()
    assert summary.cached == ["song"] and sidecar["bpm"] == 90


# ---- the on-disk format: shared with older checkouts and pushed with `dvc push` ------------------------


def test_key_part_names_are_stable() -> None:
    """Renaming a part re-keys every cache entry: a whole dataset re-annotated (and re-paid) for nothing."""
    assert list(IDENTITY.key_parts()) == [
        "backend",
        "version",
        "settings",
        "model_id",
        "model_revision",
        "adapter",
        "adapter_revision",
        "prompt_sha256",
    ]
    assert IDENTITY.key_parts()["prompt_sha256"] == PROMPT.sha256


def test_cache_layout_is_two_hex_digit_folders(tmp_path: Path) -> None:
    """Entries pushed by one checkout are found by another only if the layout never changes."""
    cache = ResultCache(tmp_path)
    key = cache_key(x=1)
    assert cache.path(key) == tmp_path / key[:2] / f"{key}.json"
    cache.put(key, {"text": "Café, naïve — ünïcode"})
    assert ResultCache(tmp_path).get(key) == {"text": "Café, naïve — ünïcode"}


def test_sweep_counts_every_stale_file_and_survives_vanishing_ones(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    assert ResultCache(tmp_path / "missing").sweep_stale_temp_files() == 0
    stale = []
    for i in range(20):
        path = tmp_path / f"{i:02x}" / f".entry{i}.json.tmp"
        path.parent.mkdir()
        path.write_text("{half")
        os.utime(path, (1, 1))
        stale.append(path)
    # A temporary file another run renames away between listing and stat: must not stop the sweep.
    (tmp_path / "0a" / ".gone.json.tmp").symlink_to(tmp_path / "nowhere")
    fresh = tmp_path / "00" / ".running.json.tmp"
    fresh.write_text("{half")
    assert cache.sweep_stale_temp_files() == 20
    assert not any(p.exists() for p in stale) and fresh.exists()


def test_temporary_files_are_swept_after_exactly_an_hour(tmp_path: Path) -> None:
    path = tmp_path / "ab" / ".entry.json.tmp"
    path.parent.mkdir()
    path.write_text("{half")
    now = time.time()
    os.utime(path, (now - 3590, now - 3590))
    assert ResultCache(tmp_path).sweep_stale_temp_files() == 0
    os.utime(path, (now - 3600.5, now - 3600.5))
    assert ResultCache(tmp_path).sweep_stale_temp_files() == 1
