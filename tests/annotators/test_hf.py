"""The Transformers annotators end to end on tiny random models: provenance, cache, batching, chunks, errors.

Random weights write garbage text, so these tests assert on structure (keys, hashes, counts, offsets),
never on prose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hf_fixtures
import pytest

from songset.annotators.hf import (
    AF3Annotator,
    MusicFlamingoAnnotator,
    Qwen2AudioAnnotator,
    chunk_bounds,
    shift_stamps,
    weights_sha256,
)
from songset.annotators.hf_errors import AnnotatorSetupError, check_transformers
from songset.cli import main
from songset.io import sha256_file

pytestmark = pytest.mark.timeout(300)
tiny_models = hf_fixtures.tiny_models  # session fixtures: tiny random checkpoints, demo clips
clips = hf_fixtures.clips

GENERATION_KEYS = (
    "max_new_tokens",
    "min_new_tokens",
    "do_sample",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "num_beams",
    "seed",
)
TOKENS = 4
BACKENDS: dict[str, tuple[str, type[Any]]] = {
    "af3_hf": ("af3", AF3Annotator),
    "music_flamingo_hf": ("music_flamingo", MusicFlamingoAnnotator),
    "qwen2_audio": ("qwen2_audio", Qwen2AudioAnnotator),
}


def _annotate(files: list[Path], out: Path, cache: Path, *overrides: str) -> int:
    args = ["annotate", *map(str, files), "-o", str(out), "--cache-dir", str(cache), "--jobs", "1"]
    return main(
        [*args, f"annotator.max_new_tokens={TOKENS}", f"annotator.min_new_tokens={TOKENS}", *overrides]
    )


def _raw(out: Path, clip: Path) -> dict[str, Any]:
    return json.loads((out / f"{clip.stem}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", list(BACKENDS))
def test_cli_end_to_end_provenance_and_cache(
    name: str, tiny_models: dict[str, Path], clips: dict[str, Path], tmp_path: Path
) -> None:
    model = tiny_models[BACKENDS[name][0]]
    files = [clips["a"], clips["b"]]
    assert (
        _annotate(
            files, tmp_path / "out", tmp_path / "cache", f"annotator={name}", f"annotator.model={model}"
        )
        == 0
    )
    prompt_name = "rich_caption_v1" if name == "music_flamingo_hf" else "timestamped_v1"
    prompt_file = Path(__file__).resolve().parents[2] / "conf" / "prompt" / f"{prompt_name}.md"
    for clip in files:
        raw = _raw(tmp_path / "out", clip)
        prov = raw["provenance"]
        assert raw["text"].strip()
        assert prov["backend"] == name
        assert prov["model_id"] == str(model)
        assert prov["model_revision"] == weights_sha256(model)
        assert prov["prompt"]["sha256"] == sha256_file(prompt_file)
        assert prov["prompt"]["name"] == prompt_name
        for key in GENERATION_KEYS:
            assert key in prov["settings"], key
        assert prov["settings"]["max_new_tokens"] == TOKENS
        assert prov["settings"]["dtype"] == "float32" and prov["settings"]["device"] == "cpu"
        assert {"torch", "transformers"} <= set(prov["library_versions"])
        assert prov["extra"]["tokens_generated"] == TOKENS
        assert prov["extra"]["seconds"] > 0
        assert len(raw["segments"]) == 1

    from songset.config import compose
    from songset.songs import songs_from_paths
    from songset.stages.annotate import run_annotate
    from songset.stages.base import RunOptions

    cfg = compose(
        [
            f"annotator={name}",
            f"annotator.model={model}",
            f"annotator.max_new_tokens={TOKENS}",
            f"annotator.min_new_tokens={TOKENS}",
        ]
    )
    again = run_annotate(
        songs_from_paths(files), cfg.annotator, tmp_path / "out2", RunOptions(tmp_path / "cache", 1)
    )
    assert len(again.summary.cached) == 2 and not again.summary.computed
    other = compose(
        [
            f"annotator={name}",
            f"annotator.model={model}",
            "annotator.prompt=events_v1",
            f"annotator.max_new_tokens={TOKENS}",
            f"annotator.min_new_tokens={TOKENS}",  # only the prompt differs from `cfg`
        ]
    )
    changed = run_annotate(
        songs_from_paths(files[:1]), other.annotator, tmp_path / "out3", RunOptions(tmp_path / "cache", 1)
    )
    assert len(changed.summary.computed) == 1  # a new prompt is a new cache key; the old results stay


@pytest.mark.parametrize("name", list(BACKENDS))
def test_batch_equals_single(name: str, tiny_models: dict[str, Path], clips: dict[str, Path]) -> None:
    kind, cls = BACKENDS[name]
    files = [clips["a"], clips["b"]]
    single = cls(model=str(tiny_models[kind]), max_new_tokens=6, min_new_tokens=6, batch_size=1)
    batched = cls(model=str(tiny_models[kind]), max_new_tokens=6, min_new_tokens=6, batch_size=2)
    one = [single.annotate(f) for f in files]
    both = batched.annotate_batch(files)
    assert [a.text for a in one] == [b.text for b in both]  # type: ignore[union-attr]
    assert batched.identity().key_parts() == single.identity().key_parts()


def test_long_audio_is_chunked_with_song_time_offsets(
    tiny_models: dict[str, Path], clips: dict[str, Path]
) -> None:
    annotator = AF3Annotator(model=str(tiny_models["af3"]), max_new_tokens=3, min_new_tokens=3, batch_size=2)
    result = annotator.annotate(clips["long"])
    assert [(s.start, s.end) for s in result.segments] == [(0.0, 30.0), (30.0, 60.0), (60.0, 70.0)]
    assert result.extra_provenance["chunks"] == 3
    assert result.extra_provenance["tokens_generated"] == 9
    assert [s.features["chunk"] for s in result.segments] == [0, 1, 2]


def test_stamp_rewriting_and_windows() -> None:
    text = "[0:00-0:12] Intro: pads. [0:12-0:29.5] Verse enters at 0:20; ratio 3:4 kept, 10:75 is no time."
    shifted = shift_stamps(text, 60.0)
    assert shifted.startswith("[1:00-1:12] Intro: pads. [1:12-1:29.5] Verse enters at 1:20;")
    assert "10:75" in shifted
    assert shift_stamps("[9:50-10:05]", 3000.0) == "[59:50-1:00:05]"
    assert chunk_bounds(70.0, 30.0, 600.0) == [(0.0, 30.0), (30.0, 60.0), (60.0, 70.0)]
    assert chunk_bounds(70.0, None, 600.0) == [(0.0, 70.0)]
    assert chunk_bounds(700.0, 30.0, 600.0)[-1] == (570.0, 600.0)


def test_think_mode_loads_adapter_and_changes_identity(
    tiny_models: dict[str, Path], clips: dict[str, Path], tmp_path: Path
) -> None:
    model = tiny_models["af3_think"]
    plain = AF3Annotator(model=str(model), max_new_tokens=TOKENS, min_new_tokens=TOKENS)
    think = AF3Annotator(model=str(model), think=True, max_new_tokens=TOKENS, min_new_tokens=TOKENS)
    p_ident, t_ident = plain.identity(), think.identity()
    assert p_ident.adapter is None
    assert t_ident.adapter == f"{model}/think"
    assert t_ident.adapter_revision == weights_sha256(model, "think")
    assert t_ident.model_revision == p_ident.model_revision  # the base weights exclude think/
    assert t_ident.key_parts() != p_ident.key_parts()
    assert think.text_prompt().endswith(think.settings.think_suffix)
    assert (
        _annotate(
            [clips["a"]],
            tmp_path / "out",
            tmp_path / "cache",
            "annotator=af3_hf",
            f"annotator.model={model}",
            "annotator.think=true",
        )
        == 0
    )
    prov = _raw(tmp_path / "out", clips["a"])["provenance"]
    assert prov["adapter"] == f"{model}/think" and prov["adapter_revision"] == t_ident.adapter_revision
    assert prov["settings"]["think"] is True and prov["settings"]["think_suffix"]
    assert prov["extra"]["think_non_lora_tensors"] == 4
    assert "peft" in prov["library_versions"]
    no_think = AF3Annotator(model=str(tiny_models["af3"]), think=True)
    with pytest.raises(AnnotatorSetupError, match=r"think/adapter_config\.json"):
        no_think.identity()


def test_transformers_too_old_names_needed_and_found() -> None:
    with pytest.raises(AnnotatorSetupError) as err:
        check_transformers("af3_hf", "audioflamingo3", "5.0", found="4.57.1")
    assert "5.0" in str(err.value) and "4.57.1" in str(err.value) and "audioflamingo3" in str(err.value)
    check_transformers("af3_hf", "audioflamingo3", "5.0", found="5.24.0")
    with pytest.raises(AnnotatorSetupError, match="not installed"):
        check_transformers("music_flamingo_hf", "musicflamingo", "5.5", found="not installed")


def test_wrong_model_family_names_repo_and_found(
    tiny_models: dict[str, Path], clips: dict[str, Path]
) -> None:
    annotator = AF3Annotator(model=str(tiny_models["qwen2_audio"]))
    with pytest.raises(AnnotatorSetupError) as err:
        annotator.load()
    assert str(tiny_models["qwen2_audio"]) in str(err.value) and "qwen2_audio" in str(err.value)
    assert "audioflamingo3" in str(err.value)


def test_missing_model_offline_names_token_variable(
    tiny_models: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("hf_token", "x")
    annotator = AF3Annotator(model="nvidia/no-such-model-hf")
    with pytest.raises(AnnotatorSetupError) as err:
        annotator.identity()
    message = str(err.value)
    assert "nvidia/no-such-model-hf" in message and "HF_TOKEN" in message and "hf_token" in message
    assert "HF_HUB_OFFLINE is on" in message
    from conftest import write_tone

    write_tone(tmp_path / "x.wav", 11.0)  # a real song: the missing model is what must be named
    code = main(
        [
            "annotate",
            str(tmp_path / "x.wav"),
            "-o",
            str(tmp_path / "o"),
            "annotator=af3_hf",
            "annotator.model=nvidia/no-such-model-hf",
        ]
    )
    assert code == 2 and "HF_TOKEN" in capsys.readouterr().err


def test_gated_model_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub
    from huggingface_hub import errors

    def gated(*args: Any, **kwargs: Any) -> str:
        exc = errors.GatedRepoError.__new__(errors.GatedRepoError)
        Exception.__init__(exc, "403 gated")
        raise exc

    monkeypatch.setattr(huggingface_hub, "snapshot_download", gated)  # no request is ever made
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", "secret-value")
    with pytest.raises(AnnotatorSetupError) as err:
        AF3Annotator(model="nvidia/audio-flamingo-3-hf").identity()
    assert "gated" in str(err.value) and "HF_TOKEN is set" in str(err.value)
    assert "HF_HUB_OFFLINE is off" in str(err.value)
    assert "secret-value" not in str(err.value)


def test_unknown_prompt_names_setting() -> None:
    with pytest.raises(FileNotFoundError, match=r"annotator\.prompt"):
        AF3Annotator(model="nvidia/audio-flamingo-3-hf", prompt="no_such_prompt")


def test_pipeline_batches_songs_in_one_process_and_matches_single(
    tmp_path: Path, tiny_models: dict[str, Path], clips: dict[str, Path]
) -> None:
    files = [clips["a"], clips["b"]]
    model = f"annotator.model={tiny_models['af3']}"
    assert _annotate(files, tmp_path / "one", tmp_path / "c1", "annotator=af3_hf", model) == 0
    args = ["annotate", *map(str, files), "-o", str(tmp_path / "two"), "--cache-dir", str(tmp_path / "c2")]
    batched = [*args, "--jobs", "2", "annotator=af3_hf", model, "annotator.batch_size=2"]
    assert main([*batched, f"annotator.max_new_tokens={TOKENS}", f"annotator.min_new_tokens={TOKENS}"]) == 0
    for clip in files:
        single, both = _raw(tmp_path / "one", clip), _raw(tmp_path / "two", clip)
        assert single["text"] == both["text"]
        assert both["provenance"]["extra"]["batch_size"] == 2
