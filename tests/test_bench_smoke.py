"""Every benchmark script still runs and prints the JSON document its README promises.

Each runs on a tiny workload, in a subprocess, with this test's HOME and data dir; the
figures themselves are never asserted (speed is measured in bench/, not in tests), only
that they are there and have the right shape.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run_bench(script: str, *args: str, tmp_path: Path, timeout: float = 600) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LORE_", "GITLAB_"))}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        LORE_DATA_DIR=str(tmp_path / "data"),
        LORE_CONFIG_PATH=str(tmp_path / "config.json"),
        TMPDIR=str(tmp_path),
    )
    (tmp_path / "home").mkdir()
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _positive(figures: dict[str, Any], *keys: str) -> None:
    for key in keys:
        assert isinstance(figures[key], int | float) and figures[key] > 0, (key, figures)


@pytest.mark.xdist_group("bench")
def test_startup(tmp_path: Path) -> None:
    doc = run_bench("startup.py", "--runs", "2", "--search-docs", "300", tmp_path=tmp_path)
    assert doc["benchmark"] == "startup"
    for name in ("python -c pass", "lore --version", "lore --robot robot-docs"):
        _positive(doc["results"][name], "median_ms", "p95_ms", "min_ms")
    search = doc["results"]["search"]
    for name in (
        "lore --robot search (lexical)",
        "lore --robot search (hybrid)",
        "python sqlite3, raw FTS5 query",
    ):
        _positive(search[name], "median_ms", "p95_ms", "min_ms")
    # the lexical path never loads the vector or HTTP libraries; the hybrid one no httpx
    assert not any(search["importtime lexical"]["loaded"][m] for m in ("numpy", "httpx", "usearch"))
    assert not search["importtime hybrid"]["loaded"]["httpx"]
    assert search["importtime hybrid"]["loaded"]["numpy"]


@pytest.mark.xdist_group("bench")
def test_service(tmp_path: Path) -> None:
    doc = run_bench("service.py", "--runs", "2", tmp_path=tmp_path)
    paths = {
        "service run (paused)",
        "service run (backoff)",
        "service run (locked)",
        "service status (robot)",
        "service status (human)",
    }
    assert paths <= set(doc["results"]) and set(doc["met"]) == paths
    for name in paths:
        _positive(doc["results"][name], "median_ms")
        assert doc["heavy_imports"][name] == []  # the skip paths stay light


@pytest.mark.xdist_group("bench")
def test_search(tmp_path: Path) -> None:
    doc = run_bench(
        "search.py",
        "--docs",
        "400",
        "--dim",
        "32",
        "--queries",
        "5",
        "--ann-chunks",
        "2000",
        tmp_path=tmp_path,
    )
    assert doc["store"]["documents"] == 400
    for mode in ("lexical", "semantic_precomputed_vector", "hybrid_precomputed_vector"):
        _positive(doc["results"][mode], "p50_ms", "p95_ms")
        assert doc["results"][mode]["n"] == 5
    assert set(doc["targets"]) == {
        "lexical_p50_under_10ms",
        "hybrid_p50_under_50ms",
        "lexical_within_3x_of_raw_same_queries",
        "ann_p50_under_20ms",
        "ann_recall_at_10_at_least_0.95",
    }
    _positive(doc["baseline"]["lexical_like_scan"], "p50_ms")
    _positive(doc["baseline"]["fts5_raw_same_queries"], "p50_ms")
    ann = doc["results"]["ann_store"]
    assert ann["chunks"] == 2000 and 0 <= ann["recall_at_10"] <= 1
    _positive(ann["ann_top10"], "p50_ms")


@pytest.mark.xdist_group("bench")
def test_sync(tmp_path: Path) -> None:
    doc = run_bench(
        "sync.py",
        "--preset",
        "small",
        "--latency-ms",
        "0",
        "--churn-percent-per-minute",
        "300",
        tmp_path=tmp_path,
    )
    _positive(doc["initial_sync"], "wall_seconds", "requests")
    _positive(doc["noop_sync"], "requests")
    assert doc["noop_sync"]["requests"] < doc["initial_sync"]["requests"]
    churn = doc["churn"]
    _positive(churn["sync_under_churn"], "wall_seconds", "requests")
    assert churn["churn"]["edits"] > 0
    assert churn["difference"] == 0, churn["mirror_vs_upstream"]
    _positive(doc["sequential_baseline"], "wall_seconds")
    assert "speedup_vs_baseline" in doc


@pytest.mark.xdist_group("bench")
def test_graphql_pages(tmp_path: Path) -> None:
    doc = run_bench(
        "graphql_pages.py", "--issues", "160", "--limits", "none,200", tmp_path=tmp_path
    )
    unlimited, limited = doc["cases"]
    assert unlimited["complexity_limit"] is None and limited["complexity_limit"] == 200
    for case in (unlimited, limited):
        assert case["changed_issues"] == 160 and case["statuses_wrong"] == 0
        _positive(case, "requests", "per_1000_changed")
        # GitLab's rule: iids-filtered pages cost the same at any size, so no shrinking
        # under the lowest real limit: one probe and two batches of at most 100 iids.
        assert case["shrinks"] == 0 and case["requests"] == 3, case


@pytest.mark.xdist_group("bench")
def test_who_accuracy(tmp_path: Path) -> None:
    doc = run_bench("who_accuracy.py", "--preset", "small", "--repeat", "1", tmp_path=tmp_path)
    assert doc["sync"][0]["outcome"] == "success" and doc["areas"] > 0
    assert set(doc["accuracy"]) == {"exponential", "linear", "none"}
    _positive(doc["latency"]["who_path"], "p50_ms")


@pytest.mark.xdist_group("bench")
def test_sim_server(tmp_path: Path) -> None:
    doc = run_bench(
        "sim_server.py",
        "--presets",
        "small",
        "--requests",
        "20",
        "--repeat",
        "1",
        tmp_path=tmp_path,
    )
    assert doc["benchmark"] == "sim_server"
    assert doc["throughput"]["preset"] == "small"
    for route in ("version", "issues_page_100", "mr_discussions"):
        _positive(doc["throughput"][route], "requests_per_second", "ms_per_request")
