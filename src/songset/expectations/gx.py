"""`validation=great_expectations`: the same suite evaluated by great-expectations on a pandas frame.

For a team that wants great-expectations' own evaluation (or to extend the suite with its expectation
gallery): the outcomes equal the native engine's (tests/test_expectation_engines.py). It costs about 4-6 s
of CPU to import, which is why it is not the default. Needs `pip install -e ".[gx]"`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from songset.expectations import Expectation, ExpectationEngine, ExpectationOutcome
from songset.settings import BackendSettings, Configured


class GreatExpectationsSettings(BackendSettings):
    """validation=great_expectations has nothing to set: an ephemeral, offline context every run."""


def _gx_class_name(expectation_type: str) -> str:
    """`expect_column_values_to_be_unique` -> `ExpectColumnValuesToBeUnique`, GX's own class name."""
    return "".join(word.capitalize() for word in expectation_type.split("_"))


class GreatExpectationsEngine(Configured[GreatExpectationsSettings], ExpectationEngine):
    """The suite on an ephemeral great-expectations context (no files, no analytics, no progress bars)."""

    name = "great_expectations"
    Settings = GreatExpectationsSettings

    def evaluate(self, rows: list[dict[str, Any]], suite: list[Expectation]) -> list[ExpectationOutcome]:
        if not rows:
            return []
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        try:
            import great_expectations as gx
            import pandas as pd
            from great_expectations.data_context.types.base import ProgressBarsConfig
        except ImportError as exc:
            raise ValueError(
                f'validation=great_expectations needs great-expectations: pip install -e ".[gx]" ({exc})'
            ) from None

        for logger in ("great_expectations", "great_expectations.data_context.types.base"):
            logging.getLogger(logger).setLevel(logging.ERROR)
        columns = sorted({key for row in rows for key in row})
        frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows]).astype(object)
        frame = frame.where(frame.notna(), None)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_pandas("songset")
        asset = source.add_dataframe_asset("sidecars")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": frame}
        )
        gx_suite = context.suites.add(gx.ExpectationSuite(name="ace_step_sidecars"))
        for rule in suite:
            kwargs = rule.model_dump(exclude={"type"}, exclude_none=True)
            if "value_set" in kwargs:
                kwargs["value_set"] = list(kwargs["value_set"])
            gx_suite.add_expectation(getattr(gx.expectations, _gx_class_name(rule.type))(**kwargs))
        result = batch.validate(gx_suite, result_format="COMPLETE")
        ids = frame["id"].tolist()
        outcomes = []
        for res in result.results:
            cfg = res.expectation_config
            unexpected = res.result.get("unexpected_index_list") or []
            outcomes.append(
                ExpectationOutcome(
                    expectation=cfg.type,
                    column=str(cfg.kwargs.get("column")),
                    success=bool(res.success),
                    unexpected_ids=sorted(
                        {str(ids[i]) if isinstance(i, int) else str(i) for i in unexpected}
                    ),
                )
            )
        return outcomes
