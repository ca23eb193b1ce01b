"""The approximate (HNSW) index beside the database: built and kept current by the
embeddings stage, used by search only while it matches the table, and never a reason for
a wrong answer: a stale, missing, corrupt or half-written index means exact search.

The store here is small, so ``LORE_ANN_MIN_VECTORS`` lowers the threshold."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from searchkit import Store, make_config, open_store, seed_corpus

from lore.core.config import EmbeddingConfig
from lore.embed.generation import vectors_fingerprint
from lore.search import ann
from lore.search.annfiles import paths, read_meta
from lore.search.engine import search
from lore.search.vectors import VectorIndex, load_index
from lore.sim.ollama import FakeOllama
from lore.store.db import connect
from lore.sync.stage_docs import run_docs_stage
from lore.sync.stage_embeddings import run_embeddings_stage

pytest.importorskip("usearch")  # the ann extra (part of dev)

MODEL = "nomic-embed-text"
QUERIES = [
    "login token",
    "dark mode settings",
    "database backup disk",
    "docker pipeline cache",
    "session times out",
]


@pytest.fixture(autouse=True)
def _small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORE_ANN_MIN_VECTORS", "1")


def _sync(store: Store, url: str) -> dict[str, object]:
    config = make_config(url)
    assert run_docs_stage(store.conn, config, project_ids=None, full=False).success
    result = run_embeddings_stage(store.conn, config, project_ids=None, full=False)
    assert result.success, result
    return dict(result.details)


def _answers(store: Store, url: str, index: object | None = None) -> list[list[tuple[str, float]]]:
    embedding = EmbeddingConfig(provider="ollama", base_url=url, model=MODEL)
    out = []
    for query in QUERIES:
        result = search(
            store.conn, query, embedding=embedding, mode="semantic", limit=5, index=index
        )  # type: ignore[arg-type]
        out.append([(h.ref, round(h.score, 4)) for h in result.hits])
    return out


def _exact(store: Store, url: str) -> list[list[tuple[str, float]]]:
    return _answers(store, url, VectorIndex.load(store.conn, MODEL))


def _index_files(store: Store) -> list[str]:
    return sorted(p.name for p in store.path.parent.iterdir() if ".ann-" in p.name)


def test_the_stage_builds_the_index_and_search_uses_it_with_exact_answers(
    store: Store, ollama: FakeOllama
) -> None:
    seed_corpus(store)
    details = _sync(store, ollama.url)
    assert details["ann"] == {"ann": "built", "vectors": 5}
    names = _index_files(store)
    assert len(names) == 3 and any(n.endswith(".json") for n in names)  # description, index, keys
    index = load_index(store.conn, MODEL)
    assert isinstance(index, ann.AnnIndex) and len(index) == 5
    assert _answers(store, ollama.url) == _exact(store, ollama.url)
    # nothing changed: the next run leaves the index alone
    assert "ann" not in _sync(store, ollama.url)
    assert _index_files(store) == names


def test_changed_documents_are_applied_incrementally(store: Store, ollama: FakeOllama) -> None:
    seed_corpus(store)
    _sync(store, ollama.url)
    store.update(
        "issue",
        101,
        updated_at="2024-06-10T00:00:00.000Z",
        description="Kittens and puppies: nothing about signing in any more.",
    )
    details = _sync(store, ollama.url)
    assert details["ann"] == {"ann": "incremental", "vectors": 5, "removed": 1, "added": 1}
    assert isinstance(load_index(store.conn, MODEL), ann.AnnIndex)
    assert _answers(store, ollama.url) == _exact(store, ollama.url)


def test_a_stale_index_is_not_used_and_the_next_run_reconciles_it(
    store: Store, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_corpus(store)
    for n in range(10):  # enough documents that one deletion does not force a rebuild
        store.issue(300 + n, 1, 300 + n, f"Runbook page {n}", f"Steps for on-call rotation {n}.")
    _sync(store, ollama.url)
    # An item deleted upstream: the docs stage deletes its document, and its vectors
    # cascade, behind the index's back.
    store.delete("issue", 102)
    assert run_docs_stage(store.conn, make_config(), project_ids=None, full=False).success
    assert isinstance(load_index(store.conn, MODEL), VectorIndex)  # stale: exact search
    assert "group/app#2" not in json.dumps(_answers(store, ollama.url))
    assert _answers(store, ollama.url) == _exact(store, ollama.url)
    details = _sync(store, ollama.url)
    assert details["ann"] == {"ann": "reconciled", "vectors": 14, "removed": 1, "added": 0}
    assert isinstance(load_index(store.conn, MODEL), ann.AnnIndex)
    assert _answers(store, ollama.url) == _exact(store, ollama.url)


def test_corrupt_or_missing_files_mean_exact_search_then_a_rebuild(
    store: Store, ollama: FakeOllama
) -> None:
    seed_corpus(store)
    _sync(store, ollama.url)
    meta = read_meta(paths(store.path, MODEL)[0])
    assert meta is not None
    (store.path.parent / meta["index"]).write_bytes(b"not an index")
    assert isinstance(load_index(store.conn, MODEL), VectorIndex)
    assert _answers(store, ollama.url) == _exact(store, ollama.url)
    result = ann.refresh(store.conn, MODEL)
    assert result == {"ann": "current", "vectors": 5}  # the description still matches…
    # …so a changed table is what makes the stage look again, and it rebuilds.
    store.update("mr", 202, updated_at="2024-06-11T00:00:00.000Z", title="Pipeline caching v2")
    assert _sync(store, ollama.url)["ann"] == {"ann": "built", "vectors": 5}
    assert isinstance(load_index(store.conn, MODEL), ann.AnnIndex)
    assert _answers(store, ollama.url) == _exact(store, ollama.url)


def test_below_the_threshold_there_is_no_index(
    store: Store, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_corpus(store)
    _sync(store, ollama.url)
    assert _index_files(store)
    monkeypatch.setenv("LORE_ANN_MIN_VECTORS", "50")
    store.update("issue", 103, updated_at="2024-06-12T00:00:00.000Z", title="Backups: rotate first")
    details = _sync(store, ollama.url)
    assert details["ann"]["ann"] == "none"  # type: ignore[index]
    assert _index_files(store) == []
    assert isinstance(load_index(store.conn, MODEL), VectorIndex)
    monkeypatch.delenv("LORE_ANN_MIN_VECTORS")
    assert ann.refresh(store.conn, MODEL)["ann"] == "none"  # 50k by default


def test_without_usearch_search_stays_exact(
    store: Store, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ann, "available", lambda: False)
    seed_corpus(store)
    details = _sync(store, ollama.url)
    assert details["ann"] == {"ann": "none", "reason": "usearch is not installed: exact search"}
    assert _index_files(store) == []
    assert isinstance(load_index(store.conn, MODEL), VectorIndex)


def test_filters_reach_documents_past_the_nearest_candidates(
    store: Store, ollama: FakeOllama
) -> None:
    store.project(1, "group/app")
    for n in range(1, 61):
        store.issue(n, 1, n, f"Cache layer {n}", f"The cache layer number {n} evicts entries.")
    store.issue(
        99, 1, 99, "Tomato seedlings", "Watering the garden beds: garden entries.", labels=["rare"]
    )
    _sync(store, ollama.url)
    assert isinstance(load_index(store.conn, MODEL), ann.AnnIndex)
    from lore.search.filters import SearchFilters

    embedding = EmbeddingConfig(provider="ollama", base_url=ollama.url, model=MODEL)
    result = search(
        store.conn,
        "cache layer evicts entries garden",
        embedding=embedding,
        mode="semantic",
        limit=1,
        filters=SearchFilters(labels=["rare"]),
    )
    assert [h.ref for h in result.hits] == ["group/app#99"]


def test_robot_output_is_the_same_with_and_without_the_index(
    lore_env: object, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lore_testkit import LoreEnv

    assert isinstance(lore_env, LoreEnv)
    lore_env.write_config(
        "https://gitlab.example.com",
        ["group/app", "group/infra"],
        extra={"embedding": {"provider": "ollama", "baseUrl": ollama.url, "model": MODEL}},
    )
    store = open_store(lore_env.data_dir / "lore.db")
    seed_corpus(store)
    _sync(store, ollama.url)
    store.conn.close()

    def run(env_value: str) -> list[dict[str, object]]:
        docs = []
        for query in QUERIES:
            for mode in ("semantic", "hybrid"):
                code, doc = lore_env.robot(
                    "search", query, "--mode", mode, extra_env={"LORE_ANN_MIN_VECTORS": env_value}
                )
                assert code == 0, doc
                docs.append(doc["data"])
        return docs

    with_index = run("1")
    without = run("1000000")  # above the store's size: exact search
    assert with_index == without


# -- kill -9 in the middle of writing the index ------------------------------------------------

RUNNER = textwrap.dedent("""
    import os, sys
    import numpy as np
    from pathlib import Path
    from lore.embed.generation import bump_generation, vectors_fingerprint
    from lore.search import ann
    from lore.store.db import connect, transaction

    os.environ["LORE_ANN_MIN_VECTORS"] = "1"
    conn = connect(Path(sys.argv[1]))
    rng = np.random.default_rng(int(sys.argv[2]))
    docs = [r[0] for r in conn.execute("SELECT id FROM documents")]
    print("ready", flush=True)
    while True:
        before = list(vectors_fingerprint(conn))
        changed = [int(d) for d in rng.choice(docs, 50, replace=False)]
        with transaction(conn):
            for doc in changed:
                v = rng.standard_normal(64).astype("<f4"); v /= np.linalg.norm(v)
                blob = v.tobytes()
                conn.execute("UPDATE embeddings SET vector = ?, content_hash = ? "
                             "WHERE document_id = ? AND chunk_index = 0", (blob, os.urandom(8).hex(), doc))
            bump_generation(conn)
        ann.refresh(conn, "m", changed_documents=changed, fingerprint_before=before)
        print("wrote", flush=True)
""")


def _vector_store(path: Path, documents: int) -> None:
    store = open_store(path)
    store.project(1, "group/app")
    conn = store.conn
    with conn:
        conn.executemany(
            "INSERT INTO documents(id, item_kind, item_id, project_id, title, body, content_hash, "
            "item_updated_at, rendered_at) VALUES (?, 'issue', ?, 1, ?, '', ?, ?, ?)",
            [
                (n, n, f"doc {n}", f"h{n}", "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z")
                for n in range(1, documents + 1)
            ],
        )
        rng = np.random.default_rng(1)
        rows = []
        for n in range(1, documents + 1):
            for chunk in range(2):
                v = rng.standard_normal(64).astype("<f4")
                v /= np.linalg.norm(v)
                rows.append(
                    (
                        n,
                        chunk,
                        "m",
                        64,
                        os.urandom(8).hex(),
                        v.tobytes(),
                        "2024-01-01T00:00:00.000Z",
                    )
                )
        conn.executemany(
            "INSERT INTO embeddings(document_id, chunk_index, model, dimension, "
            "content_hash, vector, embedded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    assert ann.refresh(conn, "m")["ann"] == "built"
    conn.close()


def _table_pairs(conn: object) -> list[tuple[int, int]]:
    return sorted(
        (ann.make_key(d, c), ann.hash64(h))
        for d, c, h in conn.execute(  # type: ignore[attr-defined]
            "SELECT document_id, chunk_index, content_hash FROM embeddings"
        )
    )


def _self_queries_answer_exactly(path: Path) -> str:
    """Whatever index search loads now answers for the table as it is: an approximate
    index only when it holds exactly the table's chunks (same keys, same chunk hashes),
    and then each probed chunk's own vector finds its document (HNSW may leave a node or
    two of random vectors unreachable: at most one miss in 40); exact search always.
    Returns the index's kind."""
    conn = connect(path)
    try:
        index = load_index(conn, "m")
        if isinstance(index, ann.AnnIndex):
            meta = read_meta(paths(path, "m")[0])
            assert meta is not None
            pairs = np.fromfile(path.parent / meta["keys"], dtype="<i8").reshape(-1, 2)
            assert [tuple(p) for p in pairs.tolist()] == _table_pairs(conn)
        rows = conn.execute(
            "SELECT document_id, vector FROM embeddings WHERE chunk_index = 0 "
            "ORDER BY document_id LIMIT 40"
        ).fetchall()
        misses = 0
        for doc, blob in rows:
            top = index.top(np.frombuffer(blob, dtype="<f4"), 1)
            if not (top and top[0].document_id == doc and top[0].score > 0.999):
                misses += 1
        assert misses <= (1 if isinstance(index, ann.AnnIndex) else 0), misses
        return type(index).__name__
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_while_the_index_is_written_leaves_search_correct(
    tmp_path: Path, seed: int
) -> None:
    db = tmp_path / "lore.db"
    _vector_store(db, 4000)
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    env = dict(os.environ, LORE_ANN_MIN_VECTORS="1")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    for _ in range(seed):  # a few complete writes first
        assert proc.stdout.readline().strip() == "wrote"
    # Then kill at a moment that moves with the seed: inside the next update or write.
    time.sleep(0.005 * seed * seed)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    kind = _self_queries_answer_exactly(db)  # the index if it matches the table, else exact
    assert kind in ("AnnIndex", "VectorIndex")
    conn = connect(db)
    try:
        result = ann.refresh(conn, "m")
        assert result["ann"] in ("current", "reconciled", "built"), result
        meta = read_meta(paths(db, "m")[0])
        assert meta is not None and meta["fingerprint"] == list(vectors_fingerprint(conn))
        left = sorted(p.name for p in tmp_path.iterdir() if ".ann-" in p.name)
        assert len(left) == 3, left  # description, index and keys: no orphan or temporary file
        assert isinstance(load_index(conn, "m"), ann.AnnIndex)
        pairs = np.fromfile(tmp_path / meta["keys"], dtype="<i8").reshape(-1, 2)
        assert [tuple(p) for p in pairs.tolist()] == _table_pairs(conn)
    finally:
        conn.close()
    assert _self_queries_answer_exactly(db) == "AnnIndex"
