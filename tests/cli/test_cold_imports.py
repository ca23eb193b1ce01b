"""What each cold path imports, checked with `python -X importtime -m lore …` in a real
process on a real mirror: `lore --version` needs no click; lexical search needs neither
numpy, httpx, usearch nor rich; hybrid search embeds the query without httpx (nor httpx's
CLI module), and loads usearch only when the store has an approximate index. Times are
the bench's business (bench/startup.py); this test only names modules."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lore.sim.ollama import FakeOllama
from lore_testkit import LoreEnv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "search"))
from searchkit import make_config, open_store, seed_corpus

from lore.sync.stage_docs import run_docs_stage
from lore.sync.stage_embeddings import run_embeddings_stage


def _imported(
    env: LoreEnv, *args: str, extra_env: dict[str, str] | None = None
) -> tuple[set[str], str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lore", *args],
        capture_output=True,
        text=True,
        env={**env.env, **(extra_env or {})},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    names = {m.group(1) for m in re.finditer(r"^import time:.*\| *(\S+)$", proc.stderr, re.M)}
    return names, proc.stdout


@pytest.fixture
def mirror(lore_env: LoreEnv) -> Iterator[tuple[LoreEnv, FakeOllama]]:
    with FakeOllama.start(dim=64, model="nomic-embed-text") as fake:
        lore_env.write_config(
            "https://gitlab.example.com",
            ["group/app", "group/infra"],
            extra={
                "embedding": {
                    "provider": "ollama",
                    "baseUrl": fake.url,
                    "model": "nomic-embed-text",
                }
            },
        )
        store = open_store(lore_env.data_dir / "lore.db")
        seed_corpus(store)
        config = make_config(fake.url)
        assert run_docs_stage(store.conn, config, project_ids=None, full=False).success
        store.conn.close()
        yield lore_env, fake


def _embed(env: LoreEnv, fake: FakeOllama, ann_min: str) -> None:
    store = open_store(env.data_dir / "lore.db")
    try:
        import os

        old = os.environ.get("LORE_ANN_MIN_VECTORS")
        os.environ["LORE_ANN_MIN_VECTORS"] = ann_min
        try:
            assert run_embeddings_stage(
                store.conn, make_config(fake.url), project_ids=None, full=False
            ).success
        finally:
            if old is None:
                del os.environ["LORE_ANN_MIN_VECTORS"]
            else:
                os.environ["LORE_ANN_MIN_VECTORS"] = old
    finally:
        store.conn.close()


def test_version_imports_no_click(lore_env: LoreEnv) -> None:
    names, out = _imported(lore_env, "--version")
    assert out.startswith("lore ")
    assert not names & {"click", "rich", "httpx", "numpy", "msgspec", "sqlite3"}


def test_lexical_search_imports_no_vector_or_http_library(
    mirror: tuple[LoreEnv, FakeOllama],
) -> None:
    env, _fake = mirror
    for args in (
        ("--robot", "search", "login", "--mode", "lexical"),
        ("--robot", "search", "login"),
    ):  # auto: no vectors yet, so lexical
        names, out = _imported(env, *args)
        assert json.loads(out)["data"]["mode"] == "lexical"
        assert not names & {"numpy", "httpx", "usearch", "rich", "lore.search.vectors"}, args


def test_hybrid_search_embeds_the_query_without_httpx(mirror: tuple[LoreEnv, FakeOllama]) -> None:
    env, fake = mirror
    _embed(env, fake, "1000000")  # a small store: exact search, no index
    names, out = _imported(env, "--robot", "search", "login", "token")
    data = json.loads(out)["data"]
    assert data["mode"] == "hybrid" and data["hits"]
    assert "numpy" in names
    assert not names & {"httpx", "httpx._main", "usearch", "rich"}


def test_the_approximate_index_loads_usearch_only_when_there_is_one(
    mirror: tuple[LoreEnv, FakeOllama],
) -> None:
    env, fake = mirror
    _embed(env, fake, "1")
    names, out = _imported(
        env, "--robot", "search", "login", "token", extra_env={"LORE_ANN_MIN_VECTORS": "1"}
    )
    assert json.loads(out)["data"]["mode"] == "hybrid"
    assert "usearch" in names and "httpx" not in names
