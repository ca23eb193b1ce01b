"""Mapping of sqlite3 failures to lore error codes (kept here for store callers; the
implementation lives in :mod:`lore.core.errors` so every layer shares it)."""

from __future__ import annotations

from lore.core.errors import translate_db_error

__all__ = ["translate_db_error"]
