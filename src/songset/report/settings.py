"""The report's settings (`conf/report/*.yaml`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ReportSettings(BaseModel):
    """`conf/report/*.yaml`; unknown keys are rejected so a typo does not silently keep a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ngram_min: int = Field(3, ge=1)
    ngram_max: int = Field(6, ge=1)
    template_min_other_songs: int = Field(3, ge=1, description="K's absolute floor (other songs)")
    template_min_song_share: float = Field(0.02, ge=0, le=1, description="K's relative floor")
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1)
    near_duplicate_shingle: int = Field(3, ge=1, description="words per near-duplicate shingle")
    minhash_permutations: int = Field(128, ge=16)
    minhash_lsh_threshold: float = Field(
        0.5, gt=0, le=1, description="candidate threshold, below the reported"
    )
    worst_songs: int = Field(10, ge=0)
    top_phrases: int = Field(20, ge=0)

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
