"""Fixtures for the work-item status tests (helpers live in workitems_support.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from lore.store.db import connect


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "lore.db")
    try:
        yield conn
    finally:
        conn.close()
