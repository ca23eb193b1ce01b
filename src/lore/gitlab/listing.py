"""Cheap id listings over GraphQL, for reconciling deletions without ``--full``.

:func:`iter_item_ids` walks ``Project.issues`` / ``Project.mergeRequests`` sorted by
``CREATED_ASC`` with GitLab's keyset cursors (sort key + id): an item edited during the
walk keeps its place, so the walk can never skip a live item the way an offset walk over
``updated_at`` can. :func:`item_counts` asks both counts in one request.

A complexity (or timeout / 5xx-type) failure halves the page and retries the same cursor,
like work-item status enrichment (:class:`lore.sync.work_item_status.AdaptivePageSize`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lore.core.errors import ErrorCode
from lore.gitlab.graphql import FailureKind, GraphQLClient, GraphQLError

MAX_PAGE_SIZE = 100  # GitLab's cap on `first`

_CONNECTION = {"issue": "issues", "mr": "mergeRequests"}

_LIST_QUERY = """
query LoreItemIds($fullPath: ID!, $first: Int!, $after: String) {
  project(fullPath: $fullPath) {
    %s(first: $first, after: $after, sort: CREATED_ASC) {
      nodes { id iid updatedAt userNotesCount }
      pageInfo { hasNextPage endCursor }
    }
  }
}
""".strip()

_COUNTS_QUERY = """
query LoreItemCounts($fullPath: ID!) {
  project(fullPath: $fullPath) {
    issues { count }
    mergeRequests { count }
  }
}
""".strip()


@dataclass(frozen=True, slots=True)
class ListedItem:
    """One issue or merge request as the id listing shows it."""

    id: int  # the REST id (the number of the GID)
    iid: int
    updated_at: str  # ISO 8601, as GitLab sends it
    user_notes_count: int


def iter_item_ids(
    gql: GraphQLClient, project_path: str, kind: str, page_size: int = 100
) -> Iterator[ListedItem]:
    """Every issue (``kind="issue"``) or merge request (``"mr"``) of a project, oldest
    first, walked with keyset cursors. Raises :class:`GraphQLError` with kind NOT_FOUND
    when the project is invisible or the connection is null (e.g. merge requests
    disabled), and the underlying GraphQLError for anything a smaller page cannot fix."""
    from lore.sync.work_item_status import AdaptivePageSize

    if kind not in _CONNECTION:
        raise ValueError(f"kind must be 'issue' or 'mr', not {kind!r}")
    connection = _CONNECTION[kind]
    query = _LIST_QUERY % connection
    pages = AdaptivePageSize(page_size)
    cursor: str | None = None
    while True:
        try:
            response = gql.execute(
                query, {"fullPath": project_path, "first": pages.size, "after": cursor}
            )
            page = response.require("project", connection)
        except GraphQLError as exc:
            if exc.kind.shrinkable and pages.on_failure(exc.kind):
                continue
            raise
        if not isinstance(page, dict):
            raise _not_found(project_path, connection)
        if response.errors:
            # A listing that lost nodes cannot be used to confirm absences.
            raise GraphQLError(
                ErrorCode.NETWORK_ERROR,
                f"GitLab's {connection} listing of {project_path} came back "
                f"incomplete: {response.errors[0].message}",
                kind=response.errors[0].kind,
                errors=response.errors,
                suggestion="Retry later",
            )
        pages.on_success()
        for node in page.get("nodes") or []:
            item = _listed(node)
            if item is None:
                # Skipping it would make a live item look deleted.
                raise GraphQLError(
                    ErrorCode.NETWORK_ERROR,
                    f"GitLab's {connection} listing of {project_path} has a "
                    f"node lore cannot read: {node!r:.200}",
                    kind=FailureKind.MALFORMED,
                    suggestion="Retry later",
                )
            yield item
        info = page.get("pageInfo") or {}
        next_cursor = info.get("endCursor")
        if not info.get("hasNextPage") or not isinstance(next_cursor, str) or next_cursor == cursor:
            return
        cursor = next_cursor


def item_counts(gql: GraphQLClient, project_path: str) -> tuple[int | None, int | None]:
    """(issues count, merge requests count) of a project in one request; a count is None
    when GitLab does not give it (e.g. merge requests disabled). Raises GraphQLError with
    kind NOT_FOUND when the project is invisible."""
    response = gql.execute(_COUNTS_QUERY, {"fullPath": project_path})
    project = response.require("project")
    if not isinstance(project, dict):
        raise _not_found(project_path, "project")
    return _count(project.get("issues")), _count(project.get("mergeRequests"))


def _count(connection: Any) -> int | None:
    if isinstance(connection, dict) and isinstance(connection.get("count"), int):
        return int(connection["count"])
    return None


def _listed(node: Any) -> ListedItem | None:
    if not isinstance(node, dict):
        return None
    try:
        gid = str(node["id"])
        return ListedItem(
            id=int(gid.rsplit("/", 1)[-1]),
            iid=int(node["iid"]),
            updated_at=str(node.get("updatedAt") or ""),
            user_notes_count=int(node.get("userNotesCount") or 0),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _not_found(project_path: str, what: str) -> GraphQLError:
    return GraphQLError(
        ErrorCode.NOT_FOUND,
        f"GitLab's GraphQL API shows no {what} for project {project_path}",
        kind=FailureKind.NOT_FOUND,
        suggestion="Check that the project exists, that the token can read it (scope "
        "read_api), and that the feature is enabled for the project",
    )
