"""The sidecar contract, checked twice: per file by pydantic, across the set by great-expectations.

Pydantic says whether one file has the shape ACE-Step reads; the expectation suite says whether the set
holds together (unique ids, values inside ACE-Step's vocabularies, captions inside the token budget,
durations ACE-Step accepts). Every broken rule is reported with the song it broke on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from songset.acestep import TEXT_MAX_TOKENS, Metas, prompt_tokens, sung_lyrics
from songset.schemas import (
    DURATION_MAX_S,
    DURATION_MIN_S,
    VALID_KEYSCALES,
    VALID_LANGUAGES,
    VALID_TIMESIGNATURES,
    Sidecar,
    SongFailure,
)

# songset's own manifest; not `dataset.json`, which ACE-Step's "Load existing dataset" takes for its own format
MANIFEST_NAME = "songset-manifest.json"


class BrokenRule(BaseModel):
    id: str
    file: str
    rule: str
    detail: str


class ExpectationOutcome(BaseModel):
    expectation: str
    column: str
    success: bool
    unexpected_ids: list[str] = Field(default_factory=list)


class ValidationReport(BaseModel):
    ok: bool
    songs: int
    valid_songs: int
    broken: list[BrokenRule]
    expectations: list[ExpectationOutcome]
    upstream_failures: list[SongFailure] = Field(default_factory=list)
    allow_partial: bool = False
    partial: bool = False

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
    row = {
        "id": song_id,
        "caption": sidecar.caption,
        "caption_tokens": sidecar.source.caption_tokens,
        "bpm": sidecar.bpm,
        "keyscale": sidecar.keyscale,
        "timesignature": sidecar.timesignature,
        "language": sidecar.language,
        "vocal_language": sidecar.vocal_language,
        "duration": sidecar.duration,
        "audio_sha256": sidecar.source.audio_sha256,
    }
    return row, broken


def _expectation_suite(budget: int) -> list[Any]:
    import great_expectations as gx

    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeUnique(column="id"),
        e.ExpectColumnValuesToNotBeNull(column="caption"),
        e.ExpectColumnValueLengthsToBeBetween(column="caption", min_value=1),
        e.ExpectColumnValuesToBeBetween(column="caption_tokens", min_value=1, max_value=budget),
        e.ExpectColumnValuesToBeBetween(column="bpm", min_value=30, max_value=300),
        e.ExpectColumnValuesToBeInSet(column="keyscale", value_set=list(VALID_KEYSCALES)),
        e.ExpectColumnValuesToBeInSet(column="timesignature", value_set=list(VALID_TIMESIGNATURES)),
        e.ExpectColumnValuesToBeInSet(column="language", value_set=list(VALID_LANGUAGES)),
        e.ExpectColumnValuesToBeInSet(column="vocal_language", value_set=list(VALID_LANGUAGES)),
        e.ExpectColumnValuesToBeBetween(
            column="duration", min_value=DURATION_MIN_S, max_value=DURATION_MAX_S
        ),
    ]


def run_expectations(rows: list[dict[str, Any]], budget: int) -> list[ExpectationOutcome]:
    """The set-level suite on an ephemeral, offline great-expectations context."""
    if not rows:
        return []
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import logging

    import great_expectations as gx
    import pandas as pd
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.ERROR)
    frame = pd.DataFrame(rows).astype(object)
    frame = frame.where(frame.notna(), None)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("songset")
    asset = source.add_dataframe_asset("sidecars")
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
    suite = context.suites.add(gx.ExpectationSuite(name="ace_step_sidecars"))
    for expectation in _expectation_suite(budget):
        suite.add_expectation(expectation)
    result = batch.validate(suite, result_format="COMPLETE")
    outcomes = []
    ids = frame["id"].tolist()
    for res in result.results:
        cfg = res.expectation_config
        unexpected = res.result.get("unexpected_index_list") or []
        unexpected_ids = sorted({str(ids[i]) if isinstance(i, int) else str(i) for i in unexpected})
        outcomes.append(
            ExpectationOutcome(
                expectation=cfg.type,
                column=str(cfg.kwargs.get("column")),
                success=bool(res.success),
                unexpected_ids=unexpected_ids,
            )
        )
    return outcomes


def validate_sidecars(
    directory: Path,
    caption_token_budget: int = 256,
    upstream_failures: list[SongFailure] | None = None,
    allow_partial: bool = False,
) -> ValidationReport:
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
    outcomes = run_expectations(rows, caption_token_budget)
    by_id = {row["id"]: row for row in rows}
    for outcome in outcomes:
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
    )
