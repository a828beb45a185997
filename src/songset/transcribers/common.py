"""What the transcriber backends share: reading their settings model, language codes, audio length."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from songset.settings import BackendSettings
from songset.vocab import LANGUAGES

S = TypeVar("S", bound=BackendSettings)


def load_settings(model: type[S], settings: dict[str, Any], group: str = "transcriber") -> S:
    """The config group's keys -> the backend's settings model; one ValueError line naming each bad key."""
    try:
        return model.model_validate(settings)
    except ValidationError as exc:
        problems = "; ".join(
            f"{group}.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ValueError(problems) from None


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
