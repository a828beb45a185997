"""The steps that make real audio-LLM prose readable, each a pure function with its own tests.

The rules cleaner was built on this project's own descriptor prose; real models write differently:
Music Flamingo writes non-breaking hyphens (U+2011) everywhere, including inside time ranges; MF-Think
wraps reasoning in `<think>`; some answers are lyric sheets, chat replies or refusals; structure is usually
told without times ("opens with ..., then the verse ..."); times come as percentages of the song or after
the sentence they belong to. `RulesCleaner.clean` runs these steps in this order:

1. `normalise_unicode`: dashes, hyphens, quotes, spaces and invisible characters to one ASCII-ish form.
2. `split_reasoning`: `<think>` reasoning apart from the `<answer>` description.
3. `text_kind`: a lyric sheet, a chat reply or a refusal is flagged, not cleaned.
4. `percent_to_clock`, `move_trailing_stamps`: every stamp a clock time, written before its sentence.
5. `heading_blocks` / `is_heading_line`: "Tempo & Key - ..." headings end a summary and name a block.
6. `untimed_sections`: ordered sections named without times.
7. `without_quotes`: quoted lyrics kept out of the tag search.
8. `sung_language`: the language phrases ("sung in Brazilian Portuguese", "lyrics are mainly Korean").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from songset.timecode import CLOCK_PATTERN, format_clock
from songset.vocab import GENRES, INSTRUMENTS, LANGUAGES, MOODS, SECTION_LABELS, find_term_spans, find_terms

# ---- 1. unicode --------------------------------------------------------------------------------------------

_HYPHENS = "\u2010\u2011\u2043"  # hyphen, non-breaking hyphen, hyphen bullet
_EN_DASHES = (
    "\u2012\u2013\u2212\ufe63\uff0d"  # figure dash, en dash, minus sign, small/fullwidth hyphen-minus
)
_EM_DASHES = "\u2014\u2015"
_SPACES = "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"  # soft hyphen, zero-width characters, BOM
_TRANSLATE = str.maketrans(
    {
        **dict.fromkeys(_HYPHENS, "-"),
        **dict.fromkeys(_EN_DASHES, "–"),
        **dict.fromkeys(_EM_DASHES, "—"),
        **dict.fromkeys(_SPACES, " "),
        **dict.fromkeys(_INVISIBLE, ""),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033", '"'),
        "\u2026": "...",
    }
)


def normalise_unicode(text: str) -> str:
    """One form for the characters models vary: hyphens '-', range dashes '–', em dashes '—', ASCII quotes.

    Without it `4:04‑4:21` (U+2011) is two points, `hi‑hat` is not the word "hi-hat", and a quoted lyric
    in curly quotes is not recognised as quoted.
    """
    return text.translate(_TRANSLATE).replace("\r\n", "\n").replace("\r", "\n")


# ---- 2. reasoning ------------------------------------------------------------------------------------------

_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.IGNORECASE | re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?(?:think|answer|reasoning)>", re.IGNORECASE)


@dataclass(frozen=True)
class Reasoned:
    answer: str
    reasoning: str


def split_reasoning(text: str) -> Reasoned:
    """The description apart from the model's reasoning: `<answer>` if present, else what is outside `<think>`.

    An unclosed `<think>` (an answer cut at the token limit) is all reasoning.
    """
    reasoning = "\n\n".join(m.group(1).strip() for m in _THINK.finditer(text))
    answers = [m.group(1).strip() for m in _ANSWER.finditer(text)]
    answer = "\n\n".join(answers) if answers else _THINK.sub(" ", text)
    return Reasoned(_TAG.sub(" ", answer).strip(), reasoning)


# ---- 3. what kind of text ----------------------------------------------------------------------------------

TextKind = Literal["description", "lyric_sheet", "chat_reply", "refusal"]

_SECTION_HEADER_LINE = re.compile(
    r"^\s*(?:\*\*|\[|\(|#+\s*)?\s*(?:intro|verse|pre-?chorus|chorus|refrain|hook|bridge|outro|post-?chorus|"
    r"interlude|breakdown|drop|coda)(?:\s*\d+)?\s*(?:\*\*|\]|\))?\s*:?\s*$",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"\b(?:I(?:'m| am) (?:sorry|unable|not able)|I can(?:not|'t) (?:help|assist|listen|hear|play|process|"
    r"access|analy[sz]e|describe|provide)|as an AI\b|I do(?:n't| not) have (?:the ability|access))",
    re.IGNORECASE,
)
_CHAT_OPENER = re.compile(
    r"^\s*(?:sure|certainly|of course|absolutely|hello|hi there|great question|happy to help|"
    r"I(?:'d| would) be (?:happy|glad))\b[^.!?\n]*[.!?:]?",
    re.IGNORECASE,
)
_MUSIC_VOCABS = (GENRES, INSTRUMENTS, MOODS)


def _music_terms(text: str) -> int:
    return sum(len(find_terms(text, vocab)) for vocab in _MUSIC_VOCABS)


def text_kind(text: str) -> TextKind:
    """A description, or a text the cleaner must not read as one.

    Lyric sheet: two or more lines that are only a section header ("**Verse 1**", "[Chorus]") and at
    most one music term (genre, instrument, mood) in the rest. Refusal: an "I'm sorry / I can't ..."
    sentence among the first three. Chat reply: a chat opener ("Sure!", "Certainly") and fewer than two
    music terms after it.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    headers = [ln for ln in lines if _SECTION_HEADER_LINE.match(ln)]
    if len(headers) >= 2 and len(headers) >= len(lines) / 5:
        body = "\n".join(ln for ln in lines if not _SECTION_HEADER_LINE.match(ln))
        if _music_terms(body) <= 1:
            return "lyric_sheet"
    first = " ".join(re.split(r"(?<=[.!?])\s+", text.strip())[:3])
    if _REFUSAL.search(first) and _music_terms(text) < 3:
        return "refusal"
    opener = _CHAT_OPENER.match(text)
    if opener and _music_terms(text[opener.end() :]) < 2:
        return "chat_reply"
    return "description"


def is_truncated(text: str) -> bool:
    """Ends mid-sentence: the model hit its token limit ("The duration of the")."""
    tail = text.rstrip().rstrip("*_`")
    return bool(tail) and tail[-1] not in ".!?)]\"'…:"


# ---- 4. times ----------------------------------------------------------------------------------------------

_PERCENT_RANGE = re.compile(
    r"(?<![\w.])(\d{1,3}(?:\.\d+)?)\s*%?\s*(?:–|-|—|to)\s*(\d{1,3}(?:\.\d+)?)\s*%"
    r"(?:\s+(?:of|through|into)\s+(?:the\s+)?(?:song|track|piece|runtime|duration))?",
    re.IGNORECASE,
)
_PERCENT_POINT = re.compile(
    r"\b(at|around|by|from|until|near)\s+(?:the\s+|about\s+|roughly\s+)?(\d{1,3}(?:\.\d+)?)\s*%"
    r"(?:\s+mark)?(?:\s+(?:of|through|into)\s+(?:the\s+)?(?:song|track|piece|runtime|duration))?",
    re.IGNORECASE,
)


def percent_to_clock(text: str, duration: float) -> str:
    """'(0-18%)', 'from 40% to 60% of the song', 'at 75%' -> clock times of this song's duration.

    Only ranges of percentages and percentages after a time preposition are read as positions;
    "70% wet reverb" and "intensity 70%" are left alone. Values over 100 are left alone too.
    """
    if duration <= 0:
        return text

    def clock(p: str) -> str:
        return format_clock(float(p) / 100.0 * duration, decimals=1)

    def span(m: re.Match[str]) -> str:
        a, b = float(m.group(1)), float(m.group(2))
        if max(a, b) > 100:
            return m.group(0)
        return f"{clock(m.group(1))}-{clock(m.group(2))}"

    def point(m: re.Match[str]) -> str:
        if float(m.group(2)) > 100:
            return m.group(0)
        return f"{m.group(1)} {clock(m.group(2))}"

    return _PERCENT_POINT.sub(point, _PERCENT_RANGE.sub(span, text))


_STAMP = rf"{CLOCK_PATTERN}(?:\s*(?:-|–|—|to)\s*{CLOCK_PATTERN})?"
_TRAILING_STAMP = re.compile(
    rf"(?P<body>[^\n.!?]*?[^\s\n(\[])\s*[(\[]\s*(?P<stamp>{_STAMP})\s*[)\]]\s*(?P<end>[.!?]|(?=[ \t]*$))",
    re.MULTILINE,
)
_ANY_STAMP = re.compile(rf"(?<![\w:.]){CLOCK_PATTERN}")


def move_trailing_stamps(text: str) -> str:
    """'The intro is soft (0:00-0:15). The verse enters. (0:15-0:40)' -> each stamp before its sentence.

    Done only when every clock time of the text sits in such a bracket at the end of a sentence or line,
    so "[0:00-0:15] Intro ...", "At 0:15 ..." or a mix of both forms is never touched: there the stamp
    before a sentence is the usual reading.
    """
    trailing = list(_TRAILING_STAMP.finditer(text))
    in_trailing = sum(len(_ANY_STAMP.findall(m.group("stamp"))) for m in trailing)
    if not trailing or in_trailing != len(_ANY_STAMP.findall(text)):
        return text

    def lead(m: re.Match[str]) -> str:
        body = m.group("body")
        space = body[: len(body) - len(body.lstrip())]
        return f"{space}[{m.group('stamp')}] {body.strip()}{m.group('end') or '.'}"

    out = _TRAILING_STAMP.sub(lead, text)
    return re.sub(r"\.\s*\.", ".", out)


# ---- 5. headings -------------------------------------------------------------------------------------------

_BULLET_START = re.compile(r"^\s*(?:[-*•+]\s+|\d{1,2}[.)]\s+)")
_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s*)?(?:\*\*)?([A-Z][A-Za-z&/,' ]{2,48}?)(?:\*\*)?\s*(?:\s[-–—]\s?|:|[–—])(?:\*\*)?(?:\s+|$)"
)


def heading_of(line: str) -> str | None:
    """The heading a line starts with ("Tempo & Key - ...", "**Vocal characteristics:**"), else None.

    A heading is at most six words before a dash or colon, on a line that is not a bullet. Bullets are
    items of the block above them ("- Intro - soft piano" names a section, not a block).
    """
    if _BULLET_START.match(line):
        return None
    m = _HEADING.match(line)
    if m is None or len(m.group(1).split()) > 6:
        return None
    return m.group(1).strip(" ,")


@dataclass(frozen=True)
class Block:
    heading: str | None
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def heading_blocks(text: str) -> list[Block]:
    """The text cut at every heading line or blank line; a heading alone on its line heads what follows."""
    blocks: list[Block] = []
    heading: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        head = heading_of(line)
        if not line.strip() or head is not None:
            if lines:
                blocks.append(Block(heading, tuple(lines)))
                lines = []
                heading = None
            if head is not None:
                heading = head
                line = line[_HEADING.match(line).end() :]  # type: ignore[union-attr]
        if line.strip():
            lines.append(line)
    if lines or heading:
        blocks.append(Block(heading, tuple(lines)))
    return blocks


# ---- 6. untimed structure ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedSection:
    label: str
    description: str


# "hook" names a motif more often than a section; "build", "drop" and "break" are verbs as often as sections
_UNTIMED_LABELS = {k: v for k, v in SECTION_LABELS.items() if k != "hook"}
_PLURAL_LABELS = {k: SECTION_LABELS[k] for k in ("verse", "chorus", "pre-chorus", "bridge", "interlude")}
_FORM_WORDS = re.compile(
    r"\b(?:verse|chorus)[- ](?:chorus|verse|bridge)(?:[- ](?:chorus|verse|bridge))*"
    r"(?:\s+(?:form|framework|layout|structure|blueprint|format|shape|pattern|song))?",
    re.IGNORECASE,
)
_NOT_A_SECTION_BEFORE = re.compile(
    r"(?:\b(?:than|like|unlike|mirrors?|echo(?:es)?|similar to|same as|of the)\s+(?:the\s+|a\s+|an\s+)?(?:[\w-]+\s+)?)$",
    re.IGNORECASE,
)
_NEGATED_CLAUSE = re.compile(r"\b(?:without|no|never|lacks?|lacking|instead of)\b[^,;.:()]*$", re.IGNORECASE)
_STRUCTURE_HEADING = re.compile(r"\b(?:structur\w*|form|sections?|arrangement)\b", re.IGNORECASE)
_STRUCTURE_START = re.compile(r"^\W*(?:structur|(?:the\s+)?(?:song\s+)?(?:structure|form)\b)", re.IGNORECASE)
_WEAK_CUE = re.compile(r"\b(?:opens with|begins with|starts with|unfolds)\b", re.IGNORECASE)
_EVENT_LABELS = {"build", "drop", "breakdown"}  # verbs as often as sections: need "a/the/brief ..." before
_EVENT_LABEL_DETERMINER = re.compile(
    r"\b(?:a|an|the|first|second|final|brief|short|big|huge|massive|main|sudden|its)\s+(?:[\w-]+\s+)?$",
    re.IGNORECASE,
)
_ITEM_SPLIT = re.compile(r"\s*(?:→|->|=>|>>)\s*")
_CLAUSE_SPLIT = re.compile(
    r"[,;]\s*|\.\s+|\s+(?=(?:then|followed by|before|leading into|moves into|giving way to|and finally)\b)",
    re.IGNORECASE,
)
_LEAD = re.compile(r"^(.{1,60}?)\s*(?:\s[-–—]\s|:|[–—])\s*(.*)$", re.DOTALL)


def _labels_in(text: str) -> list[tuple[str, int, int]]:
    text = _FORM_WORDS.sub(lambda m: " " * len(m.group(0)), text)
    found = find_term_spans(text, _UNTIMED_LABELS, plurals=False)
    for label, a, b in find_term_spans(text, _PLURAL_LABELS, plurals=True):
        if not any(a < fb and fa < b for _, fa, fb in found):
            found.append((label, a, b))
    out = []
    for label, a, b in sorted(found, key=lambda f: f[1]):
        if _NOT_A_SECTION_BEFORE.search(text[:a]) or _NEGATED_CLAUSE.search(text[:a]):
            continue  # "mirrors the intro", "without dramatic breaks or contrasting bridges"
        if label in _EVENT_LABELS and a > 0 and not _EVENT_LABEL_DETERMINER.search(text[:a]):
            continue
        if label == "solo" and re.match(r"\s+(?!section|break|passage)[a-z]", text[b:]):
            continue  # "solo guitar", "solo piano": an adjective
        if (
            label == "intro"
            and text[a:b].lower() == "opening"
            and not re.match(r"\s+(?:section|bars)", text[b:])
        ):
            continue
        out.append((label, a, b))
    return out


def _item_sections(item: str) -> list[NamedSection]:
    """One list item or arrow step: its lead names the sections ("Verse 2 / Bridge: ..."), the rest describes."""
    item = item.strip(" -*•")
    lead = _LEAD.match(item)
    head, body = (lead.group(1), lead.group(2)) if lead else (item, "")
    paren = re.match(r"^([^()]{1,60})\((.*)\)\s*$", head)
    if paren:
        head, body = paren.group(1), " ".join(x for x in (paren.group(2), body) if x)
    labels = _labels_in(head)
    if not labels or len(re.findall(r"[A-Za-z][\w-]*", head)) > 4:
        return []  # a lead names its sections in a few words; "Verses hover around Fm7" is prose
    return [NamedSection(label, body.strip(" .,;")) for label, _, _ in labels]


def _prose_sections(text: str) -> list[NamedSection]:
    out: list[NamedSection] = []
    for clause in _CLAUSE_SPLIT.split(text):
        if _FORM_WORDS.search(clause):
            continue  # "follows a verse-chorus layout with instrumental breaks": the form, not a section
        for label, _, _ in _labels_in(clause):
            if out and out[-1].label == label:
                continue
            out.append(NamedSection(label, clause.strip(" .,;")))
    return out


def untimed_sections(text: str) -> list[NamedSection]:
    """The sections the prose names in order without times, or [] when it names fewer than two.

    Sources, first that names two wins: a block headed or opened as structure ("Song Structure &
    Dynamics -", "Structurally, ...") read as a list (bullets, numbered items, arrow chains: each item's
    lead, at most four words, names its sections) or as prose (clauses in order, a label repeated in the
    next clause kept once); then any list of three or more items, any arrow chain, any block that "opens
    with"; else every sentence naming a section, in order. "verse-chorus form" and "mirrors the intro" name no section.
    """
    blocks = heading_blocks(text)
    paragraphs = [Block(None, (ln,)) for b in blocks for ln in b.lines if len(b.lines) > 1]
    strong: list[Block] = []
    for i, block in enumerate(blocks):
        if (block.heading and _STRUCTURE_HEADING.search(block.heading)) or _STRUCTURE_START.search(
            block.text
        ):
            strong.append(block)
            if block.text.rstrip().endswith(":") and i + 1 < len(blocks):
                strong.append(blocks[i + 1])  # "Structurally, the song follows a ballad form:" + its list
    strong += [p for p in paragraphs if _STRUCTURE_START.search(p.text)]
    lists = [b for b in blocks if sum(1 for ln in b.lines if _BULLET_START.match(ln)) >= 3]
    arrows = [Block(None, (ln,)) for ln in text.splitlines() if len(_ITEM_SPLIT.split(ln)) >= 3]
    weak = [b for b in blocks + paragraphs if _WEAK_CUE.search(b.text)]
    for block in (*strong, *lists, *arrows, *weak):
        sections = _block_sections(block)
        if len(sections) >= 2:
            return sections
    sections = _prose_sections(text)
    return sections if len({s.label for s in sections}) >= 2 else []


def _block_sections(block: Block) -> list[NamedSection]:
    """A list (bullets, numbered items), an arrow chain (each item's lead names it) or prose."""
    items = [ln for ln in block.lines if _BULLET_START.match(ln)]
    sections: list[NamedSection] = []
    if items:
        for ln in items:
            item = _BULLET_START.sub("", _BULLET_START.sub("", ln))
            if len(_ITEM_SPLIT.split(item)) >= 3:
                sections += [
                    s for step in _ITEM_SPLIT.split(item) for s in _item_sections(step.split(". ")[0])
                ]
            else:
                sections += _item_sections(item)
        return sections
    if len(_ITEM_SPLIT.split(block.text)) >= 3:
        return [s for step in _ITEM_SPLIT.split(block.text) for s in _item_sections(step.split(". ")[0])]
    return _prose_sections(block.text)


# ---- 7. quoted lyrics --------------------------------------------------------------------------------------

_QUOTED = re.compile(
    r'"[^"\n]{1,300}"|(?<![\w])\*[^*\n]{1,300}\*(?![\w*])|(?<![\w])\'[^\'\n]{3,300}\'(?![\w])'
)


def without_quotes(text: str) -> str:
    """Quoted words (lyrics, titles) blanked, so "The soul is everlasting" never makes the genre soul."""
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), text)


# ---- 8. language -------------------------------------------------------------------------------------------

_LANGUAGE_NAMES = "|".join(sorted((re.escape(k) for k in LANGUAGES), key=len, reverse=True))
_REGIONAL = (
    r"(?:(?:brazilian|european|swiss|austrian|latin american|mexican|castilian|rioplatense|canadian|quebecois|"
    r"american|british|standard|classical|modern|colloquial|high|low|mandarin)[\s-]+)?"
)
_SUNG_IN = re.compile(
    rf"\b(?:sung|sings?|singing|rapp?(?:ed|s|ing)?|rap|delivered|delivers?(?:\s+(?:the|her|his|their)\s+"
    rf"(?:lyrics|vocals|lines|verses))?|performed|lyrics|vocals|verses)\s+"
    rf"(?:(?:mostly|mainly|primarily|entirely|largely|partly|all|are|is|written|delivered)\s+){{0,2}}"
    rf"(?:in\s+)?{_REGIONAL}({_LANGUAGE_NAMES})\b(?![\s-]+(?:style|influence|pop|rock|folk|guitar|horn))",
    re.IGNORECASE,
)
_LANGUAGE_BEFORE = re.compile(
    rf"\b{_REGIONAL}({_LANGUAGE_NAMES})[\s-]+(?:language|lyrics|vocals|singing|rap|verses|speaking|"
    rf"language vocals)\b",
    re.IGNORECASE,
)


def sung_language(text: str) -> str | None:
    """ACE-Step code of the first sung language the prose states, or None.

    "sung in Brazilian Portuguese", "rap in Swiss German", "lyrics are mainly Korean", "delivers the lyrics
    in Spanish", "French-speaking", "Spanish lyrics"; never "French horn", "Spanish guitar", "Punjabi pop".
    """
    hits = [(m.start(), m.group(1)) for m in _SUNG_IN.finditer(text)]
    hits += [(m.start(), m.group(1)) for m in _LANGUAGE_BEFORE.finditer(text)]
    if not hits:
        return None
    return LANGUAGES[min(hits)[1].lower()]
