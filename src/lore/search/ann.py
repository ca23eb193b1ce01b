"""An approximate nearest-neighbour (HNSW, usearch) index of the stored vectors, for large
stores, kept beside the database.

Why: exact cosine search is one matrix-vector product over every stored chunk; that is
fast below ~50k chunks (a few ms) and linear above (~17 ms at 120k chunks, ~65 ms at 1M
idle, 150+ ms under load). An HNSW graph answers in a few milliseconds at 1M chunks
(``bench/search.py --ann-only --ann-chunks 1000000`` measures it against exact search,
with recall@10). HNSW's recall depends on the data: it needs distances that guide the
greedy walk. On vectors of low intrinsic dimension (what text embeddings are) it reaches
0.99+; on isolated noisy clusters (``--ann-data topics``: flat distances between topics)
it saturates near 0.94 at 300k chunks and falls to ~0.6-0.8 at 1M whatever ef.

Layout, in the database's directory (``lore.db`` → ``lore.db.ann-<model key>…``):

- ``<stem>-<tag>.usearch``: the usearch index (cosine metric, vectors stored as float16:
  half the size of float32, and recall measured at 0.99+; int8 caps recall near 0.88);
- ``<stem>-<tag>.keys``: int64 pairs (key, chunk hash) sorted by key, so the index can be
  compared with the table without reading any vector;
- ``<stem>.json``: the description (model, dimension, the files, and the fingerprint of
  ``embeddings`` the index was built from). It is written last with an atomic rename, and
  the data files are new names each time: a reader sees the old index or the complete new
  one, and a kill -9 at any point leaves at worst orphan files (deleted by the next write).

A key is ``document_id << 20 | chunk_index``, so a hit names its document without a
lookup. Searches use the index only while its fingerprint equals the table's (see
:func:`lore.embed.generation.vectors_fingerprint`); otherwise they fall back to exact
search, which is always correct. The embeddings stage refreshes the index after it
writes (:func:`refresh`): it applies only the documents it changed when the index matched
the table before the stage, and otherwise reconciles by comparing (key, chunk hash) pairs
with the table, so a killed stage or vectors deleted elsewhere converge on the next run.

Stores below :data:`lore.search.annfiles.ANN_MIN_VECTORS` chunks keep exact search (recall 1.0, nothing to
build). usearch is an optional dependency (the ``ann`` extra); without it every search is
exact. This module imports numpy (usearch only when an index is opened or written); the
cheap file helpers are in :mod:`lore.search.annfiles`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lore.core.errors import ErrorCode, LoreError
from lore.search.annfiles import INDEX_VERSION, db_file, min_vectors, paths, read_meta
from lore.search.vectors import VectorHit

log = logging.getLogger("lore.search")

KEY_SHIFT = 20
CHUNK_MASK = (1 << KEY_SHIFT) - 1
#: HNSW parameters: 16 links per node, 64 candidates while inserting; at search time at
#: least :data:`EXPANSION_SEARCH` candidates. On vectors of intrinsic dimension 32 at 200k
#: (bench/search.py's "latent" data), ef 128 gives recall@10 0.91, 256: 0.975, 512: 0.995
#: (p50 1.6 / 2.9 / 5.3 ms); 512 keeps the 1M p50 well under 20 ms.
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 512
#: Rebuild from scratch once this share of the graph's nodes are removed ones.
MAX_REMOVED_SHARE = 0.25


def available() -> bool:
    """Whether usearch is installed (the ``ann`` extra)."""
    try:
        import usearch.index  # noqa: F401
    except ImportError:
        return False
    return True


def make_key(document_id: int, chunk_index: int) -> int:
    return (int(document_id) << KEY_SHIFT) | int(chunk_index)


def hash64(content_hash: str) -> int:
    """The first 64 bits of a chunk's hex content hash, as a signed int64."""
    value = int(content_hash[:16] or "0", 16)
    return value - (1 << 64) if value >= (1 << 63) else value


class AnnIndex:
    """The HNSW index of one model, searched like :class:`lore.search.vectors.VectorIndex`
    (``top`` gives the best chunk per document)."""

    def __init__(
        self,
        model: str,
        index: Any,
        keys: npt.NDArray[np.int64],
        dimension: int,
        conn: sqlite3.Connection | None = None,
    ) -> None:
        self.model = model
        self.index = index
        self.keys = keys  # sorted int64 keys (column 0 of the .keys file)
        self._dimension = dimension
        self._conn = conn  # for exact search among a few allowed documents
        self.index.expansion_search = EXPANSION_SEARCH

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def documents(self) -> int:
        """Documents with at least one vector (counted from the keys, not the graph)."""
        if len(self.keys) == 0:
            return 0
        docs = self.keys >> KEY_SHIFT
        return int(np.count_nonzero(np.diff(docs))) + 1

    def __len__(self) -> int:
        return len(self.keys)

    def _check(self, query: Sequence[float] | npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        q = np.asarray(query, dtype=np.float32)
        if q.shape[0] != self._dimension:
            raise LoreError(
                ErrorCode.EMBEDDING_UNAVAILABLE,
                f"the model {self.model!r} now returns {q.shape[0]}-dimensional vectors but the "
                f"stored ones have {self._dimension}",
                suggestion="Re-embed with `lore sync --full`",
                actions=["lore sync --full"],
            )
        norm = float(np.linalg.norm(q))
        return q / norm if norm > 0 else q

    def _search(self, q: npt.NDArray[np.float32], count: int) -> list[VectorHit]:
        """Best chunk per document among the ``count`` nearest chunks, best first."""
        count = max(1, min(count, len(self.keys)))
        matches = self.index.search(q, count, threads=1)
        hits: list[VectorHit] = []
        seen: set[int] = set()
        for key, distance in zip(matches.keys.tolist(), matches.distances.tolist(), strict=True):
            doc = int(key) >> KEY_SHIFT
            if doc in seen:
                continue
            seen.add(doc)
            hits.append(VectorHit(doc, 1.0 - float(distance), int(key) & CHUNK_MASK))
        return hits

    def top(
        self,
        query: Sequence[float] | npt.NDArray[np.float32],
        k: int,
        allowed: Collection[int] | None = None,
        *,
        rescore: bool = True,
    ) -> list[VectorHit]:
        """About the ``k`` documents closest to ``query``, optionally only among ``allowed``
        ids (approximate: recall@10 ≥ 0.95, see the module doc). ``rescore`` False leaves
        the index's float16 scores (for a candidate pool; see :meth:`rescore`)."""
        if k <= 0 or len(self.keys) == 0:
            return []
        q = self._check(query)
        raw = np.asarray(query, dtype=np.float32)  # rescored as exact search scores it
        if allowed is None:
            count = k * 2 + 16  # a few documents have several chunks
            while True:
                hits = self._search(q, count)
                if len(hits) >= k or count >= len(self.keys):
                    return self._rescored(raw, hits[:k]) if rescore else hits[:k]
                count *= 4
        wanted = set(allowed)
        count = max(k * 10, 256)
        while count <= 16_384:
            hits = [h for h in self._search(q, count) if h.document_id in wanted]
            if len(hits) >= k or count >= len(self.keys):
                return self._rescored(raw, hits[:k]) if rescore else hits[:k]
            count *= 4
        return self._exact_among(raw, k, wanted)

    def rescore(
        self, query: Sequence[float] | npt.NDArray[np.float32], hits: list[VectorHit]
    ) -> list[VectorHit]:
        """``hits`` (from ``top(..., rescore=False)``) with exact scores, best first."""
        return self._rescored(np.asarray(query, dtype=np.float32), hits)

    def _rescored(self, q: npt.NDArray[np.float32], hits: list[VectorHit]) -> list[VectorHit]:
        """The candidates scored exactly, from the stored float32 vectors: the same scores,
        order and best chunk as exact search gives them (the index holds float16)."""
        if self._conn is None or not hits:
            return hits
        exact = self._exact_among(q, len(hits), {h.document_id for h in hits})
        return exact if len(exact) == len(hits) else hits

    def _exact_among(self, q: npt.NDArray[np.float32], k: int, wanted: set[int]) -> list[VectorHit]:
        """Exact search among a selective filter's documents, read from the store (``q`` as
        given to :meth:`top`: exact search normalises it itself)."""
        if self._conn is None or not wanted:
            return []
        from lore.search.vectors import VectorIndex

        ids = sorted(wanted)
        rows: list[tuple[int, int, bytes]] = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            rows.extend(
                self._conn.execute(
                    "SELECT document_id, chunk_index, vector FROM embeddings WHERE model = ? AND "
                    f"document_id IN ({','.join('?' * len(part))})",
                    [self.model, *part],
                )
            )
        width = self._dimension * 4
        rows = sorted((r for r in rows if len(r[2]) == width), key=lambda r: (r[0], r[1]))
        if not rows:
            return []
        matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(
            len(rows), self._dimension
        )
        exact = VectorIndex(
            self.model,
            np.ascontiguousarray(matrix, dtype=np.float32),
            np.array([r[0] for r in rows], dtype=np.int64),
            np.array([r[1] for r in rows], dtype=np.int64),
        )
        return exact.top(q, k)


# -- opening for search -----------------------------------------------------------------------


def open_index(
    conn: sqlite3.Connection, model: str, fingerprint: Sequence[int] | None = None
) -> AnnIndex | None:
    """The index of ``model`` beside ``conn``'s database, memory-mapped, when it exists, is
    current (its fingerprint equals ``fingerprint``, by default the table's now) and usearch
    is installed; else None (the caller searches exactly)."""
    db = db_file(conn)
    if db is None:
        return None
    meta_path, _stem = paths(db, model)
    meta = read_meta(meta_path)
    if meta is None or meta.get("model") != model:
        return None
    if fingerprint is None:
        from lore.embed.generation import vectors_fingerprint

        fingerprint = vectors_fingerprint(conn)
    if list(meta.get("fingerprint", [])) != list(fingerprint):
        log.info("ann index of %s is stale: exact search", model)
        return None
    return load_files(db, meta, conn)


def load_files(
    db: Path, meta: dict[str, Any], conn: sqlite3.Connection | None = None
) -> AnnIndex | None:
    """The index ``meta`` describes, memory-mapped (None when usearch is missing or the
    files are unreadable or disagree with ``meta``); no freshness check."""
    try:
        from usearch.index import Index
    except ImportError:
        return None
    try:
        rows = int(meta["count"])
        keys = (
            np.memmap(db.parent / meta["keys"], dtype="<i8", mode="r", shape=(rows, 2))[:, 0]
            if rows
            else np.zeros(0, dtype=np.int64)
        )
        index = Index.restore(str(db.parent / meta["index"]), view=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        log.info("ann index %s unreadable (%s): exact search", meta.get("index"), exc)
        return None
    if index is None or len(index) != rows or int(index.ndim) != int(meta["dim"]):
        return None
    return AnnIndex(
        str(meta["model"]), index, np.asarray(keys, dtype=np.int64), int(meta["dim"]), conn
    )


# -- building and refreshing (the embeddings stage) ---------------------------------------------


def _new_index(dim: int) -> Any:
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="cos",
        dtype="f16",
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


def write_index(
    db: Path,
    model: str,
    index: Any,
    pairs: npt.NDArray[np.int64],
    dim: int,
    fingerprint: Sequence[int],
    removed: int = 0,
) -> None:
    """Save ``index`` and its sorted (key, hash) ``pairs`` under new names, then switch the
    description to them atomically and delete the files it no longer names."""
    from lore.core.atomic import write_json_atomic

    meta_path, stem = paths(db, model)
    tag = hashlib.sha1(
        f"{list(fingerprint)}:{os.getpid()}:{os.urandom(4).hex()}".encode()
    ).hexdigest()[:10]
    names = {"index": f"{stem}-{tag}.usearch", "keys": f"{stem}-{tag}.keys"}
    directory = db.parent
    tmp_index = directory / f".{names['index']}.tmp"
    tmp_keys = directory / f".{names['keys']}.tmp"
    index.save(str(tmp_index))
    np.ascontiguousarray(pairs, dtype="<i8").tofile(tmp_keys)
    for tmp in (tmp_index, tmp_keys):
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
    os.replace(tmp_index, directory / names["index"])
    os.replace(tmp_keys, directory / names["keys"])
    # The description goes last: a reader sees the old index or the complete new one.
    write_json_atomic(
        meta_path,
        {
            "version": INDEX_VERSION,
            "model": model,
            "dim": dim,
            "fingerprint": list(fingerprint),
            "count": len(pairs),
            "removed": removed,
            **names,
        },
        mode=0o644,
    )
    cleanup(db, model, keep=set(names.values()))


def cleanup(db: Path, model: str, keep: set[str] | None = None) -> None:
    """Delete ``model``'s index files not in ``keep`` (all of them, description too, when
    ``keep`` is None), and temporary files left by a killed writer."""
    meta_path, stem = paths(db, model)
    if keep is None:
        with contextlib.suppress(OSError):
            meta_path.unlink()
    for old in [*db.parent.glob(f"{stem}-*"), *db.parent.glob(f".{stem}-*.tmp")]:
        if keep is None or old.name not in keep:
            with contextlib.suppress(OSError):
                old.unlink()


def build(
    db: Path,
    model: str,
    keys: npt.NDArray[np.int64],
    hashes: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
    fingerprint: Sequence[int],
    threads: int = 0,
) -> None:
    """A new index of ``vectors`` (rows L2-normalised, one per key) written beside ``db``."""
    order = np.argsort(keys, kind="stable")
    keys, hashes = keys[order], hashes[order]
    index = _new_index(int(vectors.shape[1]))
    if len(keys):
        index.add(
            keys.astype(np.uint64),
            np.ascontiguousarray(vectors[order], dtype=np.float32),
            threads=threads,
        )
    write_index(
        db, model, index, np.stack([keys, hashes], axis=1), int(vectors.shape[1]), fingerprint
    )


def _table_pairs(conn: sqlite3.Connection, model: str, dim: int) -> npt.NDArray[np.int64]:
    """(key, hash) of every stored chunk of ``model`` and dimension ``dim``, sorted by key."""
    rows = conn.execute(
        "SELECT document_id, chunk_index, content_hash FROM embeddings "
        "WHERE model = ? AND dimension = ?",
        (model, dim),
    ).fetchall()
    flat = np.fromiter(
        (v for r in rows if r[1] <= CHUNK_MASK for v in (make_key(r[0], r[1]), hash64(r[2]))),
        dtype=np.int64,
    )
    pairs = flat.reshape(-1, 2)
    return pairs[np.argsort(pairs[:, 0], kind="stable")]


def _vectors_of(
    conn: sqlite3.Connection, model: str, dim: int, keys: Iterable[int]
) -> tuple[list[int], list[int], list[bytes]]:
    """(keys, hashes, vector blobs) of the stored chunks among ``keys``."""
    by_doc: dict[int, set[int]] = {}
    for key in keys:
        by_doc.setdefault(int(key) >> KEY_SHIFT, set()).add(int(key) & CHUNK_MASK)
    out_keys: list[int] = []
    out_hashes: list[int] = []
    blobs: list[bytes] = []
    docs = sorted(by_doc)
    for start in range(0, len(docs), 500):
        part = docs[start : start + 500]
        for doc, chunk, digest, blob in conn.execute(
            "SELECT document_id, chunk_index, content_hash, vector FROM embeddings WHERE model = ? "
            f"AND dimension = ? AND document_id IN ({','.join('?' * len(part))})",
            [model, dim, *part],
        ):
            if chunk in by_doc[int(doc)] and len(blob) == dim * 4:
                out_keys.append(make_key(doc, chunk))
                out_hashes.append(hash64(digest))
                blobs.append(bytes(blob))
    return out_keys, out_hashes, blobs


def _main_dimension(conn: sqlite3.Connection, model: str) -> int | None:
    row = conn.execute(
        "SELECT dimension, COUNT(*) AS n FROM embeddings WHERE model = ? "
        "GROUP BY dimension ORDER BY n DESC LIMIT 1",
        (model,),
    ).fetchone()
    return int(row[0]) if row else None


def refresh(
    conn: sqlite3.Connection,
    model: str,
    *,
    changed_documents: Collection[int] | None = None,
    fingerprint_before: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Bring ``model``'s index beside the database up to date with ``embeddings``.

    ``changed_documents`` (the documents the caller rewrote) and ``fingerprint_before`` (the
    table's fingerprint before it did) allow the cheap path: when the index matched the
    table then, only those documents are re-read. Otherwise the index is reconciled by
    comparing (key, chunk hash) pairs with the table, or built anew. Stores below
    :func:`lore.search.annfiles.min_vectors` chunks have no index (any old one is deleted). Returns what it
    did (for the stage's details); never raises for a problem with the index files."""
    from lore.embed.generation import vectors_fingerprint

    db = db_file(conn)
    if db is None:
        return {"ann": "skipped", "reason": "in-memory database"}
    fingerprint = list(vectors_fingerprint(conn))
    meta_path, _stem = paths(db, model)
    meta = read_meta(meta_path)
    if meta is not None and meta.get("model") == model and meta.get("fingerprint") == fingerprint:
        # Files a killed writer left (written but not yet named, or no longer named).
        cleanup(db, model, keep={str(meta.get("index")), str(meta.get("keys"))})
        return {"ann": "current", "vectors": int(meta.get("count", 0))}
    total, threshold = int(fingerprint[1]), min_vectors()
    if total < max(1, threshold):
        if meta is not None:
            cleanup(db, model)
        return {"ann": "none", "reason": f"fewer than {threshold} vectors: exact search"}
    if not available():
        return {"ann": "none", "reason": "usearch is not installed: exact search"}
    try:
        return _refresh(conn, db, model, meta, fingerprint, changed_documents, fingerprint_before)
    except (OSError, ValueError, RuntimeError) as exc:  # search stays exact and correct
        log.warning("ann index of %s not refreshed: %s", model, exc)
        return {"ann": "failed", "reason": str(exc)}


def _refresh(
    conn: sqlite3.Connection,
    db: Path,
    model: str,
    meta: dict[str, Any] | None,
    fingerprint: list[int],
    changed: Collection[int] | None,
    before: Sequence[int] | None,
) -> dict[str, Any]:
    from usearch.index import Index

    # The cheap path: the index matched the table before the caller wrote, so only its
    # documents changed (and no table scan is needed, not even for the dimension).
    cheap = (
        meta is not None
        and meta.get("model") == model
        and changed is not None
        and before is not None
        and list(before) == meta.get("fingerprint")
    )
    dim: int | None = None
    if cheap:
        assert meta is not None and changed is not None
        dim = int(meta.get("dim", 0))
        if _other_dimension(conn, model, dim, sorted(int(d) for d in changed)):
            cheap, dim = False, None  # the model now answers in another dimension: rebuild
    if dim is None:
        dim = _main_dimension(conn, model)
    if dim is None:
        cleanup(db, model)
        return {"ann": "none", "reason": "no vectors of this model"}
    index = None
    pairs: npt.NDArray[np.int64] | None = None
    removed_before = 0
    if meta is not None and meta.get("model") == model and int(meta.get("dim", 0)) == dim:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, RuntimeError):
            rows = int(meta["count"])
            pairs = np.fromfile(db.parent / meta["keys"], dtype="<i8").reshape(-1, 2)
            index = Index.restore(str(db.parent / meta["index"]), view=False)
            removed_before = int(meta.get("removed", 0))
            if index is None or len(index) != rows or len(pairs) != rows:
                index, pairs = None, None
    if index is None or pairs is None or removed_before > MAX_REMOVED_SHARE * max(1, len(pairs)):
        return _rebuild(conn, db, model, dim, fingerprint)

    if cheap:
        assert changed is not None
        changed_docs = np.fromiter((int(d) for d in changed), dtype=np.int64)
        stale = pairs[np.isin(pairs[:, 0] >> KEY_SHIFT, changed_docs), 0]
        new_keys, new_hashes, blobs = _vectors_of_documents(conn, model, dim, changed_docs.tolist())
        mode = "incremental"
    else:
        table = _table_pairs(conn, model, dim)
        # Keys whose (key, hash) pair is not in the table are stale; pairs of the table not
        # in the index are new.
        index_view = pairs.view([("k", "<i8"), ("h", "<i8")]).ravel()
        table_view = table.view([("k", "<i8"), ("h", "<i8")]).ravel()
        stale = pairs[~np.isin(index_view, table_view), 0]
        wanted = table[~np.isin(table_view, index_view), 0].tolist()
        new_keys, new_hashes, blobs = _vectors_of(conn, model, dim, wanted)
        mode = "reconciled"
    stale_set = set(stale.tolist())
    replace = np.array(sorted(stale_set | set(new_keys)), dtype=np.int64)
    present = replace[np.isin(replace, pairs[:, 0])]
    if len(present):
        index.remove(present.astype(np.uint64))
    keep = ~np.isin(pairs[:, 0], replace)
    pairs = pairs[keep]
    if new_keys:
        vectors = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)
        index.add(
            np.array(new_keys, dtype=np.uint64), np.ascontiguousarray(vectors, dtype=np.float32)
        )
        added = np.stack(
            [np.array(new_keys, dtype=np.int64), np.array(new_hashes, dtype=np.int64)], axis=1
        )
        pairs = np.concatenate([pairs, added])
        pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    removed = removed_before + len(present)
    if removed > MAX_REMOVED_SHARE * max(1, len(pairs)):
        return _rebuild(conn, db, model, dim, fingerprint)
    write_index(db, model, index, pairs, dim, fingerprint, removed=removed)
    return {"ann": mode, "vectors": len(pairs), "removed": len(present), "added": len(new_keys)}


def _other_dimension(conn: sqlite3.Connection, model: str, dim: int, documents: list[int]) -> bool:
    """Whether any of ``documents`` has a vector of ``model`` whose dimension is not ``dim``."""
    for start in range(0, len(documents), 500):
        part = documents[start : start + 500]
        if conn.execute(
            "SELECT 1 FROM embeddings WHERE model = ? AND dimension != ? AND "
            f"document_id IN ({','.join('?' * len(part))}) LIMIT 1",
            [model, dim, *part],
        ).fetchone():
            return True
    return False


def _vectors_of_documents(
    conn: sqlite3.Connection, model: str, dim: int, documents: list[int]
) -> tuple[list[int], list[int], list[bytes]]:
    out_keys: list[int] = []
    out_hashes: list[int] = []
    blobs: list[bytes] = []
    for start in range(0, len(documents), 500):
        part = documents[start : start + 500]
        for doc, chunk, digest, blob in conn.execute(
            "SELECT document_id, chunk_index, content_hash, vector FROM embeddings WHERE model = ? "
            f"AND dimension = ? AND document_id IN ({','.join('?' * len(part))})",
            [model, dim, *part],
        ):
            if int(chunk) <= CHUNK_MASK and len(blob) == dim * 4:
                out_keys.append(make_key(doc, chunk))
                out_hashes.append(hash64(digest))
                blobs.append(bytes(blob))
    return out_keys, out_hashes, blobs


def _rebuild(
    conn: sqlite3.Connection, db: Path, model: str, dim: int, fingerprint: list[int]
) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT document_id, chunk_index, content_hash, vector FROM embeddings "
        "WHERE model = ? AND dimension = ?",
        (model, dim),
    ).fetchall()
    rows = [r for r in rows if int(r[1]) <= CHUNK_MASK and len(r[3]) == dim * 4]
    keys = np.array([make_key(r[0], r[1]) for r in rows], dtype=np.int64)
    hashes = np.array([hash64(r[2]) for r in rows], dtype=np.int64)
    vectors = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(len(rows), dim)
    del rows
    build(db, model, keys, hashes, vectors, fingerprint)
    return {"ann": "built", "vectors": len(keys)}
