"""The token's storage for the scheduler: a user-private env file (the default) and the
checks that keep a token from breaking out of any file it is written to.

The env file is one ``NAME=value`` line, mode 0600. It is read by systemd's
``EnvironmentFile=``, by the wrapper script through ``sed`` (never sourced or eval'd),
and by `service run` itself; nothing ever executes it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lore.core.errors import ErrorCode, LoreError

ENV_FILE_MODE = 0o600
WRAPPER_MODE = 0o700


def check_token(token: str, env_var: str) -> str:
    """Refuse a token with NUL, CR or LF: it would end the line it is written on."""
    bad = [name for char, name in (("\0", "NUL"), ("\r", "CR"), ("\n", "LF")) if char in token]
    if bad:
        # The message names the variable and the characters, never the value.
        raise LoreError(
            ErrorCode.SERVICE_ERROR,
            f"the token in {env_var} contains {', '.join(bad)} characters, which cannot be "
            "stored safely for the scheduler",
            suggestion=f"Set {env_var} to the bare token (no line breaks), then run: "
            "lore service install",
            actions=["lore service install"],
        )
    return token


def check_path_text(path: str, what: str) -> str:
    """Refuse paths with control characters: they would split a unit or crontab line."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise LoreError(
            ErrorCode.SERVICE_ERROR,
            f"the {what} path {path!r} contains control characters and cannot be written "
            "into scheduler files",
            suggestion="Move it to a path without control characters",
        )
    return path


def env_file_content(env_var: str, token: str) -> str:
    return f"{env_var}={check_token(token, env_var)}\n"


def write_env_file(path: Path, env_var: str, token: str) -> None:
    """Write the env file atomically; the temporary file is 0600 before any byte lands."""
    from lore.core.atomic import write_atomic

    write_atomic(path, env_file_content(env_var, token), mode=ENV_FILE_MODE)


def read_env_file(path: Path, env_var: str) -> str | None:
    """The token stored for ``env_var``, or ``None`` if the file or the line is missing."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    prefix = f"{env_var}="
    for line in text.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :]
    return None


def file_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None


def fix_mode(path: Path, mode: int) -> bool:
    """Set ``path`` to ``mode`` if it differs; returns whether anything changed."""
    current = file_mode(path)
    if current is None or current == mode:
        return False
    os.chmod(path, mode)
    return True
