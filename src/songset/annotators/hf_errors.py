"""Setup errors for the Transformers annotators, worded for the failures users actually hit.

Why: a too-old Transformers, a repo of the wrong family, a gated repo without a token, or offline mode
with an empty cache all surface deep inside Transformers with messages that do not say what to do.
These checks run before anything heavy and name the version needed and found, the repo, the token
variable read, and whether offline mode was on. They subclass ValueError, which `songset` prints as one
line instead of a traceback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("songset")

TOKEN_ENV = "HF_TOKEN"
OTHER_TOKEN_SPELLINGS = ("hf_token", "HUGGINGFACE_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")


class AnnotatorSetupError(ValueError):
    """The annotator cannot start: the message says what was found and what is needed."""


def _version_tuple(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if not piece.isdigit():
            break
    return tuple(parts)


def check_transformers(
    backend: str, model_type: str, needed: str, found: str | None = None, group: str = "annotator"
) -> None:
    """Transformers must exist and be new enough to know `model_type`; the message names `group=backend`."""
    if found is None:
        try:
            import transformers
        except ImportError:
            found = "not installed"
        else:
            found = transformers.__version__
    if found == "not installed" or _version_tuple(found) < _version_tuple(needed):
        raise AnnotatorSetupError(
            f"{group}={backend} needs transformers>={needed} (the first release with {model_type}); "
            f"found {found}. Install the extra: pip install -e '.[hf]'"
        )


def check_peft(found: str | None = None) -> None:
    """Think mode loads a PEFT LoRA adapter."""
    if found is None:
        try:
            import peft
        except ImportError:
            found = "not installed"
        else:
            found = peft.__version__
    if found == "not installed":
        raise AnnotatorSetupError(
            "annotator.think=true loads a PEFT LoRA adapter and needs peft; found not installed. "
            "Install the extra: pip install -e '.[hf]'"
        )


def check_model_type(backend: str, repo: str, expected: str, config: Any) -> None:
    found = getattr(config, "model_type", None)
    if found != expected:
        raise AnnotatorSetupError(
            f"{repo} is a {found!r} checkpoint ({type(config).__name__}); annotator={backend} "
            f"runs {expected!r} checkpoints. Pick the annotator that matches the repo."
        )


def check_processor(backend: str, repo: str, expected: str, processor: Any) -> None:
    found = type(processor).__name__
    if found != expected:
        raise AnnotatorSetupError(
            f"{repo} loads processor {found}; annotator={backend} needs {expected}. "
            "The repo's processor_config.json names another model family."
        )


def token_note() -> str:
    """Which token variable is read and whether it is set; warns about spellings that are ignored."""
    note = f"{TOKEN_ENV} is {'set' if os.environ.get(TOKEN_ENV) else 'not set'}"
    others = [name for name in OTHER_TOKEN_SPELLINGS if os.environ.get(name)]
    if others and not os.environ.get(TOKEN_ENV):
        warning = f"{', '.join(others)} is set but only {TOKEN_ENV} is read: export {TOKEN_ENV} instead"
        log.warning(warning)
        note += f" ({warning})"
    return note


def download_snapshot(
    repo: str, revision: str | None, patterns: list[str], ignore: list[str] | None = None
) -> Path:
    """A hub snapshot's local folder (only the local cache when HF_HUB_OFFLINE is set; the token from
    HF_TOKEN); a failure is an AnnotatorSetupError saying what happened."""
    from huggingface_hub import constants, snapshot_download

    offline = bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").lower() in (
        "1",
        "true",
        "yes",
        "on",
    )
    try:
        folder = snapshot_download(
            repo,
            revision=revision,
            allow_patterns=patterns,
            ignore_patterns=ignore,
            local_files_only=offline,
            token=os.environ.get("HF_TOKEN") or None,
        )
    except Exception as exc:
        raise hub_error(repo, revision, exc, offline) from exc
    return Path(folder)


def hub_error(repo: str, revision: str | None, exc: Exception, offline: bool) -> AnnotatorSetupError:
    """A download failure -> what happened, which token variable was read, and the offline state."""
    from huggingface_hub import errors

    rev = f"@{revision}" if revision else ""
    if isinstance(exc, errors.GatedRepoError):
        what = "is gated: accept its licence on the model page and use a token with access"
    elif isinstance(exc, errors.RevisionNotFoundError):
        what = f"has no revision {revision!r}"
    elif isinstance(exc, errors.RepositoryNotFoundError):
        what = "was not found (a typo, a private repo, or a token without access)"
    elif isinstance(exc, errors.LocalEntryNotFoundError) or offline:
        what = "is not in the local Hugging Face cache"
    else:
        what = (
            f"could not be downloaded ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        )
    state = (
        "HF_HUB_OFFLINE is on: nothing was downloaded, only the local cache was searched"
        if offline
        else "HF_HUB_OFFLINE is off"
    )
    return AnnotatorSetupError(f"model {repo}{rev} {what}. Token: {token_note()}. {state}.")
