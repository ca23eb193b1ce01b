"""References to issues and MRs as users write them: ``#12``, ``!34``,
``group/repo#12``, ``group/repo!34``, or a GitLab web URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from lore.core.errors import ErrorCode, LoreError

KIND_SIGIL = {"issue": "#", "mr": "!"}

_SHORT_RE = re.compile(r"^(?:(?P<project>[\w.\-]+(?:/[\w.\-]+)+))?(?P<sigil>[#!])(?P<iid>\d+)$")
_URL_PATH_RE = re.compile(r"^/(?P<project>.+?)/-/(?P<kind>issues|merge_requests)/(?P<iid>\d+)")


@dataclass(frozen=True)
class ItemRef:
    kind: str  # "issue" | "mr"
    iid: int
    project: str | None = None  # None = any configured project

    def __str__(self) -> str:
        return format_ref(self.kind, self.iid, self.project)


def format_ref(kind: str, iid: int, project: str | None = None) -> str:
    """``group/repo#12`` for issues, ``group/repo!34`` for merge requests."""
    return f"{project or ''}{KIND_SIGIL[kind]}{iid}"


def parse_ref(text: str) -> ItemRef:
    """Parse a user-written reference; USAGE_ERROR when it is none of the known forms."""
    value = text.strip()
    m = _SHORT_RE.match(value)
    if m:
        kind = "issue" if m.group("sigil") == "#" else "mr"
        return ItemRef(kind, int(m.group("iid")), m.group("project"))
    if value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        um = _URL_PATH_RE.match(unquote(parts.path))
        if um:
            kind = "issue" if um.group("kind") == "issues" else "mr"
            return ItemRef(kind, int(um.group("iid")), um.group("project"))
    raise LoreError(
        ErrorCode.USAGE_ERROR,
        f"{text!r} is not a reference to an issue or merge request",
        suggestion="Use #12 (issue), !34 (merge request), group/repo#12, or a GitLab web URL",
    )
