"""Filters for listing issues and merge requests, and parsing of user-written times."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lore.core.clock import iso_from_ms, ms_from_iso
from lore.core.errors import ErrorCode, LoreError

KINDS: tuple[str, ...] = ("issue", "mr")
#: Valid ``--state`` values per kind; "all" disables the state filter.
STATES: dict[str, tuple[str, ...]] = {
    "issue": ("opened", "closed", "all"),
    "mr": ("opened", "closed", "merged", "locked", "all"),
}
#: What gh/glab users type, mapped to GitLab's spelling.
STATE_ALIASES: dict[str, str] = {"open": "opened", "close": "closed", "merge": "merged"}
SORTS: tuple[str, ...] = ("updated", "created", "iid")
DEFAULT_LIMIT = 50
#: GitLab's issue types (``issue_type``), the ones ``--type`` offers first. Kept in step with
#: lore.store.ingest.ISSUE_TYPES (a test checks); not imported so `--help` stays light.
ISSUE_TYPES: tuple[str, ...] = (
    "issue",
    "incident",
    "task",
    "test_case",
    "requirement",
    "objective",
    "key_result",
)
#: Types `lore issues` hides unless asked for, as GitLab's issue list hides tasks.
HIDDEN_BY_DEFAULT: tuple[str, ...] = ("task",)

_RELATIVE_RE = re.compile(r"^(\d+)\s*(h|hours?|d|days?|w|weeks?|m|mo|months?|y|years?)$", re.I)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

SINCE_HELP = "a relative age like 12h, 7d, 2w, 6m, 1y, or a date/time like 2025-03-01 (UTC)"


@dataclass
class ItemFilters:
    """What ``lore issues`` / ``lore mrs`` filter, sort and limit by.

    ``since`` is a canonical ISO timestamp (see :func:`parse_since`); user names may be
    given with or without ``@``; labels must all match; ``projects`` are paths (or
    unambiguous last segments) resolved against the mirror.
    """

    state: str = "opened"
    labels: list[str] = field(default_factory=list)
    author: str | None = None
    assignee: str | None = None
    reviewer: str | None = None  # merge requests only
    milestone: str | None = None
    since: str | None = None
    status: str | None = None  # issues only (work-item status name)
    status_category: str | None = None  # issues only
    draft: bool | None = None  # merge requests only; None = both
    projects: list[str] = field(default_factory=list)
    search: str | None = None  # case-insensitive title substring
    types: list[str] = field(default_factory=list)  # issues only: issue types; [] = default
    all_types: bool = False  # issues only: also show the types hidden by default (tasks)
    sort: str = "updated"
    ascending: bool = False
    limit: int = DEFAULT_LIMIT

    def validate(self, kind: str) -> None:
        """USAGE_ERROR for values that make no sense for ``kind``."""
        if kind not in KINDS:
            raise ValueError(f"unknown item kind {kind!r}")
        self.state = STATE_ALIASES.get(self.state, self.state)
        if self.state not in STATES[kind]:
            raise _usage(
                f"--state {self.state!r} is not valid for {_plural(kind)}",
                f"Choose one of: {', '.join(STATES[kind])}",
            )
        if self.sort not in SORTS:
            raise _usage(f"--sort {self.sort!r} is not valid", f"Choose one of: {', '.join(SORTS)}")
        if self.limit < 1:
            raise _usage(f"--limit must be at least 1, not {self.limit}", "e.g. --limit 20")
        if kind == "issue" and (self.reviewer or self.draft is not None):
            raise _usage("--reviewer and --draft apply to merge requests only", "Use: lore mrs")
        if kind == "mr" and (self.status or self.status_category):
            raise _usage("--status applies to issues only", "Use: lore issues --status NAME")
        if kind == "mr" and (self.types or self.all_types):
            raise _usage(
                "--type and --all-types apply to issues only", "Use: lore issues --type incident"
            )
        self.types = normalize_issue_types(self.types)
        if self.types and self.all_types:
            raise _usage(
                "--type and --all-types contradict each other: --type picks issue types, "
                "--all-types shows every type",
                "Keep one of them, e.g. --type task or --all-types",
            )

    def hidden_types(self, kind: str) -> tuple[str, ...]:
        """The issue types this list leaves out without being asked (tasks, unless
        ``--type`` or ``--all-types`` says otherwise)."""
        if kind != "issue" or self.types or self.all_types:
            return ()
        return HIDDEN_BY_DEFAULT

    def to_dict(self, kind: str) -> dict[str, Any]:
        """The filters as echoed in robot output (only those that apply to ``kind``)."""
        out: dict[str, Any] = {
            "state": self.state,
            "labels": list(self.labels),
            "author": self.author,
            "assignee": self.assignee,
        }
        if kind == "mr":
            out["reviewer"] = self.reviewer
            out["draft"] = self.draft
        out["milestone"] = self.milestone
        out["since"] = self.since
        if kind == "issue":
            out["status"] = self.status
            out["status_category"] = self.status_category
            out["types"] = list(self.types)
            out["all_types"] = self.all_types
            out["hidden_types"] = list(self.hidden_types(kind))
        out.update(
            projects=list(self.projects),
            search=self.search,
            sort=self.sort,
            order="asc" if self.ascending else "desc",
            limit=self.limit,
        )
        return out


def _plural(kind: str) -> str:
    return "issues" if kind == "issue" else "merge requests"


def _usage(message: str, suggestion: str) -> LoreError:
    return LoreError(ErrorCode.USAGE_ERROR, message, suggestion=suggestion)


def normalize_username(value: str | None) -> str | None:
    """``@alice`` and ``alice`` both mean the user ``alice``; blank means no filter."""
    if value is None:
        return None
    name = value.strip().removeprefix("@").strip()
    return name or None


def normalize_issue_type(value: str, *, flag: str = "--type") -> str:
    """``Incident``, ``test-case`` and ``test case`` are GitLab's ``incident``/``test_case``;
    USAGE_ERROR (with the nearest known type) for anything else."""
    key = "_".join(value.strip().lower().replace("-", " ").split())
    if key in ISSUE_TYPES:
        return key
    if key.endswith("s") and key[:-1] in ISSUE_TYPES:  # "incidents", "tasks"
        return key[:-1]
    import difflib

    close = difflib.get_close_matches(key, ISSUE_TYPES, n=1, cutoff=0.5)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    raise _usage(
        f"{flag} {value!r} is not a GitLab issue type{guess}",
        f"Choose from: {', '.join(ISSUE_TYPES)}",
    )


def normalize_issue_types(
    values: list[str] | tuple[str, ...], *, flag: str = "--type"
) -> list[str]:
    """Repeatable and comma-separated issue types, normalized, without duplicates."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            name = normalize_issue_type(part, flag=flag)
            if name not in out:
                out.append(name)
    return out


def split_labels(values: list[str] | tuple[str, ...]) -> list[str]:
    """Repeatable and comma-separated (GitLab label names cannot contain commas)."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            label = part.strip()
            if label and label not in out:
                out.append(label)
    return out


def _minus_months(moment: datetime, months: int) -> datetime:
    # Calendar months: "6m" on 31 August is 29 February (or 28th), not 184 days back.
    total = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def parse_since(text: str, now_ms: int, *, flag: str = "--since") -> str:
    """A relative age (``12h``, ``7d``, ``2w``, ``6m``, ``1y``) or an ISO date/datetime,
    as the canonical ISO-8601 UTC millisecond timestamp the store uses.

    Dates without a time mean midnight UTC; datetimes without an offset are UTC.
    Anything else is a USAGE_ERROR naming ``flag``.
    """
    value = text.strip()
    m = _RELATIVE_RE.match(value)
    if m:
        amount = int(m.group(1))
        unit = m.group(2).lower()
        now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
        if unit.startswith("h"):
            moment = now - timedelta(hours=amount)
        elif unit.startswith("d"):
            moment = now - timedelta(days=amount)
        elif unit.startswith("w"):
            moment = now - timedelta(weeks=amount)
        elif unit.startswith("m"):
            moment = _minus_months(now, amount)
        else:
            moment = _minus_months(now, 12 * amount)
        return iso_from_ms(int(moment.timestamp() * 1000))
    try:
        if _DATE_RE.match(value):
            return iso_from_ms(ms_from_iso(value + "T00:00:00+00:00"))
        if "T" in value or " " in value:
            return iso_from_ms(ms_from_iso(value))
    except (ValueError, OverflowError, OSError):
        pass
    raise LoreError(
        ErrorCode.USAGE_ERROR,
        f"{flag} {text!r} is neither a date nor a relative age",
        suggestion=f"Use {SINCE_HELP}",
    )
