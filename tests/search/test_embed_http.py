"""The embedding provider's own HTTP client (lore.embed.http) against a raw socket server
on loopback that answers the ways Ollama's Go server can: chunked bodies, Content-Length,
keep-alive, Connection: close, an idle connection closed by the server, a dropped one."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from lore.core.errors import ErrorCode, LoreError
from lore.embed.http import ConnectFailed, JsonClient, ProtocolError, TransportTimeout
from lore.embed.ollama import OllamaProvider, proxied

Handler = Callable[[socket.socket, bytes, int], bool]  # returns whether to keep the connection


class RawServer:
    """Accepts connections; for each request calls ``handler(conn, body, n)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests = 0
        self.bodies: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                self.requests += 1
                self.bodies.append(body)
                if not self.handler(conn, body, self.requests):
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _embeddings(body: bytes) -> bytes:
    texts = json.loads(body)["input"]
    return json.dumps({"model": "m", "embeddings": [[float(len(t)), 1.0] for t in texts]}).encode()


def chunked(conn: socket.socket, body: bytes, n: int) -> bool:
    payload = _embeddings(body)
    parts = [payload[:7], payload[7:20], payload[20:]]
    out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    for part in parts:
        out += f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n"
    conn.sendall(out + b"0\r\nX-Trailer: yes\r\n\r\n")
    return True


def content_length_close(conn: socket.socket, body: bytes, n: int) -> bool:
    payload = _embeddings(body)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: "
        + str(len(payload)).encode()
        + b"\r\n\r\n"
        + payload
    )
    return False


def until_close(conn: socket.socket, body: bytes, n: int) -> bool:
    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + _embeddings(body))
    return False


def test_chunked_answers_on_one_kept_alive_connection(
    serve: Callable[[Handler], RawServer],
) -> None:
    server = serve(chunked)
    with OllamaProvider(server.url, "m", batch_size=2) as provider:
        vectors = provider.embed(["a", "bb", "ccc", "dddd", "eeeee"])
    assert vectors == [[1.0, 1.0], [2.0, 1.0], [3.0, 1.0], [4.0, 1.0], [5.0, 1.0]]
    assert server.requests == 3 and server.connections == 1
    assert json.loads(server.bodies[0]) == {"model": "m", "input": ["a", "bb"]}


@pytest.mark.parametrize("handler", [content_length_close, until_close])
def test_connection_close_answers_reconnect(
    serve: Callable[[Handler], RawServer], handler: Handler
) -> None:
    server = serve(handler)
    with OllamaProvider(server.url, "m", batch_size=1) as provider:
        assert provider.embed(["x", "yy"]) == [[1.0, 1.0], [2.0, 1.0]]
    assert server.requests == 2 and server.connections == 2


def test_an_idle_connection_the_server_closed_is_replaced_without_a_retry(
    serve: Callable[[Handler], RawServer],
) -> None:
    def answer_then_hang_up(conn: socket.socket, body: bytes, n: int) -> bool:
        payload = _embeddings(body)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: "
            + str(len(payload)).encode()
            + b"\r\n\r\n"
            + payload
        )
        return False  # closes without saying Connection: close, as an idle timeout does

    server = serve(answer_then_hang_up)
    client = JsonClient(server.url, timeout_seconds=5, connect_timeout_seconds=5)
    assert client.post_json("/api/embed", {"model": "m", "input": ["a"]})[0] == 200
    import time

    time.sleep(0.1)  # the server's close reaches the client
    assert client.post_json("/api/embed", {"model": "m", "input": ["b"]})[0] == 200
    assert server.requests == 2 and server.connections == 2
    client.close()


def test_a_dropped_request_is_retried_then_reported(serve: Callable[[Handler], RawServer]) -> None:
    server = serve(lambda conn, body, n: False)  # reads the request, answers nothing
    provider = OllamaProvider(server.url, "m", sleep=lambda s: None)
    with pytest.raises(LoreError) as caught:
        provider.embed(["x"])
    assert caught.value.code is ErrorCode.EMBEDDING_UNAVAILABLE
    assert "did not answer (ProtocolError" in caught.value.message
    assert server.requests == 3  # one try, two retries


def test_a_slow_server_times_out(serve: Callable[[Handler], RawServer]) -> None:
    def silent(conn: socket.socket, body: bytes, n: int) -> bool:
        import time

        time.sleep(1.0)
        return False

    server = serve(silent)
    client = JsonClient(server.url, timeout_seconds=0.2, connect_timeout_seconds=1)
    with pytest.raises(TransportTimeout):
        client.post_json("/api/embed", {"input": ["x"]})


def test_nothing_listening_and_garbage_answers() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ConnectFailed):
        JsonClient(
            f"http://127.0.0.1:{port}", timeout_seconds=1, connect_timeout_seconds=1
        ).post_json("/", {})


def test_not_http_is_a_protocol_error(serve: Callable[[Handler], RawServer]) -> None:
    def garbage(conn: socket.socket, body: bytes, n: int) -> bool:
        conn.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
        return False

    server = serve(garbage)
    with pytest.raises(ProtocolError):
        JsonClient(server.url, timeout_seconds=1, connect_timeout_seconds=1).post_json("/", {})


def test_a_proxy_variable_for_the_url_selects_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    assert not proxied("http://127.0.0.1:11434")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    assert proxied("http://ollama.internal:11434")
    assert not proxied("https://ollama.internal:11434")
    monkeypatch.setenv("NO_PROXY", "ollama.internal")
    assert not proxied("http://ollama.internal:11434")
