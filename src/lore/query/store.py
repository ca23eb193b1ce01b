"""Opening the mirror for reading, and the small look-ups every reading command shares
(schema version, optional columns, project paths)."""

from __future__ import annotations

import difflib
import sqlite3
from pathlib import Path

from lore.core.errors import ErrorCode, LoreError

#: The columns migration 2 adds to ``issues`` for GitLab work-item status.
STATUS_COLUMNS: tuple[str, ...] = ("status_name", "status_category", "status_color")

#: kv key where `lore sync` records who the token belongs to (JSON {id, username}).
CURRENT_USER_KEY = "gitlab.current_user"

NOTHING_SYNCED_HINT = "nothing is synced yet: run `lore sync` to mirror your projects"


def open_for_reading(db_path: Path) -> sqlite3.Connection | None:
    """The mirror at ``db_path``, or None when nothing has been synced yet.

    Reading must not create an empty database (a later ``lore sync`` would then look
    like it found an empty mirror) nor change its schema behind the user's back, so this
    never creates the file and never migrates; ``lore sync`` does both.
    """
    if not db_path.is_file():
        return None
    from lore.store.db import connect

    conn = connect(db_path, migrate=False)
    if schema_version(conn) < 1:
        conn.close()
        return None
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration, 0 for a database that was never migrated."""
    try:
        row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    except sqlite3.OperationalError:  # no schema_migrations table yet
        return 0
    return int(row[0] or 0)


def latest_schema_version() -> int:
    """The schema version this build of lore migrates to."""
    from lore.store.migrations import MIGRATIONS

    return max((number for number, _name, _func in MIGRATIONS), default=0)


def table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """Column names of ``table`` (empty when it does not exist)."""
    return {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}


def has_issue_status(conn: sqlite3.Connection) -> bool:
    """Whether the schema has the work-item status columns on ``issues``.

    Checked once per query call: sqlite3 connections take neither attributes nor weak
    references, so there is no safe per-connection cache, and the PRAGMA costs
    microseconds.
    """
    return set(STATUS_COLUMNS) <= table_columns(conn, "issues")


def normalize_status_category(value: str) -> str:
    """GraphQL says ``TO_DO``, the UI says "To do": compare letters only, case-insensitively."""
    return "".join(ch for ch in value.lower() if ch.isalnum())


def status_category_sql(column: str) -> str:
    """SQL normalising ``column`` the way `normalize_status_category` normalises a flag."""
    return f"lower(replace(replace(replace({column}, '_', ''), ' ', ''), '-', ''))"


def require_status_data(conn: sqlite3.Connection) -> None:
    """USAGE_ERROR unless some mirrored issue carries a work-item status, so that
    ``--status`` on an instance without statuses explains itself instead of matching nothing."""
    available = (
        has_issue_status(conn)
        and conn.execute("SELECT 1 FROM issues WHERE status_name IS NOT NULL LIMIT 1").fetchone()
        is not None
    )
    if not available:
        raise LoreError(
            ErrorCode.USAGE_ERROR,
            "no work-item status is mirrored, so --status and --status-category cannot match",
            suggestion="Statuses come from GitLab's work-item status widget (recent GitLab, "
            "Premium/Ultimate); `lore status` says whether your instance provides them",
            actions=["lore status", "lore sync"],
        )


def current_username(conn: sqlite3.Connection | None) -> str:
    """The username of the token's owner, as the last sync recorded it, for ``@me``;
    USAGE_ERROR when no sync has recorded it yet."""
    row = None
    if conn is not None:
        try:
            row = conn.execute("SELECT value FROM kv WHERE key = ?", (CURRENT_USER_KEY,)).fetchone()
        except sqlite3.OperationalError:  # a store from before the kv table
            row = None
    if row is not None:
        import json

        try:
            return str(json.loads(row[0])["username"])
        except (ValueError, KeyError, TypeError):
            pass
    raise LoreError(
        ErrorCode.USAGE_ERROR,
        "@me is not known yet: `lore sync` records whose token it uses",
        suggestion="Run `lore sync`, or name yourself: @yourname",
        actions=["lore sync"],
    )


def known_projects(conn: sqlite3.Connection) -> list[str]:
    """Every mirrored project path, sorted."""
    return [str(r[0]) for r in conn.execute("SELECT path FROM projects ORDER BY path")]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def project_not_found(name: str, known: list[str]) -> LoreError:
    """NOT_FOUND for a project that is not mirrored, listing the ones that are."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    ordered = close + [p for p in known if p not in close]
    if known:
        guess = f"did you mean {close[0]!r}? " if close else ""
        suggestion = (
            f"{guess}Mirrored projects are listed below; a project appears once it is in "
            "the config's projects and `lore sync` has run"
        )
    else:
        suggestion = NOTHING_SYNCED_HINT
    return LoreError(
        ErrorCode.NOT_FOUND,
        f"project {name!r} is not mirrored",
        suggestion=suggestion,
        actions=["lore status", "lore sync"],
        details={"candidates": ordered[:20], "known_projects": known},
    )


def resolve_project(conn: sqlite3.Connection, name: str) -> tuple[int, str]:
    """A project path (case-insensitive), the last segment(s) of exactly one mirrored
    path (``platform`` for ``acme/platform``) or a GitLab project id, as
    ``(project_id, path)``.

    NOT_FOUND lists the mirrored projects; AMBIGUOUS lists the paths a suffix matches.
    """
    wanted = name.strip().strip("/")
    row = conn.execute(
        "SELECT id, path FROM projects WHERE path = ? COLLATE NOCASE ORDER BY path = ? DESC",
        (wanted, wanted),
    ).fetchone()
    if row is not None:
        return int(row[0]), str(row[1])
    rows = conn.execute(
        "SELECT id, path FROM projects WHERE path LIKE ? ESCAPE '\\' ORDER BY path",
        ("%/" + _like_escape(wanted),),
    ).fetchall()
    if len(rows) == 1:
        return int(rows[0][0]), str(rows[0][1])
    if not rows and wanted.isdigit():  # GitLab's numeric project id
        row = conn.execute("SELECT id, path FROM projects WHERE id = ?", (int(wanted),)).fetchone()
        if row is not None:
            return int(row[0]), str(row[1])
    if len(rows) > 1:
        paths = [str(r[1]) for r in rows]
        raise LoreError(
            ErrorCode.AMBIGUOUS,
            f"project {name!r} matches {len(paths)} mirrored projects",
            suggestion="Give the full project path",
            actions=[f"--project {p}" for p in paths],
            details={"candidates": paths},
        )
    raise project_not_found(wanted or name, known_projects(conn))


def resolve_projects(conn: sqlite3.Connection, names: list[str]) -> list[tuple[int, str]]:
    """:func:`resolve_project` for each name, without duplicates, in the order given."""
    out: list[tuple[int, str]] = []
    for name in names:
        resolved = resolve_project(conn, name)
        if resolved not in out:
            out.append(resolved)
    return out
