"""Provenance blocks: which backend, model revision, adapter, prompt and settings made an output."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from songset.schemas import PromptInfo, Provenance

DEFAULT_LIBRARIES = ("songset", "numpy", "librosa", "soundfile", "pydantic")


def library_versions(names: tuple[str, ...] = DEFAULT_LIBRARIES) -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def make_provenance(
    *,
    stage: str,
    backend: str,
    cache_key: str,
    input_sha256: str,
    settings: dict[str, Any],
    model_id: str | None = None,
    model_revision: str | None = None,
    adapter: str | None = None,
    adapter_revision: str | None = None,
    prompt: PromptInfo | None = None,
    libraries: tuple[str, ...] = DEFAULT_LIBRARIES,
    extra: dict[str, Any] | None = None,
) -> Provenance:
    return Provenance(
        stage=stage,
        backend=backend,
        model_id=model_id,
        model_revision=model_revision,
        adapter=adapter,
        adapter_revision=adapter_revision,
        prompt=prompt,
        settings=settings,
        library_versions=library_versions(libraries),
        cache_key=cache_key,
        input_sha256=input_sha256,
        extra=extra or {},
    )
