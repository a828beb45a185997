"""`transcriber=whisper_hf`: any Whisper checkpoint through Transformers, in process.

How a song is transcribed, and why:
- The song is cut into fixed 30 s windows (Whisper's input length; `hf.chunk_bounds`), so windows of many
  songs share one padded batch. Segment and word times are shifted by each window's offset into song time.
  (Whisper's own sequential long-form seeks to the last timestamp instead; fixed windows trade a word cut
  at a boundary for batching, and keep every window's signals separate.)
- Pass 1, per window: the encoder and one decoder step on <|startoftranscript|>. Its distribution gives the
  language (softmax over the language tokens only, as Whisper's `detect_language`) and `no_speech_prob`
  (the probability of <|nospeech|> at that position, as Whisper's `DecodingTask` computes it). The song's
  language is the window-average of the language distributions weighted by each window's speech probability,
  so an instrumental intro does not decide it (Whisper looks at the first 30 s only); a forced `language`
  skips this.
- Pass 2, per window: `generate` with timestamps, the song's language and `output_scores`. The scores are the
  log-softmax of the logits after Whisper's logit rules (`compute_transition_scores(normalize_logits=True)`),
  which is what Whisper's decoder sums: `avg_logprob` = sum of the chosen tokens' log-probabilities
  (end-of-text included) / (tokens + 1), and `compression_ratio` is that of the window's decoded text. Like
  Whisper, the three signals are per window: every segment of a window carries its window's values.
- Word timestamps (`word_timestamps: true`) come from Transformers' cross-attention DTW
  (`return_token_timestamps`, the checkpoint's `alignment_heads`); a word's probability is the mean of its
  tokens' probabilities.
- Greedy decoding, no temperature fallback and no beam search (Whisper's first try at temperature 0); the
  guard (`guard.py`) judges the signals instead of a retry.

The model loads once per process (`parallel_processes = False`); its exact revision (the hub snapshot
commit, or a sha256 of a local folder's weights) is part of the cache key and the provenance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from songset.annotators.hf import chunk_bounds, snapshot_commit, weights_sha256
from songset.annotators.hf_errors import (
    AnnotatorSetupError,
    check_model_type,
    check_transformers,
    download_snapshot,
)
from songset.audio import load_audio
from songset.backend import BackendIdentity
from songset.runner import SongResources
from songset.settings import BackendSettings, Configured, transport
from songset.transcribers.base import Transcriber, Transcription, TranscriptSegment, TranscriptWord
from songset.transcribers.guard import compression_ratio
from songset.transcribers.separation import SeparationSettings, vocal_separator

WHISPER_HF_VERSION = "1"  # bump when a change here changes the output for the same inputs
SAMPLE_RATE = 16000
WINDOW_S = 30.0  # Whisper's input length
TIME_PRECISION = 0.02  # seconds per timestamp token
MIN_WINDOW_S = 0.2  # a shorter tail is not worth a decode


class WhisperHFSettings(BackendSettings):
    """The only home of `transcriber=whisper_hf`'s defaults; conf/transcriber/whisper_hf.yaml documents them."""

    model: str = Field("openai/whisper-large-v3-turbo", description="hub id or local folder")
    revision: str | None = Field(
        None, description="hub branch, tag or commit; the resolved commit is recorded"
    )
    language: str | None = Field(None, description="Whisper language code to force; null: detect per song")
    word_timestamps: bool = False
    max_new_tokens: int = Field(440, ge=1, le=444, description="per 30 s window (448 minus the prompt)")
    max_audio_s: float = Field(1200.0, gt=0)
    seed: int = 0
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    device: str = "auto"
    separate_vocals: bool = Field(False, description="transcribe Demucs' vocal stem instead of the mix")
    separation: SeparationSettings = Field(default_factory=SeparationSettings)
    batch_size: int = transport(8, ge=1)


@dataclass
class _Window:
    song: int
    start: float
    end: float
    samples: np.ndarray
    no_speech_prob: float = 0.0
    language_probs: np.ndarray | None = None
    segments: list[TranscriptSegment] = field(default_factory=list)
    tokens: int = 0
    hit_max: bool = False


class WhisperHFTranscriber(Configured[WhisperHFSettings], Transcriber):
    """Whisper (any size, any fine-tune with Whisper's tokenizer) through `WhisperForConditionalGeneration`."""

    parallel_processes = False  # the model is loaded once per stage, in this process

    Settings = WhisperHFSettings

    def setup(self) -> None:
        self.batch_size = self.settings.batch_size
        self.separator = vocal_separator(self.settings.separate_vocals, self.settings.separation)
        self._resolved: tuple[Path, str] | None = None
        self._model: Any = None
        self._processor: Any = None
        self._runtime: tuple[str, str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_model=None, _processor=None)  # each process loads its own copy on first use
        return state

    # ---- identity -------------------------------------------------------------------------------
    def runtime(self) -> tuple[str, str]:
        """(device, dtype) after resolving `auto`: fp16 on a GPU, fp32 on CPU."""
        if self._runtime is None:
            import torch

            device = self.settings.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            dtype = self.settings.dtype
            if dtype == "auto":
                dtype = "float16" if device.startswith("cuda") else "float32"
            self._runtime = (device, dtype)
        return self._runtime

    def resources(self) -> SongResources:
        device, _ = self.runtime()
        return SongResources(num_cpus=1.0, num_gpus=1.0 if device.startswith("cuda") else 0.0)

    def resolve(self) -> tuple[Path, str]:
        """(folder, exact revision): a local folder as it is, a hub id through the cache (offline-aware)."""
        if self._resolved is None:
            check_transformers("whisper_hf", "whisper", "4.45", group="transcriber")
            local = Path(self.settings.model).expanduser()
            if local.is_dir():
                self._resolved = (local, snapshot_commit(local) or weights_sha256(local))
            else:
                folder = self._download()
                self._resolved = (folder, snapshot_commit(folder) or self.settings.revision or "unknown")
        return self._resolved

    def _download(self) -> Path:
        patterns = ["*.json", "*.safetensors", "*.txt"]
        return download_snapshot(self.settings.model, self.settings.revision, patterns)

    def identity(self) -> BackendIdentity:
        _, revision = self.resolve()
        device, dtype = self.runtime()
        settings = {**self.settings.output_settings(), "dtype": dtype, "device": device.split(":")[0]}
        libraries = ("songset", "torch", "transformers", "huggingface_hub", "numpy", "soundfile")
        if self.separator is not None:
            settings["separation"] = self.separator.identity()
            libraries = (*libraries, "demucs")
        return BackendIdentity(
            backend="whisper_hf",
            version=WHISPER_HF_VERSION,
            settings={**settings, "window_s": WINDOW_S, "sample_rate": SAMPLE_RATE},
            model_id=self.settings.model,
            model_revision=revision,
            libraries=libraries,
        )

    def check_ready(self) -> None:
        self.load()  # a missing checkpoint or a wrong family fails once, before the first song

    # ---- loading --------------------------------------------------------------------------------
    def load(self) -> tuple[Any, Any]:
        if self._model is None:
            import torch
            import transformers

            folder, _ = self.resolve()
            device, dtype = self.runtime()
            config = transformers.AutoConfig.from_pretrained(folder)
            check_model_type("whisper_hf", self.settings.model, "whisper", config)
            processor = transformers.WhisperProcessor.from_pretrained(folder)
            model = transformers.WhisperForConditionalGeneration.from_pretrained(
                folder, dtype=getattr(torch, dtype)
            )
            gen = model.generation_config
            if not getattr(gen, "lang_to_id", None) or not getattr(gen, "no_timestamps_token_id", None):
                raise AnnotatorSetupError(
                    f"{self.settings.model}: its generation_config.json has no lang_to_id / "
                    "no_timestamps_token_id, so it cannot give timestamps or a language (an English-only or "
                    "converted checkpoint without Whisper's generation config)"
                )
            if self.settings.word_timestamps and not getattr(gen, "alignment_heads", None):
                raise AnnotatorSetupError(
                    f"{self.settings.model}: word_timestamps needs alignment_heads in its generation config"
                )
            if self.settings.language and f"<|{self.settings.language}|>" not in gen.lang_to_id:
                raise AnnotatorSetupError(
                    f"transcriber.language={self.settings.language!r} is not one of {self.settings.model}'s "
                    "languages"
                )
            model.to(device)
            model.eval()
            self._model, self._processor = model, processor
        return self._model, self._processor

    # ---- transcription --------------------------------------------------------------------------
    def transcribe(self, path: Path) -> Transcription:
        result = self.transcribe_batch([path])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def transcribe_batch(self, paths: list[Path]) -> list[Transcription | Exception]:
        """Songs -> 30 s windows -> batches -> one Transcription per song (or that song's error)."""
        results: list[Transcription | Exception | None] = [None] * len(paths)
        windows: list[_Window] = []
        for i, path in enumerate(paths):
            try:
                samples = self._samples(path)
            except Exception as exc:
                results[i] = exc
                continue
            duration = len(samples) / SAMPLE_RATE
            for start, end in chunk_bounds(duration, WINDOW_S, self.settings.max_audio_s):
                if end - start >= MIN_WINDOW_S:
                    piece = samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
                    windows.append(_Window(i, start, end, piece))
        seconds = [0.0] * len(paths)
        languages: dict[int, tuple[str, float | None]] = {}
        for stage in ("detect", "decode"):
            if stage == "decode":
                languages = self._song_languages(windows, results)
            for b in range(0, len(windows), self.batch_size):
                batch = [w for w in windows[b : b + self.batch_size] if results[w.song] is None]
                if not batch:
                    continue
                started = time.perf_counter()
                try:
                    if stage == "detect":
                        self._detect(batch)
                    else:
                        self._decode(batch, [languages[w.song][0] for w in batch])
                except Exception as exc:  # a failed batch fails its songs, not the run
                    for w in batch:
                        results[w.song] = exc
                    continue
                share = (time.perf_counter() - started) / len(batch)
                for w in batch:
                    seconds[w.song] += share
        out: list[Transcription | Exception] = []
        for i in range(len(paths)):
            result = results[i]
            if result is None:
                mine = [w for w in windows if w.song == i]
                language, probability = languages.get(i, (self.settings.language or "", None))
                result = self._assemble(mine, language, probability, seconds[i])
            out.append(result)
        return out

    def _samples(self, path: Path) -> np.ndarray:
        """The song at 16 kHz mono, or its vocal stem when `separate_vocals` is on."""
        if self.separator is not None:
            return self.separator.vocals(path, SAMPLE_RATE)
        return load_audio(path, SAMPLE_RATE).samples

    def _features(self, batch: list[_Window]) -> Any:
        import torch

        _, processor = self.load()
        device, dtype = self.runtime()
        features = processor.feature_extractor(
            [w.samples for w in batch], sampling_rate=SAMPLE_RATE, return_tensors="pt"
        ).input_features
        return features.to(device=device, dtype=getattr(torch, dtype))

    def _detect(self, batch: list[_Window]) -> None:
        """One decoder step on <|startoftranscript|>: each window's no-speech probability and language odds."""
        import torch

        model, processor = self.load()
        gen = model.generation_config
        features = self._features(batch)
        start = torch.full((len(batch), 1), gen.decoder_start_token_id, device=features.device)
        with torch.inference_mode():
            logits = model(input_features=features, decoder_input_ids=start).logits[:, -1].float()
        no_speech_id = _no_speech_id(processor.tokenizer)
        probs = logits.softmax(-1)
        language_ids = list(gen.lang_to_id.values())
        language_probs = logits[:, language_ids].softmax(-1).cpu().numpy()
        for j, window in enumerate(batch):
            window.no_speech_prob = float(probs[j, no_speech_id]) if no_speech_id is not None else 0.0
            window.language_probs = language_probs[j]

    def _song_languages(
        self, windows: list[_Window], results: list[Transcription | Exception | None]
    ) -> dict[int, tuple[str, float | None]]:
        """Song -> (language code, probability): forced, or the speech-weighted mean of its windows' odds."""
        if self.settings.language:
            return {w.song: (self.settings.language, None) for w in windows}
        model, _ = self.load()
        codes = [token.strip("<|>") for token in model.generation_config.lang_to_id]
        found: dict[int, tuple[str, float | None]] = {}
        for song in {w.song for w in windows if results[w.song] is None}:
            mine = [w for w in windows if w.song == song and w.language_probs is not None]
            weights = np.array([max(1e-6, 1.0 - w.no_speech_prob) for w in mine])
            mean = np.average(np.stack([w.language_probs for w in mine]), axis=0, weights=weights)
            best = int(np.argmax(mean))
            found[song] = (codes[best], round(float(mean[best]), 4))
        return found

    def _decode(self, batch: list[_Window], languages: list[str]) -> None:
        """Timestamped generation for a batch of windows; fills each window's segments and signals."""
        import torch

        model, processor = self.load()
        tok = processor.tokenizer
        gen = model.generation_config
        s = self.settings
        features = self._features(batch)
        torch.manual_seed(s.seed)
        with torch.inference_mode():
            out = model.generate(
                features,
                language=languages,
                task="transcribe",
                return_timestamps=True,
                return_token_timestamps=s.word_timestamps,
                return_dict_in_generate=True,
                output_scores=True,
                force_unique_generate_call=True,
                max_new_tokens=s.max_new_tokens,
                num_beams=1,  # greedy: Whisper's first try at temperature 0 (beam search is not wired up)
            )
        sequences = out["sequences"]
        scores = model.compute_transition_scores(sequences, out["scores"], normalize_logits=True)
        prompt = sequences.shape[1] - scores.shape[1]
        stamps = out.get("token_timestamps") if s.word_timestamps else None
        eos = gen.eos_token_id
        stamp_begin = gen.no_timestamps_token_id + 1
        for j, window in enumerate(batch):
            tokens = sequences[j, prompt:].tolist()
            logprobs = scores[j].float().cpu().numpy()
            n = tokens.index(eos) if eos in tokens else len(tokens)
            window.tokens = n
            window.hit_max = n >= s.max_new_tokens
            summed = float(np.sum(logprobs[: min(n + 1, len(logprobs))]))
            avg_logprob = summed / (n + 1)
            text_ids = [t for t in tokens[:n] if t < stamp_begin]
            ratio = compression_ratio(tok.decode(text_ids, skip_special_tokens=True).strip())
            times = stamps[j, prompt:].tolist() if stamps is not None else None
            window.segments = self._segments(
                tokens[:n], logprobs[:n], times, window, stamp_begin, tok, avg_logprob, ratio
            )

    def _segments(
        self,
        tokens: list[int],
        logprobs: np.ndarray,
        times: list[float] | None,
        window: _Window,
        stamp_begin: int,
        tok: Any,
        avg_logprob: float,
        ratio: float,
    ) -> list[TranscriptSegment]:
        """Timestamp tokens -> segments in song time: <|t0|> text <|t1|>, pairs back to back, an open tail
        ending at the window's end."""
        spans: list[tuple[float, float, list[int]]] = []  # (start, end, token positions)
        start: float | None = None
        positions: list[int] = []
        for k, token in enumerate(tokens):
            if token >= stamp_begin:
                stamp = (token - stamp_begin) * TIME_PRECISION
                if start is None:
                    start = stamp
                elif positions:
                    spans.append((start, stamp, positions))
                    start, positions = None, []
                else:
                    start = stamp  # two stamps with nothing between: the later one opens the segment
            else:
                if start is None:
                    start = 0.0
                positions.append(k)
        if positions:
            spans.append((start or 0.0, window.end - window.start, positions))
        segments = []
        limit = window.end
        for seg_start, seg_end, where in spans:
            text = tok.decode([tokens[k] for k in where], skip_special_tokens=True).strip()
            if not text:
                continue
            begin = round(min(window.start + seg_start, limit), 3)
            words = self._words(tokens, logprobs, times, where, window, tok) if times is not None else []
            segments.append(
                TranscriptSegment(
                    start=begin,
                    end=round(max(begin, min(window.start + seg_end, limit)), 3),
                    text=text,
                    avg_logprob=round(avg_logprob, 4),
                    no_speech_prob=round(window.no_speech_prob, 4),
                    compression_ratio=round(ratio, 4),
                    words=words,
                )
            )
        return segments

    def _words(
        self,
        tokens: list[int],
        logprobs: np.ndarray,
        times: list[float],
        where: list[int],
        window: _Window,
        tok: Any,
    ) -> list[TranscriptWord]:
        """Text tokens -> words (a token whose piece starts with a space opens a word), timed by DTW."""
        groups: list[list[int]] = []
        for k in where:
            piece = tok.convert_ids_to_tokens(tokens[k]) or ""
            if not groups or piece.startswith("Ġ") or piece.startswith(" "):
                groups.append([k])
            else:
                groups[-1].append(k)
        words = []
        limit = window.end
        for group in groups:
            text = tok.decode([tokens[k] for k in group], skip_special_tokens=True).strip()
            if not text:
                continue
            after = group[-1] + 1
            start = round(min(window.start + times[group[0]], limit), 3)
            end = times[after] if after < len(times) else window.end - window.start
            probability = float(np.mean(np.exp(logprobs[group])))
            words.append(
                TranscriptWord(
                    start=start,
                    end=round(max(start, min(window.start + end, limit)), 3),
                    text=text,
                    probability=round(min(1.0, max(0.0, probability)), 4),
                )
            )
        return words

    def _assemble(
        self, windows: list[_Window], language: str, probability: float | None, seconds: float
    ) -> Transcription:
        segments = [segment for w in windows for segment in w.segments]
        device, dtype = self.runtime()
        tokens = sum(w.tokens for w in windows)
        return Transcription(
            text="\n".join(segment.text for segment in segments),
            language=language or None,
            language_probability=probability,
            segments=segments,
            extra_provenance={
                "language_forced": self.settings.language is not None,
                "windows": len(windows),
                "tokens_generated": tokens,
                "hit_max_new_tokens": any(w.hit_max for w in windows),
                "no_speech_prob_by_window": [round(w.no_speech_prob, 4) for w in windows],
                "seconds": round(seconds, 3),
                "device": device,
                "dtype": dtype,
                "batch_size": self.batch_size,
            },
        )


def _no_speech_id(tokenizer: Any) -> int | None:
    """<|nospeech|> (large-v3 and later) or <|nocaptions|> (earlier checkpoints)."""
    for name in ("<|nospeech|>", "<|nocaptions|>"):
        token = tokenizer.convert_tokens_to_ids(name)
        if token is not None and token != tokenizer.unk_token_id:
            return int(token)
    return None
