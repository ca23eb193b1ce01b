"""lore.gitlab.graphql: every way a GraphQL answer can go wrong maps to a LoreError code
and a failure kind; partial data is kept. The HTTP side is a real GitLabClient over an
httpx MockTransport (the network boundary), so retries and error mapping are the real ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lore.core.errors import ErrorCode
from lore.gitlab.client import GitLabClient, RetryPolicy
from lore.gitlab.graphql import (
    FailureKind,
    GraphQLClient,
    GraphQLError,
    classify_message,
    parse_errors,
)

Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, max_retries: int = 2) -> GitLabClient:
    retry = RetryPolicy(max_retries=max_retries, sleep=lambda _s: None, rng=lambda: 0.0)
    return GitLabClient(
        "http://gitlab.test", "secret", retry=retry, transport=httpx.MockTransport(handler)
    )


def answering(*responses: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    """A handler that replays ``responses`` in order (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    return handler, seen


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def test_data_passes_through_and_the_request_is_a_graphql_post() -> None:
    handler, seen = answering(ok({"data": {"project": {"id": "gid://gitlab/Project/1"}}}))
    gql = GraphQLClient(make_client(handler))
    response = gql.execute("query($p: ID!) { project(fullPath: $p) { id } }", {"p": "g/r"})
    assert response.data == {"project": {"id": "gid://gitlab/Project/1"}}
    assert not response.partial
    assert gql.requests == 1
    sent = seen[0]
    assert sent.method == "POST" and sent.url.path == "/api/graphql"
    assert sent.headers["Authorization"] == "Bearer secret"
    assert json.loads(sent.content)["variables"] == {"p": "g/r"}


def test_complexity_error_without_data_is_a_shrinkable_error() -> None:
    message = "Query has complexity of 210, which exceeds max complexity of 17"
    handler, _ = answering(ok({"errors": [{"message": message}]}))
    with pytest.raises(GraphQLError) as info:
        GraphQLClient(make_client(handler)).execute("query { x }")
    assert info.value.kind is FailureKind.COMPLEXITY
    assert info.value.kind.shrinkable
    assert info.value.code is ErrorCode.NETWORK_ERROR
    assert message in info.value.message
    assert info.value.suggestion and "workItemPageSize" in info.value.suggestion


def test_errors_with_null_data_raise() -> None:
    handler, _ = answering(ok({"data": None, "errors": [{"message": "Something odd"}]}))
    with pytest.raises(GraphQLError) as info:
        GraphQLClient(make_client(handler)).execute("query { x }")
    assert info.value.kind is FailureKind.OTHER
    assert info.value.code is ErrorCode.NETWORK_ERROR


def test_schema_error_is_classified_as_schema() -> None:
    body = {
        "errors": [
            {"message": "No such type WorkItemWidgetStatus, so it can't be a fragment condition"}
        ]
    }
    handler, _ = answering(ok(body))
    with pytest.raises(GraphQLError) as info:
        GraphQLClient(make_client(handler)).execute("query { x }")
    assert info.value.kind is FailureKind.SCHEMA
    assert not info.value.kind.shrinkable


def test_partial_data_is_kept_with_its_errors() -> None:
    body = {
        "data": {"project": {"workItems": {"nodes": [{"iid": "1", "widgets": None}]}}},
        "errors": [
            {
                "message": "Internal server error",
                "path": ["project", "workItems", "nodes", 0, "widgets"],
            }
        ],
    }
    handler, _ = answering(ok(body))
    response = GraphQLClient(make_client(handler)).execute("query { x }")
    assert response.partial
    assert response.errors[0].path == ("project", "workItems", "nodes", 0, "widgets")
    assert response.errors[0].kind is FailureKind.SERVER
    assert response.require("project", "workItems", "nodes")[0]["iid"] == "1"


def test_require_raises_the_errors_when_the_needed_field_is_null() -> None:
    body = {
        "data": {"project": {"workItems": None}},
        "errors": [{"message": "Timeout on validation of query"}],
    }
    handler, _ = answering(ok(body))
    response = GraphQLClient(make_client(handler)).execute("query { x }")
    with pytest.raises(GraphQLError) as info:
        response.require("project", "workItems")
    assert info.value.kind is FailureKind.TIMEOUT


def test_malformed_json_body_is_a_malformed_network_error() -> None:
    handler, seen = answering(httpx.Response(200, content=b'{"data": {"proj'))
    with pytest.raises(GraphQLError) as info:
        GraphQLClient(make_client(handler)).execute("query { x }")
    assert info.value.kind is FailureKind.MALFORMED
    assert info.value.code is ErrorCode.NETWORK_ERROR
    assert len(seen) == 1  # a 200 is not retried by the HTTP layer


def test_json_that_is_not_a_graphql_response_is_malformed() -> None:
    handler, _ = answering(ok(["not", "graphql"]))
    with pytest.raises(GraphQLError) as info:
        GraphQLClient(make_client(handler)).execute("query { x }")
    assert info.value.kind is FailureKind.MALFORMED


def test_5xx_is_retried_by_the_shared_policy_then_becomes_a_server_error() -> None:
    handler, seen = answering(httpx.Response(502, text="bad gateway"))
    with pytest.raises(GraphQLError) as info:
        GraphQLClient(make_client(handler, max_retries=2)).execute("query { x }")
    assert len(seen) == 3  # 1 try + 2 retries, the client's policy
    assert info.value.kind is FailureKind.SERVER
    assert info.value.code is ErrorCode.NETWORK_ERROR


def test_5xx_then_success_is_invisible() -> None:
    handler, seen = answering(httpx.Response(503), ok({"data": {"a": 1}}))
    response = GraphQLClient(make_client(handler)).execute("query { a }")
    assert response.data == {"a": 1} and len(seen) == 2


def test_401_is_auth_failed() -> None:
    handler, _ = answering(httpx.Response(401, json={"message": "401 Unauthorized"}))
    with pytest.raises(GraphQLError) as info:
        GraphQLClient(make_client(handler)).execute("query { x }")
    assert info.value.code is ErrorCode.AUTH_FAILED
    assert info.value.kind is FailureKind.AUTH


def test_429_after_retries_is_rate_limited_with_the_hint() -> None:
    handler, _ = answering(httpx.Response(429, headers={"Retry-After": "7"}))
    with pytest.raises(GraphQLError) as info:
        GraphQLClient(make_client(handler, max_retries=1)).execute("query { x }")
    assert info.value.code is ErrorCode.RATE_LIMITED
    assert info.value.kind is FailureKind.RATE_LIMITED
    assert info.value.retry_after_ms == 7000


def test_dropped_connection_is_server_kind_and_refused_is_unreachable() -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response", request=request
        )

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for handler, kind in (
        (drop, FailureKind.SERVER),
        (refuse, FailureKind.UNREACHABLE),
        (slow, FailureKind.TIMEOUT),
    ):
        with pytest.raises(GraphQLError) as info:
            GraphQLClient(make_client(handler, max_retries=0)).execute("query { x }")
        assert info.value.kind is kind, handler.__name__
        assert info.value.code is ErrorCode.NETWORK_ERROR


def test_has_type_probe() -> None:
    handler, seen = answering(
        ok({"data": {"__type": {"name": "WorkItemWidgetStatus"}}}), ok({"data": {"__type": None}})
    )
    gql = GraphQLClient(make_client(handler))
    assert gql.has_type("WorkItemWidgetStatus") is True
    assert gql.has_type("WorkItemWidgetStatus") is False
    assert "__type" in json.loads(seen[0].content)["query"]


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (
            "Query has complexity of 301, which exceeds max complexity of 250",
            FailureKind.COMPLEXITY,
        ),
        ("Request timed out", FailureKind.TIMEOUT),
        ("Timeout on validation of query", FailureKind.TIMEOUT),
        ("Field 'status' doesn't exist on type 'WorkItemWidgetStatus'", FailureKind.SCHEMA),
        (
            "No such type WorkItemWidgetStatus, so it can't be a fragment condition",
            FailureKind.SCHEMA,
        ),
        (
            "The resource that you are attempting to access does not exist or you don't have "
            "permission to perform this action",
            FailureKind.NOT_FOUND,
        ),
        ("Internal server error", FailureKind.SERVER),
        ("Invalid token", FailureKind.AUTH),
        ("something else entirely", FailureKind.OTHER),
    ],
)
def test_classify_message(message: str, kind: FailureKind) -> None:
    assert classify_message(message) is kind


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (
            "Selections can't be made on scalars (field 'status' returns String but has "
            'selections ["name"])',
            "selectionMismatch",
        ),
        ("Field 'category' doesn't exist on type 'WorkItemStatus'", "undefinedField"),
        ("a message GitLab rewords some day", "undefinedField"),
    ],
)
def test_validation_errors_are_schema_by_their_extensions_code(message: str, code: str) -> None:
    entries = parse_errors([{"message": message, "extensions": {"code": code}}])
    assert entries[0].code == code and entries[0].validation
    assert entries[0].kind is FailureKind.SCHEMA
    # Even without the code, the message alone says "validation".
    assert (
        classify_message(
            message.replace(
                "a message GitLab rewords some day", "Field 'x' doesn't exist on type 'Y'"
            )
        )
        is FailureKind.SCHEMA
    )
