"""Search over the documents the docs stage writes.

- ``engine.search(...)``: lexical (FTS5 bm25, title weighted), semantic (cosine over
  stored vectors) and hybrid (reciprocal rank fusion), with filters and snippets;
- ``query``: user text → an FTS5 query that is never a syntax error;
- ``filters``: ``--type/--project/--state/--label/--author/--since`` as SQL;
- ``vectors``: the in-memory (or memory-mapped) vector index (imports numpy).

Nothing heavy is imported here: lexical search never loads numpy or httpx.
"""
