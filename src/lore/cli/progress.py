"""Rich progress bars on stderr for human-mode sync (rich imported only when used)."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class RichProgress:
    """Implements ``lore.sync.progress.Progress`` with one bar per stage and project."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        from lore.cli.output import stderr_console

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=stderr_console(),
            transient=False,
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def start(self, key: str, label: str, total: int | None) -> None:
        if key in self._tasks:
            self._progress.update(self._tasks[key], total=total)
            return
        self._tasks[key] = self._progress.add_task(label, total=total, note="")

    def update(
        self, key: str, *, advance: int = 0, completed: int | None = None, total: int | None = None
    ) -> None:
        task = self._tasks.get(key)
        if task is None:
            return
        kwargs: dict[str, Any] = {}
        if total is not None:
            kwargs["total"] = total
        if completed is not None:
            kwargs["completed"] = completed
        if advance:
            kwargs["advance"] = advance
        self._progress.update(task, **kwargs)

    def finish(self, key: str, note: str = "") -> None:
        task = self._tasks.get(key)
        if task is None:
            return
        current = self._progress.tasks[self._task_index(task)]
        total = current.total if current.total is not None else current.completed
        self._progress.update(task, total=total, completed=total, note=note)

    def _task_index(self, task_id: Any) -> int:
        for index, task in enumerate(self._progress.tasks):
            if task.id == task_id:
                return index
        raise KeyError(task_id)
