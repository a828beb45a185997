"""A real Transcriber for tests: answers a fixed Transcription and logs each call to a file, so tests can
count transcriptions across runs. Chosen by `_target_` like any backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from songset.backend import BackendIdentity
from songset.runner import SongError, SongResources
from songset.settings import BackendSettings, Configured, transport
from songset.transcribers.base import Transcriber, Transcription


class FixedTranscriberSettings(BackendSettings):
    answer: dict[str, Any]
    calls_file: str = transport(...)  # where the calls are counted: never part of what is transcribed
    fail_for: list[str] = Field(default_factory=list)
    version: str = "1"
    ready: bool = True  # False: as a server transcriber without its API key


class FixedTranscriber(Configured[FixedTranscriberSettings], Transcriber):
    Settings = FixedTranscriberSettings

    def setup(self) -> None:
        self.answer = Transcription.model_validate(self.settings.answer)
        self.calls_file = Path(self.settings.calls_file)
        self.fail_for = list(self.settings.fail_for)
        self.version = self.settings.version

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            backend="fixed", version=self.version, settings={"answer": self.answer.model_dump(mode="json")}
        )

    def check_ready(self) -> None:
        if not self.settings.ready:
            raise ValueError("transcriber=fixed: FIXED_API_KEY is not set")

    def transcribe(self, path: Path) -> Transcription:
        with self.calls_file.open("a", encoding="utf-8") as log:
            log.write(f"{path.name}\n")
        if path.stem in self.fail_for:
            raise SongError(f"{path}: transcription server answered 503 three times")
        return self.answer


class HeldModelTranscriber(FixedTranscriber):
    """As a transcriber holding a model in memory: one copy per stage, and a GPU for each song it runs."""

    parallel_processes = False

    def identity(self) -> BackendIdentity:
        fixed = super().identity()
        return BackendIdentity(
            backend="held",
            version=fixed.version,
            settings=fixed.settings,
            model_id="local/whisper-test",
            model_revision="0" * 40,
            libraries=("songset", "numpy"),
        )

    def resources(self) -> SongResources:
        return SongResources(num_cpus=2.0, num_gpus=1.0)


def calls(calls_file: Path) -> list[str]:
    return calls_file.read_text(encoding="utf-8").split() if calls_file.is_file() else []
