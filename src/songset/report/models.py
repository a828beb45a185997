"""The report's contracts: `reports/quality.json` and the comparison of two experiments."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Phrase(BaseModel):
    phrase: str
    songs: int = Field(description="songs whose text contains the phrase")
    words: int


class SkeletonCount(BaseModel):
    skeleton: str
    songs: int = Field(description="songs with at least one sentence of this shape")
    sentences: int = Field(description="sentences of this shape, all songs together")


class FailureRow(BaseModel):
    id: str
    file: str
    stage: str
    reason: str


class StageRow(BaseModel):
    stage: str
    songs: int
    computed: int
    cached: int
    failed: int
    wall_time_s: float


class SongQuality(BaseModel):
    id: str
    words: int
    sentences: int
    segments: int
    duration: float | None
    segments_per_minute: float | None
    template_reuse: float
    skeleton_reuse: float
    within_repetition: float
    repeated_sentence_share: float
    repeated_segments: int = Field(description="segments saying (nearly) what an earlier segment said")
    distinct_1: float
    distinct_2: float
    distinct_3: float
    compression_ratio: float
    duplicate_of: str | None
    near_duplicates: list[str]
    top_phrases: list[str] = Field(description="this song's most widely shared template phrases")


class FrameTemplate(BaseModel):
    position: str = Field(description="opening (first sentence) or closing (last sentence)")
    frame: str
    songs: int


class StackSummary(BaseModel):
    """The headline figures of one annotator stack (backend + model), measured on its own outputs only."""

    songs: int
    prompts: dict[str, int] = Field(
        default_factory=dict, description="prompt sha256[:8] -> texts: the prompt variants of this stack"
    )
    template_reuse: float
    skeleton_reuse: float
    within_repetition: float
    mean_words: float
    exact_duplicate_songs: int
    near_duplicate_pairs: int


class QualityReport(BaseModel):
    """`reports/quality.json`: numeric summaries at the top level (DVC metrics), details in lists."""

    songs: int
    failures: int
    failed_songs: int
    partial: bool = Field(description="failures exist and the run allowed a partial dataset")
    accepted: bool = Field(description="no failures, or failures allowed")
    empty_texts: int
    exact_duplicate_songs: int
    near_duplicate_pairs: list[tuple[str, str, float]]
    near_duplicate_songs: int
    template_reuse: float
    template_min_songs: int = Field(description="K: other songs a phrase or skeleton must appear in")
    frame_templates: list[FrameTemplate] = Field(default_factory=list)
    skeleton_reuse: float
    within_repetition: float
    repeated_sentence_share: float
    repeated_segments: int
    distinct_1: float
    distinct_2: float
    distinct_3: float
    compression_ratio: float
    mean_words: float
    mean_sentences: float
    mean_segments_per_minute: float | None
    sidecars: int
    bpm_coverage: float | None
    key_coverage: float | None
    timesignature_coverage: float | None
    lyrics_coverage: float | None
    language_coverage: float | None
    mean_caption_tokens: float | None
    max_caption_tokens: int | None
    captions_over_budget: int | None
    songs_over_240s: int | None
    omitted_fields: dict[str, dict[str, int]] = Field(description="field -> reason -> songs")
    mean_confidences: dict[str, float]
    failures_by_stage: dict[str, int]
    failures_by_reason: dict[str, int]
    failure_list: list[FailureRow]
    stages: list[StageRow]
    exact_duplicate_groups: list[list[str]]
    worst_by_template_reuse: list[str] = Field(description="ids, worst first, at most worst_songs")
    worst_by_within_repetition: list[str] = Field(description="ids, worst first, at most worst_songs")
    top_phrases: list[Phrase]
    top_skeletons: list[SkeletonCount]
    per_song: list[SongQuality]
    by_stack: dict[str, StackSummary] = Field(
        default_factory=dict, description="stack group -> its figures, each stack measured on its own"
    )
    confidence_histograms: dict[str, list[int]] = Field(
        default_factory=dict, description="sidecar field -> songs per confidence decile (0-0.1, ..., 0.9-1)"
    )
    confidence_thresholds: dict[str, float] = Field(
        default_factory=dict, description="sidecar field -> confidence below which it was left out"
    )
    flagged: dict[str, list[str]] = Field(
        default_factory=dict, description="sidecar flag (caption_over_budget, over_240s, ...) -> songs"
    )
    skipped: list[FailureRow] = Field(
        default_factory=list, description="byte-identical copies of another song: built once, not failures"
    )


class ComparedSong(BaseModel):
    id: str
    text_a: str
    text_b: str
    template_reuse_a: float
    template_reuse_b: float
    within_repetition_a: float
    within_repetition_b: float


class Comparison(BaseModel):
    """Experiment A against experiment B: dataset deltas and, per song in both, the two texts."""

    label_a: str
    label_b: str
    metrics: dict[str, tuple[float | None, float | None]] = Field(description="metric -> (A, B)")
    only_a: list[str]
    only_b: list[str]
    songs: list[ComparedSong] = Field(description="songs in both, biggest change in reuse first")
