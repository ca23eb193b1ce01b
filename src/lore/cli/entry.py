"""The console-script entry point. Kept free of imports so that `lore --version` and the
scheduler's `lore --robot service run --service-id ID` do not pay for click (about 70 ms
on a small machine)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        from lore import __version__

        sys.stdout.write(f"lore {__version__}\n")
        return 0
    if len(args) <= 5 and "service" in args:
        # What the OS scheduler runs every few minutes: no click, no command tree.
        from lore.cli.service_run import main as scheduled_main
        from lore.cli.service_run import scheduled_argv

        service_id = scheduled_argv(args)
        if service_id is not None:
            return scheduled_main(service_id)
    from lore.cli.app import main as app_main

    return app_main(args)
