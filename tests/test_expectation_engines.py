"""The set-level expectation suite: built from the sidecar field table, and evaluated alike by both engines.

Why: the native engine is the default because great-expectations takes seconds to import; it is only
trustworthy while it gives great-expectations' own outcomes. So both run the same suite on the same good
and planted-bad rows here, and any difference fails.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from test_stage_imports import _loaded_after
from test_validate import write_sidecar

from songset import sidecar_fields
from songset.expectations import column_rules, expectation_suite
from songset.expectations.native import NativeEngine
from songset.sidecar_fields import Accepts, SidecarField
from songset.validate import validate_sidecars

BUDGET = 200


def _good(song_id: str, **changes: Any) -> dict[str, Any]:
    row = {
        "id": song_id,
        "caption_tokens": 120,
        "language": "en",
        "duration": 185.5,
        "caption": "warm acoustic guitar ballad with soft male vocals",
        "bpm": 92,
        "keyscale": "F# minor",
        "timesignature": "4",
        "vocal_language": "en",
    }
    return {**row, **changes}


GOOD = [_good("a"), _good("b", bpm=None, keyscale=None, language=None), _good("c", timesignature="3")]
PLANTED: dict[str, dict[str, Any]] = {  # song id -> its one broken value
    "dup": {"id": "a"},  # a second song with id a: both copies are unexpected
    "no_caption": {"caption": None},
    "empty_caption": {"caption": ""},
    "slow": {"bpm": 12},
    "fast": {"bpm": 301.0},
    "nan_bpm": {"bpm": math.nan},  # missing, like None: accepted
    "short": {"duration": 4.0},
    "long": {"duration": 600.5},
    "over_budget": {"caption_tokens": BUDGET + 1},
    "no_tokens": {"caption_tokens": 0},
    "bad_key": {"keyscale": "H major"},
    "bad_meter": {"timesignature": "5"},
    "bad_language": {"language": "english", "vocal_language": "english"},
}
BAD = [_good(song_id, **change) for song_id, change in PLANTED.items()]
EXPECTED_BROKEN = {  # what the planted rows must break (the suite can fail)
    ("a", "id"),
    ("no_caption", "caption"),
    ("empty_caption", "caption"),
    ("slow", "bpm"),
    ("fast", "bpm"),
    ("short", "duration"),
    ("long", "duration"),
    ("over_budget", "caption_tokens"),
    ("no_tokens", "caption_tokens"),
    ("bad_key", "keyscale"),
    ("bad_meter", "timesignature"),
    ("bad_language", "language"),
    ("bad_language", "vocal_language"),
}


def _broken(outcomes: list[Any]) -> set[tuple[str, str]]:
    return {(song_id, o.column) for o in outcomes for song_id in o.unexpected_ids}


def test_native_engine_finds_every_planted_break_and_nothing_else() -> None:
    suite = expectation_suite({"caption_token_budget": BUDGET})
    assert all(o.success for o in NativeEngine().evaluate(GOOD, suite))
    outcomes = NativeEngine().evaluate(GOOD + BAD, suite)
    assert _broken(outcomes) == EXPECTED_BROKEN
    assert [o.expectation for o in outcomes] == [e.type for e in suite]


@pytest.mark.parametrize(
    "rows",
    [GOOD, GOOD + BAD, BAD, [_good("x", keyscale=None, bpm=None)], []],
    ids=["good", "good+planted", "planted", "one-row-all-missing", "no-rows"],
)
def test_both_engines_give_the_same_outcomes(rows: list[dict[str, Any]]) -> None:
    pytest.importorskip("great_expectations")
    from songset.expectations.gx import GreatExpectationsEngine

    suite = expectation_suite({"caption_token_budget": BUDGET})
    native = NativeEngine().evaluate(rows, suite)
    gx = GreatExpectationsEngine().evaluate(rows, suite)
    assert [o.model_dump() for o in native] == [o.model_dump() for o in gx]


def test_both_engines_judge_a_sidecar_folder_alike(tmp_path: Path) -> None:
    pytest.importorskip("great_expectations")
    from songset.expectations.gx import GreatExpectationsEngine

    write_sidecar(tmp_path, "ok")
    write_sidecar(tmp_path, "short", duration=4.0)
    write_sidecar(tmp_path, "long_caption", source__caption_tokens=240)
    write_sidecar(tmp_path, "bad_key", keyscale="f# Minor")  # per file (pydantic): not in the set rows
    native = validate_sidecars(tmp_path, caption_token_budget=BUDGET)
    gx = validate_sidecars(tmp_path, caption_token_budget=BUDGET, engine=GreatExpectationsEngine())
    assert (native.engine, gx.engine) == ("native", "great_expectations")
    assert native.model_dump(exclude={"engine"}) == gx.model_dump(exclude={"engine"})
    assert {(b.id, b.rule) for b in native.broken} == {
        ("short", "expect_column_values_to_be_between"),
        ("long_caption", "expect_column_values_to_be_between"),
        ("bad_key", "schema:keyscale"),
    }


def test_a_new_field_with_a_rule_is_checked_without_touching_the_suite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Adding a field touches one place: its table row's `accepts` puts it in the suite."""
    mood = SidecarField(
        name="mood", help="one word", sources=("annotation",), accepts=Accepts(one_of=("calm",))
    )
    monkeypatch.setitem(sidecar_fields.SIDECAR_FIELDS, "mood", mood)
    assert column_rules()["mood"] == mood.accepts
    suite = expectation_suite({"caption_token_budget": BUDGET})
    assert [(e.type, e.value_set) for e in suite if e.column == "mood"] == [
        ("expect_column_values_to_be_in_set", ("calm",))
    ]
    outcomes = NativeEngine().evaluate([_good("x", mood="calm"), _good("y", mood="angry")], suite)
    assert _broken(outcomes) == {("y", "mood")}


def test_a_limit_from_a_setting_must_be_given() -> None:
    with pytest.raises(ValueError, match="caption_token_budget"):
        expectation_suite({})


def test_the_default_engine_loads_neither_great_expectations_nor_pandas(tmp_path: Path) -> None:
    """The reason the native engine is the default: validating a folder imports nothing heavy."""
    write_sidecar(tmp_path, "a")
    code = (
        "from pathlib import Path\nfrom songset.validate import validate_sidecars\n"
        f"report = validate_sidecars(Path({str(tmp_path)!r}), 200)\nassert report.ok and report.engine == 'native'"
    )
    assert not {"great_expectations", "pandas"} & _loaded_after(code)
