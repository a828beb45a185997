"""The report's lyrics figures: coverage by source, vocal/instrumental counts, guard and declared flags."""

from __future__ import annotations

from conftest import clean_annotation, song_metadata
from test_sidecar_rules import sidecar_for

from songset.lyrics.coverage import lyrics_coverage
from songset.report import ReportSettings, build_report, render_html, render_markdown
from songset.sidecars import sidecar_json


def _sidecars() -> dict[str, dict]:
    vocal = clean_annotation(vocal_presence="vocal", vocal_language="en")
    return {
        "lrc": sidecar_json(
            sidecar_for(
                clean=vocal,
                lyrics=b"[00:13.00]Down by the river where the fishing boats wait\n",
                lyrics_file="a.lrc",
            )
        ),
        "human": sidecar_for(clean=vocal, override="lyrics: Sung by a person here\nlanguage: fr\n"),
        "bare": sidecar_for(clean=vocal),
        "inst": sidecar_for(),
        "tagged": sidecar_for(
            meta=song_metadata(bpm=120.0, keyscale="A minor"),
            declared={"bpm": {"value": 90, "tag": "TBPM"}, "keyscale": {"value": "A minor", "tag": "TKEY"}},
        ),
    }


def test_counts_by_source_and_flags() -> None:
    sidecars = {k: v if isinstance(v, dict) else sidecar_json(v) for k, v in _sidecars().items()}
    coverage = lyrics_coverage(sidecars)
    assert (coverage.songs, coverage.vocal, coverage.instrumental, coverage.unknown) == (5, 3, 2, 0)
    assert coverage.lyrics_by_source == {"lrc": 1, "override": 1}
    assert coverage.lyrics_share_of_vocal == round(2 / 3, 4)
    assert coverage.language_by_source == {"annotation": 1, "lyrics_text": 1, "override": 1}
    assert coverage.vocal_without_lyrics == ["bare"]
    assert coverage.declared_disagreements == {"tagged": ["declared_bpm_disagrees"]}
    assert coverage.invented_lyrics_suspected == [] and coverage.low_confidence_lyrics == []


def test_report_carries_the_lyrics_section() -> None:
    sidecars = {k: v if isinstance(v, dict) else sidecar_json(v) for k, v in _sidecars().items()}
    texts = {k: "A calm piece with soft piano and warm strings." for k in sidecars}
    report = build_report(texts, settings=ReportSettings(), sidecars=sidecars)
    assert report.lyrics is not None and report.lyrics.vocal_without_lyrics == ["bare"]
    markdown = render_markdown(report)
    assert "## Lyrics and language" in markdown and "lrc 1, override 1" in markdown
    assert "<h2>Lyrics and language</h2>" in render_html(report, texts)
    assert build_report(texts, settings=ReportSettings()).lyrics is None
