"""The transcriber seam: every backend (Whisper through Transformers, an OpenAI-compatible
`/v1/audio/transcriptions` server, none) fills `Transcription` for one song.

The lyrics stage asks a transcriber only for songs that have no human, file or embedded lyrics, and keeps
the model's own signals (no-speech probability, compression ratio, average log-probability) so invented
lyrics can be caught downstream.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from songset.backend import BackendIdentity
from songset.runner import SongResources
from songset.settings import BackendSettings, Configured


class TranscriptWord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    probability: float | None = Field(None, ge=0, le=1)


class TranscriptSegment(BaseModel):
    """One timed stretch of sung words, with the signals Whisper gives about how much to trust it."""

    model_config = ConfigDict(extra="forbid")

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = Field(None, ge=0, le=1)
    compression_ratio: float | None = Field(None, ge=0)
    words: list[TranscriptWord] = Field(default_factory=list)


class Transcription(BaseModel):
    """What a transcriber heard in one song; `segments` may be empty for a server that returns text only."""

    model_config = ConfigDict(extra="forbid")

    text: str
    language: str | None = Field(None, description="the transcriber's own language guess (ISO 639-1)")
    language_probability: float | None = Field(None, ge=0, le=1)
    segments: list[TranscriptSegment] = Field(default_factory=list)
    extra_provenance: dict[str, Any] = Field(default_factory=dict)


class Transcriber(ABC):
    enabled: bool = True  # False: the lyrics stage never asks it (transcriber=none)
    batch_size: int = 1
    parallel_processes: bool = True  # False for backends holding a model: one copy per stage

    @abstractmethod
    def identity(self) -> BackendIdentity: ...

    @abstractmethod
    def transcribe(self, path: Path) -> Transcription:
        """Transcribe one song; raise SongError for a problem with that song's input."""

    def transcribe_batch(self, paths: list[Path]) -> list[Transcription | Exception]:
        """Up to `batch_size` songs at once (threads for a server, one padded batch for a model); one
        result or that song's error per path, in order. Default: one after another."""
        results: list[Transcription | Exception] = []
        for path in paths:
            try:
                results.append(self.transcribe(path))
            except Exception as exc:  # one song's failure must not sink the rest
                results.append(exc)
        return results

    def resources(self) -> SongResources:
        return SongResources()

    def check_ready(self) -> None:
        """Raise ValueError when no song could be transcribed (a missing API key): once, before the first."""
        return


class NoTranscriberSettings(BackendSettings):
    """transcriber=none has nothing to set."""


class NoTranscriber(Configured[NoTranscriberSettings], Transcriber):
    """`transcriber=none`: lyrics come only from people and files (the offline default)."""

    enabled = False
    Settings = NoTranscriberSettings

    def identity(self) -> BackendIdentity:
        return BackendIdentity(backend="none", version="1")

    def transcribe(self, path: Path) -> Transcription:
        raise RuntimeError(f"{path}: transcriber=none transcribes nothing (choose one in conf/transcriber)")
