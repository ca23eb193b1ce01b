"""Cold-start benchmark: `lore --version`, `lore --robot robot-docs` and whole
`lore --robot search` processes (lexical and hybrid) on a large mirror, against
`python -c pass` and the raw FTS5 query in the sqlite3 shell, in the same run; plus
`python -X importtime` of each search path (total import time, the heaviest top-level
imports, and whether numpy, httpx or usearch were loaded). Prints one JSON document.

Usage: .venv/bin/python bench/startup.py [--runs 30] [--search-docs 30000] [--store DIR]

The mirror: ``--search-docs`` synthetic documents built as bench/search.py builds them
(30,000 ≈ the simulator's large preset: 20k issues + 10k MRs, with 384-dimensional
vectors), kept in ``--store`` (reused when it already holds that many). Hybrid processes
embed the query with the fake Ollama (lore.sim.ollama) on 127.0.0.1. ``--search-docs 0``
skips the search processes.

Targets: `lore --version` under 80 ms median; `lore --robot search` lexical under 80 ms
and hybrid under 250 ms on a large mirror.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchkit import measure, process_env

BIN = Path(sys.executable).parent
MODEL = "bench-model"
HEAVY = ("numpy", "httpx", "httpx._main", "usearch", "rich", "msgspec")


def import_profile(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """`python -X importtime` of ``argv`` (a `-m lore …` line): total and top imports."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        env=process_env(env),
        check=False,
    )
    top: list[tuple[int, str]] = []
    loaded: set[str] = set()
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if not match:
            continue
        name = match.group(4)
        loaded.add(name)
        if not match.group(3):  # a top-level import (not imported by another module)
            top.append((int(match.group(2)), name))
    top.sort(reverse=True)
    return {
        "total_import_ms": round(sum(us for us, _ in top) / 1000, 1),
        "top_level": {name: round(us / 1000, 1) for us, name in top[:8]},
        "loaded": {name: name in loaded for name in HEAVY},
    }


def search_processes(store: Path, docs: int, runs: int, env: dict[str, str]) -> dict[str, Any]:
    import random

    import search as search_bench
    from lore.sim.ollama import FakeOllama

    db = store / "lore.db"
    store.mkdir(parents=True, exist_ok=True)
    try:
        built = search_bench.describe_store(db, docs, 384, 42) if db.exists() else None
    except SystemExit:
        built = None
    if built is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        print(f"building {docs} documents in {db} …", file=sys.stderr)
        built = search_bench.build_store(db, docs, 384, 42)
    rng = random.Random(43)
    middle = built["words"][200:4000]
    words = " ".join(rng.sample(middle, 2))
    fake = FakeOllama.start(dim=384, model=MODEL)
    config = store / "startup-config.json"
    config.write_text(
        json.dumps(
            {
                "gitlab": {"baseUrl": "https://gitlab.example.com"},
                "projects": [{"path": "group/project1"}],
                "embedding": {"provider": "ollama", "baseUrl": fake.url, "model": MODEL},
            }
        )
    )
    env = dict(env, LORE_DATA_DIR=str(store), LORE_CONFIG_PATH=str(config))
    lore = str(BIN / "lore")
    out: dict[str, Any] = {
        "documents": built["documents"],
        "chunks": built["chunks"],
        "query": words,
    }
    try:
        lexical = [lore, "--robot", "search", words, "--mode", "lexical"]
        hybrid = [lore, "--robot", "search", words]
        out["lore --robot search (lexical)"] = measure(lexical, runs, env)
        out["lore --robot search (hybrid)"] = measure(hybrid, runs, env)
        fts = json.loads(
            subprocess.run(lexical, capture_output=True, text=True, env=env, check=True).stdout
        )["data"]["fts_query"]
        sql = (
            f"SELECT rowid, rank FROM documents_fts WHERE documents_fts MATCH '{fts}' "
            "AND rank MATCH 'bm25(10.0, 1.0)' ORDER BY rank LIMIT 20;"
        )
        shell = shutil.which("sqlite3")
        if shell:
            out["sqlite3 shell, raw FTS5 query"] = measure([shell, str(db), sql], runs, env)
        out["python sqlite3, raw FTS5 query"] = measure(
            [
                sys.executable,
                "-c",
                f"import sqlite3; sqlite3.connect({str(db)!r}).execute({sql!r}).fetchall()",
            ],
            runs,
            env,
        )
        out["importtime lexical"] = import_profile(["-m", "lore", *lexical[1:]], env)
        out["importtime hybrid"] = import_profile(["-m", "lore", *hybrid[1:]], env)
    finally:
        fake.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--search-docs", type=int, default=30_000)
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="where the search mirror is built or reused (default: a temp dir)",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ, HOME=tmp, LORE_DATA_DIR=f"{tmp}/data", LORE_CONFIG_PATH=f"{tmp}/config.json"
        )
        lore = str(BIN / "lore")
        results: dict[str, Any] = {
            "python -c pass": measure([sys.executable, "-c", "pass"], args.runs, env),
            "lore --version": measure([lore, "--version"], args.runs, env),
            "lore --robot robot-docs": measure([lore, "--robot", "robot-docs"], args.runs, env),
            "importtime --version": import_profile(["-m", "lore", "--version"], env),
        }
        if args.search_docs:
            store = args.store or Path(tmp) / "mirror"
            results["search"] = search_processes(
                store, args.search_docs, max(5, args.runs // 2), env
            )
    base = results["python -c pass"]["median_ms"]
    for figures in [*results.values(), *results.get("search", {}).values()]:
        if isinstance(figures, dict) and "median_ms" in figures:
            figures["over_python_ms"] = round(figures["median_ms"] - base, 1)
    search = results.get("search", {})
    met = {"lore --version": results["lore --version"]["median_ms"] < 80}
    if search:
        met["lore --robot search (lexical) < 80 ms"] = (
            search["lore --robot search (lexical)"]["median_ms"] < 80
        )
        met["lore --robot search (hybrid) < 250 ms"] = (
            search["lore --robot search (hybrid)"]["median_ms"] < 250
        )
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "runs": args.runs,
                "results": results,
                "targets": {
                    "lore --version median_ms": 80,
                    "lore --robot search lexical median_ms": 80,
                    "lore --robot search hybrid median_ms": 250,
                },
                "met": met,
                "machine": {
                    "cpus": os.cpu_count(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
