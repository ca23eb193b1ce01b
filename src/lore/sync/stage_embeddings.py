"""The ``embeddings`` stage: embed the documents that changed, chunk by chunk.

Decided from the database alone (idempotent, safe to kill): every stored chunk records
the model, the document's content hash and the chunk size it was cut with, so a
document needs work exactly when its chunk 0 is missing or disagrees on any of the
three (no clocks compared). For such a document the text is chunked again and each
chunk's content hash compared with the stored ones; only chunks whose text is new are
sent to the provider, the rest reuse their stored vector (also when a chunk moved to
another position). Vectors are
written per group of about ``batch_size`` new chunks, in one transaction each, so a
SIGKILL loses at most the group in flight and the next run converges.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lore.core.clock import iso_from_ms
from lore.core.config import Config
from lore.core.errors import as_lore_error
from lore.embed.generation import bump_generation, vectors_fingerprint
from lore.embed.provider import EmbeddingProvider, document_prefix, make_provider
from lore.store.db import transaction
from lore.sync.types import StageResult


@dataclass
class _DocPlan:
    document_id: int
    content_hash: str
    chunk_hashes: list[str]
    chunk_texts: dict[str, str]  # chunk hash -> chunk text
    reuse: dict[str, bytes]  # chunk hash -> stored vector, for chunks whose text is unchanged
    reuse_dims: dict[str, int]
    touch_only: bool  # stored chunks already equal the wanted ones: only mark as checked


@dataclass
class _Group:
    docs: list[_DocPlan] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # chunk hash -> text to embed

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class _Counters:
    documents_checked: int = 0
    documents_updated: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    changed: set[int] = field(default_factory=set)  # documents whose vectors were rewritten


def _now_iso() -> str:
    return iso_from_ms(time.time_ns() // 1_000_000)


def _candidates(
    conn: sqlite3.Connection,
    model: str,
    chunk_chars: int,
    project_ids: list[int] | None,
    full: bool,
) -> list[int]:
    where = ""
    params: list[Any] = [int(full), model, chunk_chars]
    if project_ids is not None:
        where = (
            f" AND d.project_id IN ({','.join('?' * len(project_ids))})"
            if project_ids
            else " AND 0"
        )
        params.extend(project_ids)
    # A document's rows are always written together, so chunk 0 speaks for all of them.
    sql = (
        "SELECT d.id FROM documents d WHERE (? OR NOT EXISTS (SELECT 1 FROM embeddings e "
        "WHERE e.document_id = d.id AND e.chunk_index = 0 AND e.model = ? "
        "AND e.document_hash = d.content_hash AND e.chunk_chars = ?))" + where + " ORDER BY d.id"
    )
    return [int(r[0]) for r in conn.execute(sql, params)]


def _plan(
    conn: sqlite3.Connection, document_id: int, model: str, chunk_chars: int
) -> _DocPlan | None:
    from lore.embed.chunking import chunk_hash, chunk_text, document_text

    row = conn.execute(
        "SELECT title, body, content_hash FROM documents WHERE id = ?", (document_id,)
    ).fetchone()
    if row is None:
        return None
    chunks = chunk_text(document_text(row[0], row[1]), chunk_chars) or [str(row[0])]
    hashes = [chunk_hash(c) for c in chunks]
    stored = conn.execute(
        "SELECT chunk_index, model, dimension, content_hash, vector FROM embeddings "
        "WHERE document_id = ? ORDER BY chunk_index",
        (document_id,),
    ).fetchall()
    reuse: dict[str, bytes] = {}
    dims: dict[str, int] = {}
    for s in stored:
        if s[1] == model:
            reuse.setdefault(str(s[3]), bytes(s[4]))
            dims.setdefault(str(s[3]), int(s[2]))
    touch_only = len(stored) == len(hashes) and all(
        s[1] == model and int(s[0]) == i and s[3] == h
        for i, (s, h) in enumerate(zip(stored, hashes, strict=True))
    )
    return _DocPlan(
        document_id,
        str(row[2]),
        hashes,
        dict(zip(hashes, chunks, strict=True)),
        reuse,
        dims,
        touch_only,
    )


def _flush(
    conn: sqlite3.Connection,
    provider: EmbeddingProvider,
    group: _Group,
    chunk_chars: int,
    counters: _Counters,
) -> None:
    """Embed the group's new chunks, then write every planned document in one transaction."""
    prefix = document_prefix(provider.model)
    new_vectors: dict[str, bytes] = {}
    if group.texts:
        from lore.embed.vectors import pack

        hashes = list(group.texts)
        vectors = provider.embed([prefix + group.texts[h] for h in hashes])
        new_vectors = {h: pack(v) for h, v in zip(hashes, vectors, strict=True)}
        counters.chunks_embedded += len(hashes)
    dimension = provider.dimension
    # A stored vector of another length (the model was swapped under the same name)
    # cannot be mixed with fresh ones: embed those chunks again.
    stale = {
        h: plan.chunk_texts[h]
        for plan in group.docs
        if not plan.touch_only
        for h in plan.chunk_hashes
        if h not in new_vectors and dimension is not None and plan.reuse_dims.get(h) != dimension
    }
    if stale:
        from lore.embed.vectors import pack

        hashes = list(stale)
        vectors = provider.embed([prefix + stale[h] for h in hashes])
        new_vectors.update({h: pack(v) for h, v in zip(hashes, vectors, strict=True)})
        counters.chunks_embedded += len(hashes)

    with transaction(conn):
        now = _now_iso()
        for plan in group.docs:
            current = conn.execute(
                "SELECT content_hash FROM documents WHERE id = ?", (plan.document_id,)
            ).fetchone()
            if current is None or current[0] != plan.content_hash:
                continue  # changed or removed since planning: the next run handles it
            if plan.touch_only:
                # Same chunks, same vectors: only record which rendering they belong to.
                conn.execute(
                    "UPDATE embeddings SET document_hash = ?, chunk_chars = ? "
                    "WHERE document_id = ?",
                    (plan.content_hash, chunk_chars, plan.document_id),
                )
                continue
            rows = []
            for index, digest in enumerate(plan.chunk_hashes):
                blob = new_vectors.get(digest)
                if blob is None:
                    blob = plan.reuse[digest]
                    counters.chunks_reused += 1
                rows.append(
                    (
                        plan.document_id,
                        index,
                        provider.model,
                        len(blob) // 4,
                        digest,
                        blob,
                        now,
                        plan.content_hash,
                        chunk_chars,
                    )
                )
            conn.execute("DELETE FROM embeddings WHERE document_id = ?", (plan.document_id,))
            counters.changed.add(plan.document_id)
            conn.executemany(
                "INSERT INTO embeddings(document_id, chunk_index, model, dimension, content_hash, "
                "vector, embedded_at, document_hash, chunk_chars) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            counters.documents_updated += 1
        bump_generation(conn)


def _refresh_ann(
    conn: sqlite3.Connection, model: str, changed: set[int], before: list[int]
) -> dict[str, Any] | None:
    """Bring the approximate-search index beside the database up to date (only for large
    stores; see :mod:`lore.search.ann`). Also after a failed stage: what was committed is
    indexed. A problem here never fails the stage: search falls back to exact."""
    from lore.search.annfiles import needs_refresh

    try:
        if not needs_refresh(conn, model, list(vectors_fingerprint(conn))):
            return None
        from lore.search.ann import refresh

        return refresh(conn, model, changed_documents=changed, fingerprint_before=before)
    except (sqlite3.Error, OSError, ValueError, RuntimeError) as exc:
        return {"ann": "failed", "reason": str(exc)}


def run_embeddings_stage(
    conn: sqlite3.Connection,
    config: Config,
    *,
    project_ids: list[int] | None,
    full: bool,
    progress: Callable[[int, int], None] | None = None,
    provider: EmbeddingProvider | None = None,
) -> StageResult:
    """Embed every document whose vectors are missing, stale or of another model.

    ``provider`` overrides the configured one (tests). With ``provider: "none"`` in the
    config the stage is skipped successfully. Never raises for ordinary failures: an
    unreachable or refusing provider comes back as EMBEDDING_UNAVAILABLE."""
    result = StageResult(stage="embeddings", success=True)
    owned = provider is None
    if provider is None:
        provider = make_provider(config.embedding)
        if provider is None:
            return StageResult(
                stage="embeddings",
                success=True,
                skipped=True,
                details={"reason": 'embedding.provider is "none"'},
            )
    counters = _Counters()
    batch_size = max(1, config.embedding.batch_size)
    fingerprint_before = list(vectors_fingerprint(conn))
    try:
        if full:
            with transaction(conn):
                conn.execute(
                    "DELETE FROM embeddings WHERE document_id NOT IN (SELECT id FROM documents)"
                )
        work = _candidates(conn, provider.model, config.embedding.chunk_chars, project_ids, full)
        total = len(work)
        if progress is not None:
            progress(0, total)
        group = _Group()
        done_before_group = 0
        for position, document_id in enumerate(work, start=1):
            plan = _plan(conn, document_id, provider.model, config.embedding.chunk_chars)
            counters.documents_checked += 1
            if plan is not None:
                group.docs.append(plan)
                for digest in plan.chunk_hashes:
                    if digest not in plan.reuse and digest not in group.texts:
                        group.texts[digest] = plan.chunk_texts[digest]
            # Flush on a full batch of new text, or on many cheap documents (bounded memory).
            if len(group) >= batch_size or len(group.docs) >= 500:
                _flush(conn, provider, group, config.embedding.chunk_chars, counters)
                group = _Group()
                done_before_group = position
                if progress is not None:
                    progress(done_before_group, total)
        if group.docs:
            _flush(conn, provider, group, config.embedding.chunk_chars, counters)
        if progress is not None:
            progress(total, total)
    except Exception as exc:  # the stage reports, it never raises
        err = as_lore_error(exc, "embeddings stage")
        result.success = False
        result.error = err.message
        result.error_code = err.code.value
        if err.suggestion:
            result.details["suggestion"] = err.suggestion
    finally:
        if owned:
            close = getattr(provider, "close", None)
            if callable(close):
                close()
    ann = _refresh_ann(conn, provider.model, counters.changed, fingerprint_before)
    if ann is not None:
        result.details["ann"] = ann
    result.items_updated = counters.documents_updated
    result.details.update(
        {
            "model": provider.model,
            "dimension": provider.dimension,
            "documents_checked": counters.documents_checked,
            "chunks_embedded": counters.chunks_embedded,
            "chunks_reused": counters.chunks_reused,
        }
    )
    requests = getattr(provider, "requests", None)
    if isinstance(requests, int):
        result.details["requests"] = requests
    return result
