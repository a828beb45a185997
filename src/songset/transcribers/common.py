"""What the transcriber backends share: reading their settings model, language codes, audio length."""

from __future__ import annotations

from typing import TypeVar

from songset.settings import BackendSettings
from songset.vocab import LANGUAGES

S = TypeVar("S", bound=BackendSettings)


def language_code(reported: str | None) -> str | None:
    """A transcriber's language as a code: Whisper tokens and most servers say `en`, OpenAI says `english`.

    Names go through `vocab.LANGUAGES` (the project's one table of language names); a name it does not know
    gives None (the caller records what was reported).
    """
    if not reported:
        return None
    text = reported.strip().strip("<|>").lower()
    if 2 <= len(text) <= 3 and text.isalpha():
        return text
    return LANGUAGES.get(text)
