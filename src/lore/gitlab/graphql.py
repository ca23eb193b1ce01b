"""GitLab's GraphQL API on top of :class:`lore.gitlab.client.GitLabClient`.

The HTTP side (connection pool, retries with jittered backoff, 429 hints, 401/404
mapping) is the client's, reached through ``post_graphql``; this module adds what is
particular to GraphQL:

- a response is ``{"data": ..., "errors": [...]}`` with HTTP 200 even when it failed,
  so the ``errors`` array is read and classified (complexity, timeout, schema, ...);
- errors with no usable data raise :class:`GraphQLError` (a :class:`LoreError` with a
  code); data *with* errors is returned as a :class:`GraphQLResponse` so the caller
  keeps what it can use and reports the rest;
- every failure, HTTP-level or GraphQL-level, carries a :class:`FailureKind` so callers
  can decide whether a smaller query could succeed (``shrinkable``) or whether the
  instance simply lacks the feature (``FailureKind.SCHEMA``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

from lore.core.errors import ErrorCode, LoreError
from lore.gitlab.client import GitLabClient


class FailureKind(StrEnum):
    """Why a GraphQL request produced no (or not all) data."""

    COMPLEXITY = "complexity"  # the query asks for too much per page
    TIMEOUT = "timeout"  # server-side query timeout, or the response never came
    SERVER = "server"  # 5xx after retries, dropped connection, "Internal server error"
    MALFORMED = "malformed"  # the body is not JSON, or not a GraphQL response
    UNREACHABLE = "unreachable"  # cannot connect at all
    SCHEMA = "schema"  # a type, field or argument this instance does not have
    AUTH = "auth"  # token rejected or not allowed
    NOT_FOUND = "not_found"  # endpoint or resource missing / not visible
    RATE_LIMITED = "rate_limited"  # 429 after retries
    OTHER = "other"

    @property
    def shrinkable(self) -> bool:
        """True when asking for fewer nodes per request may make the request succeed."""
        return self in _SHRINKABLE


_SHRINKABLE = frozenset(
    {FailureKind.COMPLEXITY, FailureKind.TIMEOUT, FailureKind.SERVER, FailureKind.MALFORMED}
)

_CODE_OF_KIND: dict[FailureKind, ErrorCode] = {
    FailureKind.AUTH: ErrorCode.AUTH_FAILED,
    FailureKind.NOT_FOUND: ErrorCode.NOT_FOUND,
    FailureKind.SCHEMA: ErrorCode.NOT_FOUND,
    FailureKind.RATE_LIMITED: ErrorCode.RATE_LIMITED,
}

# Patterns over GitLab's (graphql-ruby's) error messages, checked in this order.
_MESSAGE_KINDS: tuple[tuple[re.Pattern[str], FailureKind], ...] = (
    (
        re.compile(r"complexity of \d+.*exceeds max complexity|max complexity", re.I),
        FailureKind.COMPLEXITY,
    ),
    (re.compile(r"timed? ?out|timeout", re.I), FailureKind.TIMEOUT),
    (
        re.compile(
            r"no such type|doesn't exist on type|does not exist on type|unknown type|"
            r"cannot query field|doesn't accept argument|can't be spread|isn't a defined|"
            r"not a defined|undefined type|selections can't be made|must have selections",
            re.I,
        ),
        FailureKind.SCHEMA,
    ),
    (
        re.compile(r"does not exist or you don't have permission|not found", re.I),
        FailureKind.NOT_FOUND,
    ),
    (re.compile(r"unauthori[sz]ed|invalid token|authentication|forbidden", re.I), FailureKind.AUTH),
    (
        re.compile(r"internal server error|service unavailable|bad gateway", re.I),
        FailureKind.SERVER,
    ),
)


#: graphql-ruby's static-validation codes (``extensions.code``): the query does not fit
#: this instance's schema, so the feature it asks for is not there.
VALIDATION_CODES = frozenset(
    {
        "undefinedField",
        "undefinedType",
        "selectionMismatch",
        "argumentNotAccepted",
        "missingRequiredArguments",
        "cannotSpreadFragment",
        "undefinedFragment",
        "argumentLiteralsIncompatible",
        "variableMismatch",
        "wrongDirectiveLocation",
    }
)


@dataclass(frozen=True)
class GraphQLErrorEntry:
    """One entry of a response's ``errors`` array (``code`` is ``extensions.code``)."""

    message: str
    path: tuple[str | int, ...] = ()
    kind: FailureKind = FailureKind.OTHER
    code: str | None = None

    @property
    def validation(self) -> bool:
        """A static validation error: the query does not fit the instance's schema."""
        return self.code in VALIDATION_CODES

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "path": list(self.path),
            "kind": self.kind.value,
            "code": self.code,
        }


@dataclass
class GraphQLResponse:
    """A response that carried data; ``errors`` is non-empty when the data is partial."""

    data: dict[str, Any]
    errors: list[GraphQLErrorEntry] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.errors)

    def require(self, *path: str) -> Any:
        """The value at ``path`` in ``data``. When it is missing or null and the response
        carried errors, those errors explain why: raise them as a :class:`GraphQLError`.
        Missing without errors returns None (e.g. a project the token cannot see)."""
        value: Any = self.data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None and self.errors:
            raise error_from_entries(self.errors)
        return value


class GraphQLError(LoreError):
    """A GraphQL request that produced no usable data, with the reason classified."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        kind: FailureKind,
        errors: list[GraphQLErrorEntry] | None = None,
        suggestion: str | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(
            code,
            message,
            suggestion=suggestion,
            retry_after_ms=retry_after_ms,
            details={"kind": kind.value},
        )
        self.kind = kind
        self.errors = errors or []


def classify_message(message: str, code: str | None = None) -> FailureKind:
    """The kind of one GraphQL error (``OTHER`` when nothing matches): a validation code
    in ``extensions.code`` means SCHEMA whatever the message says."""
    if code in VALIDATION_CODES and code != "variableMismatch":
        return FailureKind.SCHEMA
    for pattern, kind in _MESSAGE_KINDS:
        if pattern.search(message):
            return kind
    return FailureKind.OTHER


def parse_errors(raw: Any) -> list[GraphQLErrorEntry]:
    """Read an ``errors`` array defensively; anything odd becomes one OTHER entry."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        return [GraphQLErrorEntry(message=str(raw))]
    out: list[GraphQLErrorEntry] = []
    for item in raw:
        code: str | None = None
        if isinstance(item, dict):
            message = str(item.get("message") or "unknown GraphQL error")
            raw_path = item.get("path")
            path = (
                tuple(p for p in raw_path if isinstance(p, str | int))
                if isinstance(raw_path, list)
                else ()
            )
            extensions = item.get("extensions")
            if isinstance(extensions, dict) and isinstance(extensions.get("code"), str):
                code = extensions["code"]
        else:
            message, path = str(item), ()
        out.append(
            GraphQLErrorEntry(
                message=message, path=path, kind=classify_message(message, code), code=code
            )
        )
    return out


def dominant_kind(errors: list[GraphQLErrorEntry]) -> FailureKind:
    """The kind that decides what to do about a failed response: the first entry that
    says something specific (a complexity error beats an unclassified companion)."""
    for entry in errors:
        if entry.kind is not FailureKind.OTHER:
            return entry.kind
    return FailureKind.OTHER


def error_from_entries(errors: list[GraphQLErrorEntry]) -> GraphQLError:
    """One GraphQLError summarising an ``errors`` array that left no usable data."""
    kind = dominant_kind(errors)
    summary = "; ".join(dict.fromkeys(e.message for e in errors))
    return GraphQLError(
        _CODE_OF_KIND.get(kind, ErrorCode.NETWORK_ERROR),
        f"GitLab's GraphQL API answered with errors: {summary}",
        kind=kind,
        errors=errors,
        suggestion=_suggestion(kind),
    )


def kind_of_http_error(exc: LoreError) -> FailureKind:
    """Classify a LoreError raised by the HTTP layer for a GraphQL POST.

    The client keeps the underlying exception as ``__context__`` (it raises ``from None``
    inside its ``except``), which tells a read timeout from a refused connection and a
    non-JSON body from a 5xx; the status of an HTTP error is only in its message.
    """
    if exc.code is ErrorCode.AUTH_FAILED:
        return FailureKind.AUTH
    if exc.code is ErrorCode.NOT_FOUND:
        return FailureKind.NOT_FOUND
    if exc.code is ErrorCode.RATE_LIMITED:
        return FailureKind.RATE_LIMITED
    context = exc.__context__
    if isinstance(context, ValueError):  # json decoding failed in client._decode
        return FailureKind.MALFORMED
    if isinstance(context, httpx.ConnectError | httpx.ConnectTimeout):
        return FailureKind.UNREACHABLE
    if isinstance(context, httpx.TimeoutException):
        return FailureKind.TIMEOUT
    if isinstance(context, httpx.TransportError):
        return FailureKind.SERVER  # dropped connection, protocol error
    status = re.search(r"answered (\d{3})", exc.message)
    if status and int(status.group(1)) >= 500:
        return FailureKind.SERVER
    return FailureKind.OTHER


class GraphQLClient:
    """Runs GraphQL queries through a shared :class:`GitLabClient`."""

    def __init__(self, client: GitLabClient) -> None:
        self.client = client
        self.requests = 0  # POSTs sent through this object (HTTP retries not included)

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> GraphQLResponse:
        """Run one query. Returns data (possibly partial, see ``GraphQLResponse.errors``);
        raises :class:`GraphQLError` when there is no usable data."""
        self.requests += 1
        body = self._post(query, variables)
        if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
            raise GraphQLError(
                ErrorCode.NETWORK_ERROR,
                "GitLab's GraphQL endpoint sent JSON that is not a GraphQL response",
                kind=FailureKind.MALFORMED,
                suggestion="Check that gitlab.baseUrl points at GitLab and not at a proxy",
            )
        errors = parse_errors(body.get("errors"))
        data = body.get("data")
        if isinstance(data, dict) and any(v is not None for v in data.values()):
            return GraphQLResponse(data=data, errors=errors)
        if not errors:
            # {"data": null} or {"data": {"project": null}} without a word of explanation.
            return GraphQLResponse(data=data if isinstance(data, dict) else {}, errors=[])
        raise error_from_entries(errors)

    def has_type(self, name: str) -> bool:
        """Does the instance's schema define the type ``name``? (an introspection probe)"""
        response = self.execute(
            "query($name: String!) { __type(name: $name) { name } }", {"name": name}
        )
        found = response.data.get("__type")
        return isinstance(found, dict) and found.get("name") == name

    def _post(self, query: str, variables: dict[str, Any] | None) -> Any:
        try:
            return self.client.post_graphql(query, variables)
        except LoreError as exc:
            raise GraphQLError(
                exc.code,
                exc.message,
                kind=kind_of_http_error(exc),
                suggestion=exc.suggestion,
                retry_after_ms=exc.retry_after_ms,
            ) from exc


def _suggestion(kind: FailureKind) -> str:
    if kind is FailureKind.COMPLEXITY:
        return "Lower sync.workItemPageSize in the config"
    if kind is FailureKind.SCHEMA:
        return "This GitLab instance does not offer that part of the GraphQL schema"
    if kind is FailureKind.AUTH:
        return "The token needs the read_api scope"
    return "GitLab may be having trouble; retry later"
