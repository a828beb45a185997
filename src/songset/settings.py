"""Backend settings: one pydantic model per backend is the only home of its defaults and rules.

A field is one of three kinds, declared where it is defined:

- output (plain `Field`): changes what the backend produces; in the cache key and the provenance settings;
- `transport(...)`: how a result is fetched, never what it is (URLs, concurrency, timeouts, retries, key
  variable names, price bookkeeping): out of cache keys and provenance settings, so adding a replica or
  raising a timeout never re-annotates a dataset;
- `identity_slot(...)`: output that the identity records in its own slot, resolved (a prompt name becomes
  the prompt text's sha256, a hub id the model id, a revision the exact commit): out of the settings dict
  so a renamed prompt file with the same text keeps its cache entries.

`output_settings()` is what every backend's `identity()` records as its settings. `conf/<group>/*.yaml`
are written from these models (`songset conf --write`); a backend class names its model in `Settings` and
the values where its conf file differs from the model's defaults in `preset`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TRANSPORT = "transport"
IDENTITY_SLOT = "identity_slot"


def _marked(mark: str, default: Any, kwargs: dict[str, Any]) -> Any:
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra[mark] = True
    return Field(default, json_schema_extra=extra, **kwargs)


def transport(default: Any = ..., **kwargs: Any) -> Any:
    """A field that changes how results are fetched, not what they are: out of cache keys and provenance."""
    return _marked(TRANSPORT, default, kwargs)


def identity_slot(default: Any = ..., **kwargs: Any) -> Any:
    """An output field the identity records in its own slot (model id, revision, prompt sha256)."""
    return _marked(IDENTITY_SLOT, default, kwargs)


def _fields_marked(model: type[BaseModel], mark: str) -> frozenset[str]:
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get(mark)
    )


class BackendSettings(BaseModel):
    """Base of every backend's settings model: unknown keys fail at start, naming the key."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def transport_fields(cls) -> frozenset[str]:
        return _fields_marked(cls, TRANSPORT)

    @classmethod
    def identity_slot_fields(cls) -> frozenset[str]:
        return _fields_marked(cls, IDENTITY_SLOT)

    def output_settings(self) -> dict[str, Any]:
        """The settings that decide output: what the cache key and the provenance record."""
        return self.model_dump(
            mode="json", exclude=set(self.transport_fields() | self.identity_slot_fields())
        )


S = TypeVar("S", bound=BackendSettings)


def settings_problem(exc: ValidationError, prefix: str = "", known: list[str] | None = None) -> str:
    """A pydantic error as one line naming the key (`annotator.temperature='hot': ...`)."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "settings"
    where = f"{prefix}.{key}" if prefix else key
    if err["type"] == "extra_forbidden":
        names = f" (known: {', '.join(known)})" if known else ""
        return f"{where}: no such setting{names}"
    if err["type"] == "missing":
        return f"{where}: required setting is missing"
    return f"{where}={err.get('input')!r}: {err['msg']}"


class Configured(Generic[S]):
    """A backend configured by one settings model: `__init__(**settings)` validates into `self.settings`.

    Hydra instantiates the class named by `_target_` with the conf file's keys; the same call from Python
    gets the same defaults, because both come from `Settings` (and the class's `preset`).
    """

    Settings: ClassVar[type[BackendSettings]]
    preset: ClassVar[Mapping[str, Any]] = {}  # this variant's values where they differ from Settings

    settings: S

    @classmethod
    def validate_settings(cls, given: Mapping[str, Any], prefix: str = "") -> S:
        """`given` over the preset over the model's defaults; a ValueError naming the first bad key."""
        try:
            return cls.Settings.model_validate({**cls.preset, **given})  # type: ignore[return-value]
        except ValidationError as exc:
            known = list(cls.Settings.model_fields)
            raise ValueError(settings_problem(exc, prefix, known)) from None

    def __init__(self, **settings: Any) -> None:
        self.settings = self.validate_settings(settings)
        self.setup()

    def setup(self) -> None:
        """Derived state from `self.settings` (load the prompt, check combinations); nothing by default."""
        return


REQUIRED = "???"  # OmegaConf's mark for a value the user must give (`url: ???`)


def model_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Every field's default, in field order; REQUIRED where the model has none."""

    def plain(value: Any) -> Any:  # a nested settings block is written as its fields
        return value.model_dump(mode="json") if isinstance(value, BaseModel) else value

    return {
        name: REQUIRED if info.is_required() else plain(info.get_default(call_default_factory=True))
        for name, info in model.model_fields.items()
    }


def conf_values(backend: type[Configured[Any]]) -> dict[str, Any]:
    """What a backend variant's conf file holds: the preset's value, else the model's default, per field."""
    defaults = model_defaults(backend.Settings)
    unknown = sorted(set(backend.preset) - set(defaults))
    if unknown:
        raise ValueError(f"{backend.__name__}.preset: no such setting {', '.join(unknown)}")
    return {**defaults, **backend.preset}
