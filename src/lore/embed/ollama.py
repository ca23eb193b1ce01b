"""Ollama's ``POST /api/embed`` behind :class:`~lore.embed.provider.EmbeddingProvider`.

Every failure leaves this module as ``LoreError(EMBEDDING_UNAVAILABLE)`` with a way out:
``ollama serve`` when the server cannot be reached, ``ollama pull <model>`` when it does
not have the model.

The transport is :class:`lore.embed.http.JsonClient` (sockets only: cheap to import, which
matters to a one-shot ``lore search``), or httpx when a proxy variable applies to the
server's URL (see :func:`proxied`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

from lore.core.errors import ErrorCode, LoreError
from lore.embed.http import (
    ConnectFailed,
    JsonClient,
    ProtocolError,
    TransportError,
    TransportTimeout,
)

log = logging.getLogger("lore.embed")

#: Transient failures (5xx, timeouts, dropped connections) are retried this many times.
MAX_RETRIES = 2
RETRY_DELAYS_SECONDS = (0.2, 0.5)


class _Transport(Protocol):
    def post_json(self, path: str, payload: Any) -> tuple[int, bytes]: ...

    def close(self) -> None: ...


def proxied(base_url: str) -> bool:
    """Whether an ``*_proxy`` environment variable applies to ``base_url`` (honoured, as
    httpx does, by using httpx then)."""
    names = {k.lower() for k, v in os.environ.items() if v and k.lower().endswith("_proxy")}
    scheme = "https" if base_url.startswith("https://") else "http"
    if not names & {f"{scheme}_proxy", "all_proxy"}:
        return False
    from urllib.parse import urlsplit
    from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

    host = urlsplit(base_url).hostname or ""
    return not proxy_bypass_environment(host)


class _HttpxTransport:
    """httpx behind the same interface and errors as :class:`JsonClient` (for proxies)."""

    def __init__(
        self, base_url: str, *, timeout_seconds: float, connect_timeout_seconds: float
    ) -> None:
        import httpx

        self._httpx = httpx
        self.base_url = base_url
        # Plain http (the usual local Ollama) needs no TLS context, whose CA bundle costs
        # ~100 ms to load.
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
            verify=base_url.startswith("https://"),
        )

    def post_json(self, path: str, payload: Any) -> tuple[int, bytes]:
        httpx = self._httpx
        try:
            response = self._client.post(self.base_url + path, json=payload)
        except httpx.ConnectError as exc:
            raise ConnectFailed(str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise TransportTimeout(f"{type(exc).__name__}: {exc}") from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise ProtocolError(f"{type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from exc
        return response.status_code, response.content

    def close(self) -> None:
        self._client.close()


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
        # A CPU-only Ollama can take a while per batch; connecting should not.
        transport = _HttpxTransport if proxied(self.base_url) else JsonClient
        self._client: _Transport = transport(
            self.base_url,
            timeout_seconds=timeout_seconds,
            connect_timeout_seconds=connect_timeout_seconds,
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
            out.extend(self._embed_batch(texts[start : start + self.batch_size]))
        return out

    # -- internals ----------------------------------------------------------------------

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        payload = {"model": self._model, "input": texts}
        response = self._post_with_retries("/api/embed", payload)
        vectors = self._parse(response, len(texts))
        return vectors

    def _post_with_retries(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        attempt = 0
        while True:
            self.requests += 1
            try:
                status, body = self._client.post_json(path, payload)
            except ConnectFailed as exc:
                # Nothing listening: retrying will not help within one run.
                raise self._unreachable(
                    f"cannot connect to Ollama at {self.base_url}: {exc}"
                ) from None
            except (TransportTimeout, ProtocolError) as exc:
                if attempt < MAX_RETRIES:
                    self._backoff(attempt, f"{type(exc).__name__}: {exc}")
                    attempt += 1
                    continue
                raise self._unreachable(
                    f"Ollama at {self.base_url} did not answer ({type(exc).__name__}: {exc})"
                ) from None
            except TransportError as exc:
                raise self._unreachable(
                    f"request to Ollama at {self.base_url} failed: {exc}"
                ) from None
            if status >= 500 and attempt < MAX_RETRIES:
                self._backoff(attempt, f"HTTP {status}")
                attempt += 1
                continue
            if status >= 400:
                raise self._http_error(status, body)
            return status, body

    def _backoff(self, attempt: int, why: str) -> None:
        delay = RETRY_DELAYS_SECONDS[min(attempt, len(RETRY_DELAYS_SECONDS) - 1)]
        log.info("ollama: %s; retrying in %.2fs", why, delay)
        self._sleep(delay)

    def _parse(self, response: tuple[int, bytes], expected: int) -> list[list[float]]:
        status, raw = response
        try:
            body = json.loads(raw)
            vectors = body["embeddings"]
        except (ValueError, KeyError, TypeError):
            raise self._unavailable(
                f"Ollama at {self.base_url} returned an unexpected response to /api/embed "
                f"(HTTP {status})",
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
                raise self._unavailable(
                    "Ollama returned an empty vector",
                    suggestion=f"Check that {self._model!r} is an embedding model",
                )
            if self._dimension is None:
                self._dimension = len(vector)
            elif len(vector) != self._dimension:
                raise self._unavailable(
                    f"Ollama returned vectors of {len(vector)} and {self._dimension} dimensions",
                    suggestion="Check the Ollama server's logs",
                )
            out.append([float(x) for x in vector])
        return out

    def _http_error(self, status: int, body: bytes) -> LoreError:
        try:
            detail = str(json.loads(body).get("error") or "")
        except (ValueError, AttributeError):
            detail = body[:200].decode("utf-8", "replace")
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
                f"Ollama at {self.base_url} failed with HTTP {status}"
                + (f": {detail}" if detail else "")
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
            f'(`ollama pull {self._model}`), or set embedding.provider to "none" in the config',
            actions=["ollama serve", f"ollama pull {self._model}"],
        )

    def _unavailable(
        self, message: str, *, suggestion: str, actions: list[str] | None = None
    ) -> LoreError:
        return LoreError(
            ErrorCode.EMBEDDING_UNAVAILABLE,
            message,
            suggestion=suggestion,
            actions=actions,
            details={"base_url": self.base_url, "model": self._model},
        )
