"""A GitLab simulator: a real HTTP server on loopback speaking the slice of GitLab's
REST v4 and GraphQL APIs that lore uses, over a deterministic generated dataset.

Entry points:

- ``lore.sim.server.Simulator.start(...)`` for tests, ``lore demo`` and benchmarks;
- ``python -m lore.sim serve ...`` for a standalone server (prints one JSON line).

This package imports nothing heavy on import; submodules are loaded on demand.
"""
