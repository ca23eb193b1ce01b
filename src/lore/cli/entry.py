"""The console-script entry point. Kept free of imports so `lore --version` does not pay
for click (about 70 ms on a small machine)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        from lore import __version__

        sys.stdout.write(f"lore {__version__}\n")
        return 0
    from lore.cli.app import main as app_main

    return app_main(args)
