"""ingest.get_kv_json: the one reader of JSON kept in kv (the GraphQL children and the
work-item status capabilities use it): a corrupt or non-object value reads as absent, so
the capability is probed again instead of failing the sync."""

from __future__ import annotations

from pathlib import Path

from lore.store import ingest
from lore.store.db import connect, transaction
from lore.sync import bulk_children, work_item_status


def test_corrupt_or_foreign_values_read_as_absent(tmp_path: Path) -> None:
    conn = connect(tmp_path / "lore.db")
    url = "https://gitlab.example.com"
    with transaction(conn):
        ingest.set_kv(conn, "a", '{"x": 1}')
        ingest.set_kv(conn, "b", "{not json")
        ingest.set_kv(conn, "c", "[1, 2]")
        ingest.set_kv(conn, bulk_children.capability_key(url), "{broken")
        ingest.set_kv(conn, work_item_status.capability_key(url), '"a string"')
    assert ingest.get_kv_json(conn, "a") == {"x": 1}
    assert ingest.get_kv_json(conn, "b") is None
    assert ingest.get_kv_json(conn, "c") is None
    assert ingest.get_kv_json(conn, "missing") is None
    assert bulk_children.read_capability(conn, url) is None
    assert work_item_status.read_capability(conn, url) is None
    with transaction(conn):
        ingest.set_kv(
            conn,
            bulk_children.capability_key(url),
            '{"available": true, "batch_size": 500, "internal_field": "internal"}',
        )
    cap = bulk_children.read_capability(conn, url)
    assert cap is not None and cap.available and cap.batch_size == bulk_children.MAX_BATCH
    conn.close()
