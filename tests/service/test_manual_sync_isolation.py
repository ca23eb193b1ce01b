"""Manual `lore sync` never reads or writes service state (plan: Key Design Principle 1):
a paused, backing-off service does not stop it, and its files are left exactly as
they were. The two share only the pipeline lock."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import lore

from .conftest import ServiceEnv


def test_manual_sync_ignores_and_leaves_service_state(svc: ServiceEnv, sim: Any) -> None:
    svc.env["GITLAB_TOKEN"] = sim.token
    svc.lore.write_config(
        sim.url,
        ["acme/platform"],
        extra={"sync": {"maxRetries": 0}, "embedding": {"provider": "none"}},
    )
    sid = svc.checked("install", "--backend", "cron")["data"]["service_id"]
    status_path = svc.data_dir / f"sync-status-{sid}.json"
    status_path.write_text(
        json.dumps(
            {
                "schema_version": 2,
                "updated_at_iso": "2026-02-09T10:00:00Z",
                "state": "paused",
                "recent_runs": [],
                "consecutive_failures": 5,
                "next_retry_at_ms": 99_999_999_999_999,
                "paused_reason": "AUTH_FAILED: 401 Unauthorized",
                "last_error_code": "AUTH_FAILED",
            }
        )
    )
    os.utime(status_path, (1_000_000_000, 1_000_000_000))
    watched = {
        p: (p.read_bytes(), p.stat().st_mtime_ns) for p in svc.data_dir.glob("*") if p.is_file()
    }
    code, doc = svc.robot("sync", "--no-embed")
    assert code == 0 and doc["data"]["outcome"] == "success", doc
    for path, (content, mtime) in watched.items():
        assert path.read_bytes() == content, path
        assert path.stat().st_mtime_ns == mtime, path
    new = {p.name for p in svc.data_dir.glob("*") if p.is_file()} - {p.name for p in watched}
    assert not [n for n in new if n.startswith(("sync-status-", "service-"))], new
    assert not list((svc.data_dir / "logs").glob("service-*")) or all(
        p.stat().st_size == 0 for p in (svc.data_dir / "logs").glob("service-*")
    )


def test_the_sync_code_does_not_import_the_service() -> None:
    root = Path(lore.__file__).parent
    files = [*root.joinpath("sync").rglob("*.py"), root / "cli" / "commands" / "sync.py"]
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.startswith("lore.service")], path
