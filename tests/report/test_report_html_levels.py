"""The HTML page's colours come from each metric's registry levels, read in its direction."""

from __future__ import annotations

import re

from test_report import SETTINGS, sidecar, template_song

from songset.report.build import build_report
from songset.report.charts import hbar_chart
from songset.report.html import render_html
from songset.report.metrics import METRICS


def _card_level(html: str, label: str) -> str:
    found = re.search(
        rf'<div class="card (\w*)"><div class="v">[^<]*</div><div class="k">{re.escape(label)}</div>', html
    )
    assert found, label
    return found.group(1)


def test_cards_take_their_level_from_the_registry() -> None:
    templated = {f"t{i}": template_song(i) for i in range(8)}
    report = build_report(templated, settings=SETTINGS)
    html = render_html(report)
    reuse = next(m for m in METRICS if m.name == "template_reuse")
    assert report.template_reuse >= (reuse.levels.bad if reuse.levels and reuse.levels.bad else 1)
    assert _card_level(html, reuse.card_for(report)) == "bad"
    assert _card_level(html, "songs") == ""  # no levels: no colour
    assert "captions over token budget" not in html  # a sidecar metric without sidecars is not shown
    with_sidecars = render_html(
        build_report(templated, settings=SETTINGS, sidecars={"t0": sidecar(flags=["over_240s"])})
    )
    assert _card_level(with_sidecars, "songs over 240 s") == "warn"
    assert _card_level(with_sidecars, "captions over token budget") == "ok"


def test_coverage_bars_are_coloured_by_level() -> None:
    svg = hbar_chart(
        [("bpm", 0.9, "ok"), ("key", 0.6, "warn"), ("lyrics", 0.2, "bad"), ("language", None, "")]
    )
    fills = re.findall(r'fill="(#[0-9a-f]{6})"/>', svg)
    assert [f for f in fills if f != "#eef1f6"] == ["#2e8540", "#c77c02", "#c0392b"]
    assert "not measured" in svg


def test_coverage_levels_on_a_report() -> None:
    sidecars = {"a": sidecar(bpm=120), "b": sidecar(bpm=None), "c": sidecar(bpm=None)}
    report = build_report(
        {k: template_song(i) for i, k in enumerate(sidecars)}, settings=SETTINGS, sidecars=sidecars
    )
    bpm = next(m for m in METRICS if m.name == "bpm_coverage")
    assert report.bpm_coverage == round(1 / 3, 4) and bpm.level(report) == "bad"
    key = next(m for m in METRICS if m.name == "key_coverage")
    assert report.key_coverage == 1.0 and key.level(report) == "ok"
