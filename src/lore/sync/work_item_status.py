"""Work-item status enrichment for the issues stage (LORE.md, "Work-item status").

GitLab's configurable statuses ("To do", "In progress", custom ones) exist only in
GraphQL. After the issues stage has committed a project's changed issues, the pipeline
calls :func:`enrich_statuses` with their iids; it asks ``project.workItems(iids:)`` for
the status widget, cursor-paginated, and stores name / category / colour per issue.

Page size adapts (:class:`AdaptivePageSize`): a complexity, query-timeout or 5xx-type
failure halves the page and retries the same cursor; a run of successes grows it back
towards the configured size, never past a size the server already rejected as too
complex. An instance without the status widget is not a failure: statuses stay empty
and the reason is cached in ``kv`` under ``workitem_status:{instance_url}`` (re-checked
on ``--full``), where ``lore status`` reads it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from lore.core.clock import Clock, default_clock, iso_from_ms
from lore.core.errors import ErrorCode, LoreError
from lore.gitlab.client import GitLabClient
from lore.gitlab.graphql import (
    FailureKind,
    GraphQLClient,
    GraphQLError,
    GraphQLErrorEntry,
    GraphQLResponse,
)
from lore.store.db import transaction
from lore.store.errors import translate_db_error

log = logging.getLogger("lore.sync.work_item_status")

STATUS_WIDGET_TYPE = "WorkItemWidgetStatus"
KV_PREFIX = "workitem_status:"
MAX_PAGE_SIZE = 100  # GitLab's cap on `first`
#: Consecutive successful pages before the page size grows again.
GROW_AFTER_SUCCESSES = 3
#: iids sent per query; the cursor pages within one batch (keeps request bodies small).
IID_BATCH = 500
#: Distinct partial-data error messages kept for the report.
MAX_REPORTED_ERRORS = 5

WORK_ITEMS_QUERY = """
query LoreWorkItemStatuses($fullPath: ID!, $iids: [String!], $first: Int!, $after: String) {
  project(fullPath: $fullPath) {
    workItems(iids: $iids, first: $first, after: $after) {
      nodes {
        iid
        widgets {
          ... on WorkItemWidgetStatus {
            status { id name category color }
          }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
""".strip()


def capability_key(instance_url: str) -> str:
    """The kv key under which the capability of one instance is cached."""
    return KV_PREFIX + instance_url.rstrip("/")


@dataclass
class Capability:
    """The cached answer to "does this instance have work-item statuses?" (kv JSON)."""

    available: bool
    reason: str | None
    checked_at: str
    final_page_size: int | None = None
    shrinks: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def read_capability(conn: sqlite3.Connection, instance_url: str) -> Capability | None:
    """The cached capability of ``instance_url``, or None when never checked (or unreadable)."""
    row = conn.execute("SELECT value FROM kv WHERE key = ?",
                       (capability_key(instance_url),)).fetchone()
    if row is None:
        return None
    try:
        raw = json.loads(row[0])
        return Capability(
            available=bool(raw["available"]),
            reason=raw.get("reason"),
            checked_at=str(raw.get("checked_at") or ""),
            final_page_size=raw.get("final_page_size"),
            shrinks=int(raw.get("shrinks") or 0),
        )
    except (ValueError, KeyError, TypeError):
        return None  # a damaged cache entry just means "check again"


def write_capability(conn: sqlite3.Connection, instance_url: str, capability: Capability) -> None:
    with transaction(conn):
        conn.execute("INSERT INTO kv(key, value) VALUES (?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     (capability_key(instance_url), capability.to_json()))


@dataclass
class StatusEnrichment:
    """What :func:`enrich_statuses` did for one project."""

    updated: int = 0  # issues whose stored status changed
    available: bool = True
    reason: str | None = None  # why statuses are unavailable (None when available)
    final_page_size: int = MAX_PAGE_SIZE
    shrinks: int = 0
    grows: int = 0
    requests: int = 0  # GraphQL POSTs sent (the HTTP layer's own retries not counted)
    fetched: int = 0  # work items received
    unresolved: int = 0  # work items whose status an error left unknown (partial data)
    partial_errors: list[str] = field(default_factory=list)
    error: str | None = None
    error_code: str | None = None
    retry_after_ms: int | None = None

    @property
    def success(self) -> bool:
        return self.error_code is None

    def to_details(self) -> dict[str, Any]:
        """The figures for ``StageResult.details["work_item_status"]``."""
        return asdict(self)


class AdaptivePageSize:
    """Halve on a failure that a smaller page may avoid; grow back after successes.

    A complexity rejection is deterministic, so the smallest rejected size becomes a
    ceiling that growth approaches by bisection instead of hitting it again and again.
    Transient failures (timeouts, 5xx) shrink without setting a ceiling. A failure at a
    size just reached by growing falls back to the size that worked before the growth
    rather than halving below it.
    """

    def __init__(self, start: int, grow_after: int = GROW_AFTER_SUCCESSES) -> None:
        self.start = max(1, min(MAX_PAGE_SIZE, start))
        self.size = self.start
        self.grow_after = max(1, grow_after)
        self.ceiling: int | None = None  # smallest size rejected as too complex
        self.shrinks = 0
        self.grows = 0
        self._successes = 0
        self._before_growth: int | None = None  # set until the grown size succeeds once

    def on_failure(self, kind: FailureKind) -> bool:
        """Shrink after a failed page; False when already at the floor of 1."""
        self._successes = 0
        if kind is FailureKind.COMPLEXITY:
            self.ceiling = self.size if self.ceiling is None else min(self.ceiling, self.size)
        if self.size <= 1:
            return False
        if self._before_growth is not None:
            self.size = self._before_growth
        else:
            self.size = max(1, self.size // 2)
        self._before_growth = None
        self.shrinks += 1
        return True

    def on_success(self) -> None:
        self._before_growth = None
        self._successes += 1
        if self._successes < self.grow_after or self.size >= self.start:
            return
        target = min(self.start, self.size * 2)
        if self.ceiling is not None:
            # Bisect between the size that works and the one rejected as too complex.
            target = min(target, (self.size + self.ceiling) // 2)
        if target > self.size:
            self._before_growth = self.size
            self.size = target
            self.grows += 1
        self._successes = 0


def enrich_statuses(
    client: GitLabClient,
    conn: sqlite3.Connection,
    *,
    instance_url: str,
    project_path: str,
    project_id: int,
    iids: list[int],
    page_size: int,
    full: bool,
    clock: Clock | None = None,
) -> StatusEnrichment:
    """Fetch and store the work-item status of issues ``iids`` of one project.

    Sends no request when ``iids`` is empty, or when the instance is cached as lacking
    the status widget and ``full`` is False. Never raises for GitLab or database
    failures: they come back as ``error`` / ``error_code`` (pages already written stay
    written). An instance without the widget is ``available=False`` with a ``reason``,
    not an error.
    """
    clock = clock or default_clock()
    pages = AdaptivePageSize(page_size)
    result = StatusEnrichment(final_page_size=pages.size)
    wanted = sorted(set(iids))
    try:
        cached = read_capability(conn, instance_url)
    except sqlite3.Error as exc:
        return _failed(result, _db_error(exc))
    if cached is not None:
        result.available, result.reason = cached.available, cached.reason
    if not wanted or (cached is not None and not cached.available and not full):
        return result

    gql = GraphQLClient(client)
    checked_at: str | None = cached.checked_at if cached is not None else None
    try:
        if full or cached is None:
            result.available, result.reason = _probe(gql)
            checked_at = iso_from_ms(clock.now_ms())
        if result.available:
            _fetch_all(gql, conn, project_path, project_id, wanted, pages, result)
    except GraphQLError as exc:
        if exc.kind is FailureKind.SCHEMA:
            # The status query hit a schema error (type or field missing): no widget here.
            result.available = False
            result.reason = f"the GraphQL schema rejected the status query: {exc.message}"
        else:
            _failed(result, exc)
    except LoreError as exc:
        _failed(result, exc)
    except sqlite3.Error as exc:
        _failed(result, _db_error(exc))
    finally:
        result.requests = gql.requests
        result.final_page_size = pages.size
        result.shrinks, result.grows = pages.shrinks, pages.grows

    try:
        if not result.available:
            # Detected just now (a cached "unavailable" returned early above).
            checked_at = iso_from_ms(clock.now_ms())
            _clear_statuses(conn, project_id)
        if checked_at is not None:
            write_capability(conn, instance_url, Capability(
                available=result.available, reason=result.reason, checked_at=checked_at,
                final_page_size=result.final_page_size if result.available else None,
                shrinks=result.shrinks))
    except sqlite3.Error as exc:
        _failed(result, _db_error(exc))
    _log_summary(project_path, result)
    return result


# -- the steps -----------------------------------------------------------------------------


def _probe(gql: GraphQLClient) -> tuple[bool, str | None]:
    """Ask the schema whether the status widget exists: (available, reason)."""
    try:
        if gql.has_type(STATUS_WIDGET_TYPE):
            return True, None
    except GraphQLError as exc:
        if exc.kind is FailureKind.SCHEMA:
            return False, f"the GraphQL schema has no status widget: {exc.message}"
        if exc.kind is FailureKind.NOT_FOUND:
            return False, f"this instance has no GraphQL API ({exc.message})"
        if exc.kind is FailureKind.OTHER:
            # Introspection refused or odd: let the real query decide.
            log.info("work-item status probe inconclusive: %s", exc.message)
            return True, None
        raise
    return False, (f"the GraphQL schema has no {STATUS_WIDGET_TYPE} type (GitLab older than "
                   "the configurable-status release, or a tier without it)")


def _fetch_all(gql: GraphQLClient, conn: sqlite3.Connection, project_path: str,
               project_id: int, iids: list[int], pages: AdaptivePageSize,
               result: StatusEnrichment) -> None:
    seen_status = False  # any status at all: the widget demonstrably works here
    for batch in _chunks(iids, IID_BATCH):
        cursor: str | None = None
        while True:
            variables = {"fullPath": project_path, "iids": [str(i) for i in batch],
                         "first": pages.size, "after": cursor}
            try:
                response = gql.execute(WORK_ITEMS_QUERY, variables)
                work_items = response.require("project", "workItems")
            except GraphQLError as exc:
                if exc.kind.shrinkable and pages.on_failure(exc.kind):
                    log.info("work items page of %d failed (%s); retrying with %d",
                             variables["first"], exc.kind.value, pages.size)
                    continue
                if exc.kind is FailureKind.COMPLEXITY and not seen_status:
                    # Deterministic and unfixable from here: the instance cannot serve it.
                    result.available = False
                    result.reason = ("even one work item per page exceeds the instance's "
                                     f"GraphQL complexity limit ({exc.message})")
                    return
                raise
            if not isinstance(work_items, dict):
                raise GraphQLError(
                    ErrorCode.NOT_FOUND,
                    f"GitLab's GraphQL API cannot see project {project_path}",
                    kind=FailureKind.NOT_FOUND,
                    suggestion="Check that the token can read the project (scope read_api)")
            page = _read_page(work_items, response)
            if page.field_failure is not None:
                kind, message = page.field_failure
                if kind.shrinkable:
                    if pages.on_failure(kind):
                        continue
                elif not seen_status:
                    # Every item's status field answered with an error: treat as absent.
                    result.available = False
                    result.reason = f"the status field answered with an error: {message}"
                    return
            pages.on_success()
            seen_status = seen_status or page.any_status
            result.fetched += len(page.statuses) + page.unresolved
            result.unresolved += page.unresolved
            _remember_errors(result, response.errors)
            result.updated += _store_page(conn, project_id, page.statuses)
            next_cursor = page.end_cursor
            if not page.has_next or not next_cursor or next_cursor == cursor:
                break
            cursor = next_cursor


@dataclass
class _Page:
    statuses: dict[int, tuple[str | None, str | None, str | None]]
    unresolved: int
    any_status: bool
    has_next: bool
    end_cursor: str | None
    field_failure: tuple[FailureKind, str] | None  # every node's status errored


def _read_page(work_items: dict[str, Any], response: GraphQLResponse) -> _Page:
    nodes = work_items.get("nodes") or []
    info = work_items.get("pageInfo") or {}
    # Errors that point into one node (path …, "nodes", i, …) leave that node's status
    # unknown; errors without such a path make every node without a status unknown.
    errored: set[int] = set()
    unattributed = False
    for entry in response.errors:
        index = _node_index(entry)
        if index is None:
            unattributed = True
        else:
            errored.add(index)
    statuses: dict[int, tuple[str | None, str | None, str | None]] = {}
    unresolved = 0
    any_status = False
    for index, node in enumerate(nodes):
        iid = _as_int(node.get("iid")) if isinstance(node, dict) else None
        if iid is None:
            unresolved += 1
            continue
        status, known = _status_of(node)
        if status is not None:
            any_status = True
            statuses[iid] = status
        elif known and index not in errored and not unattributed:
            statuses[iid] = (None, None, None)  # the item has no status: store that
        else:
            unresolved += 1
    field_failure: tuple[FailureKind, str] | None = None
    if nodes and response.errors and not any_status and unresolved == len(nodes):
        first = response.errors[0]
        kind = next((e.kind for e in response.errors if e.kind is not FailureKind.OTHER),
                    first.kind)
        field_failure = (kind, first.message)
    return _Page(statuses=statuses, unresolved=unresolved, any_status=any_status,
                 has_next=bool(info.get("hasNextPage")),
                 end_cursor=info.get("endCursor") if isinstance(info.get("endCursor"), str)
                 else None,
                 field_failure=field_failure)


def _status_of(node: dict[str, Any]) -> tuple[tuple[str | None, str | None, str | None] | None, bool]:
    """(status, known): status triple or None; known=False when the widgets errored."""
    widgets = node.get("widgets")
    if not isinstance(widgets, list):
        return None, False
    for widget in widgets:
        # Only the status fragment selects a `status` key, so its presence marks the widget.
        if isinstance(widget, dict) and "status" in widget:
            status = widget["status"]
            if isinstance(status, dict) and status.get("name"):
                category = status.get("category")
                return (str(status["name"]),
                        str(category).lower() if category else None,
                        str(status["color"]) if status.get("color") else None), True
            return None, True
    return None, True


def _store_page(conn: sqlite3.Connection, project_id: int,
                statuses: dict[int, tuple[str | None, str | None, str | None]]) -> int:
    """Write one page in one transaction; return how many rows actually changed."""
    if not statuses:
        return 0
    changed = 0
    with transaction(conn):
        for iid, (name, category, color) in statuses.items():
            cur = conn.execute(
                "UPDATE issues SET status_name = ?, status_category = ?, status_color = ? "
                "WHERE project_id = ? AND iid = ? AND (status_name IS NOT ? OR "
                "status_category IS NOT ? OR status_color IS NOT ?)",
                (name, category, color, project_id, iid, name, category, color))
            changed += cur.rowcount
    return changed


def _clear_statuses(conn: sqlite3.Connection, project_id: int) -> None:
    # The instance lost the widget (downgrade, tier change): stale statuses would mislead.
    with transaction(conn):
        conn.execute("UPDATE issues SET status_name = NULL, status_category = NULL, "
                     "status_color = NULL WHERE project_id = ? AND status_name IS NOT NULL",
                     (project_id,))


# -- small helpers ---------------------------------------------------------------------------


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _node_index(entry: GraphQLErrorEntry) -> int | None:
    path = list(entry.path)
    if "nodes" in path:
        after = path.index("nodes") + 1
        if after < len(path) and isinstance(path[after], int):
            return int(path[after])
    return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _remember_errors(result: StatusEnrichment, errors: list[GraphQLErrorEntry]) -> None:
    for entry in errors:
        if entry.message not in result.partial_errors \
                and len(result.partial_errors) < MAX_REPORTED_ERRORS:
            result.partial_errors.append(entry.message)


def _failed(result: StatusEnrichment, exc: LoreError) -> StatusEnrichment:
    result.error = exc.message
    result.error_code = exc.code.value
    result.retry_after_ms = exc.retry_after_ms
    return result


def _db_error(exc: sqlite3.Error) -> LoreError:
    return translate_db_error(exc) or LoreError(ErrorCode.DB_ERROR, f"database error: {exc}")


def _log_summary(project_path: str, result: StatusEnrichment) -> None:
    if result.error_code:
        log.warning("work-item status for %s failed: %s", project_path, result.error)
    elif not result.available:
        log.info("work-item status unavailable: %s", result.reason)
    else:
        log.info("work-item status for %s: %d updated, %d requests, page size %d, %d shrinks",
                 project_path, result.updated, result.requests, result.final_page_size,
                 result.shrinks)
