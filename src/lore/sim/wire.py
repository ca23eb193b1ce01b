"""Request/response value types and the route table shared by REST, GraphQL and admin."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json"


@dataclass(slots=True)
class Request:
    method: str
    path: str  # raw path without the query string
    segments: list[str]  # URL-decoded path segments
    query: list[tuple[str, str]]  # decoded query pairs, in order
    headers: dict[str, str]  # lower-cased names
    body: bytes
    args: dict[str, str] = field(default_factory=dict)  # values of :placeholders

    def param(self, name: str) -> str | None:
        """Last value of a query parameter (GitLab/Grape semantics), or None."""
        value = None
        for key, val in self.query:
            if key == name:
                value = val
        return value

    def params(self, name: str) -> list[str]:
        return [val for key, val in self.query if key == name]

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = JSON_TYPE
    drop: bool = False  # close the connection without answering (fault injection)

    @classmethod
    def json(
        cls, obj: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return cls(status, body, list(headers or []))

    @classmethod
    def text(
        cls,
        text: str,
        status: int,
        content_type: str = "text/plain; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        return cls(status, text.encode("utf-8"), list(headers or []), content_type)


Handler = Callable[[Request], Response]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: tuple[str, ...]  # segments; ":name" captures one segment
    name: str  # short name used by fault rules ("issues", "discussions"...)
    handler: Handler
    tags: frozenset[str] = frozenset()  # extra names fault rules may use
    api: bool = True  # counted in stats, subject to auth, latency and faults

    @property
    def key(self) -> str:
        """Stable label such as ``GET /api/v4/projects/:id/issues``."""
        return f"{self.method} /" + "/".join(self.pattern)

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.pattern):
            return None
        args: dict[str, str] = {}
        for want, got in zip(self.pattern, segments, strict=True):
            if want.startswith(":"):
                if not got:
                    return None
                args[want[1:]] = got
            elif want != got:
                return None
        return args

    def names(self) -> frozenset[str]:
        return self.tags | {self.name, self.key, "*"}
