"""SIGKILL in the middle of the embeddings stage: the next run converges to exactly what a
clean run produces, and the database stays intact."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from searchkit import Store, make_config, open_store

from lore.core.config import Config
from lore.sim.ollama import FakeOllama
from lore.store.db import connect
from lore.sync.stage_docs import run_docs_stage
from lore.sync.stage_embeddings import run_embeddings_stage
from lore.sync.types import StageResult

RUNNER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from lore.core.config import build
    from lore.store.db import connect
    from lore.sync.stage_embeddings import run_embeddings_stage

    conn = connect(Path(sys.argv[1]))
    config = build("https://gitlab.example.com", ["group/app"], extra={"embedding": {
        "provider": "ollama", "baseUrl": sys.argv[2], "model": "nomic-embed-text",
        "batchSize": 2, "chunkChars": 600}})
    result = run_embeddings_stage(conn, config, project_ids=None, full=False)
    print(result.success, result.items_updated, flush=True)
""")

BATCH_SIZE, CHUNK_CHARS = 2, 600


def _build(path: Path) -> Store:
    store = open_store(path)
    store.project(1, "group/app")
    for n in range(1, 25):
        # Every third issue is long enough to be cut into several chunks.
        body = " ".join(
            f"Finding {n}.{k}: the worker{n} stalls when queue{k} is full."
            for k in range(40 if n % 3 == 0 else 3)
        )
        store.issue(n, 1, n, f"Issue number {n} about worker{n}", body)
    assert run_docs_stage(store.conn, make_config(), project_ids=None, full=False).success
    return store


def _copy(src: sqlite3.Connection, dst: Path) -> None:
    target = sqlite3.connect(dst)
    src.backup(target)
    target.close()


def _rows(path: Path) -> list[tuple[object, ...]]:
    conn = connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute(
            "SELECT d.item_kind, d.item_id, e.chunk_index, e.model, e.dimension, e.content_hash, "
            "e.vector, e.document_hash, e.chunk_chars FROM embeddings e "
            "JOIN documents d ON d.id = e.document_id ORDER BY d.item_id, e.chunk_index"
        ).fetchall()
        return [tuple(r) for r in rows]
    finally:
        conn.close()


def _run(path: Path, config: Config) -> StageResult:
    conn = connect(path)
    try:
        return run_embeddings_stage(conn, config, project_ids=None, full=False)
    finally:
        conn.close()


def _count(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_rows", [1, 9, 20])
def test_sigkill_mid_embedding_converges_to_a_clean_run(
    tmp_path: Path, kill_after_rows: int
) -> None:
    killed_db, clean_db = tmp_path / "killed.db", tmp_path / "clean.db"
    store = _build(killed_db)
    _copy(store.conn, clean_db)
    store.conn.close()

    fake = FakeOllama.start(delay_ms=120)  # slow enough to be killed in the middle of a batch
    try:
        script = tmp_path / "runner.py"
        script.write_text(RUNNER)
        proc = subprocess.Popen(
            [sys.executable, str(script), str(killed_db), fake.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while _count(killed_db) < kill_after_rows:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the stage made no progress"
            time.sleep(0.01)
        time.sleep(0.06)  # now inside the next batch's request
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        partial = _count(killed_db)

        time.sleep(0.3)  # let the fake finish the request the dead client left in flight
        fake.delay_s = 0
        requests_before = fake.texts_embedded
        config = make_config(fake.url, batchSize=BATCH_SIZE, chunkChars=CHUNK_CHARS)
        result = _run(killed_db, config)
        assert result.success, result
        resumed_texts = fake.texts_embedded - requests_before
        clean = _run(clean_db, config)
        assert clean.success
        total = clean.details["chunks_embedded"]
        assert 0 < partial < total, "the kill should land mid-run"
        # Committed batches were kept: the resumed run embedded only what was missing.
        assert resumed_texts == total - partial
    finally:
        fake.stop()

    assert _rows(killed_db) == _rows(clean_db)
    # And a further run has nothing left to do.
    again = _run(
        killed_db, make_config("http://127.0.0.1:9", batchSize=BATCH_SIZE, chunkChars=CHUNK_CHARS)
    )
    assert again.success and again.details["documents_checked"] == 0
