"""The docs stage on a real SQLite store: rendering, FTS5 content, change detection."""

from __future__ import annotations

import sqlite3

from searchkit import Store, make_config, seed_corpus

from lore.store.db import transaction
from lore.sync.stage_docs import document_hash, run_docs_stage


def _run(store: Store, full: bool = False, project_ids: list[int] | None = None):
    return run_docs_stage(store.conn, make_config(), project_ids=project_ids, full=full)


def _fts(conn: sqlite3.Connection, match: str) -> set[int]:
    return {
        int(r[0])
        for r in conn.execute(
            "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?", (match,)
        )
    }


def test_renders_one_document_per_item_with_everything_searchable(store: Store) -> None:
    seed_corpus(store)
    result = _run(store)
    assert result.success and result.stage == "docs"
    assert result.items_updated == 5
    docs = store.documents()
    assert set(docs) == {("issue", 101), ("issue", 102), ("issue", 103), ("mr", 201), ("mr", 202)}

    login = docs[("issue", 101)]
    assert login["title"] == "Login times out after thirty seconds"
    assert login["project_id"] == 1
    assert login["item_updated_at"] == "2024-05-10T00:00:00.000Z"
    body = login["body"]
    # Description, discussion (system notes left out), then the facts.
    assert body == (
        "Users report the login page spins and then the session request times out. The auth "
        "service logs show a slow token lookup.\n\n"
        "Discussion:\n\n"
        "Bob Baker (@bob), 2024-05-02:\nI can reproduce: the token lookup takes 31 seconds.\n\n"
        "Issue group/app#1 · opened\n"
        "Author: Alice Archer (@alice)\n"
        "Labels: auth, bug"
    )
    assert login["content_hash"] == document_hash(login["title"], body)

    cache = docs[("mr", 201)]["body"]
    assert cache.startswith("Adds an in-memory cache")
    assert "Discussion:\n\nAlice Archer (@alice), 2024-05-02:\nLooks good" in cache
    assert cache.endswith(
        "Merge request group/app!1 · merged\nAuthor: Bob Baker (@bob)\n"
        "Branches: feature-1 → main\nLabels: auth, performance"
    )

    # FTS5 holds exactly the documents, under their ids, with title and body.
    fts_rows = store.conn.execute(
        "SELECT rowid, title, body FROM documents_fts ORDER BY rowid"
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in fts_rows] == [
        (d["id"], d["title"], d["body"]) for d in sorted(docs.values(), key=lambda d: d["id"])
    ]
    assert _fts(store.conn, "reproduce") == {login["id"]}
    assert _fts(store.conn, "title:dark") == {docs[("issue", 102)]["id"]}
    assert _fts(store.conn, "alice") == {login["id"], docs[("mr", 201)]["id"]}


def test_unchanged_items_are_not_rendered_again(store: Store) -> None:
    seed_corpus(store)
    _run(store)
    before = {k: (r["rendered_at"], r["content_hash"]) for k, r in store.documents().items()}
    again = _run(store)
    assert again.success and again.items_updated == 0
    assert again.details["checked"] == 0
    after = {k: (r["rendered_at"], r["content_hash"]) for k, r in store.documents().items()}
    assert after == before


def test_changed_item_is_rendered_and_reindexed(store: Store) -> None:
    seed_corpus(store)
    _run(store)
    docs = store.documents()
    store.update(
        "issue",
        101,
        updated_at="2024-06-02T00:00:00.000Z",
        title="Login hangs behind the corporate proxy",
    )
    store.note("issue", 101, "Workaround: bypass the proxy for the auth host.", author_id=12)
    result = _run(store)
    assert result.items_updated == 1 and result.details["checked"] == 1
    new = store.documents()
    assert new[("issue", 101)]["id"] == docs[("issue", 101)]["id"]  # updated in place
    assert new[("issue", 101)]["content_hash"] != docs[("issue", 101)]["content_hash"]
    assert new[("issue", 101)]["item_updated_at"] == "2024-06-02T00:00:00.000Z"
    # Every other document is untouched.
    for key in docs:
        if key != ("issue", 101):
            assert new[key]["rendered_at"] == docs[key]["rendered_at"]
    doc_id = new[("issue", 101)]["id"]
    assert _fts(store.conn, "proxy") == {doc_id}
    assert _fts(store.conn, "thirty") == set()  # the old title is gone from the index
    assert store.conn.execute("SELECT COUNT(*) FROM documents_fts").fetchone()[0] == 5


def test_refetched_item_with_same_content_keeps_its_document(store: Store) -> None:
    seed_corpus(store)
    _run(store)
    docs = store.documents()
    # The items stage rewrote the row (say, --full) but nothing changed upstream.
    store.update(
        "issue", 102, updated_at="2024-02-01T00:00:00.000Z", synced_at="2030-01-01T00:00:00.000Z"
    )
    result = _run(store)
    assert result.details == {"checked": 1, "unchanged": 1, "removed": 0}
    assert result.items_updated == 0
    assert store.documents()[("issue", 102)]["content_hash"] == docs[("issue", 102)]["content_hash"]


def test_notes_added_without_a_new_updated_at_are_caught_by_synced_at(store: Store) -> None:
    seed_corpus(store)
    _run(store)
    # A crash left the issue row written before its notes; the next items run rewrites
    # the notes with the same updated_at but a newer synced_at.
    store.note("issue", 103, "Disk alarms fire at 90% now.", author_id=10)
    store.update(
        "issue", 103, updated_at="2024-05-20T00:00:00.000Z", synced_at="2030-01-01T00:00:00.000Z"
    )
    assert _run(store).items_updated == 1
    assert "Disk alarms fire" in store.documents()[("issue", 103)]["body"]


def test_deleted_items_lose_their_documents_fts_rows_and_embeddings(store: Store) -> None:
    seed_corpus(store)
    _run(store)
    doc_id = store.documents()[("mr", 202)]["id"]
    with transaction(store.conn):
        store.conn.execute(
            "INSERT INTO embeddings(document_id, chunk_index, model, dimension, content_hash, vector, "
            "embedded_at) VALUES (?, 0, 'm', 1, 'h', x'0000803f', '2024')",
            (doc_id,),
        )
    store.delete("mr", 202)
    result = _run(store, full=True)
    assert result.success and result.details["removed"] == 1
    assert ("mr", 202) not in store.documents()
    assert (
        store.conn.execute(
            "SELECT COUNT(*) FROM documents_fts WHERE rowid = ?", (doc_id,)
        ).fetchone()[0]
        == 0
    )
    assert store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 0


def test_full_rerenders_everything_but_rewrites_only_changes(store: Store) -> None:
    seed_corpus(store)
    _run(store)
    # A person's display name changed: only --full notices (no item changed upstream).
    with transaction(store.conn):
        store.conn.execute("UPDATE people SET name = 'Alice Anders' WHERE id = 10")
    assert _run(store).items_updated == 0
    result = _run(store, full=True)
    assert result.details["checked"] == 5
    assert result.items_updated == 2  # issue 101 (her issue) and mr 201 (her note)
    assert "Alice Anders (@alice)" in store.documents()[("issue", 101)]["body"]


def test_project_filter_limits_the_work(store: Store) -> None:
    seed_corpus(store)
    result = _run(store, project_ids=[2])
    assert result.items_updated == 2
    assert {k for k in store.documents()} == {("issue", 103), ("mr", 202)}
    assert _run(store, project_ids=[]).items_updated == 0
    assert _run(store).items_updated == 3


def test_control_characters_are_stripped_and_crlf_normalised(store: Store) -> None:
    store.project(1, "group/app")
    store.issue(1, 1, 7, "Odd\x02 title\x03", "line one\r\nline two\x00")
    _run(store)
    doc = store.documents()[("issue", 1)]
    assert doc["title"] == "Odd title"
    assert "line one\nline two" in doc["body"] and "\x00" not in doc["body"]


def test_a_database_failure_is_reported_not_raised(store: Store) -> None:
    seed_corpus(store)
    store.conn.execute("DROP TABLE documents_fts")
    result = _run(store)
    assert not result.success
    assert result.error_code == "DB_ERROR"
    assert "documents_fts" in (result.error or "")


def test_mr_document_lists_people_milestone_and_changed_files(store: Store) -> None:
    store.project(1, "group/app")
    store.person(10, "alice", "Alice Archer")
    store.person(11, "bob")
    store.mr(
        5,
        1,
        9,
        "Refactor the session store",
        "Split the store in two.",
        author_id=10,
        milestone="v2.0",
        draft=1,
        merged_by_id=11,
        source_branch="refactor",
        labels=["tech-debt"],
    )
    with transaction(store.conn):
        store.conn.executemany(
            "INSERT INTO item_people(item_kind, item_id, role, person_id) VALUES (?, ?, ?, ?)",
            [("mr", 5, "assignee", 10), ("mr", 5, "reviewer", 11)],
        )
        store.conn.executemany(
            "INSERT INTO mr_paths(mr_id, new_path, old_path) VALUES (?, ?, ?)",
            [
                (5, "src/session/store.py", "src/session/store.py"),
                (5, "src/session/cache.py", "src/session/cache.py"),
            ],
        )
    _run(store)
    body = store.documents()[("mr", 5)]["body"]
    assert body == (
        "Split the store in two.\n\n"
        "Changed files:\nsrc/session/cache.py\nsrc/session/store.py\n\n"
        "Merge request group/app!9 · opened (draft)\n"
        "Author: Alice Archer (@alice)\n"
        "Branches: refactor → main\n"
        "Merged by: @bob\n"
        "Assignees: Alice Archer (@alice)\n"
        "Reviewers: @bob\n"
        "Labels: tech-debt\n"
        "Milestone: v2.0"
    )
    doc_id = store.documents()[("mr", 5)]["id"]
    assert _fts(store.conn, '"session/cache.py"') == {doc_id}
