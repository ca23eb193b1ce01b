"""Work-item status enrichment for the issues stage (LORE.md, "Work-item status").

GitLab's configurable statuses ("To do", "In progress", custom ones) exist only in
GraphQL. After the issues stage has committed a project's changed issues, the pipeline
calls :func:`enrich_statuses` with their iids; it asks ``project.workItems(iids:)`` for
the status widget (at most 100 iids a request, GitLab's cap), cursor-paginated, and stores
name / category / colour per issue.

The widget's shape differs by version, so it is discovered by introspection (``__type``
of ``WorkItemWidgetStatus`` and ``WorkItemStatus``) and the query is built from the fields
that exist: ``status { id name color category }`` on 18.1+, the same without ``category``
on 17.11–18.0, flat ``name color`` on the widget on 17.8–17.10; a ``String`` ``status``
(EE 15.5–17.7, requirements verification) or no widget (CE) means "not available". A
query the schema rejects (validation error) means the same, never a failure.

Issues the issues stage upserted carry ``status_pending = 1``; every run fetches the
given iids plus every still-pending issue and clears the flag for the issues whose status
was resolved, so a failed fetch is retried by the next run even without upstream change.

Page size adapts (:class:`AdaptivePageSize`): a run starts at the size that worked last
time on this instance and version (``final_page_size`` in the cache), so a complexity
limit below the configured size costs one rejected request once, not once per project
and run; a complexity, query-timeout or 5xx-type failure halves the page and retries the
same cursor; a run of successes grows it back
towards the configured size, never past a size the server already rejected as too
complex. An instance without the status widget is not a failure: statuses stay empty
and the reason is cached in ``kv`` under ``workitem_status:{instance_url}`` together with
the GitLab version it was found on (a new version, or ``--full``, probes again), the
fields in use, and the last error per project, where ``lore status`` reads it.
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
from lore.store import ingest
from lore.store.db import transaction
from lore.store.errors import translate_db_error

log = logging.getLogger("lore.sync.work_item_status")

STATUS_WIDGET_TYPE = "WorkItemWidgetStatus"
KV_PREFIX = "workitem_status:"
MAX_PAGE_SIZE = 100  # GitLab's cap on `first`
#: Consecutive successful pages before the page size grows again.
GROW_AFTER_SUCCESSES = 3
#: iids sent per query: GitLab rejects more than 100 ("iids is too long (maximum is 100)").
IID_BATCH = 100
#: Distinct partial-data error messages kept for the report.
MAX_REPORTED_ERRORS = 5

PROBE_QUERY = """
query LoreStatusProbe {
  widget: __type(name: "WorkItemWidgetStatus") {
    name fields { name type { name kind ofType { name kind ofType { name kind } } } }
  }
  status: __type(name: "WorkItemStatus") { name fields { name } }
}
""".strip()

_QUERY_TEMPLATE = """
query LoreWorkItemStatuses($fullPath: ID!, $iids: [String!], $first: Int!, $after: String) {
  project(fullPath: $fullPath) {
    workItems(iids: $iids, first: $first, after: $after) {
      nodes {
        iid
        widgets {
          ... on WorkItemWidgetStatus {
            %s
          }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
""".strip()

#: Status fields lore stores, in the order they are asked for.
WANTED_FIELDS = ("id", "name", "color", "category")
#: The selection when introspection could not tell (GitLab 17.11–18.0's object fields).
DEFAULT_FIELDS = ("id", "name", "color")


def build_query(mode: str, fields: list[str] | tuple[str, ...]) -> str:
    """The workItems query for one status shape: ``object`` selects
    ``status { fields }``, ``flat`` selects the fields on the widget itself."""
    if mode == "flat":
        selection = "__typename " + " ".join(f for f in fields if f != "category")
    else:
        selection = "__typename status { " + " ".join(fields) + " }"
    return _QUERY_TEMPLATE % selection


#: The query on GitLab 18.1+ (kept for callers and tests that name it).
WORK_ITEMS_QUERY = build_query("object", WANTED_FIELDS)


def capability_key(instance_url: str) -> str:
    """The kv key under which the capability of one instance is cached."""
    return KV_PREFIX + instance_url.rstrip("/")


@dataclass
class Capability:
    """The cached answer to "does this instance have work-item statuses, and in which
    shape?" (kv JSON). ``gitlab_version`` is the version it was found on; ``errors`` holds
    the last enrichment error per project path (``{"message", "code", "at"}``)."""

    available: bool | None  # None: not known yet (the probe failed; errors say why)
    reason: str | None
    checked_at: str
    final_page_size: int | None = None
    shrinks: int = 0
    #: The page size that worked after the complexity limit rejected a larger one (kept
    #: across runs: the next run starts there instead of being rejected again).
    complexity_page_size: int | None = None
    gitlab_version: str | None = None
    mode: str | None = None  # "object" | "flat" when available
    fields: list[str] = field(default_factory=list)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def read_capability(conn: sqlite3.Connection, instance_url: str) -> Capability | None:
    """The cached capability of ``instance_url``, or None when never checked (or unreadable)."""
    raw = ingest.get_kv_json(conn, capability_key(instance_url))
    if raw is None:
        return None
    try:
        errors = raw.get("errors") or {}
        return Capability(
            available=None if raw["available"] is None else bool(raw["available"]),
            reason=raw.get("reason"),
            checked_at=str(raw.get("checked_at") or ""),
            final_page_size=raw.get("final_page_size"),
            shrinks=int(raw.get("shrinks") or 0),
            complexity_page_size=(
                int(raw["complexity_page_size"]) if raw.get("complexity_page_size") else None
            ),
            gitlab_version=raw.get("gitlab_version"),
            mode=raw.get("mode"),
            fields=[str(f) for f in raw.get("fields") or []],
            errors={str(k): dict(v) for k, v in errors.items() if isinstance(v, dict)}
            if isinstance(errors, dict)
            else {},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a damaged cache entry just means "check again"


def write_capability(conn: sqlite3.Connection, instance_url: str, capability: Capability) -> None:
    with transaction(conn):
        ingest.set_kv(conn, capability_key(instance_url), capability.to_json())


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
    pending: int = 0  # issues still marked pending from earlier runs, fetched again
    cleared: int = 0  # pending flags cleared (status resolved)
    mode: str | None = None  # "object" | "flat": the shape in use
    fields: list[str] = field(default_factory=list)
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
    gitlab_version: str | None = None,
) -> StatusEnrichment:
    """Fetch and store the work-item status of issues ``iids`` of one project, plus every
    issue of the project still marked ``status_pending``.

    Sends no request when there is nothing to fetch, or when the instance is cached as
    lacking the status widget (on the same ``gitlab_version``) and ``full`` is False.
    Never raises for GitLab or database failures: they come back as ``error`` /
    ``error_code`` (pages already written stay written, unresolved issues stay pending)
    and are recorded in the capability's ``errors`` for ``lore status``. An instance
    without the widget is ``available=False`` with a ``reason``, not an error.
    """
    clock = clock or default_clock()
    pages = AdaptivePageSize(page_size)
    result = StatusEnrichment(final_page_size=pages.size)
    try:
        cached = read_capability(conn, instance_url)
        pending = _pending_iids(conn, project_id)
    except sqlite3.Error as exc:
        return _failed(result, _db_error(exc))
    wanted = sorted(set(iids) | set(pending))
    result.pending = len(set(pending) - set(iids))
    stale = cached is not None and (
        cached.available is None  # never probed successfully
        or (gitlab_version is not None and cached.gitlab_version != gitlab_version)
        or (cached.available and cached.mode is None)
    )  # a cache from before shapes
    if cached is not None and not stale:
        result.available, result.reason = bool(cached.available), cached.reason
        result.mode, result.fields = cached.mode, list(cached.fields)
        if cached.available and cached.complexity_page_size and not full:
            # Start at the size that worked under the complexity limit last time (same
            # instance and version), not at the configured one the limit already
            # rejected; the limit stays the ceiling that growth never reaches again.
            pages.size = max(1, min(pages.start, int(cached.complexity_page_size)))
            pages.ceiling = pages.size + 1 if pages.size < pages.start else None
            result.final_page_size = pages.size
    if not wanted or (cached is not None and not stale and not cached.available and not full):
        return result

    gql = GraphQLClient(client)
    checked_at: str | None = cached.checked_at if cached is not None and not stale else None
    probed = checked_at is not None
    resolved: set[int] = set()
    try:
        if full or cached is None or stale:
            shape = _probe(gql)
            result.available, result.reason = shape.available, shape.reason
            result.mode, result.fields = shape.mode, list(shape.fields)
            checked_at = iso_from_ms(clock.now_ms())
            probed = True
        if result.available:
            query = build_query(result.mode or "object", result.fields or list(DEFAULT_FIELDS))
            _fetch_all(gql, conn, query, project_path, project_id, wanted, pages, result, resolved)
    except GraphQLError as exc:
        if exc.kind is FailureKind.SCHEMA:
            # The schema rejected the status query (a validation error): not here.
            result.available = False
            result.reason = (
                "work-item status not available on this instance: the GraphQL "
                f"schema rejected the status query ({exc.message})"
            )
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

    now = iso_from_ms(clock.now_ms())
    try:
        if result.available and resolved:
            result.cleared = _clear_pending(conn, project_id, resolved)
        if not result.available:
            # Detected just now (a cached "unavailable" returned early above).
            checked_at = now
            _clear_statuses(conn, project_id)
        errors = dict(cached.errors) if cached is not None else {}
        if result.error_code:
            errors[project_path] = {"message": result.error, "code": result.error_code, "at": now}
        else:
            errors.pop(project_path, None)
        changed_errors = cached is None or errors != cached.errors
        if checked_at is not None or changed_errors:
            # Never probed (the probe itself failed): availability stays unknown, the
            # error is kept for `lore status`, and the next run probes again.
            write_capability(
                conn,
                instance_url,
                Capability(
                    available=result.available if probed else None,
                    reason=result.reason,
                    checked_at=checked_at or now,
                    final_page_size=result.final_page_size if result.available else None,
                    shrinks=result.shrinks,
                    complexity_page_size=_complexity_size(pages, cached, stale or full, result),
                    gitlab_version=gitlab_version
                    if gitlab_version is not None
                    else (cached.gitlab_version if cached is not None else None),
                    mode=result.mode if result.available else None,
                    fields=result.fields if result.available else [],
                    errors=errors,
                ),
            )
    except sqlite3.Error as exc:
        _failed(result, _db_error(exc))
    _log_summary(project_path, result)
    return result


def _complexity_size(
    pages: AdaptivePageSize, cached: Capability | None, forget: bool, result: StatusEnrichment
) -> int | None:
    """What to remember as the size that fits the complexity limit: this run's when the
    limit rejected a page (``ceiling``), else the one already remembered (unless
    ``forget``: a new version or ``--full`` finds out again)."""
    if not result.available:
        return None
    if pages.ceiling is not None and pages.size < pages.ceiling:
        return pages.size
    return cached.complexity_page_size if cached is not None and not forget else None


# -- the steps -----------------------------------------------------------------------------


@dataclass
class StatusShape:
    """What introspection found: whether status is available, and how to select it."""

    available: bool
    reason: str | None = None
    mode: str | None = None  # "object": status { ... }; "flat": fields on the widget
    fields: list[str] = field(default_factory=list)


def _named_type(ref: Any) -> tuple[str | None, str | None]:
    """(kind, name) of an introspected field type, through NON_NULL/LIST wrappers."""
    while (
        isinstance(ref, dict)
        and ref.get("kind") in ("NON_NULL", "LIST")
        and isinstance(ref.get("ofType"), dict)
    ):
        ref = ref["ofType"]
    if not isinstance(ref, dict):
        return None, None
    return ref.get("kind"), ref.get("name")


def _field_types(found: Any) -> dict[str, tuple[str | None, str | None]] | None:
    if not isinstance(found, dict):
        return None
    out: dict[str, tuple[str | None, str | None]] = {}
    for item in found.get("fields") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            out[item["name"]] = _named_type(item.get("type"))
    return out


def shape_from_introspection(data: dict[str, Any]) -> StatusShape:
    """The status shape from the answer to :data:`PROBE_QUERY`."""
    widget = _field_types(data.get("widget"))
    if widget is None:
        return StatusShape(
            False,
            f"the GraphQL schema has no {STATUS_WIDGET_TYPE} type "
            "(a CE build, or GitLab before 15.5)",
        )
    if "status" in widget:
        kind, type_name = widget["status"]
        if kind == "SCALAR":
            return StatusShape(
                False,
                f"{STATUS_WIDGET_TYPE}.status is a {type_name} here "
                "(requirements verification only): work-item status "
                "not available on this instance",
            )
        status = _field_types(data.get("status"))
        available = set(status) if status is not None else set(DEFAULT_FIELDS)
        fields = [f for f in WANTED_FIELDS if f in available]
        if "name" not in fields:
            return StatusShape(False, "the status object has no name field")
        return StatusShape(True, None, "object", fields)
    if "name" in widget:  # 17.8–17.10: the status's fields sit on the widget
        return StatusShape(
            True, None, "flat", [f for f in WANTED_FIELDS if f in widget and f != "category"]
        )
    return StatusShape(False, f"{STATUS_WIDGET_TYPE} has no status fields on this instance")


def _probe(gql: GraphQLClient) -> StatusShape:
    """Introspect the status widget: which shape, which fields."""
    try:
        response = gql.execute(PROBE_QUERY)
    except GraphQLError as exc:
        if exc.kind is FailureKind.SCHEMA:
            return StatusShape(False, f"the GraphQL schema has no status widget: {exc.message}")
        if exc.kind is FailureKind.NOT_FOUND:
            return StatusShape(False, f"this instance has no GraphQL API ({exc.message})")
        if exc.kind is FailureKind.OTHER:
            # Introspection refused or odd: let the real query decide (a validation error
            # there still means "not available").
            log.info("work-item status probe inconclusive: %s", exc.message)
            return StatusShape(True, None, "object", list(DEFAULT_FIELDS))
        raise
    return shape_from_introspection(response.data)


def _fetch_all(
    gql: GraphQLClient,
    conn: sqlite3.Connection,
    query: str,
    project_path: str,
    project_id: int,
    iids: list[int],
    pages: AdaptivePageSize,
    result: StatusEnrichment,
    resolved: set[int],
) -> None:
    """Fetch ``iids`` in batches of :data:`IID_BATCH`; add every iid whose status is now
    known (stored, known empty, or absent upstream from a clean batch) to ``resolved``."""
    seen_status = False  # any status at all: the widget demonstrably works here
    flat = result.mode == "flat"
    for batch in _chunks(iids, IID_BATCH):
        cursor: str | None = None
        returned: set[int] = set()
        clean = True  # no partial errors in this batch
        while True:
            variables = {
                "fullPath": project_path,
                "iids": [str(i) for i in batch],
                "first": pages.size,
                "after": cursor,
            }
            try:
                response = gql.execute(query, variables)
                work_items = response.require("project", "workItems")
            except GraphQLError as exc:
                if exc.kind.shrinkable and pages.on_failure(exc.kind):
                    log.info(
                        "work items page of %d failed (%s); retrying with %d",
                        variables["first"],
                        exc.kind.value,
                        pages.size,
                    )
                    continue
                if exc.kind is FailureKind.COMPLEXITY and not seen_status:
                    # Deterministic and unfixable from here: the instance cannot serve it.
                    result.available = False
                    result.reason = (
                        "even one work item per page exceeds the instance's "
                        f"GraphQL complexity limit ({exc.message})"
                    )
                    return
                raise
            if not isinstance(work_items, dict):
                raise GraphQLError(
                    ErrorCode.NOT_FOUND,
                    f"GitLab's GraphQL API cannot see project {project_path}",
                    kind=FailureKind.NOT_FOUND,
                    suggestion="Check that the token can read the project (scope read_api)",
                )
            page = _read_page(work_items, response, flat)
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
            clean = clean and not response.errors and page.unresolved == 0
            returned |= page.returned
            _remember_errors(result, response.errors)
            result.updated += _store_page(conn, project_id, page.statuses)
            resolved |= set(page.statuses)
            next_cursor = page.end_cursor
            if not page.has_next or not next_cursor or next_cursor == cursor:
                break
            cursor = next_cursor
        if clean:
            # Asked for but not returned by a complete answer: gone upstream or invisible;
            # nothing to fetch again for them.
            resolved |= set(batch) - returned


@dataclass
class _Page:
    statuses: dict[int, tuple[str | None, str | None, str | None]]
    unresolved: int
    any_status: bool
    has_next: bool
    end_cursor: str | None
    field_failure: tuple[FailureKind, str] | None  # every node's status errored
    returned: set[int] = field(default_factory=set)  # iids of the nodes on this page


def _read_page(work_items: dict[str, Any], response: GraphQLResponse, flat: bool = False) -> _Page:
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
    returned: set[int] = set()
    unresolved = 0
    any_status = False
    for index, node in enumerate(nodes):
        iid = _as_int(node.get("iid")) if isinstance(node, dict) else None
        if iid is None:
            unresolved += 1
            continue
        returned.add(iid)
        status, known = _status_of(node, flat)
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
        kind = next(
            (e.kind for e in response.errors if e.kind is not FailureKind.OTHER), first.kind
        )
        field_failure = (kind, first.message)
    return _Page(
        statuses=statuses,
        unresolved=unresolved,
        any_status=any_status,
        has_next=bool(info.get("hasNextPage")),
        end_cursor=info.get("endCursor") if isinstance(info.get("endCursor"), str) else None,
        field_failure=field_failure,
        returned=returned,
    )


def _status_of(
    node: dict[str, Any], flat: bool = False
) -> tuple[tuple[str | None, str | None, str | None] | None, bool]:
    """(status, known): status triple or None; known=False when the widgets errored."""
    widgets = node.get("widgets")
    if not isinstance(widgets, list):
        return None, False
    for widget in widgets:
        if not isinstance(widget, dict):
            continue
        if flat:
            # 17.8–17.10: name/color on the widget; only our fragment asks __typename.
            if widget.get("__typename") != STATUS_WIDGET_TYPE:
                continue
            status: Any = widget
        elif "status" in widget:
            # Only the status fragment selects a `status` key, so its presence marks it.
            status = widget["status"]
        else:
            continue
        if isinstance(status, dict) and status.get("name"):
            category = status.get("category")
            return (
                str(status["name"]),
                str(category).lower() if category else None,
                str(status["color"]) if status.get("color") else None,
            ), True
        return None, True
    return None, True


def _store_page(
    conn: sqlite3.Connection,
    project_id: int,
    statuses: dict[int, tuple[str | None, str | None, str | None]],
) -> int:
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
                (name, category, color, project_id, iid, name, category, color),
            )
            changed += cur.rowcount
    return changed


def _clear_statuses(conn: sqlite3.Connection, project_id: int) -> None:
    # The instance lost the widget (downgrade, tier change): stale statuses would mislead.
    with transaction(conn):
        conn.execute(
            "UPDATE issues SET status_name = NULL, status_category = NULL, "
            "status_color = NULL WHERE project_id = ? AND status_name IS NOT NULL",
            (project_id,),
        )


def _has_pending_column(conn: sqlite3.Connection) -> bool:
    return any(row[1] == "status_pending" for row in conn.execute("PRAGMA table_info(issues)"))


def _pending_iids(conn: sqlite3.Connection, project_id: int) -> list[int]:
    """Issues of the project whose status a run has not resolved yet."""
    if not _has_pending_column(conn):
        return []
    return [
        int(r[0])
        for r in conn.execute(
            "SELECT iid FROM issues WHERE project_id = ? AND status_pending = 1", (project_id,)
        )
    ]


def _clear_pending(conn: sqlite3.Connection, project_id: int, iids: set[int]) -> int:
    if not iids or not _has_pending_column(conn):
        return 0
    cleared = 0
    with transaction(conn):
        for batch in _chunks(sorted(iids), 500):
            marks = ",".join("?" * len(batch))
            cur = conn.execute(
                f"UPDATE issues SET status_pending = 0 WHERE project_id = ? "
                f"AND status_pending = 1 AND iid IN ({marks})",
                (project_id, *batch),
            )
            cleared += cur.rowcount
    return cleared


# -- small helpers ---------------------------------------------------------------------------


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
        if (
            entry.message not in result.partial_errors
            and len(result.partial_errors) < MAX_REPORTED_ERRORS
        ):
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
        log.info(
            "work-item status for %s: %d updated, %d requests, page size %d, %d shrinks",
            project_path,
            result.updated,
            result.requests,
            result.final_page_size,
            result.shrinks,
        )
