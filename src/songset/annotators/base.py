"""The annotator seam: every backend (descriptor, AF3, Qwen2-Audio, served endpoints) fills `Annotation`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from songset.backend import BackendIdentity
from songset.provenance import make_provenance
from songset.runner import SongJob, SongResources
from songset.schemas import RawAnnotation, Segment

if TYPE_CHECKING:
    from songset.stages.base import AudioInputs


@dataclass
class Annotation:
    text: str
    segments: list[Segment] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    extra_provenance: dict[str, Any] = field(default_factory=dict)


class Annotator(ABC):
    @abstractmethod
    def identity(self) -> BackendIdentity: ...

    @abstractmethod
    def annotate(self, path: Path) -> Annotation:
        """Describe one song; raise SongError for a problem with that song's input."""

    batch_size: int = 1  # songs the pipeline may hand to annotate_batch at once
    parallel_processes: bool = True  # False for backends holding a model: one copy per stage, not per worker

    def resources(self) -> SongResources:
        """What one song (for model holders: one model copy) needs on a Ray worker; one CPU by default."""
        return SongResources()

    def check_ready(self) -> None:
        """Raise ValueError when no song could be annotated (a missing API key): once, before the first."""
        return  # most backends need nothing beyond their settings

    def annotate_batch(self, paths: list[Path]) -> list[Annotation | Exception]:
        """Several songs at once (GPU backends batch them); one result or that song's error per path."""
        results: list[Annotation | Exception] = []
        for path in paths:
            try:
                results.append(self.annotate(path))
            except Exception as exc:  # one song's failure must not sink the rest of the batch
                results.append(exc)
        return results


Result = TypeVar("Result")


def annotate_in_threads(
    annotate: Callable[[Path], Result], paths: list[Path], concurrency: int
) -> list[Result | Exception]:
    """Network backends (annotators, transcribers): up to `concurrency` songs in flight; one result or
    that song's error, in order."""

    def one(path: Path) -> Result | Exception:
        try:
            return annotate(path)
        except Exception as exc:  # one song's failure must not sink the rest
            return exc

    with ThreadPoolExecutor(max_workers=min(concurrency, max(1, len(paths)))) as pool:
        return list(pool.map(one, paths))


def annotate_song(job: SongJob[AudioInputs], annotator: Annotator) -> RawAnnotation:
    """One song -> RawAnnotation with its provenance. Pure apart from reading the audio file."""
    result = annotator.annotate(job.file)
    return raw_annotation(job, annotator.identity(), result)


def annotate_songs(jobs: list[SongJob[AudioInputs]], annotator: Annotator) -> list[RawAnnotation | Exception]:
    """Several songs through `annotate_batch` (left-padded GPU batches); one result or error per song."""
    ident = annotator.identity()
    results = annotator.annotate_batch([job.file for job in jobs])
    out: list[RawAnnotation | Exception] = []
    for job, result in zip(jobs, results, strict=True):
        if isinstance(result, Exception):
            out.append(result)
            continue
        try:
            out.append(raw_annotation(job, ident, result))
        except Exception as exc:
            out.append(exc)
    return out


def raw_annotation(job: SongJob[AudioInputs], ident: BackendIdentity, result: Annotation) -> RawAnnotation:
    if not result.text.strip():
        raise ValueError(f"{ident.backend} returned empty text")
    return RawAnnotation(
        id=job.id,
        audio_file=job.file.name,
        audio_sha256=job.inputs.audio_sha256,
        duration=job.inputs.duration,
        text=result.text,
        segments=result.segments,
        summary=result.summary,
        provenance=make_provenance(
            stage="annotate",
            backend=ident.backend,
            cache_key=job.key,
            input_sha256=job.inputs.audio_sha256,
            settings=ident.settings,
            model_id=ident.model_id,
            model_revision=ident.model_revision,
            adapter=ident.adapter,
            adapter_revision=ident.adapter_revision,
            prompt=ident.prompt,
            libraries=ident.libraries,
            extra={"backend_version": ident.version, **result.extra_provenance},
        ),
    )
