"""The sidecar field table: for each field, where its value may come from (in order), the confidence it
is judged by and the setting that threshold lives in. `build_sidecar` reads it; the report's thresholds,
`songset edit` help and export can read the same rows, so a new field touches one place.

Sources, first with a value wins: `override` (data/overrides/<song>.yaml), `config` (a sidecar setting
for every song), `declared` (the audio file's own tags, via the lyrics stage), `estimate` (the estimate
stage, kept only at or over its threshold), `lyrics` (the lyrics stage's decision and its own source),
`annotation` (the clean annotation).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

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


SIDECAR_FIELDS: dict[str, SidecarField] = {
    f.name: f
    for f in (
        SidecarField(
            name="caption",
            help="what the song sounds like, in ACE-Step's words",
            sources=("override", "annotation"),
        ),
        SidecarField(
            name="lyrics",
            help="sung words with [Verse]/[Chorus] tags, or [Instrumental]",
            sources=("lyrics",),  # the lyrics stage ranks override, file, tags, transcription itself
        ),
        SidecarField(
            name="bpm",
            help="tempo, whole beats per minute (30-300)",
            sources=("override", "declared", "estimate"),
            estimate="bpm",
            confidence="bpm_confidence",
            threshold="min_bpm_confidence",
            declared="bpm",
        ),
        SidecarField(
            name="keyscale",
            help='key, e.g. "F# minor", "Bb major"',
            sources=("override", "declared", "estimate"),
            estimate="keyscale",
            confidence="key_confidence",
            threshold="min_key_confidence",
            declared="keyscale",
        ),
        SidecarField(
            name="timesignature",
            help='beats per bar: "2", "3", "4" or "6"',
            sources=("override", "estimate"),
            estimate="timesignature",
            confidence="timesignature_confidence",
            threshold="min_timesignature_confidence",
        ),
        SidecarField(
            name="vocal_language",
            help="sung language (ACE-Step's ISO codes; unknown for instrumentals)",
            sources=("lyrics", "config"),  # a human's language comes first inside the lyrics stage
            config="language",
        ),
        SidecarField(
            name="vocal_presence",
            help="vocal, instrumental or unknown (recorded in source, decides lyrics and language)",
            sources=("lyrics",),
        ),
        SidecarField(
            name="artist",
            help="credited artist",
            sources=("override", "config", "declared"),
            config="artist",
            declared="artist",
        ),
    )
}

# sidecar field with a confidence -> the setting below which it is left out (the report marks these)
CONFIDENCE_THRESHOLDS: dict[str, str] = {
    f.name: f.threshold
    for f in SIDECAR_FIELDS.values()
    if f.threshold is not None and f.confidence is not None
}
