"""Reading the mirror: plain functions that take a SQLite connection and typed arguments
and return JSON-ready data. The CLI renders that data (human or robot); nothing here
prints, imports rich, or talks to GitLab.

- :func:`lore.query.items.list_items` — filtered, sorted, limited issue/MR lists
- :func:`lore.query.items.item_summaries` — hydrate item ids into list-shaped dicts
- :func:`lore.query.items.get_item` — one issue/MR with discussions (``lore show``)
- :func:`lore.query.items.resolve_ref` — ``#12`` / ``group/repo!3`` / URL → one item
- :func:`lore.query.status.store_status` — what is mirrored (``lore status``)
- :func:`lore.query.store.open_for_reading` — open the DB without creating or migrating it
"""

from __future__ import annotations

from lore.query.filters import ItemFilters, parse_since
from lore.query.items import get_item, item_summaries, list_items, resolve_ref
from lore.query.status import store_status
from lore.query.store import open_for_reading, resolve_projects

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
