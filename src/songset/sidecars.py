"""Sidecars: clean annotation + estimates + lyrics + human overrides -> what ACE-Step 1.5 reads.

Rules a training set lives by: a human value always wins; a value below its confidence threshold is left
out (ACE-Step ignores missing values but trains on wrong ones); nothing is written as a placeholder.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from songset.acestep import (
    LYRICS_MAX_TOKENS,
    TEXT_MAX_TOKENS,
    Metas,
    caption_room,
    lyrics_tokens,
    prompt_tokens,
)
from songset.provenance import make_provenance
from songset.runner import SongError, SongJob
from songset.schemas import (
    BPM_MAX,
    BPM_MIN,
    INSTRUMENTAL_LYRICS,
    TRAIN_CUT_S,
    CleanAnnotation,
    Event,
    Override,
    Section,
    Sidecar,
    SidecarSource,
    SongMetadata,
)
from songset.settings import BackendSettings
from songset.theory import key_identity
from songset.tokens import count_tokens, fit_to_budget

SIDECAR_VERSION = (
    "3"  # 2: override-vs-estimate warnings; 3: ACE-Step prompt room, instrumentals without language
)
BPM_DISAGREEMENT = 0.08  # a human bpm this far from the estimate is reported


# sidecar confidence field -> the setting below which it is left out (the report marks these thresholds)
CONFIDENCE_THRESHOLDS: dict[str, str] = {
    "bpm": "min_bpm_confidence",
    "keyscale": "min_key_confidence",
    "timesignature": "min_timesignature_confidence",
}


class SidecarSettings(BackendSettings):
    """`conf/sidecar/*.yaml`: every field changes the sidecars, so every field is in their cache key."""

    artist: str | None = Field(None, description='written to every sidecar; e.g. "My Band"')
    caption_prefix_artist: bool = Field(False, description='"My Band, <caption>" as the user did by hand')
    caption_mode: Literal["caption", "events"] = Field(
        "caption", description="caption | events (adds a compact section/event line)"
    )
    caption_token_budget: int = Field(
        200,
        gt=0,
        le=256,
        description="a cap on caption tokens; each caption also fits its song's room in ACE-Step's 256-token prompt",
    )
    caption_tokenizer: str | None = Field(
        None, description="a local tokenizer.json instead of Qwen3's BPE (exact, offline, the default)"
    )
    min_bpm_confidence: float = Field(
        0.3,
        ge=0,
        le=1,
        description="below this, bpm is left out (ACE-Step trains on wrong values, ignores missing)",
    )
    min_key_confidence: float = Field(0.3, ge=0, le=1, description="below this, keyscale is left out")
    min_timesignature_confidence: float = Field(
        0.5, ge=0, le=1, description="below this, timesignature is left out"
    )
    language: str | None = Field(
        None, description="ISO code for every song when known; else from the clean annotation"
    )


def parse_override(text: str | None, source: str) -> Override | None:
    """An override file as typed data; wrong types or unknown keys fail naming the file and field."""
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SongError(f"{source}: not valid YAML ({exc})") from exc
    if data is None:
        return Override()
    if not isinstance(data, dict):
        raise SongError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
    try:
        return Override.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SongError(f"{source}: {problems}") from exc


def decode_lyrics(data: bytes | None, source: str) -> tuple[str | None, list[str]]:
    """Lyrics text and warnings; non-UTF-8 files are read as cp1252/latin-1 and said so."""
    if data is None:
        return None, []
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        try:
            text = data.decode("cp1252")
            enc = "cp1252"
        except UnicodeDecodeError:
            text = data.decode("latin-1")
            enc = "latin-1"
        return _normalise_lyrics(text), [f"{source}: not UTF-8, decoded as {enc}"]
    return _normalise_lyrics(text), []


def _normalise_lyrics(text: str) -> str | None:
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def structure_line(sections: list[Section], events: list[Event]) -> str:
    """Compact section/event line for event-aware captions: 'Structure: intro 0:00, build 0:18, ...'."""
    marks: list[tuple[float, str]] = [(s.start, s.label) for s in sections]
    marks += [(e.start, e.type.replace("_", " ")) for e in events if e.type not in ("intro", "outro")]
    marks.sort(key=lambda m: m[0])
    seen: set[tuple[str, str]] = set()
    parts = []
    for start, label in marks:
        item = (label, _clock(start))
        if item not in seen:
            seen.add(item)
            parts.append(f"{label} {_clock(start)}")
    return f"Structure: {', '.join(parts)}." if parts else ""


def compose_caption(
    base: str,
    clean: CleanAnnotation,
    settings: SidecarSettings,
    artist: str | None,
    human: bool,
    metas: Metas,
) -> tuple[str, int, list[str]]:
    """Caption inside this song's room in ACE-Step's 256-token prompt (its metas take the rest) and inside
    `caption_token_budget`; a human's caption is never shortened, only flagged."""
    flags: list[str] = []
    tokenizer = settings.caption_tokenizer
    limit = min(settings.caption_token_budget, caption_room(metas, tokenizer))

    def fits(text: str) -> bool:
        return count_tokens(text, tokenizer) <= settings.caption_token_budget and (
            prompt_tokens(text, metas, tokenizer) <= TEXT_MAX_TOKENS
        )

    def longest(text: str, before: str) -> str:
        """Longest prefix of `text` that fits after `before`; counted on the whole prompt, since BPE
        merges across the joins make token counts not quite additive."""
        room = limit - count_tokens(before, tokenizer)
        while room > 0:
            fitted = fit_to_budget(text, room, tokenizer)
            if fits(f"{before}{fitted}"):
                return fitted
            room -= 1
        return ""

    prefix = f"{artist}, " if artist and settings.caption_prefix_artist else ""
    caption = base.strip()
    if not human:
        caption = longest(caption, prefix)
        if caption != base.strip():
            flags.append("caption_shortened")
        if settings.caption_mode == "events":
            line = structure_line(clean.sections, clean.events)
            fitted = longest(line, f"{prefix}{caption} ") if line else ""
            if fitted:
                caption = f"{caption} {fitted}"
            if fitted != line:
                flags.append("structure_line_shortened")
    caption = f"{prefix}{caption}"
    tokens = count_tokens(caption, tokenizer)
    if not fits(caption):
        flags.append("caption_over_budget")
    return caption, tokens, flags


def override_disagreements(override: Override, meta: SongMetadata) -> tuple[list[str], list[str]]:
    """Warnings and flags where a human value and the estimate disagree strongly.

    Overrides still win; this only makes a likely typo visible in the sidecar, the report and `trace`.
    A bpm at double or half the estimate is the usual tempo-octave ambiguity and is noted separately.
    """
    warnings: list[str] = []
    flags: list[str] = []
    if override.bpm is not None and meta.bpm:
        ratio = override.bpm / meta.bpm
        if abs(ratio - 1) > BPM_DISAGREEMENT:
            octave = next((r for r in (2.0, 0.5) if abs(ratio / r - 1) <= BPM_DISAGREEMENT), None)
            if octave is not None:
                word = "double" if octave == 2.0 else "half"
                warnings.append(
                    f"override bpm {override.bpm} is {word} the estimated {meta.bpm:g} "
                    "(tempo octave; check which one is felt)"
                )
                flags.append("override_bpm_octave")
            else:
                warnings.append(
                    f"override bpm {override.bpm} differs from the estimated {meta.bpm:g} by "
                    f"{abs(ratio - 1):.0%} (more than {BPM_DISAGREEMENT:.0%})"
                )
                flags.append("override_bpm_disagrees")
    human_key = key_identity(override.keyscale)
    if human_key is not None and meta.keyscale:
        estimates = [k for k in (meta.keyscale, meta.key_runner_up) if k]
        if human_key not in {key_identity(k) for k in estimates}:
            warnings.append(
                f"override keyscale {override.keyscale} matches neither the estimate {meta.keyscale}"
                + (f" nor its runner-up {meta.key_runner_up}" if meta.key_runner_up else "")
            )
            flags.append("override_key_disagrees")
    return warnings, flags


def build_sidecar(job: SongJob, settings: SidecarSettings) -> Sidecar:
    """One song's sidecar from its upstream outputs; pure given the job's inputs."""
    clean = CleanAnnotation.model_validate(job.inputs["clean"])
    meta = SongMetadata.model_validate(job.inputs["metadata"])
    override = parse_override(job.inputs.get("override"), job.inputs.get("override_file", "override"))
    override = override or Override()
    lyrics_text, lyrics_warnings = decode_lyrics(
        job.inputs.get("lyrics"), job.inputs.get("lyrics_file", "lyrics")
    )

    overridden: list[str] = []
    omitted: dict[str, str] = {}
    flags: list[str] = list(
        clean.flags
    )  # lyric_sheet, untimed_structure, ...: the cleaner's doubts travel on

    def pick(field: str, human: Any, estimate: Any, confidence: float, threshold: float) -> Any:
        if human is not None:
            overridden.append(field)
            omitted.pop(field, None)
            return human
        if estimate is None:
            omitted.setdefault(field, "not estimated")
            return None
        if confidence < threshold:
            omitted[field] = f"confidence {confidence:.2f} below {threshold:.2f}"
            return None
        return estimate

    bpm_estimate = None
    if meta.bpm is not None:
        rounded = round(meta.bpm)
        bpm_estimate = rounded if BPM_MIN <= rounded <= BPM_MAX else None
        if bpm_estimate is None:
            omitted["bpm"] = f"estimate {meta.bpm} outside {BPM_MIN}-{BPM_MAX}"
    bpm = pick("bpm", override.bpm, bpm_estimate, meta.bpm_confidence, settings.min_bpm_confidence)
    keyscale = pick(
        "keyscale", override.keyscale, meta.keyscale, meta.key_confidence, settings.min_key_confidence
    )
    timesig = pick(
        "timesignature",
        override.timesignature,
        meta.timesignature,
        meta.timesignature_confidence,
        settings.min_timesignature_confidence,
    )

    if override.lyrics is not None:
        overridden.append("lyrics")
        lyrics = override.lyrics.strip() or None
    elif lyrics_text:
        lyrics = lyrics_text
    elif job.inputs.get("lyrics") is not None:
        lyrics = None
        omitted["lyrics"] = "lyrics file is empty"
        flags.append("empty_lyrics_file")
    elif clean.vocal_presence == "instrumental":
        lyrics = INSTRUMENTAL_LYRICS
    else:
        lyrics = None
        omitted["lyrics"] = (
            "vocals heard but no lyrics file" if clean.vocal_presence == "vocal" else "no lyrics file"
        )
        if clean.vocal_presence == "vocal":
            flags.append("vocals_without_lyrics")

    if override.language is not None:
        overridden.append("language")
        language: str | None = override.language
    elif settings.language:
        language = settings.language
    elif clean.vocal_language:
        language = clean.vocal_language
    elif clean.vocal_presence == "instrumental" or lyrics == INSTRUMENTAL_LYRICS:
        language = "unknown"  # ACE-Step's own code for songs without sung words
    else:
        language = None
        omitted["language"] = "not stated by the annotation"
    # ACE-Step's folder scan reads `language` from <stem>.json and takes any value but "instrumental" as sung
    # (dataset_builder_modules/scan.py since it reads <stem>.json), so an instrumental states its language
    # only as `vocal_language`; `language` is for sung words.
    instrumental = lyrics == INSTRUMENTAL_LYRICS and language == "unknown"

    artist = override.artist or settings.artist
    if override.artist:
        overridden.append("artist")
    human_caption = override.caption is not None
    if human_caption:
        overridden.append("caption")
    metas = Metas(bpm=bpm, timesignature=timesig, keyscale=keyscale, duration=int(round(meta.duration, 3)))
    caption, caption_tokens, caption_flags = compose_caption(
        override.caption or clean.caption, clean, settings, artist, human_caption, metas
    )
    flags += caption_flags
    disagreement_warnings, disagreement_flags = override_disagreements(override, meta)
    flags += disagreement_flags
    if lyrics and lyrics_tokens(lyrics, settings.caption_tokenizer) > LYRICS_MAX_TOKENS:
        flags.append("lyrics_over_acestep_limit")  # ACE-Step cuts them at 512 tokens without a word
    if meta.duration > TRAIN_CUT_S:
        flags.append("over_240s")

    extra: dict[str, Any] = {"backend_version": SIDECAR_VERSION}
    if override.notes:
        extra["override_notes"] = override.notes
    provenance = dict(clean.provenance)
    provenance["estimate"] = meta.provenance
    provenance["sidecar"] = make_provenance(
        stage="sidecar",
        backend="sidecar",
        cache_key=job.key,
        input_sha256=job.key,
        settings=settings.model_dump(),
        libraries=("songset", "pydantic"),
        extra=extra,
    )
    return Sidecar(
        caption=caption,
        lyrics=lyrics,
        bpm=bpm,
        keyscale=keyscale,
        timesignature=timesig,
        language=None if instrumental else language,
        vocal_language=language,
        duration=round(meta.duration, 3),
        artist=artist,
        source=SidecarSource(
            audio_file=meta.audio_file,
            audio_sha256=meta.audio_sha256,
            rich_details=clean.rich_details,
            sections=clean.sections,
            events=clean.events,
            tags=clean.tags,
            confidences={
                "bpm": meta.bpm_confidence,
                "keyscale": meta.key_confidence,
                "timesignature": meta.timesignature_confidence,
            },
            overridden=overridden,
            omitted=omitted,
            flags=flags,
            warnings=[*meta.warnings, *lyrics_warnings, *disagreement_warnings],
            caption_tokens=caption_tokens,
            attribution=job.inputs.get("attribution"),
            provenance=provenance,
        ),
    )


def sidecar_json(sidecar: Sidecar) -> dict[str, Any]:
    """The file's content: top-level unknowns are omitted, since ACE-Step ignores null or empty values."""
    data = sidecar.model_dump(mode="json")
    return {k: v for k, v in data.items() if v is not None and v != ""}
