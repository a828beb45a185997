"""The report's fixed detail rows and the comparison of two experiments (the metric-bearing models are
built from the registry in `contract`)."""

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


class FrameTemplate(BaseModel):
    position: str = Field(description="opening (first sentence) or closing (last sentence)")
    frame: str
    songs: int


class ComparedSong(BaseModel):
    id: str
    text_a: str
    text_b: str
    values: dict[str, tuple[float | None, float | None]] = Field(
        description="per-song metric the songs are ranked by (registry `worst`) -> (A, B)"
    )


class Comparison(BaseModel):
    """Experiment A against experiment B: dataset deltas and, per song in both, the two texts."""

    label_a: str
    label_b: str
    metrics: dict[str, tuple[float | None, float | None]] = Field(description="metric -> (A, B)")
    only_a: list[str]
    only_b: list[str]
    songs: list[ComparedSong] = Field(description="songs in both, biggest change in the ranked metrics first")
