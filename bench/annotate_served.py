"""Benchmark: served annotation throughput against a local server that answers after a fixed delay.

    python bench/annotate_served.py [--songs 32] [--delay 0.25] [--concurrency 1 4 16]

A ThreadingHTTPServer on 127.0.0.1 plays an OpenAI-compatible chat-completions endpoint that sleeps
`--delay` seconds per request (a stand-in for GPU time). `annotator=openai_audio` sends real requests with
the official client. With the server never the limit, songs per minute should grow near-linearly with
concurrency; the "efficiency" column is throughput / (concurrency x the one-request ideal).
This is a script that prints a table, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent


def start_server(delay_s: float) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(delay_s)
            body = json.dumps(
                {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "bench-model",
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "[0:00-0:12] A steady tone."},
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # /version, as vLLM answers it
            body = b'{"version": "bench"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def make_songs(folder: Path, count: int) -> list[Path]:
    t = np.arange(12 * 16000) / 16000
    paths = []
    for i in range(count):
        path = folder / f"song{i:03d}.wav"
        sf.write(str(path), (0.3 * np.sin(2 * np.pi * (220 + 7 * i) * t)).astype(np.float32), 16000)
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--songs", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.25, help="server seconds per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()

    os.chdir(ROOT)  # prompts are found under conf/prompt
    from songset.annotators.openai_audio import OpenAIAudioAnnotator

    server, url = start_server(args.delay)
    ideal = 60.0 / args.delay
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        songs = make_songs(Path(tmp), args.songs)
        for concurrency in args.concurrency:
            annotator = OpenAIAudioAnnotator(
                model="bench-model", base_url=url, concurrency=concurrency, max_retries=0, timeout_s=60
            )
            annotator.annotate_batch(songs[:1])  # warm: client, connection pool, server version
            started = time.perf_counter()
            results = annotator.annotate_batch(songs)
            wall = time.perf_counter() - started
            failed = sum(isinstance(r, Exception) for r in results)
            per_min = (len(songs) - failed) / wall * 60
            rows.append((concurrency, len(songs), failed, wall, per_min, per_min / (ideal * concurrency)))
    server.shutdown()
    print(f"server delay {args.delay:.2f} s per request; one-request ideal {ideal:.0f} songs/min")
    print(
        f"{'concurrency':>11} {'songs':>6} {'failed':>6} {'wall s':>8} {'songs/min':>10} {'efficiency':>10}"
    )
    for concurrency, n, failed, wall, per_min, eff in rows:
        print(f"{concurrency:>11} {n:>6} {failed:>6} {wall:>8.2f} {per_min:>10.1f} {eff:>10.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
