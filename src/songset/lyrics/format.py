"""Lyrics in ACE-Step 1.5's format: section tags on their own lines (`[Verse]`, `[Chorus]`, ...), one sung
line per line, one blank line between sections.

The tag vocabulary is ACE-Step's own (docs/en/Tutorial.md, "Common Structure Tags", ACE-Step-1.5 commit
f30aee4c); section labels come from `songset.vocab.SECTION_LABELS` as the cleaner writes them. Tags are
placed only where the lyrics are timed; untimed lyrics are kept as written.
"""

from __future__ import annotations

from songset.lyrics.text import normalise_lines
from songset.schemas import Section, TimedLine

# the cleaner's section label -> ACE-Step's structure tag; labels without one ("part a", "unnamed") add
# only a paragraph break
SECTION_TAGS: dict[str, str] = {
    "intro": "[Intro]",
    "verse": "[Verse]",
    "pre-chorus": "[Pre-Chorus]",
    "chorus": "[Chorus]",
    "post-chorus": "[Chorus]",
    "hook": "[Chorus]",
    "bridge": "[Bridge]",
    "solo": "[Instrumental]",
    "interlude": "[Instrumental]",
    "breakdown": "[Breakdown]",
    "build": "[Build]",
    "drop": "[Drop]",
    "outro": "[Outro]",
}


def section_tag(label: str) -> str | None:
    return SECTION_TAGS.get(label.strip().lower())


def _section_index(start: float, sections: list[Section]) -> int | None:
    """The section a line starting at `start` is sung in: the last one starting at or before it."""
    index = None
    for i, section in enumerate(sections):
        if section.start <= start + 1e-6:
            index = i
    return index


def format_timed(lines: list[TimedLine], sections: list[Section]) -> str | None:
    """Timed lines as ACE-Step lyrics, each section's lines under its tag; None when no line has words.

    A line belongs to the section it starts in; a new section starts a new paragraph (with its tag when
    the label has one), so two verses in a row are two `[Verse]` blocks. Without sections the lines are
    kept in time order, and a stamped empty line (an LRC break) is a paragraph break.
    """
    ordered = sorted(sections, key=lambda s: s.start)
    out: list[str] = []
    current: int | None = -1
    pending_break = False
    for line in sorted(lines, key=lambda ln: ln.start):
        if not line.text.strip():
            pending_break = bool(out)
            continue
        index = _section_index(line.start, ordered) if ordered else None
        if ordered and index != current:
            current = index
            if out:
                out.append("")
            tag = section_tag(ordered[index].label) if index is not None else None
            if tag:
                out.append(tag)
        elif pending_break:
            out.append("")
        pending_break = False
        out.append(line.text.strip())
    text = normalise_lines("\n".join(out))
    return text or None


def format_untimed(text: str) -> str | None:
    """Untimed lyrics kept as written: only line breaks and blank lines are normalised."""
    return normalise_lines(text) or None
