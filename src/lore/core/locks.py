"""Named OS file locks under ``{data_dir}/locks/``.

The OS releases the lock when the holder dies (no stale-lock heuristics needed for
correctness). The holder also writes its pid and start time beside the lock so a
refused caller can say who holds it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from filelock import FileLock, Timeout

from lore.core.atomic import write_json_atomic
from lore.core.errors import ErrorCode, LoreError
from lore.core.paths import ensure_dir, locks_dir

PIPELINE_LOCK = "sync_pipeline"


class LockHeld(Exception):
    """Raised by :meth:`NamedLock.acquire` when another process holds the lock."""

    def __init__(self, name: str, holder: dict[str, Any] | None) -> None:
        super().__init__(name)
        self.name = name
        self.holder = holder


class NamedLock:
    def __init__(self, data_dir: Path, name: str) -> None:
        self.name = name
        self.dir = locks_dir(data_dir)
        self.lock_path = self.dir / f"{name}.lock"
        self.info_path = self.dir / f"{name}.json"
        self._lock: FileLock | None = None

    def read_holder(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def acquire(self, wait_seconds: float = 0.0, command: str | None = None) -> NamedLock:
        ensure_dir(self.dir)
        lock = FileLock(str(self.lock_path), timeout=max(wait_seconds, 0.0), thread_local=False)
        try:
            lock.acquire(poll_interval=0.05)
        except Timeout:
            raise LockHeld(self.name, self.read_holder()) from None
        self._lock = lock
        info = {
            "pid": os.getpid(),
            "started_at_ms": int(time.time() * 1000),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": command or " ".join(["lore", *sys.argv[1:]]),
        }
        with contextlib.suppress(OSError):
            write_json_atomic(self.info_path, info)
        return self

    def release(self) -> None:
        if self._lock is None:
            return
        with contextlib.suppress(OSError):
            self.info_path.unlink()
        self._lock.release()
        self._lock = None

    def __enter__(self) -> NamedLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def acquire_pipeline_lock(data_dir: Path, wait_seconds: float = 0.0) -> NamedLock:
    """Take the sync pipeline lock or raise SYNC_IN_PROGRESS naming the holder."""
    lock = NamedLock(data_dir, PIPELINE_LOCK)
    try:
        return lock.acquire(wait_seconds)
    except LockHeld as held:
        holder = held.holder or {}
        who = (
            f"pid {holder.get('pid')} since {holder.get('started_at')}"
            if holder
            else "another process"
        )
        raise LoreError(
            ErrorCode.SYNC_IN_PROGRESS,
            f"another sync is in progress ({who})",
            suggestion="Wait for it to finish, or retry with: lore sync --wait 300",
            actions=["lore sync --wait 300"],
            details={"holder": holder} if holder else None,
        ) from None
