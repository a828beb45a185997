"""A real Transcriber for tests: answers a fixed Transcription and logs each call to a file, so tests can
count transcriptions across runs. Chosen by `_target_` like any backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from songset.backend import BackendIdentity
from songset.runner import SongError
from songset.transcribers.base import Transcriber, Transcription


class FixedTranscriber(Transcriber):
    def __init__(
        self,
        answer: dict[str, Any],
        calls_file: str,
        fail_for: list[str] | None = None,
        version: str = "1",
    ) -> None:
        self.answer = Transcription.model_validate(answer)
        self.calls_file = Path(calls_file)
        self.fail_for = list(fail_for or [])
        self.version = version

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            backend="fixed", version=self.version, settings={"answer": self.answer.model_dump(mode="json")}
        )

    def transcribe(self, path: Path) -> Transcription:
        with self.calls_file.open("a", encoding="utf-8") as log:
            log.write(f"{path.name}\n")
        if path.stem in self.fail_for:
            raise SongError(f"{path}: transcription server answered 503 three times")
        return self.answer


def calls(calls_file: Path) -> list[str]:
    return calls_file.read_text(encoding="utf-8").split() if calls_file.is_file() else []
