"""The fake Ollama: its HTTP surface, determinism, failure modes and the
`python -m lore.sim.ollama` entry point."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys

import httpx
import pytest

from lore.sim.ollama import FakeOllama, fake_embedding


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_deterministic_normalised_and_meaningful() -> None:
    a = fake_embedding("the login page times out", 256)
    assert a == fake_embedding("the login page times out", 256)
    assert len(a) == 256 and math.isclose(math.sqrt(sum(x * x for x in a)), 1.0, rel_tol=1e-9)
    near = fake_embedding("login page timeouts", 256)
    far = fake_embedding("nightly database backup on a full disk", 256)
    assert _cos(a, near) > _cos(a, far) + 0.2
    # Task prefixes are instructions, not content.
    assert fake_embedding("search_query: login page", 256) == fake_embedding("login page", 256)
    empty = fake_embedding("", 64)
    assert math.isclose(sum(x * x for x in empty), 1.0)


def test_http_api(ollama: FakeOllama) -> None:
    with httpx.Client(base_url=ollama.url) as http:
        body = http.post(
            "/api/embed", json={"model": "nomic-embed-text", "input": ["a b", "c"]}
        ).json()
        assert body["model"] == "nomic-embed-text"
        assert body["embeddings"] == [fake_embedding("a b", 256), fake_embedding("c", 256)]
        single = http.post(
            "/api/embed", json={"model": "nomic-embed-text:latest", "input": "a b"}
        ).json()
        assert single["embeddings"] == [fake_embedding("a b", 256)]
        legacy = http.post(
            "/api/embeddings", json={"model": "nomic-embed-text", "prompt": "c"}
        ).json()
        assert legacy["embedding"] == fake_embedding("c", 256)
        missing = http.post("/api/embed", json={"model": "llama3", "input": ["x"]})
        assert missing.status_code == 404 and "not found" in missing.json()["error"]
        tags = http.get("/api/tags").json()
        assert tags["models"][0]["name"] == "nomic-embed-text:latest"
        assert http.get("/").text == "Ollama is running"
    assert ollama.requests == 4 and ollama.texts_embedded == 4


def test_failure_modes_switch_at_run_time(ollama: FakeOllama) -> None:
    with httpx.Client(base_url=ollama.url) as http:
        ollama.set_failure("500")
        assert (
            http.post("/api/embed", json={"model": "nomic-embed-text", "input": ["x"]}).status_code
            == 500
        )
        ollama.set_failure("unknown-model")
        assert (
            http.post("/api/embed", json={"model": "nomic-embed-text", "input": ["x"]}).status_code
            == 404
        )
        ollama.set_failure("down")
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/api/embed", json={"model": "nomic-embed-text", "input": ["x"]})
    ollama.set_failure(None)
    with httpx.Client(base_url=ollama.url) as http:
        assert (
            http.post("/api/embed", json={"model": "nomic-embed-text", "input": ["x"]}).status_code
            == 200
        )
    with pytest.raises(ValueError):
        ollama.set_failure("flaky")


def test_module_entry_point_prints_its_url_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lore.sim.ollama", "--port", "0", "--dim", "32", "--model", "tiny"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["model"] == "tiny" and info["dim"] == 32
        assert info["url"].startswith("http://127.0.0.1:")
        body = httpx.post(
            info["url"] + "/api/embed", json={"model": "tiny", "input": ["hello"]}
        ).json()
        assert body["embeddings"] == [fake_embedding("hello", 32)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
