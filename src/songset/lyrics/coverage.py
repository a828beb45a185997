"""What the lyrics stage gave the dataset, for the report: lyrics and language coverage by source,
vocal/instrumental counts, songs whose transcription looked invented, and declared values that disagree
with the estimate. One function over the sidecars as written (JSON), so the report only calls it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from songset.schemas import INSTRUMENTAL_LYRICS

DECLARED_FLAG_PREFIX = "declared_"  # value_disagreements' flags for a file's own bpm/key


class LyricsCoverage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    songs: int
    vocal: int
    instrumental: int
    unknown: int
    with_lyrics: int = Field(description="sung songs with lyrics (instrumentals' [Instrumental] not counted)")
    lyrics_share_of_vocal: float | None = Field(description="share of vocal songs with lyrics")
    lyrics_by_source: dict[str, int] = Field(
        description="override, lyrics_file, lrc, embedded:<tag>, transcription"
    )
    with_language: int = Field(description="songs with a sung language (not unknown)")
    language_by_source: dict[str, int]
    vocal_without_lyrics: list[str] = Field(
        description="sung songs left without lyrics (counted, never guessed)"
    )
    low_confidence_lyrics: list[str] = Field(
        description="transcriptions left out: too little kept by the guard"
    )
    invented_lyrics_suspected: list[str] = Field(
        description="songs where the guard dropped invented-looking text"
    )
    declared_disagreements: dict[str, list[str]] = Field(
        description="song -> flags where a file's declared bpm/key disagrees with the estimate"
    )


def lyrics_coverage(sidecars: Mapping[str, Mapping[str, Any]]) -> LyricsCoverage:
    """Counts over sidecar JSON (song id -> sidecar); songs missing a field are counted as without it."""
    presence: Counter[str] = Counter()
    lyrics_sources: Counter[str] = Counter()
    language_sources: Counter[str] = Counter()
    with_lyrics = with_language = 0
    vocal_with_lyrics = 0
    flagged: dict[str, list[str]] = {
        "vocals_without_lyrics": [],
        "low_confidence_lyrics": [],
        "invented_lyrics_suspected": [],
    }
    disagreements: dict[str, list[str]] = {}
    for song_id, sidecar in sorted(sidecars.items()):
        source = sidecar.get("source") or {}
        sources = source.get("sources") or {}
        flags = list(source.get("flags") or [])
        state = source.get("vocal_presence") or "unknown"
        presence[state] += 1
        lyrics = sidecar.get("lyrics")
        sung = isinstance(lyrics, str) and lyrics.strip() not in ("", INSTRUMENTAL_LYRICS)
        if sung:
            with_lyrics += 1
            vocal_with_lyrics += state == "vocal"
            lyrics_sources[str(sources.get("lyrics", "unrecorded"))] += 1
        language = sidecar.get("vocal_language")
        if language not in (None, "", "unknown"):
            with_language += 1
            language_sources[str(sources.get("vocal_language", "unrecorded"))] += 1
        for flag, songs in flagged.items():
            if flag in flags:
                songs.append(song_id)
        declared = [f for f in flags if f.startswith(DECLARED_FLAG_PREFIX)]
        if declared:
            disagreements[song_id] = declared
    return LyricsCoverage(
        songs=len(sidecars),
        vocal=presence["vocal"],
        instrumental=presence["instrumental"],
        unknown=presence["unknown"],
        with_lyrics=with_lyrics,
        lyrics_share_of_vocal=round(vocal_with_lyrics / presence["vocal"], 4) if presence["vocal"] else None,
        lyrics_by_source=dict(sorted(lyrics_sources.items())),
        with_language=with_language,
        language_by_source=dict(sorted(language_sources.items())),
        vocal_without_lyrics=flagged["vocals_without_lyrics"],
        low_confidence_lyrics=flagged["low_confidence_lyrics"],
        invented_lyrics_suspected=flagged["invented_lyrics_suspected"],
        declared_disagreements=disagreements,
    )


def coverage_rows(coverage: LyricsCoverage) -> list[tuple[str, str]]:
    """(measure, value) rows, the same in the Markdown and the HTML report."""

    def listed(songs: list[str]) -> str:
        return f"{len(songs)}" + (f" ({', '.join(songs)})" if songs else "")

    def by_source(counts: dict[str, int]) -> str:
        return ", ".join(f"{source} {n}" for source, n in counts.items()) or "none"

    share = coverage.lyrics_share_of_vocal
    return [
        (
            "songs: vocal / instrumental / unknown",
            f"{coverage.vocal} / {coverage.instrumental} / {coverage.unknown}",
        ),
        (
            "sung songs with lyrics",
            f"{coverage.with_lyrics}" + (f" ({share:.0%} of vocal songs)" if share is not None else ""),
        ),
        ("lyrics by source", by_source(coverage.lyrics_by_source)),
        ("songs with a sung language", str(coverage.with_language)),
        ("language by source", by_source(coverage.language_by_source)),
        ("vocal songs without lyrics", listed(coverage.vocal_without_lyrics)),
        ("transcriptions left out (low confidence)", listed(coverage.low_confidence_lyrics)),
        ("possible invented lyrics (guard dropped text)", listed(coverage.invented_lyrics_suspected)),
        (
            "declared bpm/key disagreeing with the estimate",
            ", ".join(f"{song}: {' '.join(flags)}" for song, flags in coverage.declared_disagreements.items())
            or "none",
        ),
    ]
