"""What a path question covers: an exact file or a directory prefix, widened by renames.

A file keeps its identity across renames: if an MR renamed ``a/x.py`` to ``b/x.py``, work on
either name counts when asking about either, following chains (a → b → c). Renames are
per project, so an alias found in one project never widens the question in another.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any


def normalize_path(raw: str) -> str:
    """Strip blanks, a leading ``./`` or ``/``; keep a trailing slash (it means directory)."""
    value = raw.strip().replace("\\", "/")
    while value.startswith("./"):
        value = value[2:]
    value = value.lstrip("/")
    while "//" in value:
        value = value.replace("//", "/")
    return "" if value == "." else value


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (BINARY order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


@dataclass
class PathScope:
    """The normalized question and everything it matches."""

    query: str
    match: str  # "file" | "directory" | "none"
    prefix: str | None = None  # directory questions: "src/auth/" ("" = the whole tree)
    exact: frozenset[str] = frozenset()  # file questions: the file itself, in every project
    aliases: dict[int, set[str]] = field(default_factory=dict)  # project id → renamed names

    def matches(self, project_id: int, path: str | None) -> bool:
        """Does ``path`` (in ``project_id``) belong to this question?"""
        if path is None:
            return False
        if self.prefix is not None and path.startswith(self.prefix):
            return True
        if path in self.exact:
            return True
        return path in self.aliases.get(project_id, ())

    def match_sql(self, column: str, project_column: str) -> tuple[str, list[Any]]:
        """An SQL condition equivalent to :meth:`matches` on ``column``, with its arguments."""
        parts: list[str] = []
        args: list[Any] = []
        if self.prefix == "":
            parts.append(f"{column} IS NOT NULL")
        elif self.prefix is not None:
            parts.append(f"({column} >= ? AND {column} < ?)")
            args += [self.prefix, prefix_upper_bound(self.prefix)]
        if self.exact:
            parts.append(f"{column} IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(sorted(self.exact)))
        if self.aliases:
            # Aliases are per project: match "project_id<US>path" keys.
            keys = sorted(f"{pid}\x1f{p}" for pid, paths in self.aliases.items() for p in paths)
            parts.append(
                f"({project_column} || char(31) || {column}) IN (SELECT value FROM json_each(?))"
            )
            args.append(json.dumps(keys))
        return ("(" + " OR ".join(parts) + ")" if parts else "0"), args

    def alias_list(self) -> list[str]:
        """Every name reached through renames that the question itself does not cover."""
        names = {p for paths in self.aliases.values() for p in paths}
        return sorted(p for p in names if not self._direct(p))

    def _direct(self, path: str) -> bool:
        return (self.prefix is not None and path.startswith(self.prefix)) or path in self.exact


def _exists(conn: sqlite3.Connection, sql_new: str, sql_old: str, args: tuple[str, ...]) -> bool:
    return (
        conn.execute(sql_new, args).fetchone() is not None
        or conn.execute(sql_old, args).fetchone() is not None
    )


def _rename_graph(conn: sqlite3.Connection) -> dict[int, dict[str, set[str]]]:
    # Renames are rare; loading them all (through a partial index) keeps chain-following simple.
    graph: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    rows = conn.execute(
        "SELECT m.project_id, p.old_path, p.new_path FROM mr_paths p "
        "JOIN merge_requests m ON m.id = p.mr_id "
        "WHERE p.renamed_file = 1 AND p.old_path != p.new_path"
    )
    for project_id, old, new in rows:
        graph[project_id][old].add(new)
        graph[project_id][new].add(old)
    return graph


def _follow(adjacency: dict[str, set[str]], seeds: set[str]) -> set[str]:
    seen = set(seeds)
    todo = deque(seeds)
    while todo:
        for nxt in adjacency.get(todo.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def resolve_scope(conn: sqlite3.Connection, raw: str) -> PathScope:
    """Decide whether ``raw`` is a file or a directory and collect its rename aliases."""
    query = normalize_path(raw)
    if query == "" or query.endswith("/"):
        scope = PathScope(query=query or "./", match="directory", prefix=query)
    elif _exists(
        conn,
        "SELECT 1 FROM mr_paths WHERE new_path = ? LIMIT 1",
        "SELECT 1 FROM mr_paths WHERE old_path = ? LIMIT 1",
        (query,),
    ):
        scope = PathScope(query=query, match="file", exact=frozenset({query}))
    else:
        scope = PathScope(query=query + "/", match="directory", prefix=query + "/")
    if scope.prefix and not _exists(
        conn,
        "SELECT 1 FROM mr_paths WHERE new_path >= ? AND new_path < ? LIMIT 1",
        "SELECT 1 FROM mr_paths WHERE old_path >= ? AND old_path < ? LIMIT 1",
        (scope.prefix, prefix_upper_bound(scope.prefix)),
    ):
        # Neither a known file nor a known directory: report the path as the user typed it.
        return PathScope(query=query, match="none")
    if scope.prefix == "":
        return scope  # the whole tree already covers every alias
    for project_id, adjacency in _rename_graph(conn).items():
        seeds = {p for p in adjacency if scope._direct(p)}
        if seeds:
            reached = _follow(adjacency, seeds)
            extra = {p for p in reached if not scope._direct(p)}
            if extra:
                scope.aliases[project_id] = extra
    return scope


def candidate_mr_ids(conn: sqlite3.Connection, scope: PathScope) -> set[int]:
    """Ids of the MRs whose diff touched the scope (old or new side), via indexed lookups."""
    ids: set[int] = set()
    if scope.match == "none":
        return ids
    if scope.prefix == "":
        return {row[0] for row in conn.execute("SELECT DISTINCT mr_id FROM mr_paths")}
    if scope.prefix is not None:
        bounds = (scope.prefix, prefix_upper_bound(scope.prefix))
        for column in ("new_path", "old_path"):
            ids.update(
                row[0]
                for row in conn.execute(
                    f"SELECT mr_id FROM mr_paths WHERE {column} >= ? AND {column} < ?", bounds
                )
            )
    if scope.exact:
        names = json.dumps(sorted(scope.exact))
        for column in ("new_path", "old_path"):
            ids.update(
                row[0]
                for row in conn.execute(
                    f"SELECT mr_id FROM mr_paths WHERE {column} IN (SELECT value FROM json_each(?))",
                    (names,),
                )
            )
    for project_id, names_set in scope.aliases.items():
        names = json.dumps(sorted(names_set))
        for column in ("new_path", "old_path"):
            ids.update(
                row[0]
                for row in conn.execute(
                    f"SELECT p.mr_id FROM mr_paths p JOIN merge_requests m ON m.id = p.mr_id "
                    f"WHERE p.{column} IN (SELECT value FROM json_each(?)) AND m.project_id = ?",
                    (names, project_id),
                )
            )
    return ids
