"""Sync benchmark: initial and no-op `lore sync` of a simulator preset with injected
latency, against a sequential baseline that fetches the same data one request at a time
(the way a plain python-gitlab script would). Prints one JSON document.

Usage: .venv/bin/python bench/sync.py [--preset medium[,large...]] [--latency-ms 20]
           [--skip-baseline] [--churn-percent-per-minute 1] [--skip-churn]
           [--changed 200] [--rate-limit 2000/60]
Targets: initial sync >= 4x faster than the baseline; a no-op sync makes a constant number
of requests per project and finishes in under 1 s; --full within 1.2x the initial sync;
initial sync within 1.5x the network floor; bytes written within 2x the final database;
peak RSS under 150 MB.

Every measured sync (initial, re-read, no-op, N-changed incremental, --full) runs in a
fresh subprocess, so its CPU seconds (user + sys, every thread), bytes written
(``/proc/self/io`` ``write_bytes``, and ``wchar``) and peak RSS are its own. The child only
uses public entry points (``lore.core.config.build`` and ``lore.sync.pipeline.run_pipeline``),
so ``PYTHONPATH=/tmp/before/src .venv/bin/python bench/sync.py ...`` measures another
checkout of lore with the same bench. The network floor of a sync is
``requests x latency / concurrency``. ``--rate-limit N/SECONDS`` also runs an initial sync
against a simulator with GitLab's request throttle and reports its 429 answers.

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
import resource
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
    return {
        "wall_seconds": round(wall, 2),
        "requests": requests,
        "items": items,
        "items_per_second": round(items / wall, 1),
    }


class SimProcess:
    """The simulator in its own process, as a real GitLab would be (no shared GIL)."""

    def __init__(self, preset: str, latency_ms: int, rate_limit: str | None = None) -> None:
        argv = [
            sys.executable,
            "-m",
            "lore.sim",
            "serve",
            "--preset",
            preset,
            "--seed",
            "1",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
        ]
        if rate_limit:
            argv += ["--rate-limit", rate_limit]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
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

    def patch(self, path: str, body: Any) -> Any:
        return httpx.patch(f"{self.url}{path}", json=body, timeout=30).json()

    def delete(self, path: str) -> Any:
        return httpx.delete(f"{self.url}{path}", timeout=30).json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _proc_io() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/self/io") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                out[key.strip()] = int(value)
    except OSError:
        pass
    return out


def _child(spec_json: str) -> None:
    """One measured sync in this (fresh) process; prints its figures as JSON."""
    spec = json.loads(spec_json)
    os.environ[TOKEN_VAR] = spec["token"]
    cfg = config_mod.build(
        spec["url"],
        spec["projects"],
        TOKEN_VAR,
        extra={"sync": {"concurrency": spec["concurrency"]}, "embedding": {"provider": "none"}},
    )
    io0, ru0 = _proc_io(), resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    report = run_pipeline(cfg, Path(spec["data_dir"]), SyncOptions(embed=False, full=spec["full"]))
    wall = time.perf_counter() - started
    io1, ru1 = _proc_io(), resource.getrusage(resource.RUSAGE_SELF)
    items = sum(s.items_updated for s in report.stages if s.stage in ("issues", "mrs"))
    print(
        json.dumps(
            {
                "wall_seconds": round(wall, 3),
                "cpu_seconds": round(
                    (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 3
                ),
                "write_bytes": io1.get("write_bytes", 0) - io0.get("write_bytes", 0),
                "wchar": io1.get("wchar", 0) - io0.get("wchar", 0),
                "peak_rss_mb": round(ru1.ru_maxrss / 1024, 1),
                "items_updated": items,
                "outcome": report.outcome,
                "client_requests": report.requests,
            }
        )
    )


def lore_sync(
    cfg: config_mod.Config, data_dir: Path, sim: SimProcess, full: bool = False
) -> dict[str, Any]:
    """One `lore sync` (no embeddings) in a fresh process, with the simulator's count of
    the requests it served."""
    before = sim.stats()
    spec = {
        "url": sim.url,
        "token": sim.token,
        "projects": list(cfg.project_paths),
        "concurrency": cfg.sync.concurrency,
        "data_dir": str(data_dir),
        "full": full,
    }
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measured sync failed:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    after = sim.stats()
    served = after["requests"] - before["requests"]
    wall = out["wall_seconds"]
    db = data_dir / "lore.db"
    db_bytes = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    statuses_before = before.get("responses_by_status") or {}
    statuses_after = after.get("responses_by_status") or {}
    out.update(
        {
            "requests": served,
            "items_per_second": round(out["items_updated"] / wall, 1) if wall else None,
            "requests_per_project": round(served / len(cfg.projects), 1),
            "http_429": int(statuses_after.get("429", 0)) - int(statuses_before.get("429", 0)),
            "db_bytes": db_bytes,
            "writes_per_db_byte": round(out["write_bytes"] / db_bytes, 2) if db_bytes else None,
        }
    )
    return out


def with_floor(run: dict[str, Any], latency_ms: int, concurrency: int) -> dict[str, Any]:
    """The run's network floor (requests x latency / concurrency) and its ratio to it."""
    floor = run["requests"] * latency_ms / 1000 / concurrency
    run["network_floor_seconds"] = round(floor, 3)
    run["wall_vs_floor"] = round(run["wall_seconds"] / floor, 2) if floor else None
    return run


def edit_issues(sim: SimProcess, count: int) -> int:
    """Edit ``count`` issues (titles) spread over every project through the admin API."""
    projects = sim.get("/__sim/projects")
    edited = 0
    per_project = max(1, -(-count // max(1, len(projects))))
    for project in projects:
        pid = project["id"]
        for iid in range(1, int(project.get("next_issue_iid") or 1)):
            if edited >= count or iid > per_project:
                break
            body = sim.patch(
                f"/__sim/projects/{pid}/issues/{iid}", {"title": f"edited by the bench #{iid}"}
            )
            if isinstance(body, dict) and "error" not in body:
                edited += 1
    return edited


def churn_run(
    cfg: config_mod.Config, sim: SimProcess, items: int, percent_per_minute: float
) -> dict[str, Any]:
    """Initial sync and --full under churn, then a settling sync; the mirror vs the truth."""
    import sqlite3

    from lore.sim.truth import compare_mirror

    rate = max(0.05, items * percent_per_minute / 100 / 60)  # edits per second
    out: dict[str, Any] = {
        "edits_per_second": round(rate, 2),
        "percent_per_minute": percent_per_minute,
    }
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
        out["lost_after_churn"] = {
            k: v
            for k, v in compare_mirror(db, sim.get("/__sim/snapshot")).items()
            if k.endswith((".missing", ".extra"))
        }
        conn = sqlite3.connect(db)
        with conn:  # the daily reconciliation is due
            conn.execute(
                "UPDATE kv SET value = json_set(value, '$.at', "
                "'2000-01-01T00:00:00.000Z') WHERE key LIKE 'reconcile:%'"
            )
        conn.close()
        out["settling_sync"] = lore_sync(cfg, data_dir, sim)
        diffs = compare_mirror(db, sim.get("/__sim/snapshot"))
    out["mirror_vs_upstream"] = diffs
    out["difference"] = sum(len(v) for v in diffs.values())
    return out


def _config(sim: SimProcess, concurrency: int) -> tuple[config_mod.Config, list[str]]:
    projects = [p["path"] for p in sim.get("/__sim/projects")]
    os.environ[TOKEN_VAR] = sim.token
    cfg = config_mod.build(
        sim.url,
        projects,
        TOKEN_VAR,
        extra={"sync": {"concurrency": concurrency}, "embedding": {"provider": "none"}},
    )
    return cfg, projects


def bench_preset(preset: str, args: argparse.Namespace) -> dict[str, Any]:
    sim = SimProcess(preset, args.latency_ms)
    lat, conc = args.latency_ms, args.concurrency
    try:
        cfg, projects = _config(sim, conc)
        counts = {k: v for k, v in sim.stats().items() if isinstance(v, int) and k != "requests"}
        with tempfile.TemporaryDirectory() as scratch:
            tmp = str(Path(args.keep_dir) / preset) if args.keep_dir else scratch
            Path(tmp).mkdir(parents=True, exist_ok=True)
            initial = with_floor(lore_sync(cfg, Path(tmp), sim), lat, conc)
            # The next scheduled run comes minutes later. It reads once more the items the
            # initial sync read within a minute of their last update (GitLab's touch
            # throttle may have hidden a note from updated_at); the run after that is the
            # no-op.
            sim.post("/__sim/clock", {"advance_seconds": 120})
            recheck = with_floor(lore_sync(cfg, Path(tmp), sim), lat, conc)
            noop = with_floor(lore_sync(cfg, Path(tmp), sim), lat, conc)
            changed: dict[str, Any] | None = None
            if args.changed:
                edited = edit_issues(sim, args.changed)
                sim.post("/__sim/clock", {"advance_seconds": 120})
                changed = with_floor(lore_sync(cfg, Path(tmp), sim), lat, conc)
                changed["edited_issues"] = edited
            full = with_floor(lore_sync(cfg, Path(tmp), sim, full=True), lat, conc)
        base = None if args.skip_baseline else baseline(sim.url, sim.token, projects)
        churn = (
            None
            if args.skip_churn
            else churn_run(
                cfg,
                sim,
                counts.get("issues", 0) + counts.get("merge_requests", 0),
                args.churn_percent_per_minute,
            )
        )
    finally:
        sim.stop()
    limited: dict[str, Any] | None = None
    if args.rate_limit:
        limited_sim = SimProcess(preset, lat, rate_limit=args.rate_limit)
        try:
            limited_cfg, _ = _config(limited_sim, conc)
            with tempfile.TemporaryDirectory() as tmp:
                limited = with_floor(lore_sync(limited_cfg, Path(tmp), limited_sim), lat, conc)
            limited["rate_limit"] = args.rate_limit
            n, _, secs = args.rate_limit.partition("/")
            limited["rate_floor_seconds"] = round(
                max(0, limited["requests"] - int(n)) * int(secs or 60) / int(n), 1
            )
        finally:
            limited_sim.stop()
    result: dict[str, Any] = {
        "benchmark": "sync",
        "preset": preset,
        "latency_ms": lat,
        "concurrency": conc,
        "dataset": counts,
        "projects": len(projects),
        "initial_sync": initial,
        "recheck_sync": recheck,
        "noop_sync": noop,
        "changed_sync": changed,
        "full_sync": full,
        "rate_limited_initial_sync": limited,
        "sequential_baseline": base,
        "churn": churn,
    }
    items = counts.get("issues", 0) + counts.get("merge_requests", 0)
    result["ratios"] = {
        "full_vs_initial_wall": round(full["wall_seconds"] / initial["wall_seconds"], 2),
        "initial_wall_vs_floor": initial["wall_vs_floor"],
        "changed_wall_vs_floor": changed["wall_vs_floor"] if changed else None,
        "initial_writes_per_db_byte": initial["writes_per_db_byte"],
        "initial_cpu_ms_per_item": round(initial["cpu_seconds"] * 1000 / items, 3)
        if items
        else None,
        "requests_per_1000_items": round(initial["requests"] * 1000 / items, 1) if items else None,
    }
    if base:
        result["speedup_vs_baseline"] = round(base["wall_seconds"] / initial["wall_seconds"], 2)
    result["targets"] = {
        "speedup_vs_baseline >= 4": result.get("speedup_vs_baseline", 0) >= 4 if base else None,
        "noop_sync wall < 1s": noop["wall_seconds"] < 1.0,
        "full_sync wall <= 1.2x initial": result["ratios"]["full_vs_initial_wall"] <= 1.2,
        "initial_sync wall <= 1.5x floor": (initial["wall_vs_floor"] or 0) <= 1.5,
        "initial writes <= 2x db": (initial["writes_per_db_byte"] or 0) <= 2,
        "initial peak RSS < 150 MB": initial["peak_rss_mb"] < 150,
        "churn mirror_vs_upstream == 0": churn["difference"] == 0 if churn else None,
    }
    return result


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--preset", default="medium", help="small, medium or large; comma-separated for several"
    )
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--churn-percent-per-minute",
        type=float,
        default=1.0,
        help="share of all items edited per minute in the churn run",
    )
    parser.add_argument("--skip-churn", action="store_true")
    parser.add_argument(
        "--changed",
        type=int,
        default=200,
        help="issues edited before the incremental run (0 skips it)",
    )
    parser.add_argument(
        "--keep-dir",
        default=None,
        metavar="DIR",
        help="keep the main run's mirror in DIR/<preset> (e.g. to time "
        "`lore status` on it) instead of a temporary directory",
    )
    parser.add_argument(
        "--rate-limit",
        default=None,
        metavar="N/SECONDS",
        help="also run an initial sync under the simulator's request "
        "throttle, e.g. 2000/60 like GitLab.com",
    )
    args = parser.parse_args()
    presets = [p.strip() for p in args.preset.split(",") if p.strip()]
    docs = [bench_preset(p, args) for p in presets]
    print(json.dumps(docs[0] if len(docs) == 1 else {"benchmark": "sync", "runs": docs}, indent=2))


if __name__ == "__main__":
    main()
