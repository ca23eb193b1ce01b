"""The service's log files: ``{data_dir}/logs/service-{id}-{stdout,stderr}.log``.

`service run` appends a line per attempt (and warnings) to the stderr log with
``logging``; both logs are rolled over by the stdlib ``RotatingFileHandler`` at 10 MB,
keeping 5. The check happens once per `service run` process (each is short-lived and
writes a few lines), so the scheduler's skip paths need not import ``logging.handlers``
(socket, pickle, queue…) every few minutes. The token never reaches a log line: a
filter replaces it if anything ever tries.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lore.core.paths import service_log_path

MAX_BYTES = 10 * 1024 * 1024
BACKUP_COUNT = 5
TAIL_DEFAULT = 100
ROBOT_TAIL_CAP = 100


class _Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "***")
        record.msg, record.args = message, None
        return True


class _UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z"


class _LibraryWarningsOnly(logging.Filter):
    """Every line of the service's own logger; only warnings and errors of the others,
    whatever level LORE_LOG_LEVEL gave them."""

    def __init__(self, own: str) -> None:
        super().__init__()
        self.own = own

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == self.own or record.levelno >= logging.WARNING


def _handler(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    rotate_if_needed(path)
    return logging.FileHandler(path, encoding="utf-8", delay=True)


def service_logger(
    service_id: str, data_dir: Path, secrets: list[str] | None = None
) -> logging.Logger:
    """A logger appending to the service's stderr log (rolled over at 10 MB, 5 kept)."""
    logger = logging.getLogger(f"lore.service.{service_id}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    close_logger(logger)
    try:
        handler = _handler(service_log_path(service_id, "stderr", data_dir))
    except OSError:
        handler = logging.NullHandler()  # logging must never stop a run
    handler.setFormatter(_UTCFormatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(_LibraryWarningsOnly(logger.name))
    handler.addFilter(_Redact(secrets or []))  # on the handler: covers the library loggers too
    logger.addHandler(handler)
    # What the GitLab client and the pipeline warn about during the run (retries, rate
    # limits, stage problems) lands in the same log, through the same redaction.
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).addHandler(handler)
    return logger


LIBRARY_LOGGERS = ("lore.gitlab", "lore.sync", "lore.embed")


def close_logger(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).removeHandler(handler)
        handler.close()


def rotate_if_needed(path: Path) -> bool:
    """Roll ``path`` over (``.1`` … ``.5``) once it reaches 10 MB; True if it did."""
    try:
        if path.stat().st_size < MAX_BYTES:
            return False
    except OSError:
        return False
    from logging.handlers import RotatingFileHandler

    handler = RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
    )
    try:
        handler.doRollover()
    finally:
        handler.close()
    return True


def log_path(service_id: str, data_dir: Path, stream: str = "stderr") -> Path:
    return service_log_path(service_id, stream, data_dir)


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of ``path`` (reads from the end; cheap on a 10 MB file)."""
    if count <= 0:
        return []
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            block = 8192
            data = b""
            pos = end
            while pos > 0 and data.count(b"\n") <= count:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:]


def follow(
    path: Path, *, poll_seconds: float = 0.5, should_stop: Callable[[], bool] = lambda: False
) -> Iterator[str]:
    """Yield lines appended to ``path`` from now on, like ``tail -F``: survives rotation
    (a new file at the same path) and the file not existing yet."""
    position = path.stat().st_size if path.exists() else 0
    inode = _inode(path)
    pending = ""
    while not should_stop():
        current = _inode(path)
        if current is not None and current != inode:  # rotated: start the new file
            inode, position, pending = current, 0, ""
        try:
            with path.open("rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < position:  # truncated
                    position = 0
                fh.seek(position)
                chunk = fh.read()
                position = fh.tell()
        except OSError:
            chunk = b""
        if chunk:
            pending += chunk.decode("utf-8", errors="replace")
            *complete, pending = pending.split("\n")
            yield from complete
        else:
            time.sleep(poll_seconds)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def editor_command() -> list[str] | None:
    """``$VISUAL``, then ``$EDITOR``, then ``less``, then ``notepad``."""
    import shlex
    import shutil

    for var in ("VISUAL", "EDITOR"):
        value = os.environ.get(var, "").strip()
        if value:
            with contextlib.suppress(ValueError):
                words = shlex.split(value)
                if words:
                    return words
    for program in ("less", "notepad"):
        found = shutil.which(program)
        if found:
            return [found]
    return None
