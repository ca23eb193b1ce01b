"""Numbered schema migrations, applied in order, each in its own transaction and recorded
in ``schema_migrations``. Never edit a migration that has shipped; append the next one.

A failing migration rolls back (SQLite DDL is transactional) and raises
MIGRATION_FAILED, leaving the database exactly as it was.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

from lore.core.errors import ErrorCode, LoreError

Migration = Callable[[sqlite3.Connection], None]


def m001_initial(conn: sqlite3.Connection) -> None:
    # executescript() would COMMIT the surrounding transaction, so run statements one by one.
    for stmt in _M001.split(";\n"):
        if stmt.strip():
            conn.execute(stmt)


_M001 = """
CREATE TABLE projects (
    id INTEGER PRIMARY KEY,               -- GitLab project id
    path TEXT NOT NULL UNIQUE,            -- path_with_namespace
    name TEXT,
    web_url TEXT,
    default_branch TEXT,
    last_synced_at TEXT
);
CREATE TABLE people (
    id INTEGER PRIMARY KEY,               -- GitLab user id
    username TEXT NOT NULL,
    name TEXT,
    web_url TEXT,
    avatar_url TEXT,
    is_bot INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX people_username ON people(username);
CREATE TABLE issues (
    id INTEGER PRIMARY KEY,               -- GitLab global issue id
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    iid INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT,
    state TEXT NOT NULL,                  -- opened | closed
    author_id INTEGER REFERENCES people(id),
    milestone TEXT,
    created_at TEXT NOT NULL,             -- ISO-8601 UTC with milliseconds
    updated_at TEXT NOT NULL,
    closed_at TEXT,
    due_date TEXT,
    web_url TEXT,
    confidential INTEGER NOT NULL DEFAULT 0,
    user_notes_count INTEGER NOT NULL DEFAULT 0,
    synced_at TEXT NOT NULL,
    UNIQUE (project_id, iid)
);
CREATE INDEX issues_updated ON issues(project_id, updated_at);
CREATE INDEX issues_iid ON issues(iid);
CREATE TABLE merge_requests (
    id INTEGER PRIMARY KEY,               -- GitLab global MR id
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    iid INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT,
    state TEXT NOT NULL,                  -- opened | closed | merged | locked
    draft INTEGER NOT NULL DEFAULT 0,
    author_id INTEGER REFERENCES people(id),
    merged_by_id INTEGER REFERENCES people(id),
    source_branch TEXT,
    target_branch TEXT,
    milestone TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    merged_at TEXT,
    closed_at TEXT,
    web_url TEXT,
    user_notes_count INTEGER NOT NULL DEFAULT 0,
    synced_at TEXT NOT NULL,
    UNIQUE (project_id, iid)
);
CREATE INDEX mrs_updated ON merge_requests(project_id, updated_at);
CREATE INDEX mrs_iid ON merge_requests(iid);
CREATE TABLE item_labels (
    item_kind TEXT NOT NULL CHECK (item_kind IN ('issue', 'mr')),
    item_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (item_kind, item_id, label)
);
CREATE INDEX item_labels_label ON item_labels(label);
CREATE TABLE item_people (
    item_kind TEXT NOT NULL CHECK (item_kind IN ('issue', 'mr')),
    item_id INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('assignee', 'reviewer')),
    person_id INTEGER NOT NULL REFERENCES people(id),
    PRIMARY KEY (item_kind, item_id, role, person_id)
);
CREATE INDEX item_people_person ON item_people(person_id, role);
CREATE TABLE discussions (
    id TEXT PRIMARY KEY,                  -- GitLab discussion id (hex)
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    item_kind TEXT NOT NULL CHECK (item_kind IN ('issue', 'mr')),
    item_id INTEGER NOT NULL,
    individual_note INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX discussions_item ON discussions(item_kind, item_id);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,               -- GitLab note id
    discussion_id TEXT NOT NULL REFERENCES discussions(id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL,
    item_kind TEXT NOT NULL CHECK (item_kind IN ('issue', 'mr')),
    item_id INTEGER NOT NULL,
    author_id INTEGER REFERENCES people(id),
    body TEXT NOT NULL,
    note_type TEXT,                       -- DiffNote | DiscussionNote | NULL
    system INTEGER NOT NULL DEFAULT 0,
    resolvable INTEGER NOT NULL DEFAULT 0,
    resolved INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    position_old_path TEXT,
    position_new_path TEXT,
    position_old_line INTEGER,
    position_new_line INTEGER
);
CREATE INDEX notes_item ON notes(item_kind, item_id, created_at);
CREATE INDEX notes_author ON notes(author_id, created_at);
CREATE INDEX notes_new_path ON notes(position_new_path) WHERE position_new_path IS NOT NULL;
CREATE TABLE mr_paths (
    mr_id INTEGER NOT NULL REFERENCES merge_requests(id) ON DELETE CASCADE,
    new_path TEXT NOT NULL,
    old_path TEXT NOT NULL,
    new_file INTEGER NOT NULL DEFAULT 0,
    renamed_file INTEGER NOT NULL DEFAULT 0,
    deleted_file INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (mr_id, new_path)
);
CREATE INDEX mr_paths_new ON mr_paths(new_path);
CREATE INDEX mr_paths_old ON mr_paths(old_path);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_kind TEXT NOT NULL CHECK (item_kind IN ('issue', 'mr')),
    item_id INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    item_updated_at TEXT NOT NULL,
    rendered_at TEXT NOT NULL,
    UNIQUE (item_kind, item_id)
);
CREATE VIRTUAL TABLE documents_fts USING fts5(
    title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE embeddings (
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL,
    model TEXT NOT NULL,
    dimension INTEGER NOT NULL,
    content_hash TEXT NOT NULL,           -- hash of the chunk text
    vector BLOB NOT NULL,                 -- float32 little-endian, L2-normalised
    embedded_at TEXT NOT NULL,
    PRIMARY KEY (document_id, chunk_index)
);
CREATE TABLE sync_cursors (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    resource TEXT NOT NULL CHECK (resource IN ('issues', 'mrs')),
    updated_after TEXT,                   -- the newest updated_at fully committed
    advanced_at TEXT NOT NULL,            -- wall-clock time the cursor last moved
    PRIMARY KEY (project_id, resource)
);
CREATE TABLE sync_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    full INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,                         -- success | degraded | failed | running
    requests INTEGER NOT NULL DEFAULT 0,
    stage_results TEXT                    -- JSON list of stage results
);
CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
"""


def m002_work_item_status(conn: sqlite3.Connection) -> None:
    # GitLab's work-item status lives only in GraphQL; NULL means "unknown or none".
    for column in ("status_name", "status_category", "status_color"):
        conn.execute(f"ALTER TABLE issues ADD COLUMN {column} TEXT")


def m003_who_indexes(conn: sqlite3.Connection) -> None:
    # `lore who`: covering index so a path's notes are read without touching note bodies,
    # authorship by person, renames through a small partial index, and an approvals table
    # (empty until a sync fills it; approval system notes are counted meanwhile).
    for stmt in (
        "CREATE INDEX IF NOT EXISTS who_notes_mr ON notes(item_kind, item_id, system, author_id,"
        " note_type, position_new_path, position_old_path, created_at)",
        "CREATE INDEX IF NOT EXISTS who_mrs_author ON merge_requests(author_id)",
        "CREATE INDEX IF NOT EXISTS who_mr_paths_renames ON mr_paths(old_path, new_path, mr_id)"
        " WHERE renamed_file = 1",
        "CREATE TABLE IF NOT EXISTS mr_approvals ("
        " mr_id INTEGER NOT NULL REFERENCES merge_requests(id) ON DELETE CASCADE,"
        " person_id INTEGER NOT NULL REFERENCES people(id),"
        " approved_at TEXT,"
        " PRIMARY KEY (mr_id, person_id))",
        "CREATE INDEX IF NOT EXISTS who_approvals_person ON mr_approvals(person_id)",
    ):
        conn.execute(stmt)


def m004_embedding_source(conn: sqlite3.Connection) -> None:
    # Which rendering of a document (documents.content_hash) and which chunk size the
    # stored chunks were cut from: the embeddings stage then knows exactly which documents
    # need work without comparing clocks. NULL (rows from before) means "check again".
    conn.execute("ALTER TABLE embeddings ADD COLUMN document_hash TEXT")
    conn.execute("ALTER TABLE embeddings ADD COLUMN chunk_chars INTEGER")


def m005_query_indexes(conn: sqlite3.Connection) -> None:
    # Reading commands (`lore issues|mrs|status`): the default list (open, newest first)
    # and its total come straight from (state, updated_at); labels match case-insensitively
    # through a NOCASE index; authors of issues; status counts per project read small
    # covering indexes instead of whole tables (embeddings rows carry large vectors).
    for stmt in (
        "CREATE INDEX IF NOT EXISTS query_issues_state_updated ON issues(state, updated_at)",
        "CREATE INDEX IF NOT EXISTS query_mrs_state_updated ON merge_requests(state, updated_at)",
        "CREATE INDEX IF NOT EXISTS query_issues_project_state ON issues(project_id, state)",
        "CREATE INDEX IF NOT EXISTS query_mrs_project_state ON merge_requests(project_id, state)",
        "CREATE INDEX IF NOT EXISTS query_issues_author ON issues(author_id)",
        "CREATE INDEX IF NOT EXISTS query_item_labels_nocase"
        " ON item_labels(label COLLATE NOCASE, item_kind, item_id)",
        "CREATE INDEX IF NOT EXISTS query_notes_project ON notes(project_id)",
        "CREATE INDEX IF NOT EXISTS query_discussions_project ON discussions(project_id)",
        "CREATE INDEX IF NOT EXISTS query_documents_project ON documents(project_id)",
        "CREATE INDEX IF NOT EXISTS query_embeddings_model"
        " ON embeddings(model, dimension, document_id)",
    ):
        conn.execute(stmt)


def m006_real_gitlab(conn: sqlite3.Connection) -> None:
    # What real GitLab sends and lore used to drop (issue types, moved issues, internal
    # notes, multi-line diff-note ranges, truncated diff lists), plus bookkeeping that keeps
    # the mirror honest on real instances: `status_pending` marks issues whose work-item
    # status still has to be fetched (set on every upsert, cleared once fetched), and
    # mr_paths.source tells paths from the MR's diff list apart from paths only known from
    # diff notes. children_fetched_at is GitLab's clock (its Date header) when the item's
    # discussions were last read: a note saved within a minute of the item's last update
    # does not move updated_at (ThrottledTouch), so items read that soon are read again.
    # notes(discussion_id) backs the ON DELETE CASCADE from discussions, which
    # otherwise scans every note for each replaced discussion.
    for stmt in (
        "ALTER TABLE issues ADD COLUMN issue_type TEXT NOT NULL DEFAULT 'issue'",
        "ALTER TABLE issues ADD COLUMN moved_to_id INTEGER",
        "ALTER TABLE issues ADD COLUMN status_pending INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE issues ADD COLUMN children_fetched_at TEXT",
        "ALTER TABLE merge_requests ADD COLUMN children_fetched_at TEXT",
        "ALTER TABLE notes ADD COLUMN internal INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE notes ADD COLUMN position_line_range TEXT",
        "ALTER TABLE merge_requests ADD COLUMN diffs_overflow INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE merge_requests ADD COLUMN changes_count TEXT",
        "ALTER TABLE mr_paths ADD COLUMN source TEXT NOT NULL DEFAULT 'diff'",
        "CREATE INDEX IF NOT EXISTS notes_discussion ON notes(discussion_id)",
        "CREATE INDEX IF NOT EXISTS issues_status_pending ON issues(project_id)"
        " WHERE status_pending = 1",
        "CREATE INDEX IF NOT EXISTS query_issues_type ON issues(issue_type, state, updated_at)",
        # MRs synced before this migration: paths only their diff notes know.
        "INSERT OR IGNORE INTO mr_paths(mr_id, new_path, old_path, source)"
        " SELECT item_id, COALESCE(position_new_path, position_old_path),"
        " MIN(COALESCE(position_old_path, position_new_path)), 'diff_note' FROM notes"
        " WHERE item_kind = 'mr' AND COALESCE(position_new_path, position_old_path) IS NOT NULL"
        " AND item_id IN (SELECT id FROM merge_requests)"
        " GROUP BY item_id, COALESCE(position_new_path, position_old_path)",
    ):
        conn.execute(stmt)


def _count_triggers(table: str) -> list[str]:
    """Triggers keeping ``row_counts`` (project_id, table) exact for ``table``."""
    bump = (
        "INSERT INTO row_counts(project_id, name, n) VALUES ({p}, '{t}', {d}) "
        "ON CONFLICT(project_id, name) DO UPDATE SET n = n + {d}"
    )
    plus = bump.format(p="new.project_id", t=table, d=1)
    minus = bump.format(p="old.project_id", t=table, d=-1)
    return [
        f"CREATE TRIGGER count_{table}_insert AFTER INSERT ON {table} BEGIN {plus}; END",
        f"CREATE TRIGGER count_{table}_delete AFTER DELETE ON {table} BEGIN {minus}; END",
        f"CREATE TRIGGER count_{table}_move AFTER UPDATE OF project_id ON {table}"
        f" WHEN new.project_id IS NOT old.project_id BEGIN {minus}; {plus}; END",
    ]


def _item_triggers(kind: str, table: str) -> list[str]:
    """An inserted or re-synced item is queued for the docs stage; a deleted one too (its
    document goes) and it forgets the hash of its children."""
    # ON CONFLICT DO NOTHING, not OR IGNORE: a trigger's OR clause yields to the policy
    # of the statement that fired it (an upsert's is ABORT).
    queue = (
        f"INSERT INTO docs_dirty(item_kind, item_id) VALUES ('{kind}', {{}}.id)"
        " ON CONFLICT DO NOTHING"
    )
    return [
        f"CREATE TRIGGER dirty_{table}_insert AFTER INSERT ON {table}"
        f" BEGIN {queue.format('new')}; END",
        f"CREATE TRIGGER dirty_{table}_update AFTER UPDATE ON {table}"
        " WHEN new.synced_at IS NOT old.synced_at OR new.updated_at IS NOT old.updated_at"
        " OR new.title IS NOT old.title OR new.description IS NOT old.description"
        " OR new.state IS NOT old.state OR new.project_id IS NOT old.project_id"
        f" BEGIN {queue.format('new')}; END",
        f"CREATE TRIGGER dirty_{table}_delete AFTER DELETE ON {table}"
        f" BEGIN {queue.format('old')};"
        f" DELETE FROM item_children WHERE item_kind = '{kind}' AND item_id = old.id; END",
    ]


def _notes_in_arrival_order(conn: sqlite3.Connection) -> None:
    """Rebuild ``notes`` with its own rowid and ``id`` UNIQUE. GitLab's note ids are global
    and follow creation time across every project, so a table keyed by them takes each
    sync's notes all over its pages (every transaction rewrote most of the table); in
    arrival order they are appended. Same columns, same order, same indexes."""
    table_sql = str(
        conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'notes'"
        ).fetchone()[0]
    )
    head = re.compile(r"CREATE TABLE notes \(\s*id INTEGER PRIMARY KEY,")
    if not head.match(table_sql):
        raise RuntimeError("notes is not the table migration 1 created")
    new_sql = head.sub(
        "CREATE TABLE notes_rebuilt (\n    id INTEGER NOT NULL UNIQUE,", table_sql, count=1
    )
    indexes = [
        str(r[0])
        for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'notes' "
            "AND sql IS NOT NULL ORDER BY name"
        )
    ]
    conn.execute(new_sql)
    conn.execute("INSERT INTO notes_rebuilt SELECT * FROM notes ORDER BY id")
    conn.execute("DROP TABLE notes")
    conn.execute("ALTER TABLE notes_rebuilt RENAME TO notes")
    for stmt in indexes:
        conn.execute(stmt)


def m007_scale(conn: sqlite3.Connection) -> None:
    # Issue 10 (sync at scale).
    # - Indexes behind the remaining foreign keys and hot statements (the EXPLAIN QUERY
    #   PLAN test in tests/store names them).
    # - row_counts: per-project note and discussion counts kept exact by triggers, so
    #   `lore status` does not count 100k+ rows.
    # - item_children: a hash of the rows an item's discussions and diffs produced; an
    #   item refetched with identical children (every item of a --full) is not rewritten.
    #   Deleting any of those rows (or the item) forgets the hash.
    # - docs_dirty: items whose document may be stale, queued by triggers on the item
    #   tables, so a no-op docs stage reads nothing. Seeded with what the old scan found.
    # - documents_fts becomes an external-content FTS5 table over documents (same name,
    #   columns and rowid = documents.id) kept in step by triggers: no second copy.
    # - notes in arrival order (see _notes_in_arrival_order).
    _notes_in_arrival_order(conn)
    stmts = [
        "CREATE INDEX IF NOT EXISTS mrs_merged_by ON merge_requests(merged_by_id)",
        # `lore status`: how many issues carry a work-item status.
        "CREATE INDEX IF NOT EXISTS status_issues_named ON issues(status_name)"
        " WHERE status_name IS NOT NULL",
        "CREATE TABLE row_counts (project_id INTEGER NOT NULL, name TEXT NOT NULL,"
        " n INTEGER NOT NULL, PRIMARY KEY (project_id, name)) WITHOUT ROWID",
        "INSERT INTO row_counts(project_id, name, n)"
        " SELECT project_id, 'notes', COUNT(*) FROM notes GROUP BY project_id",
        "INSERT INTO row_counts(project_id, name, n)"
        " SELECT project_id, 'discussions', COUNT(*) FROM discussions GROUP BY project_id",
        *_count_triggers("notes"),
        *_count_triggers("discussions"),
        "CREATE TABLE item_children (item_kind TEXT NOT NULL, item_id INTEGER NOT NULL,"
        " children_hash TEXT NOT NULL, PRIMARY KEY (item_kind, item_id)) WITHOUT ROWID",
        "CREATE TRIGGER children_discussions_delete AFTER DELETE ON discussions BEGIN"
        " DELETE FROM item_children WHERE item_kind = old.item_kind AND item_id = old.item_id;"
        " END",
        "CREATE TRIGGER children_notes_delete AFTER DELETE ON notes BEGIN"
        " DELETE FROM item_children WHERE item_kind = old.item_kind AND item_id = old.item_id;"
        " END",
        "CREATE TRIGGER children_notes_update AFTER UPDATE ON notes BEGIN"
        " DELETE FROM item_children WHERE item_kind = old.item_kind AND item_id = old.item_id;"
        " END",
        "CREATE TRIGGER children_mr_paths_delete AFTER DELETE ON mr_paths BEGIN"
        " DELETE FROM item_children WHERE item_kind = 'mr' AND item_id = old.mr_id; END",
        "CREATE TABLE docs_dirty (item_kind TEXT NOT NULL, item_id INTEGER NOT NULL,"
        " PRIMARY KEY (item_kind, item_id)) WITHOUT ROWID",
        *_item_triggers("issue", "issues"),
        *_item_triggers("mr", "merge_requests"),
        # What the docs stage's old full scan would have picked up, and orphans.
        "INSERT OR IGNORE INTO docs_dirty(item_kind, item_id)"
        " SELECT 'issue', i.id FROM issues i LEFT JOIN documents d"
        " ON d.item_kind = 'issue' AND d.item_id = i.id"
        " WHERE d.id IS NULL OR d.item_updated_at != i.updated_at OR i.synced_at > d.rendered_at",
        "INSERT OR IGNORE INTO docs_dirty(item_kind, item_id)"
        " SELECT 'mr', i.id FROM merge_requests i LEFT JOIN documents d"
        " ON d.item_kind = 'mr' AND d.item_id = i.id"
        " WHERE d.id IS NULL OR d.item_updated_at != i.updated_at OR i.synced_at > d.rendered_at",
        "INSERT OR IGNORE INTO docs_dirty(item_kind, item_id)"
        " SELECT d.item_kind, d.item_id FROM documents d WHERE"
        " (d.item_kind = 'issue' AND NOT EXISTS (SELECT 1 FROM issues i WHERE i.id = d.item_id))"
        " OR (d.item_kind = 'mr' AND NOT EXISTS"
        " (SELECT 1 FROM merge_requests m WHERE m.id = d.item_id))",
        "DROP TABLE documents_fts",
        "CREATE VIRTUAL TABLE documents_fts USING fts5(title, body, content = 'documents',"
        " content_rowid = 'id', tokenize = 'porter unicode61 remove_diacritics 2')",
        "CREATE TRIGGER fts_documents_insert AFTER INSERT ON documents BEGIN"
        " INSERT INTO documents_fts(rowid, title, body) VALUES (new.id, new.title, new.body);"
        " END",
        "CREATE TRIGGER fts_documents_delete AFTER DELETE ON documents BEGIN"
        " INSERT INTO documents_fts(documents_fts, rowid, title, body)"
        " VALUES ('delete', old.id, old.title, old.body); END",
        "CREATE TRIGGER fts_documents_update AFTER UPDATE OF title, body, id ON documents"
        " WHEN new.title IS NOT old.title OR new.body IS NOT old.body OR new.id IS NOT old.id"
        " BEGIN INSERT INTO documents_fts(documents_fts, rowid, title, body)"
        " VALUES ('delete', old.id, old.title, old.body);"
        " INSERT INTO documents_fts(rowid, title, body) VALUES (new.id, new.title, new.body);"
        " END",
        "INSERT INTO documents_fts(documents_fts) VALUES ('rebuild')",
    ]
    for stmt in stmts:
        conn.execute(stmt)


def m008_mr_diffstats(conn: sqlite3.Connection) -> None:
    """The diffStats fingerprint of an MR's stored file list (the GraphQL children path)
    becomes a column, so it goes with its MR; it was kept in kv (``mr_diffstats:<id>``),
    where a deleted MR's row stayed behind."""
    conn.execute("ALTER TABLE merge_requests ADD COLUMN diffstats_fingerprint TEXT")
    conn.execute(
        "UPDATE merge_requests SET diffstats_fingerprint = (SELECT value FROM kv"
        " WHERE kv.key = 'mr_diffstats:' || merge_requests.id)"
        " WHERE EXISTS (SELECT 1 FROM kv WHERE kv.key = 'mr_diffstats:' || merge_requests.id)"
    )
    conn.execute("DELETE FROM kv WHERE key LIKE 'mr\\_diffstats:%' ESCAPE '\\'")


#: The ordered list of every migration. Append only.
MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial", m001_initial),
    (2, "work_item_status", m002_work_item_status),
    (3, "who_indexes", m003_who_indexes),
    (4, "embedding_source", m004_embedding_source),
    (5, "query_indexes", m005_query_indexes),
    (6, "real_gitlab", m006_real_gitlab),
    (7, "scale", m007_scale),
    (8, "mr_diffstats", m008_mr_diffstats),
]


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(
    conn: sqlite3.Connection, migrations: list[tuple[int, str, Migration]] | None = None
) -> int:
    """Apply every pending migration; return the resulting schema version."""
    todo = MIGRATIONS if migrations is None else migrations
    version = current_version(conn)
    for number, name, func in todo:
        if number <= version:
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            func(conn)
            conn.execute(
                "INSERT INTO schema_migrations(version, name, applied_at) "
                "VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                (number, name),
            )
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise LoreError(
                ErrorCode.MIGRATION_FAILED,
                f"schema migration {number:03d}_{name} failed: {exc}",
                suggestion="The database was left as it was. Upgrade lore or report the bug; "
                "`lore status` shows the schema version.",
            ) from exc
        version = number
    return version
