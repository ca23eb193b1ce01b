"""The two output languages: the robot envelope (one JSON document on stdout) and human
rendering (rich, imported lazily so cold commands stay fast)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore.core.errors import LoreError

if TYPE_CHECKING:
    from rich.console import Console

    from lore.core.config import Config

HumanRenderer = Callable[[Any, "Console"], None]


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def success_envelope(
    data: Any, elapsed_ms: int, extra_meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"elapsed_ms": elapsed_ms}
    if extra_meta:
        meta.update(extra_meta)
    return {"ok": True, "data": data, "meta": meta}


def error_envelope(err: LoreError, elapsed_ms: int) -> dict[str, Any]:
    return {"ok": False, "error": err.to_dict(), "meta": {"elapsed_ms": elapsed_ms}}


_stdout_console: Console | None = None
_stderr_console: Console | None = None


def stdout_console() -> Console:
    global _stdout_console
    if _stdout_console is None:
        from rich.console import Console

        _stdout_console = Console(highlight=False, soft_wrap=False)
    return _stdout_console


def stderr_console() -> Console:
    global _stderr_console
    if _stderr_console is None:
        from rich.console import Console

        _stderr_console = Console(stderr=True, highlight=False)
    return _stderr_console


@dataclass
class AppContext:
    """Per-invocation state handed to every command (no globals)."""

    robot: bool = False
    quiet: bool = False
    config_opt: str | None = None
    started: float = field(default_factory=time.perf_counter)
    _config: Config | None = None

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    # -- config and places ------------------------------------------------------------

    def config_path(self) -> Path:
        from lore.core.paths import config_path

        return config_path(self.config_opt)

    def config(self) -> Config:
        if self._config is None:
            from lore.core.config import load

            self._config = load(self.config_path())
        return self._config

    def data_dir(self) -> Path:
        from lore.core.paths import data_dir

        return data_dir()

    # -- output -----------------------------------------------------------------------

    def emit(
        self,
        data: Any,
        human: HumanRenderer | None = None,
        *,
        exit_code: int = 0,
        meta: dict[str, Any] | None = None,
    ) -> int:
        """Render ``data`` in the active language and return the exit code."""
        if self.robot:
            sys.stdout.write(dumps(success_envelope(data, self.elapsed_ms(), meta)) + "\n")
            sys.stdout.flush()
        elif human is not None:
            human(data, stdout_console())
        else:
            sys.stdout.write(json.dumps(data, default=_json_default, indent=2) + "\n")
        return exit_code

    def info(self, message: str) -> None:
        """A human-mode note on stderr (silent in robot and quiet mode)."""
        if not self.robot and not self.quiet:
            stderr_console().print(message)

    @property
    def interactive(self) -> bool:
        return not self.robot and sys.stdin.isatty() and os.environ.get("LORE_NO_PROMPT") != "1"


def emit_error(err: LoreError, robot: bool, elapsed_ms: int) -> None:
    if robot:
        sys.stdout.write(dumps(error_envelope(err, elapsed_ms)) + "\n")
        sys.stdout.flush()
        return
    lines = [f"error[{err.code.value}]: {err.message}"]
    if err.suggestion:
        lines.append(f"  hint: {err.suggestion}")
    details = err.details or {}
    for candidate in details.get("candidates", []) if isinstance(details, dict) else []:
        lines.append(f"  - {candidate}")
    for check in details.get("checks", []) if isinstance(details, dict) else []:
        mark = "ok  " if check.get("ok") else "FAIL"
        lines.append(f"  [{mark}] {check.get('check')}: {check.get('detail')}")
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def configure_logging() -> None:
    """LORE_LOG_LEVEL=debug|info|warning (or LORE_DEBUG=1) sends lore's log to stderr."""
    level = os.environ.get("LORE_LOG_LEVEL") or (
        "DEBUG" if os.environ.get("LORE_DEBUG") == "1" else ""
    )
    if not level:
        return
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("lore %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("lore")
    logger.addHandler(handler)
    logger.setLevel(
        level.upper() if level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO"
    )
