"""`lore --robot service run --service-id ID`: what the OS scheduler starts every few
minutes, for years. It is dispatched here by :mod:`lore.cli.entry` without importing
click or the command tree (the skip paths, paused, backoff and locked, are benchmarked);
the hidden click command calls the same function, so both spellings behave alike.
"""

from __future__ import annotations

import re
import time

from lore.cli.output import AppContext, configure_logging, emit_error
from lore.core.errors import ErrorCode, LoreError

_SERVICE_ID = re.compile(r"[a-z0-9-]{1,32}")


def scheduled_argv(args: list[str]) -> str | None:
    """The service id when ``args`` are exactly what a backend schedules
    (``[--robot|-J] service run --service-id ID``, ``--service-id=ID`` too), else None."""
    rest = args[1:] if args[:1] in (["--robot"], ["-J"]) else args
    if rest[:2] != ["service", "run"]:
        return None
    tail = rest[2:]
    if len(tail) == 2 and tail[0] == "--service-id":
        return tail[1]
    if len(tail) == 1 and tail[0].startswith("--service-id="):
        return tail[0].split("=", 1)[1]
    return None


def valid_service_id(service_id: str) -> bool:
    return _SERVICE_ID.fullmatch(service_id) is not None


def run_scheduled(app: AppContext, service_id: str) -> int:
    """One scheduled attempt. Always robot, always exit 0: the scheduler must not read
    exit codes as retry signals; lore's own policy decides."""
    from lore.core.clock import default_clock

    app.robot = True
    try:
        from lore.service.run import deps_from_env, run_service

        if not valid_service_id(service_id):
            raise LoreError(
                ErrorCode.SERVICE_ERROR,
                f"invalid service id {service_id!r}",
                suggestion="Service ids are [a-z0-9-], at most 32 characters",
            )
        data = run_service(service_id, app.data_dir(), deps_from_env(default_clock()))
    except LoreError as err:
        emit_error(err, True, app.elapsed_ms())
        return 0
    except Exception as exc:  # even a bug exits 0: lore's policy, not the scheduler's, retries
        emit_error(
            LoreError(
                ErrorCode.INTERNAL_ERROR,
                f"unexpected {type(exc).__name__}: {str(exc)[:300]}",
                suggestion="This is a bug in lore; see: lore service logs",
            ),
            True,
            app.elapsed_ms(),
        )
        return 0
    return app.emit(data)


def main(service_id: str, started: float | None = None) -> int:
    configure_logging()
    app = AppContext(
        robot=True, quiet=False, started=time.perf_counter() if started is None else started
    )
    return run_scheduled(app, service_id)
