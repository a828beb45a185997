"""LRC synced lyrics and lyrics text decoding: good files, broken ones and odd encodings."""

from __future__ import annotations

import pytest

from songset.lyrics.lrc import parse_lrc
from songset.lyrics.text import decode_text, normalise_lines

GOOD = """[ar:Karissa Hobbs]
[ti:Let's Go Fishin']
[offset:+500]
[00:10.50]Down by the river
[00:14.00][01:14.00]We go fishing, we go fishing
[00:20.00]
[00:21.25]<00:21.25>Every <00:21.80>morning <00:22.40>light
"""


def test_good_lrc_lines_metadata_offset_and_words() -> None:
    lrc = parse_lrc(GOOD, "song.lrc")
    assert lrc.metadata == {"ar": "Karissa Hobbs", "ti": "Let's Go Fishin'"}
    assert lrc.offset_s == 0.5
    assert [(line.start, line.text) for line in lrc.lines] == [
        (10.0, "Down by the river"),
        (13.5, "We go fishing, we go fishing"),
        (19.5, ""),
        (20.75, "Every morning light"),
        (73.5, "We go fishing, we go fishing"),
    ]
    assert [(w.start, w.text) for w in lrc.lines[3].words] == [
        (20.75, "Every"),
        (21.3, "morning"),
        (21.9, "light"),
    ]
    assert lrc.warnings == []


def test_negative_offset_and_hours_free_minutes() -> None:
    lrc = parse_lrc("[offset:-250]\n[2:05.5]Late line", "x.lrc")
    assert lrc.lines[0].start == 125.75


def test_unstamped_lines_and_bad_offset_are_warnings() -> None:
    lrc = parse_lrc("[offset:soon]\n[00:01.00]One\nloose words\n", "x.lrc")
    assert [line.text for line in lrc.lines] == ["One"]
    assert lrc.warnings == [
        "x.lrc: line 1: offset 'soon' is not whole milliseconds; ignored",
        "x.lrc: line 3 has no time stamp; left out",
    ]


@pytest.mark.parametrize("text", ["just words\nno stamps", "[ar:Only metadata]", "", "[99:99.99]bad clock"])
def test_broken_lrc_names_the_file(text: str) -> None:
    with pytest.raises(ValueError, match=r"broken\.lrc"):
        parse_lrc(text, "broken.lrc")


def test_utf16_and_cp1252_are_decoded() -> None:
    text = "[00:01.00]Café crème\n"
    assert decode_text(text.encode("utf-16"), "a.lrc") == (text, [])
    assert decode_text(b"\xef\xbb\xbf" + text.encode(), "a.lrc") == (text, [])
    decoded, warnings = decode_text(text.encode("cp1252"), "a.lrc")
    assert decoded == text and warnings == ["a.lrc: not UTF-8, decoded as cp1252"]


def test_binary_is_not_lyrics() -> None:
    with pytest.raises(ValueError, match=r"a\.txt"):
        decode_text(b"\x00\x01\x02\x81\x8d", "a.txt")
    with pytest.raises(ValueError, match=r"a\.txt"):
        decode_text("no bom".encode("utf-16-le"), "a.txt")


def test_normalise_lines() -> None:
    assert (
        normalise_lines("\r\n  \nOne  \r\nTwo\r\n\r\n\r\n\n[Chorus]\rThree\n\n")
        == "One\nTwo\n\n[Chorus]\nThree"
    )
