"""Ollama's ``POST /api/embed`` behind :class:`~lore.embed.provider.EmbeddingProvider`.

Every failure leaves this module as ``LoreError(EMBEDDING_UNAVAILABLE)`` with a way out:
``ollama serve`` when the server cannot be reached, ``ollama pull <model>`` when it does
not have the model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from lore.core.errors import ErrorCode, LoreError

log = logging.getLogger("lore.embed")

#: Transient failures (5xx, timeouts, dropped connections) are retried this many times.
MAX_RETRIES = 2
RETRY_DELAYS_SECONDS = (0.2, 0.5)


class OllamaProvider:
    """Batched client for one Ollama server and one model."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        batch_size: int = 32,
        timeout_seconds: float = 120.0,
        connect_timeout_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._model = model
        self.batch_size = max(1, batch_size)
        self._dimension: int | None = None
        self._sleep = sleep
        self.requests = 0
        # A CPU-only Ollama can take a while per batch; connecting should not. Plain http
        # (the usual local Ollama) needs no TLS context, whose CA bundle costs ~100 ms to load.
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
            verify=self.base_url.startswith("https://"),
        )

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimension(self) -> int | None:
        return self._dimension

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OllamaProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts`` in requests of at most ``batch_size`` inputs."""
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(self._embed_batch(texts[start:start + self.batch_size]))
        return out

    # -- internals ----------------------------------------------------------------------

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        payload = {"model": self._model, "input": texts}
        response = self._post_with_retries("/api/embed", payload)
        vectors = self._parse(response, len(texts))
        return vectors

    def _post_with_retries(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        url = self.base_url + path
        attempt = 0
        while True:
            self.requests += 1
            try:
                response = self._client.post(url, json=payload)
            except httpx.ConnectError as exc:
                # Nothing listening: retrying will not help within one run.
                raise self._unreachable(f"cannot connect to Ollama at {self.base_url}: {exc}") from None
            except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError,
                    httpx.WriteError) as exc:
                if attempt < MAX_RETRIES:
                    self._backoff(attempt, f"{type(exc).__name__}: {exc}")
                    attempt += 1
                    continue
                raise self._unreachable(
                    f"Ollama at {self.base_url} did not answer ({type(exc).__name__}: {exc})"
                ) from None
            except httpx.HTTPError as exc:
                raise self._unreachable(f"request to Ollama at {self.base_url} failed: {exc}") from None
            if response.status_code >= 500 and attempt < MAX_RETRIES:
                self._backoff(attempt, f"HTTP {response.status_code}")
                attempt += 1
                continue
            if response.status_code >= 400:
                raise self._http_error(response)
            return response

    def _backoff(self, attempt: int, why: str) -> None:
        delay = RETRY_DELAYS_SECONDS[min(attempt, len(RETRY_DELAYS_SECONDS) - 1)]
        log.info("ollama: %s; retrying in %.2fs", why, delay)
        self._sleep(delay)

    def _parse(self, response: httpx.Response, expected: int) -> list[list[float]]:
        try:
            body = response.json()
            vectors = body["embeddings"]
        except (ValueError, KeyError, TypeError):
            raise self._unavailable(
                f"Ollama at {self.base_url} returned an unexpected response to /api/embed "
                f"(HTTP {response.status_code})",
                suggestion="Upgrade Ollama to 0.3.4 or newer (it introduced /api/embed)",
            ) from None
        if not isinstance(vectors, list) or len(vectors) != expected:
            raise self._unavailable(
                f"Ollama returned {len(vectors) if isinstance(vectors, list) else 'no'} vectors "
                f"for {expected} inputs",
                suggestion="Check the Ollama server's logs",
            )
        out: list[list[float]] = []
        for vector in vectors:
            if not isinstance(vector, list) or not vector:
                raise self._unavailable("Ollama returned an empty vector",
                                        suggestion=f"Check that {self._model!r} is an embedding model")
            if self._dimension is None:
                self._dimension = len(vector)
            elif len(vector) != self._dimension:
                raise self._unavailable(
                    f"Ollama returned vectors of {len(vector)} and {self._dimension} dimensions",
                    suggestion="Check the Ollama server's logs",
                )
            out.append([float(x) for x in vector])
        return out

    def _http_error(self, response: httpx.Response) -> LoreError:
        try:
            detail = str(response.json().get("error") or "")
        except (ValueError, AttributeError):
            detail = response.text[:200]
        status = response.status_code
        if status == 404 or "not found" in detail.lower():
            return self._unavailable(
                f"Ollama at {self.base_url} does not have the model {self._model!r}"
                + (f": {detail}" if detail else ""),
                suggestion=f"Pull it with `ollama pull {self._model}`, or set embedding.model "
                "in the config to a model you have (`ollama list`)",
                actions=[f"ollama pull {self._model}"],
            )
        if status >= 500:
            return self._unreachable(
                f"Ollama at {self.base_url} failed with HTTP {status}" + (f": {detail}" if detail else "")
            )
        return self._unavailable(
            f"Ollama rejected the embedding request for {self._model!r} (HTTP {status})"
            + (f": {detail}" if detail else ""),
            suggestion=f"Check that {self._model!r} is an embedding model (`ollama show {self._model}`)",
        )

    def _unreachable(self, message: str) -> LoreError:
        return self._unavailable(
            message,
            suggestion=f"Start Ollama with `ollama serve` and make sure the model is present "
            f"(`ollama pull {self._model}`), or set embedding.provider to \"none\" in the config",
            actions=["ollama serve", f"ollama pull {self._model}"],
        )

    def _unavailable(self, message: str, *, suggestion: str, actions: list[str] | None = None) -> LoreError:
        return LoreError(ErrorCode.EMBEDDING_UNAVAILABLE, message, suggestion=suggestion,
                         actions=actions, details={"base_url": self.base_url, "model": self._model})
