"""Metadata that `lore robot-docs` publishes for each command, attached where the command
is defined so the manifest is generated from the definitions and cannot drift.

Also a few tiny JSON-Schema builders so response schemas stay short and readable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from lore.core.errors import ErrorCode

C = TypeVar("C")

#: Exit codes every command can produce.
COMMON_CODES: tuple[ErrorCode, ...] = (ErrorCode.INTERNAL_ERROR, ErrorCode.USAGE_ERROR)
#: Exit codes of commands that read the config.
CONFIG_CODES: tuple[ErrorCode, ...] = (ErrorCode.CONFIG_NOT_FOUND, ErrorCode.CONFIG_INVALID)
#: Exit codes of commands that open the database.
DB_CODES: tuple[ErrorCode, ...] = (
    ErrorCode.DB_LOCKED,
    ErrorCode.DB_ERROR,
    ErrorCode.MIGRATION_FAILED,
)
#: Exit codes of commands that talk to GitLab.
GITLAB_CODES: tuple[ErrorCode, ...] = (
    ErrorCode.TOKEN_NOT_SET,
    ErrorCode.AUTH_FAILED,
    ErrorCode.NOT_FOUND,
    ErrorCode.NETWORK_ERROR,
    ErrorCode.RATE_LIMITED,
)


def robot(
    schema: dict[str, Any],
    *,
    exit_codes: Iterable[ErrorCode] = (),
    examples: Iterable[str] = (),
) -> Callable[[C], C]:
    """Attach the robot response schema (of ``data``) and the possible exit codes."""

    def deco(cmd: C) -> C:
        codes = list(COMMON_CODES)
        for code in exit_codes:
            if code not in codes:
                codes.append(code)
        cmd.lore_meta = {  # type: ignore[attr-defined]
            "schema": schema,
            "exit_codes": codes,
            "examples": list(examples),
        }
        return cmd

    return deco


# -- JSON-Schema builders --------------------------------------------------------------


def obj(
    props: dict[str, Any], required: Iterable[str] | None = None, *, extra: bool = True
) -> dict[str, Any]:
    """An object schema; every property is required unless ``required`` says otherwise."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else list(required),
        "additionalProperties": extra,
    }


def arr(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
BOOL: dict[str, Any] = {"type": "boolean"}
ANY: dict[str, Any] = {}
OPT_STR = nullable(STR)
OPT_INT = nullable(INT)
OPT_NUM = nullable(NUM)
