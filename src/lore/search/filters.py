"""Search filters (``--type``, ``--project``, ``--state``, ``--label``, ``--author``,
``--assignee``, ``--reviewer``, ``--since``, ``--status``, ``--status-category``) as SQL over ``documents d`` and the item tables.

``--type`` names the kind (``issue``, ``mr``) or GitLab issue types (``incident``,
``task``, ``test_case``…), which select issues of those types: see :func:`parse_types`."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from lore.core.errors import ErrorCode, LoreError

ITEM_JOINS = (
    " LEFT JOIN issues i ON d.item_kind = 'issue' AND i.id = d.item_id"
    " LEFT JOIN merge_requests m ON d.item_kind = 'mr' AND m.id = d.item_id"
)

_STATE_ALIASES = {
    "open": "opened",
    "opened": "opened",
    "closed": "closed",
    "merged": "merged",
    "locked": "locked",
    "all": None,
    "any": None,
}


@dataclass
class SearchFilters:
    """Every filter is optional; several labels must all match."""

    kind: str | None = None  # "issue" | "mr"
    issue_types: list[str] = field(default_factory=list)  # GitLab issue types (kind issue)
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
        return not (
            self.kind
            or self.issue_types
            or self.projects
            or self.state
            or self.labels
            or self.author
            or self.assignee
            or self.reviewer
            or self.since
            or self.status
            or self.status_category
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "issue_types": list(self.issue_types),
            "projects": list(self.projects),
            "state": self.state,
            "labels": list(self.labels),
            "author": self.author,
            "assignee": self.assignee,
            "reviewer": self.reviewer,
            "since": self.since,
            "status": self.status,
            "status_category": self.status_category,
        }


def check_status_filters(conn: sqlite3.Connection, filters: SearchFilters) -> None:
    """Filters that select one kind must not contradict each other: ``--reviewer`` selects
    merge requests, a status filter selects issues. USAGE_ERROR for a contradiction, or
    for a status filter on a mirror that holds no work-item status at all (it could only
    ever match nothing)."""
    if filters.issue_types and filters.kind == "mr":
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "issue types apply to issues, not merge requests",
            suggestion="Drop --type mr, or drop the issue types",
        )
    if filters.reviewer and (filters.kind == "issue" or filters.issue_types):
        chosen = ", ".join(filters.issue_types) or "issue"
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "--reviewer applies to merge requests; issues have no reviewers",
            suggestion=f"Drop --type {chosen}, or drop --reviewer",
        )
    if not (filters.status or filters.status_category):
        return
    if filters.reviewer:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "--reviewer selects merge requests and --status selects issues: "
            "together they can match nothing",
            suggestion="Keep one of them",
        )
    if filters.kind == "mr":
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "--status and --status-category apply to issues; merge requests have no "
            "work-item status",
            suggestion="Drop --type mr, or drop the status filter",
        )
    from lore.query.store import require_status_data

    require_status_data(conn)


#: What ``--type`` accepts for merge requests and for issues of any type.
_KIND_WORDS: dict[str, str] = {
    "mr": "mr",
    "mrs": "mr",
    "merge_request": "mr",
    "merge_requests": "mr",
    "issue": "issue",
    "issues": "issue",
}


def parse_types(values: list[str] | tuple[str, ...]) -> tuple[str | None, list[str]]:
    """``--type`` values (repeatable, comma-separated) as ``(kind, issue_types)``.

    ``mr`` and ``issue`` alone are the kind (``issue``: every issue type); an issue type
    (``incident``, ``task``, ``test_case``…) selects issues of that type, so it implies
    kind ``issue``; next to issue types, ``issue`` is the plain-issue type (``--type
    issue,incident``: plain issues and incidents, as ``lore issues --type`` reads it).
    USAGE_ERROR (with the nearest word) for unknown values, and for ``mr`` with issues:
    one kind per search (no ``--type`` searches both)."""
    from lore.query.filters import ISSUE_TYPES

    words: list[str] = []
    for value in values:
        for part in value.split(","):
            key = "_".join(part.strip().lower().replace("-", " ").split())
            if key and key not in words:
                words.append(key)
    kinds: set[str] = set()
    types: list[str] = []
    for word in words:
        if word in _KIND_WORDS:
            kinds.add(_KIND_WORDS[word])
            continue
        name = word[:-1] if word not in ISSUE_TYPES and word[:-1] in ISSUE_TYPES else word
        if name not in ISSUE_TYPES:
            import difflib

            choices = ["issue", "mr", *ISSUE_TYPES[1:]]
            close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            raise LoreError(
                ErrorCode.USAGE_ERROR,
                f"--type {word!r} is neither issue, mr nor a GitLab issue type{guess}",
                suggestion=f"Use one of: {', '.join(choices)}",
            )
        if name not in types:
            types.append(name)
    if "mr" in kinds and (types or "issue" in kinds):
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "--type mr and --type "
            + ", ".join(types or ["issue"])
            + " select different kinds: one kind per search",
            suggestion="Keep one of them, or drop --type to search issues and "
            "merge requests together",
        )
    if types:
        if "issue" in kinds:
            types.insert(0, "issue")
        return "issue", types
    return (next(iter(kinds)) if kinds else None), []


def normalize_state(state: str | None) -> str | None:
    """``open`` → ``opened``; ``all`` → no filter; USAGE_ERROR for anything unknown."""
    if state is None:
        return None
    key = state.strip().lower()
    if key not in _STATE_ALIASES:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            f"unknown state {state!r}",
            suggestion="Use one of: opened, closed, merged, locked, all",
        )
    return _STATE_ALIASES[key]


def resolve_projects(conn: sqlite3.Connection, wanted: list[str]) -> list[int]:
    """Project ids for ``--project`` values, resolved as every reading command resolves
    them (:func:`lore.query.store.resolve_project`): NOT_FOUND / AMBIGUOUS otherwise."""
    from lore.query.store import resolve_projects as resolve

    return [pid for pid, _path in resolve(conn, wanted)]


def filter_sql(
    filters: SearchFilters, project_ids: list[int] | None, *, has_issue_types: bool = True
) -> tuple[str, str, list[Any]]:
    """(joins, where, params) restricting ``documents d``; ``where`` starts with `` AND``.
    ``has_issue_types`` False: a store from before migration 6, where every issue is a
    plain issue."""
    where: list[str] = []
    params: list[Any] = []
    has_status = bool(filters.status or filters.status_category)
    needs_items = bool(
        filters.state or filters.author or filters.since or has_status or filters.issue_types
    )
    if filters.kind:
        where.append("d.item_kind = ?")
        params.append(filters.kind)
    if filters.issue_types:
        column = "i.issue_type" if has_issue_types else "'issue'"
        where.append(
            f"d.item_kind = 'issue' AND {column} IN ({','.join('?' * len(filters.issue_types))})"
        )
        params.extend(filters.issue_types)
    if project_ids is not None:
        where.append(
            f"d.project_id IN ({','.join('?' * len(project_ids))})" if project_ids else "0"
        )
        params.extend(project_ids)
    if filters.state:
        where.append("COALESCE(i.state, m.state) = ?")
        params.append(filters.state)
    if filters.author:
        where.append(
            "COALESCE(i.author_id, m.author_id) IN "
            "(SELECT id FROM people WHERE username = ? COLLATE NOCASE)"
        )
        params.append(filters.author.lstrip("@"))
    if filters.since:
        where.append("COALESCE(i.updated_at, m.updated_at) >= ?")
        params.append(filters.since)
    for role, username in (("assignee", filters.assignee), ("reviewer", filters.reviewer)):
        if username:
            where.append(
                "EXISTS (SELECT 1 FROM item_people ip JOIN people pp ON pp.id = ip.person_id "
                "WHERE ip.item_kind = d.item_kind AND ip.item_id = d.item_id AND ip.role = ? "
                "AND pp.username = ? COLLATE NOCASE)"
            )
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
        where.append(
            "EXISTS (SELECT 1 FROM item_labels l WHERE l.item_kind = d.item_kind "
            "AND l.item_id = d.item_id AND l.label = ? COLLATE NOCASE)"
        )
        params.append(label)
    joins = ITEM_JOINS if needs_items else ""
    return joins, "".join(f" AND {w}" for w in where), params
