"""What every backend (annotator, cleaner, estimator) tells the pipeline about itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from songset.provenance import DEFAULT_LIBRARIES
from songset.schemas import PromptInfo


@dataclass(frozen=True)
class BackendIdentity:
    """Everything that decides a backend's output: it is both the cache key and the provenance."""

    backend: str
    version: str  # bump when the backend's code changes its output, so caches do not serve stale results
    settings: dict[str, Any] = field(default_factory=dict)
    model_id: str | None = None
    model_revision: str | None = None
    adapter: str | None = None
    adapter_revision: str | None = None
    prompt: PromptInfo | None = None
    libraries: tuple[str, ...] = DEFAULT_LIBRARIES

    def key_parts(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "version": self.version,
            "settings": self.settings,
            "model_id": self.model_id,
            "model_revision": self.model_revision,
            "adapter": self.adapter,
            "adapter_revision": self.adapter_revision,
            "prompt_sha256": self.prompt.sha256 if self.prompt else None,
        }
