"""The report's settings (`conf/report/*.yaml`)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from songset.settings import BackendSettings


class ReportSettings(BackendSettings):
    """`conf/report/*.yaml`; unknown keys are rejected so a typo does not silently keep a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ngram_min: int = Field(3, ge=1, description="shortest repeated phrase counted, in words")
    ngram_max: int = Field(6, ge=1, description="longest repeated phrase counted, in words")
    template_min_other_songs: int = Field(
        3, ge=1, description="K's absolute floor: a template phrase is in at least 3 other songs"
    )
    template_min_song_share: float = Field(
        0.02,
        ge=0,
        le=1,
        description="K's relative floor: ... and in 2% of the other songs (20,000 songs: 400)",
    )
    near_duplicate_threshold: float = Field(
        0.8, gt=0, le=1, description="Jaccard similarity of word shingles"
    )
    near_duplicate_shingle: int = Field(
        3, ge=1, description="words per shingle: two changed words in 90 keep Jaccard >= 0.87"
    )
    minhash_permutations: int = Field(128, ge=16, description="MinHash signature length")
    minhash_lsh_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="MinHash LSH candidate threshold (each candidate verified exactly)",
    )
    worst_songs: int = Field(10, ge=0, description="songs listed as the most templated")
    top_phrases: int = Field(20, ge=0, description="most shared phrases listed")

    @model_validator(mode="before")
    @classmethod
    def _drop_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and "_target_" in data:
            data = {k: v for k, v in data.items() if k != "_target_"}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> ReportSettings:
        if self.ngram_max < self.ngram_min:
            raise ValueError(f"ngram_max ({self.ngram_max}) is below ngram_min ({self.ngram_min})")
        return self
