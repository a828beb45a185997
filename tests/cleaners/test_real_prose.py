"""The rules cleaner on the real audio-LLM texts of ../shared/data/real-annotations (skipped when absent).

Only phenomena are asserted (times, order, flags), never a text's exact caption: the texts are for
checking, and the issue keeps more of them back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT, provenance

from songset.cleaners.rules import RulesCleaner
from songset.schemas import CleanAnnotation, RawAnnotation

REAL = Path(os.environ.get("SONGSET_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
TEXTS = REAL / "data" / "real-annotations" / "texts.jsonl"
pytestmark = pytest.mark.skipif(not TEXTS.is_file(), reason="../shared/data/real-annotations is not here")
PROV = provenance("annotate")


def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in TEXTS.read_text(encoding="utf-8").splitlines() if line.strip()]


def cleaned(row: dict[str, Any]) -> CleanAnnotation:
    raw = RawAnnotation(
        id=row["id"],
        audio_file="-",
        audio_sha256="0",
        duration=row["duration_s"],
        text=row["text"],
        provenance=PROV,
    )
    content = RulesCleaner().clean(raw)
    return CleanAnnotation(
        id=row["id"], duration=row["duration_s"], **content.model_dump(), provenance={"annotate": PROV}
    )


def test_every_real_text_cleans_into_the_contract() -> None:
    for row in rows():
        out = cleaned(row)
        assert out.caption.strip(), row["id"]
        assert "<think>" not in out.rich_details and "</answer>" not in out.rich_details


def test_timed_texts_give_sections_at_their_times() -> None:
    timed = [r for r in rows() if r["timestamped"]]
    assert timed
    for row in timed:
        out = cleaned(row)
        assert out.sections, row["id"]
        assert all(0 <= s.start < s.end <= row["duration_s"] for s in out.sections)
        assert [s.start for s in out.sections] == sorted(s.start for s in out.sections)


def test_think_is_kept_apart() -> None:
    for row in rows():
        if "<think>" in row["text"]:
            out = cleaned(row)
            assert out.reasoning and out.reasoning[:60] not in out.rich_details
            assert out.reasoning[:60] not in out.caption


def test_lyric_sheets_flagged_and_descriptions_not() -> None:
    for row in rows():
        out = cleaned(row)
        is_sheet = "lyric sheet" in row.get("note", "")
        assert ("lyric_sheet" in out.flags) == is_sheet, row["id"]


def test_untimed_structure_kept_in_order() -> None:
    with_structure = [cleaned(r) for r in rows() if not r["timestamped"]]
    ordered = [c for c in with_structure if len(c.untimed_sections) >= 4]
    assert len(ordered) >= 5
    for c in ordered:
        assert [s.order for s in c.untimed_sections] == list(range(1, len(c.untimed_sections) + 1))
        assert "untimed_structure" in c.flags
        labels = [s.label for s in c.untimed_sections]
        assert labels[-1] in ("outro", "chorus") and labels.index("chorus") > labels.index("verse")
