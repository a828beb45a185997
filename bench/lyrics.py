"""Transcription: word error rate, language accuracy, the invented-lyrics guard, seconds per minute of audio.

Why a script, not a test: speed depends on the machine and quality needs real weights, which tests never
load. Backends: the tiny random Whisper (always; it times the code path, its words are noise), each
`--model` (a Whisper checkpoint by hub id or local folder) and each `--base-url` (an OpenAI-compatible
/v1/audio/transcriptions server). Tables:

1. Seconds per minute of audio, per backend, on the demo songs (data/audio, cut to --seconds).
2. WER and language accuracy where the lyrics are known. /work/shared/data has no song with known lyrics
   (its README lists none), so the known set is rendered here: espeak-ng speaks fixed texts in five
   languages over instrumental demo songs (vocals 6 dB above the music). The set is split into a tuning
   half and a checking half (nothing is tuned on either here; the guard's thresholds are Whisper's own);
   both are reported, quote the checking half. Skipped without espeak-ng (apt install espeak-ng).
3. The guard on instrumental songs (cc-music: Kevin MacLeod x2, Brahms, the trumpet loop; and the
   acestep-generated background music, assumed instrumental): how many get transcribed text before the
   guard, and how many keep text or are flagged after it.

Tables 2 and 3 need a real model: with the tiny model only they say so, unless --tiny-quality asks to run
them anyway (to check the code path; the numbers then mean nothing).

    python bench/lyrics.py [--model openai/whisper-large-v3-turbo] [--base-url http://localhost:8000/v1
        --served-model NAME] [--device auto] [--separate-vocals] [--seconds 60] [--tiny-quality]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))  # the tiny Whisper builder is test-support code, not part of songset

from songset.transcribers.base import Transcriber, Transcription  # noqa: E402
from songset.transcribers.guard import GuardSettings, guard_transcription, normalise  # noqa: E402

SHARED = Path(os.environ.get("SONGSET_SHARED_DATA", "/work/shared/data"))
DEMO = ROOT / "data" / "audio"
INSTRUMENTAL_DEMO = (
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
)
CC_INSTRUMENTAL = (
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg",
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
    "sorohanro_-_solo-trumpet-06.ogg",
)
# Texts written for this benchmark (nobody's lyrics): (language code, espeak-ng voice, text).
KNOWN_TEXTS: tuple[tuple[str, str, str], ...] = (
    ("en", "en", "The river runs down to the sea tonight. I will follow the water until the morning light."),
    ("en", "en", "Hold the line and sing it loud. We are walking home beneath a silver cloud."),
    ("de", "de", "Der Fluss fliesst heute Nacht zum Meer. Ich folge dem Wasser bis zum Morgenlicht."),
    ("de", "de", "Halte die Linie und singe laut. Wir gehen nach Hause unter einer silbernen Wolke."),
    ("fr", "fr", "La riviere coule vers la mer ce soir. Je suivrai l'eau jusqu'a la lumiere du matin."),
    ("fr", "fr", "Tiens la ligne et chante fort. Nous rentrons a la maison sous un nuage d'argent."),
    ("es", "es", "El rio baja hasta el mar esta noche. Seguire el agua hasta la luz de la manana."),
    ("es", "es", "Manten la linea y canta fuerte. Caminamos a casa bajo una nube de plata."),
    ("it", "it", "Il fiume scende verso il mare stanotte. Seguiro l'acqua fino alla luce del mattino."),
    ("it", "it", "Tieni la linea e canta forte. Torniamo a casa sotto una nuvola d'argento."),
)


@dataclass
class Backend:
    name: str
    make: Callable[[], Transcriber]
    real: bool


def clip(source: Path, dst: Path, seconds: float, offset_s: float = 0.0) -> Path:
    from songset.audio import load_audio

    audio = load_audio(source, 22050)
    start = int(min(offset_s, max(0.0, audio.duration - seconds)) * 22050)
    piece = np.resize(audio.samples[start:], int(seconds * 22050))
    sf.write(str(dst), piece, 22050)
    return dst


def render_known(folder: Path) -> list[tuple[Path, str, str]]:
    """(file, language, text): espeak-ng speech over an instrumental demo song, vocals 6 dB above it."""
    from songset.audio import load_audio

    items = []
    for i, (language, voice, text) in enumerate(KNOWN_TEXTS):
        speech_file = folder / f"speech{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(speech_file), text], check=True)
        speech = load_audio(speech_file, 22050, check=False).samples
        speech = np.concatenate([np.zeros(22050 * 2, np.float32), speech, np.zeros(22050 * 2, np.float32)])
        seconds = max(12.0, len(speech) / 22050)
        music = load_audio(DEMO / INSTRUMENTAL_DEMO[i % 2], 22050).samples
        music = np.resize(music[22050 * 10 :], int(seconds * 22050))
        speech = np.pad(speech, (0, len(music) - len(speech)))
        gain = np.sqrt(np.mean(speech**2) / max(1e-12, np.mean(music**2))) / 10 ** (6 / 20)
        mix = speech + gain * music
        path = folder / f"known{i}_{language}.wav"
        sf.write(str(path), (0.9 * mix / np.max(np.abs(mix))).astype(np.float32), 22050)
        items.append((path, language, text))
    return items


def run(backend: Backend, paths: list[Path]) -> tuple[list[Transcription | Exception], float]:
    transcriber = backend.make()
    transcriber.check_ready()
    started = time.perf_counter()
    results = transcriber.transcribe_batch(paths)
    return results, time.perf_counter() - started


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def speed(backends: list[Backend], paths: list[Path], minutes: float) -> None:
    rows = []
    for backend in backends:
        results, seconds = run(backend, paths)
        failed = sum(isinstance(r, Exception) for r in results)
        rows.append(
            [backend.name, len(paths), f"{minutes:.1f}", f"{seconds:.1f}", f"{seconds / minutes:.2f}", failed]
        )
    table(
        "Seconds per minute of audio (demo songs; first call includes loading)",
        ["backend", "songs", "audio min", "seconds", "s per audio min", "failed"],
        rows,
    )


def quality(backends: list[Backend], known: list[tuple[Path, str, str]]) -> None:
    import jiwer

    halves = {"tuning": known[0::2], "checking": known[1::2]}
    rows = []
    for backend in backends:
        results, _ = run(backend, [p for p, _, _ in known])
        by_path = dict(zip([p for p, _, _ in known], results, strict=True))
        for half, items in halves.items():
            refs, hyps, right = [], [], 0
            for path, language, text in items:
                result = by_path[path]
                hyp = result.text if isinstance(result, Transcription) else ""
                refs.append(normalise(text))
                hyps.append(normalise(hyp) or "-")
                right += isinstance(result, Transcription) and result.language == language
            rows.append(
                [backend.name, half, len(items), f"{jiwer.wer(refs, hyps):.3f}", f"{right}/{len(items)}"]
            )
    table(
        "WER and language accuracy, espeak-ng speech over instrumentals (quote the checking half)",
        ["backend", "half", "songs", "WER", "language right"],
        rows,
    )


def guard(backends: list[Backend], songs: list[Path]) -> None:
    settings = GuardSettings()
    rows = []
    for backend in backends:
        results, _ = run(backend, songs)
        done = [r for r in results if isinstance(r, Transcription)]
        for song, result in zip(songs, results, strict=True):
            if isinstance(result, Exception):
                print(f"  {backend.name}: {song.name} failed: {result}")
        guarded = [guard_transcription(r, settings) for r in done]
        with_text = sum(bool(r.text.strip()) for r in done)
        kept = sum(bool(g.transcription.text.strip()) and not g.invented_lyrics_suspected for g in guarded)
        flagged = sum(g.invented_lyrics_suspected for g in guarded)
        rows.append([backend.name, len(songs), len(songs) - len(done), with_text, kept, flagged])
    table(
        "Invented lyrics on instrumental songs (lower 'text after guard' is better)",
        ["backend", "songs", "failed", "text before guard", "text after guard", "flagged suspected"],
        rows,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=[], help="Whisper hub id or local folder")
    ap.add_argument("--base-url", action="append", default=[], help="OpenAI-compatible server /v1 URL")
    ap.add_argument("--served-model", default="whisper-1", help="model name for --base-url servers")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument(
        "--separate-vocals", action="store_true", help="Demucs htdemucs first (needs its weights)"
    )
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each demo song in the speed table")
    ap.add_argument("--tiny-quality", action="store_true", help="also run tables 2-3 on the tiny model")
    args = ap.parse_args()

    from support.whisper_tiny import build_tiny_whisper

    from songset.transcribers.openai_transcribe import OpenAITranscriber
    from songset.transcribers.whisper_hf import WhisperHFTranscriber

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        tiny = build_tiny_whisper(tmp_path / "tiny_whisper")
        common = {"device": args.device, "batch_size": args.batch, "separate_vocals": args.separate_vocals}
        backends = [
            Backend(
                "whisper_hf tiny random",
                lambda: WhisperHFTranscriber(model=str(tiny), max_new_tokens=32, **common),
                real=False,
            )
        ]
        for model in args.model:
            backends.append(
                Backend(f"whisper_hf {model}", lambda m=model: WhisperHFTranscriber(model=m, **common), True)
            )
        for url in args.base_url:
            backends.append(
                Backend(
                    f"openai {url}",
                    lambda u=url: OpenAITranscriber(
                        base_url=u, model=args.served_model, separate_vocals=args.separate_vocals
                    ),
                    True,
                )
            )
        demo = sorted(p for p in DEMO.iterdir() if p.suffix in (".ogg", ".opus"))
        clips = [clip(p, tmp_path / f"demo{i}.wav", args.seconds, 20.0) for i, p in enumerate(demo)]
        print(f"machine: {os.cpu_count()} CPUs; device {args.device}; separate_vocals {args.separate_vocals}")
        speed(backends, clips, len(clips) * args.seconds / 60)

        quality_backends = [b for b in backends if b.real or args.tiny_quality]
        if not quality_backends:
            print(
                "\nWER, language accuracy and the guard need a real checkpoint (--model) or server (--base-url);"
            )
            print(
                "none was given, and no Whisper weights are on this machine. --tiny-quality runs the code path."
            )
            return
        print(
            "\nSongs with known lyrics in /work/shared/data: none (its README lists none); rendered set below."
        )
        if shutil.which("espeak-ng"):
            quality(quality_backends, render_known(tmp_path))
        else:
            print("espeak-ng is not installed: no rendered known-lyrics set (apt install espeak-ng).")
        instrumental = [SHARED / "cc-music" / name for name in CC_INSTRUMENTAL]
        instrumental += sorted((SHARED / "acestep-generated").glob("*.opus"))
        instrumental = [p for p in instrumental if p.is_file()]
        if instrumental:
            guard(quality_backends, instrumental)
        else:
            print(f"\n{SHARED} is absent: no instrumental songs for the guard table.")
        if any(not b.real for b in quality_backends):
            print("\n(tiny random model rows: random weights, the numbers check the code path only)")


if __name__ == "__main__":
    main()
