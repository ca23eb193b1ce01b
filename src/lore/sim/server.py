"""The simulator's HTTP server and its Python API.

>>> from lore.sim.server import Simulator
>>> sim = Simulator.start(preset="small", seed=7)     # listening when this returns
>>> sim.url, sim.token                                # "http://127.0.0.1:PORT", token
>>> sim.dataset, sim.stats()                          # in-memory data, request counters
>>> sim.admin.snapshot(), sim.state.request_log       # served truth; requests seen
>>> sim.stop()

``Simulator.start`` knobs beyond the dataset: ``gitlab_version``, ``mrs_disabled`` (project
paths whose MRs answer 403), ``diff_max_files`` (GitLab's diff file cap), ``latency_ms``,
``faults``, ``work_item_status``, ``complexity_limit``. ``state.request_log`` is a bounded
deque of ``{"method", "path", "query", "auth": "bearer" | "private-token" | "none",
"status"}`` for every request outside ``/__sim/`` (never the token itself).

Standard library only: ``ThreadingHTTPServer`` with daemon threads and HTTP/1.1
keep-alive (every response carries Content-Length and is written in one ``sendall`` so a
pooled client such as httpx reuses connections without Nagle stalls).

Per API request, in order: count it in the stats, sleep ``latency_ms``, apply a fault if
a rule fires (``faults.py``), check the token, then answer. Admin routes under
``/__sim/`` (``admin.py``) skip all of that.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import secrets
import socket
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from lore.sim.admin import AdminApi
from lore.sim.faults import Fault, FaultInjector
from lore.sim.graphql import GraphqlApi
from lore.sim.model import Dataset, iso_ms
from lore.sim.render import DEFAULT_DIFF_MAX_FILES, Renderer
from lore.sim.rest import ApiError, RestApi
from lore.sim.versions import DEFAULT_VERSION, GitLabVersion
from lore.sim.wire import Request, Response, Route

_UNAUTHORIZED = {"message": "401 Unauthorized"}
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class SimState:
    """Everything the request handlers share: data, token, knobs, faults and stats."""

    def __init__(
        self,
        dataset: Dataset,
        token: str,
        latency_ms: int = 0,
        work_item_status: bool = True,
        complexity_limit: int | None = 250,
        gitlab_version: GitLabVersion | None = None,
    ) -> None:
        self.dataset = dataset
        self.gitlab_version = gitlab_version or GitLabVersion.parse(DEFAULT_VERSION)
        self.token = token
        self.latency_ms = latency_ms
        self.work_item_status = work_item_status
        self.complexity_limit = complexity_limit
        self.faults = FaultInjector()
        self.base_url = ""
        self.renderer = Renderer(dataset, "")
        self._stats_lock = threading.Lock()
        self.requests = 0
        self.by_route: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.connections = 0  # TCP connections accepted (keep-alive reuse shows here)
        self.routes: list[Route] = []
        self.graphql: GraphqlApi | None = None
        self.admin: AdminApi | None = None
        self.diff_max_files = DEFAULT_DIFF_MAX_FILES  # GitLab's per-MR diff file limit
        # Every request outside /__sim/: method, path, query, auth kind (never the token).
        self.request_log: deque[dict[str, Any]] = deque(maxlen=20_000)
        self.listing_hook: Any = None  # lore.sim.churn.ListingHook while armed
        self.churn: Any = None  # lore.sim.churn.Churn while running
        # lore.sim.ratelimit.RateLimiter when a quota is set (start(rate_limit=(n, secs))).
        self.rate_limit: Any = None

    def set_base_url(self, url: str) -> None:
        self.base_url = url
        self.renderer = Renderer(self.dataset, url)
        self.renderer.diff_max_files = self.diff_max_files

    def count(self, route_key: str) -> None:
        with self._stats_lock:
            self.requests += 1
            self.by_route[route_key] += 1

    def count_status(self, status: int | str) -> None:
        with self._stats_lock:
            self.by_status[str(status)] += 1

    def count_connection(self) -> None:
        with self._stats_lock:
            self.connections += 1

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.connections = 0
            self.requests = 0
            self.by_route.clear()
            self.by_status.clear()

    def stats(self) -> dict[str, Any]:
        """Dataset counts plus request counters (the body of ``GET /__sim/stats``)."""
        counts = self.dataset.counts()
        with self._stats_lock:
            out: dict[str, Any] = dict(counts)
            out["requests"] = self.requests
            out["requests_by_route"] = dict(sorted(self.by_route.items()))
            out["responses_by_status"] = dict(sorted(self.by_status.items()))
            out["connections"] = self.connections
        out["faults_fired"] = self.faults.total_fired
        out["now"] = iso_ms(self.dataset.now_ms)
        return out

    def authorized(self, req: Request) -> bool:
        token = req.headers.get("private-token")
        if token is None:
            auth = req.headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                token = auth[7:].strip()
        if token is None:
            token = req.param("private_token") or req.param("access_token")
        return token is not None and secrets.compare_digest(token, self.token)


def build_routes(state: SimState) -> list[Route]:
    """The route table: REST v4, GraphQL and the admin API."""

    rest = RestApi(state)
    gql = state.graphql = GraphqlApi(state)
    admin = state.admin = AdminApi(state)
    P = ("api", "v4", "projects", ":id")
    routes = [
        Route("GET", ("api", "v4", "version"), "version", rest.version),
        Route("GET", ("api", "v4", "user"), "user", rest.user),
        Route(
            "GET", ("api", "v4", "users", ":user_id"), "user", rest.user_by_id, frozenset({"users"})
        ),
        Route("GET", ("api", "v4", "projects"), "project", rest.projects, frozenset({"projects"})),
        Route("GET", P, "project", rest.project),
        Route("GET", (*P, "issues"), "issues", rest.issues),
        Route("GET", (*P, "issues_statistics"), "issues_statistics", rest.issues_statistics),
        Route("GET", (*P, "issues", ":iid"), "issues", rest.issue, frozenset({"issue"})),
        Route(
            "GET",
            (*P, "issues", ":iid", "discussions"),
            "discussions",
            rest.issue_discussions,
            frozenset({"issue_discussions"}),
        ),
        Route(
            "GET",
            (*P, "issues", ":iid", "notes"),
            "notes",
            rest.issue_notes,
            frozenset({"issue_notes"}),
        ),
        Route(
            "GET", (*P, "merge_requests"), "merge_requests", rest.merge_requests, frozenset({"mrs"})
        ),
        Route(
            "GET",
            (*P, "merge_requests", ":iid"),
            "merge_requests",
            rest.merge_request,
            frozenset({"mrs", "merge_request"}),
        ),
        Route(
            "GET",
            (*P, "merge_requests", ":iid", "discussions"),
            "discussions",
            rest.mr_discussions,
            frozenset({"mr_discussions"}),
        ),
        Route(
            "GET",
            (*P, "merge_requests", ":iid", "notes"),
            "notes",
            rest.mr_notes,
            frozenset({"mr_notes"}),
        ),
        # /diffs arrived in GitLab 15.7: before, it is an unknown route (plain 404).
        *(
            [Route("GET", (*P, "merge_requests", ":iid", "diffs"), "diffs", rest.mr_diffs)]
            if state.gitlab_version.at_least(15, 7)
            else []
        ),
        Route(
            "GET",
            (*P, "merge_requests", ":iid", "changes"),
            "diffs",
            rest.mr_changes,
            frozenset({"changes"}),
        ),
        Route("POST", ("api", "graphql"), "graphql", gql.handle),
    ]
    routes.extend(admin.routes())
    return routes


def _log_request(state: SimState, req: Request, query: str) -> dict[str, Any] | None:
    """Record a non-admin request in ``state.request_log`` (the auth kind, not the token)."""
    if req.segments[:1] == ["__sim"]:
        return None
    if "private-token" in req.headers:
        auth = "private-token"
    elif req.headers.get("authorization", "")[:7].lower() == "bearer ":
        auth = "bearer"
    else:
        auth = "none"
    entry: dict[str, Any] = {
        "method": req.method,
        "path": req.path,
        "query": query,
        "auth": auth,
        "status": None,
    }
    state.request_log.append(entry)
    return entry


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _Server
    _log_entry: dict[str, Any] | None = None
    _rate_headers: list[tuple[str, str]] | None = None  # RateLimit-* for this response
    _tls_failed = False

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and benchmarks do not want access logs on stderr

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)
        if self.server.tls_context is not None:
            from lore.sim.tls import handshake

            # A client that does not trust the certificate aborts here; nothing to serve.
            self._tls_failed = not handshake(self.connection)

    def handle(self) -> None:
        if not self._tls_failed:
            super().handle()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.track(self.connection, False)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        raw_segments = [s for s in split.path.split("/") if s != ""]
        # Split before decoding so "acme%2Ftools%2Fcli" stays one segment.
        segments = [unquote(s) for s in raw_segments]
        req = Request(
            method=self.command,
            path=split.path,
            segments=segments,
            query=parse_qsl(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
        )
        self._log_entry = _log_request(state, req, split.query)
        route, args, method_ok = self._match(state.routes, req)
        if route is None:
            is_api = bool(segments) and segments[0] == "api"
            if is_api:
                state.count(f"{req.method} <unmatched>")
            status = 405 if method_ok is False else 404
            error = "405 Method Not Allowed" if status == 405 else "404 Not Found"
            self._send(Response.json({"error": error}, status))
            return
        req.args = args
        if route.api:
            state.count(route.key)
            if state.latency_ms > 0:
                time.sleep(state.latency_ms / 1000)
            if state.rate_limit is not None:
                # Rack::Attack sits in front of the app: count first, refuse over quota.
                decision = state.rate_limit.hit()
                self._rate_headers = decision.headers
                if decision.throttled:
                    state.count_status(429)
                    self._send(Response.text("Retry later\n", 429))
                    return
            fault = state.faults.pick(route.names(), req.method, route.name == "graphql")
            if fault is not None:
                response = self._fault_response(fault, req)
                if response is not None:
                    if fault.kind in ("429", "429_bare", "drop", "500", "502", "503"):
                        self._rate_headers = None  # from another layer: no RateLimit-*
                    state.count_status(response.status if not response.drop else "drop")
                    self._send(response)
                    return
            if not state.authorized(req):
                denied: dict[str, Any] = (
                    {"errors": [{"message": "Invalid token"}]}
                    if route.name == "graphql"
                    else _UNAUTHORIZED
                )
                state.count_status(401)
                self._send(Response.json(denied, 401))
                return
        try:
            with state.dataset.lock:
                response = route.handler(req)
        except ApiError as exc:
            response = exc.response()
        except Exception as exc:  # a simulator bug must still answer like a server would
            response = Response.json(
                {
                    "message": "500 Internal Server Error",
                    "sim_error": f"{type(exc).__name__}: {exc}",
                },
                500,
            )
        if route.api:
            state.count_status(response.status)
        self._send(response)

    @staticmethod
    def _match(
        routes: list[Route], req: Request
    ) -> tuple[Route | None, dict[str, str], bool | None]:
        path_matched = None
        for route in routes:
            args = route.match(req.segments)
            if args is None:
                continue
            if route.method == req.method:
                return route, args, True
            path_matched = False
        return None, {}, path_matched

    def _fault_response(self, fault: Fault, req: Request) -> Response | None:
        kind = fault.kind
        if kind == "slow":
            time.sleep(fault.delay_ms / 1000)
            return None  # then answer normally
        if kind == "drop":
            return Response(0, drop=True)
        if kind == "401":
            return Response.json(_UNAUTHORIZED, 401)
        if kind == "500":
            return Response.json({"message": "500 Internal Server Error"}, 500)
        if kind in ("502", "503"):
            title = "502 Bad Gateway" if kind == "502" else "503 Service Unavailable"
            html = (
                f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
                "<p>GitLab is not responding.</p></body></html>\n"
            )
            return Response.text(html, int(kind), "text/html; charset=utf-8")
        if kind == "429":
            reset = int(time.time()) + fault.retry_after
            headers = [
                ("Retry-After", str(fault.retry_after)),
                ("RateLimit-Name", "throttle_authenticated_api"),
                ("RateLimit-Limit", "600"),
                ("RateLimit-Observed", "601"),
                ("RateLimit-Remaining", "0"),
                ("RateLimit-Reset", str(reset)),
            ]
            return Response.text("Retry later\n", 429, headers=headers)
        if kind == "429_bare":
            # What GitLab's GraphQL endpoint (or a proxy) sometimes sends: HTML, no hint.
            html = (
                "<html><head><title>429 Too Many Requests</title></head><body>"
                "<h1>429 Too Many Requests</h1></body></html>\n"
            )
            return Response.text(html, 429, "text/html; charset=utf-8")
        if kind == "401_expired":
            # rack-oauth2's Bearer::Unauthorized, as GitLab's API guard raises it.
            desc = "Token is expired. You can either do re-authorization or token refresh."
            challenge = f'Bearer realm="The API", error="invalid_token", error_description="{desc}"'
            return Response.json(
                {"error": "invalid_token", "error_description": desc},
                401,
                headers=[("WWW-Authenticate", challenge)],
            )
        if kind == "403_scope":
            # Bearer::Forbidden: GitLab sends no WWW-Authenticate here; the body names the
            # scopes the endpoint accepts.
            return Response.json(
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges "
                    "than provided by the access token.",
                    "scope": "api read_api",
                },
                403,
            )
        if kind == "graphql_complexity" and self.server.state.graphql is not None:
            return self.server.state.graphql.forced_complexity_error(req)
        return None

    def _send(self, response: Response) -> None:
        entry = getattr(self, "_log_entry", None)
        if entry is not None:
            entry["status"] = "drop" if response.drop else response.status
            self._log_entry = None
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        reason = _REASONS.get(response.status, "")
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Cache-Control: no-cache",
            # GitLab's clock is the simulator clock (lore compares it with updated_at).
            f"Date: {email.utils.formatdate(self.server.state.dataset.now_ms / 1000, usegmt=True)}",
        ]
        for name, value in response.headers:
            lines.append(f"{name}: {value}")
        rate_headers, self._rate_headers = self._rate_headers, None
        for name, value in rate_headers or ():
            lines.append(f"{name}: {value}")
        if self.close_connection or self.headers.get("Connection", "").lower() == "close":
            self.close_connection = True
            lines.append("Connection: close")
        else:
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        payload = head + response.body if self.command != "HEAD" else head
        try:
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SimState, tls_context: Any = None) -> None:
        self.state = state
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self.tls_context = tls_context  # ssl.SSLContext when serving HTTPS
        super().__init__(address, _Handler)
        if tls_context is not None:
            from lore.sim.tls import wrap_listener

            self.socket = wrap_listener(self.socket, tls_context)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that hung up (or refused our certificate) is not a bug
        super().handle_error(request, client_address)

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._conns_lock:
            if open_:
                self._conns.add(conn)
                self.state.count_connection()
            else:
                self._conns.discard(conn)

    def close_all(self) -> None:
        """Shut down idle keep-alive connections so their threads end promptly."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Simulator:
    """A running simulator. Create with :meth:`start`; always :meth:`stop` it."""

    def __init__(
        self, state: SimState, server: _Server, thread: threading.Thread, preset: str
    ) -> None:
        self._state = state
        self._server = server
        self._thread = thread
        self.preset = preset
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])
        self.url = state.base_url
        self.certificates: Any = None  # lore.sim.tls.TestCertificates when tls=True

    @classmethod
    def start(
        cls,
        preset: str = "small",
        seed: int = 7,
        port: int = 0,
        latency_ms: int = 0,
        token: str | None = None,
        now: Any = None,
        faults: Any = None,
        host: str = "127.0.0.1",
        work_item_status: bool = True,
        complexity_limit: int | None = 250,
        gitlab_version: str = DEFAULT_VERSION,
        mrs_disabled: tuple[str, ...] | list[str] = (),
        diff_max_files: int = DEFAULT_DIFF_MAX_FILES,
        tls: bool = False,
        rate_limit: tuple[int, int] | None = None,
        **knobs: Any,
    ) -> Simulator:
        """Generate the dataset, bind ``host:port`` and serve in a background thread.

        ``knobs`` are dataset size overrides (``projects``, ``issues``, ``mrs``,
        ``notes_per_item``, ``people``, ``files``). ``complexity_limit=None`` (or 0)
        disables GraphQL complexity checks. ``gitlab_version`` (``"17.5-ee"``, ``"16.11"``,
        see ``versions.py``) picks the GitLab release whose behaviour is served.
        ``mrs_disabled`` lists project paths whose merge requests are disabled (403 on every
        MR route); ``diff_max_files`` is GitLab's per-MR diff file limit (default 1000).
        ``tls=True`` serves HTTPS with a certificate from a fresh test CA (``sim.ca_bundle``,
        see ``tls.py``); ``rate_limit=(limit, period_seconds)`` turns on GitLab's request
        throttle with its ``RateLimit-*`` headers (see ``ratelimit.py``).
        Returns once the socket is listening.
        """
        from lore.sim.dataset import generate

        version = GitLabVersion.parse(gitlab_version)
        dataset = generate(preset, seed, now, **knobs)
        state = SimState(
            dataset,
            token or f"glpat-{secrets.token_urlsafe(15)}",
            latency_ms=int(latency_ms),
            work_item_status=work_item_status,
            complexity_limit=complexity_limit or None,
            gitlab_version=version,
        )
        state.diff_max_files = max(1, int(diff_max_files))
        for path in mrs_disabled:
            project = dataset.find_project(path)
            if project is None:
                raise ValueError(f"mrs_disabled: unknown project {path!r}")
            project.merge_requests_access_level = "disabled"
        if faults is not None:
            state.faults.configure(faults)
        if rate_limit is not None:
            from lore.sim.ratelimit import RateLimiter

            state.rate_limit = RateLimiter(*rate_limit)
        state.routes = build_routes(state)
        certificates = None
        if tls:
            from lore.sim.tls import TestCertificates

            certificates = TestCertificates()
        server = _Server(
            (host, port), state, certificates.server_context() if certificates else None
        )
        bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
        state.set_base_url(f"{'https' if tls else 'http'}://{bound_host}:{bound_port}")
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"lore-sim-{bound_port}",
            daemon=True,
        )
        thread.start()
        sim = cls(state, server, thread, preset)
        sim.certificates = certificates
        return sim

    @property
    def token(self) -> str:
        return self._state.token

    @property
    def ca_bundle(self) -> str | None:
        """Path of the test CA's PEM file when serving HTTPS (``tls=True``), else None."""
        return str(self.certificates.ca_bundle) if self.certificates is not None else None

    @property
    def dataset(self) -> Dataset:
        return self._state.dataset

    @property
    def state(self) -> SimState:
        return self._state

    @property
    def admin(self) -> AdminApi:
        """The admin operations in Python (same as the ``/__sim/`` HTTP API)."""
        assert self._state.admin is not None
        return self._state.admin

    def stats(self) -> dict[str, Any]:
        """Same dict as ``GET /__sim/stats``."""
        return self._state.stats()

    def configure_faults(self, spec: Any) -> None:
        """Replace the fault rules (same shape as ``POST /__sim/faults``)."""
        self._state.faults.configure(spec)

    def summary(self) -> dict[str, Any]:
        """The line ``python -m lore.sim serve`` prints: url, token, preset, counts."""
        return {
            "url": self.url,
            "token": self.token,
            "preset": self.preset,
            "counts": self.dataset.counts(),
        }

    def stop(self) -> None:
        """Stop serving, close connections and join the server thread."""
        self._server.shutdown()
        self._server.close_all()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self.certificates is not None:
            self.certificates.cleanup()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Simulator(url={self.url!r}, preset={self.preset!r})"


def dumps_line(obj: Any) -> str:
    """One compact JSON line (used by the CLI)."""
    return json.dumps(obj, separators=(", ", ": "))
