"""The estimator seam: one decode per song, tempo/key/meter from shared features."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from songset.audio import Audio, load_audio
from songset.backend import BackendIdentity
from songset.provenance import make_provenance
from songset.runner import SongJob
from songset.schemas import SongMetadata

if TYPE_CHECKING:
    from songset.stages.base import AudioInputs


@dataclass
class Estimates:
    bpm: float | None = None
    bpm_confidence: float = 0.0
    keyscale: str | None = None
    key_confidence: float = 0.0
    key_runner_up: str | None = None
    timesignature: str | None = None
    timesignature_confidence: float = 0.0
    warnings: list[str] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)


class Estimator(ABC):
    sample_rate: int = 22050

    @abstractmethod
    def identity(self) -> BackendIdentity: ...

    @abstractmethod
    def estimate(self, audio: Audio) -> Estimates: ...


def estimate_song(job: SongJob[AudioInputs], estimator: Estimator) -> SongMetadata:
    ident = estimator.identity()
    audio = load_audio(job.file, estimator.sample_rate)
    est = estimator.estimate(audio)
    return SongMetadata(
        id=job.id,
        audio_file=job.file.name,
        audio_sha256=job.inputs.audio_sha256,
        duration=round(audio.info.duration, 3),
        sample_rate=audio.info.sample_rate,
        channels=audio.info.channels,
        bpm=est.bpm,
        bpm_confidence=round(est.bpm_confidence, 4),
        keyscale=est.keyscale,
        key_confidence=round(est.key_confidence, 4),
        key_runner_up=est.key_runner_up,
        timesignature=est.timesignature,
        timesignature_confidence=round(est.timesignature_confidence, 4),
        warnings=[*audio.warnings, *est.warnings],
        provenance=make_provenance(
            stage="estimate",
            backend=ident.backend,
            cache_key=job.key,
            input_sha256=job.inputs.audio_sha256,
            settings=ident.settings,
            libraries=ident.libraries,
            extra={"backend_version": ident.version, **est.details},
        ),
    )
