"""The invented-lyrics guard on hand-built transcriptions: each rule alone, the verdict, text-only answers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from songset.transcribers.base import Transcription, TranscriptSegment
from songset.transcribers.guard import (
    GuardSettings,
    compression_ratio,
    guard_transcription,
    normalise,
)

DEFAULTS = GuardSettings()


def seg(
    start: float,
    text: str,
    no_speech: float | None = 0.05,
    logprob: float | None = -0.3,
    ratio: float | None = 1.3,
) -> TranscriptSegment:
    return TranscriptSegment(
        start=start,
        end=start + 4,
        text=text,
        avg_logprob=logprob,
        no_speech_prob=no_speech,
        compression_ratio=ratio,
    )


def song(*segments: TranscriptSegment) -> Transcription:
    return Transcription(text=" ".join(s.text for s in segments), language="en", segments=list(segments))


def test_defaults_are_whispers_own() -> None:
    assert DEFAULTS.no_speech_threshold == 0.6
    assert DEFAULTS.logprob_threshold == -1.0
    assert DEFAULTS.compression_ratio_threshold == 2.4


def test_clean_vocal_song_passes_untouched() -> None:
    lines = ["I walked down to the river", "the water running cold", "and I sang it all night long"]
    t = song(*(seg(4 * i, line) for i, line in enumerate(lines)))
    guarded = guard_transcription(t, DEFAULTS)
    assert guarded.dropped == [] and guarded.reasons == {}
    assert guarded.transcription.text == "\n".join(lines)
    assert guarded.transcription.segments == t.segments
    assert guarded.invented_lyrics_suspected is False and guarded.confidence == pytest.approx(0.05)


def test_no_speech_needs_both_signals_like_whisper() -> None:
    silent_and_unsure = seg(0, "oh oh oh", no_speech=0.9, logprob=-1.5)
    silent_but_confident = seg(4, "hold me close tonight", no_speech=0.9, logprob=-0.2)
    unsure_but_voiced = seg(8, "under the moon we dance", no_speech=0.1, logprob=-1.5)
    guarded = guard_transcription(song(silent_and_unsure, silent_but_confident, unsure_but_voiced), DEFAULTS)
    assert [d.segment.text for d in guarded.dropped] == ["oh oh oh"]
    assert guarded.dropped[0].reasons == ["no_speech"]
    assert [s.text for s in guarded.transcription.segments] == [
        "hold me close tonight",
        "under the moon we dance",
    ]


def test_compression_ratio_above_threshold_is_a_loop() -> None:
    guarded = guard_transcription(song(seg(0, "na na na na na na na na", ratio=3.1)), DEFAULTS)
    assert guarded.dropped[0].reasons == ["repetition_loop"]
    assert guarded.invented_lyrics_suspected is True and guarded.confidence == 1.0


@pytest.mark.parametrize(
    "text",
    ["Thank you for watching!", "Subtitles by the Amara.org community", "Don't forget to subscribe."],
)
def test_known_hallucination_phrases(text: str) -> None:
    guarded = guard_transcription(song(seg(0, "a real line of song"), seg(4, text)), DEFAULTS)
    assert [d.segment.text for d in guarded.dropped] == [text]
    assert "hallucination_phrase" in guarded.dropped[0].reasons


def test_a_long_run_of_identical_lines_is_dropped_but_a_chorus_is_kept() -> None:
    chorus = [seg(4 * i, "Let it be, let it be") for i in range(4)]
    guarded = guard_transcription(song(*chorus), DEFAULTS)
    assert guarded.dropped == []  # four times is a chorus
    loop = [seg(4 * i, "I love you.") for i in range(7)]
    guarded = guard_transcription(song(seg(0, "the first verse line"), *loop), DEFAULTS)
    assert len(guarded.dropped) == 7 and all(d.reasons == ["repeated_line"] for d in guarded.dropped)
    assert guarded.transcription.text == "the first verse line"
    assert guarded.reasons == {"repeated_line": 7}
    assert guarded.invented_lyrics_suspected is True  # 21 of 25 words dropped


def test_reasons_accumulate_and_are_counted() -> None:
    bad = seg(0, "thank you for watching", no_speech=0.95, logprob=-2.0, ratio=2.6)
    guarded = guard_transcription(song(bad, seg(4, "")), DEFAULTS)
    assert guarded.dropped[0].reasons == ["no_speech", "repetition_loop", "hallucination_phrase"]
    assert guarded.dropped[1].reasons == ["empty"]
    assert guarded.reasons == {
        "empty": 1,
        "hallucination_phrase": 1,
        "no_speech": 1,
        "repetition_loop": 1,
    }
    assert guarded.transcription.text == "" and guarded.invented_lyrics_suspected is True


def test_kept_segments_that_all_look_silent_still_raise_suspicion() -> None:
    """Each decode passed (confident), but the model thought every window silent: suspect, not dropped."""
    t = song(*(seg(4 * i, f"line number {i} here", no_speech=0.8, logprob=-0.5) for i in range(3)))
    guarded = guard_transcription(t, DEFAULTS)
    assert guarded.dropped == []
    assert guarded.invented_lyrics_suspected is True and guarded.confidence == pytest.approx(0.8)


def test_verdict_scales_with_the_share_of_words_dropped() -> None:
    good = [seg(4 * i, "one two three four five") for i in range(3)]  # 15 words kept, distinct times
    good = [g.model_copy(update={"text": f"{g.text} {i}"}) for i, g in enumerate(good)]
    bad = seg(20, "thanks for watching")  # 3 words
    guarded = guard_transcription(song(*good, bad), DEFAULTS)
    assert guarded.dropped_word_share == pytest.approx(3 / 21, abs=1e-4)
    assert guarded.invented_lyrics_suspected is False
    strict = GuardSettings(suspect_share=0.1)
    assert guard_transcription(song(*good, bad), strict).invented_lyrics_suspected is True


def test_text_only_answer_is_judged_line_by_line() -> None:
    t = Transcription(text="we ride at dawn\nThank you for watching.\n\n", language=None)
    guarded = guard_transcription(t, DEFAULTS)
    assert guarded.transcription.text == "we ride at dawn" and guarded.transcription.segments == []
    assert guarded.reasons == {"hallucination_phrase": 1}


def test_empty_transcription_is_not_suspect() -> None:
    guarded = guard_transcription(Transcription(text=""), DEFAULTS)
    assert guarded.invented_lyrics_suspected is False and guarded.confidence == 0.0


def test_signals_missing_are_not_held_against_a_segment() -> None:
    t = song(seg(0, "a line with no signals at all", no_speech=None, logprob=None, ratio=None))
    guarded = guard_transcription(t, DEFAULTS)
    assert guarded.dropped == [] and guarded.confidence == 0.0


def test_compression_ratio_matches_whisper_and_normalise_ignores_case_and_punctuation() -> None:
    assert compression_ratio("") == 0.0
    assert compression_ratio("la " * 200) > 2.4 > compression_ratio("The quick brown fox jumps over a dog")
    assert normalise("  Thank YOU, for   watching!! ") == "thank you for watching"


def test_settings_reject_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValidationError, match="no_speech_treshold"):
        GuardSettings.model_validate({"no_speech_treshold": 0.5})
    with pytest.raises(ValidationError):
        GuardSettings(no_speech_threshold=1.5)
