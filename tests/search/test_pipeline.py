"""The docs and embeddings stages inside the real pipeline, against the GitLab simulator
and the fake Ollama: a first sync indexes everything, a no-op sync does no rendering and
no embedding, an upstream edit costs one document, a dead provider only degrades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lore.core.config import build
from lore.embed.chunking import chunk_text, document_text
from lore.search.engine import search
from lore.sim.ollama import FakeOllama, fake_embedding
from lore.store.db import connect
from lore.sync.pipeline import run_pipeline
from lore.sync.types import SyncOptions

TOKEN_VAR = "LORE_TEST_SEARCH_TOKEN"


def _stage(report: Any, name: str) -> Any:
    return next(s for s in report.stages if s.stage == name)


@pytest.mark.slow
def test_sync_indexes_then_touches_only_what_changed(
    sim: Any, ollama: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_VAR, sim.token)
    config = build(
        sim.url,
        [p.path for p in sim.dataset.projects],
        TOKEN_VAR,
        extra={
            "embedding": {"provider": "ollama", "baseUrl": ollama.url, "model": "nomic-embed-text"}
        },
    )
    data_dir = tmp_path / "data"
    # Time passes as on a live GitLab: no item was updated within the minute before the
    # sync reads it, so none is read again for a note GitLab's throttle may have hidden.
    sim.admin.set_clock(advance_seconds=120)

    first = run_pipeline(config, data_dir, SyncOptions())
    assert first.outcome == "success", first.to_dict()
    conn = connect(data_dir / "lore.db")
    items = conn.execute(
        "SELECT (SELECT COUNT(*) FROM issues) + (SELECT COUNT(*) FROM merge_requests)"
    ).fetchone()[0]
    assert _stage(first, "docs").items_updated == items > 0
    assert _stage(first, "embeddings").items_updated == items
    chunks = conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert ollama.texts_embedded == chunks >= items

    # A sync with nothing new upstream renders nothing and asks the provider nothing.
    ollama.reset_counters()
    again = run_pipeline(config, data_dir, SyncOptions())
    assert again.outcome == "success"
    assert _stage(again, "docs").items_updated == 0
    assert _stage(again, "docs").details["checked"] == 0
    assert _stage(again, "embeddings").details["documents_checked"] == 0
    assert ollama.requests == 0

    # One upstream edit: one document rendered again, its text embedded again, findable.
    project, iid = conn.execute(
        "SELECT p.path, i.iid FROM issues i JOIN projects p "
        "ON p.id = i.project_id ORDER BY i.id LIMIT 1"
    ).fetchone()
    sim.admin.edit_issue(project, iid, description="Quarterly zeppelin maintenance checklist.")
    edited = run_pipeline(config, data_dir, SyncOptions())
    assert edited.outcome == "success"
    assert _stage(edited, "docs").items_updated == 1
    assert _stage(edited, "embeddings").items_updated == 1
    assert ollama.texts_embedded >= 1
    hits = search(conn, "zeppelin", embedding=config.embedding, mode="lexical").hits
    assert [h.ref for h in hits] == [f"{project}#{iid}"]
    # The stored first chunk is the vector of the new text.
    title, body, vector = conn.execute(
        "SELECT d.title, d.body, e.vector FROM documents d JOIN embeddings e ON e.document_id = d.id "
        "JOIN issues i ON d.item_kind = 'issue' AND i.id = d.item_id JOIN projects p "
        "ON p.id = i.project_id WHERE p.path = ? AND i.iid = ? AND e.chunk_index = 0",
        (project, iid),
    ).fetchone()
    first_chunk = chunk_text(document_text(title, body), config.embedding.chunk_chars)[0]
    assert first_chunk.startswith(f"{title}\n\nQuarterly zeppelin maintenance checklist.")
    assert np.allclose(
        np.frombuffer(vector, dtype="<f4"),
        fake_embedding("search_document: " + first_chunk, 256),
        atol=1e-6,
    )
    hybrid = search(conn, "zeppelin maintenance checklist", embedding=config.embedding).hits
    mine = next(h for h in hybrid if h.ref == f"{project}#{iid}")
    assert mine.matched.by == ["lexical", "semantic"] and mine.matched.lexical_rank == 1

    # The provider goes away: only the optional stage fails, and the run is degraded.
    sim.admin.edit_issue(project, iid, description="Zeppelin checklist, second edition.")
    ollama.set_failure("unknown-model")
    degraded = run_pipeline(config, data_dir, SyncOptions())
    assert degraded.outcome == "degraded"
    assert _stage(degraded, "docs").success and _stage(degraded, "docs").items_updated == 1
    failed = _stage(degraded, "embeddings")
    assert not failed.success and failed.error_code == "EMBEDDING_UNAVAILABLE"
    assert "nomic-embed-text" in failed.error
    # Once it is back, the next sync catches up.
    ollama.set_failure(None)
    recovered = run_pipeline(config, data_dir, SyncOptions())
    assert _stage(recovered, "embeddings").items_updated == 1
    conn.close()
