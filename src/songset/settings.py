"""Backend settings: one pydantic model per backend is the only home of its defaults and rules.

A field either changes output (it enters the cache key and the provenance) or is transport (URLs,
concurrency, timeouts, retries, key variable names: how a result is fetched, never what it is). Transport
fields are declared with `transport(...)`; everything else counts as output.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TRANSPORT = "transport"


def transport(default: Any = ..., **kwargs: Any) -> Any:
    """A field that changes how results are fetched, not what they are: out of cache keys and provenance."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra[TRANSPORT] = True
    return Field(default, json_schema_extra=extra, **kwargs)


class BackendSettings(BaseModel):
    """Base of every backend's settings model: unknown keys fail at start, naming the key."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def transport_fields(cls) -> frozenset[str]:
        return frozenset(
            name
            for name, info in cls.model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get(TRANSPORT)
        )

    def output_settings(self) -> dict[str, Any]:
        """The settings that decide output: what the cache key and the provenance record."""
        return self.model_dump(mode="json", exclude=set(self.transport_fields()))
