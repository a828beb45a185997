"""Prompt files: versioned text under conf/prompt/, loaded once and identified by their sha256.

Why a shared helper: annotators and cleaners both send prompts whose exact text decides the output, so
both must resolve names the same way and put the same (name, text, sha256) into cache keys and provenance.
"""

from __future__ import annotations

from pathlib import Path

from songset.io import sha256_text
from songset.schemas import PromptInfo

PROMPT_DIR = Path("conf") / "prompt"


def resolve_prompt(prompt_file: str) -> Path:
    """A prompt path as given, else relative to the project that holds conf/.

    A bare name without a suffix or folder (`timestamped_v1`) means conf/prompt/<name>.md.
    """
    from songset.config import conf_dir

    path = Path(prompt_file)
    if path.is_absolute() or path.is_file():
        return path
    if path.suffix == "" and path.parent == Path("."):
        return conf_dir() / "prompt" / f"{prompt_file}.md"
    return conf_dir().parent / path


def load_prompt(prompt_file: str, setting: str = "cleaner.prompt_file") -> PromptInfo:
    """Read a prompt file; `setting` names the config key in errors so the user knows what to fix."""
    path = resolve_prompt(prompt_file)
    if not path.is_file():
        raise FileNotFoundError(f"prompt file {prompt_file} not found ({setting}; looked at {path})")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ValueError(f"prompt file {path} is empty ({setting})")
    return PromptInfo(name=path.stem, text=text, sha256=sha256_text(text))
