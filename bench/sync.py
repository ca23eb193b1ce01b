"""Sync benchmark: initial and no-op `lore sync` of a simulator preset with injected
latency, against a sequential baseline that fetches the same data one request at a time
(the way a plain python-gitlab script would). Prints one JSON document.

Usage: .venv/bin/python bench/sync.py [--preset medium] [--latency-ms 20] [--skip-baseline]
Targets: initial sync >= 4x faster than the baseline; a no-op sync makes a constant number
of requests per project and finishes in under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from lore.core import config as config_mod
from lore.sync.pipeline import run_pipeline
from lore.sync.types import SyncOptions

TOKEN_VAR = "LORE_BENCH_TOKEN"


def baseline(url: str, token: str, projects: list[str]) -> dict[str, Any]:
    """One request at a time, one connection: list, then every item's children."""
    requests = 0
    items = 0
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers={"PRIVATE-TOKEN": token}, timeout=60) as http:

        def get_all(path: str) -> list[Any]:
            nonlocal requests
            out: list[Any] = []
            page: str | None = "1"
            while page:
                response = http.get(path, params={"page": page, "per_page": 100})
                requests += 1
                response.raise_for_status()
                out.extend(response.json())
                page = response.headers.get("x-next-page") or None
            return out

        for project in projects:
            pid = http.get(f"/api/v4/projects/{project.replace('/', '%2F')}").json()["id"]
            requests += 1
            for issue in get_all(f"/api/v4/projects/{pid}/issues"):
                get_all(f"/api/v4/projects/{pid}/issues/{issue['iid']}/discussions")
                items += 1
            for mr in get_all(f"/api/v4/projects/{pid}/merge_requests"):
                get_all(f"/api/v4/projects/{pid}/merge_requests/{mr['iid']}/discussions")
                get_all(f"/api/v4/projects/{pid}/merge_requests/{mr['iid']}/diffs")
                items += 1
    wall = time.perf_counter() - started
    return {"wall_seconds": round(wall, 2), "requests": requests, "items": items,
            "items_per_second": round(items / wall, 1)}


class SimProcess:
    """The simulator in its own process, as a real GitLab would be (no shared GIL)."""

    def __init__(self, preset: str, latency_ms: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lore.sim", "serve", "--preset", preset, "--seed", "1",
             "--port", "0", "--latency-ms", str(latency_ms)],
            stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.url: str = info["url"]
        self.token: str = info["token"]

    def get(self, path: str) -> Any:
        return httpx.get(f"{self.url}{path}", timeout=30).json()

    def stats(self) -> dict[str, Any]:
        return dict(self.get("/__sim/stats"))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def lore_sync(cfg: config_mod.Config, data_dir: Path, sim: SimProcess) -> dict[str, Any]:
    before = sim.stats()["requests"]
    started = time.perf_counter()
    report = run_pipeline(cfg, data_dir, SyncOptions(embed=False))
    wall = time.perf_counter() - started
    served = sim.stats()["requests"] - before
    items = sum(s.items_updated for s in report.stages if s.stage in ("issues", "mrs"))
    return {"wall_seconds": round(wall, 3), "requests": served, "items_updated": items,
            "items_per_second": round(items / wall, 1) if wall else None,
            "outcome": report.outcome,
            "requests_per_project": round(served / len(cfg.projects), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    sim = SimProcess(args.preset, args.latency_ms)
    try:
        projects = [p["path"] for p in sim.get("/__sim/projects")]
        os.environ[TOKEN_VAR] = sim.token
        cfg = config_mod.build(sim.url, projects, TOKEN_VAR, extra={
            "sync": {"concurrency": args.concurrency}, "embedding": {"provider": "none"}})
        counts = {k: v for k, v in sim.stats().items() if isinstance(v, int) and k != "requests"}
        with tempfile.TemporaryDirectory() as tmp:
            initial = lore_sync(cfg, Path(tmp), sim)
            noop = lore_sync(cfg, Path(tmp), sim)
        base = None if args.skip_baseline else baseline(sim.url, sim.token, projects)
    finally:
        sim.stop()
    result: dict[str, Any] = {
        "benchmark": "sync", "preset": args.preset, "latency_ms": args.latency_ms,
        "concurrency": args.concurrency, "dataset": counts, "projects": len(projects),
        "initial_sync": initial, "noop_sync": noop, "sequential_baseline": base,
    }
    if base:
        result["speedup_vs_baseline"] = round(base["wall_seconds"] / initial["wall_seconds"], 2)
    result["targets"] = {
        "speedup_vs_baseline >= 4": result.get("speedup_vs_baseline", 0) >= 4 if base else None,
        "noop_sync wall < 1s": noop["wall_seconds"] < 1.0,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
