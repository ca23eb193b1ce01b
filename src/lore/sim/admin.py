"""Admin API under /__sim/ (no auth). Placeholder: stats and truth only for now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lore.sim.wire import Handler, Request, Response, Route

if TYPE_CHECKING:
    from lore.sim.server import SimState


class AdminApi:
    def __init__(self, state: SimState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        def r(method: str, path: tuple[str, ...], handler: Handler) -> Route:
            return Route(method, ("__sim", *path), "admin", handler, api=False)

        return [
            r("GET", ("stats",), self.stats),
            r("POST", ("stats", "reset"), self.reset_stats),
            r("GET", ("truth",), self.truth),
        ]

    def stats(self, req: Request) -> Response:
        return Response.json(self.state.stats())

    def reset_stats(self, req: Request) -> Response:
        self.state.reset_stats()
        return Response.json(self.state.stats())

    def truth(self, req: Request) -> Response:
        return Response.json(self.state.dataset.truth)
