"""A minimal HTTP/1.1 JSON client for the embedding provider: ``POST`` a JSON body, read
the status and body, keep the connection alive between requests.

Why not httpx: ``lore search`` embeds one query per process, and importing httpx costs
~55 ms (~110 ms more when click and rich make it load its CLI), more than the whole
lexical search. This client needs only ``socket`` (and ``ssl`` for an https:// Ollama).
It speaks what Ollama's Go server answers: ``Content-Length`` or chunked bodies,
keep-alive or ``Connection: close``. It does not go through proxies: when a proxy
variable applies to the provider's URL, :func:`lore.embed.provider.make_provider` uses
httpx instead (which honours them), with the same errors.

Errors are three exception types, as the provider retries them: :class:`ConnectFailed`
(nothing listening: not retried), :class:`TransportTimeout` and :class:`ProtocolError`
(a dropped connection, a malformed answer: retried).
"""

from __future__ import annotations

import json
import select
import socket
from typing import Any
from urllib.parse import urlsplit

MAX_HEADER_BYTES = 64 * 1024


class TransportError(Exception):
    """Any failure to get an HTTP answer."""


class ConnectFailed(TransportError):
    """The server could not be reached (refused, unknown host, unreachable)."""


class TransportTimeout(TransportError):
    """Connecting, sending or reading took longer than allowed."""


class ProtocolError(TransportError):
    """The connection dropped or the answer is not HTTP/1.x."""


class JsonClient:
    """POSTs JSON to one server; one connection, reused while the server keeps it open."""

    def __init__(
        self, base_url: str, *, timeout_seconds: float, connect_timeout_seconds: float
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectFailed(f"not an http(s) URL: {base_url!r}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        default = 443 if self.tls else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = name if self.port == default else f"{name}:{self.port}"
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout_seconds
        self.connect_timeout = connect_timeout_seconds
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._buffer = b""

    # -- connection -------------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except TimeoutError as exc:
            raise TransportTimeout(f"connect timed out after {self.connect_timeout:g}s") from exc
        except OSError as exc:  # refused, unreachable, unknown host
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            import ssl

            try:
                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=self.host)
            except TimeoutError as exc:
                sock.close()
                raise TransportTimeout("TLS handshake timed out") from exc
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                raise ConnectFailed(f"TLS: {exc}") from exc
        sock.settimeout(self.timeout)
        return sock

    def _usable(self) -> socket.socket | None:
        """The kept-alive connection, unless the server closed it while idle (it is then
        readable: EOF), as urllib3 checks before reusing one."""
        sock = self._sock
        if sock is None:
            return None
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            readable = [sock]
        if readable:
            self.close()
            return None
        return sock

    # -- one request ------------------------------------------------------------------------

    def post_json(self, path: str, payload: Any) -> tuple[int, bytes]:
        """(status, body) of ``POST path`` with ``payload`` as JSON."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        head = (
            f"POST {self.prefix}{path} HTTP/1.1\r\nHost: {self.host_header}\r\n"
            "User-Agent: lore\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        sock = self._usable() or self._connect()
        self._sock = sock
        try:
            sock.sendall(head + body)
            status, headers = self._read_head(sock)
            data = self._read_body(sock, headers)
        except TimeoutError as exc:
            self.close()
            raise TransportTimeout(f"no answer within {self.timeout:g}s") from exc
        except TransportError:
            self.close()
            raise
        except OSError as exc:  # reset, broken pipe
            self.close()
            raise ProtocolError(str(exc) or type(exc).__name__) from exc
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, data

    def _recv(self, sock: socket.socket) -> bytes:
        chunk = sock.recv(65536)
        if not chunk:
            raise ProtocolError("server disconnected without sending a complete response")
        return chunk

    def _read_head(self, sock: socket.socket) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise ProtocolError("response headers too large")
            self._buffer += self._recv(sock)
        raw, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if (
            len(status_line) < 2
            or not status_line[0].startswith("HTTP/1.")
            or not status_line[1].isdigit()
        ):
            raise ProtocolError(f"not an HTTP/1.x response: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        status = int(status_line[1])
        if 100 <= status < 200:  # an interim answer: the real one follows
            return self._read_head(sock)
        return status, headers

    def _read_exact(self, sock: socket.socket, n: int) -> bytes:
        while len(self._buffer) < n:
            self._buffer += self._recv(sock)
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def _read_line(self, sock: socket.socket) -> bytes:
        while b"\r\n" not in self._buffer:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise ProtocolError("chunk header too large")
            self._buffer += self._recv(sock)
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _read_body(self, sock: socket.socket, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size_text = self._read_line(sock).split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
                if size == 0:
                    while self._read_line(sock):  # trailers, up to the empty line
                        pass
                    return b"".join(parts)
                parts.append(self._read_exact(sock, size))
                self._read_exact(sock, 2)  # the CRLF after each chunk
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise ProtocolError(f"bad Content-Length {length[:20]!r}")
            return self._read_exact(sock, int(length))
        # Neither: the body runs until the server closes the connection.
        parts = [self._buffer]
        self._buffer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            parts.append(chunk)
        self.close()
        return b"".join(parts)
