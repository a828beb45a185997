"""Sidecars: clean annotation + estimates + the lyrics stage + human overrides -> what ACE-Step 1.5 reads.

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
    DeclaredValue,
    Event,
    Override,
    Section,
    Sidecar,
    SidecarSource,
    SongLyrics,
    SongMetadata,
)
from songset.settings import BackendSettings
from songset.sidecar_fields import CONFIDENCE_THRESHOLDS, SIDECAR_FIELDS
from songset.theory import key_identity
from songset.tokens import count_tokens, fit_to_budget

# 2: override-vs-estimate warnings; 3: ACE-Step prompt room, instrumentals without language;
# 4: lyrics, language and vocal presence from the lyrics stage, declared tag values, `source.sources`
SIDECAR_VERSION = "4"
BPM_DISAGREEMENT = 0.08  # a human (or declared) bpm this far from the estimate is reported

__all__ = ["CONFIDENCE_THRESHOLDS", "SIDECAR_VERSION", "SidecarSettings", "build_sidecar"]


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


def value_disagreements(
    who: str, bpm: float | None, keyscale: str | None, meta: SongMetadata
) -> tuple[list[str], list[str]]:
    """Warnings and flags where a value a person (`override`) or a file (`declared`) gives and the estimate
    disagree strongly. The given value still wins; this only makes a likely typo visible in the sidecar,
    the report and `trace`. A bpm at double or half the estimate is the usual tempo-octave ambiguity and
    is noted separately."""
    warnings: list[str] = []
    flags: list[str] = []
    if bpm is not None and meta.bpm:
        ratio = bpm / meta.bpm
        if abs(ratio - 1) > BPM_DISAGREEMENT:
            octave = next((r for r in (2.0, 0.5) if abs(ratio / r - 1) <= BPM_DISAGREEMENT), None)
            if octave is not None:
                word = "double" if octave == 2.0 else "half"
                warnings.append(
                    f"{who} bpm {bpm:g} is {word} the estimated {meta.bpm:g} "
                    "(tempo octave; check which one is felt)"
                )
                flags.append(f"{who}_bpm_octave")
            else:
                warnings.append(
                    f"{who} bpm {bpm:g} differs from the estimated {meta.bpm:g} by "
                    f"{abs(ratio - 1):.0%} (more than {BPM_DISAGREEMENT:.0%})"
                )
                flags.append(f"{who}_bpm_disagrees")
    given_key = key_identity(keyscale)
    if given_key is not None and meta.keyscale:
        estimates = [k for k in (meta.keyscale, meta.key_runner_up) if k]
        if given_key not in {key_identity(k) for k in estimates}:
            warnings.append(
                f"{who} keyscale {keyscale} matches neither the estimate {meta.keyscale}"
                + (f" nor its runner-up {meta.key_runner_up}" if meta.key_runner_up else "")
            )
            flags.append(f"{who}_key_disagrees")
    return warnings, flags


def override_disagreements(override: Override, meta: SongMetadata) -> tuple[list[str], list[str]]:
    """A human's bpm and key against the estimate (see `value_disagreements`)."""
    return value_disagreements("override", override.bpm, override.keyscale, meta)


def _declared_bpm(value: DeclaredValue | None) -> int | None:
    return round(float(value.value)) if value is not None else None


def build_sidecar(job: SongJob, settings: SidecarSettings) -> Sidecar:
    """One song's sidecar from its upstream outputs; pure given the job's inputs.

    Each field's sources and threshold come from `SIDECAR_FIELDS`: a human override first, then a
    setting for every song, then what the file declares, then the estimate over its threshold.
    """
    clean = CleanAnnotation.model_validate(job.inputs["clean"])
    meta = SongMetadata.model_validate(job.inputs["metadata"])
    override = parse_override(job.inputs.get("override"), job.inputs.get("override_file", "override"))
    override = override or Override()
    song_lyrics = (
        SongLyrics.model_validate(job.inputs["song_lyrics"]) if job.inputs.get("song_lyrics") else None
    )
    declared = song_lyrics.declared if song_lyrics is not None else {}

    overridden: list[str] = []
    omitted: dict[str, str] = {}
    sources: dict[str, str] = {}
    warnings: list[str] = list(meta.warnings)
    flags: list[str] = list(
        clean.flags
    )  # lyric_sheet, untimed_structure, ...: the cleaner's doubts travel on

    def candidate(name: str, source: str) -> tuple[Any, str | None]:
        """The value `source` offers for field `name` (None when it has none), with its source label."""
        spec = SIDECAR_FIELDS[name]
        if source == "override":
            return (getattr(override, spec.override) if spec.override else None), "override"
        if source == "config":
            return getattr(settings, spec.config) if spec.config else None, "config"
        if source == "declared":
            value = declared.get(spec.declared) if spec.declared else None
            if value is None:
                return None, None
            return (_declared_bpm(value) if name == "bpm" else value.value), f"declared:{value.tag}"
        if source == "estimate":
            if spec.estimate is None:
                raise ValueError(f"sidecar field {name}: an estimate source names no SongMetadata field")
            estimate = getattr(meta, spec.estimate)
            if estimate is None:
                omitted[name] = "not estimated"
                return None, None
            if name == "bpm":  # ACE-Step reads whole beats per minute in its range
                if not BPM_MIN <= round(estimate) <= BPM_MAX:
                    omitted[name] = f"estimate {estimate} outside {BPM_MIN}-{BPM_MAX}"
                    return None, None
                estimate = round(estimate)
            confidence = float(getattr(meta, spec.confidence or ""))
            threshold = float(getattr(settings, spec.threshold or ""))
            if confidence < threshold:
                omitted[name] = f"confidence {confidence:.2f} below {threshold:.2f}"
                return None, None
            return estimate, "estimate"
        raise ValueError(f"sidecar field {name}: source {source!r} is not one build_sidecar reads")

    def pick(name: str) -> Any:
        for source in SIDECAR_FIELDS[name].sources:
            value, label = candidate(name, source)
            if value is not None and value != "":
                if label == "override":
                    overridden.append(name)
                if label != "estimate":
                    omitted.pop(name, None)
                sources[name] = str(label)
                return value
        return None

    # every field ranked by its sources here; lyrics, language and vocal presence come decided by the lyrics
    # stage, the caption is composed below
    ranked = {
        name: pick(name)
        for name, spec in SIDECAR_FIELDS.items()
        if not {"lyrics", "annotation"} & set(spec.sources)
    }
    bpm, keyscale, timesig, artist = (ranked[n] for n in ("bpm", "keyscale", "timesignature", "artist"))

    lyrics, language = _lyrics_and_language(
        song_lyrics, settings, overridden, omitted, sources, flags, warnings
    )
    # ACE-Step's folder scan reads `language` from <stem>.json and takes any value but "instrumental" as sung
    # (dataset_builder_modules/scan.py since it reads <stem>.json), so an instrumental states its language
    # only as `vocal_language`; `language` is for sung words.
    instrumental = lyrics == INSTRUMENTAL_LYRICS and language == "unknown"

    # the caption's sources in the table's order: a person's caption, else the annotation's
    caption_offers = {"override": override.caption, "annotation": clean.caption}
    caption_source = next(
        (s for s in SIDECAR_FIELDS["caption"].sources if caption_offers.get(s)), "annotation"
    )
    human_caption = caption_source == "override"
    if human_caption:
        overridden.append("caption")
    sources["caption"] = caption_source
    metas = Metas(bpm=bpm, timesignature=timesig, keyscale=keyscale, duration=int(round(meta.duration, 3)))
    caption, caption_tokens, caption_flags = compose_caption(
        str(caption_offers[caption_source] or ""), clean, settings, artist, human_caption, metas
    )
    flags += caption_flags
    for who in ("override", "declared"):  # the same disagreement rules for a person's and a file's values
        given_bpm = bpm if sources.get("bpm", "").split(":")[0] == who else None
        given_key = keyscale if sources.get("keyscale", "").split(":")[0] == who else None
        if given_bpm is not None or given_key is not None:
            found_warnings, found_flags = value_disagreements(who, given_bpm, given_key, meta)
            warnings += found_warnings
            flags += found_flags
    if lyrics and lyrics_tokens(lyrics, settings.caption_tokenizer) > LYRICS_MAX_TOKENS:
        flags.append("lyrics_over_acestep_limit")  # ACE-Step cuts them at 512 tokens without a word
    if meta.duration > TRAIN_CUT_S:
        flags.append("over_240s")

    extra: dict[str, Any] = {"backend_version": SIDECAR_VERSION}
    if override.notes:
        extra["override_notes"] = override.notes
    provenance = dict(clean.provenance)
    provenance["estimate"] = meta.provenance
    if song_lyrics is not None:
        provenance.update(song_lyrics.provenance)
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
        language=None if instrumental else language,
        vocal_language=language,
        duration=round(meta.duration, 3),
        **ranked,
        source=SidecarSource(
            audio_file=meta.audio_file,
            audio_sha256=meta.audio_sha256,
            rich_details=clean.rich_details,
            sections=clean.sections,
            events=clean.events,
            tags=clean.tags,
            confidences={
                f.name: getattr(meta, f.confidence) for f in SIDECAR_FIELDS.values() if f.confidence
            },
            overridden=overridden,
            omitted=omitted,
            vocal_presence=song_lyrics.vocal_presence if song_lyrics is not None else None,
            sources=dict(sorted(sources.items())),
            flags=flags,
            warnings=warnings,
            caption_tokens=caption_tokens,
            attribution=job.inputs.get("attribution"),
            provenance=provenance,
        ),
    )


def _lyrics_and_language(
    song_lyrics: SongLyrics | None,
    settings: SidecarSettings,
    overridden: list[str],
    omitted: dict[str, str],
    sources: dict[str, str],
    flags: list[str],
    warnings: list[str],
) -> tuple[str | None, str | None]:
    """Lyrics and vocal language as the lyrics stage decided them; `sidecar.language` (one language for
    every song) stands in for a sung song's language unless a human gave one."""
    spec = SIDECAR_FIELDS["vocal_language"]  # the setting, and whether a setting is a source at all
    config_language = getattr(settings, spec.config) if spec.config and "config" in spec.sources else None
    if song_lyrics is None:
        omitted["lyrics"] = "no lyrics stage output for this song"
        flags.append("no_lyrics_stage_output")
        if config_language:
            sources["vocal_language"] = "config"
            return None, config_language
        omitted["language"] = "no lyrics stage output for this song"
        return None, None
    flags += [f for f in song_lyrics.flags if f not in flags]
    warnings += song_lyrics.warnings
    omitted.update({k: v for k, v in song_lyrics.omitted.items() if k in ("lyrics", "language")})
    if song_lyrics.vocal_source:
        sources["vocal_presence"] = song_lyrics.vocal_source
    lyrics = song_lyrics.lyrics
    if lyrics is not None and song_lyrics.lyrics_source:
        sources["lyrics"] = song_lyrics.lyrics_source
        if song_lyrics.lyrics_source == "override":
            overridden.append("lyrics")
    language = song_lyrics.language
    if song_lyrics.language_source == "override":
        overridden.append("language")
    elif config_language and language != "unknown":
        language = config_language
        sources["vocal_language"] = "config"
        omitted.pop("language", None)
        return lyrics, language
    if language is not None and song_lyrics.language_source:
        sources["vocal_language"] = song_lyrics.language_source
    return lyrics, language


def sidecar_json(sidecar: Sidecar) -> dict[str, Any]:
    """The file's content: top-level unknowns are omitted, since ACE-Step ignores null or empty values."""
    data = sidecar.model_dump(mode="json")
    return {k: v for k, v in data.items() if v is not None and v != ""}
