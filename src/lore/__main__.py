"""`python -m lore` runs the CLI."""

from lore.cli.app import main

if __name__ == "__main__":
    raise SystemExit(main())
