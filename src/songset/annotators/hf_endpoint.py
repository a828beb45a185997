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

from songset.annotators.base import Annotation, Annotator, annotate_in_threads
from songset.annotators.hf import THINK_SUFFIX, generation_settings
from songset.annotators.hf_errors import TOKEN_ENV
from songset.annotators.openai_audio import encode_wav
from songset.backend import BackendIdentity
from songset.openai_client import public_url
from songset.prompts import load_prompt
from songset.runner import SongError

log = logging.getLogger("songset")
HF_ENDPOINT_VERSION = "1"
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


class HFEndpointAnnotator(Annotator):
    """One POST per song to the endpoint's URL; `concurrency` songs in flight from one process."""

    parallel_processes = False

    def __init__(
        self,
        url: str,
        model: str = "nvidia/audio-flamingo-3-hf",
        model_revision: str | None = None,
        prompt: str = "timestamped_v1",
        system_prompt: str | None = None,
        think: bool = False,
        think_suffix: str = THINK_SUFFIX,
        max_new_tokens: int = 1024,
        min_new_tokens: int = 0,
        do_sample: bool = False,
        temperature: float = 0.7,
        top_p: float = 0.9,
        top_k: int = 50,
        repetition_penalty: float = 1.1,
        num_beams: int = 1,
        seed: int = 0,
        sample_rate: int = 16000,
        max_audio_s: float = 600.0,
        concurrency: int = 2,
        timeout_s: float = 600.0,
        max_retries: int = 4,
        backoff_s: float = 2.0,
    ) -> None:
        self.url = str(url)
        self.model = str(model)
        self.model_revision = model_revision
        self.prompt = load_prompt(prompt, setting="annotator.prompt")
        self.system_prompt = system_prompt
        self.think = bool(think)
        self.think_suffix = think_suffix
        self.generation = generation_settings(
            max_new_tokens,
            min_new_tokens,
            do_sample,
            temperature,
            top_p,
            top_k,
            repetition_penalty,
            num_beams,
        )
        self.seed = int(seed)
        self.sample_rate = int(sample_rate)
        self.max_audio_s = float(max_audio_s)
        self.concurrency = max(1, int(concurrency))
        self.batch_size = self.concurrency
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        _, _, wrong = find_token()
        if wrong:
            log.warning(
                "%s is set but never read: export %s=... (the endpoint will answer 401 without it)",
                ", ".join(wrong),
                TOKEN_ENV,
            )

    def text_prompt(self) -> str:
        """The prompt file plus the think suffix, exactly as annotator=af3_hf sends it."""
        text = self.prompt.text.strip()
        return f"{text}\n{self.think_suffix}" if self.think else text

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            backend="hf_endpoint",
            version=HF_ENDPOINT_VERSION,
            settings={
                **self.generation,
                "seed": self.seed,
                "think": self.think,
                "think_suffix": self.think_suffix if self.think else None,
                "system_prompt": self.system_prompt,
                "sample_rate": self.sample_rate,
                "max_audio_s": self.max_audio_s,
                "url": public_url(self.url),
            },
            model_id=self.model,
            model_revision=self.model_revision,
            adapter=f"{self.model}/think" if self.think else None,
            prompt=self.prompt,
            libraries=("songset", "numpy", "soundfile", "tenacity"),
        )

    def payload(self, wav: bytes) -> dict[str, Any]:
        import base64

        return {
            "inputs": {
                "audio": base64.b64encode(wav).decode("ascii"),
                "prompt": self.text_prompt(),
                "system_prompt": self.system_prompt,
                "think": self.think,
            },
            "parameters": {**self.generation, "seed": self.seed},
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
                wait=wait_exponential(multiplier=self.backoff_s, max=60),
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
        wav, sent_s = encode_wav(path, self.sample_rate, self.max_audio_s)
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
