"""Fixtures shared by the work-item status tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from lore.store.db import connect


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A fresh, migrated lore database."""
    conn = connect(tmp_path / "lore.db")
    try:
        yield conn
    finally:
        conn.close()
