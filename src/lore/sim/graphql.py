"""GraphQL endpoint (work-item status). Placeholder until the recognizer lands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lore.sim.wire import Request, Response

if TYPE_CHECKING:
    from lore.sim.server import SimState


def complexity_error(complexity: int, limit: int) -> dict[str, Any]:
    return {"errors": [{"message": f"Query has complexity of {complexity}, "
                                   f"which exceeds max complexity of {limit}"}]}


class GraphqlApi:
    def __init__(self, state: SimState) -> None:
        self.state = state

    def handle(self, req: Request) -> Response:
        return Response.json({"errors": [{"message": "not implemented yet"}]})
