"""How stages report progress. The CLI plugs in rich progress bars; robot mode and the
service plug in nothing."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, key: str, label: str, total: int | None) -> None: ...
    def update(
        self, key: str, *, advance: int = 0, completed: int | None = None, total: int | None = None
    ) -> None: ...
    def finish(self, key: str, note: str = "") -> None: ...


class NullProgress:
    def start(self, key: str, label: str, total: int | None) -> None:
        pass

    def update(
        self, key: str, *, advance: int = 0, completed: int | None = None, total: int | None = None
    ) -> None:
        pass

    def finish(self, key: str, note: str = "") -> None:
        pass
