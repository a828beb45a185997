"""The sung language, from the lyrics text (lingua: offline, its models ship in the wheel), cross-checked
with the transcriber's own guess; ACE-Step's language codes only, and only where confident.
"""

from __future__ import annotations

import functools
import re

from lingua import LanguageDetector, LanguageDetectorBuilder
from pydantic import BaseModel, ConfigDict, Field

from songset.schemas import VALID_LANGUAGES

# lingua's ISO 639-1 code -> ACE-Step's code, where they differ (Norwegian Bokmål and Nynorsk are `no`)
_ACESTEP_CODE = {"nb": "no", "nn": "no"}
_SECTION_TAG = re.compile(r"^\s*\[[^\]]*\]\s*$", re.M)
MIN_LETTERS = 20  # fewer letters than this say too little about a language


class LanguageDecision(BaseModel):
    """The language kept (None when unsure), its confidence, where it came from, and why not if None."""

    model_config = ConfigDict(extra="forbid")

    language: str | None = None
    confidence: float = Field(0.0, ge=0, le=1)
    source: str | None = None
    reason: str | None = None
    warnings: list[str] = Field(default_factory=list)


@functools.cache
def _detector() -> LanguageDetector:
    """All of lingua's languages: detecting among ACE-Step's only would name a near neighbour confidently
    (Slovenian as Croatian); a winner outside ACE-Step's list is reported as such instead. Low-accuracy
    mode (trigrams only) loads in about 2 s instead of 30 s per process, and lyrics are long enough for it."""
    return LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()


def detect_language(text: str) -> tuple[str | None, float]:
    """(ACE-Step code or lingua's own code when outside ACE-Step's list, confidence 0-1); (None, 0) for
    text without enough letters. Section tags such as `[Chorus]` are not read as words."""
    words = _SECTION_TAG.sub(" ", text)
    if sum(ch.isalpha() for ch in words) < MIN_LETTERS:
        return None, 0.0
    values = _detector().compute_language_confidence_values(words)
    if not values:
        return None, 0.0
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    return _ACESTEP_CODE.get(code, code), float(best.value)


def decide_language(
    text: str | None,
    min_confidence: float,
    transcriber_language: str | None = None,
    transcriber_probability: float | None = None,
) -> LanguageDecision:
    """Language of the lyrics text, confirmed or contradicted by the transcriber.

    Agreement keeps the higher confidence; disagreement keeps the text's answer only when it alone is
    confident, with a warning. With no text, the transcriber's guess stands on its own probability.
    """
    code, confidence = detect_language(text) if text else (None, 0.0)
    heard = (transcriber_language or "").lower() or None
    heard = _ACESTEP_CODE.get(heard, heard) if heard else None
    heard_p = float(transcriber_probability) if transcriber_probability is not None else 0.0
    warnings: list[str] = []
    source = "lyrics_text"
    if code is not None and heard is not None:
        if code == heard:
            confidence, source = max(confidence, heard_p), "lyrics_text+transcriber"
        else:
            warnings.append(
                f"language: the lyrics read as {code} ({confidence:.2f}) but the transcriber heard {heard} ({heard_p:.2f})"
            )
    elif code is None and heard is not None:
        code, confidence, source = heard, heard_p, "transcriber"
    if code is None:
        return LanguageDecision(reason="too little lyrics text to tell", warnings=warnings)
    if code not in VALID_LANGUAGES:
        return LanguageDecision(
            confidence=round(confidence, 3), reason=f"{code} is not an ACE-Step language", warnings=warnings
        )
    if confidence < min_confidence:
        return LanguageDecision(
            confidence=round(confidence, 3),
            reason=f"{code} at confidence {confidence:.2f} below {min_confidence:.2f}",
            warnings=warnings,
        )
    return LanguageDecision(language=code, confidence=round(confidence, 3), source=source, warnings=warnings)
