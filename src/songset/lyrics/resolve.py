"""One song's lyrics, language and vocal presence: the first source with an answer wins, and says so.

Sources in order: the human override, `data/lyrics/<song>.txt|.lrc`, lyrics embedded in the audio file,
and (only when a transcriber is configured and the song is not judged instrumental) transcription, kept
only where the transcriber's own signals trust it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from songset.lyrics.format import format_timed, format_untimed
from songset.lyrics.language import LanguageDecision, decide_language
from songset.lyrics.lrc import parse_lrc
from songset.lyrics.tags import DeclaredTags, read_declared
from songset.lyrics.text import decode_text
from songset.provenance import make_provenance
from songset.runner import SongJob
from songset.schemas import (
    INSTRUMENTAL_LYRICS,
    VALID_LANGUAGES,
    DeclaredValue,
    DroppedSegment,
    Override,
    Section,
    SongLyrics,
    TimedLine,
    VocalPresence,
)
from songset.settings import BackendSettings
from songset.sidecars import parse_override
from songset.transcribers.base import Transcriber, Transcription, TranscriptSegment
from songset.transcribers.guard import GuardSettings, guard_transcription

LYRICS_VERSION = "2"  # bump when a change here changes SongLyrics for the same inputs
LIBRARIES = ("songset", "mutagen", "lingua-language-detector", "pydantic")


class LyricsSettings(BackendSettings):
    """`conf/lyrics/default.yaml`: how sure each decision must be before it reaches a sidecar."""

    min_language_confidence: float = Field(
        0.5, ge=0, le=1, description="lingua's confidence (or the transcriber's) to state vocal_language"
    )
    min_vocal_confidence: float = Field(0.5, ge=0, le=1, description="to call a song vocal or instrumental")
    annotation_vocal_confidence: float = Field(
        0.6, ge=0, le=1, description="trust in the clean annotation's vocal_presence and vocal_language"
    )
    guard: GuardSettings = Field(
        default_factory=GuardSettings,
        description="the guard against invented lyrics (Whisper's own thresholds; transcribers/guard.py)",
    )
    min_kept_share: float = Field(
        0.5, ge=0, le=1, description="share of transcribed segments the guard must keep, else no lyrics"
    )


class CleanFacts(BaseModel):
    """What the lyrics stage reads of a clean annotation: editing its caption changes none of these."""

    model_config = ConfigDict(extra="ignore")

    sections: list[Section] = Field(default_factory=list)
    vocal_presence: VocalPresence = "unknown"
    vocal_language: str | None = None


class GuardedTranscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kept: list[TranscriptSegment]
    kept_text: str  # the kept lines: all a server answering text only (no segments) gives
    dropped: list[DroppedSegment]
    invented_lyrics_suspected: bool


def _guard(transcription: Transcription, settings: LyricsSettings) -> GuardedTranscription:
    """The shared guard (`transcribers.guard`: Whisper's no-speech AND log-probability rule, compression
    ratio, known hallucination phrases, looped lines), as the kept and dropped segments a SongLyrics records."""
    judged = guard_transcription(transcription, settings.guard)
    dropped = [
        DroppedSegment(
            start=d.segment.start, end=d.segment.end, text=d.segment.text.strip(), reason="; ".join(d.reasons)
        )
        for d in judged.dropped
        if d.segment.text.strip()
    ]
    kept = [s for s in judged.transcription.segments if s.text.strip()]
    return GuardedTranscription(
        kept=kept,
        kept_text=judged.transcription.text,
        dropped=dropped,
        invented_lyrics_suspected=judged.invented_lyrics_suspected,
    )


class Found(BaseModel):
    """Lyrics from one source: the formatted text, the source name and the timed lines it came from."""

    model_config = ConfigDict(extra="forbid")

    text: str | None
    source: str
    timed_lines: list[TimedLine] = Field(default_factory=list)


class _Song:
    """The per-song decision record `resolve_lyrics` fills as it goes through the sources."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.flags: list[str] = []
        self.omitted: dict[str, str] = {}


def _from_override(override: Override) -> Found | None:
    if override.lyrics is None:
        return None
    return Found(text=format_untimed(override.lyrics), source="override")


def _from_file(data: bytes | None, path: str, sections: list[Section], song: _Song) -> Found | None:
    """`data/lyrics/<song>.lrc` (timed: section tags placed) or `.txt` (kept as written)."""
    if data is None:
        return None
    try:
        text, warnings = decode_text(data, path)
        song.warnings += warnings
        if path.endswith(".lrc"):
            lrc = parse_lrc(text, path)
            song.warnings += lrc.warnings
            formatted = format_timed(lrc.lines, sections)
            found = Found(text=formatted, source="lrc", timed_lines=[ln for ln in lrc.lines if ln.text])
        else:
            found = Found(text=format_untimed(text), source="lyrics_file")
    except ValueError as exc:
        song.warnings.append(str(exc))
        return None
    if found.text is None:
        song.warnings.append(f"{path}: no lyrics in the file; ignored")
        song.flags.append("empty_lyrics_file")
        song.omitted["lyrics"] = "lyrics file is empty"
        return None
    return found


def _from_tags(declared: DeclaredTags, sections: list[Section]) -> Found | None:
    if declared.timed_lines:
        text = format_timed(declared.timed_lines, sections)
        return Found(text=text, source="embedded:SYLT", timed_lines=declared.timed_lines) if text else None
    if declared.lyrics is not None:
        text = format_untimed(str(declared.lyrics.value))
        return Found(text=text, source=f"embedded:{declared.lyrics.tag}") if text else None
    return None


def _presence_of(found: Found) -> VocalPresence:
    return "instrumental" if (found.text or "").strip() == INSTRUMENTAL_LYRICS else "vocal"


def _from_transcription(
    transcription: Transcription, sections: list[Section], settings: LyricsSettings, song: _Song
) -> tuple[Found | None, GuardedTranscription, float | None]:
    """Lyrics the guard keeps (None when too little survives), the guard's verdict, and how sure the
    transcriber was that anything was sung (1 - mean no-speech probability; None without signals)."""
    guarded = _guard(transcription, settings)
    if guarded.invented_lyrics_suspected:
        song.flags.append("invented_lyrics_suspected")
    said = [s for s in transcription.segments if s.text.strip()]
    probs = [s.no_speech_prob for s in said if s.no_speech_prob is not None]
    speech = round(1 - sum(probs) / len(probs), 3) if probs else None
    if not transcription.segments:  # a server answering text only: judged line by line, no signals
        text = format_untimed(guarded.kept_text)
        return (Found(text=text, source="transcription") if text else None), guarded, speech
    if not said:
        return None, guarded, speech
    share = len(guarded.kept) / len(said)
    if share < settings.min_kept_share:
        song.omitted["lyrics"] = (
            f"transcription not trusted: {len(guarded.kept)} of {len(said)} segments kept "
            f"(under {settings.min_kept_share:.0%})"
        )
        song.flags.append("low_confidence_lyrics")
        return None, guarded, speech
    lines = [TimedLine(start=s.start, end=s.end, text=" ".join(s.text.split())) for s in guarded.kept]
    return (
        Found(text=format_timed(lines, sections), source="transcription", timed_lines=lines),
        guarded,
        speech,
    )


def resolve_lyrics(job: SongJob, transcriber: Transcriber, settings: LyricsSettings) -> SongLyrics:
    """One song's SongLyrics; pure given the job's inputs (the audio file, lyrics file bytes, override
    text, clean facts, a transcription already made) and the transcriber. A transcriber error fails this
    song alone (the runner records it)."""
    return decide_lyrics(job, read_declared(Path(job.file)), transcriber, settings)


def decide_lyrics(
    job: SongJob, declared: DeclaredTags, transcriber: Transcriber, settings: LyricsSettings
) -> SongLyrics:
    """`resolve_lyrics` once the file's tags are read: no file access unless a transcription is needed."""
    song = _Song()
    inputs = job.inputs
    override = parse_override(inputs.get("override"), inputs.get("override_file", "override")) or Override()
    clean = CleanFacts.model_validate(inputs["clean"]) if inputs.get("clean") else CleanFacts()
    song.warnings += declared.warnings

    found = (
        _from_override(override)
        or _from_file(inputs.get("lyrics"), str(inputs.get("lyrics_file", "lyrics")), clean.sections, song)
        or _from_tags(declared, clean.sections)
    )
    presence: VocalPresence = "unknown"
    presence_conf, presence_source = 0.0, None
    if found is not None and found.text is not None:
        presence, presence_conf, presence_source = _presence_of(found), 1.0, found.source
    elif clean.vocal_presence != "unknown":
        presence, presence_conf = clean.vocal_presence, settings.annotation_vocal_confidence
        presence_source = "annotation"

    transcription: Transcription | None = None
    guarded: GuardedTranscription | None = None
    judged_instrumental = presence == "instrumental" and presence_conf >= settings.min_vocal_confidence
    if found is None and transcriber.enabled and not judged_instrumental:
        memo = inputs.get("transcription")
        transcription = Transcription.model_validate(memo) if memo else transcriber.transcribe(Path(job.file))
        heard, guarded, speech = _from_transcription(transcription, clean.sections, settings, song)
        if heard is not None:
            found = heard
            conf = speech if speech is not None else settings.min_vocal_confidence
            if presence != "vocal" or conf > presence_conf:
                presence, presence_conf, presence_source = "vocal", conf, "transcription"
        elif speech is not None and presence == "unknown" and not guarded.kept:
            presence, presence_conf, presence_source = "instrumental", round(1 - speech, 3), "transcription"

    if presence != "unknown" and presence_conf < settings.min_vocal_confidence:
        song.omitted["vocal_presence"] = (
            f"{presence} at confidence {presence_conf:.2f} below {settings.min_vocal_confidence:.2f}"
        )
        presence = "unknown"
    instrumental = presence == "instrumental"
    lyrics = found.text if found is not None else None
    lyrics_source = found.source if found is not None else None
    if instrumental and (lyrics is None or lyrics_source == "transcription"):
        lyrics, lyrics_source = INSTRUMENTAL_LYRICS, presence_source  # never transcribed words on one
    if lyrics is not None:
        song.omitted.pop("lyrics", None)  # an empty lyrics file, when a later source answered
    else:
        song.omitted.setdefault(
            "lyrics", "vocals heard but no lyrics found" if presence == "vocal" else "no lyrics found"
        )
        if presence == "vocal":
            song.flags.append("vocals_without_lyrics")

    language = _language(override, clean, lyrics, instrumental, transcription, settings, song)
    provenance = {
        "lyrics": make_provenance(
            stage="lyrics",
            backend="lyrics",
            cache_key=job.key,
            input_sha256=str(inputs.get("audio_sha256", job.key)),
            settings=settings.output_settings(),
            libraries=LIBRARIES,
            extra={"backend_version": LYRICS_VERSION},
        )
    }
    if transcription is not None:
        identity = transcriber.identity()
        provenance["transcription"] = make_provenance(
            stage="transcription",
            backend=identity.backend,
            cache_key=job.key,
            input_sha256=str(inputs.get("audio_sha256", job.key)),
            settings=identity.settings,
            model_id=identity.model_id,
            model_revision=identity.model_revision,
            libraries=identity.libraries,
            extra={"backend_version": identity.version, **transcription.extra_provenance},
        )
    declared_values: dict[str, DeclaredValue] = {
        name: value
        for name in ("bpm", "keyscale", "artist", "title")
        if (value := getattr(declared, name)) is not None
    }
    return SongLyrics(
        id=job.id,
        audio_file=Path(job.file).name,
        audio_sha256=str(inputs.get("audio_sha256", "")),
        lyrics=lyrics,
        lyrics_source=lyrics_source,
        timed_lines=found.timed_lines if found is not None and lyrics == found.text else [],
        language=language.language,
        language_confidence=language.confidence,
        language_source=language.source,
        vocal_presence=presence,
        vocal_confidence=presence_conf,
        vocal_source=presence_source,
        declared=declared_values,
        dropped_segments=guarded.dropped if guarded is not None else [],
        omitted=song.omitted,
        flags=song.flags,
        warnings=song.warnings,
        transcription=transcription.model_dump(mode="json") if transcription is not None else None,
        provenance=provenance,
    )


def _language(
    override: Override,
    clean: CleanFacts,
    lyrics: str | None,
    instrumental: bool,
    transcription: Transcription | None,
    settings: LyricsSettings,
    song: _Song,
) -> LanguageDecision:
    """Override, then `unknown` for an instrumental (ACE-Step's code), then the lyrics text cross-checked
    with the transcriber, then the annotation's stated language."""
    if override.language is not None:
        return LanguageDecision(language=override.language, confidence=1.0, source="override")
    if instrumental:
        return LanguageDecision(language="unknown", confidence=1.0, source="instrumental")
    decision = decide_language(
        lyrics,
        settings.min_language_confidence,
        transcription.language if transcription else None,
        transcription.language_probability if transcription else None,
    )
    song.warnings += decision.warnings
    if decision.language is None and clean.vocal_language in VALID_LANGUAGES:
        conf = settings.annotation_vocal_confidence
        if conf >= settings.min_language_confidence:
            return LanguageDecision(language=clean.vocal_language, confidence=conf, source="annotation")
    if decision.language is None:
        song.omitted["language"] = (
            decision.reason if lyrics else "no lyrics to tell it from, and not stated by the annotation"
        ) or "not known"
    return decision


def clean_facts(clean: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a clean annotation that decides lyrics (for the cache key and the job)."""
    return CleanFacts.model_validate(clean).model_dump(mode="json") if clean else None
