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
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from songset.schemas import INSTRUMENTAL_LYRICS

Source = Literal["override", "config", "declared", "estimate", "lyrics", "annotation"]


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


SIDECAR_FIELDS: dict[str, SidecarField] = {
    f.name: f
    for f in (
        SidecarField(
            name="caption",
            help="the text prompt ACE-Step trains on; keep it inside the 256-token prompt",
            sources=("override", "annotation"),
            override="caption",
            acestep="caption",
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

# sidecar field with a confidence -> the setting below which it is left out (the report marks these)
CONFIDENCE_THRESHOLDS: dict[str, str] = {
    f.name: f.threshold
    for f in SIDECAR_FIELDS.values()
    if f.threshold is not None and f.confidence is not None
}
