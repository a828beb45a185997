"""`transcriber=openai`: any OpenAI-compatible `/v1/audio/transcriptions` endpoint.

OpenAI's `whisper-1` / `gpt-4o-transcribe`, a local Whisper server (faster-whisper-server, speaches) or
vLLM's transcription API. The same rules as the served annotator (`annotators/openai_audio.py`), and the
same code for them: the song is sent as 16-bit mono WAV (`encode_wav`), the official client retries
429/5xx/timeouts with backoff, `concurrency` songs are in flight from one process, songs go round-robin over
`base_urls` and fail over to the next URL, a song that fails everywhere fails alone, and the key is read
from the variable `api_key_env` names and never written anywhere.

`response_format=verbose_json` gives segments with Whisper's own signals (`avg_logprob`,
`no_speech_prob`, `compression_ratio`) when the server has them, and words with `timestamp_granularities`.
A server that refuses verbose_json (gpt-4o-transcribe answers 400) is asked again for plain text when
`fallback_to_text` is on; the format that answered is recorded in the provenance.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from songset.annotators.base import annotate_in_threads
from songset.annotators.openai_audio import encode_wav
from songset.backend import BackendIdentity
from songset.openai_client import ServedState, public_url, short, transport_error
from songset.runner import SongError
from songset.settings import BackendSettings, Configured, transport
from songset.transcribers.base import Transcriber, Transcription, TranscriptSegment, TranscriptWord
from songset.transcribers.common import language_code
from songset.transcribers.separation import SeparationSettings, vocal_separator

OPENAI_TRANSCRIBE_VERSION = "1"
ResponseFormat = Literal["verbose_json", "json", "text"]
Granularity = Literal["segment", "word"]


class OpenAITranscribeSettings(BackendSettings):
    """The only home of `transcriber=openai`'s defaults; conf/transcriber/openai.yaml documents them."""

    model: str = "whisper-1"
    model_revision: str | None = None
    language: str | None = Field(None, description="ISO 639-1 code to force; null: the server detects it")
    prompt: str | None = Field(None, description="text that primes the spelling and style of the words")
    temperature: float = Field(0.0, ge=0, le=1)
    response_format: ResponseFormat = "verbose_json"
    timestamp_granularities: list[Granularity] = Field(default_factory=lambda: ["segment"])
    fallback_to_text: bool = True
    sample_rate: int = Field(16000, gt=0)
    max_audio_s: float = Field(600.0, gt=0)
    separate_vocals: bool = Field(False, description="send Demucs' vocal stem instead of the mix")
    separation: SeparationSettings = Field(default_factory=SeparationSettings)
    base_url: str | None = transport(None)
    base_urls: list[str] | None = transport(None)
    api_key_env: str = transport("OPENAI_API_KEY")
    concurrency: int = transport(4, ge=1)
    timeout_s: float = transport(600.0, gt=0)
    max_retries: int = transport(4, ge=0)


class _Word(BaseModel):
    model_config = ConfigDict(extra="ignore")

    word: str
    start: float
    end: float
    probability: float | None = None


class _Segment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    words: list[_Word] | None = None  # faster-whisper-server nests words in segments


class _Answer(BaseModel):
    """A transcription answer as servers send it: OpenAI's verbose_json, json, and local extensions."""

    model_config = ConfigDict(extra="ignore")

    text: str
    language: str | None = None
    duration: float | None = None
    segments: list[_Segment] | None = None
    words: list[_Word] | None = None
    usage: dict[str, Any] | None = None


def _clip(value: float, end_s: float) -> float:
    return round(min(max(0.0, value), end_s), 3)


def _word(word: _Word, end_s: float) -> TranscriptWord:
    probability = word.probability if word.probability is not None and 0 <= word.probability <= 1 else None
    start = _clip(word.start, end_s)
    return TranscriptWord(
        start=start, end=max(start, _clip(word.end, end_s)), text=word.word.strip(), probability=probability
    )


def to_transcription(answer: _Answer, end_s: float) -> Transcription:
    """Server answer -> Transcription in song time; times clipped to the audio sent, words put in segments."""
    words = [_word(w, end_s) for w in answer.words or []]
    segments: list[TranscriptSegment] = []
    for seg in answer.segments or []:
        start = _clip(seg.start, end_s)
        own = [_word(w, end_s) for w in seg.words or []]
        segments.append(
            TranscriptSegment(
                start=start,
                end=max(start, _clip(seg.end, end_s)),
                text=seg.text.strip(),
                avg_logprob=seg.avg_logprob,
                no_speech_prob=seg.no_speech_prob
                if seg.no_speech_prob is not None and 0 <= seg.no_speech_prob <= 1
                else None,
                compression_ratio=seg.compression_ratio
                if seg.compression_ratio is not None and seg.compression_ratio >= 0
                else None,
                words=own,
            )
        )
    if words and segments:  # top-level words (OpenAI): each goes to the segment it starts in
        for word in words:
            home = next((s for s in reversed(segments) if s.start <= word.start), segments[0])
            home.words.append(word)
    elif words:  # words only: one segment spanning them, so their times are kept
        segments = [
            TranscriptSegment(start=words[0].start, end=words[-1].end, text=answer.text.strip(), words=words)
        ]
    return Transcription(text=answer.text.strip(), segments=segments)


class OpenAITranscriber(ServedState, Configured[OpenAITranscribeSettings], Transcriber):
    """One multipart upload per song; `concurrency` songs in flight from one process."""

    parallel_processes = False  # one process, `concurrency` threads: the bound holds across the whole run

    Settings = OpenAITranscribeSettings

    def setup(self) -> None:
        s = self.settings
        urls = [str(u) for u in (s.base_urls or [])] or ([s.base_url] if s.base_url else [])
        self.base_urls: list[str | None] = list(urls) or [None]  # None: api.openai.com
        self.batch_size = s.concurrency
        self.separator = vocal_separator(s.separate_vocals, s.separation)
        self.reset_served_state()
        self._text_only: set[str | None] = set()  # servers that refused verbose_json

    def identity(self) -> BackendIdentity:
        settings = self.settings.output_settings()
        libraries: tuple[str, ...] = ("songset", "openai", "numpy", "soundfile")
        if self.separator is not None:
            settings["separation"] = self.separator.identity()
            libraries = (*libraries, "torch", "demucs")
        return BackendIdentity(
            backend="openai_transcribe",
            version=OPENAI_TRANSCRIBE_VERSION,
            settings=settings,
            model_id=self.settings.model,
            model_revision=self.settings.model_revision,
            libraries=libraries,
        )

    def wav(self, path: Path) -> tuple[bytes, float]:
        """What is uploaded: the song (or its vocal stem) as 16-bit mono WAV, cut at `max_audio_s`."""
        s = self.settings
        if self.separator is None:
            return encode_wav(path, s.sample_rate, s.max_audio_s)
        import soundfile as sf

        samples = self.separator.vocals(path, s.sample_rate)[: int(s.max_audio_s * s.sample_rate)]
        buffer = io.BytesIO()
        sf.write(buffer, samples, s.sample_rate, format="WAV", subtype="PCM_16")
        return buffer.getvalue(), round(len(samples) / s.sample_rate, 3)

    def check_ready(self) -> None:
        if None in self.base_urls and not os.environ.get(self.settings.api_key_env):
            raise ValueError(
                f"{self.settings.api_key_env} is not set: transcriber=openai without transcriber.base_url "
                "calls the OpenAI API, which needs a key"
            )

    # ---- transport ------------------------------------------------------------------------------
    def client(self, base_url: str | None) -> Any:
        s = self.settings
        return self.served_client(base_url, s.api_key_env, s.timeout_s, s.max_retries)

    def _request(self, base_url: str | None, wav: bytes, response_format: str) -> tuple[str, Any]:
        """One upload (the client retries 429/5xx/timeouts); (response body, response headers)."""
        import openai

        s = self.settings
        where = public_url(base_url) or "api.openai.com"
        fields: dict[str, Any] = {"model": s.model, "response_format": response_format}
        if response_format == "verbose_json":
            fields["timestamp_granularities"] = list(s.timestamp_granularities)
        for name in ("language", "prompt"):
            if getattr(s, name) is not None:
                fields[name] = getattr(s, name)
        try:
            raw = self.client(base_url).audio.transcriptions.with_raw_response.create(
                file=("song.wav", wav, "audio/wav"), temperature=s.temperature, **fields
            )
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise transport_error(exc, where, s.timeout_s, s.max_retries) from exc
        return raw.http_response.text, raw.headers

    def _refuses_verbose(self, exc: BaseException | None) -> bool:
        import openai

        return isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError)

    def _answer(self, base_url: str | None, wav: bytes) -> tuple[_Answer, str, Any]:
        """(parsed answer, the format that answered, headers); verbose_json first, then text if refused."""
        s = self.settings
        where = public_url(base_url) or "api.openai.com"
        fmt = "text" if base_url in self._text_only else s.response_format
        try:
            body, headers = self._request(base_url, wav, fmt)
        except SongError as exc:
            if not (fmt == "verbose_json" and s.fallback_to_text and self._refuses_verbose(exc.__cause__)):
                raise
            self._text_only.add(base_url)
            fmt = "text"
            body, headers = self._request(base_url, wav, fmt)
        if fmt == "text":
            return _Answer(text=body), fmt, headers
        try:
            return _Answer.model_validate(json.loads(body)), fmt, headers
        except (ValueError, ValidationError) as exc:
            detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "not JSON"
            raise SongError(
                f"{where}: the answer is not a transcription ({short(detail)}): {short(body)[:120]!r}"
            ) from None

    # ---- transcription --------------------------------------------------------------------------
    def transcribe(self, path: Path) -> Transcription:
        started = time.perf_counter()
        s = self.settings
        wav, sent_s = self.wav(path)
        first = next(self._turn) % len(self.base_urls)
        order = self.base_urls[first:] + self.base_urls[:first]  # round-robin, then fail over
        errors: list[str] = []
        for base_url in order:
            try:
                answer, fmt, headers = self._answer(base_url, wav)
            except SongError as exc:
                errors.append(str(exc))
                continue
            transcription = to_transcription(answer, sent_s)
            language = s.language or language_code(answer.language)
            return transcription.model_copy(
                update={
                    "language": language,
                    "extra_provenance": {
                        "server": public_url(base_url) or "api.openai.com",
                        "server_version": self.served_version(base_url, headers),
                        "response_format": fmt,
                        "language_reported": answer.language,
                        "language_forced": s.language is not None,
                        "audio_seconds_sent": sent_s,
                        "duration_reported": answer.duration,
                        "usage": answer.usage,
                        "seconds": round(time.perf_counter() - started, 3),
                    },
                }
            )
        raise SongError("; ".join(errors))

    def transcribe_batch(self, paths: list[Path]) -> list[Transcription | Exception]:
        """Up to `concurrency` songs in flight; one result or that song's error per path, in order."""
        return annotate_in_threads(self.transcribe, paths, self.settings.concurrency)
