"""The sidecar field table (songset.sidecar_fields) is the one home of each field's rules.

Why: `songset edit` help, the report's coverage, export's dataset.json keys and the sidecar build each
used to keep their own list of field names; a field added to one and forgotten in another reached
ACE-Step (or a person) half-described. These tests add a field to the table alone and look for it in
every consumer, and keep the table and the sidecar schema naming the same fields.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import create_model
from test_export import ACESTEP_SAMPLE_FIELDS
from test_report import SETTINGS, sidecar, template_song

from songset.edit import EDITABLE, HELP, current_values, edit_help, render_template
from songset.export import acestep_sample
from songset.report.build import build_report
from songset.report.contract import report_models
from songset.report.html import render_html
from songset.report.markdown import render_markdown
from songset.report.metrics import METRICS, coverage_metrics, has_value
from songset.schemas import INSTRUMENTAL_LYRICS, Override, Sidecar, SidecarSource, Tags
from songset.sidecar_fields import SIDECAR_FIELDS, SidecarField

# Sidecar values computed from others, not decided from sources: `language` is `vocal_language` as
# ACE-Step's folder scan reads it (none for an instrumental), `duration` is measured from the audio.
COMPUTED = {"language", "duration"}

MOOD = SidecarField(
    name="mood",
    help="one word for the feel, e.g. melancholic",
    sources=("override", "annotation"),
    override="mood",
    coverage="mood_coverage",
    not_counted=("neutral",),
    acestep="mood",
)
WIDER = {**SIDECAR_FIELDS, "mood": MOOD}


def test_every_sidecar_value_is_a_row_and_every_row_a_sidecar_value() -> None:
    values = set(Sidecar.model_fields) - {"source"}
    rows = set(SIDECAR_FIELDS)
    assert values - rows == COMPUTED, "a Sidecar value without a row in SIDECAR_FIELDS"
    for name in rows - values:  # recorded in `source` (vocal_presence), not a value ACE-Step reads
        assert name in SidecarSource.model_fields, f"row {name!r} names no Sidecar or SidecarSource field"
    assert all(name == row.name for name, row in SIDECAR_FIELDS.items())


def test_columns_name_real_override_keys_report_keys_and_acestep_keys() -> None:
    for row in SIDECAR_FIELDS.values():
        assert row.override is None or row.override in Override.model_fields, row.name
        assert ("override" in row.sources) <= (row.override is not None), f"{row.name}: override source"
        assert row.acestep is None or row.acestep in ACESTEP_SAMPLE_FIELDS, row.name
    coverage = [row.coverage for row in SIDECAR_FIELDS.values() if row.coverage]
    assert len(set(coverage)) == len(coverage)
    assert set(coverage) <= set(report_models().report.model_fields)
    # every override key is either a sidecar field a person decides or described by the Override schema
    assert set(EDITABLE) == set(Override.model_fields)
    assert HELP["notes"] == Override.model_fields["notes"].description


def test_coverage_metrics_are_the_tables_rows_in_order() -> None:
    shown = [m.name for m in METRICS if m.coverage_bar]
    assert shown == [row.coverage for row in SIDECAR_FIELDS.values() if row.coverage]
    lyrics, language = SIDECAR_FIELDS["lyrics"], SIDECAR_FIELDS["vocal_language"]
    assert not has_value(lyrics, {"lyrics": f" {INSTRUMENTAL_LYRICS}\n"})  # an instrumental is no lyrics
    assert not has_value(lyrics, {"lyrics": "  "}) and has_value(lyrics, {"lyrics": "[Verse]\nla"})
    assert not has_value(language, {"vocal_language": "unknown"}) and not has_value(language, {})
    assert has_value(SIDECAR_FIELDS["bpm"], {"bpm": 120}) and not has_value(
        SIDECAR_FIELDS["bpm"], {"bpm": None}
    )


def test_a_field_added_to_the_table_reaches_edit_report_and_export() -> None:
    """One row (plus the value's type in the schema models) is all a new field needs."""
    wider_override = create_model("WiderOverride", __base__=Override, mood=(str | None, None))
    wider_sidecar = create_model("WiderSidecar", __base__=Sidecar, mood=(str | None, None))

    # songset edit: the key, its help from the row, pre-filled from the sidecar
    help_lines = edit_help(WIDER, wider_override)
    assert help_lines["mood"] == MOOD.help and list(help_lines)[-1] == "notes"
    song = wider_sidecar(
        caption="slow piano",
        duration=30.0,
        mood="melancholic",
        source=SidecarSource(
            audio_file="a.wav", audio_sha256="0" * 64, rich_details="", caption_tokens=3, provenance={}
        ),
    )
    values = {name: getattr(song, name, None) for name in help_lines if name != "notes"} | {"notes": None}
    text = render_template("a", values, set(), [], help_lines)
    assert f"#   mood: {MOOD.help}\n" in text and "# mood (estimate)\nmood: melancholic\n" in text

    # report: a coverage share in quality.json, a row of the markdown's sidecar table
    metrics = tuple(m for m in METRICS if not m.coverage_bar) + coverage_metrics(WIDER)
    sidecars: dict[str, dict[str, Any]] = {
        "a": sidecar() | {"mood": "melancholic"},
        "b": sidecar() | {"mood": "neutral"},  # a not_counted value
        "c": sidecar(),
        "d": sidecar() | {"mood": "bright"},
    }
    report = build_report(
        {k: template_song(i) for i, k in enumerate(sidecars)},
        settings=SETTINGS,
        sidecars=sidecars,
        metrics=metrics,
    )
    assert report.model_dump()["mood_coverage"] == 0.5
    assert "| mood | 0.5 |" in render_markdown(report)
    assert '">mood</text>' in render_html(report)  # its coverage bar's label

    # export: dataset.json carries it under the row's ACE-Step key
    assert acestep_sample("a", song, "a.wav", "a.wav", WIDER)["mood"] == "melancholic"
    assert "mood" not in acestep_sample("a", song, "a.wav", "a.wav")  # the real table has no such row


@pytest.mark.parametrize(
    ("lyrics", "language", "sung"),
    [
        (
            "[Verse]\nla la",
            "en",
            {"lyrics": "[Verse]\nla la", "raw_lyrics": "[Verse]\nla la", "language": "en"},
        ),
        (INSTRUMENTAL_LYRICS, "unknown", {"lyrics": INSTRUMENTAL_LYRICS, "language": "unknown"}),
        (None, None, {}),
    ],
)
def test_vocal_fields_are_stated_by_the_rows_instrumental_rule(
    lyrics: str | None, language: str | None, sung: dict[str, Any]
) -> None:
    """Sung: the song's own values; instrumental: the rows' `instrumental` values; unknown: nothing."""
    song = Sidecar(
        caption="slow piano",
        lyrics=lyrics,
        bpm=90,
        language=None if lyrics == INSTRUMENTAL_LYRICS else language,
        vocal_language=language,
        duration=30.4,
        source=SidecarSource(
            audio_file="a.wav",
            audio_sha256="0" * 64,
            rich_details="",
            caption_tokens=3,
            provenance={},
            tags=Tags(genre=["jazz"]),
        ),
    )
    sample = acestep_sample("a", song, "x/a.wav", "a.wav")
    expected = {"id": "a", "audio_path": "x/a.wav", "filename": "a.wav", "caption": "slow piano", "bpm": 90}
    expected |= {"genre": "jazz", "duration": 30, "labeled": True} | sung
    if sung:
        expected["is_instrumental"] = lyrics == INSTRUMENTAL_LYRICS
    assert sample == expected


def test_edit_prefills_what_the_sidecar_says_for_each_override_key() -> None:
    song = Sidecar(
        caption="slow piano",
        lyrics=INSTRUMENTAL_LYRICS,
        bpm=90,
        vocal_language="unknown",
        duration=30.0,
        artist="Me",
        source=SidecarSource(
            audio_file="a.wav", audio_sha256="0" * 64, rich_details="", caption_tokens=3, provenance={}
        ),
    )
    values, decided = current_values(song, Override(notes="kept"))
    assert values == {
        "caption": "slow piano",
        "lyrics": INSTRUMENTAL_LYRICS,
        "bpm": 90,
        "keyscale": None,
        "timesignature": None,
        "language": None,  # an instrumental states no sung language
        "artist": "Me",
        "notes": "kept",
    }
    assert decided == {"notes"}
