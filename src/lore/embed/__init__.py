"""Embedding providers behind one small interface.

- ``provider``: the :class:`EmbeddingProvider` protocol and ``make_provider(config)``;
- ``ollama``: Ollama's ``POST /api/embed``, batched (imports httpx);
- ``chunking``: splitting documents on paragraph/sentence boundaries, chunk hashes;
- ``vectors``: float32 little-endian, L2-normalised encoding (imports numpy);
- ``generation``: the counter that tells readers stored vectors changed.

Nothing heavy is imported here: callers import the submodule they need.
"""
