"""What the OpenAI-compatible backends (the LLM cleaner, served annotation) share about the client."""

from __future__ import annotations

import itertools
import json
import os
import threading
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from songset.runner import SongError


class ServedState:
    """Per-process state of a backend talking to OpenAI-compatible servers: one client and one server
    version per URL, the round-robin turn and its lock. Never pickled: each worker builds its own."""

    def reset_served_state(self) -> None:
        self._clients: dict[str | None, Any] = {}
        self._versions: dict[str | None, str | None] = {}
        self._lock = threading.Lock()
        self._turn = itertools.count()

    def served_client(
        self, base_url: str | None, api_key_env: str, timeout_s: float, max_retries: int
    ) -> Any:
        """One OpenAI client per URL (None: api.openai.com, which needs the key in `api_key_env`)."""
        with self._lock:
            if base_url not in self._clients:
                import openai

                key = os.environ.get(api_key_env)
                if not key and base_url is None:
                    raise SongError(f"{api_key_env} is not set: the OpenAI API needs a key")
                self._clients[base_url] = openai.OpenAI(
                    api_key=key or "not-needed",  # local OpenAI-compatible servers accept any key
                    base_url=base_url,
                    timeout=timeout_s,
                    max_retries=max_retries,
                )
            return self._clients[base_url]

    def served_version(self, base_url: str | None, headers: Any) -> str | None:
        """vLLM's GET /version once per server; else the response's `server` header; else None."""
        if base_url not in self._versions:
            self._versions[base_url] = server_version(base_url, headers)
        return self._versions[base_url]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_clients={}, _versions={}, _lock=None, _turn=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._turn = itertools.count()


def public_url(url: str | None) -> str | None:
    """A base URL safe to record: user:password@ and query strings are dropped."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def server_root(base_url: str) -> str:
    """http://host:8000/v1 -> http://host:8000 (where vLLM serves /version)."""
    return base_url.rstrip("/").removesuffix("/v1")


def server_version(base_url: str | None, headers: Any) -> str | None:
    """vLLM's GET /version; else the response's `server` header; else None. Callers cache it per URL."""
    if base_url is not None:
        try:
            with urllib.request.urlopen(f"{server_root(base_url)}/version", timeout=5.0) as reply:
                found = json.loads(reply.read()).get("version")
            if found:
                return f"vllm {found}"
        except (OSError, ValueError, AttributeError):  # no /version: not vLLM
            pass
    return headers.get("server") or headers.get("x-server-version")


def short(text: object) -> str:
    return " ".join(str(text).split())[:300]


def transport_error(exc: Exception, where: str, timeout_s: float, max_retries: int) -> SongError:
    """One line for a request the client gave up on, after its own retries with backoff."""
    import openai

    if isinstance(exc, openai.APITimeoutError):  # a subclass of APIConnectionError: test it first
        return SongError(f"{where}: no answer within {timeout_s:g} s (after {max_retries} retries)")
    if isinstance(exc, openai.APIConnectionError):
        return SongError(f"{where}: cannot connect ({type(exc).__name__})")
    if isinstance(exc, openai.APIStatusError):
        return SongError(f"{where}: HTTP {exc.status_code} after {max_retries} retries: {short(exc.message)}")
    return SongError(f"{where}: {type(exc).__name__}: {short(exc)}")
