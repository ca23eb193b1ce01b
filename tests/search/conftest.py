"""Fixtures for the docs/embeddings stages and search (helpers live in searchkit.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from searchkit import Store, open_store

from lore.sim.ollama import FakeOllama


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "lore.db")
    try:
        yield s
    finally:
        s.conn.close()


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama.start(dim=256, model="nomic-embed-text") as fake:
        yield fake
