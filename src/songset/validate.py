"""The sidecar contract, checked twice: per file by pydantic, across the set by an expectation suite.

Pydantic says whether one file has the shape ACE-Step reads; the expectation suite says whether the set
holds together (unique ids, values inside ACE-Step's vocabularies, captions inside the token budget,
durations ACE-Step accepts). The suite is built from the sidecar field table's `accepts` rules
(`songset.expectations`) and evaluated by the engine config group `validation` chooses (native by
default, great-expectations on request). Every broken rule is reported with the song it broke on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from songset.acestep import TEXT_MAX_TOKENS, Metas, prompt_tokens, sung_lyrics
from songset.expectations import ExpectationEngine, ExpectationOutcome, column_rules, expectation_suite
from songset.schemas import Sidecar, SongFailure
from songset.sidecar_fields import SET_COLUMNS

# songset's own manifest; not `dataset.json`, which ACE-Step's "Load existing dataset" takes for its own format
MANIFEST_NAME = "songset-manifest.json"


class BrokenRule(BaseModel):
    id: str
    file: str
    rule: str
    detail: str


class ValidationReport(BaseModel):
    ok: bool
    songs: int
    valid_songs: int
    broken: list[BrokenRule]
    expectations: list[ExpectationOutcome]
    upstream_failures: list[SongFailure] = Field(default_factory=list)
    allow_partial: bool = False
    partial: bool = False
    engine: str = "native"  # what evaluated the expectations (config group `validation`)

    def lines(self) -> list[str]:
        out = [f"{b.file}: {b.rule}: {b.detail}" for b in self.broken]
        out += [f"{f.file}: failed in {f.stage}: {f.reason}" for f in self.upstream_failures]
        return out


def sidecar_files(directory: Path) -> list[Path]:
    """The sidecars of a folder: every JSON but songset's manifest and ACE-Step's `dataset.json` (an export)."""
    return sorted(p for p in directory.glob("*.json") if p.name not in (MANIFEST_NAME, "dataset.json"))


def _check_file(path: Path, budget: int) -> tuple[dict[str, Any] | None, list[BrokenRule]]:
    song_id = path.stem
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [BrokenRule(id=song_id, file=str(path), rule="readable_json", detail=str(exc))]
    try:
        sidecar = Sidecar.model_validate(data)
    except ValidationError as exc:
        return None, [
            BrokenRule(
                id=song_id,
                file=str(path),
                rule=f"schema:{'.'.join(map(str, err['loc'])) or 'sidecar'}",
                detail=err["msg"],
            )
            for err in exc.errors()
        ]
    broken = []
    lyrics_file = path.with_name(f"{path.stem}.lyrics.txt")
    if sung_lyrics(sidecar) and not lyrics_file.is_file():
        broken.append(
            BrokenRule(id=song_id, file=str(path), rule="lyrics_file", detail=f"{lyrics_file.name} missing")
        )
    prompt = prompt_tokens(sidecar.caption, Metas.of(sidecar))
    if prompt > TEXT_MAX_TOKENS:
        broken.append(
            BrokenRule(
                id=song_id,
                file=str(path),
                rule="acestep_prompt",
                detail=f"ACE-Step's prompt is {prompt} tokens, over {TEXT_MAX_TOKENS}: it would cut the metas",
            )
        )
    return set_row(song_id, sidecar), broken


def set_row(song_id: str, sidecar: Sidecar) -> dict[str, Any]:
    """The sidecar's values of every column the expectation suite checks (and the caption, for details)."""
    row: dict[str, Any] = {"id": song_id}
    for column in column_rules():
        set_column = SET_COLUMNS.get(column)
        if set_column is not None and set_column.value is None:
            continue  # the song id, set above
        value: Any = sidecar
        for part in (set_column.value if set_column is not None else column).split("."):
            value = getattr(value, part)
        row[column] = value
    return row


def validate_sidecars(
    directory: Path,
    caption_token_budget: int = 256,
    upstream_failures: list[SongFailure] | None = None,
    allow_partial: bool = False,
    engine: ExpectationEngine | None = None,
) -> ValidationReport:
    """Every sidecar in `directory` per file, then the set against the suite on `engine` (default native)."""
    if engine is None:
        from songset.expectations.native import NativeEngine

        engine = NativeEngine()
    if not directory.is_dir():
        raise FileNotFoundError(f"sidecar folder {directory} does not exist")
    files = sidecar_files(directory)
    rows: list[dict[str, Any]] = []
    broken: list[BrokenRule] = []
    for path in files:
        row, problems = _check_file(path, caption_token_budget)
        broken += problems
        if row is not None:
            rows.append(row)
    outcomes = engine.evaluate(rows, expectation_suite({"caption_token_budget": caption_token_budget}))
    by_id = {row["id"]: row for row in rows}
    for outcome in outcomes:
        if not outcome.success and not outcome.unexpected_ids:  # the rule could not be evaluated at all
            broken.append(
                BrokenRule(
                    id="",
                    file=str(directory),
                    rule=outcome.expectation,
                    detail=f"{outcome.column}: the expectation failed without naming songs",
                )
            )
        for song_id in outcome.unexpected_ids:
            broken.append(
                BrokenRule(
                    id=song_id,
                    file=str(directory / f"{song_id}.json"),
                    rule=outcome.expectation,
                    detail=f"{outcome.column}={by_id.get(song_id, {}).get(outcome.column)!r}",
                )
            )
    if not files:  # an empty training set is not a valid one, whatever else is true
        broken.append(
            BrokenRule(id="", file=str(directory), rule="not_empty", detail="no sidecars in this folder")
        )
    broken.sort(key=lambda b: (b.id, b.rule))
    failures = list(upstream_failures or [])
    bad_ids = {b.id for b in broken}
    partial = bool(failures) and allow_partial
    return ValidationReport(
        ok=not broken and (not failures or allow_partial),
        songs=len(files),
        valid_songs=len([r for r in rows if r["id"] not in bad_ids]),
        broken=broken,
        expectations=outcomes,
        upstream_failures=failures,
        allow_partial=allow_partial,
        partial=partial,
        engine=engine.name,
    )
