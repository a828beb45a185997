"""Clock times as prose writes them: the one parser and formatter of `m:ss`, `mm:ss.s` and `h:mm:ss`.

The rules cleaner reads stamps with it, the percentage step writes the clock times it puts in place of
"0-18%", and a test can round-trip the two, so a time means one thing everywhere.
"""

from __future__ import annotations

import re

CLOCK_PATTERN = r"(?:(\d{1,2}):)?(\d{1,3}):([0-5]\d(?:\.\d+)?)"
_CLOCK_FULL = re.compile(rf"^\s*{CLOCK_PATTERN}\s*$")


def clock_seconds(hours: str | None, minutes: str, seconds: str) -> float:
    """Seconds from the three groups of `CLOCK_PATTERN` (hours may be absent)."""
    return (int(hours) if hours else 0) * 3600 + int(minutes) * 60 + float(seconds)


def parse_clock(text: str) -> float:
    """'1:05' -> 65.0, '01:02:03.5' -> 3723.5; a ValueError names what was not a clock time."""
    m = _CLOCK_FULL.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a clock time (m:ss, mm:ss.s or h:mm:ss)")
    return clock_seconds(m.group(1), m.group(2), m.group(3))


def format_clock(seconds: float, decimals: int = 0) -> str:
    """65.0 -> '1:05'; 3723.5 with decimals=1 -> '1:02:03.5'. Negative times are an error."""
    if seconds < 0:
        raise ValueError(f"a clock time cannot be negative ({seconds})")
    scale = 10**decimals
    total = round(seconds * scale) / scale
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    width = 2 + (decimals + 1 if decimals else 0)
    sec_text = f"{secs:0{width}.{decimals}f}"
    if hours:
        return f"{int(hours)}:{int(minutes):02d}:{sec_text}"
    return f"{int(minutes)}:{sec_text}"
