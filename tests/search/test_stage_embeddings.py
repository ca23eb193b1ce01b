"""The embeddings stage against a fake Ollama on loopback: dedup by chunk hash, model
changes, provider failures, chunking of long documents."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from searchkit import Store, make_config, seed_corpus

from lore.embed.chunking import chunk_hash, chunk_text, document_text
from lore.embed.generation import GENERATION_KEY
from lore.embed.ollama import OllamaProvider
from lore.sim.ollama import FakeOllama, fake_embedding
from lore.sync.stage_docs import run_docs_stage
from lore.sync.stage_embeddings import run_embeddings_stage


def _docs(store: Store, full: bool = False) -> None:
    assert run_docs_stage(store.conn, make_config(), project_ids=None, full=full).success


def _embed(store: Store, url: str, full: bool = False, **embedding: object):
    return run_embeddings_stage(
        store.conn, make_config(url, **embedding), project_ids=None, full=full
    )


def test_embeds_every_document_with_model_dimension_and_normalised_vectors(
    store: Store, ollama: FakeOllama
) -> None:
    seed_corpus(store)
    _docs(store)
    result = _embed(store, ollama.url)
    assert result.success and result.stage == "embeddings"
    assert result.items_updated == 5
    assert result.details["model"] == "nomic-embed-text"
    assert result.details["dimension"] == 256
    assert result.details["chunks_embedded"] == 5
    assert ollama.requests == 1  # five short documents fit in one batch of 32
    rows = store.conn.execute(
        "SELECT e.*, d.title, d.body FROM embeddings e JOIN documents d ON d.id = e.document_id"
    ).fetchall()
    assert len(rows) == 5
    for row in rows:
        assert row["model"] == "nomic-embed-text" and row["dimension"] == 256
        assert row["chunk_index"] == 0
        text = document_text(row["title"], row["body"])
        assert row["content_hash"] == chunk_hash(text)
        vector = np.frombuffer(row["vector"], dtype="<f4")
        assert vector.shape == (256,)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        # What the fake returns for the text with nomic's document prefix, as float32.
        expected = np.asarray(fake_embedding("search_document: " + text, 256), dtype=np.float32)
        assert np.allclose(vector, expected, atol=1e-6)
    assert (
        store.conn.execute("SELECT value FROM kv WHERE key = ?", (GENERATION_KEY,)).fetchone()[0]
        == "1"
    )


def test_unchanged_documents_are_not_embedded_again(store: Store, ollama: FakeOllama) -> None:
    seed_corpus(store)
    _docs(store)
    _embed(store, ollama.url)
    before = store.embeddings()
    requests = ollama.requests
    again = _embed(store, ollama.url)
    assert again.success and again.items_updated == 0
    assert again.details["documents_checked"] == 0
    assert ollama.requests == requests
    assert store.embeddings() == before
    # --full re-checks every document, but unchanged chunks still cost no request.
    full = _embed(store, ollama.url, full=True)
    assert full.success and full.details["documents_checked"] == 5
    assert full.details["chunks_embedded"] == 0
    assert ollama.requests == requests
    assert store.embeddings() == before


def test_only_the_changed_document_is_embedded_again(store: Store, ollama: FakeOllama) -> None:
    seed_corpus(store)
    _docs(store)
    _embed(store, ollama.url)
    before = {(r[0], r[1]): r for r in store.embeddings()}
    ollama.reset_counters()
    store.update(
        "issue", 102, updated_at="2024-06-03T00:00:00.000Z", title="Dark mode for the editor"
    )
    _docs(store)
    result = _embed(store, ollama.url)
    assert result.items_updated == 1 and result.details["chunks_embedded"] == 1
    assert ollama.requests == 1 and ollama.texts_embedded == 1
    after = {(r[0], r[1]): r for r in store.embeddings()}
    assert after[("issue", 102)] != before[("issue", 102)]
    assert {k: v for k, v in after.items() if k != ("issue", 102)} == {
        k: v for k, v in before.items() if k != ("issue", 102)
    }


def test_a_document_rendered_again_with_the_same_text_costs_nothing(
    store: Store, ollama: FakeOllama
) -> None:
    seed_corpus(store)
    _docs(store)
    _embed(store, ollama.url)
    before = store.embeddings()
    ollama.reset_counters()
    store.update(
        "issue", 101, updated_at="2024-05-10T00:00:00.000Z", synced_at="2030-01-01T00:00:00.000Z"
    )
    _docs(store)  # re-renders 101 (same text, same content hash)
    result = _embed(store, ollama.url)
    assert result.success and result.details["documents_checked"] == 0
    assert ollama.requests == 0
    assert store.embeddings() == before


def test_rows_without_a_source_are_checked_once_without_requests(
    store: Store, ollama: FakeOllama
) -> None:
    seed_corpus(store)
    _docs(store)
    _embed(store, ollama.url)
    before = store.embeddings()
    store.conn.execute(
        "UPDATE embeddings SET document_hash = NULL, chunk_chars = NULL"
    )  # pre-m004 rows
    ollama.reset_counters()
    result = _embed(store, ollama.url)
    assert result.details["documents_checked"] == 5 and result.items_updated == 0
    assert ollama.requests == 0 and store.embeddings() == before
    assert _embed(store, ollama.url).details["documents_checked"] == 0


def test_a_new_chunk_size_rechunks_and_reuses_what_it_can(store: Store, ollama: FakeOllama) -> None:
    store.project(1, "group/app")
    store.issue(1, 1, 1, "Long", "\n\n".join(f"Paragraph {i}. " + "word " * 150 for i in range(8)))
    store.issue(2, 1, 2, "Short", "tiny")
    _docs(store)
    _embed(store, ollama.url, chunkChars=2000)
    ollama.reset_counters()
    result = _embed(store, ollama.url, chunkChars=1000)
    assert result.details["documents_checked"] == 2
    assert result.items_updated == 1  # the short one is one chunk either way
    assert result.details["chunks_embedded"] == ollama.texts_embedded > 0
    chunk_sizes = {r[0] for r in store.conn.execute("SELECT chunk_chars FROM embeddings")}
    assert chunk_sizes == {1000}


def test_model_change_reembeds_everything(store: Store, ollama: FakeOllama) -> None:
    seed_corpus(store)
    _docs(store)
    _embed(store, ollama.url)
    other = FakeOllama.start(dim=384, model="mxbai-embed-large")
    try:
        result = _embed(store, other.url, model="mxbai-embed-large")
        assert result.success and result.items_updated == 5
        assert other.texts_embedded == 5
        models = store.conn.execute("SELECT DISTINCT model, dimension FROM embeddings").fetchall()
        assert [tuple(m) for m in models] == [("mxbai-embed-large", 384)]
        # No nomic prefix for this model: the vector is of the bare text.
        row = store.conn.execute(
            "SELECT e.vector, d.title, d.body FROM embeddings e "
            "JOIN documents d ON d.id = e.document_id LIMIT 1"
        ).fetchone()
        expected = np.asarray(fake_embedding(document_text(row[1], row[2]), 384), dtype=np.float32)
        assert np.allclose(np.frombuffer(row[0], dtype="<f4"), expected, atol=1e-6)
    finally:
        other.stop()


def test_provider_down_fails_only_the_embeddings_stage(store: Store, ollama: FakeOllama) -> None:
    seed_corpus(store)
    _docs(store)
    docs_before = store.documents()
    url = ollama.url
    ollama.stop()  # connection refused
    result = _embed(store, url)
    assert not result.success
    assert result.error_code == "EMBEDDING_UNAVAILABLE"
    assert "cannot connect to Ollama" in (result.error or "")
    assert "ollama serve" in result.details["suggestion"]
    assert store.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 0
    assert store.documents() == docs_before
    # The docs stage still works and has nothing to do.
    assert (
        run_docs_stage(store.conn, make_config(), project_ids=None, full=False).items_updated == 0
    )


@pytest.mark.parametrize(
    "mode, expect",
    [
        ("500", "HTTP 500"),
        ("down", "did not answer"),
        ("unknown-model", "does not have the model 'nomic-embed-text'"),
    ],
)
def test_provider_failures_map_to_embedding_unavailable(
    store: Store, mode: str, expect: str
) -> None:
    seed_corpus(store)
    _docs(store)
    fake = FakeOllama.start(failure=mode)
    try:
        result = _embed(store, fake.url)
    finally:
        fake.stop()
    assert not result.success and result.error_code == "EMBEDDING_UNAVAILABLE"
    assert expect in (result.error or "")
    if mode == "unknown-model":
        assert "ollama pull nomic-embed-text" in result.details["suggestion"]
    else:
        assert fake.requests == 3  # one try and two retries


def test_a_wrong_model_name_is_named_in_the_error(store: Store, ollama: FakeOllama) -> None:
    seed_corpus(store)
    _docs(store)
    result = _embed(store, ollama.url, model="no-such-model")
    assert result.error_code == "EMBEDDING_UNAVAILABLE"
    assert "'no-such-model'" in (result.error or "")
    assert "ollama pull no-such-model" in result.details["suggestion"]


def test_provider_none_skips_the_stage(store: Store) -> None:
    seed_corpus(store)
    _docs(store)
    result = run_embeddings_stage(
        store.conn, make_config(provider="none"), project_ids=None, full=False
    )
    assert result.success and result.skipped


def test_batches_are_committed_as_they_go(store: Store, ollama: FakeOllama) -> None:
    seed_corpus(store)
    _docs(store)
    result = _embed(store, ollama.url, batchSize=2)
    assert result.success and result.items_updated == 5
    assert ollama.requests == 3  # 2 + 2 + 1
    generation = store.conn.execute(
        "SELECT value FROM kv WHERE key = ?", (GENERATION_KEY,)
    ).fetchone()[0]
    assert generation == "3"  # one transaction per batch


def test_long_documents_are_chunked_and_appended_text_reuses_earlier_chunks(
    store: Store, ollama: FakeOllama
) -> None:
    store.project(1, "group/app")
    paragraphs = [
        f"Paragraph {i} talks about subsystem{i} and its failure mode number {i}. " * 6
        for i in range(12)
    ]
    store.issue(1, 1, 1, "A very long investigation", "\n\n".join(paragraphs))
    _docs(store)
    result = _embed(store, ollama.url, chunkChars=1000)
    chunks = store.embeddings()
    assert len(chunks) > 4
    assert result.details["chunks_embedded"] == len(chunks)
    assert [c[2] for c in chunks] == list(range(len(chunks)))
    doc = store.conn.execute("SELECT title, body FROM documents").fetchone()
    expected = chunk_text(document_text(doc[0], doc[1]), 1000)
    assert [c[5] for c in chunks] == [chunk_hash(t) for t in expected]

    # A new note appended at the end: only the tail is embedded again.
    ollama.reset_counters()
    store.note("issue", 1, "A late comment that adds one more finding. " * 3)
    store.update("issue", 1, updated_at="2024-06-01T00:00:00.000Z")
    _docs(store)
    result = _embed(store, ollama.url, chunkChars=1000)
    after = store.embeddings()
    assert result.details["chunks_reused"] >= len(chunks) - 1
    assert ollama.texts_embedded == len(after) - result.details["chunks_reused"] <= 2
    assert after[: len(chunks) - 1] == chunks[: len(chunks) - 1]


def test_chunker_respects_the_size_and_overlaps() -> None:
    text = "\n\n".join(
        " ".join(f"Sentence {p}.{s} is about topic{p}." for s in range(20)) for p in range(6)
    )
    chunks = chunk_text(text, 400)
    assert len(chunks) > 5
    assert all(len(c) <= 400 for c in chunks)
    # Every chunk after the first starts with the end of the previous one.
    for prev, cur in itertools.pairwise(chunks):
        head = cur.split(" ")[0:3]
        assert " ".join(head) in prev
    # Nothing is lost: every sentence appears in some chunk.
    for p in range(6):
        for s in range(20):
            assert any(
                f"Sentence {p}.{s} " in c or c.endswith(f"Sentence {p}.{s} is about topic{p}.")
                for c in chunks
            )
    assert chunk_text("short", 400) == ["short"]
    assert chunk_text("   ", 400) == []
    blob = "x" * 2500  # no whitespace at all: hard cuts
    assert all(len(c) <= 1000 for c in chunk_text(blob, 1000))
    assert "".join(chunk_text(blob, 1000, overlap_chars=0)) == blob


def test_ollama_provider_batches_requests(ollama: FakeOllama) -> None:
    with OllamaProvider(ollama.url, "nomic-embed-text", batch_size=3) as provider:
        vectors = provider.embed([f"text {i}" for i in range(7)])
    assert len(vectors) == 7 and ollama.requests == 3
    assert provider.dimension == 256
    assert vectors[4] == pytest.approx(fake_embedding("text 4", 256))
