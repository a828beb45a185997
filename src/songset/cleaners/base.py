"""The cleaner seam: the rules cleaner now, the OpenAI structured-output cleaner later, same schema."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from songset.backend import BackendIdentity
from songset.provenance import make_provenance
from songset.runner import SongJob
from songset.schemas import (
    CleanAnnotation,
    CleanFlag,
    Event,
    Model,
    RawAnnotation,
    Section,
    Tags,
    UntimedSection,
)

if TYPE_CHECKING:
    from songset.stages.clean import CleanInputs


class CleanedContent(Model):
    """What a cleaner decides; id, duration and provenance are added by `clean_song`."""

    caption: str = Field(min_length=1)
    tags: Tags = Field(default_factory=Tags)
    sections: list[Section] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    vocal_presence: Literal["vocal", "instrumental", "unknown"] = "unknown"
    vocal_language: str | None = None
    rich_details: str
    untimed_sections: list[UntimedSection] = Field(default_factory=list)
    reasoning: str = ""
    flags: list[CleanFlag] = Field(default_factory=list)


class Cleaner(ABC):
    @abstractmethod
    def identity(self) -> BackendIdentity: ...

    @abstractmethod
    def clean(self, raw: RawAnnotation) -> CleanedContent: ...

    def check_ready(self) -> None:
        """Raise ValueError when no song could be cleaned (a missing API key): once, before the first."""
        return  # most backends need nothing beyond their settings

    def clean_with_details(self, raw: RawAnnotation) -> tuple[CleanedContent, dict[str, Any]]:
        """The content plus what provenance should record of this call (response ids, token usage)."""
        return self.clean(raw), {}


def clean_song(job: SongJob[CleanInputs], cleaner: Cleaner) -> CleanAnnotation:
    raw = job.inputs.raw
    ident = cleaner.identity()
    content, details = cleaner.clean_with_details(raw)
    provenance = make_provenance(
        stage="clean",
        backend=ident.backend,
        cache_key=job.key,
        input_sha256=job.inputs.raw_sha256,
        settings=ident.settings,
        model_id=ident.model_id,
        model_revision=ident.model_revision,
        prompt=ident.prompt,
        libraries=ident.libraries,
        extra={"backend_version": ident.version, **details},
    )
    return CleanAnnotation(
        id=raw.id,
        duration=raw.duration,
        **content.model_dump(),
        provenance={"annotate": raw.provenance, "clean": provenance},
    )
