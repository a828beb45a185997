"""Stack A's think mode against what Transformers and NVIDIA ship: the prompt AF3 really sees (Transformers'
test_processing_audioflamingo3.py::test_chat_template), the think/ folder of nvidia/audio-flamingo-3-hf
(as in hf-internal-testing/tiny-processor-audioflamingo3: think/adapter_config.json, think/config.json; the
weights add adapter_model.safetensors and non_lora_trainables.bin) and NVIDIA's documented think suffix."""

from __future__ import annotations

from pathlib import Path

import hf_fixtures
import pytest

from songset.annotators.hf import AF3Annotator
from songset.annotators.messages import THINK_SUFFIX
from songset.config import compose

tiny_models = hf_fixtures.tiny_models

QUESTION = "What is surprising about the relationship between the barking and the music?"
# Transformers' expected rendering for a user turn of [text, audio]: default system turn, <sound> first.
TRANSFORMERS_RENDERING = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    f"<|im_start|>user\n<sound>{QUESTION}<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def test_tiny_af3_renders_the_prompt_as_transformers_af3_does(tiny_models: dict[str, Path]) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_models["af3"])
    conversation = [
        {"role": "user", "content": [{"type": "text", "text": QUESTION}, {"type": "audio", "path": "a.wav"}]}
    ]
    rendered = processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    assert rendered == TRANSFORMERS_RENDERING


def test_think_prompt_is_sound_then_text_then_the_readme_suffix(tiny_models: dict[str, Path]) -> None:
    annotator = AF3Annotator(model=str(tiny_models["af3_think"]), think=True)
    _, processor = annotator.load()
    rendered = processor.apply_chat_template(
        annotator.conversation(), tokenize=False, add_generation_prompt=True
    )
    user = rendered.split("<|im_start|>user\n", 1)[1]
    assert user.startswith("<sound>") and user.endswith(
        f"\n{THINK_SUFFIX}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert rendered.startswith("<|im_start|>system\nYou are a helpful assistant.")


def test_think_folder_has_the_shipped_layout(tiny_models: dict[str, Path]) -> None:
    think = tiny_models["af3_think"] / "think"
    names = {path.name for path in think.iterdir()}
    assert {
        "adapter_config.json",
        "adapter_model.safetensors",
        "config.json",
        "non_lora_trainables.bin",
    } <= names


@pytest.mark.parametrize("annotator", ["af3_hf", "hf_endpoint", "openai_audio"])
def test_default_think_suffix_is_nvidias_documented_one(annotator: str) -> None:
    assert THINK_SUFFIX == "Please think and reason about the input audio before you respond."
    assert compose([f"annotator={annotator}"]).annotator.think_suffix == THINK_SUFFIX
