"""The writer's fast paths produce exactly the rows the plain statements did.

- ``normalize_iso``'s fast path for canonical timestamps agrees with the full parse, which
  is exact (no float seconds: the old one turned …41.945Z into …41.944Z now and then);
- ``prepare_children`` + ``write_children`` give the same discussions, notes and paths as
  the statement-by-statement INSERT OR REPLACE writer they replaced (kept here as the
  reference), including GitLab's awkward cases: a discussion listed twice, a note id met
  twice, duplicate diff paths, renames, diff notes on files the diff list lacks;
- an item whose children did not change is not rewritten, and one whose did is.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

from lore.core.clock import iso_from_ms, ms_from_iso, normalize_iso
from lore.store import ingest
from lore.store.db import connect


def test_canonical_fast_path_agrees_with_the_full_parse() -> None:
    rng = random.Random(3)
    for _ in range(20_000):
        ms = rng.randint(0, 4_102_444_800_000)  # 1970 .. 2100
        text = iso_from_ms(ms)
        assert normalize_iso(text) == iso_from_ms(ms_from_iso(text)) == text
        assert ms_from_iso(text) == ms
    for text in (
        "2024-02-29T10:00:00.000Z",
        "2023-12-31T23:59:59.999Z",
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05.678+02:00",
        "1972-02-22T12:02:41.945Z",
        "2024-01-02T03:04:05.6789Z",
        "2024-01-02 03:04:05.678Z",
    ):
        assert normalize_iso(text) == iso_from_ms(ms_from_iso(text)), text
    for bad in ("2024-13-02T03:04:05.678Z", "2023-02-29T00:00:00.000Z", "2024-01-32T00:00:00.000Z"):
        try:
            normalize_iso(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")


def _reference_write(
    conn: sqlite3.Connection,
    project_id: int,
    kind: str,
    item_id: int,
    discussions: list[dict[str, Any]],
    diffs: list[dict[str, Any]],
) -> None:
    """The writer before issue 10, statement by statement."""
    conn.execute("DELETE FROM discussions WHERE item_kind = ? AND item_id = ?", (kind, item_id))
    for disc in discussions:
        disc_id = str(disc.get("id"))
        conn.execute(
            "INSERT OR REPLACE INTO discussions(id, project_id, item_kind, item_id, "
            "individual_note) VALUES (?, ?, ?, ?, ?)",
            (disc_id, project_id, kind, item_id, int(bool(disc.get("individual_note")))),
        )
        for note in disc.get("notes") or []:
            author = ingest.upsert_person(conn, note.get("author"))
            row = ingest._note_row(note, disc_id, project_id, kind, item_id, author)
            conn.execute(
                f"INSERT OR REPLACE INTO notes({', '.join(ingest._NOTE_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(row))})",
                row,
            )
    if kind == "mr":
        conn.execute("DELETE FROM mr_paths WHERE mr_id = ?", (item_id,))
        for diff in diffs:
            new_path = diff.get("new_path") or diff.get("old_path")
            if not new_path:
                continue
            conn.execute(
                "INSERT OR REPLACE INTO mr_paths(mr_id, new_path, old_path, new_file, "
                "renamed_file, deleted_file) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    item_id,
                    str(new_path),
                    str(diff.get("old_path") or new_path),
                    int(bool(diff.get("new_file"))),
                    int(bool(diff.get("renamed_file"))),
                    int(bool(diff.get("deleted_file"))),
                ),
            )
        ingest.add_diff_note_paths(conn, item_id)


def _note(
    note_id: int, *, author: int = 1, body: str = "text", position: Any = None
) -> dict[str, Any]:
    return {
        "id": note_id,
        "body": body,
        "author": {"id": author, "username": f"user{author}"},
        "created_at": "2024-01-02T03:04:05.678Z",
        "updated_at": "2024-01-02T03:04:05Z",
        "type": "DiffNote" if position else None,
        "system": False,
        "position": position,
    }


DISCUSSIONS: list[dict[str, Any]] = [
    {"id": "a1", "individual_note": True, "notes": [_note(1), _note(2, author=2)]},
    {
        "id": "b2",
        "notes": [
            _note(3, position={"old_path": "lib/old.py", "new_path": "lib/new.py", "new_line": 4})
        ],
    },
    {"id": "a1", "individual_note": False, "notes": [_note(4, body="again")]},  # listed twice
    {
        "id": "c3",
        "notes": [
            _note(
                3, body="moved", position={"old_path": "gone.py", "new_path": None, "old_line": 2}
            ),
            _note(5, position={"new_path": "docs/x.md", "new_line": 1}),
        ],
    },
]
DIFFS: list[dict[str, Any]] = [
    {"old_path": "src/a.py", "new_path": "src/a.py"},
    {"old_path": "src/b.py", "new_path": "src/c.py", "renamed_file": True},
    {"old_path": "src/a.py", "new_path": "src/a.py", "deleted_file": True},  # repeated
    {"old_path": "lib/old.py", "new_path": "lib/new.py", "renamed_file": True},
]


def _store(tmp: Path, name: str) -> sqlite3.Connection:
    conn = connect(tmp / f"{name}.db")
    conn.execute("INSERT INTO projects(id, path) VALUES (1, 'g/p')")
    ingest.upsert_mr(
        conn,
        1,
        {
            "id": 50,
            "iid": 1,
            "title": "t",
            "updated_at": "2024-01-01T00:00:00Z",
            "created_at": "2024-01-01T00:00:00Z",
        },
        "2024-01-01T00:00:00.000Z",
    )
    return conn


def _rows(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        t: sorted(map(tuple, conn.execute(f"SELECT * FROM {t}")), key=repr)
        for t in ("discussions", "notes", "mr_paths", "people")
    }


def test_prepared_rows_equal_the_statement_by_statement_writer(tmp_path: Path) -> None:
    ref = _store(tmp_path, "ref")
    _reference_write(ref, 1, "mr", 50, DISCUSSIONS, DIFFS)
    new = _store(tmp_path, "new")
    prepared = ingest.prepare_children(1, "mr", 50, DISCUSSIONS, DIFFS)
    assert ingest.write_children(new, prepared, {}) is True
    assert _rows(new) == _rows(ref)
    # notes after the repeated discussion: its first notes went with it, as REPLACE did
    assert {r[0] for r in new.execute("SELECT id FROM notes")} == {3, 4, 5}


def test_unchanged_children_are_not_rewritten(tmp_path: Path) -> None:
    conn = _store(tmp_path, "skip")
    first = ingest.prepare_children(1, "mr", 50, DISCUSSIONS, DIFFS)
    ingest.write_children(conn, first, {})
    stored = ingest.children_hashes(conn, "mr", [50])
    assert stored == {50: first.digest}
    rowids = list(conn.execute("SELECT rowid, id FROM notes ORDER BY rowid"))
    again = ingest.prepare_children(1, "mr", 50, DISCUSSIONS, DIFFS)
    assert ingest.write_children(conn, again, {}, stored[50]) is False
    assert list(conn.execute("SELECT rowid, id FROM notes ORDER BY rowid")) == rowids
    edited = [*DISCUSSIONS, {"id": "d4", "notes": [_note(9, body="new")]}]
    changed = ingest.prepare_children(1, "mr", 50, edited, DIFFS)
    assert changed.digest != first.digest
    assert ingest.write_children(conn, changed, {}, stored[50]) is True
    assert conn.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 4
    # deleting a note by hand forgets the hash, so the next write restores it
    conn.execute("DELETE FROM notes WHERE id = 9")
    assert ingest.children_hashes(conn, "mr", [50]) == {}
