"""A fake Ollama on loopback for tests, benchmarks and ``lore demo``.

Speaks ``POST /api/embed`` (and the older ``/api/embeddings``), ``GET /api/tags`` and
``GET /api/version``. Vectors are deterministic feature hashes of word unigrams and
bigrams, L2-normalised, so texts that share words are close and semantic search gives
meaningful answers in demos. Failure modes (``down``, ``500``, ``unknown-model``), a
per-request delay and a request counter make the embeddings stage testable.

    f = FakeOllama.start(dim=256, model="nomic-embed-text")
    f.url, f.requests, f.texts_embedded
    f.stop()

or ``python -m lore.sim.ollama --port 0`` (prints one JSON line with the URL).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import re
import signal
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAILURE_MODES = ("down", "500", "unknown-model")

_WORD_RE = re.compile(r"\w+")
# Task prefixes that models like nomic-embed-text take; they are instructions, not content.
_PREFIX_RE = re.compile(
    r"^\s*(search_document|search_query|clustering|classification)\s*:\s*", re.I
)


def _stem(word: str) -> str:
    # Just enough stemming that "timeouts" and "timeout" share a feature.
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    digest = int.from_bytes(
        hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little"
    )
    return digest % dim, (1.0 if (digest >> 40) & 1 else -1.0)


def fake_embedding(text: str, dim: int = 256) -> list[float]:
    """The deterministic, L2-normalised vector FakeOllama returns for ``text``."""
    words = [_stem(w) for w in _WORD_RE.findall(_PREFIX_RE.sub("", text).lower())]
    features: Counter[str] = Counter(words)
    for first, second in itertools.pairwise(words):
        features[f"{first} {second}"] += 1
    vector = [0.0] * dim
    for feature, count in features.items():
        weight = (0.5 if " " in feature else 1.0) * (1.0 + math.log(count))
        index, sign = _bucket(feature, dim)
        vector[index] += sign * weight
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        vector[0] = 1.0  # an empty text still gets a valid unit vector
        return vector
    return [x / norm for x in vector]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeOllama

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (killed, timed out) is business as usual here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own output
        return

    def _send(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw or b"{}")

    def do_GET(self) -> None:
        fake = self.server.fake
        if fake.failure == "down":
            self.close_connection = True
            return
        if self.path == "/api/tags":
            self._send(
                200,
                {
                    "models": [
                        {
                            "name": f"{fake.model}:latest",
                            "model": f"{fake.model}:latest",
                            "size": 274302450,
                            "details": {"family": "nomic-bert"},
                        }
                    ]
                },
            )
        elif self.path == "/api/version":
            self._send(200, {"version": "0.0.0-fake"})
        elif self.path == "/":
            payload = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        fake = self.server.fake
        if self.path not in ("/api/embed", "/api/embeddings"):
            self._send(404, {"error": "not found"})
            return
        try:
            body = self._read_json()
        except (ValueError, UnicodeDecodeError):
            self._send(400, {"error": "invalid JSON"})
            return
        fake._count_request()
        if fake.delay_s > 0:
            time.sleep(fake.delay_s)
        if fake.failure == "down":
            self.close_connection = True  # drop the connection without an answer
            return
        if fake.failure == "500":
            self._send(500, {"error": "fake ollama: internal error"})
            return
        model = str(body.get("model") or "")
        if fake.failure == "unknown-model" or not fake.knows(model):
            self._send(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        if self.path == "/api/embeddings":  # the pre-0.3.4 single-prompt API
            self._send(200, {"embedding": fake_embedding(str(body.get("prompt") or ""), fake.dim)})
            fake._count_texts(1)
            return
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        if not all(isinstance(t, str) for t in texts):
            self._send(400, {"error": "input must be a string or a list of strings"})
            return
        fake._count_texts(len(texts))
        self._send(
            200,
            {
                "model": model,
                "embeddings": [fake_embedding(t, fake.dim) for t in texts],
                "total_duration": 1000,
                "load_duration": 0,
                "prompt_eval_count": sum(len(t.split()) for t in texts),
            },
        )


class FakeOllama:
    """A running fake Ollama server (use :meth:`start`)."""

    def __init__(
        self,
        server: _Server,
        thread: threading.Thread,
        *,
        dim: int,
        model: str,
        delay_s: float,
        failure: str | None,
    ) -> None:
        self._server = server
        self._thread = thread
        self.dim = dim
        self.model = model
        self.delay_s = delay_s
        self.failure = failure
        self._lock = threading.Lock()
        self._requests = 0
        self._texts = 0

    @classmethod
    def start(
        cls,
        dim: int = 256,
        model: str = "nomic-embed-text",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay_ms: float = 0,
        failure: str | None = None,
    ) -> FakeOllama:
        """Serve on ``host:port`` (0 = an ephemeral port) in a background thread."""
        if failure is not None and failure not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {failure!r}; one of {FAILURE_MODES}")
        server = _Server((host, port), _Handler)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-ollama",
            daemon=True,
        )
        fake = cls(server, thread, dim=dim, model=model, delay_s=delay_ms / 1000, failure=failure)
        server.fake = fake
        thread.start()
        return fake

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> int:
        """Embedding requests received (failed ones included)."""
        return self._requests

    @property
    def texts_embedded(self) -> int:
        """Texts for which a vector was returned."""
        return self._texts

    def knows(self, model: str) -> bool:
        return model.removesuffix(":latest") == self.model.removesuffix(":latest")

    def set_failure(self, mode: str | None) -> None:
        """Switch failure mode at run time (None = healthy)."""
        if mode is not None and mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {mode!r}; one of {FAILURE_MODES}")
        self.failure = mode

    def reset_counters(self) -> None:
        with self._lock:
            self._requests = 0
            self._texts = 0

    def _count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def _count_texts(self, n: int) -> None:
        with self._lock:
            self._texts += n

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeOllama:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lore.sim.ollama", description="A fake Ollama embedding server on loopback."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--model", default="nomic-embed-text")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="sleep before every answer")
    parser.add_argument("--fail", choices=FAILURE_MODES, default=None)
    args = parser.parse_args(argv)
    fake = FakeOllama.start(
        args.dim,
        args.model,
        host=args.host,
        port=args.port,
        delay_ms=args.delay_ms,
        failure=args.fail,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sys.stdout.write(json.dumps({"url": fake.url, "model": fake.model, "dim": fake.dim}) + "\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
