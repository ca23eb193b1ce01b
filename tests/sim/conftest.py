"""Fixtures for the simulator's own tests: a shared read-only server per module (fast),
an authenticated httpx client, and the conformance schemas as a jsonschema registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sim_helpers import NOW, SCHEMA_DIR, client_for

from lore.sim.server import Simulator


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[Simulator]:
    """One `small` simulator for a whole module; tests must not mutate it."""
    with Simulator.start(preset="small", seed=7, now=NOW, complexity_limit=None) as server:
        yield server


@pytest.fixture
def fresh_sim() -> Iterator[Simulator]:
    """A private `small` simulator (fixed clock) for tests that change things."""
    with Simulator.start(preset="small", seed=7, now=NOW) as server:
        yield server


@pytest.fixture
def api(shared_sim: Simulator) -> Iterator[httpx.Client]:
    with client_for(shared_sim) as client:
        yield client


def _strip_additional_properties(node: Any) -> Any:
    """``additionalProperties: false`` is advisory for these (older) schemas."""
    if isinstance(node, dict):
        return {
            k: _strip_additional_properties(v)
            for k, v in node.items()
            if not (k == "additionalProperties" and v is False)
        }
    if isinstance(node, list):
        return [_strip_additional_properties(v) for v in node]
    return node


@pytest.fixture(scope="session")
def schema_validator() -> Any:
    """``validate(name, instance)`` against the conformance schema ``name`` (e.g.
    ``"issues.json"``, ``"user/basic.json"``), relative ``$ref``s resolved."""
    assert SCHEMA_DIR.is_dir(), f"the vendored conformance schemas are missing: {SCHEMA_DIR}"
    from jsonschema import Draft7Validator, validators
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    base = "https://conformance.invalid/"
    resources = []
    for path in SCHEMA_DIR.rglob("*.json"):
        contents = _strip_additional_properties(json.loads(path.read_text()))
        uri = base + path.relative_to(SCHEMA_DIR).as_posix()
        resources.append((uri, Resource.from_contents(contents, default_specification=DRAFT7)))
    registry: Registry[Any] = Registry().with_resources(resources)
    # milestone.json uses the non-standard type "date"; treat it as a string.
    checker = Draft7Validator.TYPE_CHECKER.redefine(
        "date", lambda _checker, instance: isinstance(instance, str)
    )
    validator_cls = validators.extend(Draft7Validator, type_checker=checker)

    def validate(name: str, instance: Any) -> None:
        schema = {"$ref": base + name}
        errors = sorted(
            validator_cls(schema, registry=registry).iter_errors(instance),
            key=lambda e: list(e.absolute_path),
        )
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])

    return validate
