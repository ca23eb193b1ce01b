"""Search filters (``--type``, ``--project``, ``--state``, ``--label``, ``--author``,
``--since``) as SQL over ``documents d`` and the item tables."""

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
    since: str | None = None  # canonical ISO timestamp (see query.parse_since)

    def is_empty(self) -> bool:
        return not (self.kind or self.projects or self.state or self.labels or self.author or self.since)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "projects": list(self.projects), "state": self.state,
                "labels": list(self.labels), "author": self.author, "since": self.since}


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
    """Project ids for ``--project`` values (a full path, or a unique trailing part of one);
    NOT_FOUND / AMBIGUOUS otherwise."""
    rows = [(int(r[0]), str(r[1])) for r in conn.execute("SELECT id, path FROM projects")]
    ids: list[int] = []
    for raw in wanted:
        value = raw.strip().strip("/")
        exact = [pid for pid, path in rows if path == value]
        matches = exact or [pid for pid, path in rows if path.endswith("/" + value)]
        if not matches:
            known = ", ".join(sorted(path for _, path in rows)) or "none yet"
            raise LoreError(ErrorCode.NOT_FOUND, f"no mirrored project matches {raw!r}",
                            suggestion=f"Mirrored projects: {known}")
        if len(matches) > 1:
            paths = sorted(path for pid, path in rows if pid in matches)
            raise LoreError(ErrorCode.AMBIGUOUS, f"{raw!r} matches several projects",
                            suggestion="Use the full path", details={"candidates": paths})
        ids.extend(m for m in matches if m not in ids)
    return ids


def filter_sql(filters: SearchFilters, project_ids: list[int] | None) -> tuple[str, str, list[Any]]:
    """(joins, where, params) restricting ``documents d``; ``where`` starts with `` AND``."""
    where: list[str] = []
    params: list[Any] = []
    needs_items = bool(filters.state or filters.author or filters.since)
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
    for label in filters.labels:
        where.append("EXISTS (SELECT 1 FROM item_labels l WHERE l.item_kind = d.item_kind "
                     "AND l.item_id = d.item_id AND l.label = ? COLLATE NOCASE)")
        params.append(label)
    joins = ITEM_JOINS if needs_items else ""
    return joins, "".join(f" AND {w}" for w in where), params
