"""Cold-start benchmark: `lore --version` and `lore --robot robot-docs` against
`python -c pass`, in the same run. Prints one JSON document.

Usage: .venv/bin/python bench/startup.py [--runs 30]
Target: `lore --version` under 80 ms median.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from benchkit import measure

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HOME=tmp, LORE_DATA_DIR=f"{tmp}/data",
                   LORE_CONFIG_PATH=f"{tmp}/config.json")
        lore = str(BIN / "lore")
        results = {
            "python -c pass": measure([sys.executable, "-c", "pass"], args.runs, env),
            "lore --version": measure([lore, "--version"], args.runs, env),
            "lore --robot robot-docs": measure([lore, "--robot", "robot-docs"], args.runs, env),
        }
    base = results["python -c pass"]["median_ms"]
    for figures in results.values():
        figures["over_python_ms"] = round(figures["median_ms"] - base, 1)
    print(json.dumps({
        "benchmark": "startup",
        "runs": args.runs,
        "results": results,
        "targets": {"lore --version median_ms": 80},
        "met": {"lore --version": results["lore --version"]["median_ms"] < 80},
    }, indent=2))


if __name__ == "__main__":
    main()
