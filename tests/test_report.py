"""The quality report on small synthetic corpora whose answers are known by construction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from songset.report import (
    QualityReport,
    ReportSettings,
    build_report,
    compare_annotation_dirs,
    corpus_texts,
    load_annotations,
    load_durations,
    load_sidecars,
    load_texts,
    minhash_near_duplicates,
    normalise,
    plots_data,
    render_markdown,
    skeleton,
    split_sentences,
    stack_group,
    template_threshold,
)

SETTINGS = ReportSettings(
    ngram_min=3,
    ngram_max=6,
    template_min_other_songs=1,
    template_min_song_share=0.3,
    near_duplicate_threshold=0.8,
    near_duplicate_shingle=5,
    worst_songs=10,
    top_phrases=20,
)

INSTRUMENTS = ["piano", "cello", "synth", "trumpet", "guitar", "violin", "organ", "flute"]
ADJECTIVES = ["warm", "bright", "gritty", "airy", "dark", "glassy", "dusty", "lush"]
MOODS = ["wistful", "tense", "playful", "somber", "dreamy", "urgent", "calm", "hopeful"]
DRUMS = ["brushed", "booming", "crisp", "muted", "tight", "loose", "heavy", "light"]


def template_song(i: int) -> str:
    """One LLM template, slots filled differently per song: what the user's outputs looked like."""
    instr, adj, mood, drum = INSTRUMENTS[i], ADJECTIVES[i], MOODS[i], DRUMS[i]
    return (
        f"[0:00-0:{15 + i:02d}] The track opens with a {adj} {instr} line that sets a {mood} tone for "
        f"the rest of the piece. [0:{15 + i:02d}-0:45] The {instr} enters at 0:{15 + i:02d}, adding {adj} "
        f"texture. Around 0:45 the {drum} drums come in and the energy rises steadily toward the chorus. "
        f"[0:45-1:30] The mix stays balanced throughout, with the {instr} carrying the melody until "
        f"the final fade."
    )


DIFFERENT = {
    "a": "Distorted baritone guitars grind against a lurching drum machine while feedback howls underneath.",
    "b": "Solo harp arpeggios ripple gently; no percussion appears, and reverb tails bloom between phrases.",
    "c": "Brass stabs punctuate a funky bassline. Congas chatter busily. Horns trade riffs near the end.",
    "d": "Choir voices hum sustained minor chords. Timpani rolls swell, receding into hushed silence again.",
    "e": "Chiptune square waves bounce quickly over arpeggiated triangle bass, looping an eight-bar hook.",
    "f": "Field recordings of rain mix with detuned tape piano; crackle drifts in and out.",
}

LONG_TEXT = (
    "The song begins with a lonely acoustic guitar figure played high on the neck, joined after a few "
    "bars by a soft shaker and a low hum of organ. A hushed female voice sings the first verse close to "
    "the microphone, her phrases leaving space for the guitar to answer. By the chorus a warm bass line "
    "and brushed snare lift the arrangement, and a second vocal harmony doubles the melody an octave "
    "above. The bridge strips everything back to voice and organ before the full band returns for a "
    "final chorus that fades on a sustained chord."
)


def build(texts: dict[str, str], **kwargs: Any) -> QualityReport:
    return build_report(texts, settings=SETTINGS, **kwargs)


def per_song(report: QualityReport) -> dict[str, Any]:
    return {p.id: p for p in report.per_song}


# ---- settings ----------------------------------------------------------------------------------------------


def test_settings_from_config_dict_ignores_target_and_rejects_typos() -> None:
    s = ReportSettings.model_validate({"_target_": "x.y", "ngram_min": 2, "ngram_max": 4, "worst_songs": 3})
    assert (s.ngram_min, s.ngram_max, s.worst_songs) == (2, 4, 3)
    assert (s.template_min_other_songs, s.template_min_song_share) == (3, 0.02)
    with pytest.raises(ValueError):
        ReportSettings.model_validate({"ngram_mim": 2})
    with pytest.raises(ValueError):
        ReportSettings(ngram_min=5, ngram_max=3)


def test_settings_match_the_shipped_config() -> None:
    import yaml

    conf = yaml.safe_load((Path(__file__).parents[1] / "conf/report/default.yaml").read_text())
    assert ReportSettings.model_validate(conf) == ReportSettings()


# ---- text primitives ---------------------------------------------------------------------------------------


def test_normalise_strips_timestamps_case_and_markup() -> None:
    a = "[0:00-0:18] The PIANO enters at 0:15,  adding warm texture."
    b = "**0:00 – 0:20**: the piano enters at 1:02, adding   WARM texture"
    assert normalise(a) == normalise(b) == "the piano enters at adding warm texture"


def test_skeleton_keeps_function_words_and_abstracts_the_rest() -> None:
    assert skeleton("The piano enters at 0:15, adding warm texture.") == "the X at NUM, X"
    assert skeleton("The electric cello enters at 1:02, adding glassy shimmer.") == "the X at NUM, X"
    assert skeleton("Drums join at 120 BPM with the bass") == "X at NUM X with the X"


def test_sentences_split_on_markers_and_punctuation() -> None:
    text = "[0:00-0:10] Soft intro. Strings rise!\n0:10 - Drums enter? Yes"
    assert split_sentences(text) == ["Soft intro.", "Strings rise!", "Drums enter?", "Yes"]


def test_template_threshold() -> None:
    assert template_threshold(0, 0.3) == 1
    assert template_threshold(1, 0.3) == 1
    assert template_threshold(11, 0.3) == 3
    assert template_threshold(26, 0.28) == 7  # 0.28 * 25 is 7.000000000000001 in floating point
    assert template_threshold(12, 0.3) == 4


# ---- cross-song reuse --------------------------------------------------------------------------------------


def test_template_corpus_has_high_reuse_but_no_duplicates() -> None:
    texts = {f"song{i}": template_song(i) for i in range(8)}
    report = build(texts)
    assert report.songs == 8
    assert report.template_min_songs == 3  # ceil(0.3 * 7)
    assert report.template_reuse > 0.3  # n-grams with under two content words are English, not template
    assert report.skeleton_reuse == 1.0
    assert report.exact_duplicate_songs == 0
    assert all(p.duplicate_of is None for p in report.per_song)
    phrases = {p.phrase: p.songs for p in report.top_phrases}
    assert phrases["the track opens with a"] == 8
    # grown past ngram_max (6) into the whole shared span, listed first as the longest
    assert report.top_phrases[0].phrase == "drums come in and the energy rises steadily toward the chorus"
    assert report.top_phrases[0].words == 11
    assert "the energy rises steadily toward the" not in phrases
    assert phrases["the mix stays balanced throughout with the"] == 8
    # maximal phrases only: a sub-phrase in exactly the same songs is not listed beside its extension
    assert "track opens with" not in phrases
    assert "mix stays balanced" not in phrases
    top = report.top_skeletons[0]
    assert top.songs == 8
    assert "the X at NUM, X" in {s.skeleton for s in report.top_skeletons}
    # every song shows template phrases in the worst-offender list
    assert len(report.worst_by_template_reuse) == 8
    assert all(p.top_phrases for p in report.per_song)


def test_different_texts_have_low_reuse() -> None:
    report = build(DIFFERENT)
    assert report.template_reuse == 0.0
    assert report.skeleton_reuse == 0.0
    assert report.top_phrases == []
    assert report.near_duplicate_pairs == []
    assert report.worst_by_template_reuse == []


def test_template_reuse_scores_the_templated_song_above_original_ones() -> None:
    texts = dict(DIFFERENT) | {f"t{i}": template_song(i) for i in range(4)}
    songs = per_song(build(texts))
    assert min(songs[f"t{i}"].template_reuse for i in range(4)) > 0.3
    assert max(songs[k].template_reuse for k in DIFFERENT) == 0.0


def test_exact_duplicate_differing_in_timestamps_and_case() -> None:
    texts = dict(DIFFERENT)
    texts["dup"] = "[0:00-0:12] " + DIFFERENT["c"].upper().replace("Congas", "  congas")
    texts["c"] = "[0:00-0:10] " + DIFFERENT["c"]
    report = build(texts)
    assert report.exact_duplicate_songs == 1
    assert report.exact_duplicate_groups == [["c", "dup"]]
    songs = per_song(report)
    assert songs["dup"].duplicate_of == "c"
    assert songs["c"].duplicate_of is None
    assert ["c", "dup", 1.0] in [list(p) for p in report.near_duplicate_pairs]
    md = render_markdown(report)
    assert "| dup | c | exact copy |" in md
    assert "| c | dup | 1 |" not in md  # listed once, as the exact copy it is


def test_near_duplicate_with_one_word_changed() -> None:
    texts = dict(DIFFERENT) | {"x": LONG_TEXT, "y": LONG_TEXT.replace("lonely", "lovely")}
    report = build(texts)
    assert report.exact_duplicate_songs == 0
    assert len(report.near_duplicate_pairs) == 1
    a, b, sim = report.near_duplicate_pairs[0]
    n = len(normalise(LONG_TEXT).split()) - 4  # 5-gram shingles per text
    assert (a, b) == ("x", "y")
    assert sim == pytest.approx((n - 5) / (n + 5), abs=1e-4)
    assert sim >= 0.8
    assert per_song(report)["x"].near_duplicates == ["y"]
    assert report.near_duplicate_songs == 2


def test_near_duplicate_pairs_exact_jaccard() -> None:
    sets = [np.array(sorted(x), dtype=np.uint64) for x in ({1, 2, 3, 4}, {1, 2, 3, 5}, {1, 2, 3, 4}, set())]
    pairs = minhash_near_duplicates(sets, ["s0", "s1", "s2", "s3"], threshold=0.5, lsh_threshold=0.3)
    assert pairs == [("s0", "s2", 1.0), ("s0", "s1", 0.6), ("s1", "s2", 0.6)]


# ---- within-song repetition --------------------------------------------------------------------------------


def test_looping_text_scores_high_within_repetition() -> None:
    looped = " ".join(["The piano plays a soft melody over gentle strings."] * 5)
    report = build({"loop": looped, "varied": LONG_TEXT})
    songs = per_song(report)
    assert songs["loop"].repeated_sentence_share == 0.8
    assert songs["loop"].within_repetition > 0.75
    assert songs["varied"].repeated_sentence_share == 0.0
    assert songs["varied"].within_repetition < 0.05
    assert songs["varied"].distinct_3 == 1.0
    assert songs["loop"].compression_ratio < songs["varied"].compression_ratio
    assert report.worst_by_within_repetition[0] == "loop"


def test_repeated_segments_counted() -> None:
    text = (
        "[0:00-0:15] Soft piano chords.\n"
        "[0:15-0:30] Soft piano chords continue.\n"
        "[0:30-0:45] Drums enter with energy.\n"
        "[0:45-1:00] soft PIANO chords"
    )
    songs = per_song(build({"s": text}, durations={"s": 60.0}))
    assert songs["s"].segments == 4
    assert songs["s"].repeated_segments == 2
    assert songs["s"].segments_per_minute == 4.0


def test_lengths_and_durations_from_sidecars() -> None:
    text = "0:00 - Calm intro. Pads swell.\n0:30 - Beat drops."
    report = build({"s": text}, sidecars={"s": sidecar(duration=120.0)})
    song = report.per_song[0]
    assert (song.words, song.sentences, song.segments) == (6, 3, 2)
    assert song.duration == 120.0
    assert song.segments_per_minute == 1.0
    assert report.mean_segments_per_minute == 1.0


# ---- sidecars and failures ---------------------------------------------------------------------------------


def sidecar(
    *,
    bpm: int | None = 120,
    keyscale: str | None = "C major",
    timesignature: str | None = "4",
    lyrics: str | None = "[Instrumental]",
    language: str | None = None,
    tokens: int = 100,
    flags: list[str] | None = None,
    omitted: dict[str, str] | None = None,
    duration: float = 180.0,
) -> dict[str, Any]:
    return {
        "caption": "warm piano ballad",
        "lyrics": lyrics,
        "bpm": bpm,
        "keyscale": keyscale,
        "timesignature": timesignature,
        "language": language,
        "vocal_language": language,  # build_sidecar writes both for a sung song (the report counts this one)
        "duration": duration,
        "source": {
            "caption_tokens": tokens,
            "flags": flags or [],
            "omitted": omitted or {},
            "confidences": {"bpm": 0.9 if bpm else 0.2},
        },
    }


def test_sidecar_coverage() -> None:
    sidecars = {
        "a": sidecar(lyrics="la la la", language="en", tokens=80),
        "b": sidecar(bpm=None, omitted={"bpm": "confidence 0.21 below 0.50"}, tokens=120),
        "c": sidecar(
            keyscale=None,
            timesignature=None,
            omitted={"bpm": "confidence 0.33 below 0.50", "keyscale": "confidence 0.1 below 0.4"},
            flags=["caption_over_budget", "over_240s"],
            tokens=400,
            bpm=None,
        ),
        "d": sidecar(lyrics="  "),
    }
    report = build({k: LONG_TEXT + k for k in sidecars}, sidecars=sidecars)
    assert report.sidecars == 4
    assert report.bpm_coverage == 0.5
    assert report.key_coverage == 0.75
    assert report.timesignature_coverage == 0.75
    assert report.lyrics_coverage == 0.25
    assert report.language_coverage == 0.25
    assert report.mean_caption_tokens == 175.0
    assert report.max_caption_tokens == 400
    assert report.captions_over_budget == 1
    assert report.songs_over_240s == 1
    assert report.omitted_fields == {  # the song's own value out, the threshold kept: readable
        "bpm": {"confidence below 0.50": 2},
        "keyscale": {"confidence below 0.4": 1},
    }
    assert report.mean_confidences == {"bpm": pytest.approx(0.55)}


def test_no_sidecars_means_unmeasured_not_zero() -> None:
    report = build({"a": LONG_TEXT})
    assert report.sidecars == 0
    assert report.bpm_coverage is None
    assert report.mean_caption_tokens is None


def test_failures_counted_by_stage_and_reason_without_double_counting() -> None:
    f1 = {"id": "bad", "file": "data/audio/bad.ogg", "stage": "annotate", "reason": "timeout after 30 s"}
    f2 = {"id": "worse", "file": "data/audio/worse.ogg", "stage": "annotate", "reason": "timeout after 45 s"}
    f3 = {"id": "bad", "file": "data/audio/bad.ogg", "stage": "estimate", "reason": "no audio"}
    summaries = [
        {
            "stage": "annotate",
            "songs": 3,
            "computed": ["ok"],
            "cached": [],
            "failed": [f1, f2],
            "wall_time_s": 1.5,
        },
        {
            "stage": "estimate",
            "songs": 3,
            "computed": [],
            "cached": ["ok"],
            "failed": [f3],
            "wall_time_s": 0.2,
        },
    ]
    report = build({"ok": LONG_TEXT}, failures=[f1], stage_summaries=summaries, allow_partial=True)
    assert report.failures == 3
    assert report.failed_songs == 2
    assert report.failures_by_stage == {"annotate": 2, "estimate": 1}
    assert report.failures_by_reason == {"no audio": 1, "timeout after # s": 2}
    assert report.partial is True
    assert report.accepted is True
    assert [(s.stage, s.computed, s.cached, s.failed) for s in report.stages] == [
        ("annotate", 1, 0, 2),
        ("estimate", 0, 1, 1),
    ]
    strict = build({"ok": LONG_TEXT}, failures=[f1])
    assert (strict.partial, strict.accepted) == (False, False)
    md = render_markdown(report)
    assert "| data/audio/bad.ogg | estimate | no audio |" in md


# ---- shape and edge cases ----------------------------------------------------------------------------------

REQUIRED_KEYS = {
    "songs",
    "failures",
    "exact_duplicate_songs",
    "near_duplicate_pairs",
    "template_reuse",
    "skeleton_reuse",
    "within_repetition",
    "mean_caption_tokens",
    "bpm_coverage",
    "key_coverage",
    "per_song",
    "top_phrases",
    "top_skeletons",
    "failures_by_stage",
}
PER_SONG_KEYS = {
    "id",
    "template_reuse",
    "within_repetition",
    "duplicate_of",
    "words",
    "sentences",
    "segments_per_minute",
    "skeleton_reuse",
    "distinct_3",
    "compression_ratio",
}


def test_json_has_required_keys_and_plain_numbers() -> None:
    texts = {f"song{i}": template_song(i) for i in range(4)}
    data = json.loads(build(texts, sidecars={"song0": sidecar()}).model_dump_json())
    assert data.keys() >= REQUIRED_KEYS
    assert data["per_song"][0].keys() >= PER_SONG_KEYS
    for key in ("songs", "failures", "template_reuse", "skeleton_reuse", "within_repetition", "bpm_coverage"):
        assert isinstance(data[key], int | float) and not isinstance(data[key], bool)
    assert data["near_duplicate_pairs"] == []  # four different songs: no pairs
    texts["copy"] = texts["song1"]
    pairs = json.loads(build(texts).model_dump_json())["near_duplicate_pairs"]
    assert pairs and all(isinstance(p, list) and len(p) == 3 for p in pairs)
    assert ["song1", "copy"] in [sorted(p[:2], key=["song1", "copy"].index) for p in pairs]


def test_single_song_corpus() -> None:
    report = build({"only": LONG_TEXT})
    assert report.songs == 1
    assert report.template_reuse == 0.0
    assert report.skeleton_reuse == 0.0
    assert report.near_duplicate_pairs == []
    assert report.per_song[0].words == len(normalise(LONG_TEXT).split())
    assert render_markdown(report).startswith("# Dataset quality report")


def test_empty_corpus() -> None:
    report = build({})
    assert report.songs == 0
    assert report.template_reuse == 0.0
    assert report.within_repetition == 0.0
    assert report.per_song == []
    assert "0 songs" in render_markdown(report)
    assert all(rows == [] for rows in plots_data(report).values())


def test_empty_and_timestamp_only_texts_are_not_duplicates_of_each_other() -> None:
    report = build({"a": "", "b": "[0:00-0:10]", "c": LONG_TEXT})
    assert report.empty_texts == 2
    assert report.exact_duplicate_songs == 0
    assert per_song(report)["b"].within_repetition == 0.0


def test_plots_data_rows_per_song() -> None:
    texts = {f"song{i}": template_song(i) for i in range(3)}
    plots = plots_data(build(texts, durations={"song0": 90.0}))
    assert [r["id"] for r in plots["template_reuse"]] == ["song0", "song1", "song2"]
    assert set(plots["words"][0]) == {"id", "words"}
    assert plots["segments_per_minute"] == [{"id": "song0", "segments_per_minute": 2.0}]


def test_markdown_lists_worst_offenders_with_their_phrases() -> None:
    texts = dict(DIFFERENT) | {f"t{i}": template_song(i) for i in range(4)}
    md = render_markdown(build(texts, sidecars={"t0": sidecar()}))
    for heading in ("## Headline", "### By template reuse", "## Top reused phrases", "## Sidecar coverage"):
        assert heading in md
    worst_section = md.split("### By template reuse")[1].split("###")[0]
    assert "| t0 |" in worst_section and "| a |" not in worst_section
    assert "“drums come in and the energy rises steadily toward the chorus”" in worst_section


# ---- loading -----------------------------------------------------------------------------------------------


def test_load_texts(tmp_path: Path) -> None:
    (tmp_path / "raw.json").write_text(json.dumps({"id": "song-a", "text": "raw prose"}))
    (tmp_path / "clean.json").write_text(json.dumps({"id": "song-b", "rich_details": "clean prose"}))
    (tmp_path / "noid.json").write_text(json.dumps({"text": "stem named"}))
    (tmp_path / "meta.json").write_text(json.dumps({"id": "m", "bpm": 120}))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text(json.dumps({"text": "ignored"}))
    assert load_texts(tmp_path) == {"song-a": "raw prose", "song-b": "clean prose", "noid": "stem named"}


def test_failure_reasons_group_across_files() -> None:
    fails = [
        {
            "id": s,
            "file": f"data/audio/{s}.ogg",
            "stage": "estimate",
            "reason": f"data/audio/{s}.ogg: frames={n}",
        }
        for s, n in (("p", 0), ("q", 12))
    ]
    report = build({}, failures=fails)
    assert report.failures_by_reason == {"frames=#": 2}
    assert (report.failures, report.failed_songs, report.partial, report.accepted) == (2, 2, False, False)


def test_load_helpers(tmp_path: Path) -> None:
    (tmp_path / "s1.json").write_text(json.dumps({"id": "s1", "text": "x", "duration": 93.5}))
    (tmp_path / "s2.json").write_text(json.dumps(sidecar(duration=61.0)))
    assert load_durations(tmp_path) == {"s1": 93.5, "s2": 61.0}
    assert list(load_sidecars(tmp_path)) == ["s2"]


def test_stage_summaries_are_read_with_the_pipeline_loader(tmp_path: Path) -> None:
    from songset.stages.base import load_stage_summaries

    summary = {"stage": "annotate", "songs": 1, "computed": [], "cached": [], "failed": []}
    summary |= {"wall_time_s": 0.1, "settings_sha256": ""}
    (tmp_path / "annotate.json").write_text(json.dumps(summary))
    assert [s.stage for s in load_stage_summaries(tmp_path)] == ["annotate"]


# ---- planted problems among many varied texts --------------------------------------------------------------


def varied_corpus(n: int, seed: int = 3) -> dict[str, str]:
    import random

    rng = random.Random(seed)
    syll = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    vocab = ["".join(rng.choice(syll) for _ in range(3)) for _ in range(2000)]
    return {
        f"v{i:02d}": "\n".join(
            f"[0:{j * 10:02d}-0:{j * 10 + 10:02d}] " + " ".join(rng.choice(vocab) for _ in range(14)) + "."
            for j in range(5)
        )
        for i in range(n)
    }


def test_planted_duplicates_near_duplicates_and_templates_are_found_and_ranked_first() -> None:
    texts = varied_corpus(14)
    texts |= {f"t{i}": template_song(i) for i in range(8)}
    texts["v99"] = texts["v03"].upper()  # exact copy
    texts |= {"x": LONG_TEXT, "y": LONG_TEXT.replace("lonely", "lovely")}
    settings = SETTINGS.model_copy(update={"template_min_song_share": 0.2})
    report = build_report(texts, settings=settings)
    assert report.template_min_songs == 5
    assert set(report.worst_by_template_reuse[:8]) == {f"t{i}" for i in range(8)}
    songs = per_song(report)
    assert all(songs[k].template_reuse == 0.0 for k in texts if k.startswith("v") or k in "xy")
    assert [tuple(p[:2]) for p in report.near_duplicate_pairs] == [("v03", "v99"), ("x", "y")]
    assert report.near_duplicate_pairs[0][2] == 1.0
    assert songs["v99"].duplicate_of == "v03"
    assert report.exact_duplicate_songs == 1


def test_near_duplicate_pairs_match_all_pairs_jaccard() -> None:
    """Above the reported threshold, MinHash LSH + exact verification finds what brute force finds."""
    import random

    rng = random.Random(11)
    base = [{rng.randrange(10**6) for _ in range(rng.randint(20, 60))} for _ in range(40)]
    sets = base + [set(list(s)[: len(s) - 2]) | {10**7 + i} for i, s in enumerate(base[:15])]
    ids = [f"s{i:02d}" for i in range(len(sets))]
    arrays = [np.array(sorted(x), dtype=np.uint64) for x in sets]
    want = sorted(
        (
            (ids[i], ids[j], round(len(a & b) / len(a | b), 4))
            for i, a in enumerate(sets)
            for j, b in enumerate(sets)
            if i < j and len(a & b) / len(a | b) >= 0.8
        ),
        key=lambda p: (-p[2], p[0], p[1]),
    )
    assert len(want) == 15
    assert minhash_near_duplicates(arrays, ids, threshold=0.8) == want


# ---- stacks and experiments --------------------------------------------------------------------------------


def raw(sid: str, text: str, backend: str = "descriptor", **prov: Any) -> str:
    return json.dumps({"id": sid, "text": text, "provenance": {"backend": backend, **prov}})


def test_stack_group_key() -> None:
    assert stack_group({"backend": "descriptor", "model_id": None}) == "descriptor"
    prov = {"backend": "af3_hf", "model_id": "nvidia/audio-flamingo-3-hf", "adapter": "think"}
    assert stack_group(prov) == "af3_hf:nvidia/audio-flamingo-3-hf+think"
    # the prompt is not part of the stack: its variants are grouped under it
    assert stack_group(prov | {"prompt": {"sha256": "abcdef0123456789"}}) == stack_group(prov)
    assert stack_group(None) == "unknown"


def two_stack_dir(root: Path) -> Path:
    (root / "desc").mkdir(parents=True)
    (root / "af3").mkdir()
    for i in range(8):
        (root / "desc" / f"t{i}.json").write_text(raw(f"t{i}", template_song(i)))
    for i, (sid, text) in enumerate(sorted(DIFFERENT.items())):
        (root / "af3" / f"t{i}.json").write_text(raw(f"t{i}", text, "af3_hf", model_id="nvidia/af3"))
        del sid
    return root


def test_load_annotations_recurses_and_keeps_one_song_per_stack(tmp_path: Path) -> None:
    records = load_annotations(two_stack_dir(tmp_path))
    assert len(records) == 14
    assert {r.group for r in records} == {"descriptor", "af3_hf:nvidia/af3"}
    assert sum(1 for r in records if r.id == "t0") == 2
    keys = corpus_texts(records)
    assert "descriptor/t0" in keys and "af3_hf:nvidia/af3/t0" in keys
    (tmp_path / "desc" / "copy.json").write_text(raw("t0", "again"))
    with pytest.raises(ValueError, match="t0"):
        load_annotations(tmp_path)


def test_by_stack_measures_each_stack_on_its_own(tmp_path: Path) -> None:
    from songset.stages.report import write_quality_report

    out = tmp_path / "out"
    write_quality_report(two_stack_dir(tmp_path / "raw"), out, dict(SETTINGS))
    data = json.loads((out / "quality.json").read_text())
    stacks = data["by_stack"]
    assert set(stacks) == {"descriptor", "af3_hf:nvidia/af3"}
    assert stacks["descriptor"]["songs"] == 8 and stacks["af3_hf:nvidia/af3"]["songs"] == 6
    assert stacks["descriptor"]["template_reuse"] > 0.3
    assert stacks["af3_hf:nvidia/af3"]["template_reuse"] == 0.0
    assert set(stacks["descriptor"]) >= {
        "songs",
        "template_reuse",
        "skeleton_reuse",
        "within_repetition",
        "mean_words",
        "exact_duplicate_songs",
    }
    assert data["songs"] == 14
    assert (out / "quality.html").is_file()
    assert "By annotator stack" in (out / "quality.html").read_text()
    assert "| af3_hf:nvidia/af3 | 6 |" in (out / "quality.md").read_text()


def test_single_stack_by_stack_is_the_headline(tmp_path: Path) -> None:
    from songset.stages.report import write_quality_report

    for i in range(4):
        (tmp_path / f"t{i}.json").write_text(raw(f"t{i}", template_song(i)))
    data = json.loads(write_quality_report(tmp_path, tmp_path / "out", dict(SETTINGS)).model_dump_json())
    assert data["by_stack"]["descriptor"]["template_reuse"] == data["template_reuse"]
    assert [p["id"] for p in data["per_song"]] == ["t0", "t1", "t2", "t3"]


def test_compare_two_experiments(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for i in range(6):
        (a / f"s{i}.json").write_text(raw(f"s{i}", template_song(i)))
    for i, text in enumerate(sorted(DIFFERENT.values())):
        (b / f"s{i}.json").write_text(raw(f"s{i}", text))
    (b / "extra.json").write_text(raw("extra", LONG_TEXT))
    c = compare_annotation_dirs(a, b, SETTINGS, label_a="exp-template", label_b="exp-varied")
    assert (c.label_a, c.label_b) == ("exp-template", "exp-varied")
    assert [s.id for s in c.songs] == sorted(s.id for s in c.songs)
    assert len(c.songs) == 6 and c.only_b == ["extra"] and c.only_a == []
    first = c.songs[0]
    reuse_a, reuse_b = first.values["template_reuse"]
    assert reuse_a is not None and reuse_a > 0.3 and reuse_b == 0.0
    assert first.text_a == template_song(int(first.id[1:]))
    ta, tb = c.metrics["template_reuse"]
    assert ta is not None and tb is not None and ta > 0.3 and tb == 0.0
    assert c.metrics["songs"] == (6, 7)
