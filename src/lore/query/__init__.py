"""Reading the mirror: plain functions that take a SQLite connection and typed arguments
and return JSON-ready data. The CLI renders that data (human or robot); nothing here
prints, imports rich, or talks to GitLab.

- :func:`lore.query.items.list_items` — filtered, sorted, limited issue/MR lists
- :func:`lore.query.items.item_summaries` — hydrate item ids into list-shaped dicts
- :func:`lore.query.items.get_item` — one issue/MR with discussions (``lore show``)
- :func:`lore.query.items.resolve_ref` — ``#12`` / ``group/repo!3`` / URL → one item
- :func:`lore.query.status.store_status` — what is mirrored (``lore status``)
- :func:`lore.query.store.open_for_reading` — open the DB without creating or migrating it

The names are importable from this package too, but loaded on first use: command
modules import ``lore.query.filters`` for flag choices, and `lore robot-docs` must not
pay for sqlite3 because of that.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lore.query.filters import ItemFilters, parse_since
    from lore.query.items import get_item, item_summaries, list_items, resolve_ref
    from lore.query.status import store_status
    from lore.query.store import open_for_reading, resolve_projects

_HOMES: dict[str, str] = {
    "ItemFilters": "lore.query.filters",
    "parse_since": "lore.query.filters",
    "get_item": "lore.query.items",
    "item_summaries": "lore.query.items",
    "list_items": "lore.query.items",
    "resolve_ref": "lore.query.items",
    "store_status": "lore.query.status",
    "open_for_reading": "lore.query.store",
    "resolve_projects": "lore.query.store",
}

__all__ = [
    "ItemFilters",
    "get_item",
    "item_summaries",
    "list_items",
    "open_for_reading",
    "parse_since",
    "resolve_projects",
    "resolve_ref",
    "store_status",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lore.query' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
