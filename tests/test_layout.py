"""Guards on the shape of the test tree itself."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_module_basenames_are_unique() -> None:
    # pytest's default import mode keys modules by basename: two test_cli.py files in
    # different folders make collection fail for the whole run.
    names = Counter(
        p.name for p in TESTS.rglob("*.py") if p.name not in ("conftest.py", "__init__.py")
    )
    assert [n for n, c in names.items() if c > 1] == []
