"""Error codes, exit codes and the one exception type that crosses layers.

Every failure that leaves a layer is a :class:`LoreError` carrying an
:class:`ErrorCode`. The CLI turns it into an envelope and an exit code in one
place (``lore.cli.app``).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INTERNAL_ERROR = "INTERNAL_ERROR"
    USAGE_ERROR = "USAGE_ERROR"
    CONFIG_NOT_FOUND = "CONFIG_NOT_FOUND"
    CONFIG_INVALID = "CONFIG_INVALID"
    TOKEN_NOT_SET = "TOKEN_NOT_SET"
    AUTH_FAILED = "AUTH_FAILED"
    NOT_FOUND = "NOT_FOUND"
    NETWORK_ERROR = "NETWORK_ERROR"
    RATE_LIMITED = "RATE_LIMITED"
    DB_LOCKED = "DB_LOCKED"
    DB_ERROR = "DB_ERROR"
    MIGRATION_FAILED = "MIGRATION_FAILED"
    AMBIGUOUS = "AMBIGUOUS"
    SYNC_IN_PROGRESS = "SYNC_IN_PROGRESS"
    EMBEDDING_UNAVAILABLE = "EMBEDDING_UNAVAILABLE"
    SERVICE_ERROR = "SERVICE_ERROR"
    SERVICE_COMMAND_FAILED = "SERVICE_COMMAND_FAILED"
    SERVICE_CORRUPT_STATE = "SERVICE_CORRUPT_STATE"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]

    @property
    def meaning(self) -> str:
        return MEANINGS[self]


EXIT_CODES: dict[ErrorCode, int] = {
    ErrorCode.INTERNAL_ERROR: 1,
    ErrorCode.USAGE_ERROR: 2,
    ErrorCode.CONFIG_NOT_FOUND: 3,
    ErrorCode.CONFIG_INVALID: 4,
    ErrorCode.TOKEN_NOT_SET: 5,
    ErrorCode.AUTH_FAILED: 6,
    ErrorCode.NOT_FOUND: 7,
    ErrorCode.NETWORK_ERROR: 8,
    ErrorCode.RATE_LIMITED: 9,
    ErrorCode.DB_LOCKED: 10,
    ErrorCode.DB_ERROR: 11,
    ErrorCode.MIGRATION_FAILED: 12,
    ErrorCode.AMBIGUOUS: 13,
    ErrorCode.SYNC_IN_PROGRESS: 14,
    ErrorCode.EMBEDDING_UNAVAILABLE: 15,
    ErrorCode.SERVICE_ERROR: 21,
    ErrorCode.SERVICE_COMMAND_FAILED: 22,
    ErrorCode.SERVICE_CORRUPT_STATE: 23,
}

MEANINGS: dict[ErrorCode, str] = {
    ErrorCode.INTERNAL_ERROR: "a bug in lore",
    ErrorCode.USAGE_ERROR: "bad flags or arguments",
    ErrorCode.CONFIG_NOT_FOUND: "no config file",
    ErrorCode.CONFIG_INVALID: "config unreadable or fails validation",
    ErrorCode.TOKEN_NOT_SET: "the token variable is unset or empty",
    ErrorCode.AUTH_FAILED: "GitLab rejected the token",
    ErrorCode.NOT_FOUND: "project, issue, MR or service not found",
    ErrorCode.NETWORK_ERROR: "connect/read failure, timeout, TLS, 5xx after retries",
    ErrorCode.RATE_LIMITED: "429 after retries",
    ErrorCode.DB_LOCKED: "the database stayed busy past the timeout",
    ErrorCode.DB_ERROR: "other database failure",
    ErrorCode.MIGRATION_FAILED: "schema migration failed; the database is unchanged",
    ErrorCode.AMBIGUOUS: "a reference matches several things",
    ErrorCode.SYNC_IN_PROGRESS: "another sync holds the pipeline lock",
    ErrorCode.EMBEDDING_UNAVAILABLE: "the embedding provider is unreachable or rejects the model",
    ErrorCode.SERVICE_ERROR: "service management error",
    ErrorCode.SERVICE_COMMAND_FAILED: "a scheduler command (systemctl, launchctl, schtasks, crontab) failed",
    ErrorCode.SERVICE_CORRUPT_STATE: "a service state file is corrupt or from a newer lore",
}

#: Errors the scheduled service treats as permanent (pause instead of backing off).
PERMANENT_CODES: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.TOKEN_NOT_SET,
        ErrorCode.AUTH_FAILED,
        ErrorCode.CONFIG_NOT_FOUND,
        ErrorCode.CONFIG_INVALID,
        ErrorCode.MIGRATION_FAILED,
    }
)


class LoreError(Exception):
    """A failure with a stable code, a message naming the problem, and a way out."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        suggestion: str | None = None,
        actions: list[str] | None = None,
        details: dict[str, Any] | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggestion = suggestion
        self.actions = actions or []
        self.details = details
        self.retry_after_ms = retry_after_ms

    @property
    def exit_code(self) -> int:
        return self.code.exit_code

    @property
    def is_permanent(self) -> bool:
        return self.code in PERMANENT_CODES

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code.value,
            "message": self.message,
            "suggestion": self.suggestion,
            "actions": list(self.actions),
        }
        if self.retry_after_ms is not None:
            out["retry_after_ms"] = self.retry_after_ms
        if self.details is not None:
            out["details"] = self.details
        return out

    def __str__(self) -> str:
        return self.message


def usage_error(message: str, suggestion: str | None = None) -> LoreError:
    return LoreError(ErrorCode.USAGE_ERROR, message, suggestion=suggestion)


def translate_db_error(exc: BaseException) -> LoreError | None:
    """DB_LOCKED / DB_ERROR for sqlite3 errors; None for anything else.

    Looks sqlite3 up in ``sys.modules`` instead of importing it: if it was never
    imported, the exception cannot be one of its errors (and cold paths stay light)."""
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
        suggestion="Check the disk and the database file ({data_dir}/lore.db; `lore status` shows it)",
    )


def as_lore_error(exc: BaseException, context: str = "") -> LoreError:
    """Any exception as a LoreError: itself, a database error code, or INTERNAL_ERROR."""
    if isinstance(exc, LoreError):
        return exc
    translated = translate_db_error(exc)
    if translated is not None:
        return translated
    where = f"{context}: " if context else ""
    first_line = (str(exc).splitlines() or [""])[0][:300]
    return LoreError(
        ErrorCode.INTERNAL_ERROR,
        f"{where}unexpected {type(exc).__name__}: {first_line}",
        suggestion="This is a bug in lore. Re-run with LORE_DEBUG=1 for the traceback and "
        "report it with the command you ran.",
    )
