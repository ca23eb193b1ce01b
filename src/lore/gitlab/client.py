"""Talking to GitLab: one HTTP client, one retry policy, one mapping of failures to
error codes, shared by REST and GraphQL (python-gitlab's ``http_request`` plays the
same role there).

- :meth:`GitLabClient.from_config` is the one place that turns a config into a client
  (``lore init``, ``lore service doctor`` and the sync pipeline all use it).
- Auth: ``Authorization: Bearer <token>``, which GitLab accepts for personal, project,
  group and OAuth tokens (so a ``glab auth login`` token works). Fallback: when a Bearer
  request gets 401 before any Bearer request has succeeded, the same request is sent once
  more with ``PRIVATE-TOKEN`` (some proxies eat ``Authorization``); if that works the
  client keeps using ``PRIVATE-TOKEN``. Once Bearer has worked, a 401 is simply a 401.
- TLS: the OS trust store (``truststore`` when installed) plus certifi, plus the files
  named by ``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE`` and ``gitlab.caBundle``;
  ``gitlab.tlsVerify: false`` turns checks off with a loud warning once per process.
  Certificate and other TLS errors are permanent: no retries, and the message names
  the fix (``gitlab.caBundle`` / ``SSL_CERT_FILE``).
- Redirects are never followed blindly. A redirected POST (GraphQL) is an error naming
  the final URL: httpx would turn POST + 301/302 into a bodyless GET. A GET redirect is
  followed only to the same host (http→https on the same host included) and then the
  client moves its base URL there, so later POSTs go straight to it. A redirect to
  another host is an error naming both hosts; the token never goes there.
- Rate limits: ``RateLimit-Remaining`` / ``RateLimit-Reset`` on ordinary responses feed a
  throttle shared by every worker thread: when the remaining budget runs low, requests
  are spread over the time left until the reset instead of running into 429s. A 429
  waits for its hint (``Retry-After`` / ``RateLimit-Reset``); a 429 without one waits for
  the next minute window (GitLab's throttles are per minute), at most
  ``RetryPolicy.max_rate_limit_waits`` times. A hint longer than
  ``MAX_HINT_WAIT_SECONDS`` ends the request at once as RATE_LIMITED with
  ``retry_after_ms``, so the service backs off until then.
- jittered exponential backoff on 5xx, timeouts and dropped connections
- errors: 401 → AUTH_FAILED showing GitLab's ``error_description``; 403
  ``insufficient_scope`` → :class:`InsufficientScopeError` (AUTH_FAILED, names the scope);
  any other 403 → :class:`ForbiddenError` (AUTH_FAILED for callers that do not catch it;
  the sync stages catch it on a resource list and skip that resource as "not available
  for this project"); 404 → NOT_FOUND; network → NETWORK_ERROR
- requests and retries are logged without the token
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx

from lore import __version__
from lore.core.errors import ErrorCode, LoreError

if TYPE_CHECKING:
    from lore.core.config import Config

log = logging.getLogger("lore.gitlab")
# Quiet by default (retries must not garble progress bars); LORE_LOG_LEVEL / LORE_DEBUG or
# the service's log file make them visible.
log.addHandler(logging.NullHandler())

#: How long we are willing to sleep for one server-provided retry hint.
MAX_HINT_WAIT_SECONDS = 60.0
#: GitLab's throttles count per minute: a 429 without a hint waits for the next window.
RATE_LIMIT_WINDOW_SECONDS = 60.0
#: Redirect hops followed for one GET (same host only).
MAX_REDIRECTS = 5

_REDIRECTS = (301, 302, 303, 307, 308)
_CA_ENV_VARS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
_insecure_warned = False
_insecure_lock = threading.Lock()


@dataclass
class RetryPolicy:
    max_retries: int = 5
    base_delay_seconds: float = 0.25
    max_delay_seconds: float = 8.0
    #: 429s without any hint waited out (each until the next minute window).
    max_rate_limit_waits: int = 3
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random
    #: Wall clock (epoch seconds), compared with ``RateLimit-Reset``; injectable for tests.
    clock: Callable[[], float] = time.time

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)] (attempt counts from 0)."""
        cap = min(self.max_delay_seconds, self.base_delay_seconds * (2**attempt))
        return cap * self.rng()

    def until_next_window(self) -> float:
        """Seconds to the start of the next minute window, plus up to 1 s of jitter."""
        now = self.clock()
        return RATE_LIMIT_WINDOW_SECONDS - (now % RATE_LIMIT_WINDOW_SECONDS) + self.rng()


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
    #: Seconds the rate-limit throttle made requests wait (before any 429).
    throttled_seconds: float = 0.0
    throttled_requests: int = 0
    by_route: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, route: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[route] = self.by_route.get(route, 0) + 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def count_throttle(self, seconds: float) -> None:
        with self._lock:
            self.throttled_requests += 1
            self.throttled_seconds += seconds


class ForbiddenError(LoreError):
    """GitLab answered 403 for something other than the token's scope.

    On a resource list (``/merge_requests``, ``/issues``) that means the feature is
    disabled, limited to members, or beyond the token's role in this project: not a bad
    token. The sync stages catch it and skip the resource; a caller that does not catch
    it still sees AUTH_FAILED."""

    def __init__(
        self, message: str, *, path: str, what: str | None, server_message: str, suggestion: str
    ) -> None:
        super().__init__(ErrorCode.AUTH_FAILED, message, suggestion=suggestion)
        self.http_status = 403
        self.path = path
        self.what = what
        self.server_message = server_message


class InsufficientScopeError(LoreError):
    """403 ``insufficient_scope``: the token works but lacks a scope (a real AUTH_FAILED).

    ``scope_missing`` is the scope to add (``read_api`` when GitLab accepts it),
    ``accepted_scopes`` every scope GitLab listed for the endpoint."""

    def __init__(
        self,
        message: str,
        *,
        path: str,
        scope_missing: str,
        accepted_scopes: list[str],
        suggestion: str,
    ) -> None:
        super().__init__(ErrorCode.AUTH_FAILED, message, suggestion=suggestion)
        self.http_status = 403
        self.path = path
        self.scope_missing = scope_missing
        self.accepted_scopes = accepted_scopes


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


class RateLimitThrottle:
    """Paces requests from GitLab's ``RateLimit-*`` headers; shared by all worker threads.

    While the window's remaining budget is above ``low_water`` nothing waits. Below it,
    each request reserves a slot ``(reset - now) / remaining`` after the previous one, so
    the budget lasts until the window resets; at 0 every request waits for the reset. A
    429 blocks every thread until its wait ends (:meth:`block_until`)."""

    def __init__(self, concurrency: int, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._concurrency = max(1, concurrency)
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._limit: int | None = None
        self._next_slot = 0.0
        self._blocked_until = 0.0

    @property
    def low_water(self) -> int:
        # Enough headroom for every in-flight worker, and 10% of the per-minute quota.
        return max(2 * self._concurrency, (self._limit or 0) // 10)

    def observe(self, response: httpx.Response) -> None:
        """Learn the budget from a response's headers (any status)."""
        headers = response.headers
        remaining = _int_header(headers.get("ratelimit-remaining"))
        reset = _int_header(headers.get("ratelimit-reset"))
        if remaining is None or reset is None:
            return
        if reset < 1_000_000_000:  # seconds from now (proxies); GitLab sends epoch seconds
            reset = int(self._clock()) + reset
        limit = _int_header(headers.get("ratelimit-limit"))
        with self._lock:
            if self._reset_at is None or reset != int(self._reset_at):
                self._reset_at, self._remaining = float(reset), remaining  # a new window
            else:
                # Answers of concurrent requests arrive out of order: the lowest is newest.
                self._remaining = (
                    remaining if self._remaining is None else min(self._remaining, remaining)
                )
            if limit is not None:
                self._limit = limit

    def block_until(self, when: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, when)

    def delay(self) -> float:
        """Reserve this request's slot; the seconds to wait before sending it."""
        with self._lock:
            now = self._clock()
            wait = max(0.0, self._blocked_until - now)
            if self._reset_at is None or self._remaining is None:
                return wait
            if now >= self._reset_at:
                # The window is over: the next answer tells us the new budget.
                self._reset_at = self._remaining = None
                self._next_slot = 0.0
                return wait
            if self._remaining > self.low_water:
                self._remaining -= 1
                return wait
            if self._remaining <= 0:
                # Used up: wait for the reset (a hair after it: clocks tick apart).
                return max(wait, self._reset_at - now + 0.05)
            interval = (self._reset_at - now) / self._remaining
            slot = max(now + wait, self._next_slot)
            self._next_slot = slot + interval
            self._remaining -= 1
            return slot - now


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


# -- TLS ------------------------------------------------------------------------------


def ssl_context_for(
    ca_bundle: str | None = None,
    tls_verify: bool = True,
    environ: dict[str, str] | None = None,
    strict_env: bool = True,
) -> ssl.SSLContext | bool:
    """What httpx should verify with: ``False`` (``gitlab.tlsVerify: false``, with a loud
    warning once per process) or a context trusting the OS store (``truststore`` when
    installed), certifi, and every CA file named by ``REQUESTS_CA_BUNDLE``,
    ``SSL_CERT_FILE`` and ``gitlab.caBundle``. A CA file named by an environment variable
    that cannot be loaded is CONFIG_INVALID naming the variable when ``strict_env`` (an
    https:// base URL), else only logged (a plain-http set-up must not fail on it)."""
    if not tls_verify:
        _warn_insecure()
        return False
    env = os.environ if environ is None else environ
    try:
        import truststore

        context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except ImportError:
        context = ssl.create_default_context()
    try:
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):
        pass  # the OS store alone
    sources: list[tuple[str, str]] = [
        (var, env[var]) for var in _CA_ENV_VARS if env.get(var, "").strip()
    ]
    if ca_bundle:
        sources.append(("gitlab.caBundle", ca_bundle))
    for name, path in sources:
        try:
            context.load_verify_locations(cafile=os.path.expanduser(path.strip()))
        except (OSError, ssl.SSLError) as exc:
            is_key = "." in name
            if not is_key and not strict_env:
                log.warning("ignoring %s=%s: %s", name, path, exc)
                continue
            raise LoreError(
                ErrorCode.CONFIG_INVALID,
                f"{'config key' if is_key else 'environment variable'} {name!r}: cannot load "
                f"the CA bundle {path!r} ({exc.__class__.__name__}: {exc})",
                suggestion=(
                    f"Point {name} at a PEM file with your CA's certificate"
                    + ("" if is_key else f", or unset {name}")
                ),
                details={"key": name} if is_key else {"env": name},
            ) from None
    return context


def _warn_insecure() -> None:
    global _insecure_warned
    with _insecure_lock:
        if _insecure_warned:
            return
        _insecure_warned = True
    message = (
        "WARNING: gitlab.tlsVerify is false: lore does NOT check GitLab's TLS "
        "certificate. Anyone on the network path can read your token and data. "
        "Set gitlab.caBundle to your CA's PEM file instead."
    )
    log.warning("%s", message)
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


#: TLS failures no retry can fix (a dropped handshake, by contrast, may be transient).
_PERMANENT_TLS = (
    "CERTIFICATE_VERIFY_FAILED",
    "WRONG_VERSION_NUMBER",
    "UNKNOWN_PROTOCOL",
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "UNSUPPORTED_PROTOCOL",
    "HANDSHAKE_FAILURE",
)


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The permanent TLS error behind an httpx transport error, if it is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        if isinstance(current, ssl.SSLError) and any(
            marker in str(current) for marker in _PERMANENT_TLS
        ):
            return current
        current = current.__cause__ or current.__context__
    text = str(exc)
    if any(marker in text for marker in _PERMANENT_TLS):
        return ssl.SSLError(text)
    return None


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


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
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: The base URL as configured; ``base_url`` moves when GitLab redirects (same host).
        self.configured_base_url = self.base_url
        self._host = _host_of(self.base_url)
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        self.throttle = RateLimitThrottle(concurrency, clock=self.retry.clock)
        self._token = token
        self._auth_lock = threading.Lock()
        self._auth = "bearer"  # or "private-token" after a successful fallback
        self._bearer_confirmed = False
        limits = httpx.Limits(
            max_connections=max(1, concurrency), max_keepalive_connections=max(1, concurrency)
        )
        self._http = httpx.Client(
            headers={"User-Agent": f"lore/{__version__}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
            limits=limits,
            transport=transport,
            verify=verify,
            # Redirects are judged by request(): never for POST, never to another host.
            follow_redirects=False,
        )

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        concurrency: int | None = None,
        timeout_seconds: float | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        token: str | None = None,
    ) -> GitLabClient:
        """The one place a config becomes a client: base URL, token (TOKEN_NOT_SET if
        unset), TLS (``gitlab.caBundle``, ``gitlab.tlsVerify``, ``SSL_CERT_FILE``,
        ``REQUESTS_CA_BUNDLE``, the OS store), ``sync.concurrency``,
        ``sync.timeoutSeconds`` and ``sync.maxRetries`` unless given here. ``token``
        overrides the environment (the service's env file holds it for doctor)."""
        token = token if token else config.token()
        verify = ssl_context_for(
            config.gitlab.ca_bundle,
            config.gitlab.tls_verify,
            strict_env=config.base_url.startswith("https://"),
        )
        return cls(
            config.base_url,
            token,
            concurrency=concurrency if concurrency is not None else config.sync.concurrency,
            timeout_seconds=(
                timeout_seconds if timeout_seconds is not None else config.sync.timeout_seconds
            ),
            retry=retry or RetryPolicy(max_retries=config.sync.max_retries),
            transport=transport,
            verify=verify,
        )

    @property
    def auth_scheme(self) -> str:
        """``"bearer"``, or ``"private-token"`` after the fallback worked."""
        return self._auth

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitLabClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the single request path -----------------------------------------------------

    def _auth_headers(self, scheme: str) -> dict[str, str]:
        if scheme == "private-token":
            return {"PRIVATE-TOKEN": self._token}
        return {"Authorization": f"Bearer {self._token}"}

    def _send(
        self, method: str, url: str, params: dict[str, Any] | None, json_body: Any, scheme: str
    ) -> httpx.Response:
        """One HTTP exchange after the throttle's go-ahead."""
        wait = self.throttle.delay()
        if wait > MAX_HINT_WAIT_SECONDS:
            # The window's budget is gone for longer than we wait for any hint: stop now
            # (the service backs off until then) rather than hold a worker for minutes.
            raise self._rate_limited(method, urlsplit(url).path, wait)
        if wait > 0:
            self.stats.count_throttle(wait)
            log.info("rate limit: waiting %.2fs before %s %s", wait, method, urlsplit(url).path)
            self.retry.sleep(wait)
        response = self._http.request(
            method, url, params=params, json=json_body, headers=self._auth_headers(scheme)
        )
        self.throttle.observe(response)
        return response

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
        bare_waits = 0
        fallback_tried = False
        hops = 0
        url = self._url_for(path)
        while True:
            self.stats.count(route)
            started = time.perf_counter()
            scheme = self._auth
            try:
                response = self._send(method, url, params, json_body, scheme)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}".strip()
                tls = _tls_failure(exc)
                if tls is not None:
                    raise self._tls_error(tls) from None  # permanent: retrying cannot help
                if attempt < self.retry.max_retries:
                    delay = self.retry.backoff(attempt)
                    log.warning(
                        "%s %s failed (%s); retry %d in %.2fs",
                        method,
                        path,
                        reason,
                        attempt + 1,
                        delay,
                    )
                    self.stats.count_retry()
                    self.retry.sleep(delay)
                    attempt += 1
                    continue
                raise self._network_error(reason, exc) from None
            elapsed_ms = int((time.perf_counter() - started) * 1000)
            status = response.status_code
            log.debug("%s %s -> %d (%d ms)", method, path, status, elapsed_ms)
            if status in _REDIRECTS and response.headers.get("location"):
                hops += 1
                if hops > MAX_REDIRECTS:
                    raise LoreError(
                        ErrorCode.NETWORK_ERROR,
                        f"too many redirects for {method} {path}",
                        suggestion="Check gitlab.baseUrl and the proxy in front of GitLab",
                    )
                url, params = self._redirected(method, path, response)
                continue
            if status < 300:
                if scheme == "bearer" and not self._bearer_confirmed:
                    self._bearer_confirmed = True
                return response
            if status < 400:
                raise self._unexpected(status, method, path, response)
            if (
                status == 401
                and scheme == "bearer"
                and not self._bearer_confirmed
                and not fallback_tried
            ):
                # Some proxies strip Authorization; try the token once as PRIVATE-TOKEN.
                fallback_tried = True
                bearer_answer = response
                log.info("%s %s -> 401 with Bearer; trying PRIVATE-TOKEN once", method, path)
                try:
                    retry_response = self._send(method, url, params, json_body, "private-token")
                except httpx.TransportError:
                    raise self._client_error(401, method, path, bearer_answer, what) from None
                if retry_response.status_code < 300:
                    with self._auth_lock:
                        self._auth = "private-token"
                    log.warning(
                        "GitLab accepted the token as PRIVATE-TOKEN but not as "
                        "Authorization: Bearer (a proxy may strip it); using "
                        "PRIVATE-TOKEN from now on"
                    )
                    return retry_response
                if retry_response.status_code != 401:
                    response, status = retry_response, retry_response.status_code
                else:
                    raise self._client_error(401, method, path, bearer_answer, what)
            if status == 429:
                hint = retry_after_seconds(response, now=self.retry.clock())
                if hint is not None and hint > MAX_HINT_WAIT_SECONDS:
                    raise self._rate_limited(method, path, hint)
                if hint is None:
                    bare_waits += 1
                    if bare_waits > self.retry.max_rate_limit_waits:
                        raise self._rate_limited(method, path, None)
                    delay = self.retry.until_next_window()
                elif attempt < self.retry.max_retries:
                    last_hint = hint
                    # A little jitter on top of the hint so parallel workers don't stampede.
                    delay = hint + self.retry.rng() * min(1.0, self.retry.base_delay_seconds)
                    attempt += 1
                else:
                    raise self._rate_limited(method, path, hint if hint is not None else last_hint)
                log.warning(
                    "%s %s rate limited (%s); waiting %.2fs",
                    method,
                    path,
                    "no hint" if hint is None else f"hint {hint:.0f}s",
                    delay,
                )
                self.throttle.block_until(self.retry.clock() + delay)
                self.stats.count_retry()
                self.retry.sleep(delay)
                continue
            if status >= 500:
                if attempt < self.retry.max_retries:
                    delay = self.retry.backoff(attempt)
                    log.warning(
                        "%s %s -> %d; retry %d in %.2fs", method, path, status, attempt + 1, delay
                    )
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

    def _url_for(self, path: str) -> str:
        """The absolute URL for ``path``: relative to the base URL, or an absolute URL from
        GitLab itself (a keyset ``Link: rel="next"``). An absolute URL keeps its path and
        query but goes to the current base's scheme and port (GitLab behind a proxy may
        write http:// links); one for another host is refused before the token leaves."""
        if not path.startswith(("http://", "https://")):
            return self.base_url + (path if path.startswith("/") else "/" + path)
        parts = urlsplit(path)
        host = (parts.hostname or "").lower()
        if host != self._host:
            raise LoreError(
                ErrorCode.NETWORK_ERROR,
                f"GitLab at {self._host} sent a link to another host, {host}; lore does not "
                "send the token there (gitlab.baseUrl)",
                suggestion="Check GitLab's external_url and the proxy in front of it",
                details={"configured_host": self._host, "link_host": host},
            )
        base = urlsplit(self.base_url)
        return f"{base.scheme}://{base.netloc}{parts.path}" + (
            f"?{parts.query}" if parts.query else ""
        )

    def _redirected(
        self, method: str, path: str, response: httpx.Response
    ) -> tuple[str, dict[str, Any] | None]:
        """Judge a redirect: the URL to follow (GET, same host), or raise."""
        target = str(response.request.url.join(response.headers["location"]))
        target_host = _host_of(target)
        if target_host != self._host:
            raise LoreError(
                ErrorCode.CONFIG_INVALID,
                f"GitLab at {self._host} redirected {method} {path} to another host, "
                f"{target_host or target}; lore does not send the token to a host other "
                "than the configured one (gitlab.baseUrl)",
                suggestion=f"If {target_host} is the real GitLab, set gitlab.baseUrl to it "
                "(lore init --force --url ...)",
                details={
                    "key": "gitlab.baseUrl",
                    "configured_host": self._host,
                    "redirect_host": target_host,
                },
            )
        if method not in ("GET", "HEAD"):
            final = self._base_from(target, path) or target
            raise LoreError(
                ErrorCode.CONFIG_INVALID,
                f"GitLab redirected {method} {path} to {target}; a redirected {method} "
                f"loses its body, so lore does not follow it: set gitlab.baseUrl to {final}",
                suggestion=f"Set gitlab.baseUrl to {final}",
                actions=[f"lore init --force --url {final}"],
                details={"key": "gitlab.baseUrl", "final_url": final},
            )
        if response.request.url.scheme == "https" and target.startswith("http:"):
            raise LoreError(
                ErrorCode.CONFIG_INVALID,
                f"GitLab redirected {method} {path} from https to plain http ({target}); "
                "lore does not send the token unencrypted",
                suggestion="Check gitlab.baseUrl and the proxy in front of GitLab",
                details={"key": "gitlab.baseUrl"},
            )
        new_base = self._base_from(target, path)
        if new_base and new_base != self.base_url:
            log.warning(
                "gitlab.baseUrl %s redirects to %s; using %s (set gitlab.baseUrl to it)",
                self.base_url,
                new_base,
                new_base,
            )
            self.base_url = new_base
        # The Location carries the query already.
        return target, None

    @staticmethod
    def _base_from(target: str, path: str) -> str | None:
        """The base URL a redirect implies, when its path still ends with ``path``."""
        parts = urlsplit(target)
        wanted = path.split("?")[0]
        if not parts.path.endswith(wanted):
            return None
        prefix = parts.path[: len(parts.path) - len(wanted)].rstrip("/")
        return f"{parts.scheme}://{parts.netloc}{prefix}"

    def _rate_limited(self, method: str, path: str, hint: float | None) -> LoreError:
        retry_ms = (
            int(hint * 1000) if hint is not None else int(self.retry.until_next_window() * 1000)
        )
        return LoreError(
            ErrorCode.RATE_LIMITED,
            f"GitLab kept answering 429 Too Many Requests for {method} {path}"
            + (f" (it asks to wait {hint:.0f}s)" if hint is not None else ""),
            suggestion="Wait and retry, or lower sync.concurrency in the config",
            retry_after_ms=retry_ms,
        )

    def _tls_error(self, exc: ssl.SSLError) -> LoreError:
        verify_failed = isinstance(
            exc, ssl.SSLCertVerificationError
        ) or "CERTIFICATE_VERIFY_FAILED" in str(exc)
        detail = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
        if verify_failed:
            return LoreError(
                ErrorCode.NETWORK_ERROR,
                f"cannot verify GitLab's TLS certificate at {self.base_url} ({detail}); set "
                "gitlab.caBundle to your CA's PEM file or export SSL_CERT_FILE",
                suggestion="If GitLab uses a certificate from your organisation's CA, set "
                "gitlab.caBundle in the config to that CA's PEM file (or export "
                "SSL_CERT_FILE=/path/to/ca.pem); check the host name in gitlab.baseUrl",
                details={"tls": True},
            )
        return LoreError(
            ErrorCode.NETWORK_ERROR,
            f"TLS handshake with GitLab at {self.base_url} failed ({detail}); check the "
            "scheme and port in gitlab.baseUrl",
            suggestion="Check that gitlab.baseUrl uses the right scheme (https:// only if the "
            "server speaks TLS) and port; for a private CA set gitlab.caBundle or SSL_CERT_FILE",
            details={"tls": True},
        )

    def _network_error(self, reason: str, exc: Exception) -> LoreError:
        return LoreError(
            ErrorCode.NETWORK_ERROR,
            f"cannot reach GitLab at {self.base_url}: {reason}",
            suggestion="Check the URL (gitlab.baseUrl), your network, and that GitLab is up",
        )

    def _unexpected(
        self, status: int, method: str, path: str, response: httpx.Response
    ) -> LoreError:
        return LoreError(
            ErrorCode.NETWORK_ERROR,
            f"GitLab answered {status} for {method} {path}",
            suggestion="Check that gitlab.baseUrl points at GitLab itself",
        )

    def _client_error(
        self, status: int, method: str, path: str, response: httpx.Response, what: str | None
    ) -> LoreError:
        body = _error_body(response)
        message = _server_message(response)
        if status == 401:
            description = body.get("error_description") or _challenge_param(
                response, "error_description"
            )
            reason = str(description) if description else (message or "401 Unauthorized")
            return LoreError(
                ErrorCode.AUTH_FAILED,
                f"GitLab rejected the token: {reason}",
                suggestion="Create a personal access token with scope read_api and export it in "
                "the variable named by gitlab.tokenEnvVar",
            )
        if status == 403:
            challenge_error = _challenge_param(response, "error")
            if body.get("error") == "insufficient_scope" or challenge_error == "insufficient_scope":
                raw_scope = body.get("scope") or _challenge_param(response, "scope") or ""
                scopes = [s for s in str(raw_scope).replace(",", " ").split() if s]
                missing = "read_api" if "read_api" in scopes or not scopes else scopes[0]
                accepted = f" (GitLab accepts: {', '.join(scopes)})" if scopes else ""
                return InsufficientScopeError(
                    f"the token lacks the scope {missing} needed for {what or path}{accepted}",
                    path=path,
                    scope_missing=missing,
                    accepted_scopes=scopes,
                    suggestion=f"Create a token with scope {missing} and export it in the "
                    "variable named by gitlab.tokenEnvVar",
                )
            return ForbiddenError(
                f"GitLab refused access to {what or path} (403 Forbidden"
                f"{': ' + message if message and message != '403 Forbidden' else ''})",
                path=path,
                what=what,
                server_message=message,
                suggestion="The feature may be disabled or limited to members in this "
                "project, or the token's user lacks the role; check the project's settings",
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

    def get_json(
        self, path: str, params: dict[str, Any] | None = None, what: str | None = None
    ) -> Any:
        response = self.request("GET", path, params=params, what=what)
        return _decode(response, path)

    def get_page(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        page: int = 1,
        per_page: int = 100,
        what: str | None = None,
    ) -> Page:
        query = dict(params or {})
        query.update({"page": page, "per_page": per_page})
        response = self.request("GET", path, params=query, what=what)
        items = _decode(response, path)
        if not isinstance(items, list):
            raise LoreError(
                ErrorCode.NETWORK_ERROR,
                f"GitLab sent a non-list body for {path}",
                suggestion="Check gitlab.baseUrl points at a GitLab instance",
            )
        headers = response.headers
        return Page(
            items=items,
            page=page,
            next_page=_int_header(headers.get("x-next-page"))
            or _next_from_link(headers.get("link")),
            total=_int_header(headers.get("x-total")),
            total_pages=_int_header(headers.get("x-total-pages")),
        )

    def iter_pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        per_page: int = 100,
        what: str | None = None,
    ) -> Iterator[Page]:
        """Follow ``x-next-page`` (or ``Link: rel=next``) one page after another."""
        page_no: int | None = 1
        while page_no:
            page = self.get_page(path, params, page=page_no, per_page=per_page, what=what)
            yield page
            page_no = page.next_page if page.items else None

    def get_all(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        per_page: int = 100,
        what: str | None = None,
    ) -> list[Any]:
        out: list[Any] = []
        for page in self.iter_pages(path, params, per_page, what):
            out.extend(page.items)
        return out

    def post_graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """POST to /api/graphql through the same retry policy and error mapping.
        Interpreting a GraphQL ``errors`` array is the caller's job (``lore.gitlab.graphql``)."""
        response = self.request(
            "POST",
            "/api/graphql",
            json_body={"query": query, "variables": variables or {}},
            what="GraphQL endpoint",
        )
        return _decode(response, "/api/graphql")

    # -- the few endpoints init needs ---------------------------------------------------

    def version(self) -> dict[str, Any]:
        return dict(self.get_json("/api/v4/version", what="GitLab version endpoint"))

    def current_user(self) -> dict[str, Any]:
        return dict(self.get_json("/api/v4/user", what="current user"))

    def project(self, path: str | int) -> dict[str, Any]:
        return dict(
            self.get_json(f"/api/v4/projects/{encode_project(path)}", what=f"project {path}")
        )


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _challenge_param(response: httpx.Response, name: str) -> str | None:
    """A parameter of the ``WWW-Authenticate: Bearer ...`` challenge (RFC 6750)."""
    header = response.headers.get("www-authenticate") or ""
    marker = f'{name}="'
    at = header.find(marker)
    if at < 0:
        return None
    end = header.find('"', at + len(marker))
    return header[at + len(marker) : end] if end > 0 else None


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
