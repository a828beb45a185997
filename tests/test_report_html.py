"""The HTML report: self-contained, escaped, and showing what the JSON says."""

from __future__ import annotations

import re
from pathlib import Path

from test_report import DIFFERENT, LONG_TEXT, SETTINGS, sidecar, template_song

from songset.report import ReportSettings, build_report, compare_reports
from songset.report.format import fmt as _fmt
from songset.report.html import mark_phrases, render_html

EVIL = "<script>alert(1)</script>"


def page(**kwargs) -> tuple[str, object]:
    texts = dict(DIFFERENT) | {f"t{i}": template_song(i) for i in range(6)}
    texts = {k: f"{v} {EVIL}" if k.startswith("t") else v for k, v in texts.items()}
    texts["x"], texts["y"] = LONG_TEXT, LONG_TEXT.replace("lonely", "lovely")
    sidecars = {
        "t0": sidecar(flags=["caption_over_budget"], tokens=300),
        "t1": sidecar(flags=["over_240s"], duration=300.0),
    }
    failures = [{"id": "bad", "file": "data/audio/<b>bad</b>.ogg", "stage": "estimate", "reason": "no audio"}]
    report = build_report(texts, settings=SETTINGS, sidecars=sidecars, failures=failures, **kwargs)
    return render_html(report, texts), report


def test_page_is_self_contained() -> None:
    html, _ = page()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert "@import" not in html and "url(" not in html
    assert "<svg" in html and "<style>" in html


def test_page_shows_the_headline_numbers() -> None:
    html, report = page()
    for label, value in (
        ("songs", report.songs),
        ("exact duplicate songs", report.exact_duplicate_songs),
        ("near-duplicate pairs", len(report.near_duplicate_pairs)),
    ):
        assert f'<div class="v">{value}</div><div class="k">{label}</div>' in html
    assert report.template_reuse > 0.1  # English glue (under two content words) is not template
    assert f'<div class="v">{_fmt(report.template_reuse)}</div><div class="k">template reuse' in html
    for heading in ("Distributions", "Worst songs", "Reused phrases in context", "Failures", "Sidecars"):
        assert heading in html
    assert "bpm confidence (sidecars)" in html and "sidecar coverage" in html
    assert "captions over the token budget" in html and "songs over 240 s" in html


def test_untrusted_text_is_escaped() -> None:
    html, _ = page()
    assert EVIL not in html
    unmarked = html.replace("<mark>", "").replace("</mark>", "")  # its words are template phrasing here
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in unmarked  # in the worst songs, shown in context
    assert "<b>bad</b>" not in html and "&lt;b&gt;bad&lt;/b&gt;" in html


def test_mark_phrases_marks_reused_words_and_escapes_the_rest() -> None:
    text = "[0:00-0:10] The piano enters at 0:15, adding warm texture. Then <i>drums</i> & bass.\n"
    out = mark_phrases(text, ["piano enters at adding", "texture then drums"])
    assert "<mark>piano enters at 0:15, adding</mark>" in out  # times inside a phrase are not words
    assert "texture.</mark>" not in out  # never across a sentence boundary
    assert "&lt;i&gt;drums&lt;/i&gt; &amp; bass." in out
    assert mark_phrases("a <b> c", []) == "a &lt;b&gt; c"


def test_page_without_reuse_says_so() -> None:
    report = build_report(dict(DIFFERENT), settings=ReportSettings())
    html = render_html(report, dict(DIFFERENT))
    assert "no song shares template phrases" in html
    assert "<mark>" not in html


def test_page_with_comparison_puts_texts_side_by_side() -> None:
    a_texts = {f"s{i}": template_song(i) for i in range(5)}
    b_texts = {f"s{i}": t for i, t in enumerate(sorted(DIFFERENT.values())[:4])} | {"s4": EVIL}
    a = build_report(a_texts, settings=SETTINGS)
    b = build_report(b_texts, settings=SETTINGS)
    c = compare_reports(a, a_texts, b, b_texts, label_a="exp-a", label_b="exp-<b>")
    html = render_html(a, a_texts, comparison=c)
    assert "Experiments side by side" in html and "exp-a" in html and "exp-&lt;b&gt;" in html
    assert html.count("class='pair'") == 5
    assert EVIL not in html
    assert '<span class="neg">' in html  # reuse fell from A to B


def test_cli_report_with_compare(tmp_path: Path) -> None:
    import json

    from songset.cli import main

    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    a.mkdir()
    b.mkdir()
    for i in range(4):
        (a / f"s{i}.json").write_text(json.dumps({"id": f"s{i}", "text": template_song(i)}))
        (b / f"s{i}.json").write_text(json.dumps({"id": f"s{i}", "text": sorted(DIFFERENT.values())[i]}))
    assert main(["report", str(a), "-o", str(out), "--compare", str(b)]) == 0
    html = (out / "quality.html").read_text()
    assert "Experiments side by side" in html
    data = json.loads((out / "quality.json").read_text())
    assert data["songs"] == 4 and {p["id"] for p in data["per_song"]} == {"s0", "s1", "s2", "s3"}
