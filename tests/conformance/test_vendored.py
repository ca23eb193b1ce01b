"""The vendored conformance files are the shared set, byte for byte, when the shared
workspace is present (a fresh clone elsewhere uses the vendored copy alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

VENDORED = Path(__file__).resolve().parent / "gitlab"
SHARED = [
    Path(__file__).resolve().parents[3] / "shared" / "conformance" / "gitlab",
    Path("/work/shared/conformance/gitlab"),
]


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".json", ".md")
    }


def test_the_vendored_set_is_complete() -> None:
    files = _files(VENDORED)
    assert {
        "schemas/issues.json",
        "schemas/merge_requests.json",
        "schemas/notes.json",
        "examples/merge_request_discussions.json",
    } <= set(files)


def test_the_vendored_set_matches_the_shared_one() -> None:
    shared = next((p for p in SHARED if p.is_dir()), None)
    if shared is None:
        pytest.skip("the shared conformance set is not on this machine")
    assert _files(VENDORED) == _files(shared)
