"""What every audio-LLM annotator sends, built once: the prompt text, the chat turns, the generation settings.

Why one module: af3_hf (in process), openai_audio (an OpenAI-compatible server) and hf_endpoint (the custom
handler) must send the same words for the same settings, or a served run and a local run of one model
would differ for reasons nobody chose. Each backend adapts the result to its wire format: Transformers'
chat template (audio as a placeholder, samples to the processor), OpenAI content parts (base64 audio), or
the handler's JSON (text and system prompt; the handler builds its turns the same way, standing alone).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from songset.schemas import PromptInfo
from songset.settings import BackendSettings, identity_slot

# NVIDIA's README since audio-flamingo c708168 ("corrected thinking mode"); their older batch scripts said
# "input music". Appended after a newline, as the README asks.
THINK_SUFFIX = "Please think and reason about the input audio before you respond."


class PromptSettings(BackendSettings):
    """The prompt part of every audio-LLM annotator's settings."""

    prompt: str = identity_slot(
        "timestamped_v1", description="conf/prompt/<name>.md (its text's sha256 is in the cache key)"
    )
    system_prompt: str | None = Field(None, description="a system turn before the prompt; null: none")
    think: bool = Field(
        False,
        description="AF3 think mode: think_suffix is appended (af3_hf also loads the think/ LoRA)",
    )
    think_suffix: str = Field(THINK_SUFFIX, description="appended on its own line when think is true")


class TransformersGeneration(BackendSettings):
    """Generation settings by their Transformers names (af3_hf runs them, hf_endpoint sends them)."""

    max_new_tokens: int = Field(1024, ge=1, description="the answer's length limit, in tokens")
    min_new_tokens: int = Field(0, ge=0, description="no end-of-text before this many tokens")
    do_sample: bool = Field(False, description="false: greedy (deterministic); true: sample")
    temperature: float = Field(0.7, gt=0, description="used only when do_sample is true")
    top_p: float = Field(0.9, gt=0, le=1, description="used only when do_sample is true")
    top_k: int = Field(50, ge=0, description="used only when do_sample is true")
    repetition_penalty: float = Field(1.1, gt=0, description="1.0: none")
    num_beams: int = Field(1, ge=1, description="beam search width; 1: none")
    seed: int = Field(0, description="torch seed before each generate call")

    def generation(self) -> dict[str, Any]:
        """The keyword arguments of `generate`, typed: recorded and sent exactly like this."""
        return self.model_dump(
            include={
                "max_new_tokens",
                "min_new_tokens",
                "do_sample",
                "temperature",
                "top_p",
                "top_k",
                "repetition_penalty",
                "num_beams",
            }
        )


def prompt_text(prompt: PromptInfo, think: bool, think_suffix: str) -> str:
    """The exact user text sent with the audio: the prompt file, plus the think suffix on its own line."""
    text = prompt.text.strip()
    return f"{text}\n{think_suffix}" if think else text


def chat_turns(
    text: str, audio: dict[str, Any], system_prompt: str | None, audio_first: bool
) -> list[dict[str, Any]]:
    """The chat conversation: an optional system turn, then one user turn holding the audio and the text.

    `audio` is the backend's own content part (a Transformers placeholder, an OpenAI `input_audio` part);
    `audio_first` puts it before the text (Qwen2-Audio's order).
    """
    text_part = {"type": "text", "text": text}
    content = [audio, text_part] if audio_first else [text_part, audio]
    turns: list[dict[str, Any]] = []
    if system_prompt:
        turns.append({"role": "system", "content": system_prompt})
    turns.append({"role": "user", "content": content})
    return turns
