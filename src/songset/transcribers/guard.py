"""The guard against invented lyrics: Whisper writes text over instrumentals, and this catches it.

Why: Whisper-family models were trained on subtitled video, so over music without a voice they write
"thank you for watching", subtitle credits, or one line looped until the window ends. They also say how
sure they are: per segment, the probability that the window holds no speech, the average log-probability
of the tokens, and how well the text compresses (a looping text compresses very well). This module reads
those signals the way Whisper's own decoder does, drops the segments that fail, keeps the reason for each,
and judges the song as a whole. It is pure: a `Transcription` in, a `GuardedTranscription` out.

Thresholds default to Whisper's own (openai/whisper `whisper/transcribe.py`, `transcribe()` defaults and
CLI: `no_speech_threshold=0.6`, `logprob_threshold=-1.0`, `compression_ratio_threshold=2.4`; Transformers
uses the same names and meaning in `WhisperGenerationMixin.generate`). As there, a segment is silence only
when the no-speech probability is high AND the log-probability is low (a confident decode over a "silent"
looking window is kept), and a compression ratio above the threshold marks a repetition loop.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from songset.transcribers.base import Transcription, TranscriptSegment

DropReason = Literal["empty", "no_speech", "repetition_loop", "hallucination_phrase", "repeated_line"]

# Phrases Whisper is known to write over music or silence: subtitle and video-channel boilerplate from its
# training data, in the languages it most often appears in. Matched on casefolded text without punctuation.
KNOWN_HALLUCINATIONS: tuple[str, ...] = (
    "thank you for watching",
    "thanks for watching",
    "thank you so much for watching",
    "please subscribe",
    "like and subscribe",
    "dont forget to subscribe",
    "subscribe to my channel",
    "see you in the next video",
    "subtitles by",
    "subtitled by",
    "captions by",
    "captioning by",
    "transcribed by",
    "translated by",
    "transcript by",
    "amaraorg",
    "untertitel im auftrag",
    "untertitelung",
    "sous-titres réalisés",
    "sous-titrage",
    "sottotitoli creati",
    "subtítulos realizados",
    "legendas pela comunidade",
    "ご視聴ありがとうございました",
    "字幕",
    "감사합니다 시청",
    "продолжение следует",
)


class GuardSettings(BaseModel):
    """Where the guard draws its lines; the defaults are Whisper's own (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    no_speech_threshold: float = Field(0.6, ge=0, le=1, description="silence when no_speech_prob is above")
    logprob_threshold: float = Field(-1.0, description="...and avg_logprob is below this")
    compression_ratio_threshold: float = Field(2.4, gt=0, description="above: a repetition loop")
    hallucination_phrases: tuple[str, ...] = KNOWN_HALLUCINATIONS
    max_consecutive_repeats: int = Field(
        4, ge=1, description="a run of more identical lines than this is a decoding loop (a chorus is not)"
    )
    suspect_share: float = Field(
        0.5, gt=0, le=1, description="invented lyrics suspected when this share of the words is dropped"
    )


class DroppedSegment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segment: TranscriptSegment
    reasons: list[DropReason]


class GuardedTranscription(BaseModel):
    """What survives the guard, what was dropped and why, and the song-level verdict."""

    model_config = ConfigDict(extra="forbid")

    transcription: Transcription = Field(description="kept segments only; `text` rebuilt from them")
    dropped: list[DroppedSegment] = Field(default_factory=list)
    invented_lyrics_suspected: bool
    confidence: float = Field(ge=0, le=1, description="how sure the guard is that the lyrics are invented")
    dropped_word_share: float = Field(ge=0, le=1)
    reasons: dict[str, int] = Field(default_factory=dict, description="drop reason -> segments dropped")


def compression_ratio(text: str) -> float:
    """UTF-8 bytes over zlib-compressed bytes: Whisper's `compression_ratio` (whisper/utils.py)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


_PUNCTUATION = re.compile(r"[^\w\s-]", re.UNICODE)


def normalise(text: str) -> str:
    """Casefolded, accents kept, punctuation dropped, spaces collapsed: how lines are compared."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_PUNCTUATION.sub("", folded).split())


def _word_count(text: str) -> int:
    return len(text.split())


def _signal_reasons(segment: TranscriptSegment, settings: GuardSettings) -> list[DropReason]:
    reasons: list[DropReason] = []
    if not normalise(segment.text):
        return ["empty"]
    if (
        segment.no_speech_prob is not None
        and segment.no_speech_prob > settings.no_speech_threshold
        and (segment.avg_logprob is None or segment.avg_logprob < settings.logprob_threshold)
    ):
        reasons.append("no_speech")
    ratio = segment.compression_ratio
    if ratio is not None and ratio > settings.compression_ratio_threshold:
        reasons.append("repetition_loop")
    text = normalise(segment.text)
    if any(normalise(phrase) in text for phrase in settings.hallucination_phrases if normalise(phrase)):
        reasons.append("hallucination_phrase")
    return reasons


def _repeated_runs(texts: list[str], longest: int) -> set[int]:
    """Indices inside runs of identical (normalised, non-empty) lines longer than `longest`."""
    flagged: set[int] = set()
    start = 0
    for i in range(1, len(texts) + 1):
        if i == len(texts) or texts[i] != texts[start]:
            if texts[start] and i - start > longest:
                flagged.update(range(start, i))
            start = i
    return flagged


def _segments_of(transcription: Transcription) -> list[TranscriptSegment]:
    """The segments to judge; a text-only answer is judged line by line (no signals, no times)."""
    if transcription.segments:
        return list(transcription.segments)
    lines = [line for line in transcription.text.splitlines() if line.strip()]
    return [TranscriptSegment(start=0.0, end=0.0, text=line) for line in lines]


def guard_transcription(transcription: Transcription, settings: GuardSettings) -> GuardedTranscription:
    """Drop segments Whisper itself doubts, boilerplate and loops; judge whether the song's lyrics are invented.

    The verdict: `confidence` is the larger of the share of words dropped and the mean no-speech probability
    of the kept words (a song whose every window looks silent is suspect even when each decode passed);
    `invented_lyrics_suspected` when that reaches `suspect_share`.
    """
    segments = _segments_of(transcription)
    reasons: list[list[DropReason]] = [_signal_reasons(s, settings) for s in segments]
    looped = _repeated_runs([normalise(s.text) for s in segments], settings.max_consecutive_repeats)
    for index in looped:
        reasons[index].append("repeated_line")
    kept = [s for s, r in zip(segments, reasons, strict=True) if not r]
    dropped = [DroppedSegment(segment=s, reasons=r) for s, r in zip(segments, reasons, strict=True) if r]

    total_words = sum(_word_count(s.text) for s in segments)
    dropped_words = sum(_word_count(d.segment.text) for d in dropped)
    dropped_share = dropped_words / total_words if total_words else 0.0
    signalled = [(s.no_speech_prob, _word_count(s.text)) for s in kept if s.no_speech_prob is not None]
    weight = sum(w for _, w in signalled)
    mean_no_speech = sum(p * w for p, w in signalled) / weight if weight else 0.0
    confidence = round(min(1.0, max(dropped_share, mean_no_speech)), 4)

    counts: dict[str, int] = {}
    for item in dropped:
        for reason in item.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    kept_text = "\n".join(s.text.strip() for s in kept)
    guarded = transcription.model_copy(
        update={"text": kept_text, "segments": kept if transcription.segments else []}
    )
    return GuardedTranscription(
        transcription=guarded,
        dropped=dropped,
        invented_lyrics_suspected=bool(total_words) and confidence >= settings.suspect_share,
        confidence=confidence,
        dropped_word_share=round(dropped_share, 4),
        reasons=dict(sorted(counts.items())),
    )
