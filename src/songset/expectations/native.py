"""`validation=native` (default): the expectation suite in plain Python, with great-expectations' semantics.

Why not great-expectations itself by default: importing it costs about 4-6 s of CPU, more than the rest of
the validate stage and most of what adding one song to a built dataset costs. The suite uses five simple
expectation types; this engine evaluates exactly those, as great-expectations does on a pandas frame
(missing values pass every rule but not-null, `mostly` is 1, ranges are inclusive, a column with no values
passes), and tests/test_expectation_engines.py checks it against great-expectations on the same rows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from songset.expectations import Expectation, ExpectationEngine, ExpectationOutcome
from songset.settings import BackendSettings, Configured


def is_missing(value: Any) -> bool:
    """None or NaN: what pandas' `isnull` (and so great-expectations) counts as no value."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _lengths_between(rule: Expectation, values: list[Any]) -> list[bool]:
    def ok(value: Any) -> bool:
        if not isinstance(value, str):
            return False  # pandas' str.len() gives no length, which is outside any range
        low = rule.min_value if rule.min_value is not None else -math.inf
        high = rule.max_value if rule.max_value is not None else math.inf
        return low <= len(value) <= high

    return [ok(v) for v in values]


def _unique(rule: Expectation, values: list[Any]) -> list[bool]:
    counts = Counter(values)
    return [counts[v] == 1 for v in values]  # every copy of a repeated value is unexpected (keep=False)


def _in_set(rule: Expectation, values: list[Any]) -> list[bool]:
    allowed = set(rule.value_set or ())
    return [v in allowed for v in values]


def _between(rule: Expectation, values: list[Any]) -> list[bool]:
    low = rule.min_value if rule.min_value is not None else -math.inf
    high = rule.max_value if rule.max_value is not None else math.inf
    for value in values:
        if isinstance(value, str):
            raise TypeError(f"{rule.column}: {value!r} is text, compared with a number range")
    return [low <= v <= high for v in values]


# expectation type -> which present values it accepts (missing values are not asked, as in GX)
PRESENT_VALUE_CHECKS: dict[str, Callable[[Expectation, list[Any]], list[bool]]] = {
    "expect_column_value_lengths_to_be_between": _lengths_between,
    "expect_column_values_to_be_unique": _unique,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_be_between": _between,
}


def evaluate_one(rule: Expectation, rows: list[dict[str, Any]]) -> ExpectationOutcome:
    ids = [str(row["id"]) for row in rows]
    values = [row.get(rule.column) for row in rows]
    if rule.type == "expect_column_values_to_not_be_null":
        unexpected = [i for i, v in enumerate(values) if is_missing(v)]
    else:
        present = [i for i, v in enumerate(values) if not is_missing(v)]
        try:
            accepted = PRESENT_VALUE_CHECKS[rule.type](rule, [values[i] for i in present])
        except TypeError:  # GX records the exception and fails the expectation without naming rows
            return ExpectationOutcome(expectation=rule.type, column=rule.column, success=False)
        unexpected = [i for i, ok in zip(present, accepted, strict=True) if not ok]
    return ExpectationOutcome(
        expectation=rule.type,
        column=rule.column,
        success=not unexpected,
        unexpected_ids=sorted({ids[i] for i in unexpected}),
    )


class NativeEngineSettings(BackendSettings):
    """validation=native has nothing to set."""


class NativeEngine(Configured[NativeEngineSettings], ExpectationEngine):
    """The suite in plain Python: the default, because it adds no import time to the validate stage."""

    name = "native"
    Settings = NativeEngineSettings

    def evaluate(self, rows: list[dict[str, Any]], suite: list[Expectation]) -> list[ExpectationOutcome]:
        if not rows:
            return []
        return [evaluate_one(rule, rows) for rule in suite]
