"""The sidecar field table: for each field, where its value may come from (in order), the confidence it
is judged by and the setting that threshold lives in, the override key and help a person edits it by, the
report's coverage metric and the `dataset.json` key ACE-Step reads it under. `build_sidecar`, the report's
thresholds and coverage, `songset edit` and export all read these rows, so a new field is one row here
(plus its type in `schemas.Sidecar`, and in `schemas.Override` when a person may decide it).

`Sidecar.language` (`vocal_language` as ACE-Step's folder scan reads it: left out for an instrumental) and
`Sidecar.duration` (measured from the audio) are computed from other values, not decided, so have no row.

Sources, first with a value wins: `override` (data/overrides/<song>.yaml), `config` (a sidecar setting
for every song), `declared` (the audio file's own tags, via the lyrics stage), `estimate` (the estimate
stage, kept only at or over its threshold), `lyrics` (the lyrics stage's decision and its own source),
`annotation` (the clean annotation).

`accepts` is what values a column takes across the set: the validate stage's expectation suite is built
from it (`songset.expectations.expectation_suite`), for these fields and for the few sidecar columns that
are not fields of this table (`SET_COLUMNS`: the song id, caption tokens, duration, `language`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from songset.schemas import (
    BPM_MAX,
    BPM_MIN,
    DURATION_MAX_S,
    DURATION_MIN_S,
    INSTRUMENTAL_LYRICS,
    VALID_KEYSCALES,
    VALID_LANGUAGES,
    VALID_TIMESIGNATURES,
)

Source = Literal["override", "config", "declared", "estimate", "lyrics", "annotation"]


class Accepts(BaseModel):
    """What values one column accepts across the set; a missing value (None) passes every rule but `required`.

    Each rule becomes one expectation of the set-level suite, in this order: required, min_length, unique,
    one_of, min/max (or min/max_setting).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    required: bool = False  # no song may lack it
    min_length: int | None = None  # shortest text
    unique: bool = False  # no two songs share a value
    one_of: tuple[str, ...] | None = None  # the vocabulary
    min: float | None = None  # inclusive range
    max: float | None = None
    max_setting: str | None = None  # SidecarSettings field giving the max (the caption token budget)

    @model_validator(mode="after")
    def _one_upper_bound(self) -> Accepts:
        if self.max is not None and self.max_setting is not None:
            raise ValueError("give max or max_setting, not both")
        return self


class SetColumn(BaseModel):
    """A sidecar column checked across the set that is not a field of the table (no sources to rank)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: str | None  # dotted attribute of the Sidecar; None: the song id (the file's stem)
    accepts: Accepts


class SidecarField(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    help: str
    sources: tuple[Source, ...]
    estimate: str | None = None  # SongMetadata field
    confidence: str | None = None  # SongMetadata field holding the estimate's confidence
    threshold: str | None = None  # SidecarSettings field: an estimate under it is left out
    config: str | None = None  # SidecarSettings field giving every song a value
    declared: str | None = None  # SongLyrics.declared key
    override: str | None = None  # Override field (and `songset edit` line) a person decides it with
    coverage: str | None = None  # quality.json key of the share of sidecars with a value; None: not counted
    not_counted: tuple[str, ...] = ()  # values the coverage does not count as a value
    acestep: str | None = None  # dataset.json (ACE-Step `AudioSample`) key it is exported under
    instrumental: str | None = (
        None  # what dataset.json states for an instrumental (a vocal field: see export)
    )
    accepts: Accepts | None = None  # values accepted across the set (validate stage); None: not checked


SIDECAR_FIELDS: dict[str, SidecarField] = {
    f.name: f
    for f in (
        SidecarField(
            name="caption",
            help="the text prompt ACE-Step trains on; keep it inside the 256-token prompt",
            sources=("override", "annotation"),
            override="caption",
            acestep="caption",
            accepts=Accepts(required=True, min_length=1),
        ),
        SidecarField(
            name="lyrics",
            help="the sung words with [Verse]/[Chorus] tags; [Instrumental] when there are none",
            sources=("lyrics",),  # the lyrics stage ranks override, file, tags, transcription itself
            override="lyrics",
            coverage="lyrics_coverage",
            not_counted=(INSTRUMENTAL_LYRICS,),
            acestep="lyrics",
            instrumental=INSTRUMENTAL_LYRICS,
        ),
        SidecarField(
            name="bpm",
            help="whole beats per minute, 30-300 (the felt tempo, not double or half)",
            sources=("override", "declared", "estimate"),
            estimate="bpm",
            confidence="bpm_confidence",
            threshold="min_bpm_confidence",
            declared="bpm",
            override="bpm",
            coverage="bpm_coverage",
            acestep="bpm",
            accepts=Accepts(min=BPM_MIN, max=BPM_MAX),
        ),
        SidecarField(
            name="keyscale",
            help='tonic and mode, e.g. "F# minor", "Bb major"',
            sources=("override", "declared", "estimate"),
            estimate="keyscale",
            confidence="key_confidence",
            threshold="min_key_confidence",
            declared="keyscale",
            override="keyscale",
            coverage="key_coverage",
            acestep="keyscale",
            accepts=Accepts(one_of=VALID_KEYSCALES),
        ),
        SidecarField(
            name="timesignature",
            help='beats per bar: "2", "3", "4" or "6"',
            sources=("override", "estimate"),
            estimate="timesignature",
            confidence="timesignature_confidence",
            threshold="min_timesignature_confidence",
            override="timesignature",
            coverage="timesignature_coverage",
            acestep="timesignature",
            accepts=Accepts(one_of=VALID_TIMESIGNATURES),
        ),
        SidecarField(
            name="vocal_language",
            help="ACE-Step language code of the vocals (en, de, fr, ..., unknown)",
            sources=("lyrics", "config"),  # a human's language comes first inside the lyrics stage
            config="language",
            override="language",
            coverage="language_coverage",
            not_counted=("unknown",),
            acestep="language",
            instrumental="unknown",
            accepts=Accepts(one_of=VALID_LANGUAGES),
        ),
        SidecarField(
            name="vocal_presence",
            help="vocal, instrumental or unknown (recorded in source, decides lyrics and language)",
            sources=("lyrics",),
        ),
        SidecarField(
            name="artist",
            help="credited artist (optional)",
            sources=("override", "config", "declared"),
            config="artist",
            declared="artist",
            override="artist",
        ),
    )
}

# sidecar columns checked across the set that are not fields above; the suite checks these first, then the
# fields in table order
SET_COLUMNS: dict[str, SetColumn] = {
    c.name: c
    for c in (
        SetColumn(name="id", value=None, accepts=Accepts(unique=True)),
        SetColumn(
            name="caption_tokens",
            value="source.caption_tokens",
            accepts=Accepts(min=1, max_setting="caption_token_budget"),
        ),
        SetColumn(name="language", value="language", accepts=Accepts(one_of=VALID_LANGUAGES)),
        SetColumn(name="duration", value="duration", accepts=Accepts(min=DURATION_MIN_S, max=DURATION_MAX_S)),
    )
}

# sidecar field with a confidence -> the setting below which it is left out (the report marks these)
CONFIDENCE_THRESHOLDS: dict[str, str] = {
    f.name: f.threshold
    for f in SIDECAR_FIELDS.values()
    if f.threshold is not None and f.confidence is not None
}
