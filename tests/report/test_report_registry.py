"""The metric registry (songset.report.metrics): one entry per metric drives every report output.

Why: quality.json keys are read by `dvc metrics diff` and other tools, the plots by `dvc plots`; a metric
added in one output and forgotten in another (or a renamed key) breaks them silently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ROOT
from test_report import DIFFERENT, SETTINGS, raw, template_song, two_stack_dir

from songset.report import metrics as registry_module
from songset.report.build import build_report
from songset.report.compare import compare_reports
from songset.report.contract import report_models
from songset.report.format import fmt
from songset.report.html import render_html
from songset.report.metrics import METRICS, Histogram, Levels, Metric, check_registry
from songset.report.plots import plots_data

# quality.json's top-level keys as other tools read them: a rename is a breaking change, not a refactor.
TOP_LEVEL_KEYS = {
    "songs", "lyrics", "failures", "failed_songs", "partial", "accepted", "empty_texts", "exact_duplicate_songs",
    "near_duplicate_pairs", "near_duplicate_songs", "template_reuse", "template_min_songs", "frame_templates",
    "skeleton_reuse", "within_repetition", "repeated_sentence_share", "repeated_segments", "distinct_1",
    "distinct_2", "distinct_3", "compression_ratio", "mean_words", "mean_sentences", "mean_segments_per_minute",
    "sidecars", "bpm_coverage", "key_coverage", "timesignature_coverage", "lyrics_coverage", "language_coverage",
    "mean_caption_tokens", "max_caption_tokens", "captions_over_budget", "songs_over_240s", "omitted_fields",
    "mean_confidences", "failures_by_stage", "failures_by_reason", "failure_list", "stages",
    "exact_duplicate_groups", "worst_by_template_reuse", "worst_by_within_repetition", "top_phrases",
    "top_skeletons", "per_song", "by_stack", "confidence_histograms", "confidence_thresholds", "flagged", "skipped",
}  # fmt: skip
PER_SONG_KEYS = {
    "id", "words", "sentences", "segments", "duration", "segments_per_minute", "template_reuse",
    "skeleton_reuse", "within_repetition", "repeated_sentence_share", "repeated_segments", "distinct_1",
    "distinct_2", "distinct_3", "compression_ratio", "duplicate_of", "near_duplicates", "top_phrases",
}  # fmt: skip
STACK_KEYS = {
    "songs", "prompts", "template_reuse", "skeleton_reuse", "within_repetition", "mean_words",
    "exact_duplicate_songs", "near_duplicate_pairs",
}  # fmt: skip


def test_quality_json_keys_are_todays() -> None:
    models = report_models()
    assert set(models.report.model_fields) == TOP_LEVEL_KEYS
    assert set(models.song.model_fields) == PER_SONG_KEYS
    assert set(models.stack.model_fields) == STACK_KEYS


def test_dvc_yaml_plots_match_the_registry() -> None:
    """Every `plot` metric has its dvc.yaml plot (x=id, y=its per-song field) and dvc.yaml has no other."""
    stage = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]["report"]
    declared: dict[str, tuple[str, str]] = {}
    for entry in stage["plots"]:
        ((path, spec),) = entry.items()
        match = re.fullmatch(r"\$\{paths\.reports\}/plots/(\w+)\.json", path)
        assert match, f"dvc.yaml report plot {path!r} is not ${{paths.reports}}/plots/<field>.json"
        declared[match.group(1)] = (spec["x"], spec["y"])
        assert spec.get("cache") is False, f"{path}: plots are small and tracked in git (cache: false)"
    wanted = {m.song_field: ("id", m.song_field) for m in METRICS if m.plot and m.song_field}
    assert declared == wanted
    assert any("quality.json" in next(iter(e)) for e in stage["metrics"])


def test_plots_data_rows_carry_the_plot_field(tmp_path: Path) -> None:
    report = build_report({"a": template_song(0), "b": template_song(1)}, settings=SETTINGS)
    data = plots_data(report)
    assert set(data) == {m.song_field for m in METRICS if m.plot}
    assert data["words"] == [
        {"id": "a", "words": report.per_song[0].words},
        {"id": "b", "words": report.per_song[1].words},
    ]
    assert data["segments_per_minute"] == []  # no durations: nothing to plot, not zeros


# ---- adding a metric touches one place ---------------------------------------------------------------------

LONG = 10  # letters that make a word long, for the test metric


def _long_words(text: str) -> int:
    return sum(1 for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= LONG)


LONG_WORDS = Metric(
    name="mean_long_words",
    meaning="words of ten letters or more per text; a test metric",
    label="long words",
    card_label="long words per song",
    song_field="long_words",
    song_type=int,
    per_song=lambda f: sum(1 for t in f.song.tokens if len(t) >= LONG),
    better="lower",
    levels=Levels(warn=1, bad=3),
    headline=True,
    card=True,
    column=True,
    worst=True,
    plot=True,
    histogram=Histogram(caption="long words per song (test)", guide="fewer is plainer"),
    by_stack=True,
    compare=True,
)


@pytest.fixture
def with_long_words(monkeypatch: pytest.MonkeyPatch) -> Metric:
    """The registry with one more entry: the one place a newcomer edits."""
    monkeypatch.setattr(registry_module, "METRICS", (*METRICS, LONG_WORDS))
    return LONG_WORDS


def test_a_new_metric_reaches_every_output(tmp_path: Path, with_long_words: Metric) -> None:
    from songset.stages.report import write_quality_report

    raw_dir = two_stack_dir(tmp_path / "raw")
    other = two_stack_dir(tmp_path / "other")  # experiment B: the same songs, one rewritten
    (other / "desc" / "t0.json").write_text(raw("t0", "A plain short text about a quiet tune."))
    out = tmp_path / "out"
    write_quality_report(raw_dir, out, dict(SETTINGS), compare_dir=other)

    texts = {
        **{f"descriptor/t{i}": template_song(i) for i in range(8)},
        **{f"af3_hf:nvidia/af3/t{i}": t for i, (_, t) in enumerate(sorted(DIFFERENT.items()))},
    }
    expected = {key: _long_words(text) for key, text in texts.items()}
    assert max(expected.values()) > 0  # the corpus has long words, so a zero would be a bug

    data = json.loads((out / "quality.json").read_text())
    assert {p["id"]: p["long_words"] for p in data["per_song"]} == expected
    assert data["mean_long_words"] == round(sum(expected.values()) / len(expected), 4)
    worst = sorted((k for k, v in expected.items() if v), key=lambda k: (-expected[k], k))
    assert data["worst_by_long_words"] == worst[: SETTINGS.worst_songs]
    assert {"mean_long_words"} <= set(data["by_stack"]["descriptor"])

    md = (out / "quality.md").read_text()
    assert f"| mean_long_words | {fmt(data['mean_long_words'])} | {LONG_WORDS.meaning} |" in md
    assert "### By long words" in md
    assert "| long words |" in md.split("### By template reuse")[1].split("\n")[2]  # a per-song column
    assert "| mean_long_words |" in md.split("## By annotator stack")[1].split("\n")[4]

    html = (out / "quality.html").read_text()
    assert "long words per song</div>" in html  # the headline card
    assert "<figcaption>long words per song (test)</figcaption>" in html
    assert "<h3>By long words</h3>" in html
    compared = html.split("Experiments side by side")[1]
    assert "<td>mean_long_words</td>" in compared  # the --compare table
    assert "long words " in compared.split("<div class='pair'>")[1]  # the songs side by side

    rows = json.loads((out / "plots" / "long_words.json").read_text())
    assert {r["id"]: r["long_words"] for r in rows} == expected


def test_the_default_registry_is_untouched_after_the_fixture() -> None:
    report = build_report({"a": "orchestration everywhere."}, settings=SETTINGS)
    assert "mean_long_words" not in type(report).model_fields


# ---- entries, levels, directions ---------------------------------------------------------------------------


def test_registry_rejects_entries_it_could_not_show() -> None:
    ok = METRICS[0]
    with pytest.raises(ValueError, match="name used twice"):
        check_registry([ok, ok])
    with pytest.raises(ValueError, match="per-song outputs need a song_field"):
        check_registry([Metric(name="x", meaning="m", label="x", summary=lambda c: 1, plot=True)])
    with pytest.raises(ValueError, match="needs a per_song"):
        check_registry([Metric(name="x", meaning="m", label="x", song_field="x")])
    with pytest.raises(ValueError, match="dataset outputs need a name"):
        check_registry([Metric(meaning="m", label="x", song_field="x", per_song=lambda f: 1, headline=True)])
    with pytest.raises(ValueError, match="of what"):
        check_registry([Metric(name="x", meaning="m", label="x")])


def test_levels_read_in_the_metric_direction() -> None:
    lower = Metric(name="x", meaning="m", label="x", better="lower", levels=Levels(warn=0.15, bad=0.3))
    assert [lower.level_of_value(v) for v in (0.1, 0.15, 0.29, 0.3, None)] == [
        "ok",
        "warn",
        "warn",
        "bad",
        "",
    ]
    higher = Metric(name="y", meaning="m", label="y", better="higher", levels=Levels(warn=0.8, bad=0.5))
    assert [higher.level_of_value(v) for v in (0.9, 0.8, 0.79, 0.5, 0.49)] == [
        "ok",
        "ok",
        "warn",
        "warn",
        "bad",
    ]
    warn_only = Metric(name="z", meaning="m", label="z", better="lower", levels=Levels(warn=1))
    assert warn_only.level_of_value(100) == "warn"
    assert lower.delta_class(0.1, 0.2) == "worse" and higher.delta_class(0.1, 0.2) == "better"
    neither = Metric(name="w", meaning="m", label="w")
    assert neither.delta_class(1, 2) == "" and neither.level_of_value(5) == ""


def test_compare_colours_each_metric_by_its_direction() -> None:
    """More distinct trigrams is better (green); more template reuse is worse (red); more songs is neither."""
    templated = {f"t{i}": template_song(i) for i in range(6)} | {"loop": "the piano plays a soft melody " * 8}
    a_report = build_report(DIFFERENT, settings=SETTINGS)
    b_report = build_report(templated, settings=SETTINGS)
    c = compare_reports(a_report, DIFFERENT, b_report, templated)
    table = render_html(a_report, comparison=c).split("Experiments side by side")[1]

    def delta_class(metric: str) -> str:
        cell = table.split(f"<td>{metric}</td>")[1].split("</tr>")[0]
        found = re.search(r'<span class="(\w*)">', cell)
        assert found, cell
        return found.group(1)

    assert b_report.template_reuse > a_report.template_reuse and delta_class("template_reuse") == "pos"
    assert b_report.distinct_3 < a_report.distinct_3 and delta_class("distinct_3") == "pos"
    assert delta_class("songs") == ""
    reverse = render_html(b_report, comparison=compare_reports(b_report, templated, a_report, DIFFERENT))
    cell = reverse.split("<td>distinct_3</td>")[1].split("</tr>")[0]
    assert '<span class="neg">' in cell  # B (varied) has more distinct trigrams: better, green
