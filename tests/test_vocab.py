"""The shared vocabularies and their matcher: whole words, plurals, negation, longest form, mention order."""

from __future__ import annotations

import itertools

import pytest

from songset.schemas import VALID_LANGUAGES
from songset.vocab import (
    GENRES,
    INSTRUMENTS,
    LANGUAGES,
    LOUDNESS,
    LOUDNESS_LEVELS,
    MOODS,
    SECTION_LABELS,
    TEXTURES,
    VOCAL_WORDS,
    find_term_spans,
    find_terms,
    is_negated,
    loudness_levels,
)


def test_multiword_plural_and_first_mention_order() -> None:
    text = "Strings and a string section, then acoustic guitars over drums; the guitar returns."
    assert find_terms(text, INSTRUMENTS) == ["strings", "acoustic guitar", "drums", "guitar"]
    assert find_terms(text, INSTRUMENTS, drop_generic=True) == ["strings", "acoustic guitar", "drums"]


def test_longest_form_wins_and_hyphen_spellings() -> None:
    assert find_terms("an indie rock song", GENRES) == ["indie rock"]
    assert find_terms("hip-hop and hip hop and hiphop", GENRES) == ["hip hop"]
    assert find_terms("synth-pop with a synth bass", GENRES) == ["synth-pop"]
    assert find_terms("a synth bass under the synths", INSTRUMENTS) == ["synth bass", "synth"]


def test_whole_words_only() -> None:
    assert find_terms("a soulful, organic, harpsichord-like sound", GENRES) == []
    assert find_terms("organic textures", INSTRUMENTS) == []
    assert find_terms("harpsichord and harp", INSTRUMENTS) == ["harpsichord", "harp"]
    assert find_terms("the pre-chorus", SECTION_LABELS, plurals=False) == ["pre-chorus"]


def test_vocal_range_phrase_is_not_a_vocal() -> None:
    assert find_terms("strong vocal-range activity", VOCAL_WORDS) == []
    assert find_terms("a piano-like pad", INSTRUMENTS) == ["synth pad"]
    assert find_terms("lead vocals", VOCAL_WORDS) == ["vocals"]


def test_negation() -> None:
    text = "Mostly harmonic texture with little percussion, no drums or bass, and a little piano."
    assert find_terms(text, INSTRUMENTS) == ["piano"]
    assert find_terms("without vocals", VOCAL_WORDS) == []
    assert find_terms("without vocals", VOCAL_WORDS, negation=False) == ["vocals"]
    # a comma ends the scope: the piano is not negated here
    assert find_terms("without percussion, the piano carries the tune", INSTRUMENTS) == ["piano"]
    assert is_negated("no drums", 3)
    assert not is_negated("drums", 0)


def test_labels_do_not_take_plurals() -> None:
    assert find_terms("the energy builds and drops back", SECTION_LABELS, plurals=False) == []
    assert find_terms("the build-up before the drop", SECTION_LABELS, plurals=False) == ["build", "drop"]


def test_spans_are_in_text_order_and_do_not_overlap() -> None:
    spans = find_term_spans("electric guitar, bass guitar and drums", INSTRUMENTS)
    assert [s[0] for s in spans] == ["electric guitar", "bass", "drums"]
    assert all(a[2] <= b[1] for a, b in itertools.pairwise(spans))


def test_loudness_levels() -> None:
    assert loudness_levels("Quiet intro, then very loud; the loudest passage") == [0.3, 0.9, 1.0]
    assert loudness_levels("not loud at all") == []
    assert set(LOUDNESS) == set(LOUDNESS_LEVELS)
    assert all(0 <= v <= 1 for v in LOUDNESS_LEVELS.values())


def test_language_codes_are_ace_step_codes() -> None:
    assert set(LANGUAGES.values()) <= set(VALID_LANGUAGES)
    assert LANGUAGES["cantonese"] == "yue" and LANGUAGES["mandarin"] == "zh"


def test_every_ace_step_language_has_a_name() -> None:
    """A song sung in Catalan or Croatian must not lose its language because prose or a transcriber named it."""
    assert set(VALID_LANGUAGES) - {"unknown"} <= set(LANGUAGES.values())


def test_whisper_language_names_map_to_their_codes() -> None:
    """OpenAI-style transcription servers report Whisper's language name ("haitian creole"), not its code."""
    tokenization = pytest.importorskip("transformers.models.whisper.tokenization_whisper")
    for code, name in tokenization.LANGUAGES.items():
        if code in VALID_LANGUAGES:
            assert LANGUAGES.get(name) == code, (code, name)


def test_vocabularies_are_lowercase_and_canonical_names_unique() -> None:
    seen: dict[str, str] = {}
    for vocab in (INSTRUMENTS, GENRES, MOODS, TEXTURES):
        for canonical, forms in vocab.items():
            assert canonical == canonical.lower()
            for form in forms:
                assert form == form.lower(), form
                assert seen.setdefault(f"{id(vocab)}:{form}", canonical) == canonical, form
