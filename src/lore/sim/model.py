"""The simulator's in-memory dataset: plain slotted dataclasses plus indexes.

Timestamps are stored as epoch milliseconds (UTC) and rendered to GitLab's ISO form only
on the way out (``render.py``). Every mutation goes through :class:`Dataset` helpers or
``admin.py`` while holding ``Dataset.lock``; the HTTP handlers take the same lock to read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache


@lru_cache(maxsize=1 << 19)
def iso_ms(ms: int) -> str:
    """Epoch milliseconds → ``2025-03-04T10:11:12.345Z`` (GitLab's timestamp form)."""
    # Cached: the same timestamps are rendered again on every page a client fetches.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def parse_iso_ms(text: str) -> int:
    """Parse an ISO-8601 timestamp (``Z``, offset, naive = UTC, or a bare date) to epoch ms."""
    value = text.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


@lru_cache(maxsize=1 << 16)
def date_str(ms: int) -> str:
    """Epoch ms → ``YYYY-MM-DD`` (UTC)."""
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


@dataclass(slots=True)
class User:
    id: int
    username: str
    name: str
    bot: bool = False
    state: str = "active"
    activity: float = 1.0  # relative activity weight (Zipf-like); bots and root get 0
    created_ms: int = 0


@dataclass(slots=True)
class Group:
    id: int
    name: str
    path: str
    full_path: str
    parent_id: int | None = None


@dataclass(slots=True)
class Area:
    """A directory of a project's source tree with a known owner (ground truth)."""

    path: str  # "src/auth/"
    vocab: str
    files: list[str]
    owner_id: int  # the current owner
    reviewer_ids: tuple[int, ...]
    previous_owner_id: int | None = None
    handover_ms: int | None = None

    def owner_at(self, ms: int) -> int:
        """Who owned the area at a moment in time."""
        if self.handover_ms is not None and self.previous_owner_id is not None:
            return self.previous_owner_id if ms < self.handover_ms else self.owner_id
        return self.owner_id

    def excluded_at(self, ms: int) -> int | None:
        """The owner who must not contribute at that time (the other side of a handover)."""
        if self.handover_ms is None or self.previous_owner_id is None:
            return None
        return self.owner_id if ms < self.handover_ms else self.previous_owner_id


@dataclass(slots=True)
class Milestone:
    id: int
    iid: int
    title: str
    description: str
    state: str  # active | closed
    created_ms: int
    updated_ms: int
    start_date: str
    due_date: str
    project_id: int | None = None
    group_id: int | None = None
    web_path: str = ""  # "acme/platform/-/milestones/3" or "groups/acme/-/milestones/2"


@dataclass(slots=True)
class Position:
    base_sha: str
    start_sha: str
    head_sha: str
    old_path: str
    new_path: str
    old_line: int | None
    new_line: int | None
    # A multi-line diff note: ((old, new) of the first line, (old, new) of the last line).
    # None means a single-line note: rendered with start == end (as the web UI stores it),
    # or as ``"line_range": null`` when ``null_line_range`` (created through the API).
    line_range: tuple[tuple[int | None, int | None], tuple[int | None, int | None]] | None = None
    null_line_range: bool = False


@dataclass(slots=True)
class Note:
    id: int
    author_id: int
    body: str
    created_ms: int
    updated_ms: int
    system: bool = False
    type: str | None = None  # None | "DiscussionNote" | "DiffNote"
    resolvable: bool = False
    resolved: bool = False
    resolved_ms: int | None = None
    position: Position | None = None
    internal: bool = False


@dataclass(slots=True)
class Discussion:
    id: str  # 40 hex chars
    individual_note: bool
    notes: list[Note]


@dataclass(slots=True)
class DiffFile:
    old_path: str
    new_path: str
    diff: str
    new_file: bool = False
    renamed_file: bool = False
    deleted_file: bool = False
    a_mode: str = "100644"
    b_mode: str = "100644"
    # (old_line, new_line) pairs a diff note may point at; not rendered.
    anchors: list[tuple[int | None, int | None]] = field(default_factory=list)


@dataclass(slots=True)
class Issue:
    id: int
    iid: int
    project_id: int
    title: str
    description: str | None
    state: str  # opened | closed
    author_id: int
    created_ms: int
    updated_ms: int
    closed_ms: int | None = None
    closed_by_id: int | None = None
    labels: list[str] = field(default_factory=list)
    assignee_ids: list[int] = field(default_factory=list)
    milestone_id: int | None = None
    due_date: str | None = None
    confidential: bool = False
    discussion_locked: bool | None = None
    status_index: int | None = None  # index into vocab.STATUSES
    upvotes: int = 0
    downvotes: int = 0
    weight: int | None = None
    area: str | None = None  # area path this issue is about (generation detail)
    discussions: list[Discussion] = field(default_factory=list)
    issue_type: str = "issue"  # issue | incident | task | test_case
    moved_to_id: int | None = None  # a closed issue moved to another one (its global id)


@dataclass(slots=True)
class MergeRequest:
    id: int
    iid: int
    project_id: int
    title: str
    description: str | None
    state: str  # opened | closed | merged | locked
    author_id: int
    created_ms: int
    updated_ms: int
    source_branch: str
    target_branch: str
    sha: str
    base_sha: str
    start_sha: str
    closed_ms: int | None = None
    closed_by_id: int | None = None
    merged_ms: int | None = None
    merged_by_id: int | None = None
    merge_commit_sha: str | None = None
    labels: list[str] = field(default_factory=list)
    assignee_ids: list[int] = field(default_factory=list)
    reviewer_ids: list[int] = field(default_factory=list)
    milestone_id: int | None = None
    draft: bool = False
    squash: bool = False
    discussion_locked: bool | None = None
    upvotes: int = 0
    downvotes: int = 0
    area: str | None = None
    diffs: list[DiffFile] = field(default_factory=list)
    discussions: list[Discussion] = field(default_factory=list)


@dataclass(slots=True)
class Project:
    id: int
    path: str  # path_with_namespace, e.g. "acme/tools/cli"
    name: str
    description: str
    language: str
    team: str
    namespace: Group
    created_ms: int
    areas: list[Area]
    files: list[str]
    default_branch: str = "main"
    issues: dict[int, Issue] = field(default_factory=dict)  # by iid; deleted ones removed
    mrs: dict[int, MergeRequest] = field(default_factory=dict)
    milestone_ids: list[int] = field(default_factory=list)
    next_issue_iid: int = 1
    next_mr_iid: int = 1
    last_activity_ms: int = 0
    # "enabled" | "private" (members only) | "disabled"; not enabled → the MR API is 403.
    merge_requests_access_level: str = "enabled"

    @property
    def slug(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(slots=True)
class TruthArea:
    project: str
    path: str
    current_owner: str
    previous_owner: str | None
    handover_at: str | None
    reviewers: list[str]

    def as_dict(self) -> dict[str, object]:
        return {
            "project": self.project,
            "path": self.path,
            "current_owner": self.current_owner,
            "previous_owner": self.previous_owner,
            "handover_at": self.handover_at,
            "reviewers": list(self.reviewers),
        }


@dataclass
class Dataset:
    """Everything the simulator serves. Hold ``lock`` while reading or mutating."""

    seed: int
    preset: str
    now_ms: int  # the simulator clock
    users: dict[int, User]
    groups: dict[int, Group]
    projects: list[Project]
    milestones: dict[int, Milestone]
    truth_areas: list[TruthArea]
    token_user_id: int
    next_ids: dict[str, int]  # "issue", "mr", "note", "milestone" → next global id
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    last_stamp_ms: int = 0
    users_by_name: dict[str, User] = field(default_factory=dict)
    projects_by_id: dict[int, Project] = field(default_factory=dict)
    projects_by_path: dict[str, Project] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        self.users_by_name = {u.username: u for u in self.users.values()}
        self.projects_by_id = {p.id: p for p in self.projects}
        self.projects_by_path = {p.path.lower(): p for p in self.projects}

    # --- lookups ------------------------------------------------------------------------

    def find_project(self, ref: str | int) -> Project | None:
        """A project by numeric id or by (already URL-decoded) full path."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return self.projects_by_id.get(int(ref))
        return self.projects_by_path.get(ref.strip("/").lower())

    def user(self, user_id: int) -> User:
        return self.users[user_id]

    @property
    def truth(self) -> dict[str, list[dict[str, object]]]:
        """Ground truth for expert scoring, same shape as ``GET /__sim/truth``."""
        return {"areas": [a.as_dict() for a in self.truth_areas]}

    # --- clock and ids ------------------------------------------------------------------

    def stamp(self) -> int:
        """A timestamp for an edit: the clock, strictly after the previous stamp.

        Each stamp moves the clock forward by at least 1 ms so successive edits are
        strictly ordered even while the clock is otherwise frozen.
        """
        with self.lock:
            ms = max(self.now_ms, self.last_stamp_ms + 1)
            self.last_stamp_ms = ms
            self.now_ms = ms
            return ms

    def next_id(self, kind: str) -> int:
        with self.lock:
            value = self.next_ids[kind]
            self.next_ids[kind] = value + 1
            return value

    def counts(self) -> dict[str, int]:
        """Sizes of the dataset as served right now."""
        with self.lock:
            issues = sum(len(p.issues) for p in self.projects)
            mrs = sum(len(p.mrs) for p in self.projects)
            discussions = 0
            notes = 0
            for p in self.projects:
                items: list[Issue | MergeRequest] = [*p.issues.values(), *p.mrs.values()]
                for item in items:
                    discussions += len(item.discussions)
                    for d in item.discussions:
                        notes += len(d.notes)
            return {
                "projects": len(self.projects),
                "users": len(self.users),
                "issues": issues,
                "merge_requests": mrs,
                "discussions": discussions,
                "notes": notes,
                "milestones": len(self.milestones),
            }
