"""``python -m lore.sim serve [...]``: run the GitLab simulator in the foreground.

Prints exactly one JSON line to stdout once listening —
``{"url": "...", "token": "...", "preset": "...", "counts": {...}}`` — then serves
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from lore.sim.versions import DEFAULT_VERSION


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lore.sim", description="GitLab simulator for lore."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a generated dataset on loopback")
    serve.add_argument("--preset", choices=("small", "medium", "large"), default="small")
    serve.add_argument("--seed", type=int, default=7)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--latency-ms", type=int, default=0)
    serve.add_argument("--token", default=None, help="accepted token (random by default)")
    serve.add_argument("--now", default=None, help="dataset clock, ISO-8601 (default: now)")
    serve.add_argument(
        "--fault-rate", type=float, default=None, help="probability of a fault on every API request"
    )
    serve.add_argument(
        "--fault-kinds",
        default="500,502,503,429",
        help="comma-separated kinds used with --fault-rate",
    )
    serve.add_argument("--fault-seed", type=int, default=1)
    for knob, kind in (
        ("projects", int),
        ("issues", int),
        ("mrs", int),
        ("notes-per-item", float),
        ("people", int),
        ("files", int),
    ):
        serve.add_argument(f"--{knob}", type=kind, default=None)
    serve.add_argument(
        "--no-work-item-status",
        action="store_true",
        help="answer like an instance without the work-item status widget",
    )
    serve.add_argument(
        "--complexity-limit", type=int, default=250, help="GraphQL max complexity (0 disables)"
    )
    serve.add_argument(
        "--gitlab-version",
        default=DEFAULT_VERSION,
        help="GitLab release to behave as: MAJOR.MINOR[-ee|-ce], e.g. 15.6, "
        f"16.11, 17.5-ee, 18.5-ee (default {DEFAULT_VERSION})",
    )
    serve.add_argument(
        "--mrs-disabled",
        action="append",
        default=[],
        metavar="PROJECT",
        help="a project path whose merge requests are disabled (403); repeatable",
    )
    serve.add_argument(
        "--diff-max-files",
        type=int,
        default=1000,
        help="GitLab's per-MR diff file limit (default 1000)",
    )
    serve.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate from a fresh test CA (its PEM "
        "file is printed as ca_bundle; needs the trustme package)",
    )
    serve.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        metavar="N/SECONDS",
        help="GitLab's request throttle: N requests per SECONDS window, with "
        "RateLimit-* headers on every answer (e.g. 600/60)",
    )
    return parser


def _rate_limit(text: str) -> tuple[int, int]:
    limit, _, period = text.partition("/")
    try:
        pair = int(limit), int(period or 60)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N/SECONDS, e.g. 600/60") from None
    if pair[0] < 1 or pair[1] < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: both numbers must be positive")
    return pair


def serve(args: argparse.Namespace) -> int:
    from lore.sim.server import Simulator, dumps_line

    faults: Any = None
    if args.fault_rate:
        kinds = [k.strip() for k in args.fault_kinds.split(",") if k.strip()]
        faults = {
            "rules": [{"route": "*", "kinds": kinds, "rate": args.fault_rate, "retry_after": 1}],
            "seed": args.fault_seed,
        }
    knobs = {
        k: getattr(args, k)
        for k in ("projects", "issues", "mrs", "notes_per_item", "people", "files")
        if getattr(args, k) is not None
    }
    try:
        sim = Simulator.start(
            preset=args.preset,
            seed=args.seed,
            port=args.port,
            host=args.host,
            latency_ms=args.latency_ms,
            token=args.token,
            now=args.now,
            faults=faults,
            work_item_status=not args.no_work_item_status,
            complexity_limit=args.complexity_limit or None,
            gitlab_version=args.gitlab_version,
            mrs_disabled=tuple(args.mrs_disabled),
            diff_max_files=args.diff_max_files,
            tls=args.tls,
            rate_limit=args.rate_limit,
            **knobs,
        )
    except ImportError as exc:
        print(f"lore.sim: --tls needs the trustme package ({exc})", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as exc:
        print(f"lore.sim: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    summary = sim.summary()
    if sim.ca_bundle is not None:
        summary["ca_bundle"] = sim.ca_bundle
    sys.stdout.write(dumps_line(summary) + "\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
