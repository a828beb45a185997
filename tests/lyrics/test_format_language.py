"""ACE-Step lyrics format (section tags from timed sections) and the sung language."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from songset.lyrics.format import SECTION_TAGS, format_timed, format_untimed
from songset.lyrics.language import decide_language, detect_language
from songset.schemas import Section, TimedLine

ACESTEP_REPO = Path("/work/.mirror/ace-step+ACE-Step-1.5/repo")
ACESTEP_COMMIT = "f30aee4c186c33b7b8a6ea59a4b7fc36f795b49f"


def _sections() -> list[Section]:
    return [
        Section(start=0, end=10, label="intro"),
        Section(start=10, end=30, label="verse"),
        Section(start=30, end=45, label="chorus"),
        Section(start=45, end=60, label="verse"),
        Section(start=60, end=70, label="part a"),
    ]


def _lines(*items: tuple[float, str]) -> list[TimedLine]:
    return [TimedLine(start=s, text=t) for s, t in items]


def test_tags_placed_from_timed_sections() -> None:
    lines = _lines(
        (12, "first verse line"),
        (20, "second verse line"),
        (31, "chorus line"),
        (46, "again a verse"),
        (62, "untagged part"),
    )
    assert format_timed(lines, _sections()) == (
        "[Verse]\nfirst verse line\nsecond verse line\n\n[Chorus]\nchorus line\n\n[Verse]\nagain a verse\n\nuntagged part"
    )


def test_without_sections_lrc_breaks_become_paragraphs() -> None:
    lines = _lines((1, "one"), (2, ""), (3, "two"), (4, "three"))
    assert format_timed(lines, []) == "one\n\ntwo\nthree"
    assert format_timed(_lines((1, ""), (2, "  ")), _sections()) is None


def test_untimed_lyrics_kept_as_written() -> None:
    assert format_untimed("My own [Hook]\r\nwords  \n\n\n\nmore\n") == "My own [Hook]\nwords\n\nmore"
    assert format_untimed(" \n ") is None


def test_every_tag_is_one_acestep_documents() -> None:
    """The tags placed are in ACE-Step's own structure-tag table (docs/en/Tutorial.md at f30aee4)."""
    if not (ACESTEP_REPO / "HEAD").is_file():
        pytest.skip("ACE-Step mirror not present")
    doc = subprocess.run(
        ["git", "--git-dir", str(ACESTEP_REPO), "show", f"{ACESTEP_COMMIT}:docs/en/Tutorial.md"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for tag in set(SECTION_TAGS.values()):
        assert f"`{tag}`" in doc, tag


def test_language_from_text() -> None:
    assert (
        detect_language("[Verse]\nDown by the river where the fishing boats wait for the morning light")[0]
        == "en"
    )
    assert detect_language("[Chorus]\nla la") == (None, 0.0)
    decision = decide_language(
        "Je marche le long de la rivière où les bateaux attendent la lumière du matin", 0.5
    )
    assert (decision.language, decision.source) == ("fr", "lyrics_text")


def test_language_cross_checked_with_transcriber() -> None:
    text = "Down by the river where the fishing boats wait for the morning light"
    text_alone = decide_language(text, 0.5)
    agree = decide_language(text, 0.5, "en", 0.99)
    assert (agree.language, agree.source) == ("en", "lyrics_text+transcriber")
    assert agree.confidence == max(text_alone.confidence, 0.99)
    disagree = decide_language(text, 0.5, "de", 0.9)
    assert disagree.language == "en" and "transcriber heard de" in disagree.warnings[0]
    only_heard = decide_language(None, 0.5, "ja", 0.8)
    assert (only_heard.language, only_heard.source) == ("ja", "transcriber")
    unsure = decide_language(None, 0.5, "ja", 0.3)
    assert unsure.language is None and "below 0.50" in unsure.reason


def test_language_outside_acestep_list_is_not_kept() -> None:
    decision = decide_language(
        "Hodil sem po reki, kjer čolni čakajo na jutranjo svetlobo in ribiči pojejo", 0.3
    )
    assert decision.language is None and "not an ACE-Step language" in decision.reason
