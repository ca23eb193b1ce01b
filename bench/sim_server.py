"""Simulator benchmark: start-up time per preset (generation included) and request
throughput over keep-alive HTTP. Prints one JSON document.

Usage: .venv/bin/python bench/sim_server.py [--presets small,medium,large] [--seed 7]
                                            [--requests 200] [--repeat 3]

``start_seconds`` is the best of ``--repeat`` runs of ``Simulator.start`` (dataset
generation, binding, thread start) for each preset. Throughput is measured on the first
preset with one httpx client (one pooled connection) for three routes: ``/version``
(the HTTP floor), an issues page of 100, and an MR discussions page.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx

from lore.sim.server import Simulator


def start_time(preset: str, seed: int, repeat: int) -> dict[str, Any]:
    best = float("inf")
    counts: dict[str, int] = {}
    for _ in range(repeat):
        started = time.perf_counter()
        sim = Simulator.start(preset=preset, seed=seed)
        best = min(best, time.perf_counter() - started)
        counts = sim.dataset.counts()
        sim.stop()
    return {"preset": preset, "start_seconds": round(best, 3), "counts": counts}


def throughput(sim: Simulator, requests: int) -> dict[str, Any]:
    project = sim.dataset.projects[0]
    mr_iid = next(iter(project.mrs))
    routes = {
        "version": "/api/v4/version",
        "issues_page_100": f"/api/v4/projects/{project.id}/issues?per_page=100",
        "mr_discussions": f"/api/v4/projects/{project.id}/merge_requests/{mr_iid}/discussions",
    }
    out: dict[str, Any] = {}
    with httpx.Client(base_url=sim.url, headers={"PRIVATE-TOKEN": sim.token}) as client:
        client.get(routes["version"])
        for name, path in routes.items():
            started = time.perf_counter()
            for _ in range(requests):
                client.get(path).raise_for_status()
            elapsed = time.perf_counter() - started
            out[name] = {
                "ms_per_request": round(elapsed / requests * 1000, 3),
                "requests_per_second": round(requests / elapsed, 1),
            }
    out["connections"] = sim.stats()["connections"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="small,medium,large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    starts = [start_time(p, args.seed, args.repeat if p != "large" else 1) for p in presets]
    sim = Simulator.start(preset=presets[0], seed=args.seed)
    try:
        rates = throughput(sim, args.requests)
    finally:
        sim.stop()
    json.dump(
        {"benchmark": "sim_server", "start": starts, "throughput": {"preset": presets[0], **rates}},
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
