"""LRC synced lyrics: `[mm:ss.xx]` line stamps (several per line), `[offset:]`, metadata tags and enhanced
`<mm:ss.xx>` word stamps, read into timed lines so section tags can be placed from the annotation.

Clock times are parsed by `songset.timecode`, the one home of `m:ss.xx`.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from songset.schemas import TimedLine, TimedWord
from songset.timecode import CLOCK_PATTERN, clock_seconds

_STAMP = re.compile(rf"\[{CLOCK_PATTERN}\]")
_LEADING_STAMPS = re.compile(rf"^\s*((?:\[{CLOCK_PATTERN}\]\s*)+)(.*)$")
_WORD_STAMP = re.compile(rf"<{CLOCK_PATTERN}>")
_METADATA = re.compile(r"^\s*\[([A-Za-z#]+)\s*:(.*)\]\s*$")
_OFFSET = re.compile(r"^[+-]?\d+$")


class LrcLyrics(BaseModel):
    """What an LRC file says: timed lines in time order, its metadata tags and what was wrong with it."""

    model_config = ConfigDict(extra="forbid")

    lines: list[TimedLine]
    metadata: dict[str, str] = Field(default_factory=dict)
    offset_s: float = 0.0
    warnings: list[str] = Field(default_factory=list)


def _words(text: str, shift: float) -> tuple[str, list[TimedWord]]:
    """Line text without word stamps, and the stamped words (`<00:12.30>one <00:12.80>two`)."""
    parts = _WORD_STAMP.split(text)
    if len(parts) == 1:
        return " ".join(text.split()), []
    words: list[TimedWord] = []
    plain = [parts[0]]
    # split() with 3 groups per stamp: [before, h, m, s, text, h, m, s, text, ...]
    for i in range(1, len(parts), 4):
        start = max(0.0, clock_seconds(parts[i], parts[i + 1], parts[i + 2]) - shift)
        word = parts[i + 3]
        plain.append(word)
        if word.strip():
            words.append(TimedWord(start=round(start, 3), text=word.strip()))
    return " ".join("".join(plain).split()), words


def parse_lrc(text: str, source: str) -> LrcLyrics:
    """Timed lines of an LRC text; ValueError naming `source` when not one line carries a time stamp.

    `[offset:+500]` moves every line 0.5 s earlier (the LRC convention: positive shows lyrics sooner).
    A line without a stamp in a file that has them is reported and left out.
    """
    metadata: dict[str, str] = {}
    offset_s = 0.0
    warnings: list[str] = []
    stamped: list[tuple[list[tuple[str | None, str, str]], str, int]] = []
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LEADING_STAMPS.match(line)
        if match is not None:
            stamps = [(m.group(1), m.group(2), m.group(3)) for m in _STAMP.finditer(match.group(1))]
            stamped.append((stamps, match.group(5), number))
            continue
        meta = _METADATA.match(line)
        if meta is not None:
            name, value = meta.group(1).lower(), meta.group(2).strip()
            if name == "offset":
                if _OFFSET.match(value):
                    offset_s = int(value) / 1000
                else:
                    warnings.append(
                        f"{source}: line {number}: offset {value!r} is not whole milliseconds; ignored"
                    )
            else:
                metadata[name] = value
            continue
        warnings.append(f"{source}: line {number} has no time stamp; left out")
    if not stamped:
        raise ValueError(f"{source}: no line has an LRC time stamp ([mm:ss.xx]); not read as synced lyrics")
    lines: list[TimedLine] = []
    for stamps, body, _number in stamped:
        plain, words = _words(body, offset_s)
        for hours, minutes, seconds in stamps:
            start = max(0.0, clock_seconds(hours, minutes, seconds) - offset_s)
            lines.append(TimedLine(start=round(start, 3), text=plain, words=words))
    lines.sort(key=lambda line: line.start)
    return LrcLyrics(lines=lines, metadata=metadata, offset_s=offset_s, warnings=warnings)
