"""Sync benchmark: initial and no-op `lore sync` of a simulator preset with injected
latency, against a sequential baseline that fetches the same data one request at a time
(the way a plain python-gitlab script would). Prints one JSON document.

Usage: .venv/bin/python bench/sync.py [--preset medium] [--latency-ms 20] [--skip-baseline]
                                       [--churn-percent-per-minute 1] [--skip-churn]
Targets: initial sync >= 4x faster than the baseline; a no-op sync makes a constant number
of requests per project and finishes in under 1 s.

The churn run (issue 9) syncs a fresh mirror while the simulator edits the given share of
all items per minute and moves an item to the end of the list on every other page read,
then a ``--full`` under the same churn; after the edits stop, one sync with the regular
reconciliation due. It reports requests and time of each, and the mirror-vs-upstream
difference, which must be 0 (nothing missing, nothing live deleted, every updated_at,
note count and note id equal).
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

    def post(self, path: str, body: Any) -> Any:
        return httpx.post(f"{self.url}{path}", json=body, timeout=30).json()

    def delete(self, path: str) -> Any:
        return httpx.delete(f"{self.url}{path}", timeout=30).json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def lore_sync(cfg: config_mod.Config, data_dir: Path, sim: SimProcess,
              full: bool = False) -> dict[str, Any]:
    before = sim.stats()["requests"]
    started = time.perf_counter()
    report = run_pipeline(cfg, data_dir, SyncOptions(embed=False, full=full))
    wall = time.perf_counter() - started
    served = sim.stats()["requests"] - before
    items = sum(s.items_updated for s in report.stages if s.stage in ("issues", "mrs"))
    return {"wall_seconds": round(wall, 3), "requests": served, "items_updated": items,
            "items_per_second": round(items / wall, 1) if wall else None,
            "outcome": report.outcome,
            "requests_per_project": round(served / len(cfg.projects), 1)}


def churn_run(cfg: config_mod.Config, sim: SimProcess, items: int,
              percent_per_minute: float) -> dict[str, Any]:
    """Initial sync and --full under churn, then a settling sync; the mirror vs the truth."""
    import sqlite3

    from lore.sim.truth import compare_mirror

    rate = max(0.05, items * percent_per_minute / 100 / 60)  # edits per second
    out: dict[str, Any] = {"edits_per_second": round(rate, 2),
                           "percent_per_minute": percent_per_minute}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        sim.post("/__sim/listing_hook", {"route": "issues", "every_pages": 2})
        sim.post("/__sim/churn", {"edits_per_second": rate, "seed": 5})
        try:
            out["sync_under_churn"] = lore_sync(cfg, data_dir, sim)
            sim.post("/__sim/listing_hook", {"route": "merge_requests", "every_pages": 2})
            out["full_under_churn"] = lore_sync(cfg, data_dir, sim, full=True)
        finally:
            out["churn"] = sim.delete("/__sim/churn")
            sim.delete("/__sim/listing_hook")
        db = data_dir / "lore.db"
        out["lost_after_churn"] = {k: v for k, v in compare_mirror(
            db, sim.get("/__sim/snapshot")).items() if k.endswith((".missing", ".extra"))}
        conn = sqlite3.connect(db)
        with conn:  # the daily reconciliation is due
            conn.execute("UPDATE kv SET value = json_set(value, '$.at', "
                         "'2000-01-01T00:00:00.000Z') WHERE key LIKE 'reconcile:%'")
        conn.close()
        out["settling_sync"] = lore_sync(cfg, data_dir, sim)
        diffs = compare_mirror(db, sim.get("/__sim/snapshot"))
    out["mirror_vs_upstream"] = diffs
    out["difference"] = sum(len(v) for v in diffs.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--churn-percent-per-minute", type=float, default=1.0,
                        help="share of all items edited per minute in the churn run")
    parser.add_argument("--skip-churn", action="store_true")
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
            # The next scheduled run comes minutes later. It reads once more the items the
            # initial sync read within a minute of their last update (GitLab's touch
            # throttle may have hidden a note from updated_at); the run after that is the
            # no-op.
            sim.post("/__sim/clock", {"advance_seconds": 120})
            recheck = lore_sync(cfg, Path(tmp), sim)
            noop = lore_sync(cfg, Path(tmp), sim)
        base = None if args.skip_baseline else baseline(sim.url, sim.token, projects)
        churn = None if args.skip_churn else churn_run(
            cfg, sim, counts.get("issues", 0) + counts.get("merge_requests", 0),
            args.churn_percent_per_minute)
    finally:
        sim.stop()
    result: dict[str, Any] = {
        "benchmark": "sync", "preset": args.preset, "latency_ms": args.latency_ms,
        "concurrency": args.concurrency, "dataset": counts, "projects": len(projects),
        "initial_sync": initial, "recheck_sync": recheck, "noop_sync": noop,
        "sequential_baseline": base,
        "churn": churn,
    }
    if base:
        result["speedup_vs_baseline"] = round(base["wall_seconds"] / initial["wall_seconds"], 2)
    result["targets"] = {
        "speedup_vs_baseline >= 4": result.get("speedup_vs_baseline", 0) >= 4 if base else None,
        "noop_sync wall < 1s": noop["wall_seconds"] < 1.0,
        "churn mirror_vs_upstream == 0": churn["difference"] == 0 if churn else None,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
