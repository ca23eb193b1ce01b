"""A loopback redirector: every request, any method, answers a redirect.

It models what sits in front of many GitLab instances:

- nginx's ``http://`` → ``https://`` redirect (``Redirector.start(sim.url)`` in front of
  an HTTPS simulator; GitLab's Omnibus nginx answers 301 for every method);
- a redirect to another host (``target_url`` ``http://localhost:PORT`` while lore is
  configured with ``http://127.0.0.1:...``), where a client that follows blindly would
  hand its token to a host it was never told about.

>>> red = Redirector.start("https://127.0.0.1:8443", status=301)
>>> red.url              # "http://127.0.0.1:PORT"
>>> red.requests         # [RedirectedRequest(method="POST", path="/api/graphql", ...)]
>>> red.stop()

``requests`` records the method, path and query and *which* credentials came along
(``auth``: ``"bearer"``, ``"private-token"`` or ``"none"``, plus ``token_param`` when the
query carried ``private_token``/``access_token``), never their values.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

_REASONS = {
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
}


@dataclass(frozen=True, slots=True)
class RedirectedRequest:
    method: str
    path: str
    query: str
    auth: str  # "bearer" | "private-token" | "none"
    token_param: bool


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _redirect(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        split = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if "private-token" in headers:
            auth = "private-token"
        elif headers.get("authorization", "")[:7].lower() == "bearer ":
            auth = "bearer"
        else:
            auth = "none"
        pairs = parse_qsl(split.query, keep_blank_values=True)
        secret = {"private_token", "access_token"}
        shown = urlencode([(k, "[REDACTED]" if k in secret else v) for k, v in pairs])
        self.server.record(
            RedirectedRequest(
                method=self.command,
                path=split.path,
                query=shown,
                auth=auth,
                token_param=any(k in secret for k, _ in pairs),
            )
        )
        location = self.server.target + split.path + (f"?{split.query}" if split.query else "")
        status = self.server.status
        body = (
            f"<html>\r\n<head><title>{status} {_REASONS.get(status, '')}</title></head>\r\n"
            f"<body>\r\n<center><h1>{status} {_REASONS.get(status, '')}</h1></center>\r\n"
            "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        ).encode()
        self.send_response(status, _REASONS.get(status))
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Location", location)
        self.end_headers()
        if self.command != "HEAD":
            with contextlib.suppress(OSError):
                self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _redirect


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], target: str, status: int) -> None:
        self.target = target
        self.status = status
        self._lock = threading.Lock()
        self.received: list[RedirectedRequest] = []
        super().__init__(address, _Handler)

    def record(self, request: RedirectedRequest) -> None:
        with self._lock:
            self.received.append(request)


class Redirector:
    """A running redirector; create with :meth:`start`, always :meth:`stop` it."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])
        self.url = f"http://{self.host}:{self.port}"

    @classmethod
    def start(
        cls, target_url: str, status: int = 301, host: str = "127.0.0.1", port: int = 0
    ) -> Redirector:
        """Answer every request with ``status`` and ``Location: target_url + path + query``."""
        if status not in _REASONS:
            raise ValueError(f"status must be one of {sorted(_REASONS)}")
        server = _Server((host, port), target_url.rstrip("/"), status)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"lore-sim-redirect-{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        return cls(server, thread)

    @property
    def requests(self) -> list[RedirectedRequest]:
        """What reached the redirector so far (credentials recorded by kind only)."""
        with self._server._lock:
            return list(self._server.received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Redirector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
