"""Talking to GitLab: one HTTP client, one retry policy, one mapping of failures to
error codes, shared by REST and GraphQL (python-gitlab's ``http_request`` plays the
same role there).

- connection reuse and a bounded pool (``sync.concurrency``)
- jittered exponential backoff on 5xx, timeouts and dropped connections
- on 429 wait for ``Retry-After`` / ``RateLimit-Reset``, then RATE_LIMITED with
  ``retry_after_ms`` when tries run out
- 401 → AUTH_FAILED, 404 → NOT_FOUND, network → NETWORK_ERROR
- requests and retries are logged without the token
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from lore import __version__
from lore.core.errors import ErrorCode, LoreError

log = logging.getLogger("lore.gitlab")
# Quiet by default (retries must not garble progress bars); LORE_LOG_LEVEL / LORE_DEBUG or
# the service's log file make them visible.
log.addHandler(logging.NullHandler())

#: How long we are willing to sleep for one server-provided retry hint.
MAX_HINT_WAIT_SECONDS = 60.0


@dataclass
class RetryPolicy:
    max_retries: int = 5
    base_delay_seconds: float = 0.25
    max_delay_seconds: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)] (attempt counts from 0)."""
        cap = min(self.max_delay_seconds, self.base_delay_seconds * (2**attempt))
        return cap * self.rng()


@dataclass
class Page:
    items: list[Any]
    page: int
    next_page: int | None
    total: int | None
    total_pages: int | None


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    by_route: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, route: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[route] = self.by_route.get(route, 0) + 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """The server's retry hint: ``Retry-After`` (seconds or HTTP date) or ``RateLimit-Reset``
    (epoch seconds, or a small number meaning seconds from now)."""
    now = time.time() if now is None else now
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, parsed.timestamp() - now)
        except (TypeError, ValueError):
            pass
    reset = response.headers.get("ratelimit-reset")
    if reset and reset.strip().isdigit():
        number = float(reset.strip())
        # GitLab sends an epoch timestamp; some proxies send seconds-from-now.
        return max(0.0, number - now) if number > 1_000_000_000 else number
    return None


def _route_of(path: str) -> str:
    parts = [p for p in path.split("?")[0].split("/") if p]
    if "graphql" in parts:
        return "graphql"
    for name in ("discussions", "diffs", "merge_requests", "issues"):
        if name in parts:
            return name
    if "projects" in parts:
        return "project"
    return parts[-1] if parts else "root"


def encode_project(project: str | int) -> str:
    return str(project) if isinstance(project, int) else quote(project, safe="")


class GitLabClient:
    """A thread-safe GitLab client; safe to share across the sync's worker threads."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        concurrency: int = 8,
        timeout_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        limits = httpx.Limits(
            max_connections=max(1, concurrency), max_keepalive_connections=max(1, concurrency)
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"PRIVATE-TOKEN": token, "User-Agent": f"lore/{__version__}",
                     "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
            limits=limits,
            transport=transport,
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitLabClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the single request path -----------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        what: str | None = None,
    ) -> httpx.Response:
        """Send one request with the retry policy; return a 2xx response or raise LoreError.

        ``what`` names the thing asked for, so a 404 says "project group/x not found".
        """
        route = _route_of(path)
        last_hint: float | None = None
        attempt = 0
        while True:
            self.stats.count(route)
            started = time.perf_counter()
            try:
                response = self._http.request(method, path, params=params, json=json_body)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}".strip()
                if attempt < self.retry.max_retries:
                    delay = self.retry.backoff(attempt)
                    log.warning("%s %s failed (%s); retry %d in %.2fs", method, path, reason,
                                attempt + 1, delay)
                    self.stats.count_retry()
                    self.retry.sleep(delay)
                    attempt += 1
                    continue
                raise self._network_error(reason, exc) from None
            elapsed_ms = int((time.perf_counter() - started) * 1000)
            status = response.status_code
            log.debug("%s %s -> %d (%d ms)", method, path, status, elapsed_ms)
            if status < 400:
                return response
            if status == 429:
                hint = retry_after_seconds(response)
                last_hint = hint
                if attempt < self.retry.max_retries and (hint is None or hint <= MAX_HINT_WAIT_SECONDS):
                    delay = hint if hint is not None else self.retry.backoff(attempt)
                    # A little jitter on top of the hint so parallel workers don't stampede.
                    delay += self.retry.rng() * min(1.0, self.retry.base_delay_seconds)
                    log.warning("%s %s rate limited; retry %d in %.2fs", method, path,
                                attempt + 1, delay)
                    self.stats.count_retry()
                    self.retry.sleep(delay)
                    attempt += 1
                    continue
                retry_ms = int(last_hint * 1000) if last_hint is not None else None
                raise LoreError(
                    ErrorCode.RATE_LIMITED,
                    f"GitLab kept answering 429 Too Many Requests for {method} {path}",
                    suggestion="Wait and retry, or lower sync.concurrency in the config",
                    retry_after_ms=retry_ms,
                )
            if status >= 500:
                if attempt < self.retry.max_retries:
                    delay = self.retry.backoff(attempt)
                    log.warning("%s %s -> %d; retry %d in %.2fs", method, path, status,
                                attempt + 1, delay)
                    self.stats.count_retry()
                    self.retry.sleep(delay)
                    attempt += 1
                    continue
                raise LoreError(
                    ErrorCode.NETWORK_ERROR,
                    f"GitLab answered {status} for {method} {path} after "
                    f"{self.retry.max_retries + 1} tries",
                    suggestion="GitLab may be having trouble; retry later",
                )
            raise self._client_error(status, method, path, response, what)

    def _network_error(self, reason: str, exc: Exception) -> LoreError:
        return LoreError(
            ErrorCode.NETWORK_ERROR,
            f"cannot reach GitLab at {self.base_url}: {reason}",
            suggestion="Check the URL (gitlab.baseUrl), your network, and that GitLab is up",
        )

    def _client_error(
        self, status: int, method: str, path: str, response: httpx.Response, what: str | None
    ) -> LoreError:
        message = _server_message(response)
        if status == 401:
            return LoreError(
                ErrorCode.AUTH_FAILED,
                f"GitLab rejected the token (401 Unauthorized{': ' + message if message else ''})",
                suggestion="Create a personal access token with scope read_api and export it in "
                "the variable named by gitlab.tokenEnvVar",
            )
        if status == 403:
            return LoreError(
                ErrorCode.AUTH_FAILED,
                f"GitLab refused access to {what or path} (403 Forbidden)",
                suggestion="The token needs the read_api scope and access to the project",
            )
        if status == 404:
            return LoreError(
                ErrorCode.NOT_FOUND,
                f"{what or path} not found on {self.base_url}",
                suggestion="Check the project path (group/sub/repo) and that the token can see it",
            )
        return LoreError(
            ErrorCode.NETWORK_ERROR,
            f"GitLab answered {status} for {method} {path}{': ' + message if message else ''}",
            suggestion="This may be a GitLab version lore does not support; retry with LORE_DEBUG=1",
        )

    # -- helpers ---------------------------------------------------------------------

    def get_json(self, path: str, params: dict[str, Any] | None = None, what: str | None = None) -> Any:
        response = self.request("GET", path, params=params, what=what)
        return _decode(response, path)

    def get_page(self, path: str, params: dict[str, Any] | None = None, page: int = 1,
                 per_page: int = 100, what: str | None = None) -> Page:
        query = dict(params or {})
        query.update({"page": page, "per_page": per_page})
        response = self.request("GET", path, params=query, what=what)
        items = _decode(response, path)
        if not isinstance(items, list):
            raise LoreError(ErrorCode.NETWORK_ERROR, f"GitLab sent a non-list body for {path}",
                            suggestion="Check gitlab.baseUrl points at a GitLab instance")
        headers = response.headers
        return Page(
            items=items,
            page=page,
            next_page=_int_header(headers.get("x-next-page")) or _next_from_link(headers.get("link")),
            total=_int_header(headers.get("x-total")),
            total_pages=_int_header(headers.get("x-total-pages")),
        )

    def iter_pages(self, path: str, params: dict[str, Any] | None = None,
                   per_page: int = 100, what: str | None = None) -> Iterator[Page]:
        """Follow ``x-next-page`` (or ``Link: rel=next``) one page after another."""
        page_no: int | None = 1
        while page_no:
            page = self.get_page(path, params, page=page_no, per_page=per_page, what=what)
            yield page
            page_no = page.next_page if page.items else None

    def get_all(self, path: str, params: dict[str, Any] | None = None,
                per_page: int = 100, what: str | None = None) -> list[Any]:
        out: list[Any] = []
        for page in self.iter_pages(path, params, per_page, what):
            out.extend(page.items)
        return out

    def post_graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """POST to /api/graphql through the same retry policy and error mapping.
        Interpreting a GraphQL ``errors`` array is the caller's job (``lore.gitlab.graphql``)."""
        response = self.request("POST", "/api/graphql",
                                json_body={"query": query, "variables": variables or {}},
                                what="GraphQL endpoint")
        return _decode(response, "/api/graphql")

    # -- the few endpoints init needs ---------------------------------------------------

    def version(self) -> dict[str, Any]:
        return dict(self.get_json("/api/v4/version", what="GitLab version endpoint"))

    def current_user(self) -> dict[str, Any]:
        return dict(self.get_json("/api/v4/user", what="current user"))

    def project(self, path: str | int) -> dict[str, Any]:
        return dict(self.get_json(f"/api/v4/projects/{encode_project(path)}",
                                  what=f"project {path}"))


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        msg = body.get("message") or body.get("error")
        return str(msg) if msg else ""
    return ""


def _decode(response: httpx.Response, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise LoreError(
            ErrorCode.NETWORK_ERROR,
            f"GitLab sent a body that is not JSON for {path} (HTTP {response.status_code})",
            suggestion="Check that gitlab.baseUrl points at GitLab and not at a proxy or login page",
        ) from None


def _int_header(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def _next_from_link(link: str | None) -> int | None:
    if not link:
        return None
    for part in link.split(","):
        if 'rel="next"' in part:
            url = part.split(";")[0].strip().strip("<>")
            parsed = httpx.URL(url)
            page = parsed.params.get("page")
            if page and page.isdigit():
                return int(page)
    return None
