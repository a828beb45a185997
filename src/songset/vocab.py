"""Shared musical vocabularies and the one matcher every stage uses on them.

The rules cleaner, the LLM cleaner's post-checks and the report all read prose through these tables, so a
tag means the same thing wherever it appears. A vocabulary maps a canonical tag to its surface forms;
`find_terms` returns canonical tags in first-mention order.

Matching rules (see `find_term_spans`):

* case-insensitive, whole words: a form never matches inside a longer word, nor after a hyphen
  ("pop" is not found in "synth-pop", "chorus" not in "pre-chorus"), nor before "-range"/"-like"
  ("vocal-range activity" and "piano-like pads" name no vocals and no piano);
* a space or hyphen inside a form matches any run of spaces/hyphens ("hip hop" = "hip-hop" = "hiphop");
* plurals: an optional "s"/"es" on the last word, unless the caller turns it off (labels, tempo words);
* the longest form wins where forms overlap ("acoustic guitar" hides the "guitar" inside it);
* negation: a mention after "no", "not", "without", "lacking", "absence of", "free of", "instead of",
  "rather than" or "little" (but not "a little") within three words of the same comma-free clause is
  skipped ("with little percussion", "no drums or bass"). A comma ends the scope, so
  "no drums, bass or piano" negates only the drums: the price of not misreading
  "without percussion, the piano carries the tune".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

Vocab = Mapping[str, Sequence[str]]

# ---- tags --------------------------------------------------------------------------------------------------

INSTRUMENTS: Vocab = {
    "acoustic guitar": ("acoustic guitar", "steel-string guitar", "twelve-string guitar", "12-string guitar"),
    "classical guitar": ("classical guitar", "nylon-string guitar", "nylon guitar", "spanish guitar"),
    "electric guitar": (
        "electric guitar",
        "distorted guitar",
        "overdriven guitar",
        "lead guitar",
        "e-guitar",
        "electric-guitar lead",
    ),
    "rhythm guitar": ("rhythm guitar",),
    "slide guitar": ("slide guitar",),
    "pedal steel": ("pedal steel", "steel guitar", "lap steel"),
    "guitar": ("guitar",),
    "bass": ("bass", "bass guitar", "electric bass", "bassline", "bass line"),
    "double bass": ("double bass", "upright bass", "contrabass", "standup bass", "stand-up bass"),
    "acoustic bass": ("acoustic bass", "acoustic bass guitar"),  # a fretted guitar, not a double bass
    "synth bass": ("synth bass", "sub-bass", "sub bass", "808 bass", "808", "808s"),
    "piano": ("piano", "grand piano", "upright piano", "acoustic piano"),
    "electric piano": ("electric piano", "rhodes", "wurlitzer", "e-piano"),
    "keyboard": ("keyboard",),
    "organ": ("organ", "hammond organ", "hammond", "church organ", "pipe organ"),
    "synth pad": ("synth pad", "pad", "synthesizer pad", "ambient pad", "string pad"),
    "synth": (
        "synth",
        "synthesizer",
        "synthesiser",
        "synth lead",
        "lead synth",
        "arpeggiator",
        "arpeggiated synth",
    ),
    "drum machine": (
        "drum machine",
        "electronic drums",
        "programmed drums",
        "drum programming",
        "beat machine",
    ),
    "steel drums": ("steel drum", "steelpan", "steel pan"),
    "drums": (
        "drums",
        "drum",
        "drum kit",
        "drumkit",
        "drum beat",
        "drumbeat",
        "drumming",
        "kick drum",
        "bass drum",
        "snare",
        "snare drum",
        "hi-hat",
        "cymbal",
        "brushed drums",
        "live drums",
    ),
    "percussion": (
        "percussion",
        "hand percussion",
        "shaker",
        "tambourine",
        "conga",
        "bongo",
        "cajon",
        "claps",
        "handclaps",
        "hand claps",
    ),
    "timpani": ("timpani", "kettle drum"),
    "tabla": ("tabla",),
    "strings": ("strings", "string section", "string ensemble", "string quartet", "orchestral strings"),
    "violin": ("violin", "fiddle"),
    "viola": ("viola",),
    "cello": ("cello",),
    "harp": ("harp",),
    "dulcimer": ("dulcimer", "hammered dulcimer"),
    "orchestra": ("orchestra", "full orchestra", "symphony orchestra"),
    "brass": ("brass", "brass section", "horn section", "horns"),
    "trumpet": ("trumpet", "flugelhorn"),
    "trombone": ("trombone",),
    "tuba": ("tuba",),
    "french horn": ("french horn",),
    "saxophone": ("saxophone", "sax", "alto sax", "tenor sax", "baritone sax"),
    "flute": ("flute", "piccolo", "pan flute", "recorder"),
    "clarinet": ("clarinet",),
    "oboe": ("oboe",),
    "bassoon": ("bassoon",),
    "harmonica": ("harmonica",),
    "accordion": ("accordion",),
    "banjo": ("banjo",),
    "mandolin": ("mandolin",),
    "ukulele": ("ukulele",),
    "sitar": ("sitar",),
    "koto": ("koto",),
    "erhu": ("erhu",),
    "guzheng": ("guzheng",),
    "pipa": ("pipa",),
    "dholak": ("dholak", "dhol"),
    "bagpipes": ("bagpipe",),
    "marimba": ("marimba",),
    "xylophone": ("xylophone",),
    "vibraphone": ("vibraphone",),
    "glockenspiel": ("glockenspiel",),
    "celesta": ("celesta",),
    "harpsichord": ("harpsichord",),
    "bells": ("bells", "chimes", "tubular bells", "church bells"),
    "beatbox": ("beatbox", "beatboxing"),
    "turntables": ("turntable", "scratching", "vinyl scratches"),
    "theremin": ("theremin",),
}

VOCAL_STYLES: Vocab = {
    "female vocals": (
        "female vocal",
        "female vocalist",
        "female singer",
        "female voice",
        "female lead",
        "woman's voice",
        "woman singing",
    ),
    "male vocals": ("male vocal", "male vocalist", "male singer", "male voice", "male lead", "man's voice"),
    "child vocals": ("child vocal", "children's voices", "children's choir", "child singer"),
    "backing vocals": (
        "backing vocal",
        "background vocal",
        "vocal harmonies",
        "harmony vocals",
        "backing choir",
    ),
    "choir": ("choir", "choral", "chorale"),
    "rap vocals": ("rap", "rapping", "rapper", "rapped verse"),
    "falsetto": ("falsetto",),
    # voice types; bare "alto", "tenor", "soprano", "baritone" also name saxophones, so a voice word is needed
    "mezzo-soprano": ("mezzo-soprano",),
    "soprano voice": ("soprano vocal", "female soprano", "soprano singer"),
    "alto voice": ("alto vocal", "contralto"),
    "tenor voice": ("tenor vocal", "male tenor", "tenor singer"),
    "baritone voice": ("baritone vocal", "male baritone", "baritone singer"),
    "spoken word": ("spoken word", "spoken-word", "narration", "spoken passage"),
    "duet": ("duet",),
}

# Any of these (not negated) means someone sings or raps; "vocal-range" is excluded by the matcher.
VOCAL_WORDS: Vocab = {
    "vocals": (
        "vocal",
        "vocalist",
        "singer",
        "singing",
        "sung",
        "sings",
        "sang",
        "rap",
        "rapper",
        "rapping",
        "lyric",
        "choir",
        "crooning",
        "croons",
        "voice",
    ),
}

GENRES: Vocab = {
    "pop": ("pop", "pop music"),
    "indie pop": ("indie pop",),
    "synth-pop": ("synth-pop", "synthpop", "electropop"),
    "k-pop": ("k-pop", "kpop"),
    "j-pop": ("j-pop", "jpop"),
    "dream pop": ("dream pop",),
    "rock": ("rock", "rock music"),
    "indie rock": ("indie rock",),
    "alternative rock": ("alternative rock", "alt-rock", "alt rock"),
    "hard rock": ("hard rock",),
    "soft rock": ("soft rock",),
    "punk": ("punk", "punk rock", "pop punk", "pop-punk"),
    "post-rock": ("post-rock",),
    "shoegaze": ("shoegaze",),
    "grunge": ("grunge",),
    "metal": ("metal", "heavy metal"),
    "indie": ("indie",),
    "folk": ("folk", "folk music"),
    "indie folk": ("indie folk",),
    "country": ("country", "country music"),
    "bluegrass": ("bluegrass",),
    "americana": ("americana",),
    "singer-songwriter": ("singer-songwriter",),
    "blues": ("blues",),
    "jazz": ("jazz",),
    "jazz fusion": ("jazz fusion", "fusion"),
    "swing": ("swing", "big band"),
    "bossa nova": ("bossa nova",),
    "soul": ("soul", "neo-soul"),
    "r&b": ("r&b", "rnb", "rhythm and blues"),
    "funk": ("funk",),
    "disco": ("disco",),
    "gospel": ("gospel",),
    "hip hop": ("hip hop", "hip-hop", "hiphop", "rap music"),
    "trap": ("trap",),
    "lo-fi hip hop": ("lo-fi hip hop", "lofi hip hop", "chillhop"),
    "electronic": ("electronic", "electronica", "electronic music"),
    "edm": ("edm",),
    "house": ("house", "deep house", "house music"),
    "techno": ("techno",),
    "trance": ("trance", "trance-pop"),
    "eurodance": ("eurodance", "euro-dance", "euro dance"),
    "hardstyle": ("hardstyle",),
    "tech house": ("tech house", "tech-house"),
    "tribal house": ("tribal house",),
    "dubstep": ("dubstep",),
    "drum and bass": ("drum and bass", "drum & bass", "drum 'n' bass", "dnb", "jungle"),
    "synthwave": ("synthwave", "retrowave"),
    "dance": ("dance", "dance music", "dance-pop"),
    "ambient": ("ambient",),
    "downtempo": ("downtempo", "trip-hop", "trip hop", "chillout", "chill-out"),
    "new age": ("new age",),
    "classical": ("classical", "classical music", "baroque", "romantic-era", "chamber music"),
    "orchestral": ("orchestral",),
    "cinematic": ("cinematic", "film score", "soundtrack", "score"),
    "opera": ("opera", "operatic"),
    "reggae": ("reggae", "dub"),
    "reggaeton": ("reggaeton",),
    "ska": ("ska",),
    "latin": ("latin", "salsa", "cumbia", "bachata"),
    "flamenco": ("flamenco",),
    "tango": ("tango",),
    "forró": ("forró", "forro"),
    "celtic": ("celtic", "celtic folk"),
    "emo": ("emo", "emo rock", "emo-style"),
    "afrobeat": ("afrobeat", "afrobeats"),
    "world": ("world music",),
    "experimental": ("experimental", "avant-garde"),
    "lounge": ("lounge",),
    "chiptune": ("chiptune", "8-bit"),
    "ballad": ("ballad", "power ballad"),
    "lullaby": ("lullaby",),
    "waltz": ("waltz",),
}

MOODS: Vocab = {
    "happy": ("happy", "cheerful", "joyful", "joyous"),
    "uplifting": ("uplifting", "inspiring", "anthemic"),
    "euphoric": ("euphoric", "ecstatic"),
    "energetic": ("energetic", "high-energy", "lively"),
    "upbeat": ("upbeat",),
    "playful": ("playful", "whimsical", "quirky"),
    "hopeful": ("hopeful", "optimistic"),
    "triumphant": ("triumphant", "victorious", "heroic"),
    "epic": ("epic", "majestic"),
    "romantic": ("romantic", "sensual", "loving"),
    "tender": ("tender", "intimate"),
    "gentle": ("gentle",),
    "calm": ("calm", "tranquil", "serene", "peaceful"),
    "relaxed": ("relaxed", "relaxing", "laid-back", "laid back", "chill", "mellow"),
    "dreamy": ("dreamy", "ethereal", "hazy"),
    "nostalgic": ("nostalgic", "wistful", "sentimental"),
    "bittersweet": ("bittersweet",),
    "melancholic": ("melancholic", "melancholy", "sad", "sorrowful", "mournful", "plaintive"),
    "somber": ("somber", "sombre", "solemn", "grave"),
    "introspective": ("introspective", "reflective", "contemplative", "pensive"),
    "emotional": ("emotional", "heartfelt", "poignant"),
    "dark": ("dark", "darker", "brooding", "gloomy"),
    "mysterious": ("mysterious", "enigmatic"),
    "haunting": ("haunting", "eerie", "spooky", "ghostly"),
    "ominous": ("ominous", "menacing", "foreboding", "sinister"),
    "tense": ("tense", "suspenseful", "anxious", "urgent"),
    "dramatic": ("dramatic",),
    "aggressive": ("aggressive", "angry", "fierce", "furious"),
    "groovy": ("groovy", "funky"),
    "sexy": ("sexy", "sultry", "seductive"),
    "quirky": ("goofy",),
}

TEXTURES: Vocab = {
    "sparse": ("sparse", "minimal", "minimalist", "stripped-back", "stripped back", "stripped-down", "bare"),
    "dense": ("dense", "thick", "busy", "wall of sound"),
    "layered": ("layered",),
    "lush": ("lush", "rich"),
    "balanced": ("balanced",),
    "warm": ("warm",),
    "bright": ("bright", "brighter", "sparkling", "shimmering"),
    "airy": ("airy", "spacious"),
    "atmospheric": ("atmospheric",),
    "reverb-heavy": ("reverb-heavy", "reverberant", "drenched in reverb", "washed in reverb", "cavernous"),
    "distorted": ("distorted", "distortion", "fuzzy", "fuzz"),
    "lo-fi": ("lo-fi", "lofi", "low-fidelity", "tape hiss", "vinyl crackle"),
    "polished": ("polished", "glossy", "clean production", "crisp"),
    "raw": ("raw", "gritty", "rough"),
    "punchy": ("punchy",),
    "percussive": ("percussive", "percussion-driven", "percussion-led"),
    "driving": ("driving",),
    "hypnotic": ("hypnotic",),
    "muddy": ("muddy", "muffled"),
}

TEMPO_FEELS: Vocab = {
    "slow": ("slow", "slow tempo", "slow-paced", "slow pulse", "leisurely", "largo", "adagio"),
    "mid-tempo": ("mid-tempo", "midtempo", "moderate tempo", "medium tempo", "moderate pace", "andante"),
    "fast": ("fast", "fast-paced", "up-tempo", "uptempo", "brisk", "rapid", "allegro"),
}

# Loudness words -> a canonical level; LOUDNESS_LEVELS turns the level into an event intensity.
LOUDNESS: Vocab = {
    "very quiet": (
        "very quiet",
        "very soft",
        "quietest",
        "near silent",
        "near-silent",
        "nearly silent",
        "barely audible",
        "whisper",
        "whispered",
        "pianissimo",
    ),
    "quiet": (
        "quiet",
        "quieter",
        "quietly",
        "soft",
        "softly",
        "gentle",
        "gently",
        "hushed",
        "subdued",
        "delicate",
        "restrained",
        "low-key",
    ),
    "moderate": ("moderate", "moderately loud", "medium", "mid-level", "mezzo"),
    "loud": ("loud", "energetic", "intense", "forceful", "high-energy"),
    "very loud": (
        "very loud",
        "very intense",
        "powerful",
        "full",
        "full-on",
        "full force",
        "explosive",
        "massive",
        "thunderous",
        "fortissimo",
    ),
    "loudest": ("loudest", "maximum volume", "peak volume"),
}
LOUDNESS_LEVELS: Mapping[str, float] = {
    "very quiet": 0.15,
    "quiet": 0.3,
    "moderate": 0.5,
    "loud": 0.75,
    "very loud": 0.9,
    "loudest": 1.0,
}

# ---- structure ---------------------------------------------------------------------------------------------

# Labels are matched without plural forms: "builds" and "drops" are verbs, not sections.
SECTION_LABELS: Vocab = {
    "intro": ("intro", "introduction", "opening"),
    "verse": ("verse",),
    "pre-chorus": ("pre-chorus", "prechorus", "pre chorus"),
    "chorus": ("chorus", "refrain"),
    "post-chorus": ("post-chorus", "postchorus"),
    "hook": ("hook",),
    "bridge": ("bridge", "middle eight", "middle 8"),
    "solo": ("solo",),
    "interlude": ("interlude", "instrumental break", "instrumental section", "instrumental passage"),
    "breakdown": ("breakdown", "break"),
    "build": ("build", "build-up", "buildup"),
    "drop": ("drop",),
    "outro": ("outro", "coda", "ending"),
}
PART_LABEL = re.compile(r"\b[Pp]art\s+([A-H])\b")  # the descriptor's "Part A", "Part B" (letter kept)

# Language names as prose writes them -> ACE-Step language codes (all in schemas.VALID_LANGUAGES).
LANGUAGES: Mapping[str, str] = {
    "english": "en",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "japanese": "ja",
    "korean": "ko",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "yue",
    "portuguese": "pt",
    "italian": "it",
    "russian": "ru",
    "dutch": "nl",
    "swedish": "sv",
    "norwegian": "no",
    "danish": "da",
    "finnish": "fi",
    "polish": "pl",
    "czech": "cs",
    "hungarian": "hu",
    "romanian": "ro",
    "greek": "el",
    "turkish": "tr",
    "arabic": "ar",
    "hebrew": "he",
    "persian": "fa",
    "farsi": "fa",
    "hindi": "hi",
    "urdu": "ur",
    "bengali": "bn",
    "punjabi": "pa",
    "tamil": "ta",
    "telugu": "te",
    "thai": "th",
    "vietnamese": "vi",
    "indonesian": "id",
    "malay": "ms",
    "tagalog": "tl",
    "filipino": "tl",
    "swahili": "sw",
    "ukrainian": "uk",
    "latin": "la",
    "azerbaijani": "az",
    "azeri": "az",
    "bulgarian": "bg",
    "catalan": "ca",
    "croatian": "hr",
    "haitian creole": "ht",
    "haitian": "ht",
    "icelandic": "is",
    "lithuanian": "lt",
    "nepali": "ne",
    "sanskrit": "sa",
    "slovak": "sk",
    "serbian": "sr",
}

# ---- events ------------------------------------------------------------------------------------------------

# Regexes (matched case-insensitively), one list per schema EventType that keywords alone can decide. Entries and
# exits of voices or instruments need a subject, so they are the verbs below plus the cleaner's subject rule.
EVENT_PATTERNS: Mapping[str, Sequence[str]] = {
    "build": (
        r"\bbuild(?:s|ing)?\b(?!\s+(?:on|around|upon)\b)",
        r"\bbuild-?ups?\b",
        r"\bbuilt up\b",
        r"\b(?:rising|rises|rise)\b",
        r"\bcrescendos?\b",
        r"\bswell(?:s|ing)?\b",
        r"\bintensif(?:y|ies|ying|ied)\b",
        r"\bramp(?:s|ing)? up\b",
        r"\bgrow(?:s|ing)? (?:louder|stronger|more intense|in intensity)\b",
        r"\bescalat(?:es|ing|ion)\b",
    ),
    "drop": (
        r"\b(?:the|a|big|huge|massive|heavy|hard|first|second|final|main|bass|beat)\s+drop\b"
        r"(?!\s*(?:out|back|off|away|down|to|in|of)\b)",
        r"\b(?:beat|bass)\s+drops\b(?!\s+(?:out|back|off|away|down|to)\b)",
        r"\bdrop (?:hits|kicks in|lands)\b",
    ),
    "breakdown": (
        r"\bbreak-?downs?\b",
        r"\bbreaks? down\b",
        r"\bdrop(?:s|ping|ped)? (?:back|down|away)\b",
        r"\bdrop(?:s|ping|ped)? to (?:a|near|almost|just)\b",
        r"\bdrops? (?:in|of) (?:energy|intensity|volume|dynamics)\b",
        r"\benergy (?:drops|dips|falls away)\b",
        r"\bthin(?:s|ning|ned)? out\b",
        r"\bstrip(?:s|ping|ped)? (?:back|down)\b",
        r"\bpull(?:s|ing|ed)? back\b",
        r"\b(?:everything|the band|the beat|the instruments|the arrangement) drops? out\b",
    ),
    "peak": (
        r"\bloudest\b",
        r"\bpeak(?:s|ing)?\b",
        r"\bclimax(?:es)?\b",
        r"\bclimactic\b",
        r"\bhigh point\b",
        r"\bmost intense\b",
        r"\bapex\b",
        r"\bculminat(?:es|ing|ion)\b",
    ),
    "fade_in": (r"\bfad(?:es|ing|ed|e) in\b", r"\bfade-in\b", r"\bfades? up\b"),
    "fade_out": (
        r"\bfad(?:es|ing|ed|e) (?:out|away)\b",
        r"\bfade-?out\b",
        r"\bfad(?:es|ing|ed|e) to (?:silence|nothing|black)\b",
        r"\bdies? away\b",
    ),
    "silence": (
        r"(?<!to )(?<!into )(?<!near )(?<!near-)(?<!almost )\bsilence\b",
        r"\bdead air\b",
        r"\b(?:brief|short|dramatic|sudden|long) (?:pause|rest|gap)\b",
    ),
    "key_change": (
        r"\bkey (?:change|shift|modulation)s?\b",
        r"\bchanges? (?:the )?key\b",
        r"\bmodulat(?:es?|ing|ed) (?:up|down|to|into)\b",
        r"\bmodulation (?:up|down|to|into)\b",
        r"\b(?:up|down) (?:a|one) (?:key|semitone|half[- ]step|whole[- ]step|tone)\b",
        r"\bnew key\b",
    ),
    "tempo_change": (
        r"\btempo (?:change|shift)s?\b",
        r"\bchanges? (?:the )?tempo\b",
        r"\btempo (?:increases|decreases|drops|rises|picks up|slows)\b",
        r"\bslow(?:s|ing)? down\b",
        r"\bslows\b",
        r"\bspeed(?:s|ing)? up\b",
        r"\bpicks up the pace\b",
        r"\baccelerat(?:es|ing|ion)\b",
        r"\b(?:ritardando|rallentando|accelerando|ritard)\b",
        r"\b(?:half|double)[- ]time\b",
    ),
    "texture_change": (
        r"\btexture (?:change|shift)s?\b",
        r"\bchange (?:in|of) texture\b",
        r"\btexture (?:changes|shifts|opens up|thickens)\b",
    ),
}

# "<subject> enters", "<subject> drops out"; the subject decides vocal_* vs instrument_*.
ENTRY_VERBS = (
    r"\b(?:enters?|entering|entered|comes? in|coming in|came in|comes? back|joins?|joined|joining|"
    r"kicks? in|kicking in|kicked in|appears?|appearing|emerges?|emerging|returns?|returning|"
    r"(?:is|are) introduced|(?:begins?|starts?|began|started) (?:to )?(?:sing|play|rap)\w*|"
    r"fades? in|fading in)\b"
)
EXIT_VERBS = (
    r"\b(?:drops? out|dropping out|dropped out|drops? away|stops?|stopping|stopped|exits?|exiting|"
    r"disappears?|disappearing|falls? silent|goes silent|cuts? out|cutting out|"
    r"fades? (?:out|away)|fading (?:out|away)|recedes?|ceases?)\b"
)
# "introduces <object>", "joined by <object>": the object decides.
OBJECT_ENTRY_VERBS = (
    r"\b(?:introduc(?:es|ing|ed)|adds?|adding|added|brings? in|bringing in|brought in|joined by|"
    r"addition of|layers? in|ushers? in)\b"
)

# ---- matching ----------------------------------------------------------------------------------------------

_NEGATORS = (
    r"(?:\b(?:no|not|without|lacking|lacks|lack of|absent|absence of|free of|nor|never|zero|"
    r"instead of|rather than)|(?<!\ba )\blittle)"
)
_NEGATED_BEFORE = re.compile(_NEGATORS + r"(?:\s+[\w'&/-]+){0,3}\s*$", re.IGNORECASE)
_SCOPE_END = re.compile(r"[,.;:!?()\[\]\n]")


def _form_pattern(form: str, plurals: bool) -> str:
    words = [w for w in re.split(r"[\s-]+", form.strip().lower()) if w]
    body = r"[\s-]*".join(re.escape(w) for w in words)
    if plurals and words[-1][-1].isalpha():
        body += r"(?:e?s)?"
    return body


@lru_cache(maxsize=256)
def _vocab_regex(
    items: tuple[tuple[str, tuple[str, ...]], ...], plurals: bool
) -> tuple[re.Pattern[str], list[str]]:
    """One alternation over every form, longest first, so a scan finds the longest form at each position."""
    forms = sorted(
        {(form.lower(), canonical) for canonical, fs in items for form in (canonical, *fs)},
        key=lambda fc: (-len(fc[0]), fc[0]),
    )
    groups = "|".join(f"(?P<g{i}>{_form_pattern(form, plurals)})" for i, (form, _) in enumerate(forms))
    pattern = re.compile(rf"(?<![\w-])(?:{groups})(?![\w]|-(?:range|like)\b)", re.IGNORECASE)
    return pattern, [canonical for _, canonical in forms]


def is_negated(text: str, start: int) -> bool:
    """Whether the mention at `start` sits in the scope of a negator (same comma-free clause)."""
    before = text[max(0, start - 60) : start]
    cuts = [m.end() for m in _SCOPE_END.finditer(before)]
    if cuts:
        before = before[cuts[-1] :]
    return bool(_NEGATED_BEFORE.search(before))


def find_term_spans(
    text: str, vocab: Vocab, *, plurals: bool = True, negation: bool = True
) -> list[tuple[str, int, int]]:
    """Every non-overlapping mention as (canonical, start, end), in text order; longest form wins."""
    items = tuple((canonical, tuple(forms)) for canonical, forms in vocab.items())
    pattern, canonicals = _vocab_regex(items, plurals)
    spans: list[tuple[str, int, int]] = []
    for m in pattern.finditer(text):
        if negation and is_negated(text, m.start()):
            continue
        spans.append((canonicals[int(m.lastgroup[1:])], m.start(), m.end()))  # type: ignore[index]
    return spans


def find_terms(
    text: str, vocab: Vocab, *, plurals: bool = True, negation: bool = True, drop_generic: bool = False
) -> list[str]:
    """Canonical tags mentioned in `text`, deduplicated, in first-mention order.

    `drop_generic` removes a tag when a more specific one that ends with it was also found
    ("guitar" beside "acoustic guitar", "rock" beside "indie rock"), since the prose usually
    means the same thing by both.
    """
    terms: list[str] = []
    for canonical, _, _ in find_term_spans(text, vocab, plurals=plurals, negation=negation):
        if canonical not in terms:
            terms.append(canonical)
    if drop_generic:
        terms = [t for t in terms if not any(o != t and o.endswith(" " + t) for o in terms)]
    return terms


def loudness_levels(text: str) -> list[float]:
    """The loudness level of each loudness word in `text`, in text order."""
    return [LOUDNESS_LEVELS[c] for c, _, _ in find_term_spans(text, LOUDNESS, plurals=False)]
