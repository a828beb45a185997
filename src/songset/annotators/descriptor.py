"""The offline default annotator: timestamped prose written from measured signal features, no models.

Every word it writes comes from a number it measured, so the text is plain but truthful, and the same
file always yields the same text byte for byte. One decode feeds: RMS loudness (dBFS), onset density,
spectral centroid (brightness), the A-weighted harmonic share of an HPSS split (texture), chroma of the
harmonic part matched to triads and Krumhansl-Kessler key profiles (harmonic colour), and a vocal-range
heuristic (see `_vocal_score`: it cannot tell a voice from a violin). Structure comes from a novelty
curve over chroma + MFCC + loudness; parts with recurring material share a letter.

Output (parsed by the rules cleaner): one line per part, then one summary line:

    [m:ss-m:ss] <Label>: <sentence>.
    Overall: <sentence>.

Labels are "Intro", "Outro" or "Part A", "Part B", ...; start stamps are floored, end stamps rounded,
and part boundaries fall on whole seconds so consecutive stamps meet.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from songset.annotators.base import Annotation, Annotator
from songset.audio import load_audio
from songset.backend import BackendIdentity
from songset.schemas import Segment
from songset.settings import BackendSettings, Configured
from songset.theory import MAJOR_TRIAD, MINOR_TRIAD, PROFILES, PROSE_NOTE_NAMES

# librosa and scipy are imported inside the functions that analyse audio: a stage whose songs are all
# cached builds this annotator for its identity and never analyses, so it skips their seconds of import.


VERSION = "1"  # bump whenever a change here changes the text, segments or summary for the same file

# Krumhansl-Kessler probe-tone profiles, tonic first (songset.theory holds them and the note names).
_KEY_MAJOR, _KEY_MINOR = (np.array(weights) for weights in PROFILES["krumhansl"])
_TRIAD_MAJOR = np.zeros(12)
_TRIAD_MAJOR[list(MAJOR_TRIAD)] = 1.0
_TRIAD_MINOR = np.zeros(12)
_TRIAD_MINOR[list(MINOR_TRIAD)] = 1.0

BLOCK_S = 0.5  # time grid the structure segmentation works on
VOCAL_BAND_HZ = (300.0, 3400.0)
CQT_BINS_PER_OCTAVE = 36  # a third of a semitone per bin: fine enough to see vibrato move a partial
CQT_OCTAVES = 7
SEGMENT_WEIGHTS = {"chroma": 1.0, "mfcc": 1.0, "loudness": 0.5}  # what a boundary is a change of
LABEL_WEIGHTS = {"chroma": 1.0, "mfcc": 0.5, "motion": 0.5}  # what makes two parts "the same material"
MIN_KEY_STRENGTH = 0.4  # below this correlation with a key profile the harmony is called unclear
ONSET_FLUX_FLOOR = 5.0  # mean dB rise across mel bands; real songs' envelopes peak well above it
SILENCE_DB = 50.0  # frames this far below the song's loud level (and below -50 dBFS) count as silent
MIN_GAP_S = 1.5  # shortest silent stretch inside a song worth a mention
MIN_BAND_SHARE = 0.1  # pitch motion counts only where the vocal band holds this share of harmonic energy
MIN_TONAL_SHARE = 0.3  # fewer tonal frames than this and a part (or song) gets no key at all


@dataclass(frozen=True)
class _Streams:
    """Frame-level features of one song, on two frame grids (full rate and half rate)."""

    duration: float
    fps: float  # frames per second of the full-rate grid
    power: np.ndarray  # mean-square amplitude per frame
    centroid: np.ndarray  # Hz
    mfcc: np.ndarray  # (13, n)
    onsets: np.ndarray  # onset times, seconds
    fps_h: float  # frames per second of the half-rate (harmonic analysis) grid
    harm: np.ndarray  # A-weighted harmonic energy per frame
    perc: np.ndarray  # A-weighted percussive energy per frame
    harm_band: np.ndarray  # A-weighted harmonic energy in the vocal band per frame
    chroma: np.ndarray  # (12, n), each frame max-normalised
    tonal: np.ndarray  # bool per frame: enough harmonic energy to judge harmony or pitch motion
    motion: np.ndarray  # bool per frame: vocal-band partials moved in pitch since the previous frame


@dataclass
class _Part:
    """One segment's measurements and, once written, its label and sentence."""

    start: float
    end: float
    loudness_db: float
    trend_db: float
    head_db: float
    tail_db: float
    onset_rate: float
    centroid_hz: float
    harmonic_ratio: float
    chord: str
    key_colour: str
    key_strength: float
    tonal_share: float
    vocal_activity: float
    change_db: float = 0.0
    gaps: list[tuple[float, float]] = field(default_factory=list)  # silent stretches inside the song
    label: str = ""
    loudness_word: str = ""
    sentence: str = ""

    @property
    def length(self) -> float:
        return self.end - self.start


class DescriptorSettings(BackendSettings):
    """annotator=descriptor: every field changes the text, so every field is in the cache key."""

    sample_rate: int = Field(22050, description="analysis rate; at least 16000 so the vocal band fits")
    hop_length: int = Field(512, description=f"frame hop; a multiple of {2 ** (CQT_OCTAVES - 1)} (the CQT)")
    target_segment_s: float = Field(20.0, gt=0, description="about one section per this many seconds")
    min_segment_s: float = Field(6.0, ge=0, description="shorter segments are merged into a neighbour")
    max_segments: int = Field(12, ge=2, description="at most this many sections")

    @field_validator("hop_length")
    @classmethod
    def _hop_fits_the_cqt(cls, value: int) -> int:
        if value <= 0 or value % 2 ** (CQT_OCTAVES - 1):
            raise ValueError(
                f"hop_length must be a positive multiple of {2 ** (CQT_OCTAVES - 1)} (the CQT needs it)"
            )
        return value

    @field_validator("sample_rate")
    @classmethod
    def _rate_fits_the_bands(cls, value: int) -> int:
        if value < 16000:
            raise ValueError("sample_rate must be at least 16000 Hz so the vocal band and chroma range fit")
        return value


class DescriptorAnnotator(Configured[DescriptorSettings], Annotator):
    """Deterministic signal-analysis annotator: the offline default, needing no GPU, key or download."""

    Settings = DescriptorSettings

    def setup(self) -> None:
        s = self.settings
        self.sample_rate = s.sample_rate
        self.hop_length = s.hop_length
        self.target_segment_s = s.target_segment_s
        self.min_segment_s = s.min_segment_s
        self.max_segments = s.max_segments

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            backend="descriptor",
            version=VERSION,
            settings=self.settings.output_settings(),
            libraries=("songset", "numpy", "librosa", "soundfile", "scipy"),
        )

    def annotate(self, path: Path) -> Annotation:
        # load_audio raises SongError for unreadable, silent, too short or too long files
        audio = load_audio(path, self.sample_rate)
        streams = self._analyse(audio.samples)
        blocks = self._blocks(streams)
        bounds = self._segment(streams, blocks)
        parts = [self._measure(streams, a, b) for a, b in itertools.pairwise(bounds)]
        for prev, part in itertools.pairwise(parts):
            part.change_db = part.loudness_db - prev.loudness_db
        for gap in _silent_gaps(streams):
            next(p for p in reversed(parts) if p.start <= gap[0]).gaps.append(gap)
        _label(parts, self._segment_distances(blocks, bounds))
        song = _song_measures(streams, parts)
        _write(parts, song)
        lines = [
            f"[{_stamp(p.start, math.floor)}-{_stamp(p.end, _round_half_up)}] {p.label}: {p.sentence}"
            for p in parts
        ]
        lines.append(f"Overall: {song['sentence']}")
        segments = [
            Segment(
                start=round(p.start, 3),
                end=round(p.end, 3),
                text=p.sentence,
                features={
                    "label": p.label,
                    "loudness_db": round(p.loudness_db, 2),
                    "loudness_change_db": round(p.change_db, 2),
                    "loudness_trend_db": round(p.trend_db, 2),
                    "onset_rate": round(p.onset_rate, 3),
                    "centroid_hz": round(p.centroid_hz, 1),
                    "harmonic_ratio": round(p.harmonic_ratio, 4),
                    "chord": p.chord,
                    "key_colour": p.key_colour,
                    "key_colour_strength": round(p.key_strength, 4),
                    "tonal_share": round(p.tonal_share, 3),
                    "vocal_activity": round(p.vocal_activity, 3),
                    "silent_gaps": [[round(a, 2), round(b, 2)] for a, b in p.gaps],
                },
            )
            for p in parts
        ]
        summary = {k: v for k, v in song.items() if k != "sentence"}
        return Annotation(text="\n".join(lines), segments=segments, summary=summary)

    # ---- analysis ------------------------------------------------------------------------------------------

    def _analyse(self, y: np.ndarray) -> _Streams:
        """All frame features from one decode: full-rate STFT features, half-rate HPSS, CQT and chroma.

        HPSS (median filtering) dominates the cost, so it runs at half the sample rate: the vocal band and
        the chroma range (up to ~4.2 kHz) still fit under that Nyquist frequency.
        """
        import librosa

        sr, hop = self.sample_rate, self.hop_length
        spec = np.abs(librosa.stft(y, n_fft=2048, hop_length=hop))
        power = librosa.feature.rms(S=spec, frame_length=2048)[0].astype(np.float64) ** 2
        centroid = librosa.feature.spectral_centroid(S=spec, sr=sr)[0]
        mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=spec**2, sr=sr))
        mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=13)
        envelope = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=hop)
        # librosa normalises the envelope to its maximum, which turns the tiny flux of a held tone into
        # "onsets"; a floor on that maximum keeps peak picking on an absolute (dB-flux) footing.
        envelope = envelope / max(float(envelope.max()), ONSET_FLUX_FLOOR)
        onsets = librosa.onset.onset_detect(
            onset_envelope=envelope, sr=sr, hop_length=hop, units="time", normalize=False
        )

        sr_h = sr // 2
        y_h = librosa.resample(y, orig_sr=sr, target_sr=sr_h, res_type="soxr_hq")
        stft_h = librosa.stft(y_h, n_fft=1024, hop_length=hop)
        harm_c, perc_c = librosa.decompose.hpss(stft_h, kernel_size=17)
        freqs = librosa.fft_frequencies(sr=sr_h, n_fft=1024)
        a_weight = librosa.db_to_power(librosa.A_weighting(np.maximum(freqs, 1.0)))[:, None]
        harm_pow = np.abs(harm_c) ** 2 * a_weight
        perc_pow = np.abs(perc_c) ** 2 * a_weight
        in_band = (freqs >= VOCAL_BAND_HZ[0]) & (freqs <= VOCAL_BAND_HZ[1])
        flatness = librosa.feature.spectral_flatness(S=np.abs(harm_c[in_band]))[0]

        harmonic = librosa.istft(harm_c, hop_length=hop, length=len(y_h))
        fmin = librosa.note_to_hz("C1")
        n_bins = CQT_BINS_PER_OCTAVE * CQT_OCTAVES
        cqt = np.abs(
            librosa.cqt(
                harmonic,
                sr=sr_h,
                hop_length=hop,
                fmin=fmin,
                n_bins=n_bins,
                bins_per_octave=CQT_BINS_PER_OCTAVE,
            )
        )
        chroma = librosa.feature.chroma_cqt(
            C=cqt, sr=sr_h, hop_length=hop, bins_per_octave=CQT_BINS_PER_OCTAVE
        )

        n = min(harm_pow.shape[1], cqt.shape[1], chroma.shape[1], len(flatness))
        cqt_freqs = librosa.cqt_frequencies(n_bins, fmin=fmin, bins_per_octave=CQT_BINS_PER_OCTAVE)
        band_cqt = cqt[(cqt_freqs >= VOCAL_BAND_HZ[0]) & (cqt_freqs <= VOCAL_BAND_HZ[1]), :n]
        band_energy = (band_cqt**2).sum(axis=0)
        loud = band_energy > np.percentile(band_energy, 95) * 1e-3  # within 30 dB of the song's loud frames
        tonal = loud & (flatness[:n] < 0.1)
        band_share = harm_pow[in_band, :n].sum(axis=0) / (harm_pow[:, :n].sum(axis=0) + 1e-20)
        return _Streams(
            duration=len(y) / sr,
            fps=sr / hop,
            power=power,
            centroid=centroid,
            mfcc=mfcc,
            onsets=np.asarray(onsets, dtype=np.float64),
            fps_h=sr_h / hop,
            harm=harm_pow.sum(axis=0)[:n],
            perc=perc_pow.sum(axis=0)[:n],
            harm_band=harm_pow[in_band].sum(axis=0)[:n],
            chroma=chroma[:, :n],
            tonal=tonal,
            motion=_pitch_motion(band_cqt) & tonal & (band_share >= MIN_BAND_SHARE),
        )

    # ---- structure -----------------------------------------------------------------------------------------

    @staticmethod
    def _blocks(s: _Streams) -> dict[str, np.ndarray]:
        """Chroma, timbre (MFCC 1-12), loudness and pitch motion averaged on the 0.5 s block grid."""
        import librosa

        n_blocks = max(1, int(s.duration / BLOCK_S))
        edges = np.arange(1, n_blocks) * BLOCK_S
        full = list(np.minimum(librosa.time_to_frames(edges, sr=s.fps, hop_length=1), len(s.power) - 1))
        half = list(np.minimum(librosa.time_to_frames(edges, sr=s.fps_h, hop_length=1), len(s.harm) - 1))
        groups = {
            "chroma": librosa.util.sync(s.chroma, half, aggregate=np.mean),
            "mfcc": librosa.util.sync(s.mfcc[1:], full, aggregate=np.mean),
            "loudness": librosa.util.sync(_db(s.power)[None, :], full, aggregate=np.mean),
            "motion": librosa.util.sync(s.motion[None, :].astype(np.float64), half, aggregate=np.mean),
        }
        n = min(g.shape[1] for g in groups.values())
        return {name: g[:, :n] for name, g in groups.items()}

    @staticmethod
    def _weighted(blocks: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
        """Each group z-scored and scaled so its total variance is its weight squared; smoothed over 2.5 s."""
        from scipy import ndimage

        stacked = np.vstack(
            [w * _zscore(blocks[name]) / math.sqrt(blocks[name].shape[0]) for name, w in weights.items()]
        )
        return ndimage.median_filter(stacked, size=(1, 5), mode="nearest")

    def _segment(self, s: _Streams, blocks: dict[str, np.ndarray]) -> list[float]:
        """Boundaries in seconds: the strongest peaks of a Foote novelty curve, kept min_segment_s apart.

        The novelty curve (a checkerboard kernel slid along the block self-similarity matrix) peaks where
        the material before a moment differs from the material after it. Up to k - 1 peaks are kept,
        k = clip(round(duration / target_segment_s), 2, max_segments), strongest first.
        """
        from scipy import signal

        feats = self._weighted(blocks, SEGMENT_WEIGHTS)
        n_blocks = feats.shape[1]
        k = int(np.clip(round(s.duration / self.target_segment_s), 2, self.max_segments))
        novelty = _novelty(feats, half=round(float(np.clip(self.target_segment_s / 3.0, 3.0, 8.0)) / BLOCK_S))
        gap = max(1, math.ceil(self.min_segment_s / BLOCK_S))
        peaks, _ = signal.find_peaks(novelty, distance=gap)
        chosen: list[int] = []
        for b in sorted(peaks.tolist(), key=lambda b: (-novelty[b], b)):
            if len(chosen) == k - 1:
                break
            if novelty[b] <= 0 or b < gap or n_blocks - b < gap or any(abs(b - c) < gap for c in chosen):
                continue
            chosen.append(b)
        cuts = sorted({float(round(b * BLOCK_S)) for b in chosen})
        return [0.0, *[c for c in cuts if 0.0 < c < s.duration - 0.5], s.duration]

    def _segment_distances(self, blocks: dict[str, np.ndarray], bounds: list[float]) -> np.ndarray:
        """How far each part's material is from every other's: mean nearest-block distance, symmetrised.

        Repeated material (a chorus heard again) has a close block for nearly every block of the repeat,
        even when the two are not aligned, which comparing whole-part averages would miss.
        """
        from scipy.spatial import distance

        feats = self._weighted(blocks, LABEL_WEIGHTS)
        spans = [
            feats[:, int(a / BLOCK_S) : max(int(a / BLOCK_S) + 1, round(b / BLOCK_S))]
            for a, b in itertools.pairwise(bounds)
        ]
        n = len(spans)
        dist = np.zeros((n, n))
        for i in range(n):
            for j in range(i + 1, n):
                d = distance.cdist(spans[i].T, spans[j].T)
                dist[i, j] = dist[j, i] = 0.5 * (d.min(axis=1).mean() + d.min(axis=0).mean())
        return dist

    # ---- per-part measurements -----------------------------------------------------------------------------

    def _measure(self, s: _Streams, start: float, end: float) -> _Part:
        f0, f1 = _frames(start, end, s.fps, len(s.power))
        h0, h1 = _frames(start, end, s.fps_h, len(s.harm))
        power = s.power[f0:f1]
        third = max(1, len(power) // 3)
        edge = max(1, int(2.0 * s.fps))
        weights = power + 1e-12
        harm, perc = s.harm[h0:h1].sum(), s.perc[h0:h1].sum()
        tonal = s.tonal[h0:h1]
        profile = s.chroma[:, h0:h1][:, tonal].sum(axis=1)
        if tonal.mean() >= MIN_TONAL_SHARE:
            chord, _ = _best_triad(profile)
            key, strength = _best_key(profile)
        else:  # noise, drums or near-silence: any key fit would be a guess
            chord, key, strength = "none", "none", 0.0
        onset_count = np.count_nonzero((s.onsets >= start) & (s.onsets < end))
        return _Part(
            start=start,
            end=end,
            loudness_db=float(_db(power.mean())),
            trend_db=float(_db(power[-third:].mean()) - _db(power[:third].mean())),
            head_db=float(_db(power[:edge].mean())),
            tail_db=float(_db(power[-edge:].mean())),
            onset_rate=float(onset_count / max(end - start, 1e-6)),
            centroid_hz=float(np.average(s.centroid[f0:f1], weights=weights)),
            harmonic_ratio=float(harm / (harm + perc + 1e-20)),
            chord=chord,
            key_colour=key,
            key_strength=strength,
            tonal_share=float(tonal.mean()),
            vocal_activity=_vocal_score(s, h0, h1),
        )


# ---- feature helpers ---------------------------------------------------------------------------------------


def _pitch_motion(band_cqt: np.ndarray) -> np.ndarray:
    """Per frame: do the vocal-band partials match the previous frame better shifted by one CQT bin?

    Steady notes (piano, pads, held strings) match best in place; a voice's vibrato and glides move
    its partials by a fraction of a semitone from frame to frame, so a shifted match wins.
    """
    import librosa

    x = librosa.amplitude_to_db(band_cqt, ref=np.max, top_db=60.0) + 60.0
    prev, cur = x[:, :-1], x[:, 1:]

    def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a * b).sum(axis=0) / (np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0) + 1e-9)

    in_place = cosine(prev, cur)
    shifted = np.maximum(cosine(prev[1:], cur[:-1]), cosine(prev[:-1], cur[1:]))
    return np.concatenate([[False], shifted > in_place - 0.01])


def _vocal_score(s: _Streams, h0: int, h1: int) -> float:
    """0-1 vocal-range activity. A heuristic, NOT a vocal detector.

    Cues: the share of frames whose 300-3400 Hz harmonic partials move in pitch (`_pitch_motion`, a
    shift-aware spectral flux), counted only in tonal frames (low spectral flatness of that band) where
    the band holds real harmonic energy, then weighted by the band's share of all A-weighted energy.
    Sung melody with vibrato and glides scores high; a violin with vibrato or a bending lead synth
    scores too, and a flat, pitch-corrected voice scores low. Calibrated on a handful of demo songs.
    """
    tonal = float(s.tonal[h0:h1].mean())
    moving = float(s.motion[h0:h1].mean())  # share of frames that are tonal and pitch-moving
    share = float(s.harm_band[h0:h1].sum() / (s.harm[h0:h1].sum() + s.perc[h0:h1].sum() + 1e-20))
    score = np.clip(moving / 0.12, 0.0, 1.0) * (0.6 + 0.4 * np.clip((share - 0.2) / 0.5, 0.0, 1.0))
    return float(score * np.clip(tonal / 0.5, 0.0, 1.0))  # a few tonal frames amid noise move at random


def _best_triad(profile: np.ndarray) -> tuple[str, float]:
    return _best_template(profile, _TRIAD_MAJOR, _TRIAD_MINOR, cosine=True)


def _best_key(profile: np.ndarray) -> tuple[str, float]:
    return _best_template(profile, _KEY_MAJOR, _KEY_MINOR, cosine=False)


def _best_template(
    profile: np.ndarray, major: np.ndarray, minor: np.ndarray, *, cosine: bool
) -> tuple[str, float]:
    """Best of the 24 rotations (12 major, 12 minor): cosine for triads, Pearson correlation for keys."""
    if not np.any(profile > 0):
        return "none", 0.0
    best, best_score = "none", -np.inf
    for mode, template in (("major", major), ("minor", minor)):
        for tonic in range(12):
            t = np.roll(template, tonic)
            if cosine:
                score = float(profile @ t / (np.linalg.norm(profile) * np.linalg.norm(t) + 1e-12))
            else:
                score = float(np.corrcoef(profile, t)[0, 1]) if np.std(profile) > 0 else 0.0
            if score > best_score + 1e-9:
                best, best_score = f"{PROSE_NOTE_NAMES[tonic]} {mode}", score
    return best, best_score


def _novelty(feats: np.ndarray, half: int) -> np.ndarray:
    """Foote novelty: a Gaussian-tapered checkerboard kernel correlated along the self-similarity diagonal."""
    from scipy import signal
    from scipy.spatial import distance

    dist = distance.cdist(feats.T, feats.T)
    scale = float(np.median(dist)) or 1.0
    sim = np.exp(-((dist / scale) ** 2))
    taper = signal.windows.gaussian(2 * half, std=half / 2.0)
    sign = np.concatenate([-np.ones(half), np.ones(half)])
    kernel = np.outer(taper, taper) * np.outer(sign, sign)  # +1 within past or future, -1 across
    padded = np.pad(sim, half, mode="edge")
    n = sim.shape[0]
    return np.array([float((kernel * padded[t : t + 2 * half, t : t + 2 * half]).sum()) for t in range(n)])


def _silent_gaps(s: _Streams) -> list[tuple[float, float]]:
    """Silent stretches of at least MIN_GAP_S inside the song (leading and trailing silence excluded)."""
    db = _db(s.power)
    silent = (db < min(float(np.percentile(db, 95)) - SILENCE_DB, -SILENCE_DB)).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], silent, [0]])))
    gaps = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if a > 0 and b < len(silent) and (b - a) / s.fps >= MIN_GAP_S:
            gaps.append((a / s.fps, b / s.fps))
    return gaps


def _db(power: np.ndarray | float) -> Any:
    return 10.0 * np.log10(np.maximum(power, 1e-10))


def _zscore(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=1, keepdims=True)
    return (x - x.mean(axis=1, keepdims=True)) / np.where(std > 1e-9, std, 1.0)


def _frames(start: float, end: float, fps: float, n: int) -> tuple[int, int]:
    a = min(int(start * fps), n - 1)
    return a, max(a + 1, min(int(end * fps), n))


# ---- labels ------------------------------------------------------------------------------------------------

REPEAT_DISTANCE = 0.8  # parts closer than this fraction of the song's median part distance share a letter


def _label(parts: list[_Part], dist: np.ndarray) -> None:
    """Letters by repeated material (average-linkage clusters), Intro/Outro for quiet, short or fading ends.

    Distances are taken relative to the song's median part distance, so "the same letter" means "much
    more alike than this song's parts usually are", whatever the genre's overall variety.
    """
    from scipy.cluster import hierarchy
    from scipy.spatial import distance

    n = len(parts)
    if n == 1:
        clusters = np.array([1])
    else:
        condensed = distance.squareform(dist, checks=False)
        scale = float(np.median(condensed)) or 1.0
        clusters = hierarchy.fcluster(
            hierarchy.linkage(condensed / scale, method="average"), REPEAT_DISTANCE, "distance"
        )
    names: dict[int, str] = {}
    for i, part in enumerate(parts):
        if n >= 3 and i == 0 and (_fades_in(part) or _is_edge(part, parts[1:-1], n)):
            part.label = "Intro"
        elif n >= 3 and i == n - 1 and (_fades_out(part) or _is_edge(part, parts[1:-1], n)):
            part.label = "Outro"
        else:
            part.label = "Part " + names.setdefault(int(clusters[i]), chr(ord("A") + len(names)))


def _is_edge(part: _Part, middle: list[_Part], n: int) -> bool:
    """Quieter than the middle by 3 dB, or (with enough parts to judge) much shorter and no louder."""
    mid_db = float(np.median([p.loudness_db for p in middle]))
    mid_len = float(np.median([p.length for p in middle]))
    short = n >= 4 and part.length < 0.6 * mid_len and part.loudness_db <= mid_db
    return part.loudness_db <= mid_db - 3.0 or short


def _fades_in(part: _Part) -> bool:
    return part.head_db < min(part.loudness_db - 12.0, -40.0) and part.trend_db > 4.0


def _fades_out(part: _Part) -> bool:
    return part.tail_db < min(part.loudness_db - 12.0, -40.0) and part.trend_db < -4.0


# ---- words -------------------------------------------------------------------------------------------------


def _song_measures(s: _Streams, parts: list[_Part]) -> dict[str, Any]:
    db = _db(s.power)
    active = db[db > db.max() - 60.0]
    if s.tonal.mean() >= MIN_TONAL_SHARE:
        key, strength = _best_key(s.chroma[:, s.tonal].sum(axis=1))
    else:
        key, strength = "none", 0.0
    harm, perc = float(s.harm.sum()), float(s.perc.sum())
    lengths = [p.length for p in parts]
    return {
        "duration": round(s.duration, 3),
        "loudness_db": round(float(_db(s.power.mean())), 2),
        "dynamic_range_db": round(float(np.percentile(active, 95) - np.percentile(active, 10)), 2),
        "onset_rate": round(len(s.onsets) / s.duration, 3),
        "centroid_hz": round(float(np.average(s.centroid, weights=s.power + 1e-12)), 1),
        "harmonic_ratio": round(harm / (harm + perc + 1e-20), 4),
        "key_colour": key,
        "key_colour_strength": round(strength, 4),
        "vocal_activity": round(float(np.average([p.vocal_activity for p in parts], weights=lengths)), 3),
        "segments": len(parts),
    }


LOUDNESS_WORDS = ("very quiet", "quiet", "moderate", "loud", "very loud")
LEVEL_GROUP_DB = 2.0  # parts whose levels all lie within this many dB are described with one word


def _loudness_word(db: float, centre: float) -> str:
    """Half absolute level (-42 to -12 dBFS RMS), half level against the song's average part (+-6 dB)."""
    absolute = np.clip((db + 42.0) / 30.0, 0.0, 1.0)
    relative = np.clip(0.5 + (db - centre) / 12.0, 0.0, 1.0)
    score = float(0.5 * absolute + 0.5 * relative)
    return _pick(
        score, tuple(zip((0.2, 0.4, 0.6, 0.8), LOUDNESS_WORDS[:-1], strict=True)), LOUDNESS_WORDS[-1]
    )


def _loudness_words(levels: list[float], centre: float) -> list[str]:
    """One word per part; parts within LEVEL_GROUP_DB of each other (complete linkage) share the word
    of their mean level, so equal levels always read alike and near-equal neighbours do not flip."""
    from scipy.cluster import hierarchy

    if len(levels) == 1:
        return [_loudness_word(levels[0], centre)]
    x = np.asarray(levels)[:, None]
    groups = hierarchy.fcluster(hierarchy.linkage(x, method="complete"), LEVEL_GROUP_DB, "distance")
    means = {g: float(x[groups == g].mean()) for g in set(groups.tolist())}
    return [_loudness_word(means[g], centre) for g in groups.tolist()]


def _brightness_word(hz: float) -> str:
    return _pick(
        hz, ((800.0, "dark"), (1500.0, "warm"), (2400.0, "clear"), (3500.0, "bright")), "very bright"
    )


def _density_word(part: _Part) -> str:
    return _pick(
        part.onset_rate, ((1.0, "sparse"), (2.0, "unhurried"), (3.5, "steady"), (5.0, "busy")), "dense"
    )


TEXTURES = (
    (0.5, "percussion-led texture", "percussion-led"),
    (0.72, "balanced harmonic and percussive texture", "balanced between pitched and percussive sound"),
    (0.86, "harmonic texture over light percussion", "harmonic over light percussion"),
    (math.inf, "mostly harmonic texture with little percussion", "mostly harmonic with little percussion"),
)


def _texture_phrase(ratio: float, onset_rate: float) -> str:
    """From the A-weighted harmonic share of HPSS energy; 'dense percussion' needs many onsets too."""
    if ratio < 0.5 and onset_rate >= 3.5:
        return "dense percussion leading the texture"
    return next(phrase for limit, phrase, _ in TEXTURES if ratio < limit)


def _vocal_phrase(score: float) -> str:
    return _pick(
        score,
        (
            (0.15, "little vocal-range activity"),
            (0.4, "light vocal-range activity"),
            (0.7, "clear vocal-range activity"),
        ),
        "strong vocal-range activity",
    )


def _colour(part: _Part) -> str:
    """The key-profile colour, qualified by the strongest triad where the two disagree."""
    key_tonic = part.key_colour.split()[0]
    chord_tonic = part.chord.split()[0]
    if part.chord == part.key_colour or part.chord == "none":
        return f"{_article(part.key_colour)} {part.key_colour} colour"
    if chord_tonic == key_tonic:
        return f"{_article(key_tonic)} {key_tonic} colour mixing major and minor"
    return f"{_article(part.key_colour)} {part.key_colour} colour, with {part.chord} the strongest triad"


def _harmony_phrase(part: _Part, index: int) -> str:
    if part.key_colour == "none" or part.key_strength < MIN_KEY_STRENGTH:
        return "no clear tonal centre"
    colour = _colour(part)
    if "," in colour:  # already long: no lead-in
        return colour
    return ("harmony centres on ", "the harmony has ", "tonality suggests ")[index % 3] + colour


def _dynamics_phrase(parts: list[_Part], index: int, peak: int | None) -> str:
    """Change words, only where the measured loudness (and onset density) moved."""
    part = parts[index]
    phrases: list[str] = []
    if index == 0 and _fades_in(part):
        phrases.append("fades in")
    elif index > 0:
        prev = parts[index - 1]
        change = part.change_db
        if change >= 6.0:
            phrases.append("energy rises sharply")
        elif change >= 3.0:
            phrases.append("energy builds")
        elif change <= -3.0 and part.onset_rate < 0.6 * prev.onset_rate:
            phrases.append("thins out")
        elif change <= -6.0:
            phrases.append("drops back sharply")
        elif change <= -3.0:
            phrases.append("drops back")
        elif change >= 1.5:
            phrases.append("a little louder than before")
        elif change <= -1.5:
            phrases.append("a little softer than before")
    if index == len(parts) - 1 and _fades_out(part):
        phrases.append("fades out")
    elif part.trend_db >= (8.0 if "fades in" in phrases else 4.0):
        phrases.append("swelling towards its end")
    elif part.trend_db <= -4.0:
        phrases.append("easing off towards its end")
    phrases += [f"silence from {_stamp(a, math.floor)} to {_stamp(b, _round_half_up)}" for a, b in part.gaps]
    if peak == index:
        phrases.append("the loudest passage")
    if not phrases:
        phrases.append("energy holds steady" if index > 0 else "steady energy")
    return ", ".join(phrases)


def _write(parts: list[_Part], song: dict[str, Any]) -> None:
    """Fill each part's sentence and the song's closing sentence from the measurements."""
    levels = [p.loudness_db for p in parts]
    centre = float(np.mean(levels))
    peak = int(np.argmax(levels))
    marked = peak if len(parts) >= 3 and levels[peak] - float(np.median(levels)) >= 1.5 else None
    for part, word in zip(parts, _loudness_words(levels, centre), strict=True):
        part.loudness_word = word
    for i, part in enumerate(parts):
        head = f"{part.loudness_word}, {_brightness_word(part.centroid_hz)} and {_density_word(part)}"
        clauses = [
            f"{head}, {_texture_phrase(part.harmonic_ratio, part.onset_rate)}",
            _harmony_phrase(part, i),
            _dynamics_phrase(parts, i, marked),
            _vocal_phrase(part.vocal_activity),
        ]
        part.sentence = _capital("; ".join(clauses)) + "."

    pulse = _pick(
        song["onset_rate"],
        (
            (1.0, "a slow, sparse pulse"),
            (2.0, "an unhurried pulse"),
            (4.0, "a mid-tempo pulse"),
            (5.5, "a lively pulse"),
        ),
        "a rapid, busy pulse",
    )
    if song["key_colour"] == "none" or song["key_colour_strength"] < MIN_KEY_STRENGTH:
        colour = "no clear tonal centre"
    else:
        tonic, mode = song["key_colour"].split()
        colour = f"{_article(mode)} {mode}-key colour centred on {tonic}"
    texture = next(short for limit, _, short in TEXTURES if song["harmonic_ratio"] < limit)
    brightness = _brightness_word(song["centroid_hz"])
    song["sentence"] = (
        f"{_capital(pulse)} with {colour}; {texture}, {brightness} overall; {_arc(parts, peak)}; "
        f"{_vocal_phrase(song['vocal_activity'])}."
    )


def _arc(parts: list[_Part], peak: int) -> str:
    """The song's dynamic shape from its parts' levels, plus any silent breaks inside it."""
    gaps = [f"{_stamp(a, math.floor)}-{_stamp(b, _round_half_up)}" for p in parts for a, b in p.gaps]
    shape = _shape(parts, peak)
    if not gaps:
        return shape
    breaks = ("a silent break in " if len(gaps) == 1 else "silent breaks in ") + ", ".join(gaps)
    return f"steady dynamics apart from {breaks}" if shape.startswith("steady") else f"{shape}, with {breaks}"


def _shape(parts: list[_Part], peak: int) -> str:
    """Steady, a build to a peak, a dip, a decline or a mix, from the parts' levels (3 dB steps)."""
    levels = [p.loudness_db for p in parts]
    low = int(np.argmin(levels))
    first, last, top, bottom = parts[0], parts[-1], parts[peak], parts[low]

    def level(p: _Part) -> str:
        return f"{_article(p.loudness_word)} {p.loudness_word}"

    def span(p: _Part) -> str:
        return f"{_stamp(p.start, math.floor)}-{_stamp(p.end, _round_half_up)}"

    if levels[peak] - levels[low] < 3.0:
        return "steady dynamics throughout"
    if peak > 0 and top.loudness_db - first.loudness_db >= 3.0:
        arc = f"builds from {level(first)} opening to {level(top)} peak in {span(top)}"
        if peak < len(parts) - 1 and top.loudness_db - last.loudness_db >= 3.0:
            arc += ", then fades out" if _fades_out(last) else ", then falls back"
        return arc
    if 0 < low < len(parts) - 1 and min(first.loudness_db, last.loudness_db) - bottom.loudness_db >= 3.0:
        return f"dips to {level(bottom)} passage in {span(bottom)} before returning"
    if first.loudness_db - last.loudness_db >= 3.0:
        return f"loudest early on, easing to {level(last)} close"
    return f"moves between {bottom.loudness_word} and {top.loudness_word} passages"


def _pick(value: float, steps: tuple[tuple[float, str], ...], top: str) -> str:
    for limit, word in steps:
        if value < limit:
            return word
    return top


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _article(word: str) -> str:
    """'an' before vowel sounds, note names included: an A, an E, an F#, a C."""
    return "an" if word[:1] in "AEFaeiou" else "a"


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _stamp(seconds: float, rounding: Any) -> str:
    total = int(rounding(seconds))
    return f"{total // 60}:{total % 60:02d}"
