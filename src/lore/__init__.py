"""lore: a local, always-fresh mirror of GitLab projects in SQLite."""

import sys as _sys

__version__ = "0.1.0"

# httpx's __init__ imports its command-line client (httpx._main) whenever click and rich
# are installed, as they are with lore: ~110 ms of imports (pygments, rich's markdown…) on
# every command that talks to GitLab, for a CLI lore never runs. A None entry in
# sys.modules makes that one import fail with ImportError, which httpx handles by defining
# a stub `httpx.main`. This is the one place lore does it; it happens before any lore
# module imports httpx, and has no effect if httpx is already imported.
if "httpx" not in _sys.modules:
    _sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
