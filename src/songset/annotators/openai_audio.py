"""`annotator=openai_audio`: an audio LLM behind any OpenAI-compatible server (vLLM, hosted audio models).

Why this shape: served annotation is I/O bound, so one process drives `concurrency` requests from a thread
pool (the pipeline hands `annotate_batch` groups of `batch_size = concurrency` songs) and spreads them
round-robin over `base_urls` (data-parallel vLLM replicas or several machines). The official client retries
429/5xx/timeouts with backoff (`max_retries`); a URL that still fails hands the song to the next URL, and a
song that fails everywhere is recorded as that song's failure without stopping the rest. The served model
name (the response's `model`) and the server's version (vLLM's GET /version, else the `server` header) go
into each song's provenance. The API key is read from the variable named by `api_key_env`, never written.

The base URLs are not part of the cache key on purpose: adding a replica must not re-annotate the dataset;
the URL that answered each song is recorded in its provenance instead.
"""

from __future__ import annotations

import base64
import io
import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from songset.annotators.base import Annotation, Annotator, annotate_in_threads
from songset.annotators.messages import PromptSettings, chat_turns, prompt_text
from songset.backend import BackendIdentity
from songset.openai_client import ServedState, public_url, short, transport_error
from songset.prompts import load_prompt
from songset.runner import SongError
from songset.settings import Configured, identity_slot, transport

OPENAI_AUDIO_VERSION = "2"  # 2: provenance settings are the output settings (no model name)
AudioFormat = Literal["input_audio", "audio_url"]


def encode_wav(path: Path, sample_rate: int, max_audio_s: float) -> tuple[bytes, float]:
    """A song as 16-bit mono WAV bytes at `sample_rate`, cut at `max_audio_s`; (bytes, seconds sent).

    Why re-encode: every server decodes WAV, and resampling here fixes what the model hears.
    """
    import soundfile as sf

    from songset.audio import load_audio

    audio = load_audio(path, sample_rate)
    samples = audio.samples[: int(max_audio_s * sample_rate)]
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue(), round(len(samples) / sample_rate, 3)


def audio_part(wav: bytes, audio_format: str) -> dict[str, Any]:
    """The chat content part carrying the audio: OpenAI's `input_audio`, or vLLM's `audio_url` data URL."""
    data = base64.b64encode(wav).decode("ascii")
    if audio_format == "input_audio":
        return {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}
    if audio_format == "audio_url":
        return {"type": "audio_url", "audio_url": {"url": f"data:audio/wav;base64,{data}"}}
    raise ValueError(f"annotator.audio_format must be input_audio or audio_url, not {audio_format!r}")


class OpenAIAudioSettings(PromptSettings):
    """annotator=openai_audio: the URLs, key variable and transport settings are out of the cache key."""

    model: str = identity_slot(
        "nvidia/audio-flamingo-3-hf",
        description="the name the server serves (vLLM: --served-model-name or the repo id)",
    )
    model_revision: str | None = identity_slot(
        None, description="optional: the revision the server loaded, recorded and part of the cache key"
    )
    base_url: str | None = transport(None, description="e.g. http://localhost:8000/v1; null: api.openai.com")
    base_urls: list[str] | None = transport(
        None, description="[http://gpu1:8000/v1, http://gpu2:8000/v1]: several replicas, round-robin"
    )
    api_key_env: str = transport(
        "OPENAI_API_KEY", description="the variable holding the key (local servers accept any); never written"
    )
    audio_format: AudioFormat = Field(
        "input_audio", description="input_audio (OpenAI, base64 wav) or audio_url (vLLM data URL)"
    )
    audio_first: bool = Field(False, description="audio part before the text (Qwen2-Audio's order)")
    max_tokens: int = Field(1024, ge=1, description="the answer's length limit, in tokens")
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int | None = Field(None, description="vLLM extra sampling parameters; null: not sent")
    repetition_penalty: float | None = Field(None, gt=0, description="vLLM extra; null: not sent")
    seed: int | None = 0
    sample_rate: int = Field(16000, gt=0, description="the WAV sent is resampled to this rate, mono, 16-bit")
    max_audio_s: float = Field(
        600.0, gt=0, description="audio past this is not sent (AF3 hears at most 10 minutes)"
    )
    concurrency: int = transport(
        4, ge=1, description="requests in flight at once (also the pipeline's batch of songs)"
    )
    timeout_s: float = transport(600.0, gt=0, description="per request")
    max_retries: int = transport(
        4, ge=0, description="the client's retries with backoff on 429, 5xx, timeouts, connection errors"
    )


class OpenAIAudioAnnotator(ServedState, Configured[OpenAIAudioSettings], Annotator):
    """Chat completions with the song as an audio content part; one request per song."""

    parallel_processes = False  # one process, `concurrency` threads: the bound holds across the whole run
    Settings = OpenAIAudioSettings

    def setup(self) -> None:
        s = self.settings
        urls = [str(u) for u in (s.base_urls or [])] or ([str(s.base_url)] if s.base_url else [])
        self.base_urls: list[str | None] = list(urls) or [None]  # None: api.openai.com
        self.model = s.model
        self.api_key_env = s.api_key_env
        self.prompt = load_prompt(s.prompt, setting="annotator.prompt")
        self.generation: dict[str, Any] = {
            "max_tokens": s.max_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": s.seed,
        }
        self.extra_body = {
            k: v
            for k, v in {"top_k": s.top_k, "repetition_penalty": s.repetition_penalty}.items()
            if v is not None
        }  # vLLM sampling parameters outside the OpenAI schema
        self.concurrency = s.concurrency
        self.batch_size = self.concurrency
        self.timeout_s = s.timeout_s
        self.max_retries = s.max_retries
        self.reset_served_state()

    # ---- identity -------------------------------------------------------------------------------
    def text_prompt(self) -> str:
        """The user text sent with the audio, exactly as af3_hf sends it."""
        return prompt_text(self.prompt, self.settings.think, self.settings.think_suffix)

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            backend="openai_audio",
            version=OPENAI_AUDIO_VERSION,
            settings=self.settings.output_settings(),
            model_id=self.model,
            model_revision=self.settings.model_revision,
            prompt=self.prompt,
            libraries=("songset", "openai", "numpy", "soundfile"),
        )

    def check_ready(self) -> None:
        if None in self.base_urls and not os.environ.get(self.api_key_env):
            raise ValueError(
                f"{self.api_key_env} is not set: annotator=openai_audio without annotator.base_url calls "
                "the OpenAI API, which needs a key"
            )

    # ---- transport ------------------------------------------------------------------------------
    def client(self, base_url: str | None) -> Any:
        return self.served_client(base_url, self.api_key_env, self.timeout_s, self.max_retries)

    def messages(self, wav: bytes) -> list[dict[str, Any]]:
        audio = audio_part(wav, self.settings.audio_format)
        return chat_turns(self.text_prompt(), audio, self.settings.system_prompt, self.settings.audio_first)

    def _request(self, base_url: str | None, messages: list[dict[str, Any]]) -> tuple[Any, Any]:
        """One completion (the client retries 429/5xx/timeouts); (completion, response headers)."""
        import openai

        where = public_url(base_url) or "api.openai.com"
        try:
            raw = self.client(base_url).chat.completions.with_raw_response.create(
                model=self.model,
                messages=messages,
                extra_body=self.extra_body or None,
                **self.generation,
            )
            completion = raw.parse()
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise transport_error(exc, where, self.timeout_s, self.max_retries) from exc
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise SongError(f"{where}: the answer is not a chat completion ({short(exc)})") from exc
        if isinstance(completion, str) or not getattr(completion, "choices", None):
            raise SongError(f"{where}: the answer is not a chat completion (no choices)")
        return completion, raw.headers

    # ---- annotation -----------------------------------------------------------------------------
    def annotate(self, path: Path) -> Annotation:
        started = time.perf_counter()
        wav, sent_s = encode_wav(path, self.settings.sample_rate, self.settings.max_audio_s)
        messages = self.messages(wav)
        first = next(self._turn) % len(self.base_urls)
        order = self.base_urls[first:] + self.base_urls[:first]  # round-robin, then fail over
        errors: list[str] = []
        for base_url in order:
            try:
                completion, headers = self._request(base_url, messages)
            except SongError as exc:
                errors.append(str(exc))
                continue
            choice = completion.choices[0]
            text = (choice.message.content or "").strip()
            if not text:
                raise SongError(f"{public_url(base_url) or 'api.openai.com'}: empty answer from {self.model}")
            usage = completion.usage
            return Annotation(
                text=text,
                summary={"audio_seconds_sent": sent_s},
                extra_provenance={
                    "served_model": completion.model,
                    "server": public_url(base_url) or "api.openai.com",
                    "server_version": self.served_version(base_url, headers),
                    "response_id": completion.id,
                    "finish_reason": choice.finish_reason,
                    "hit_max_tokens": choice.finish_reason == "length",
                    "usage": usage.model_dump() if usage is not None else None,
                    "seconds": round(time.perf_counter() - started, 3),
                },
            )
        raise SongError("; ".join(errors))

    def annotate_batch(self, paths: list[Path]) -> list[Annotation | Exception]:
        """Up to `concurrency` songs in flight; one result or that song's error per path, in order."""

        return annotate_in_threads(self.annotate, paths, self.concurrency)
