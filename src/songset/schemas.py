"""The contract between stages: every JSON file songset writes is one of these models.

Stages never pass dicts to each other; they write and read these models, so a change of shape
is a change here, visible in the exported JSON Schema (`songset schema`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from songset.theory import KEYSCALE_PATTERN, VALID_KEYSCALES  # noqa: F401  (the keyscale vocabulary)

# ---- ACE-Step 1.5 vocabularies (from acestep/constants.py) -------------------------------------------------

VALID_LANGUAGES: tuple[str, ...] = (
    "ar", "az", "bg", "bn", "ca", "cs", "da", "de", "el", "en",
    "es", "fa", "fi", "fr", "he", "hi", "hr", "ht", "hu", "id",
    "is", "it", "ja", "ko", "la", "lt", "ms", "ne", "nl", "no",
    "pa", "pl", "pt", "ro", "ru", "sa", "sk", "sr", "sv", "sw",
    "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "yue", "zh",
    "unknown",
)  # fmt: skip
VALID_TIMESIGNATURES: tuple[str, ...] = ("2", "3", "4", "6")
BPM_MIN, BPM_MAX = 30, 300
DURATION_MIN_S, DURATION_MAX_S = 10.0, 600.0
TRAIN_CUT_S = 240.0  # ACE-Step cuts training audio here
INSTRUMENTAL_LYRICS = "[Instrumental]"

EventType = Literal[
    "intro",
    "outro",
    "build",
    "drop",
    "breakdown",
    "peak",
    "fade_in",
    "fade_out",
    "vocal_entry",
    "vocal_exit",
    "instrument_entry",
    "instrument_exit",
    "texture_change",
    "tempo_change",
    "key_change",
    "silence",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- provenance --------------------------------------------------------------------------------------------


class PromptInfo(Model):
    name: str
    text: str
    sha256: str


class Provenance(Model):
    """Enough to say exactly which stack, adapter, prompt and settings produced an output."""

    stage: str
    backend: str
    model_id: str | None = None
    model_revision: str | None = Field(
        None, description="commit hash of a hub snapshot, or sha256 of weights"
    )
    adapter: str | None = None
    adapter_revision: str | None = None
    prompt: PromptInfo | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    library_versions: dict[str, str] = Field(default_factory=dict)
    cache_key: str
    input_sha256: str = Field(description="hash of the input this output was computed from")
    # Timings and dates are not written into data (rebuilding the same inputs gives the same bytes); the
    # stage's seconds per song go to reports/stages/<stage>.json. Still read from older files.
    wall_time_s: float | None = Field(None, exclude=True)
    created_at: str | None = Field(None, exclude=True)
    extra: dict[str, Any] = Field(default_factory=dict)
    git_revision: str | None = Field(
        None, description="HEAD commit of the project when this output was written (lineage)"
    )
    git_dirty: bool | None = Field(
        None,
        description="files (tracked or untracked, besides dvc.lock and reports/) had uncommitted changes",
    )
    params_sha256: str | None = Field(None, description="sha256 of params.yaml when this output was written")


# ---- stage 1: annotate -------------------------------------------------------------------------------------


class Segment(Model):
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    features: dict[str, Any] = Field(default_factory=dict)


class RawAnnotation(Model):
    """Timestamped musical prose as the annotator wrote it; `text` is the one thing every backend fills."""

    model_config = ConfigDict(extra="allow")

    id: str
    audio_file: str
    audio_sha256: str
    duration: float
    text: str
    segments: list[Segment] = Field(default_factory=list)
    summary: dict[str, Any] = Field(default_factory=dict)
    provenance: Provenance


# ---- stage 2: clean ----------------------------------------------------------------------------------------


class Section(Model):
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    label: str
    description: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Section:
        if self.end < self.start:
            raise ValueError(f"section ends ({self.end}) before it starts ({self.start})")
        return self


class Event(Model):
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    type: EventType
    intensity: float = Field(ge=0, le=1)
    description: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Event:
        if self.end < self.start:
            raise ValueError(f"event ends ({self.end}) before it starts ({self.start})")
        return self


class UntimedSection(Model):
    """A section the prose names in order but places at no time ("opens with ..., then the verse ...")."""

    order: int = Field(ge=1, description="1-based position in the song as the prose tells it")
    label: str
    description: str = ""


# Why a cleaned annotation needs a person's look: the text is no description (lyric_sheet, chat_reply,
# refusal, no_description), was cut at the token limit, placed times after the song's end (clamped), or
# told the structure without times (untimed_structure: sections are in `untimed_sections`).
CleanFlag = Literal[
    "lyric_sheet",
    "chat_reply",
    "refusal",
    "no_description",
    "truncated",
    "timestamp_out_of_range",
    "untimed_structure",
]
CLEAN_FLAGS: tuple[str, ...] = CleanFlag.__args__  # type: ignore[attr-defined]
NOT_A_DESCRIPTION: frozenset[str] = frozenset({"lyric_sheet", "chat_reply", "refusal", "no_description"})


class Tags(Model):
    genre: list[str] = Field(default_factory=list)
    mood: list[str] = Field(default_factory=list)
    instruments: list[str] = Field(default_factory=list)
    texture: list[str] = Field(default_factory=list)


class CleanAnnotation(Model):
    id: str
    duration: float = Field(gt=0)
    caption: str = Field(min_length=1)
    tags: Tags = Field(default_factory=Tags)
    sections: list[Section] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    vocal_presence: Literal["vocal", "instrumental", "unknown"] = "unknown"
    vocal_language: str | None = None
    rich_details: str = Field(
        description="the full prose the caption was distilled from, kept for traceability"
    )
    untimed_sections: list[UntimedSection] = Field(default_factory=list)
    reasoning: str = Field("", description="the annotator's <think> text, kept apart from the description")
    flags: list[CleanFlag] = Field(default_factory=list)
    provenance: dict[str, Provenance] = Field(description="one block per stage that fed this file")

    @model_validator(mode="after")
    def _inside_song(self) -> CleanAnnotation:
        check_timeline(self.sections, self.events, self.duration)
        return self


def check_timeline(sections: list[Section], events: list[Event], duration: float) -> None:
    """Sections and events end inside the song and are ordered by start; a ValueError says which broke."""
    slack = 0.5  # annotators round timestamps to the second
    for kind, items in (("section", sections), ("event", events)):
        last = -1.0
        for item in items:
            if item.end > duration + slack:
                raise ValueError(f"{kind} {item.start}-{item.end} s ends after the song ({duration} s)")
            if item.start < last:
                raise ValueError(f"{kind}s are not ordered by start time ({item.start} after {last})")
            last = item.start


# ---- stage 3: estimate -------------------------------------------------------------------------------------


class SongMetadata(Model):
    id: str
    audio_file: str
    audio_sha256: str
    duration: float
    sample_rate: int
    channels: int
    bpm: float | None = None
    bpm_confidence: float = Field(0.0, ge=0, le=1)
    keyscale: str | None = Field(None, pattern=KEYSCALE_PATTERN)
    key_confidence: float = Field(0.0, ge=0, le=1)
    key_runner_up: str | None = None
    timesignature: str | None = None
    timesignature_confidence: float = Field(0.0, ge=0, le=1)
    warnings: list[str] = Field(default_factory=list)
    provenance: Provenance


# ---- stage: lyrics -----------------------------------------------------------------------------------------

VocalPresence = Literal["vocal", "instrumental", "unknown"]


class TimedWord(Model):
    start: float = Field(ge=0)
    text: str


class TimedLine(Model):
    """One sung line with its start (LRC stamp, SYLT time or transcription segment); `end` when known."""

    start: float = Field(ge=0)
    end: float | None = Field(None, ge=0)
    text: str
    words: list[TimedWord] = Field(default_factory=list)


class DeclaredValue(Model):
    """A value an audio file's own tags declare, and the tag it came from (`TBPM`, `INITIALKEY`, `tmpo`)."""

    value: str | float
    tag: str


class DroppedSegment(Model):
    start: float
    end: float
    text: str
    reason: str


class SongLyrics(Model):
    """`data/annotations/lyrics/<song>.json`: lyrics, language and vocal presence, each with its source.

    Sources: `override`, `lyrics_file`, `lrc`, `embedded:<tag>`, `transcription`, `annotation`, `lyrics_text`.
    """

    id: str
    audio_file: str
    audio_sha256: str
    lyrics: str | None = Field(None, description="in ACE-Step's format (section tags); None when unknown")
    lyrics_source: str | None = None
    timed_lines: list[TimedLine] = Field(
        default_factory=list, description="timestamps of LRC/SYLT/transcribed lines"
    )
    language: str | None = None
    language_confidence: float = Field(0.0, ge=0, le=1)
    language_source: str | None = None
    vocal_presence: VocalPresence = "unknown"
    vocal_confidence: float = Field(0.0, ge=0, le=1)
    vocal_source: str | None = None
    declared: dict[str, DeclaredValue] = Field(
        default_factory=dict, description="bpm, keyscale, artist, title as the file's tags declare them"
    )
    dropped_segments: list[DroppedSegment] = Field(default_factory=list)
    omitted: dict[str, str] = Field(default_factory=dict, description="field -> why it was left out")
    flags: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    transcription: dict[str, Any] | None = Field(
        None, description="the transcriber's whole answer (a Transcription), so no song is transcribed twice"
    )
    provenance: dict[str, Provenance]

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        if v is not None and v not in VALID_LANGUAGES:
            raise ValueError(f"language {v!r} is not an ACE-Step language code")
        return v


# ---- human overrides ---------------------------------------------------------------------------------------


class Override(Model):
    """`data/overrides/<song>.yaml`: what a person decided. Unknown keys are rejected, not ignored."""

    caption: str | None = None
    lyrics: str | None = None
    bpm: int | None = Field(None, ge=BPM_MIN, le=BPM_MAX)
    keyscale: str | None = Field(None, pattern=KEYSCALE_PATTERN)
    timesignature: Literal["2", "3", "4", "6"] | None = None
    language: str | None = None
    artist: str | None = None
    # the one override key that is no sidecar field (the others' help: songset.sidecar_fields)
    notes: str | None = Field(
        None, description="free text for people: why you decided this; kept in provenance, never trained on"
    )

    @field_validator("timesignature", mode="before")
    @classmethod
    def _ts_as_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        if v is not None and v not in VALID_LANGUAGES:
            raise ValueError(f"language {v!r} is not one ACE-Step accepts ({', '.join(VALID_LANGUAGES)})")
        return v


# ---- stage 4: sidecars -------------------------------------------------------------------------------------


class SidecarSource(Model):
    audio_file: str
    audio_sha256: str
    rich_details: str
    sections: list[Section] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    tags: Tags = Field(default_factory=Tags)
    confidences: dict[str, float] = Field(default_factory=dict)
    overridden: list[str] = Field(default_factory=list, description="fields a human override decided")
    omitted: dict[str, str] = Field(default_factory=dict, description="field -> why it was left out")
    vocal_presence: VocalPresence | None = Field(
        None, description="the lyrics stage's decision (its confidence and source: lyrics stage output)"
    )
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="field -> where its value came from: override, config, declared:<tag>, estimate, "
        "annotation, lyrics_file, lrc, embedded:<tag>, transcription, lyrics_text (see sidecar_fields.py)",
    )
    flags: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="input problems that did not stop the song")
    caption_tokens: int
    attribution: str | None = None
    provenance: dict[str, Provenance]


class Sidecar(Model):
    """`<stem>.json` beside the audio, in the shape ACE-Step 1.5 and the user's loader read."""

    caption: str = Field(min_length=1)
    lyrics: str | None = None
    bpm: int | None = Field(None, ge=BPM_MIN, le=BPM_MAX)
    keyscale: str | None = Field(None, pattern=KEYSCALE_PATTERN)
    timesignature: Literal["2", "3", "4", "6"] | None = None
    language: str | None = None
    vocal_language: str | None = None
    duration: float = Field(gt=0)
    artist: str | None = None
    source: SidecarSource

    @field_validator("language", "vocal_language")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        if v is not None and v not in VALID_LANGUAGES:
            raise ValueError(f"language {v!r} is not an ACE-Step language code")
        return v

    @field_validator("caption")
    @classmethod
    def _caption_has_words(cls, v: str) -> str:
        if not re.search(r"\w", v):
            raise ValueError("caption has no words")
        return v


class ManifestEntry(Model):
    id: str
    audio: str
    sidecar: str
    lyrics: str | None = None
    duration: float
    caption_tokens: int
    flags: list[str] = Field(default_factory=list)


class DatasetManifest(Model):
    songs: int
    params_sha256: str
    git_revision: str | None = None
    git_dirty: bool | None = None
    entries: list[ManifestEntry]


# ---- failures and stage summaries --------------------------------------------------------------------------


class SongFailure(Model):
    id: str
    file: str
    stage: str
    reason: str


class StageSummary(Model):
    """`reports/stages/<stage>.json`: what one run of a stage did, so a re-run's cost is visible."""

    stage: str
    songs: int
    computed: list[str]
    cached: list[str]
    failed: list[SongFailure]
    skipped: list[SongFailure] = Field(
        default_factory=list, description="byte-identical copies of another song: built once, not failed"
    )
    wall_time_s: float
    song_seconds: dict[str, float] = Field(
        default_factory=dict, description="seconds each computed song took (timings live here, not in data)"
    )
    settings_sha256: str
    usage: dict[str, float] = Field(
        default_factory=dict, description="paid-API tokens and estimated cost: this run and the whole dataset"
    )


SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "raw_annotation": RawAnnotation,
    "clean_annotation": CleanAnnotation,
    "song_metadata": SongMetadata,
    "override": Override,
    "song_lyrics": SongLyrics,
    "sidecar": Sidecar,
    "dataset_manifest": DatasetManifest,
    "stage_summary": StageSummary,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema() for name, model in SCHEMA_MODELS.items()}
