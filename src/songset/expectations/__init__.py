"""The set-level expectation suite as data, and the engines that evaluate it.

The suite is built from one place, the sidecar field table (`sidecar_fields.SIDECAR_FIELDS` and
`SET_COLUMNS`, their `accepts` rules): a new field with an `accepts` rule is checked across the set with no
edit here. An engine (config group `validation`, chosen by `_target_`) evaluates the suite on one row per
sidecar: `native` (default; pure Python, imports nothing heavy) or `great_expectations` (the same
expectation types through great-expectations, which costs about 4-6 s of CPU to import). Both give the same
outcomes; tests/test_expectation_engines.py runs them side by side on good and planted-bad rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from songset.sidecar_fields import SET_COLUMNS, SIDECAR_FIELDS, Accepts

ExpectationType = Literal[
    "expect_column_values_to_not_be_null",
    "expect_column_value_lengths_to_be_between",
    "expect_column_values_to_be_unique",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
]


class Expectation(BaseModel):
    """One rule over one column, named and parametrised as great-expectations names it (so the two engines
    read the same suite and reports keep their rule names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ExpectationType
    column: str
    value_set: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None


class ExpectationOutcome(BaseModel):
    expectation: str
    column: str
    success: bool
    unexpected_ids: list[str] = Field(default_factory=list)


def column_rules() -> dict[str, Accepts]:
    """Every column checked across the set and what it accepts: `SET_COLUMNS`, then the table's fields."""
    rules = {name: column.accepts for name, column in SET_COLUMNS.items()}
    rules.update({name: f.accepts for name, f in SIDECAR_FIELDS.items() if f.accepts is not None})
    return rules


def _expectations(column: str, accepts: Accepts, settings: Mapping[str, Any]) -> list[Expectation]:
    out = []
    if accepts.required:
        out.append(Expectation(type="expect_column_values_to_not_be_null", column=column))
    if accepts.min_length is not None:
        out.append(
            Expectation(
                type="expect_column_value_lengths_to_be_between", column=column, min_value=accepts.min_length
            )
        )
    if accepts.unique:
        out.append(Expectation(type="expect_column_values_to_be_unique", column=column))
    if accepts.one_of is not None:
        out.append(
            Expectation(type="expect_column_values_to_be_in_set", column=column, value_set=accepts.one_of)
        )
    upper = accepts.max
    if accepts.max_setting is not None:
        if accepts.max_setting not in settings:
            raise ValueError(
                f"{column}: its maximum is the setting {accepts.max_setting}, which was not given"
            )
        upper = float(settings[accepts.max_setting])
    if accepts.min is not None or upper is not None:
        out.append(
            Expectation(
                type="expect_column_values_to_be_between",
                column=column,
                min_value=accepts.min,
                max_value=upper,
            )
        )
    return out


def expectation_suite(settings: Mapping[str, Any]) -> list[Expectation]:
    """The set-level suite from the field table; `settings` gives the limits that are settings
    (`caption_token_budget`)."""
    return [e for column, accepts in column_rules().items() for e in _expectations(column, accepts, settings)]


class ExpectationEngine(ABC):
    """Evaluates a suite on rows (one dict per sidecar, with an `id`); one outcome per expectation, in order."""

    name: ClassVar[str]

    @abstractmethod
    def evaluate(self, rows: list[dict[str, Any]], suite: list[Expectation]) -> list[ExpectationOutcome]: ...
