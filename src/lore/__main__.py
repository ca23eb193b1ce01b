"""`python -m lore` runs the CLI."""

from lore.cli.entry import main

if __name__ == "__main__":
    raise SystemExit(main())
