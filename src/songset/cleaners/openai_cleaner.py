"""`cleaner=openai`: an LLM turns annotator prose into the CleanAnnotation schema with structured outputs.

Works with OpenAI and any OpenAI-compatible server (vLLM, llama.cpp server, Ollama) via `base_url`. The
official client does the HTTP work, including its retries with backoff on 429, 5xx and timeouts. An answer
that breaks the schema (or puts events outside the song) is retried once with the validation error in the
conversation, then recorded as that song's failure; a refusal is a failure with the model's reason.
The API key is read from the environment variable named by `api_key_env` and is never written anywhere.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from songset.backend import BackendIdentity
from songset.cleaners.base import CleanedContent, Cleaner
from songset.cleaners.prose import normalise_unicode, split_reasoning
from songset.openai_client import public_url, short, transport_error
from songset.prompts import load_prompt
from songset.runner import SongError
from songset.schemas import (
    VALID_LANGUAGES,
    Event,
    EventType,
    RawAnnotation,
    Section,
    Tags,
    check_timeline,
)
from songset.settings import BackendSettings, Configured, identity_slot, transport
from songset.vocab import LANGUAGES, SECTION_LABELS, find_terms

OPENAI_VERSION = "3"  # 3: base_url and model left the provenance settings (server in extra)

# Closed sets go into the JSON schema as enums, so a server that honours structured outputs cannot answer
# outside them; the validators below map the usual free answers ("English", "Verse 1") for servers that don't.
LanguageCode = Literal[tuple(c for c in VALID_LANGUAGES if c != "unknown")]  # type: ignore[valid-type]
UNNAMED_SECTION = "unnamed"
SectionLabel = Literal[(*SECTION_LABELS, UNNAMED_SECTION)]  # type: ignore[valid-type]
_NO_LANGUAGE = {"", "none", "null", "unknown", "n/a", "instrumental", "no vocals"}


def language_code(value: Any) -> Any:
    """'English' -> 'en', 'EN' -> 'en', 'unknown' -> None; anything else is left for the schema to reject."""
    if not isinstance(value, str):
        return value
    low = value.strip().lower()
    if low in _NO_LANGUAGE:
        return None
    if low in VALID_LANGUAGES:
        return low
    return LANGUAGES.get(low, LANGUAGES.get(low.split()[-1] if low.split() else low, value))


def section_label(value: Any) -> Any:
    """'Verse 1' -> 'verse', 'Final Chorus' -> 'chorus', 'section 3' -> 'unnamed'."""
    if not isinstance(value, str) or value in SECTION_LABELS or value == UNNAMED_SECTION:
        return value
    found = find_terms(value, SECTION_LABELS, plurals=False, negation=False)
    return found[0] if found else UNNAMED_SECTION


class AnswerSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: float = Field(description="seconds from the start of the song")
    end: float = Field(description="seconds from the start of the song")
    label: SectionLabel = Field(description=f"one of the section types; '{UNNAMED_SECTION}' when unnamed")
    description: str

    @field_validator("label", mode="before")
    @classmethod
    def _label(cls, value: Any) -> Any:
        return section_label(value)


class AnswerEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: float
    end: float
    type: EventType
    intensity: float = Field(description="0 (barely there) to 1 (the song's strongest moment)")


class CleanAnswer(BaseModel):
    """What the model fills: the schema sent as the structured-output response format."""

    model_config = ConfigDict(extra="forbid")
    caption: str = Field(
        description="one dense descriptive caption: genre, mood, instruments, vocals, texture"
    )
    genre: list[str]
    mood: list[str]
    instruments: list[str]
    texture: list[str]
    sections: list[AnswerSection]
    events: list[AnswerEvent]
    vocal_presence: Literal["vocal", "instrumental", "unknown"]
    vocal_language: LanguageCode | None = Field(description="ISO 639-1 code of the sung language, or null")

    @field_validator("vocal_language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> Any:
        return language_code(value)


class OpenAICleanerSettings(BackendSettings):
    """cleaner=openai: the URL, key variable, transport and prices are out of the cache key."""

    model: str = identity_slot("gpt-4o-mini", description="the model the server serves")
    base_url: str | None = transport(
        None, description="e.g. http://localhost:8000/v1 for vLLM; null = api.openai.com"
    )
    prompt_file: str = identity_slot(
        "conf/prompt/clean_v1.md", description="the system prompt (its text's sha256 is in the cache key)"
    )
    api_key_env: str = transport(
        "OPENAI_API_KEY", description="the variable holding the key; never written anywhere"
    )
    temperature: float = Field(0.0, ge=0)
    seed: int | None = 0
    max_completion_tokens: int = Field(2048, ge=1, description="an answer cut here is that song's failure")
    timeout_s: float = transport(120.0, gt=0, description="per request")
    max_retries: int = transport(
        4, ge=0, description="the client's own retries, with backoff, on 429 / 5xx / timeouts"
    )
    schema_retries: int = Field(
        1, ge=0, description="a schema-breaking answer is retried with the validation error"
    )
    price_per_1m_input_tokens: float = transport(
        0.15, ge=0, description="for the cost estimate in reports/stages/clean.json (bookkeeping only)"
    )
    price_per_1m_output_tokens: float = transport(0.60, ge=0, description="as above, for output tokens")


class OpenAICleaner(Configured[OpenAICleanerSettings], Cleaner):
    Settings = OpenAICleanerSettings

    def setup(self) -> None:
        s = self.settings
        self.model = s.model
        self.prompt = load_prompt(s.prompt_file)
        self.base_url = s.base_url
        self.api_key_env = s.api_key_env
        self.temperature = s.temperature
        self.seed = s.seed
        self.max_completion_tokens = s.max_completion_tokens
        self.timeout_s = s.timeout_s
        self.max_retries = s.max_retries
        self.schema_retries = s.schema_retries
        self.prices = (s.price_per_1m_input_tokens, s.price_per_1m_output_tokens)
        self._client: Any = None

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            backend="openai",
            version=OPENAI_VERSION,
            settings=self.settings.output_settings(),
            model_id=self.model,
            prompt=self.prompt,
            libraries=("songset", "openai", "pydantic"),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_client"] = None  # each worker process opens its own connection pool
        return state

    def check_ready(self) -> None:
        if self.base_url is None and not os.environ.get(self.api_key_env):
            raise ValueError(
                f"{self.api_key_env} is not set: cleaner=openai without cleaner.base_url calls the OpenAI "
                "API, which needs a key"
            )

    def client(self) -> Any:
        if self._client is None:
            import openai

            key = os.environ.get(self.api_key_env)
            if not key and self.base_url is None:
                raise SongError(f"{self.api_key_env} is not set: the OpenAI API needs a key")
            self._client = openai.OpenAI(
                api_key=key or "not-needed",  # local OpenAI-compatible servers accept any key
                base_url=self.base_url,
                timeout=self.timeout_s,
                max_retries=self.max_retries,
            )
        return self._client

    def clean(self, raw: RawAnnotation) -> CleanedContent:
        return self.clean_with_details(raw)[0]

    def clean_with_details(self, raw: RawAnnotation) -> tuple[CleanedContent, dict[str, Any]]:
        reasoned = split_reasoning(normalise_unicode(raw.text))  # the model's <think> is not the description
        duration = f"{raw.duration:.1f}"
        messages: list[dict[str, str]] = [
            {"role": "system", "content": self.prompt.text},
            {
                "role": "user",
                "content": f"Song duration: {duration} s (every start and end must lie between 0 and "
                f"{duration})\n\nAnnotation:\n{reasoned.answer}",
            },
        ]
        usage = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        response_ids: list[str] = []
        problem = ""
        for _attempt in range(1 + self.schema_retries):
            completion, reply, problem = self._ask(messages, usage, response_ids)
            if completion is not None:
                message = completion.choices[0].message
                if message.refusal:
                    raise SongError(f"{self.model} refused: {message.refusal}")
                try:
                    content = self._to_content(message.parsed, raw, reasoned.answer, reasoned.reasoning)
                    return content, self._details(usage, response_ids)
                except (ValueError, ValidationError) as exc:
                    problem = _describe(exc)
            if reply:
                messages.append({"role": "assistant", "content": reply})
            fix = f"That answer broke the schema: {problem}. Answer again, fixing exactly that."
            messages.append({"role": "user", "content": fix})
        raise SongError(
            f"{self.model} answer broke the schema after {1 + self.schema_retries} tries: {problem}"
        )

    def _ask(
        self, messages: list[dict[str, str]], usage: dict[str, int], response_ids: list[str]
    ) -> tuple[Any, str, str]:
        """One request; (completion or None, the raw reply text, the schema problem when None)."""
        import openai

        where = public_url(self.base_url) or "api.openai.com"
        try:
            completion = self.client().chat.completions.parse(
                model=self.model,
                messages=messages,
                response_format=CleanAnswer,
                temperature=self.temperature,
                seed=self.seed,
                max_completion_tokens=self.max_completion_tokens,
            )
        except openai.LengthFinishReasonError as exc:
            raise SongError(
                f"{self.model} answer was cut at max_completion_tokens={self.max_completion_tokens}"
            ) from exc
        except openai.ContentFilterFinishReasonError as exc:
            raise SongError(f"{self.model} answer was stopped by the content filter") from exc
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise transport_error(exc, where, self.timeout_s, self.max_retries) from exc
        except (ValidationError, ValueError) as exc:  # the reply was not JSON of the schema
            usage["requests"] += 1
            return None, "", _describe(exc)
        usage["requests"] += 1
        response_ids.append(completion.id)
        if completion.usage is not None:
            usage["prompt_tokens"] += completion.usage.prompt_tokens
            usage["completion_tokens"] += completion.usage.completion_tokens
            usage["total_tokens"] += completion.usage.total_tokens
        reply = completion.choices[0].message.content or ""
        if completion.choices[0].message.parsed is None and not completion.choices[0].message.refusal:
            return None, reply, "the answer was empty"
        return completion, reply, ""

    def _to_content(
        self, answer: CleanAnswer, raw: RawAnnotation, description: str, reasoning: str
    ) -> CleanedContent:
        ordered = sorted(answer.sections, key=lambda s: s.start)
        sections = [
            Section(
                start=s.start,
                end=s.end,
                label=f"section {i}" if s.label == UNNAMED_SECTION else s.label,
                description=s.description,
            )
            for i, s in enumerate(ordered, start=1)
        ]
        events = sorted((Event(**e.model_dump()) for e in answer.events), key=lambda e: e.start)
        check_timeline(sections, events, raw.duration)
        language = answer.vocal_language
        if language is not None and language not in VALID_LANGUAGES:
            raise ValueError(f"vocal_language {language!r} is not one of {', '.join(VALID_LANGUAGES)}")
        return CleanedContent(
            caption=answer.caption.strip(),
            tags=Tags(
                genre=answer.genre, mood=answer.mood, instruments=answer.instruments, texture=answer.texture
            ),
            sections=sections,
            events=events,
            vocal_presence=answer.vocal_presence,
            vocal_language=language,
            rich_details=description,
            reasoning=reasoning,
        )

    def _details(self, usage: dict[str, int], response_ids: list[str]) -> dict[str, Any]:
        cost = (usage["prompt_tokens"] * self.prices[0] + usage["completion_tokens"] * self.prices[1]) / 1e6
        return {
            "server": public_url(self.base_url) or "api.openai.com",  # the URL is transport: recorded here
            "response_ids": response_ids,
            "usage": {**usage, "estimated_cost_usd": round(cost, 6)},
        }


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()[:8])
    return short(str(exc))
