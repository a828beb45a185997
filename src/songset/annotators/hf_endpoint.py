"""`annotator=hf_endpoint`: a Hugging Face Inference Endpoint running serving/af3_transformers/handler.py.

Why a separate client: the custom handler speaks its own JSON (audio, prompt, Transformers generation
settings), not the OpenAI schema. It posts each song with `Authorization: Bearer $HF_TOKEN`, retries with
backoff (tenacity) on 429, 5xx (503 while a scaled-to-zero endpoint wakes up), timeouts and refused
connections, runs `concurrency` requests at once, and records the handler's own provenance (model
revision, adapter, library versions) next to the endpoint URL. The token is never written anywhere.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pydantic import Field

from songset.annotators.base import Annotation, Annotator, annotate_in_threads
from songset.annotators.hf_errors import TOKEN_ENV
from songset.annotators.messages import PromptSettings, TransformersGeneration, prompt_text
from songset.annotators.openai_audio import encode_wav
from songset.backend import BackendIdentity
from songset.openai_client import public_url
from songset.prompts import load_prompt
from songset.runner import SongError
from songset.settings import Configured, identity_slot, transport

log = logging.getLogger("songset")
HF_ENDPOINT_VERSION = "2"  # 2: the URL left the provenance settings (it is in extra.endpoint)
SECOND_TOKEN_ENV = "HUGGING_FACE_HUB_TOKEN"  # huggingface_hub's older name, read after HF_TOKEN
WRONG_TOKEN_NAMES = ("hf_token", "HUGGINGFACE_TOKEN", "HF_API_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "HF_KEY")


def find_token() -> tuple[str | None, str | None, list[str]]:
    """(token, the variable it came from, names set but never read). HF_TOKEN first, then the older name."""
    for name in (TOKEN_ENV, SECOND_TOKEN_ENV):
        if os.environ.get(name):
            return os.environ[name], name, []
    return None, None, [name for name in WRONG_TOKEN_NAMES if os.environ.get(name)]


class _Retryable(Exception):
    """A failure worth another try (429, 5xx, timeout, refused connection)."""


class HFEndpointSettings(TransformersGeneration, PromptSettings):
    """annotator=hf_endpoint: sent to the handler and recorded; the URL and transport are out of the key."""

    url: str = transport(description="https://<name>.endpoints.huggingface.cloud")
    model: str = identity_slot(
        "nvidia/audio-flamingo-3-hf",
        description="the repo the endpoint serves (recorded; the handler reports its revision)",
    )
    model_revision: str | None = identity_slot(None, description="optional: pin it into the cache key")
    sample_rate: int = Field(16000, gt=0, description="the WAV sent is resampled to this rate, mono, 16-bit")
    max_audio_s: float = Field(600.0, gt=0, description="audio past this is not sent")
    concurrency: int = transport(
        2, ge=1, description="requests in flight (an endpoint replica generates one at a time)"
    )
    timeout_s: float = transport(600.0, gt=0, description="per request")
    max_retries: int = transport(
        4, ge=0, description="429, 5xx (503 while scaling from zero), timeouts, refused connections"
    )
    backoff_s: float = transport(2.0, gt=0, description="exponential backoff base")


class HFEndpointAnnotator(Configured[HFEndpointSettings], Annotator):
    """One POST per song to the endpoint's URL; `concurrency` songs in flight from one process."""

    parallel_processes = False
    Settings = HFEndpointSettings

    def setup(self) -> None:
        s = self.settings
        self.url = s.url
        self.model = s.model
        self.prompt = load_prompt(s.prompt, setting="annotator.prompt")
        self.generation = s.generation()
        self.concurrency = s.concurrency
        self.batch_size = self.concurrency
        self.timeout_s = s.timeout_s
        self.max_retries = s.max_retries
        _, _, wrong = find_token()
        if wrong:
            log.warning(
                "%s is set but never read: export %s=... (the endpoint will answer 401 without it)",
                ", ".join(wrong),
                TOKEN_ENV,
            )

    def text_prompt(self) -> str:
        """The prompt file plus the think suffix, exactly as annotator=af3_hf sends it."""
        return prompt_text(self.prompt, self.settings.think, self.settings.think_suffix)

    def identity(self) -> BackendIdentity:
        think = self.settings.think
        return BackendIdentity(
            backend="hf_endpoint",
            version=HF_ENDPOINT_VERSION,
            settings=self.settings.output_settings(),
            model_id=self.model,
            model_revision=self.settings.model_revision,
            adapter=f"{self.model}/think" if think else None,
            prompt=self.prompt,
            libraries=("songset", "numpy", "soundfile", "tenacity"),
        )

    def payload(self, wav: bytes) -> dict[str, Any]:
        import base64

        return {
            "inputs": {
                "audio": base64.b64encode(wav).decode("ascii"),
                "prompt": self.text_prompt(),
                "system_prompt": self.settings.system_prompt,
                "think": self.settings.think,
            },
            "parameters": {**self.generation, "seed": self.settings.seed},
        }

    def _post_once(self, body: bytes) -> Any:
        token, _, wrong = find_token()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        where = public_url(self.url)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                raw = reply.read()
        except urllib.error.HTTPError as exc:
            detail = " ".join(exc.read().decode("utf-8", "replace").split())[:200]
            if exc.code == 429 or exc.code >= 500:
                raise _Retryable(f"{where}: HTTP {exc.code}: {detail}") from exc
            if exc.code in (401, 403):
                hint = (
                    f"{', '.join(wrong)} is set but only {TOKEN_ENV} is read: export {TOKEN_ENV}"
                    if wrong
                    else f"{TOKEN_ENV} is {'set' if token else 'not set'}"
                )
                raise SongError(f"{where}: HTTP {exc.code} (not authorised; {hint})") from exc
            raise SongError(f"{where}: HTTP {exc.code}: {detail}") from exc
        except TimeoutError as exc:
            raise _Retryable(f"{where}: no answer within {self.timeout_s:g} s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _Retryable(f"{where}: no answer within {self.timeout_s:g} s") from exc
            raise _Retryable(f"{where}: cannot connect ({exc.reason})") from exc
        except ConnectionError as exc:
            raise _Retryable(f"{where}: connection failed ({type(exc).__name__})") from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise SongError(f"{where}: the answer is not JSON ({raw[:80]!r})") from exc

    def post(self, body: bytes) -> Any:
        """POST with tenacity's exponential backoff on retryable failures."""
        from tenacity import (
            RetryError,
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential,
        )

        try:
            for attempt in Retrying(
                stop=stop_after_attempt(self.max_retries + 1),
                wait=wait_exponential(multiplier=self.settings.backoff_s, max=60),
                retry=retry_if_exception_type(_Retryable),
                reraise=False,
            ):
                with attempt:
                    return self._post_once(body)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise SongError(f"{last} (after {self.max_retries} retries)") from last
        raise SongError("no attempt was made")  # unreachable: Retrying runs at least once

    def annotate(self, path: Path) -> Annotation:
        wav, sent_s = encode_wav(path, self.settings.sample_rate, self.settings.max_audio_s)
        answer = self.post(json.dumps(self.payload(wav)).encode())
        if isinstance(answer, list) and len(answer) == 1:  # some toolkits wrap the handler's answer
            answer = answer[0]
        where = public_url(self.url)
        if isinstance(answer, dict) and answer.get("error"):
            raise SongError(f"{where}: the handler answered an error: {answer['error']}")
        if not isinstance(answer, dict) or not isinstance(answer.get("text"), str):
            keys = sorted(answer) if isinstance(answer, dict) else type(answer).__name__
            raise SongError(
                f"{where}: the answer has no 'text' (got {keys}); is the endpoint running "
                "serving/af3_transformers/handler.py?"
            )
        handler_prov = answer.get("provenance") or {}
        extra: dict[str, Any] = {"endpoint": where, "handler": handler_prov}
        if "seconds" in handler_prov:
            extra["seconds"] = handler_prov["seconds"]
        return Annotation(
            text=answer["text"].strip(), summary={"audio_seconds_sent": sent_s}, extra_provenance=extra
        )

    def annotate_batch(self, paths: list[Path]) -> list[Annotation | Exception]:
        """Up to `concurrency` songs in flight; one result or that song's error per path."""

        return annotate_in_threads(self.annotate, paths, self.concurrency)
