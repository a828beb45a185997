"""Reading annotations, durations and sidecars from disk, and grouping annotations by annotator stack."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

log = logging.getLogger(__name__)


def _json_objects(directory: Path) -> Iterable[tuple[Path, dict[str, Any]]]:
    for path in sorted(Path(directory).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        if isinstance(data, dict):
            yield path, data


def _song_id(path: Path, data: dict[str, Any]) -> str:
    sid = data.get("id")
    return sid if isinstance(sid, str) and sid else path.stem


def load_texts(directory: Path) -> dict[str, str]:
    """Song id -> prose from raw annotations (`text`) or clean annotations (`rich_details`)."""
    texts: dict[str, str] = {}
    for path, data in _json_objects(directory):
        text = data.get("text")
        if not isinstance(text, str):
            text = data.get("rich_details")
        if not isinstance(text, str):
            continue
        sid = _song_id(path, data)
        if sid in texts:
            raise ValueError(f"{path}: song id {sid!r} appears in two files of {directory}")
        texts[sid] = text
    return texts


def load_durations(directory: Path) -> dict[str, float]:
    """Song id -> seconds, from any annotation or metadata JSON that records a duration."""
    return {
        _song_id(path, data): float(data["duration"])
        for path, data in _json_objects(directory)
        if isinstance(data.get("duration"), int | float) and not isinstance(data.get("duration"), bool)
    }


def load_sidecars(directory: Path) -> dict[str, dict[str, Any]]:
    """Stem -> sidecar dict for every `<stem>.json` shaped like a sidecar (caption plus source)."""
    return {
        path.stem: data
        for path, data in _json_objects(directory)
        if "caption" in data and isinstance(data.get("source"), dict)
    }


# ---- annotator stacks --------------------------------------------------------------------------------------


class AnnotationRecord(NamedTuple):
    """One annotation text with the stack that wrote it; one song may have a record per stack."""

    id: str
    group: str
    text: str
    prompt: str = ""  # sha256[:8] of the prompt; variants of one stack share its group


def prompt_of(provenance: Any) -> str:
    """sha256[:8] of the prompt that produced the text, or "" when there was none."""
    prompt = provenance.get("prompt") if isinstance(provenance, dict) else None
    return str(prompt.get("sha256") or "")[:8] if isinstance(prompt, dict) else ""


def stack_group(provenance: Any) -> str:
    """`backend[:model_id][+adapter]`, e.g. `af3_hf:nvidia/audio-flamingo-3-hf+think`.

    Settings and prompt are left out on purpose: a stack is the model; its prompt variants are counted
    under it (`StackSummary.prompts`), so one model asked two ways is one group, not many one-song groups.
    """
    if not isinstance(provenance, dict):
        return "unknown"
    key = str(provenance.get("backend") or "unknown")
    if provenance.get("model_id"):
        key += f":{provenance['model_id']}"
    if provenance.get("adapter"):
        key += f"+{provenance['adapter']}"
    return key


def load_annotations(directory: Path) -> list[AnnotationRecord]:
    """Every annotation text under `directory` (subfolders too), with its stack group.

    Raw annotations carry `text`, clean ones `rich_details`; the group comes from `provenance`. The
    same song may appear once per group; twice in one group is an error naming both files.
    """
    root = Path(directory)
    seen: dict[tuple[str, str, str], Path] = {}
    out: list[AnnotationRecord] = []
    for path in sorted(root.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        if not isinstance(data, dict):
            continue
        text = data.get("text")
        if not isinstance(text, str):
            text = data.get("rich_details")
        if not isinstance(text, str):
            continue
        sid, group = _song_id(path, data), stack_group(data.get("provenance"))
        prompt = prompt_of(data.get("provenance"))
        if (sid, group, prompt) in seen:
            raise ValueError(
                f"{path}: song id {sid!r} of stack {group!r} is also in {seen[sid, group, prompt]}"
            )
        seen[sid, group, prompt] = path
        out.append(AnnotationRecord(sid, group, text, prompt))
    return sorted(out, key=lambda r: (r.group, r.id, r.prompt))


def _song_key(r: AnnotationRecord, records: Sequence[AnnotationRecord]) -> str:
    """The song id, with `#prompt` when the same stack wrote this song under several prompts."""
    twice = sum(1 for o in records if o.group == r.group and o.id == r.id) > 1
    return f"{r.id}#{r.prompt}" if twice else r.id


def corpus_texts(records: Sequence[AnnotationRecord]) -> dict[str, str]:
    """Report key -> text: the song id for one stack; `group/id` when several stacks are pooled."""
    several = len({r.group for r in records}) > 1
    return {
        (f"{r.group}/{_song_key(r, records)}" if several else _song_key(r, records)): r.text for r in records
    }


def song_of_key(key: str, records: Sequence[AnnotationRecord]) -> str:
    """The song id behind a `corpus_texts` key."""
    song = key.rsplit("/", 1)[-1] if len({r.group for r in records}) > 1 else key
    return song.split("#", 1)[0]
