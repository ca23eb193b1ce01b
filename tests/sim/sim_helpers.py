"""Shared constants and helpers for the simulator tests (imported as ``sim_helpers``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from lore.sim.server import Simulator

#: A fixed clock so read-only tests are reproducible.
NOW = "2025-06-01T12:00:00Z"
#: GitLab's own REST v4 schemas, vendored from the shared conformance set (see its README).
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "conformance" / "gitlab" / "schemas"
ISO_MS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


def client_for(sim: Simulator, **kwargs: Any) -> httpx.Client:
    """An httpx client authenticated against ``sim``."""
    return httpx.Client(
        base_url=sim.url, headers={"PRIVATE-TOKEN": sim.token}, timeout=10, **kwargs
    )


def all_pages(api: httpx.Client, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated list, following x-next-page."""
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        r = api.get(url, params={**params, "per_page": 100, "page": page})
        assert r.status_code == 200, r.text
        out.extend(r.json())
        if not r.headers["x-next-page"]:
            return out
        page += 1
