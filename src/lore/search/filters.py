"""Search filters (``--type``, ``--project``, ``--state``, ``--label``, ``--author``,
``--assignee``, ``--reviewer``, ``--since``, ``--status``, ``--status-category``) as SQL over ``documents d`` and the item tables."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from lore.core.errors import ErrorCode, LoreError

ITEM_JOINS = (
    " LEFT JOIN issues i ON d.item_kind = 'issue' AND i.id = d.item_id"
    " LEFT JOIN merge_requests m ON d.item_kind = 'mr' AND m.id = d.item_id"
)

_STATE_ALIASES = {"open": "opened", "opened": "opened", "closed": "closed", "merged": "merged",
                  "locked": "locked", "all": None, "any": None}


@dataclass
class SearchFilters:
    """Every filter is optional; several labels must all match."""

    kind: str | None = None  # "issue" | "mr"
    projects: list[str] = field(default_factory=list)  # full paths or their last component(s)
    state: str | None = None
    labels: list[str] = field(default_factory=list)
    author: str | None = None  # username, with or without "@"
    assignee: str | None = None  # username, with or without "@"
    reviewer: str | None = None  # username (merge requests only)
    since: str | None = None  # canonical ISO timestamp (see query.parse_since)
    status: str | None = None  # work-item status name (issues only), case-insensitive
    status_category: str | None = None  # "to do", "TO_DO", "in progress"… (issues only)

    def is_empty(self) -> bool:
        return not (self.kind or self.projects or self.state or self.labels or self.author
                    or self.assignee or self.reviewer or self.since or self.status
                    or self.status_category)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "projects": list(self.projects), "state": self.state,
                "labels": list(self.labels), "author": self.author, "assignee": self.assignee,
                "reviewer": self.reviewer, "since": self.since,
                "status": self.status, "status_category": self.status_category}


def check_status_filters(conn: sqlite3.Connection, filters: SearchFilters) -> None:
    """Filters that select one kind must not contradict each other: ``--reviewer`` selects
    merge requests, a status filter selects issues. USAGE_ERROR for a contradiction, or
    for a status filter on a mirror that holds no work-item status at all (it could only
    ever match nothing)."""
    if filters.reviewer and filters.kind == "issue":
        raise LoreError(ErrorCode.USAGE_ERROR, "--reviewer applies to merge requests; issues have "
                        "no reviewers", suggestion="Drop --type issue, or drop --reviewer")
    if not (filters.status or filters.status_category):
        return
    if filters.reviewer:
        raise LoreError(ErrorCode.USAGE_ERROR,
                        "--reviewer selects merge requests and --status selects issues: "
                        "together they can match nothing",
                        suggestion="Keep one of them")
    if filters.kind == "mr":
        raise LoreError(ErrorCode.USAGE_ERROR,
                        "--status and --status-category apply to issues; merge requests have no "
                        "work-item status",
                        suggestion="Drop --type mr, or drop the status filter")
    from lore.query.store import require_status_data

    require_status_data(conn)


def normalize_state(state: str | None) -> str | None:
    """``open`` → ``opened``; ``all`` → no filter; USAGE_ERROR for anything unknown."""
    if state is None:
        return None
    key = state.strip().lower()
    if key not in _STATE_ALIASES:
        raise LoreError(ErrorCode.USAGE_ERROR, f"unknown state {state!r}",
                        suggestion="Use one of: opened, closed, merged, locked, all")
    return _STATE_ALIASES[key]


def resolve_projects(conn: sqlite3.Connection, wanted: list[str]) -> list[int]:
    """Project ids for ``--project`` values, resolved as every reading command resolves
    them (:func:`lore.query.store.resolve_project`): NOT_FOUND / AMBIGUOUS otherwise."""
    from lore.query.store import resolve_projects as resolve

    return [pid for pid, _path in resolve(conn, wanted)]


def filter_sql(filters: SearchFilters, project_ids: list[int] | None) -> tuple[str, str, list[Any]]:
    """(joins, where, params) restricting ``documents d``; ``where`` starts with `` AND``."""
    where: list[str] = []
    params: list[Any] = []
    has_status = bool(filters.status or filters.status_category)
    needs_items = bool(filters.state or filters.author or filters.since or has_status)
    if filters.kind:
        where.append("d.item_kind = ?")
        params.append(filters.kind)
    if project_ids is not None:
        where.append(f"d.project_id IN ({','.join('?' * len(project_ids))})" if project_ids else "0")
        params.extend(project_ids)
    if filters.state:
        where.append("COALESCE(i.state, m.state) = ?")
        params.append(filters.state)
    if filters.author:
        where.append("COALESCE(i.author_id, m.author_id) IN "
                     "(SELECT id FROM people WHERE username = ? COLLATE NOCASE)")
        params.append(filters.author.lstrip("@"))
    if filters.since:
        where.append("COALESCE(i.updated_at, m.updated_at) >= ?")
        params.append(filters.since)
    for role, username in (("assignee", filters.assignee), ("reviewer", filters.reviewer)):
        if username:
            where.append(
                "EXISTS (SELECT 1 FROM item_people ip JOIN people pp ON pp.id = ip.person_id "
                "WHERE ip.item_kind = d.item_kind AND ip.item_id = d.item_id AND ip.role = ? "
                "AND pp.username = ? COLLATE NOCASE)")
            params.extend([role, username.lstrip("@")])
    if filters.reviewer:
        where.append("d.item_kind = 'mr'")
    if has_status:
        where.append("d.item_kind = 'issue'")
    if filters.status:
        where.append("i.status_name = ? COLLATE NOCASE")
        params.append(filters.status.strip())
    if filters.status_category:
        from lore.query.store import normalize_status_category, status_category_sql

        where.append(f"{status_category_sql('i.status_category')} = ?")
        params.append(normalize_status_category(filters.status_category))
    for label in filters.labels:
        where.append("EXISTS (SELECT 1 FROM item_labels l WHERE l.item_kind = d.item_kind "
                     "AND l.item_id = d.item_id AND l.label = ? COLLATE NOCASE)")
        params.append(label)
    joins = ITEM_JOINS if needs_items else ""
    return joins, "".join(f" AND {w}" for w in where), params
