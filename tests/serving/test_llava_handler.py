"""serving/af3_llava_think/handler.py against a stand-in `llava` (tests/serving/llava_standin: the real runtime
pins torch 2.3 and Transformers 4.46 and cannot be installed beside songset). The stand-in mirrors what the
real one does that a handler can get wrong, and these tests encode NVIDIA's reference behaviour
(llava/cli/infer_audio.py at c708168): device placement, non-LoRA trainables before a real PEFT adapter,
the think suffix once, honest sampling settings, and unreadable audio refused before the model sees it."""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import peft
import pytest
import torch
from conftest import PROJECT_ROOT, write_tone
from transformers import WhisperFeatureExtractor

STAND_IN = Path(__file__).parent / "llava_standin"
COMMIT = "c708168c7e2b9c4cdf5f4b8bc24034786e729324"
README_SUFFIX = "Please think and reason about the input audio before you respond."
MUSIC_SUFFIX = "Please think and reason about the input music before you respond."


def hub_cache_with_preprocessor(folder: Path) -> Path:
    """The layout `huggingface-cli download Qwen/Qwen2-Audio-7B preprocessor_config.json` leaves."""
    repo = folder / "models--Qwen--Qwen2-Audio-7B"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    WhisperFeatureExtractor(feature_size=128).to_json_file(str(snapshot / "preprocessor_config.json"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    return folder


def install_af3_metadata(site: Path, checkout: Path) -> None:
    """What `pip install --no-deps -e CHECKOUT` records for NVIDIA's af3 distribution."""
    dist = site / "af3-3.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: af3\nVersion: 3.0.0\n")
    (dist / "direct_url.json").write_text(
        json.dumps({"url": checkout.as_uri(), "dir_info": {"editable": True}})
    )
    (checkout / ".git" / "refs" / "heads").mkdir(parents=True)
    (checkout / ".git" / "HEAD").write_text("ref: refs/heads/audio_flamingo_3\n")
    (checkout / ".git" / "refs" / "heads" / "audio_flamingo_3").write_text(COMMIT + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    shutil.copytree(STAND_IN, folder / "llava")
    install_af3_metadata(folder, tmp_path / "audio-flamingo")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache_with_preprocessor(tmp_path / "hub")))
    monkeypatch.setenv("SONGSET_DEVICE", "cpu")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in [name for name in sys.modules if name == "llava" or name.startswith("llava.")]:
        monkeypatch.delitem(sys.modules, name)
    return folder


@pytest.fixture
def handler_module(site: Path) -> Any:
    spec = importlib.util.spec_from_file_location(
        "llava_handler", PROJECT_ROOT / "serving/af3_llava_think/handler.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def think_repo(tmp_path: Path, non_lora: dict[str, torch.Tensor] | None = None) -> Path:
    """A model folder with a real PEFT LoRA in stage35/ and, optionally, its non-LoRA trainables."""
    from llava import Model

    repo = tmp_path / "repo"
    adapted = peft.get_peft_model(Model(), peft.LoraConfig(target_modules=["q_proj"], r=2))
    adapted.save_pretrained(str(repo / "stage35"))
    if non_lora is not None:
        torch.save(non_lora, repo / "stage35" / "non_lora_trainables.bin")
    return repo


def body(audio: Path | bytes, think: bool, prompt: str = "Describe.", **parameters: Any) -> dict[str, Any]:
    raw = audio if isinstance(audio, bytes) else audio.read_bytes()
    return {
        "inputs": {"audio": base64.b64encode(raw).decode(), "prompt": prompt, "think": think},
        "parameters": parameters,
    }


def plain_handler(handler_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SONGSET_THINK", "0")
    (tmp_path / "repo").mkdir()
    return handler_module.EndpointHandler(str(tmp_path / "repo"))


def test_plain_model_answers_the_shared_contract(
    handler_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = plain_handler(handler_module, tmp_path, monkeypatch)
    answer = handler(body(write_tone(tmp_path / "a.wav", 11.0), think=False, max_new_tokens=64))
    assert answer["text"] == "heard=audio 11.0s lora=False projector=0 greedy max=64 prompt='Describe.'"
    prov = answer["provenance"]
    assert prov["runtime"] == "llava" and prov["think"] is False and prov["adapter"] is None
    assert prov["device"] == "cpu" and prov["audio_seconds"] == 11.0 and len(prov["prompt_sha256"]) == 64
    assert prov["libraries"]["af3"] == "3.0.0" and prov["af3_commit"] == COMMIT
    assert "error" in handler(body(tmp_path / "a.wav", think=True))
    assert "error" in handler({"inputs": {"prompt": "x"}})
    assert (
        "unknown parameters ['beam_width']" in handler(body(tmp_path / "a.wav", False, beam_width=2))["error"]
    )


def test_sampling_is_explicit_and_recorded_as_generation_ran(
    handler_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = plain_handler(handler_module, tmp_path, monkeypatch)
    audio = write_tone(tmp_path / "a.wav", 3.0)
    # The checkpoint's defaults sample; without do_sample the handler asks for greedy and says so.
    greedy = handler(body(audio, False, max_new_tokens=64, temperature=0.2, top_p=0.9, seed=3))
    assert " greedy max=64 " in greedy["text"]
    settings = greedy["provenance"]["settings"]
    assert settings["do_sample"] is False and settings["max_new_tokens"] == 64
    assert "temperature" not in settings and settings["ignored"] == ["temperature", "top_p", "seed"]
    # A fresh config per request: the first request's max_new_tokens does not leak into the next.
    assert " max=512 " in handler(body(audio, False))["text"]
    sampled = handler(body(audio, False, do_sample=True, temperature=0.7, seed=3))
    assert " temperature=0.7 " in sampled["text"]
    assert sampled["provenance"]["settings"]["do_sample"] is True
    assert (
        sampled["provenance"]["settings"]["temperature"] == 0.7
        and sampled["provenance"]["settings"]["seed"] == 3
    )
    # llava falls back to greedy when sampling fails: provenance follows what ran, not what was asked.
    fallback = handler(body(audio, False, do_sample=True, temperature=0.0))
    assert " greedy " in fallback["text"] and fallback["provenance"]["settings"]["do_sample"] is False
    assert fallback["provenance"]["settings"]["ignored"] == ["temperature"]


def test_think_loads_non_lora_trainables_then_the_adapter_then_places_the_model(
    handler_module: Any, tmp_path: Path
) -> None:
    trained = {"model.mm_projector.weight": torch.full((4, 4), 0.5), "model.mm_projector.bias": torch.ones(4)}
    repo = think_repo(tmp_path, non_lora=trained)
    handler = handler_module.EndpointHandler(str(repo))
    answer = handler(body(write_tone(tmp_path / "a.wav", 4.0), think=True))
    assert answer["text"].startswith("heard=audio 4.0s lora=True projector=8 greedy")
    assert answer["text"].endswith(f"prompt='Describe.\\n{README_SUFFIX}'")
    prov = answer["provenance"]
    assert prov["adapter"].startswith("stage35@files:") and prov["non_lora_tensors"] == 2


@pytest.mark.parametrize("suffix", [README_SUFFIX, MUSIC_SUFFIX, MUSIC_SUFFIX.lower()])
def test_think_suffix_is_never_doubled(handler_module: Any, tmp_path: Path, suffix: str) -> None:
    handler = handler_module.EndpointHandler(str(think_repo(tmp_path)))
    prompt = f"Describe.\n{suffix}"
    answer = handler(body(write_tone(tmp_path / "a.wav", 2.0), think=True, prompt=prompt))
    assert answer["text"].endswith(f"prompt={prompt!r}") and answer["provenance"]["non_lora_tensors"] == 0


def test_non_lora_trainables_that_match_nothing_are_an_error(handler_module: Any, tmp_path: Path) -> None:
    repo = think_repo(tmp_path, non_lora={"base_model.model.projector.weight": torch.ones(4, 4)})
    with pytest.raises(ValueError, match="none of its 1 tensors names a parameter"):
        handler_module.EndpointHandler(str(repo))


def test_unreadable_audio_is_refused_before_the_model_sees_it(
    handler_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llava

    handler = plain_handler(handler_module, tmp_path, monkeypatch)
    calls = len(llava.GENERATE_CALLS)
    answer = handler(body(b"RIFF not really a wave file" * 40, think=False))
    assert "text" not in answer and "is not readable WAV/FLAC/OGG" in answer["error"]
    assert "is not base64" in handler({"inputs": {"audio": "%%%", "prompt": "x", "think": False}})["error"]
    assert len(llava.GENERATE_CALLS) == calls  # the stand-in, like llava, would have answered from silence


def test_missing_stage35_is_a_clear_error(handler_module: Any, tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    with pytest.raises(FileNotFoundError, match="stage35"):
        handler_module.EndpointHandler(str(tmp_path / "repo"))


def test_preprocessor_config_must_be_on_disk(
    handler_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(FileNotFoundError, match="huggingface-cli download Qwen/Qwen2-Audio-7B"):
        handler_module.EndpointHandler(str(tmp_path))
    assert "llava" not in sys.modules  # refused before llava's import would try the Hub


def test_chat_template_must_ship(handler_module: Any, site: Path, tmp_path: Path) -> None:
    shutil.rmtree(site / "llava" / "model")  # what a non-editable install of af3 leaves
    with pytest.raises(FileNotFoundError, match="pip install --no-deps -e"):
        handler_module.EndpointHandler(str(tmp_path))
