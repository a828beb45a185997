"""The offline cleaner: timestamps, labels and keywords read out of prose; no LLM, no network, deterministic.

It fills the same `CleanedContent` an LLM cleaner will, so the pipeline, the report and the tests run
without a GPU or an API key, and so an LLM cleaner has a baseline to beat. The rules, in the order they
apply:

Before reading (`cleaners/prose.py`, one pure step each)
    Unicode normalised; `<think>` reasoning split off (kept in `reasoning`); a lyric sheet, chat reply or
    refusal is flagged and not read (caption "Music."); a text ending mid-sentence is flagged `truncated`;
    percentages of the song become clock times; stamps written after their sentences are moved before
    them; stamps after the song's end flag `timestamp_out_of_range`. After the sections: when the prose
    names more sections without times than with, they are kept in order as `untimed_sections` (flag
    `untimed_structure` when there are no timed ones). Tags are read with quoted text blanked.

Reading the text
    Markdown emphasis, headings and bullets are stripped; each line is split into sentences and each
    sentence into clauses (at ",", ";", ": ", and before "while", "but", "then", "after", "where", ...).
    A sentence starting "Overall" / "In summary" / "In conclusion" (and the rest of its line) is the
    summary: it feeds tags and the caption, never sections or events; it ends with its line. Untimed sentences before the first
    timestamp are the preamble (also tags and caption only). An untimed sentence after a timestamped one
    continues it (its description and events), unless a blank line came between them and the timestamped
    one was more than a short header.

Timestamps
    m:ss, mm:ss, h:mm:ss with optional decimals, and "N seconds" / "N-second mark" after a preposition
    ("at 45 seconds"); bare "Ns" only when it cannot be a decade ("80s synths"). Two stamps joined by
    "-", "–", "—", "to", "until", "through" (or "between .. and ..") are a range; any other stamp is a point.
    A point after "until", "till", "up to" or "ends at" is not a start: it ends the section before it.
    A clause without a stamp belongs to the stamp before it in the sentence, or to the first one after it.

Sections
    One per stamp: a range spans itself; a point runs to the next section's start (the last one to the end
    of the song). Points strictly inside a range, and ranges nested in another range, are not sections:
    their text is added to the enclosing section's description and they still yield events. Partly
    overlapping ranges: the later start wins (the earlier one is cut). Everything is clamped to
    [0, duration]; reversed ranges are swapped; empty ones dropped. The label is the first thing named
    after a leading stamp ("[0:00-0:18] Intro:", "00:30 – 01:05: Verse 1,") or else the section word
    nearest to the stamp (not one after "after", "before", "than", "end of", ...), from
    `vocab.SECTION_LABELS` plus the descriptor's "Part A".."Part H"; numbers are dropped ("verse 2" ->
    "verse"); otherwise "section N" (N = 1-based position in the final list).

Events (types from `schemas.EventType` only)
    Per sentence piece, from `vocab.EVENT_PATTERNS`: build, drop (EDM: "the drop", "the beat drops",
    never "drops back/out/to"), breakdown ("drops back", "thins out", "strips back", "breakdown"), peak,
    fade_in, fade_out, silence, key_change, tempo_change, texture_change. Entries and exits look at the
    verb's subject ("a female vocalist enters", "the drums drop out", "joined by strings"): vocal words ->
    vocal_entry/exit, instruments -> instrument_entry/exit (their names lead the description); a fade
    whose subject is a voice or an instrument is that exit/entry, not a track fade. Sections labelled
    intro, outro, build, drop or breakdown add that event over the section. Span: a range stamp's span;
    for a point, instants (entries, exits, drop, key/tempo/texture change) sit at the point and spans
    (build, peak, fades, ...) run to the end of the section holding the point.
    Intensity: an explicit "intensity 0.7" (or "7/10", "70%") wins; else the loudness words of
    `vocab.LOUDNESS` (very quiet .15, quiet/soft/gentle .3, moderate .5, loud .75, very loud/full/powerful
    .9, loudest 1.0): the highest for build/peak/drop, the lowest for breakdown/fades/silence, the first
    for the rest; none -> 0.5 (silence 0.0).

Tags
    `vocab.find_terms` (whole words, plurals, negation, longest form wins). Genres and moods: summary and
    preamble first, then the rest of the text. Texture and tempo feel: the summary/preamble when it names
    any (so per-section words such as "sparse" then "dense" do not contradict each other), else the whole
    text. Instruments: the whole text, a generic tag dropped beside a specific one ("guitar" beside
    "acoustic guitar").
    The descriptor (provenance backend "descriptor", or text that is only "[m:ss-m:ss] Label:" lines and
    an "Overall:" line) is read for what it measures: texture, tempo feel and mode from its summary line
    only ("dark overall" -> texture "dark"); no genre, mood or instrument, since its "dark" is a spectral
    centroid and its "percussion" percussive energy.
    Mood inference (`infer_moods`, off by default): when the prose names no mood, valence from the mode
    and arousal from loudness words and tempo feel (the usual mode/arousal findings of music-emotion
    research): minor + low arousal -> melancholic, minor + high -> tense, major + low -> calm, major +
    high -> upbeat. Low arousal: every loudness word is quiet or softer and the tempo is not fast, or the
    tempo is slow and nothing is louder than moderate; high mirrors it; mixed dynamics or an unknown or
    mixed mode infer nothing. Off because on the demo songs the descriptor's loudness words (partly
    relative to the song) made a tender acoustic song "upbeat": loudness is not arousal.

Vocals
    "vocal" when a vocal word is not negated (vocals, vocalist, singer, singing, sung, rap, lyrics, choir,
    voice, or a vocal style), or the descriptor says "strong vocal-range activity" in its summary (in a
    section, when there is no summary). That phrase is the descriptor's heuristic (pitch motion in the
    300-3400 Hz band, which a lead violin or trumpet also makes: the demo string-orchestra piece has a
    "strong" section), so "vocal" from it is a guess the report should treat as such; "clear" and "light"
    decide nothing. "instrumental" when the text says instrumental (not "instrumental break/intro/...")
    or negates vocals ("no vocals"), or every descriptor mention is "little vocal-range activity".
    Else "unknown".
    Language: a language name after "in" in a sentence about singing ("sung in English"), or before
    "lyrics/vocals/language" ("Spanish lyrics"); never "French horn" or "Spanish guitar"; mapped by
    `vocab.LANGUAGES` and only kept when the song is not instrumental (a language makes it vocal).

Caption (what ACE-Step is conditioned on; ACE-Step's formula: genre, mood, instruments, then production
and texture)
    Comma-separated: genres (3), moods (3), instruments (6), vocal style or "vocals"/"instrumental",
    tempo feel, mode ("minor key"), texture ("warm, sparse texture"), and the dynamic arc: the summary's
    clause about it with timestamps removed ("builds from a quiet opening to a loud peak"), or one made
    from the events ("soft intro, builds to a climax, fade-out ending"). Parts are added in that order
    while they fit `max_caption_words`; a part that does not fit is skipped. With no part at all, the first
    one or two sentences (timestamps removed) are used, cut to the limit. Sentence case, one final period.
    No timestamps ever reach it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import Field

from songset.backend import BackendIdentity
from songset.cleaners.base import CleanedContent, Cleaner
from songset.cleaners.prose import (
    is_truncated,
    move_trailing_stamps,
    normalise_unicode,
    percent_to_clock,
    split_reasoning,
    sung_language,
    text_kind,
    untimed_sections,
    without_quotes,
)
from songset.schemas import EVENT_TYPES, Event, RawAnnotation, Section, Tags, UntimedSection
from songset.settings import BackendSettings, Configured
from songset.timecode import CLOCK_PATTERN, clock_seconds
from songset.vocab import (
    ENTRY_VERBS,
    EVENT_PATTERNS,
    EXIT_VERBS,
    GENRES,
    INSTRUMENTS,
    LANGUAGES,
    MOODS,
    OBJECT_ENTRY_VERBS,
    PART_LABEL,
    SECTION_LABELS,
    TEMPO_FEELS,
    TEXTURES,
    VOCAL_STYLES,
    VOCAL_WORDS,
    find_term_spans,
    find_terms,
    is_negated,
    loudness_levels,
)

# ---- timestamps --------------------------------------------------------------------------------------------

_CLOCK = re.compile(rf"(?<![\w:.]){CLOCK_PATTERN}(?!\w|:\d)")
_UNIT = r"(?:secs?|seconds?|s)"
_SECONDS = re.compile(rf"(?<![\w.:])(\d{{1,4}}(?:\.\d+)?)(\s*|-){_UNIT}\b(\s+mark)?", re.IGNORECASE)
_SECONDS_RANGE = re.compile(
    rf"(?<![\w.:])(\d{{1,4}}(?:\.\d+)?)\s*{_UNIT}?\s*(?:-|–|—|to|and)\s*(\d{{1,4}}(?:\.\d+)?)\s*{_UNIT}\b",
    re.IGNORECASE,
)
_POINT_CUE = re.compile(
    r"(?:\b(?:at|around|from|to|until|till|by|after|near|between|and|approximately|roughly|circa)\b|[~(\[–—-])"
    r"\s*(?:the\s+)?(?:(?:approximately|roughly|about|around)\s+)?$",
    re.IGNORECASE,
)
_RANGE_CUE = re.compile(r"(?:\b(?:from|between|at|during)\b|[(\[]|^)\s*(?:the\s+)?$", re.IGNORECASE)
_RANGE_JOIN = re.compile(
    r"\s*[\])]?\s*(?:-|–|—|~|to|until|till|through|thru|and)\s*[\[(]?\s*(?:the\s+)?", re.IGNORECASE
)
_UNTIL_CUE = re.compile(
    r"\b(?:until|till|up to|through|end(?:s|ing)? (?:at|by|around)|finish(?:es)? (?:at|by|around))"
    r"\s*(?:the\s+)?(?:(?:about|around|approximately|roughly)\s+)?[(\[]?\s*$",
    re.IGNORECASE,
)
_TIME_TEXT = re.compile(
    r"\s*[(\[]?\s*(?:(?:at|around|from|by|until|till|to|near|between|after|before|approximately|about|roughly"
    r"|in|during|over)\s+){0,2}(?:the\s+)?(?:\d{1,2}:)?\d{1,3}:[0-5]\d(?:\.\d+)?"
    r"(?:\s*(?:-|–|—|to|and|until)\s*(?:\d{1,2}:)?\d{1,3}:[0-5]\d(?:\.\d+)?)?\s*(?:mark\s*)?[)\]]?",
    re.IGNORECASE,
)
_SECONDS_TEXT = re.compile(
    rf"\s*[(\[]?\s*(?:(?:at|around|from|by|until|till|to|near|between|after|approximately|about)\s+){{0,2}}"
    rf"(?:the\s+)?"
    rf"\d{{1,4}}(?:\.\d+)?(?:\s*{_UNIT}?\s*(?:-|–|—|to|and)\s*\d{{1,4}}(?:\.\d+)?)?(?:\s*|-){_UNIT}\b"
    rf"(?:\s+mark)?\s*[)\]]?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Stamp:
    pos: int  # span of the stamp text inside its clause
    endpos: int
    start: float
    end: float | None  # None: a point


def _is_decade(number: str) -> bool:
    """'80s synths', 'the 1990s': a bare 's' after a round number names a decade, not a time."""
    if "." in number:
        return False
    return len(number) == 4 or (10 <= int(number) <= 90 and int(number) % 10 == 0)


def _unit_word(token: str) -> str:
    m = re.search(r"[a-z]+$", token.strip().lower().removesuffix("mark").strip())
    return m.group(0) if m else ""


def _stamps(text: str) -> tuple[list[_Stamp], list[_Stamp]]:
    """(start stamps, until stamps) of one clause, in text order."""
    tokens: list[tuple[int, int, float]] = []
    ranges: list[_Stamp] = []
    for m in _SECONDS_RANGE.finditer(text):
        decades = _is_decade(m.group(1)) and _is_decade(m.group(2))
        if not _RANGE_CUE.search(text[: m.start()]) or (decades and _unit_word(m.group(0)) == "s"):
            continue
        ranges.append(_Stamp(m.start(), m.end(), float(m.group(1)), float(m.group(2))))
    for m in _CLOCK.finditer(text):
        tokens.append((m.start(), m.end(), clock_seconds(m.group(1), m.group(2), m.group(3))))
    for m in _SECONDS.finditer(text):
        if any(r.pos <= m.start() < r.endpos for r in ranges):
            continue
        if _unit_word(m.group(0)) == "s" and _is_decade(m.group(1)):
            continue
        if m.group(3) or _POINT_CUE.search(text[: m.start()]):
            tokens.append((m.start(), m.end(), float(m.group(1))))
    tokens.sort()
    stamps: list[_Stamp] = list(ranges)
    untils: list[_Stamp] = []
    i = 0
    while i < len(tokens):
        pos, end, t = tokens[i]
        if i + 1 < len(tokens):
            npos, nend, nt = tokens[i + 1]
            gap = text[end:npos]
            join = _RANGE_JOIN.fullmatch(gap)
            is_and = join is not None and re.search(r"\band\b", gap, re.IGNORECASE)
            if join and (
                not is_and or re.search(r"\bbetween\s+(?:the\s+)?[(\[]?$", text[:pos], re.IGNORECASE)
            ):
                stamps.append(_Stamp(pos, nend, t, nt))
                i += 2
                continue
        if _UNTIL_CUE.search(text[:pos]):
            untils.append(_Stamp(pos, end, t, None))
        else:
            stamps.append(_Stamp(pos, end, t, None))
        i += 1
    stamps.sort(key=lambda s: s.pos)
    return stamps, untils


def stamps_out_of_range(text: str, duration: float, slack: float = 0.5) -> list[float]:
    """Every stamp time of the prose after the song's end (they get clamped, so the song is flagged)."""
    found: list[float] = []
    for line in text.splitlines():
        for sentence in _sentences(_clean_line(line)):
            for clause in _clauses(sentence):
                stamps, untils = _stamps(clause)
                for st in (*stamps, *untils):
                    found += [t for t in (st.start, st.end) if t is not None and t > duration + slack]
    return found


def strip_timestamps(text: str) -> str:
    """Text without its timestamps and the prepositions that carried them."""
    out = _TIME_TEXT.sub(" ", text)

    def seconds(m: re.Match[str]) -> str:
        stamps, untils = _stamps(m.string[: m.end()])
        is_stamp = any(st.endpos > m.start() for st in (*stamps, *untils))
        return " " if is_stamp else m.group(0)

    out = _SECONDS_TEXT.sub(seconds, out)
    out = re.sub(r"\(\s*\)|\[\s*\]", " ", out)
    out = re.sub(r"\s+([,.;:!?])", r"\1", out)
    out = re.sub(r"([.;:!?])[,;:]+", r"\1", out)
    out = re.sub(r"^[\s,;:]+", "", out)
    return re.sub(r"\s{2,}", " ", out).strip()


# ---- reading the prose -------------------------------------------------------------------------------------

_MARKUP = re.compile(r"\*\*|__|`|~~")
_BULLET = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*•+]\s+|\d{1,2}[.)]\s+)+")
_OVERALL = re.compile(
    r"^\W*(?:overall|in summary|summary|in conclusion|to summari[sz]e|all in all|in short)\b", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[*]?[A-Z0-9])")
_CLAUSE_BREAK = re.compile(
    r"[,;]\s*|:\s+|(?=\b(?:while|whereas|but|then|followed by|before|after|where|"
    r"and (?:the|a|an)\b)\b)",
    re.IGNORECASE,
)


@dataclass
class _Unit:
    """One timestamped piece of prose: the future section and the source of its events."""

    order: int
    start: float
    end: float | None
    text: str
    stamp: tuple[int, int]  # where the timestamp sits in `text`
    extras: list[str] = field(default_factory=list)
    end_hint: float | None = None

    @property
    def pieces(self) -> list[str]:
        return [self.text, *self.extras]

    @property
    def full_text(self) -> str:
        return " ".join(p.strip() for p in self.pieces)

    def is_header(self) -> bool:
        return len(re.findall(r"[A-Za-z]+", strip_timestamps(self.text))) <= 4


@dataclass
class _Doc:
    units: list[_Unit]
    preamble: list[str]
    summary: list[str]


def _clean_line(line: str) -> str:
    return _BULLET.sub("", _MARKUP.sub("", line)).strip()


def _sentences(line: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(line) if s.strip()]


def _clauses(sentence: str) -> list[str]:
    """Contiguous slices of the sentence: joining them gives the sentence back."""
    cuts = [0]
    for m in _CLAUSE_BREAK.finditer(sentence):
        cut = m.end() if m.group(0) else m.start()
        if cut > cuts[-1]:
            cuts.append(cut)
    cuts.append(len(sentence))
    parts = [sentence[a:b] for a, b in itertools.pairwise(cuts)]
    return [p for p in parts if p]


def _split_at_stamps(clause: str, stamps: Sequence[_Stamp]) -> list[tuple[str, _Stamp]]:
    """A clause with several stamps becomes one piece per stamp, cut before each later stamp's preposition."""
    cuts = [0]
    for stamp in stamps[1:]:
        lead = re.search(
            r"(?:\b(?:at|around|from|by|between|after|approximately|about)\s+(?:the\s+)?|[(\[])\s*$",
            clause[cuts[-1] : stamp.pos],
            re.IGNORECASE,
        )
        cuts.append(cuts[-1] + lead.start() if lead else stamp.pos)
    cuts.append(len(clause))
    out = []
    for i, stamp in enumerate(stamps):
        a = cuts[i]
        out.append((clause[a : cuts[i + 1]], _Stamp(stamp.pos - a, stamp.endpos - a, stamp.start, stamp.end)))
    return out


def _read(text: str) -> _Doc:
    units: list[_Unit] = []
    preamble: list[str] = []
    summary: list[str] = []
    current: _Unit | None = None
    mode = "preamble"
    gap = False
    for raw_line in text.splitlines():
        line = _clean_line(raw_line)
        if not line:
            gap = True
            continue
        line_is_summary = bool(_OVERALL.match(line))
        if mode == "summary" and not line_is_summary:
            mode = "units" if current is not None else "preamble"  # a summary ends with its line
        for sentence in _sentences(line):
            if line_is_summary or _OVERALL.match(sentence):
                summary.append(sentence)
                mode = "summary"
                continue
            new: list[_Unit] = []
            pending: list[str] = []
            for clause in _clauses(sentence):
                stamps, untils = _stamps(clause)
                if stamps:
                    for piece, stamp in _split_at_stamps(clause, stamps):
                        unit = _Unit(len(units), stamp.start, stamp.end, piece, (stamp.pos, stamp.endpos))
                        if pending and not new:
                            lead = "".join(pending)
                            unit.text = lead + unit.text
                            unit.stamp = (stamp.pos + len(lead), stamp.endpos + len(lead))
                            pending = []
                        units.append(unit)
                        new.append(unit)
                    if untils and new[-1].end is None and untils[0].start > new[-1].start:
                        new[-1].end_hint = untils[0].start
                elif untils:
                    target = new[-1] if new else current
                    if target is None:
                        pending.append(clause)
                        continue
                    if new:
                        target.text += clause
                    else:
                        target.extras.append(clause.strip())
                    if target.end is None and untils[0].start > target.start:
                        target.end_hint = untils[0].start
                elif new:
                    new[-1].text += clause
                else:
                    pending.append(clause)
            if new:
                current = new[-1]
                mode = "units"
            elif pending:
                rest = "".join(pending).strip()
                if mode == "units" and current is not None and (not gap or current.is_header()):
                    current.extras.append(rest)
                elif mode == "summary":
                    summary.append(rest)
                else:
                    preamble.append(rest)
        gap = False
    return _Doc(units, preamble, summary)


# ---- sections ----------------------------------------------------------------------------------------------

_LABEL_EXCLUDED_AFTER = re.compile(
    r"(?:\b(?:after|than|following|previous|earlier|end of|like|unlike|similar to|"
    r"instead of|rather than|back from|out of)\s+(?:the\s+|a\s+|an\s+)?(?:[\w-]+\s+)?)$",
    re.IGNORECASE,
)
_DROP_NOT_LABEL = re.compile(r"\s+(?:in|of|to|back|out|off|away|down)\b", re.IGNORECASE)
_HEADER = re.compile(r"([^:.,;–—()\[\]]{1,40}?)\s*(?:[:.,;–—(]|\s-\s|$)")


def _label_candidates(text: str) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    for m in PART_LABEL.finditer(text):
        found.append((f"part {m.group(1).lower()}", m.start(), m.end()))
    for label, a, b in find_term_spans(text, SECTION_LABELS, plurals=False):
        if label == "drop" and _DROP_NOT_LABEL.match(text, b):
            continue
        if any(a < pb and pa < b for _, pa, pb in found):
            continue
        found.append((label, a, b))
    return [c for c in found if not _LABEL_EXCLUDED_AFTER.search(text[: c[1]])]


def _label_and_description(unit: _Unit) -> tuple[str | None, str]:
    """The section word the prose gives this stamp, and its text with a leading stamp/label removed."""
    text = unit.text
    a, b = unit.stamp
    extras = " ".join(unit.extras)
    if not re.sub(
        r"[\W_]", "", text[:a]
    ):  # the stamp leads: "[0:00-0:18] Intro: ...", "00:30 – 01:05: Verse 1,"
        rest = text[b:].lstrip(" \t])}:.-–—*")
        header = _HEADER.match(rest)
        if header and len(header.group(1).split()) <= 4:
            candidates = _label_candidates(header.group(1))
            if candidates:
                end = header.end() - 1 if header.group(0).endswith("(") else header.end()
                body = rest[end:].strip(" ,;:–—-")
                return candidates[0][0], " ".join(x for x in (body, extras) if x)
        description = rest.strip()
    else:
        description = text.strip()
        head, tail = text[:a].strip(" \t([-–—*"), text[b:]
        after = re.match(r"\s*[)\]]?\s*(?::|–|—|\s-\s)\s*", tail)
        if after and len(head.split()) <= 4:
            candidates = _label_candidates(head)
            if candidates:  # a header before the stamp: "Intro (0:00 - 0:20): solo piano"
                body = tail[after.end() :].strip()
                return candidates[0][0], " ".join(x for x in (body, extras) if x)
    description = " ".join(x for x in (description, extras) if x).strip()
    candidates = _label_candidates(text)
    if candidates:
        best = min(candidates, key=lambda c: (max(c[1] - b, a - c[2], 0), c[1]))
        return best[0], description
    for piece in unit.extras:
        candidates = _label_candidates(piece)
        if candidates:
            return candidates[0][0], description
    return None, description


@dataclass
class _Span:
    start: float
    end: float
    label: str | None
    texts: list[str]
    order: int

    def absorb(self, other: _Span) -> None:
        self.texts.extend(t for t in other.texts if t)
        self.label = self.label or other.label


def _resolve_sections(
    units: Sequence[_Unit], labelled: dict[int, tuple[str | None, str]], duration: float
) -> list[_Span]:
    ranges: list[_Span] = []
    points: list[_Span] = []
    for u in units:
        label, desc = labelled[u.order]
        end = u.end if u.end is not None else u.end_hint
        if end is None:
            if 0 <= u.start < duration:
                points.append(_Span(max(u.start, 0.0), duration, label, [desc], u.order))
            continue
        lo, hi = sorted((u.start, end))
        lo, hi = min(max(lo, 0.0), duration), min(max(hi, 0.0), duration)
        if hi > lo:
            ranges.append(_Span(lo, hi, label, [desc], u.order))
    ranges.sort(key=lambda s: (s.start, -s.end, s.order))
    kept: list[_Span] = []
    for span in ranges:
        if kept and span.start < kept[-1].end:
            if span.end <= kept[-1].end:
                kept[-1].absorb(span)
                continue
            kept[-1].end = span.start
        kept.append(span)
    free: list[_Span] = []
    for span in sorted(points, key=lambda s: (s.start, s.order)):
        home = next((r for r in kept if r.start <= span.start < r.end), None)
        if home is None and free and free[-1].start == span.start:
            home = free[-1]
        if home is not None:
            home.absorb(span)
        else:
            free.append(span)
    starts = sorted({s.start for s in kept} | {s.start for s in free})
    for span in free:
        span.end = next((s for s in starts if s > span.start), duration)
    out = sorted(kept + free, key=lambda s: (s.start, s.end, s.order))
    return [s for s in out if s.end > s.start]


# ---- events ------------------------------------------------------------------------------------------------

_INSTANT = {
    "vocal_entry",
    "vocal_exit",
    "instrument_entry",
    "instrument_exit",
    "drop",
    "key_change",
    "tempo_change",
    "texture_change",
}
_RISING = {"build", "peak", "drop"}
_FALLING = {"breakdown", "fade_in", "fade_out", "silence"}
_SUBJECT_BREAK = re.compile(
    r"[.;:!?()\[\]]|\b(?:while|whereas|but|when|as|then|after|before|where|which|so)\b", re.IGNORECASE
)
_INTENSITY = re.compile(
    r"\bintensity\s*(?:of|:|=|is|at|~|around|about)?\s*(\d+(?:\.\d+)?)\s*(/\s*10\b|%)?", re.IGNORECASE
)
_ALONE = re.compile(r"\b(?:alone|only|solo|remaining|lone|last)\b", re.IGNORECASE)
_PAST_EVENT = re.compile(
    r"\b(?:after|following|since)\s+(?:the|a|an|its|this)?\s*(?:[\w-]+\s+)?$", re.IGNORECASE
)
_COMPILED_EVENTS = {
    etype: [re.compile(p, re.IGNORECASE) for p in pats] for etype, pats in EVENT_PATTERNS.items()
}
_ENTRY = re.compile(ENTRY_VERBS, re.IGNORECASE)
_EXIT = re.compile(EXIT_VERBS, re.IGNORECASE)
_OBJECT_ENTRY = re.compile(OBJECT_ENTRY_VERBS, re.IGNORECASE)


def _who(text: str) -> tuple[bool, list[str]]:
    """(is a voice, instruments) named in a subject or object phrase."""
    vocal = bool(find_terms(text, VOCAL_WORDS) or find_terms(text, VOCAL_STYLES))
    return vocal, find_terms(text, INSTRUMENTS, drop_generic=True)


def _subject(text: str, verb_at: int) -> tuple[bool, list[str]]:
    """Who does the verb: the clause just before it, widened over short comma-separated list items."""
    before = text[:verb_at]
    cuts = [m.end() for m in _SUBJECT_BREAK.finditer(before)]
    if cuts:
        before = before[cuts[-1] :]
    parts = before.split(",")
    chosen = parts[-1]
    for part in reversed(parts[:-1]):
        if len(part.split()) <= 4 and any(_who(part)):
            chosen = part + "," + chosen
        else:
            break
    chosen = " ".join(chosen.split()[-10:])
    return _who(chosen)


def _object(text: str, verb_end: int) -> tuple[bool, list[str]]:
    after = text[verb_end:]
    stop = re.search(r"[,.;:!?()\[\]]|\b(?:while|whereas|but|when|as|then|and then)\b", after)
    return _who(after[: stop.start()] if stop else after)


def _explicit_intensity(text: str) -> float | None:
    m = _INTENSITY.search(text)
    if not m:
        return None
    value = float(m.group(1))
    if m.group(2):
        value /= 100.0 if "%" in m.group(2) else 10.0
    return value if 0.0 <= value <= 1.0 else None


def _intensity(etype: str, text: str, fallback: str = "") -> float:
    explicit = _explicit_intensity(text)
    if explicit is not None:
        return explicit
    levels = loudness_levels(text) or loudness_levels(fallback)
    if not levels:
        return 0.0 if etype == "silence" else 0.5
    if etype in _RISING:
        return max(levels)
    if etype in _FALLING:
        return min(levels)
    return levels[0]


def _detect(piece: str) -> list[tuple[str, str]]:
    """(event type, description) found in one sentence piece, in EventType order."""
    found: dict[str, str] = {}
    text = strip_timestamps(piece).lstrip(" ,;:-–—])")
    # Who enters or leaves: the subject before the verb ("drums come in"), or the object after it
    # ("introduces a piano").
    for pattern, side, by_object in (
        (_ENTRY, "entry", False),
        (_OBJECT_ENTRY, "entry", True),
        (_EXIT, "exit", False),
    ):
        for m in pattern.finditer(piece):
            vocal, instruments = _object(piece, m.end()) if by_object else _subject(piece, m.start())
            if vocal:
                found.setdefault(f"vocal_{side}", text)
            if instruments:
                found.setdefault(f"instrument_{side}", f"{', '.join(instruments)}: {text}")
            fading = side == "exit" and "fad" in m.group(0).lower() and _ALONE.search(piece[: m.start()])
            if (vocal or instruments) and fading:
                found.setdefault("fade_out", text)  # "piano alone, fading away": the last sound is the song
    for etype, patterns in _COMPILED_EVENTS.items():
        for pattern in patterns:
            hit = next(
                (
                    m
                    for m in pattern.finditer(piece)
                    if not is_negated(piece, m.start())
                    and not _PAST_EVENT.search(piece[: m.start()])
                    and not (etype in ("fade_in", "fade_out") and any(_subject(piece, m.start())))
                ),
                None,
            )
            if hit is not None:
                found.setdefault(etype, text)
                break
    return [(etype, found[etype]) for etype in EVENT_TYPES if etype in found]


def _events(
    units: Sequence[_Unit], sections: Sequence[_Span], duration: float, slack: float = 0.5
) -> list[Event]:
    events: list[Event] = []

    def add(etype: str, start: float, end: float, intensity: float, description: str) -> None:
        if start > duration + slack or duration <= 0:
            return
        start = min(max(start, 0.0), duration)
        end = min(max(end, start), duration)
        if any(e.type == etype and e.start == start and e.end == end for e in events):
            return
        events.append(
            Event(
                start=round(start, 3),
                end=round(end, 3),
                type=etype,  # type: ignore[arg-type]
                intensity=round(min(max(intensity, 0.0), 1.0), 3),
                description=description,
            )
        )

    for u in units:
        if u.end is not None:
            span = tuple(sorted((u.start, u.end)))
        else:
            home = next((s for s in sections if s.start <= u.start < s.end), None)
            span = (u.start, home.end if home else u.start)
        for piece in u.pieces:
            for etype, description in _detect(piece):
                start, end = (span[0], span[0]) if etype in _INSTANT and u.end is None else span
                add(etype, start, end, _intensity(etype, piece, u.full_text), description)
    for s in sections:
        if s.label in ("intro", "outro", "build", "drop", "breakdown"):
            if any(e.type == s.label and e.start < s.end and s.start <= e.end for e in events):
                continue
            text = " ".join(s.texts)
            add(s.label, s.start, s.end, _intensity(s.label, text), f"{s.label}: {text}".strip(": "))
    order = {t: i for i, t in enumerate(EVENT_TYPES)}
    return sorted(events, key=lambda e: (e.start, e.end, order[e.type]))


# ---- song-level facts --------------------------------------------------------------------------------------

_DESCRIPTOR_LINE = re.compile(r"^\[\d+:\d{2}(?:\.\d+)?\s*-\s*\d+:\d{2}(?:\.\d+)?\]\s+[^:\n]{1,40}:")
_VOCAL_RANGE = re.compile(r"\b([\w-]+)\s+vocal-range activity\b", re.IGNORECASE)
_VOCAL_RANGE_STRONG = {"strong", "heavy", "prominent", "dominant"}
_VOCAL_RANGE_NONE = {"little", "no", "minimal", "negligible", "barely"}
_DESCRIPTOR_DARK = re.compile(r"\bdark overall\b", re.IGNORECASE)
_INSTRUMENTAL = re.compile(
    r"\b(?:purely |fully |entirely |completely |an |is )?instrumental\b(?![\s-]+(?:break|section|interlude|"
    r"bridge|passage|part|solo|intro|outro|opening|ending|breakdown|hook|version|backing|stem|track"
    r" with vocals))",
    re.IGNORECASE,
)
_MODE_WORD = re.compile(
    r"\b(minor|major)[- ](?:key|keys|tonality|mode|scale|colou?r|feel|chord|chords|harmony|harmonies)\b",
    re.IGNORECASE,
)
_MODE_NOTE = re.compile(r"\b[A-G][#b♯♭]?\s*(minor|major)\b")
_LANGUAGE = re.compile(r"\b(" + "|".join(sorted(LANGUAGES, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_NOT_A_LANGUAGE_AFTER = re.compile(
    r"[\s-]+(?:horn|guitar|style|influence|influenced|folk|pop|rock|music|cafe|film|chanson|jazz|percussion)",
    re.IGNORECASE,
)
_LANGUAGE_AFTER = re.compile(r"[\s-]*(?:language|lyric|vocal|singing|rap|words|speaking|sung)", re.IGNORECASE)
_ARC = re.compile(
    r"\b(?:build|builds|building|rises|rising|grows|growing|swells|crescendo|fades?|fading|peaks?|climax|"
    r"drops?|arc|dynamics?|loudest|easing|falls)\b",
    re.IGNORECASE,
)


def _is_descriptor(raw: RawAnnotation) -> bool:
    if raw.provenance.backend == "descriptor":
        return True
    lines = [ln.strip() for ln in raw.text.splitlines() if ln.strip()]
    timed = [ln for ln in lines if _DESCRIPTOR_LINE.match(ln)]
    return bool(timed) and all(ln in timed or _OVERALL.match(ln) for ln in lines)


def _vocal_presence(text: str, summary: str) -> str:
    """Vocal words decide; the descriptor's vocal-range phrase only when the prose has none."""
    levels = [m.group(1).lower() for m in _VOCAL_RANGE.finditer(text)]
    song_levels = [m.group(1).lower() for m in _VOCAL_RANGE.finditer(summary)] or levels
    prose = _VOCAL_RANGE.sub(" ", text)
    if find_terms(prose, VOCAL_WORDS) or find_terms(prose, VOCAL_STYLES):
        return "vocal"
    if any(level in _VOCAL_RANGE_STRONG for level in song_levels):
        return "vocal"
    negated_vocals = bool(find_terms(prose, VOCAL_WORDS, negation=False))
    if _INSTRUMENTAL.search(prose) or negated_vocals:
        return "instrumental"
    if levels and all(level in _VOCAL_RANGE_NONE for level in levels):
        return "instrumental"
    return "unknown"


def _vocal_language(sentences: Sequence[str]) -> str | None:
    for sentence in sentences:
        for m in _LANGUAGE.finditer(sentence):
            after = sentence[m.end() :]
            if _NOT_A_LANGUAGE_AFTER.match(after):
                continue
            sung_in = re.search(r"\bin\s+(?:the\s+)?$", sentence[: m.start()], re.IGNORECASE) and (
                find_terms(sentence, VOCAL_WORDS) or find_terms(sentence, VOCAL_STYLES)
            )
            if sung_in or _LANGUAGE_AFTER.match(after):
                return LANGUAGES[m.group(1).lower()]
    return None


def _mode(text: str) -> str | None:
    modes = {m.group(1).lower() for m in _MODE_WORD.finditer(text)}
    modes |= {m.group(1).lower() for m in _MODE_NOTE.finditer(text)}
    return modes.pop() if len(modes) == 1 else None


def _song_tags(
    doc: _Doc, flat: str, descriptor: bool
) -> tuple[list[str], list[str], list[str], list[str], str | None, str | None]:
    """(genres, moods, instruments, textures, tempo feel, mode) the prose states for the whole song."""
    summary = " ".join(doc.summary)
    if descriptor:
        # Its words are measurements (level, spectral centroid, onset rate, key profile): timbre and
        # texture, never genre, mood or instrument ("dark" is a low centroid, "percussion" percussive energy).
        textures = find_terms(summary, TEXTURES)
        if _DESCRIPTOR_DARK.search(summary):
            textures.append("dark")
        tempo = find_terms(summary, TEMPO_FEELS, plurals=False)
        return [], [], [], textures, tempo[0] if tempo else None, _mode(summary)
    global_text = " ".join(doc.summary + doc.preamble)
    genres = find_terms(f"{global_text} {flat}", GENRES, drop_generic=True)
    moods = find_terms(f"{global_text} {flat}", MOODS)
    textures = find_terms(global_text, TEXTURES) or find_terms(flat, TEXTURES)
    tempo = find_terms(global_text, TEMPO_FEELS, plurals=False) or find_terms(
        flat, TEMPO_FEELS, plurals=False
    )
    mode = _mode(global_text) or _mode(flat)
    instruments = find_terms(flat, INSTRUMENTS, drop_generic=True)
    return genres, moods, instruments, textures, tempo[0] if tempo else None, mode


def _infer_mood(mode: str | None, tempo: str | None, levels: Sequence[float]) -> str | None:
    """Valence from mode, arousal from loudness and tempo; nothing when either is unclear."""
    if mode is None:
        return None
    loud, quiet = max(levels, default=0.5), min(levels, default=0.5)
    arousal = None
    if (levels and loud <= 0.3 and tempo != "fast") or (tempo == "slow" and loud <= 0.5):
        arousal = "low"
    elif (levels and quiet >= 0.75 and tempo != "slow") or (tempo == "fast" and quiet >= 0.5):
        arousal = "high"
    if arousal is None:
        return None
    return {
        ("minor", "low"): "melancholic",
        ("minor", "high"): "tense",
        ("major", "low"): "calm",
        ("major", "high"): "upbeat",
    }[(mode, arousal)]


# ---- caption -----------------------------------------------------------------------------------------------


def _arc_from_summary(summary: str) -> str | None:
    for clause in re.split(r"[;]|(?<=\.)\s", summary):
        clause = re.sub(
            r"^\W*(?:overall|in summary|summary|in conclusion|all in all|in short)\W*", "", clause, flags=re.I
        )
        if _ARC.search(clause):
            phrase = strip_timestamps(clause).strip(" ,.;:")
            phrase = re.sub(r"^(?:the (?:song|track|piece)|it)\s+", "", phrase, flags=re.IGNORECASE)
            if 0 < len(phrase.split()) <= 14:
                return phrase
    return None


def _arc_from_events(events: Sequence[Event]) -> str | None:
    kinds = [e.type for e in events]
    phrases: list[str] = []
    intro = next((e for e in events if e.type == "intro"), None)
    if intro is not None and intro.intensity <= 0.35:
        phrases.append("soft intro")
    for kind in dict.fromkeys(kinds):
        if kind == "build":
            phrases.append("builds to a climax" if "peak" in kinds else "builds")
        elif kind == "peak" and "build" not in kinds:
            phrases.append("climax")
        elif kind == "drop":
            phrases.append("drop")
        elif kind == "breakdown":
            phrases.append("breakdown")
        elif kind == "key_change":
            phrases.append("key change")
        elif kind == "tempo_change":
            phrases.append("tempo change")
        elif kind == "fade_out":
            phrases.append("fade-out ending")
    return ", ".join(phrases[:4]) or None


def _arc_from_untimed(labels: Sequence[str]) -> str | None:
    """'intro, verse, chorus, bridge, outro' from sections named without times: the form, for the caption."""
    if len(labels) < 2:
        return None
    form = list(dict.fromkeys(labels))
    return "-".join(form[:6]) + " form"


def _first_sentences(doc: _Doc, text: str) -> str:
    pool = doc.summary + doc.preamble + [u.full_text for u in doc.units]
    if not pool:
        pool = _sentences(" ".join(_clean_line(line) for line in text.splitlines()))
    return " ".join(strip_timestamps(s) for s in pool[:2])


def _compose_caption(parts: Sequence[str], fallback: str, max_words: int) -> str:
    chosen: list[str] = []
    seen: set[str] = set()
    words = 0
    for part in parts:
        part = part.strip(" ,.;")
        if not part or part.lower() in seen:
            continue
        n = len(part.split())
        if words + n > max_words:
            continue
        chosen.append(part)
        seen.add(part.lower())
        words += n
    caption = ", ".join(chosen)
    if not caption:
        caption = " ".join(fallback.split()[:max_words]).strip(" ,;:-") or "Music"
    caption = caption.rstrip(" .,;:!?") + "."
    return caption[0].upper() + caption[1:]


# ---- the cleaner -------------------------------------------------------------------------------------------


UNUSABLE_CAPTION = "Music."  # the caption of a flagged non-description; the flag keeps it out of training


class RulesSettings(BackendSettings):
    """cleaner=rules: both fields change the clean annotation."""

    max_caption_words: int = Field(60, ge=1, description="the caption's length limit, in words")
    infer_moods: bool = Field(
        False, description="guess moods from measured colour/loudness words (off: too often wrong)"
    )


class RulesCleaner(Configured[RulesSettings], Cleaner):
    """Deterministic prose reader: a baseline an LLM cleaner must beat, and the no-GPU default."""

    Settings = RulesSettings

    def setup(self) -> None:
        self.max_caption_words = self.settings.max_caption_words
        self.infer_moods = self.settings.infer_moods

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            backend="rules",
            version="2",
            settings=self.settings.output_settings(),
            libraries=("songset", "pydantic"),
        )

    def clean(self, raw: RawAnnotation) -> CleanedContent:
        if not raw.text.strip():
            raise ValueError(f"{raw.id}: the annotation text is empty")
        duration = float(raw.duration)
        descriptor = _is_descriptor(raw)
        reasoned = split_reasoning(normalise_unicode(raw.text))
        text = reasoned.answer
        kind = text_kind(text)
        if kind != "description" or not text.strip():
            # not a description of the music: flagged for a person, never read for tags or sections
            return CleanedContent(
                caption=UNUSABLE_CAPTION,
                rich_details=text,
                reasoning=reasoned.reasoning,
                flags=[kind if kind != "description" else "no_description"],
            )
        flags: list[str] = ["truncated"] if is_truncated(text) else []
        text = move_trailing_stamps(percent_to_clock(text, duration))
        if stamps_out_of_range(text, duration):
            flags.append("timestamp_out_of_range")
        doc = _read(text)

        labelled = {u.order: _label_and_description(u) for u in doc.units}
        spans = _resolve_sections(doc.units, labelled, duration)
        sections = [
            Section(
                start=round(s.start, 3),
                end=round(s.end, 3),
                label=s.label or f"section {i}",
                description=" ".join(t for t in s.texts if t),
            )
            for i, s in enumerate(spans, start=1)
        ]
        untimed = [] if descriptor else untimed_sections(text)
        if len(untimed) <= len(sections):
            untimed = []  # the timed sections already tell the structure
        elif not sections:
            flags.append("untimed_structure")
        events = _events(doc.units, spans, duration)

        flat = " ".join(_clean_line(line) for line in text.splitlines())
        unquoted = without_quotes(text)  # quoted lyrics and titles name no genre, mood or instrument
        tag_doc, tag_flat = _read(unquoted), " ".join(_clean_line(line) for line in unquoted.splitlines())
        genres, moods, instruments, textures, tempo, mode = _song_tags(tag_doc, tag_flat, descriptor)
        if not moods and self.infer_moods:
            levels = loudness_levels(" ".join(u.full_text for u in doc.units) or flat)
            inferred = _infer_mood(mode, tempo, levels)
            moods = [inferred] if inferred else []

        presence = _vocal_presence(tag_flat, " ".join(tag_doc.summary))
        language = None
        if presence != "instrumental":
            language = sung_language(tag_flat) or _vocal_language(_sentences(tag_flat))
            if language is not None:
                presence = "vocal"
        styles = find_terms(_VOCAL_RANGE.sub(" ", tag_flat), VOCAL_STYLES)

        vocal_part = (
            ", ".join(styles)
            if styles
            else {"vocal": "vocals", "instrumental": "instrumental"}.get(presence, "")
        )
        arc = (
            _arc_from_summary(" ".join(doc.summary))
            or _arc_from_events(events)
            or _arc_from_untimed([s.label for s in untimed])
        )
        parts = [
            *genres[:3],
            *moods[:3],
            *instruments[:6],
            vocal_part,
            tempo or "",
            f"{mode} key" if mode else "",
            f"{', '.join(textures[:4])} texture" if textures else "",
            arc or "",
        ]
        caption = _compose_caption(parts, _first_sentences(doc, text), self.max_caption_words)

        return CleanedContent(
            caption=caption,
            tags=Tags(genre=genres, mood=moods, instruments=instruments, texture=textures),
            sections=sections,
            events=events,
            vocal_presence=presence,  # type: ignore[arg-type]
            vocal_language=language,
            rich_details=text,
            untimed_sections=[
                UntimedSection(order=i, label=s.label, description=s.description)
                for i, s in enumerate(untimed, start=1)
            ],
            reasoning=reasoned.reasoning,
            flags=flags,
        )
