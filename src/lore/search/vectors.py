"""Cosine search over stored vectors: one float32 matrix, one matrix-vector product per
query, the best chunk per document (vectors are stored L2-normalised, so the dot
product is the cosine).

Imports numpy: only semantic and hybrid search import this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from lore.core.errors import ErrorCode, LoreError

if TYPE_CHECKING:
    from lore.search.ann import AnnIndex

log = logging.getLogger("lore.search")

#: Below this many vectors, reading them from SQLite is fast enough (tens of ms).
CACHE_MIN_ROWS = 10_000
CACHE_VERSION = 1


@dataclass(frozen=True)
class VectorHit:
    document_id: int
    score: float  # cosine similarity of the best chunk
    chunk_index: int


class VectorIndex:
    """Every stored chunk vector of one model, grouped by document."""

    def __init__(
        self,
        model: str,
        matrix: npt.NDArray[np.float32],
        row_docs: npt.NDArray[np.int64],
        row_chunks: npt.NDArray[np.int64],
    ) -> None:
        self.model = model
        self.matrix = matrix
        self.row_chunks = row_chunks
        # Rows are sorted by document: group boundaries let reduceat take the max per document.
        if len(row_docs):
            change = np.flatnonzero(np.diff(row_docs)) + 1
            self.starts = np.concatenate(([0], change)).astype(np.int64)
        else:
            self.starts = np.zeros(0, dtype=np.int64)
        self.doc_ids = row_docs[self.starts] if len(row_docs) else np.zeros(0, dtype=np.int64)
        self.ends = np.append(self.starts[1:], len(row_docs)).astype(np.int64)

    @property
    def dimension(self) -> int:
        return int(self.matrix.shape[1]) if self.matrix.ndim == 2 else 0

    @property
    def documents(self) -> int:
        return len(self.doc_ids)

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def rescore(
        self, query: Sequence[float] | npt.NDArray[np.float32], hits: list[VectorHit]
    ) -> list[VectorHit]:
        """``hits`` as they are: their scores are already exact."""
        return hits

    @classmethod
    def load(cls, conn: sqlite3.Connection, model: str) -> VectorIndex:
        """Read every vector of ``model`` from the store (vectors of a minority dimension,
        left over from a model swapped under the same name, are ignored)."""
        rows = conn.execute(
            "SELECT document_id, chunk_index, vector FROM embeddings WHERE model = ?", (model,)
        ).fetchall()
        if not rows:
            return cls(
                model,
                np.zeros((0, 0), dtype=np.float32),
                np.zeros(0, dtype=np.int64),
                np.zeros(0, dtype=np.int64),
            )
        lengths = Counter(len(r[2]) for r in rows)
        width = lengths.most_common(1)[0][0]
        if len(lengths) > 1:
            rows = [r for r in rows if len(r[2]) == width]
        docs = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        chunks = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(
            len(rows), width // 4
        )
        if (len(docs) > 1 and not bool(np.all(np.diff(docs) >= 0))) or _unsorted_chunks(
            docs, chunks
        ):
            order = np.lexsort((chunks, docs))
            docs, chunks, matrix = docs[order], chunks[order], matrix[order]
        return cls(model, np.ascontiguousarray(matrix, dtype=np.float32), docs, chunks)

    def top(
        self,
        query: Sequence[float] | npt.NDArray[np.float32],
        k: int,
        allowed: Collection[int] | None = None,
        *,
        rescore: bool = True,
    ) -> list[VectorHit]:
        """The ``k`` documents closest to ``query``, optionally only among ``allowed`` ids
        (scores are exact: ``rescore`` is for the approximate index's interface)."""
        if k <= 0 or self.documents == 0:
            return []
        q = np.asarray(query, dtype=np.float32)
        if q.shape[0] != self.dimension:
            raise LoreError(
                ErrorCode.EMBEDDING_UNAVAILABLE,
                f"the model {self.model!r} now returns {q.shape[0]}-dimensional vectors but the "
                f"stored ones have {self.dimension}",
                suggestion="Re-embed with `lore sync --full`",
                actions=["lore sync --full"],
            )
        norm = float(np.linalg.norm(q))
        if norm > 0:
            q = q / norm
        scores = self.matrix @ q
        doc_scores = np.maximum.reduceat(scores, self.starts)
        if allowed is not None:
            wanted = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
            doc_scores = np.where(np.isin(self.doc_ids, wanted), doc_scores, -np.inf)
        k = min(k, len(doc_scores))
        picked = np.argpartition(-doc_scores, k - 1)[:k]
        picked = picked[np.argsort(-doc_scores[picked], kind="stable")]
        hits: list[VectorHit] = []
        for g in picked:
            score = float(doc_scores[g])
            if score == -np.inf:
                break
            start, end = int(self.starts[g]), int(self.ends[g])
            best = start + int(np.argmax(scores[start:end]))
            hits.append(VectorHit(int(self.doc_ids[g]), score, int(self.row_chunks[best])))
        return hits


def _unsorted_chunks(docs: npt.NDArray[np.int64], chunks: npt.NDArray[np.int64]) -> bool:
    if len(docs) < 2:
        return False
    same = docs[1:] == docs[:-1]
    return bool(np.any(same & (chunks[1:] < chunks[:-1])))


# -- a memory-mapped copy for cold processes ----------------------------------------------
#
# A one-shot `lore search` would otherwise read every vector out of SQLite on each call
# (about a second for 100k documents). The cache is a raw float32 matrix plus the row
# ids, memory-mapped (the OS page cache keeps it warm between calls), described by a
# small JSON file naming the fingerprint of the table it was built from. Any change to
# the embeddings changes the fingerprint and the cache is rebuilt on the next search.


def _cache_paths(cache_dir: Path, model: str) -> tuple[Path, str]:
    key = hashlib.sha1(model.encode("utf-8")).hexdigest()[:12]
    return cache_dir / f"vectors-{key}.json", f"vectors-{key}"


def load_index(
    conn: sqlite3.Connection, model: str, cache_dir: Path | None = None
) -> VectorIndex | AnnIndex:
    """The vector index of ``model``: the approximate (HNSW) index beside the database when
    the store is large enough to have one and it is current (:mod:`lore.search.ann`), else
    every vector, through the memory-mapped cache in ``cache_dir`` when given (built or
    refreshed there when missing or stale). Never fails because of the index or the cache:
    any problem with them falls back to reading SQLite."""
    from lore.embed.generation import vectors_fingerprint
    from lore.search.annfiles import min_vectors

    fingerprint = [*vectors_fingerprint(conn)]
    if fingerprint[1] >= max(1, min_vectors()):
        from lore.search.ann import open_index

        ann = open_index(conn, model, fingerprint)
        if ann is not None:
            return ann
    if cache_dir is None:
        return VectorIndex.load(conn, model)
    meta_path, stem = _cache_paths(cache_dir, model)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (
            meta.get("version") == CACHE_VERSION
            and meta.get("model") == model
            and meta.get("fingerprint") == fingerprint
        ):
            rows, dim = int(meta["rows"]), int(meta["dim"])
            matrix = np.memmap(cache_dir / meta["matrix"], dtype="<f4", mode="r", shape=(rows, dim))
            ids = np.memmap(cache_dir / meta["ids"], dtype="<i8", mode="r", shape=(2, rows))
            return VectorIndex(model, matrix, np.asarray(ids[0]), np.asarray(ids[1]))
    index = VectorIndex.load(conn, model)
    if len(index) >= CACHE_MIN_ROWS:
        try:
            _write_cache(cache_dir, meta_path, stem, index, fingerprint)
        except OSError as exc:  # a read-only or full disk: search still works
            log.info("vector cache not written: %s", exc)
    return index


def _write_cache(
    cache_dir: Path, meta_path: Path, stem: str, index: VectorIndex, fingerprint: list[int]
) -> None:
    from lore.core.atomic import write_json_atomic

    cache_dir.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha1(json.dumps(fingerprint).encode()).hexdigest()[:10]
    names = {"matrix": f"{stem}-{tag}.f32", "ids": f"{stem}-{tag}.ids"}
    row_docs = np.repeat(index.doc_ids, index.ends - index.starts)
    payloads = {
        "matrix": np.ascontiguousarray(index.matrix, dtype="<f4"),
        "ids": np.ascontiguousarray(np.stack([row_docs, index.row_chunks]), dtype="<i8"),
    }
    for kind, name in names.items():
        tmp = cache_dir / f".{name}.{os.getpid()}.tmp"
        payloads[kind].tofile(tmp)
        os.replace(tmp, cache_dir / name)
    # The description goes last: a reader sees the old cache or the complete new one.
    write_json_atomic(
        meta_path,
        {
            "version": CACHE_VERSION,
            "model": index.model,
            "fingerprint": fingerprint,
            "rows": len(index),
            "dim": index.dimension,
            **names,
        },
        mode=0o644,
    )
    for old in cache_dir.glob(f"{stem}-*"):
        if old.name not in names.values():
            with contextlib.suppress(OSError):
                old.unlink()
