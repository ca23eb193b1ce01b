"""lore: a local, always-fresh mirror of GitLab projects in SQLite."""

__version__ = "0.1.0"
