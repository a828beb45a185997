"""Text normalisation shared by every measure: words, sentences, skeletons and timestamped segments."""

from __future__ import annotations

import re
from collections.abc import Sequence

# ---- text normalisation ------------------------------------------------------------------------------------

_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
_RANGE = rf"{_TIME}(?:\s*(?:-|–|—|to)\s*{_TIME})?"
_SECONDS_RANGE = r"\d+(?:\.\d+)?\s*s?\s*(?:-|–|—)\s*\d+(?:\.\d+)?\s*s?"
# A segment marker opens a timestamped segment: a square-bracketed time or range anywhere, or a time or
# range (bare or in parentheses, optionally bold or bulleted) at the start of a line.
_MARKER_RE = re.compile(
    rf"\[\s*(?:{_RANGE}|{_SECONDS_RANGE})\s*\]"
    rf"|^[ \t]*(?:[-*•#>]+[ \t]*)?(?:\*\*)?(?:\(\s*{_RANGE}\s*\)|{_RANGE})(?:\*\*)?[ \t]*[:\-–—]?",
    re.MULTILINE,
)
# An inline time: "enters at 0:15", "(1:02)", "from 0:30-0:45".
# Percentages of the song ("0-18%") and seconds with units ("at 45 seconds", "the 30-second mark") are
# times too: never words of a phrase, a segment or a near duplicate.
_PERCENT_RANGE = r"\d{1,3}(?:\.\d+)?\s*%?\s*(?:-|‑|–|—|to)\s*\d{1,3}(?:\.\d+)?\s*%"
_SECONDS_TEXT = r"\b\d+(?:\.\d+)?(?:\s*|-)(?:seconds?|secs?)\b(?:\s+mark\b)?"
_INLINE_TIME_RE = re.compile(  # the lookahead fails fast where no time can start (most positions)
    rf"(?=[(\d])(?:\(\s*(?:{_RANGE}|{_PERCENT_RANGE})\s*\)|{_RANGE}|{_PERCENT_RANGE}|{_SECONDS_TEXT})",
    re.IGNORECASE,
)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_SKELETON_TOKEN_RE = re.compile(r"NUMTIME|[^\W_]+(?:['’\-][^\W_]+)*|,")
_NUMBER_RE = re.compile(r"^\d+(?:[.,]\d+)*(?:s|st|nd|rd|th|bpm|hz|khz|db|ms|%)?$")
_TIME_PLACEHOLDER = " NUMTIME "

# A fixed English function-word list: what stays visible in a skeleton. Verbs that carry meaning
# ("enters", "adds") are content words and become X.
_FUNCTION_WORDS_TEXT = """
    a an the this that these those some any each every no all both either neither another such
    i me my mine we us our ours you your yours he him his she her hers it its they them their theirs
    one ones oneself itself themselves himself herself myself ourselves yourself yourselves
    who whom whose which what whatever whichever whoever where when while whilst why how
    and or but nor so yet for if then than because although though unless until till as whether
    once since after before
    of in on at by to from with without within into onto upon over under above below between among
    through throughout across along around about against toward towards behind beyond beneath beside
    besides during near off out up down past per via amid alongside despite inside outside underneath
    is am are was were be been being do does did done doing have has had having
    will would shall should can could may might must ought
    not also just only even still too very quite rather more most less least much many
    few fewer several other others same own again ever never always often here there now
"""
FUNCTION_WORDS: frozenset[str] = frozenset(_FUNCTION_WORDS_TEXT.split())
_NUMBER_WORDS_TEXT = """
    zero two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
    first second third fourth fifth sixth seventh eighth ninth tenth half quarter
"""
NUMBER_WORDS: frozenset[str] = frozenset(_NUMBER_WORDS_TEXT.split())


def strip_markers(text: str) -> str:
    """Segment markers become line breaks: they end a sentence but are not part of it."""
    return _MARKER_RE.sub("\n", text)


def words(text: str) -> list[str]:
    """Lowercased word tokens with every timestamp removed."""
    return _WORD_RE.findall(_INLINE_TIME_RE.sub(" ", strip_markers(text)).lower())


def split_sentences(text: str) -> list[str]:
    """Sentences of the prose, markers removed; inline times kept for the skeletons."""
    parts = _SENTENCE_SPLIT_RE.split(strip_markers(text))
    return [p.strip() for p in parts if _WORD_RE.search(_INLINE_TIME_RE.sub(" ", p))]


def normalise(text: str) -> str:
    """The form exact duplicates are compared in: only the words survive."""
    return " ".join(words(text))


_SKELETON_CLASS: dict[str, str] = {}  # raw token -> skeleton token, a cache (bounded)


def _skeleton_class(raw: str) -> str:
    if raw == "NUMTIME":
        return "NUM"
    low = raw.lower()
    if low == ",":
        return ","
    if _NUMBER_RE.match(low) or low in NUMBER_WORDS:
        return "NUM"
    return low if low in FUNCTION_WORDS else "X"


def skeleton(sentence: str) -> str:
    """Function words kept, numbers and times as NUM, runs of content words as one X."""
    marked = _INLINE_TIME_RE.sub(_TIME_PLACEHOLDER, sentence)
    out: list[str] = []
    for raw in _SKELETON_TOKEN_RE.findall(marked):
        tok = _SKELETON_CLASS.get(raw)
        if tok is None:
            tok = _skeleton_class(raw)
            if len(_SKELETON_CLASS) < 200_000:
                _SKELETON_CLASS[raw] = tok
        if tok == "X" and out and out[-1] == "X":
            continue
        if tok == "," and (not out or out[-1] == ","):
            continue
        out.append(tok)
    while out and out[-1] == ",":
        out.pop()
    return " ".join(out).replace(" ,", ",")


def _skeleton_signal(skel: str) -> int:
    return sum(1 for t in skel.replace(",", " ").split() if t != "X")


def segments(text: str) -> list[list[str]]:
    """Word tokens of each timestamped segment.

    With markers ("[0:00-0:18] ...", a line starting "0:15 -"), a segment runs to the next marker;
    without them, each sentence that mentions a time is one segment.
    """
    matches = list(_MARKER_RE.finditer(text))
    if matches:
        bounds = [m.end() for m in matches]
        ends = [m.start() for m in matches[1:]] + [len(text)]
        return [words(text[b:e]) for b, e in zip(bounds, ends, strict=True)]
    return [words(s) for s in split_sentences(text) if _INLINE_TIME_RE.search(s)]


def ngrams(tokens: Sequence[str], n: int) -> list[str]:
    return [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
