"""DescriptorAnnotator on synthetic audio whose content is known, and once on a real demo song."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songset.annotators.base import Annotation
from songset.annotators.descriptor import DescriptorAnnotator
from songset.runner import SongError

SR = 22050
LINE = re.compile(r"^\[(\d+):(\d{2})-(\d+):(\d{2})\] (Intro|Outro|Part [A-Z]): (.+)\.$")
OVERALL = re.compile(r"^Overall: \S.+\.$")
LOUDNESS = ("very quiet", "quiet", "moderate", "loud", "very loud")
DEMO = Path(__file__).resolve().parents[2] / "data" / "audio" / "Kevin_MacLeod_-_Vibe_Ace.ogg"


def _quiet_a_minor(seconds: float) -> np.ndarray:
    """Soft A minor triads (A3, C4, E4 with two overtones), re-struck every 1.5 s."""
    t = np.arange(int(seconds * SR)) / SR
    envelope = np.exp(-(t % 1.5) * 1.2)
    tone = np.zeros_like(t)
    for f in (220.0, 261.63, 329.63):
        for n, amp in ((1, 1.0), (2, 0.4), (3, 0.2)):
            tone += amp * np.sin(2 * np.pi * f * n * t)
    return 0.02 * envelope * tone


def _loud_noise_and_clicks(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Loud noise bursts four times a second plus drum-like decaying clicks eight times a second."""
    n = int(seconds * SR)
    out = np.zeros(n)
    burst = int(0.08 * SR)
    decay = np.exp(-np.arange(burst) / (0.02 * SR))
    for start in range(0, n - burst, SR // 4):
        out[start : start + burst] += 0.5 * rng.standard_normal(burst) * decay
    click = np.exp(-np.arange(int(0.01 * SR)) / (0.002 * SR))
    for start in range(SR // 16, n - len(click), SR // 8):
        out[start : start + len(click)] += 0.8 * click
    return np.clip(out, -1.0, 1.0)


@pytest.fixture(scope="module")
def two_part_song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    y = np.concatenate([_quiet_a_minor(12.0), _loud_noise_and_clicks(12.0, rng)])
    path = tmp_path_factory.mktemp("audio") / "two_part.wav"
    sf.write(path, y.astype(np.float32), SR)
    return path


@pytest.fixture(scope="module")
def annotation(two_part_song: Path) -> Annotation:
    return DescriptorAnnotator().annotate(two_part_song)


def _seconds(minutes: str, seconds: str) -> int:
    return int(minutes) * 60 + int(seconds)


def test_lines_follow_the_format_and_cover_the_song(annotation: Annotation) -> None:
    lines = annotation.text.split("\n")
    assert OVERALL.match(lines[-1]), lines[-1]
    stamps = []
    for line in lines[:-1]:
        m = LINE.match(line)
        assert m, line
        stamps.append((_seconds(m[1], m[2]), _seconds(m[3], m[4])))
    assert stamps[0][0] == 0
    assert stamps[-1][1] == 24
    for (start, end), (next_start, _) in itertools.pairwise(stamps):
        assert start < end
        assert next_start == end  # boundaries fall on whole seconds, so floor and round agree
    assert len(annotation.segments) == len(lines) - 1
    assert annotation.segments[0].start == 0.0
    assert annotation.segments[-1].end == pytest.approx(24.0, abs=0.05)
    for seg, line in zip(annotation.segments, lines, strict=False):
        assert line.endswith(seg.text)


def test_loud_part_is_described_louder_and_a_minor_part_has_a_minor_colour(annotation: Annotation) -> None:
    quiet = next(s for s in annotation.segments if s.end <= 13)
    loud = next(s for s in annotation.segments if s.start >= 11)
    assert loud.features["loudness_db"] > quiet.features["loudness_db"] + 10

    def level(text: str) -> int:
        return LOUDNESS.index(text.split(",")[0].lower())

    assert level(loud.text) > level(quiet.text)
    assert {quiet.features["chord"], quiet.features["key_colour"]} & {"A minor", "C major"}
    assert "A minor" in quiet.text or "C major" in quiet.text
    assert loud.features["harmonic_ratio"] < quiet.features["harmonic_ratio"]
    assert loud.features["onset_rate"] > quiet.features["onset_rate"]
    for key in ("loudness_db", "loudness_change_db", "onset_rate", "centroid_hz", "vocal_activity", "label"):
        assert key in quiet.features
    assert 0.0 <= quiet.features["vocal_activity"] <= 1.0


def test_summary_holds_song_level_numbers(annotation: Annotation) -> None:
    summary = annotation.summary
    for key in (
        "loudness_db",
        "dynamic_range_db",
        "onset_rate",
        "centroid_hz",
        "harmonic_ratio",
        "key_colour",
        "key_colour_strength",
        "vocal_activity",
    ):
        assert key in summary
    assert summary["segments"] == len(annotation.segments)
    assert summary["dynamic_range_db"] > 10


def test_same_file_gives_the_same_text(two_part_song: Path, annotation: Annotation) -> None:
    again = DescriptorAnnotator().annotate(two_part_song)
    assert again.text == annotation.text
    assert again.segments == annotation.segments
    assert again.summary == annotation.summary


def test_segment_count_is_bounded(two_part_song: Path) -> None:
    annotator = DescriptorAnnotator(target_segment_s=2.0, min_segment_s=2.0, max_segments=3)
    result = annotator.annotate(two_part_song)
    assert 1 <= len(result.segments) <= 3
    assert all(LINE.match(line) for line in result.text.split("\n")[:-1])


def test_silent_break_inside_a_song_is_reported(tmp_path: Path) -> None:
    tone = 0.2 * np.sin(2 * np.pi * 330.0 * np.arange(8 * SR) / SR)
    path = tmp_path / "gap.wav"
    sf.write(path, np.concatenate([tone, np.zeros(4 * SR), tone]).astype(np.float32), SR)
    result = DescriptorAnnotator().annotate(path)
    assert "silence from 0:08 to 0:12" in result.text
    gaps = [gap for seg in result.segments for gap in seg.features["silent_gaps"]]
    assert gaps == [[pytest.approx(8.0, abs=0.1), pytest.approx(12.0, abs=0.1)]]


def test_too_short_file_is_a_song_error(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    sf.write(path, _quiet_a_minor(5.0).astype(np.float32), SR)
    with pytest.raises(SongError):
        DescriptorAnnotator().annotate(path)


def test_identity_names_backend_settings_and_libraries() -> None:
    ident = DescriptorAnnotator(max_segments=8).identity()
    assert ident.backend == "descriptor"
    assert ident.settings == {
        "sample_rate": 22050,
        "hop_length": 512,
        "target_segment_s": 20.0,
        "min_segment_s": 6.0,
        "max_segments": 8,
    }
    assert {"songset", "numpy", "librosa", "soundfile", "scipy"} <= set(ident.libraries)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        DescriptorAnnotator(hop_length=500)
    with pytest.raises(ValueError):
        DescriptorAnnotator(max_segments=1)


@pytest.mark.skipif(not DEMO.is_file(), reason="demo audio not present")
def test_real_demo_song() -> None:
    result = DescriptorAnnotator().annotate(DEMO)
    print(result.text)
    lines = result.text.split("\n")
    assert all(LINE.match(line) for line in lines[:-1])
    assert OVERALL.match(lines[-1])
    assert 2 <= len(result.segments) <= 12
    assert result.segments[-1].end == pytest.approx(61.46, abs=0.1)
