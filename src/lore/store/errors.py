"""Mapping of sqlite3 failures to lore error codes."""

from __future__ import annotations

import sys

from lore.core.errors import ErrorCode, LoreError


def translate_db_error(exc: BaseException) -> LoreError | None:
    """DB_LOCKED / DB_ERROR for sqlite3 errors; None for anything else."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is None or not isinstance(exc, sqlite3.Error):
        return None
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return LoreError(
            ErrorCode.DB_LOCKED,
            f"the database stayed busy past the timeout: {text}",
            suggestion="Another lore process is writing; retry in a moment",
        )
    return LoreError(
        ErrorCode.DB_ERROR,
        f"database error: {text}",
        suggestion="Check the disk and the file at {data_dir}/lore.db; `lore status` shows its path",
    )
