"""Lyrics text as files hold it: bytes decoded with the encoding named in a warning, lines normalised.

One home for both, so a `.txt`, an `.lrc` and an embedded tag are read and cleaned the same way.
"""

from __future__ import annotations

import re

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def decode_text(data: bytes, source: str) -> tuple[str, list[str]]:
    """Text and warnings: UTF-8 (or a UTF-16/UTF-8 byte-order mark); else cp1252 or latin-1, said so.

    Raises ValueError (naming `source`) for binary data (NUL bytes), such as an audio file saved under a
    lyrics name or UTF-16 without its byte-order mark.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), []
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{source}: starts with a {encoding} byte-order mark but is not {encoding} ({exc.reason})"
                ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _cp1252(data, source)
    if "\x00" in text:
        raise ValueError(f"{source}: binary data (or UTF-16 without a byte-order mark), not text; ignored")
    return text, []


_BLANK_RUN = re.compile(r"\n{3,}")


def normalise_lines(text: str) -> str:
    """Unix line breaks, no trailing spaces, at most one blank line in a row, no blank edges."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip("\n").strip()


def _cp1252(data: bytes, source: str) -> tuple[str, list[str]]:
    """Windows' Western encoding, what most non-UTF-8 lyrics files are written in; latin-1 (which reads
    any byte) for the five bytes cp1252 leaves undefined. Either way a warning names the encoding."""
    try:
        text, encoding = data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    if "\x00" in text:
        raise ValueError(f"{source}: binary data, not text; ignored")
    return text, [f"{source}: not UTF-8, decoded as {encoding}"]
