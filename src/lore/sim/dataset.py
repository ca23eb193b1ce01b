"""Deterministic dataset generator: same preset, seed, knobs and ``now`` → same data.

Shape of what is generated (see ``PRESETS`` for sizes):

- people with Zipf-like activity, plus a few bots (``renovate-bot``, ``gitlab-ci-bot``
  and a project access-token bot ``project_<id>_bot_<hex>``);
- projects under the ``acme`` group (one nested: ``acme/tools/cli``), each with a
  realistic source tree split into *areas* (``src/auth/``, ``src/api/``...);
- merge requests that mostly touch one area, authored mostly by the area's owner and
  reviewed (diff notes) by the area's regular reviewers; about a third of the areas
  changed hands 6–24 months before ``now`` (the ground truth in ``Dataset.truth``);
- issues with markdown descriptions (code blocks, stack traces, some ``\\r\\n``),
  labels, milestones, assignees and a work-item status consistent with their state;
- discussions: individual notes, threads, diff notes positioned on real diff lines,
  and system notes.

Then a second pass, each part from its own seeded random stream (so every field the first
pass generates stays exactly as it was), adds what real instances have and lore must not
drop or trip over:

- ``issue_type``: about 3% incidents, 4% tasks and 2% test cases (the rest ``issue``);
- moved issues: about 4% of closed issues have ``moved_to_id`` (a later issue of the same
  project) and the system note "moved to #N";
- internal notes: some issue comments are ``internal`` (also rendered ``confidential``);
- multi-line diff notes: about a quarter of diff threads span several lines of one hunk
  (``position.line_range`` with distinct start and end anchors); of the single-line ones
  about 30% were made through the API and show ``"line_range": null``;
- stray diff-note paths: about 4% of diff threads sit on a file of the MR's area that is
  not in the MR's current diff list (dropped by a later push);
- wide MRs: about 4% of area MRs touch every file of their area (and its tests), so a low
  ``diff_max_files`` exercises diff overflow even on the small preset.

Every timestamp lies in the two years before ``now`` and strictly before it, so edits
made through the admin API (stamped with the simulator clock) are always newer.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lore.sim import vocab as V
from lore.sim.model import (
    Area,
    Dataset,
    DiffFile,
    Discussion,
    Group,
    Issue,
    MergeRequest,
    Milestone,
    Note,
    Position,
    Project,
    TruthArea,
    User,
    date_str,
    iso_ms,
    parse_iso_ms,
)
from lore.sim.text import TextGen

DAY_MS = 86_400_000
MONTH_MS = int(30.44 * DAY_MS)
HISTORY_MS = 730 * DAY_MS

#: Size knobs per preset. ``issues``/``mrs`` are totals over all projects,
#: ``notes_per_item`` the mean number of notes (system notes included) per issue or MR,
#: ``people`` the number of humans (bots come on top), ``files`` source files per project.
PRESETS: dict[str, dict[str, float]] = {
    "small": {
        "projects": 2,
        "issues": 150,
        "mrs": 80,
        "notes_per_item": 5.8,
        "people": 25,
        "files": 60,
    },
    "medium": {
        "projects": 3,
        "issues": 2000,
        "mrs": 1000,
        "notes_per_item": 10,
        "people": 120,
        "files": 150,
    },
    "large": {
        "projects": 6,
        "issues": 20000,
        "mrs": 10000,
        "notes_per_item": 10,
        "people": 400,
        "files": 300,
    },
}
KNOBS = ("projects", "issues", "mrs", "notes_per_item", "people", "files")

_PROJECT_WEIGHTS = (1.0, 0.75, 0.6, 0.8, 0.5, 0.65)
# Share of an area's MRs (in time order) that come before its handover: above one half the
# previous owner ends up with more total contributions than the new one.
_OLD_DOMINANT_SHARE = 0.65
_NEW_DOMINANT_SHARE = 0.3
_OWNER_AUTHOR_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class DatasetConfig:
    preset: str
    seed: int
    now_ms: int
    projects: int
    issues: int
    mrs: int
    notes_per_item: float
    people: int
    files: int


def now_to_ms(now: Any) -> int:
    """Accept None (wall clock truncated to the minute), datetime, ISO string or epoch ms."""
    if now is None:
        ms = int(time.time() * 1000)
        return ms - ms % 60_000
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return int(now.timestamp() * 1000)
    if isinstance(now, int | float):
        return int(now)
    if isinstance(now, str):
        return parse_iso_ms(now)
    raise TypeError(f"unsupported now: {now!r}")


def make_config(
    preset: str = "small", seed: int = 7, now: Any = None, **knobs: Any
) -> DatasetConfig:
    """Resolve a preset plus knob overrides into a full configuration."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    values: dict[str, float] = dict(PRESETS[preset])
    for key, value in knobs.items():
        if key not in KNOBS:
            raise TypeError(f"unknown dataset knob {key!r} (known: {', '.join(KNOBS)})")
        if value is not None:
            values[key] = value
    return DatasetConfig(
        preset=preset,
        seed=int(seed),
        now_ms=now_to_ms(now),
        projects=max(1, int(values["projects"])),
        issues=max(0, int(values["issues"])),
        mrs=max(0, int(values["mrs"])),
        notes_per_item=max(0.0, float(values["notes_per_item"])),
        people=max(2, int(values["people"])),
        files=max(5, int(values["files"])),
    )


def generate(preset: str = "small", seed: int = 7, now: Any = None, **knobs: Any) -> Dataset:
    """Build a dataset (see the module docstring). Deterministic for equal arguments."""
    cfg = make_config(preset, seed, now, **knobs)
    # Hundreds of thousands of long-lived objects make the cyclic GC rescan them over and
    # over; generation creates no garbage cycles, so pause it.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Generator(cfg).run()
    finally:
        if was_enabled:
            gc.enable()


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """Split an integer total by weights (largest remainder), deterministically."""
    if not weights:
        return []
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def _hex40(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _label_ref(label: str) -> str:
    """How system notes reference a label: ~bug, ~"priority::high"."""
    return f'~"{label}"' if any(c in label for c in " :") else f"~{label}"


def _slugify(text: str, limit: int = 40) -> str:
    out = []
    for ch in text.lower():
        out.append(ch if ch.isalnum() else "-")
    slug = "-".join(part for part in "".join(out).split("-") if part)
    return slug[:limit].rstrip("-") or "change"


class _Generator:
    def __init__(self, cfg: DatasetConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.text = TextGen(self.rng)
        self.now = cfg.now_ms
        self.start = self.now - HISTORY_MS
        self.users: dict[int, User] = {}
        self.humans: list[User] = []
        self.human_cum: list[float] = []
        self.bots: dict[str, User] = {}
        self.groups: dict[int, Group] = {}
        self.milestones: dict[int, Milestone] = {}
        self.notes: list[Note] = []
        self.issues: list[Issue] = []
        self.mrs: list[MergeRequest] = []
        self.next_milestone_id = 301

    # --- people -------------------------------------------------------------------------

    def _make_people(self) -> None:
        r = self.rng
        root = User(1, "root", "Administrator", activity=0.0, created_ms=self.start - 400 * DAY_MS)
        self.users[1] = root
        seen: set[str] = {"root"}
        ranks = list(range(1, self.cfg.people + 1))
        r.shuffle(ranks)
        styles = ["{f}.{l}", "{fi}{l}", "{f}_{li}", "{f}{l3}", "{f}"]
        for i in range(self.cfg.people):
            first, last = r.choice(V.FIRST_NAMES), r.choice(V.LAST_NAMES)
            candidates = [
                s.format(
                    f=first.lower(),
                    l=last.lower(),
                    fi=first[0].lower(),
                    li=last[0].lower(),
                    l3=last[:3].lower(),
                )
                for s in r.sample(styles, len(styles))
            ]
            candidates += [f"{first.lower()}{n}" for n in range(2, 2 + self.cfg.people)]
            username = next(c for c in candidates if c not in seen)
            seen.add(username)
            user = User(
                id=2 + i,
                username=username,
                name=f"{first} {last}",
                activity=1.0 / ranks[i] ** 1.1,
                created_ms=self.start - self.randint(30, 900) * DAY_MS,
            )
            if r.random() < 0.04:
                user.state = "blocked"  # someone who left; their history stays
            self.users[user.id] = user
            self.humans.append(user)
        self.human_cum = list(itertools.accumulate(u.activity for u in self.humans))

    def _make_bots(self, first_project_id: int) -> None:
        next_id = 2 + self.cfg.people
        for username, name in V.BOT_USERS:
            username = username.format(pid=first_project_id, hex=f"{self.rng.getrandbits(24):06x}")
            bot = User(
                next_id,
                username,
                name,
                bot=True,
                activity=0.0,
                created_ms=self.start - 100 * DAY_MS,
            )
            self.users[bot.id] = bot
            self.bots[name] = bot
            next_id += 1

    def pick_human(self, exclude: set[int] | frozenset[int] = frozenset()) -> User:
        """A human weighted by activity (Zipf-like), avoiding ``exclude`` when possible."""
        rand, cum, humans = self.rng.random, self.human_cum, self.humans
        total = cum[-1]
        last = len(humans) - 1
        for _ in range(12):
            user = humans[min(last, bisect.bisect(cum, rand() * total))]
            if user.id not in exclude:
                return user
        candidates = [u for u in humans if u.id not in exclude]
        return self.rng.choice(candidates or humans)

    # --- projects and trees -------------------------------------------------------------

    def _group_for(self, full_path: str) -> Group:
        parent: Group | None = None
        parts = full_path.split("/")
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            existing = next((g for g in self.groups.values() if g.full_path == path), None)
            if existing is None:
                gid = 10 + len(self.groups)
                name = parts[depth - 1].replace("-", " ").title()
                existing = Group(gid, name, parts[depth - 1], path, parent.id if parent else None)
                self.groups[gid] = existing
            parent = existing
        assert parent is not None
        return parent

    def _tree(
        self, tpl: V.ProjectTemplate, n_areas: int
    ) -> tuple[list[Area], dict[str, list[str]], list[str]]:
        """Areas (with their source files), test files per area, and every file."""
        lang = tpl.language
        ext = V.EXTENSIONS[lang]
        specs = tpl.areas[:n_areas]
        per_area = max(3, round(self.cfg.files * 0.6 / len(specs)))
        areas: list[Area] = []
        tests: dict[str, list[str]] = {}
        all_files: list[str] = list(V.ROOT_FILES[lang])
        for spec in specs:
            vocab = V.AREAS[spec.vocab]
            stems = list(vocab.stems)
            for suffix in V.STEM_SUFFIXES:
                if len(stems) >= per_area:
                    break
                for base in vocab.stems:
                    if len(stems) >= per_area:
                        break
                    sep = "" if base[:1].isupper() else "_"
                    stems.append(base + sep + (suffix.title() if sep == "" else suffix))
            stems = stems[:per_area]
            name = spec.path.rstrip("/").rsplit("/", 1)[-1]
            files: list[str] = []
            area_tests: list[str] = []
            for stem in stems:
                if lang == "typescript":
                    fext = (
                        ".scss"
                        if spec.vocab == "styles"
                        else (".tsx" if stem[:1].isupper() else ".ts")
                    )
                    files.append(f"{spec.path}{stem}{fext}")
                    if fext != ".scss" and self.rng.random() < 0.5:
                        area_tests.append(f"{spec.path}__tests__/{stem}.test{fext}")
                elif lang == "go":
                    files.append(f"{spec.path}{stem}{ext}")
                    if self.rng.random() < 0.5:
                        area_tests.append(f"{spec.path}{stem}_test{ext}")
                else:
                    files.append(f"{spec.path}{stem}{ext}")
                    if self.rng.random() < 0.5:
                        area_tests.append(f"tests/{name}/test_{stem}{ext}")
            if lang == "python":
                files.append(f"{spec.path}__init__.py")
            areas.append(Area(spec.path, spec.vocab, files, owner_id=0, reviewer_ids=()))
            tests[spec.path] = area_tests
            all_files.extend(files)
            all_files.extend(area_tests)
        n_docs = min(len(V.DOC_FILES), max(2, self.cfg.files // 10))
        all_files.extend(V.DOC_FILES[:n_docs])
        return areas, tests, sorted(set(all_files))

    def _milestones(self, project: Project) -> list[Milestone]:
        """Project milestones every ~3 months over the history, e.g. v1.0 … v1.7."""
        out = []
        count = 8
        for i in range(count):
            start = self.start + i * (HISTORY_MS // count)
            due = start + HISTORY_MS // count - DAY_MS
            created = start - 14 * DAY_MS
            state = "closed" if due < self.now - 7 * DAY_MS else "active"
            mid = self.next_milestone_id
            self.next_milestone_id += 1
            ms = Milestone(
                id=mid,
                iid=i + 1,
                title=f"v{1 + i // 4}.{i % 4}",
                description=f"Release {1 + i // 4}.{i % 4} of {project.name}.",
                state=state,
                created_ms=created,
                updated_ms=min(self.now - 60_000, due + 2 * DAY_MS)
                if state == "closed"
                else created + DAY_MS,
                start_date=date_str(start),
                due_date=date_str(due),
                project_id=project.id,
                web_path=f"{project.path}/-/milestones/{i + 1}",
            )
            self.milestones[mid] = ms
            out.append(ms)
        return out

    def _group_milestones(self, group: Group) -> list[Milestone]:
        """Quarterly milestones on the top-level group (carry group_id, no project_id)."""
        out = []
        start_dt = datetime.fromtimestamp(self.start / 1000, tz=UTC)
        year, quarter = start_dt.year, (start_dt.month - 1) // 3
        iid = 1
        while True:
            begin = datetime(year, quarter * 3 + 1, 1, tzinfo=UTC)
            if begin.timestamp() * 1000 > self.now:
                break
            ny, nq = (year, quarter + 1) if quarter < 3 else (year + 1, 0)
            end_ms = int(datetime(ny, nq * 3 + 1, 1, tzinfo=UTC).timestamp() * 1000) - DAY_MS
            begin_ms = int(begin.timestamp() * 1000)
            mid = self.next_milestone_id
            self.next_milestone_id += 1
            created = max(begin_ms - 20 * DAY_MS, self.start - 60 * DAY_MS)
            ms = Milestone(
                id=mid,
                iid=iid,
                title=f"{year}-Q{quarter + 1}",
                description="" if iid % 2 else f"Company goals for {year} Q{quarter + 1}.",
                state="closed" if end_ms < self.now - 7 * DAY_MS else "active",
                created_ms=created,
                updated_ms=created + DAY_MS,
                start_date=date_str(begin_ms),
                due_date=date_str(end_ms),
                group_id=group.id,
                web_path=f"groups/{group.full_path}/-/milestones/{iid}",
            )
            self.milestones[mid] = ms
            out.append(ms)
            iid += 1
            year, quarter = ny, nq
        return out

    def _milestone_for(
        self, t: int, project_ms: list[Milestone], group_ms: list[Milestone]
    ) -> int | None:
        r = self.rng
        if r.random() < 0.45:
            return None
        pool = group_ms if r.random() < 0.3 else project_ms
        day = date_str(t)
        for m in pool:
            if m.start_date <= day <= m.due_date:
                return m.id
        return pool[-1].id if pool else None

    # --- ownership ----------------------------------------------------------------------

    def _assign_owners(self, areas: list[Area]) -> dict[str, bool]:
        """Owners and reviewers per area; returns the handover flag (old-dominant?) per area."""
        r = self.rng
        used: set[int] = set()
        for area in areas:
            owner = self.pick_human(used | {u.id for u in self.humans if u.state != "active"})
            used.add(owner.id)
            area.owner_id = owner.id
        n_handover = max(1, round(len(areas) / 3))
        chosen = r.sample(range(len(areas)), n_handover)
        flags: dict[str, bool] = {}
        for k, idx in enumerate(chosen):
            area = areas[idx]
            # The current owner becomes the *previous* one; a new, unused person takes over.
            new_owner = self.pick_human(used | {u.id for u in self.humans if u.state != "active"})
            used.add(new_owner.id)
            area.previous_owner_id = area.owner_id
            area.owner_id = new_owner.id
            flags[area.path] = k % 2 == 0  # alternate: old-dominant first
        for area in areas:
            owners = {area.owner_id, area.previous_owner_id or 0}
            reviewers: list[int] = []
            while len(reviewers) < 2:
                cand = self.pick_human(owners | set(reviewers))
                if cand.id in owners or cand.id in reviewers:
                    break
                reviewers.append(cand.id)
            area.reviewer_ids = tuple(reviewers)
        return flags

    def _set_handover(self, area: Area, times: list[int], old_dominant: bool) -> None:
        lo, hi = self.now - 24 * MONTH_MS, self.now - 6 * MONTH_MS
        if len(times) >= 3:
            share = _OLD_DOMINANT_SHARE if old_dominant else _NEW_DOMINANT_SHARE
            idx = min(len(times) - 1, max(1, round(share * len(times))))
            ho = (times[idx - 1] + times[idx]) // 2
        else:
            ho = self.randint(lo, hi)
        area.handover_ms = min(max(ho, lo), hi)

    # --- notes --------------------------------------------------------------------------

    def randint(self, lo: int, hi: int) -> int:
        """``random.randint`` without its overhead (same determinism per seed)."""
        return lo + int(self.rng.random() * (hi - lo + 1))

    def _note(self, author: User, body: str, t: int, **kw: Any) -> Note:
        note = Note(id=0, author_id=author.id, body=body, created_ms=t, updated_ms=t, **kw)
        if not note.system and self.rng.random() < 0.05:
            note.updated_ms = min(t + self.randint(60_000, 3 * DAY_MS), self.now - 1000)
        self.notes.append(note)
        return note

    def _times(self, lo: int, hi: int, k: int) -> list[int]:
        hi = max(hi, lo + k + 1)
        return sorted(self.randint(lo, hi) for _ in range(k))

    def _note_count(self) -> int:
        mean = self.cfg.notes_per_item
        if mean <= 0:
            return 0
        return int(self.rng.expovariate(1.0 / mean) + 0.5)

    # --- issues -------------------------------------------------------------------------

    def _issue(
        self,
        project: Project,
        iid: int,
        t: int,
        area: Area | None,
        tests: dict[str, list[str]],
        project_ms: list[Milestone],
        group_ms: list[Milestone],
    ) -> Issue:
        r = self.rng
        vocab = V.AREAS[area.vocab] if area else V.AREAS[r.choice(project.areas).vocab]
        # Stack traces and snippets point at code, never at docs or lock files.
        files = area.files if area else [f for a in project.areas for f in a.files]
        usernames = [u.username for u in r.sample(self.humans, min(4, len(self.humans)))]
        ctx = self.text.context(vocab, files, usernames)
        kind = r.choices(V.TYPE_LABELS, weights=V.TYPE_LABEL_WEIGHTS)[0]
        title = self.text.issue_title(kind, ctx)
        text = self.text.issue_description(kind, project.language, ctx, vocab, files)
        desc: str | None = text
        roll = r.random()
        if roll < 0.2:
            desc = text.replace("\n", "\r\n")  # issues created from the web UI look like this
        elif roll < 0.23:
            desc = None
        elif roll < 0.25:
            desc = ""
        author = self.pick_human()
        labels = [kind]
        if r.random() < 0.6:
            labels.append(r.choice(V.PRIORITY_LABELS))
        if r.random() < 0.7:
            labels.append(f"team::{project.team}")
        if r.random() < 0.15:
            labels.append(r.choice(V.EXTRA_LABELS))
        assignees: list[int] = []
        if r.random() < 0.75:
            owner = area.owner_at(t) if area else None
            first = owner if owner and r.random() < 0.6 else self.pick_human().id
            assignees.append(first)
            if r.random() < 0.1:
                second = self.pick_human({first}).id
                if second != first:
                    assignees.append(second)
        age = self.now - t
        closed = r.random() < (0.25 if age < 60 * DAY_MS else 0.7)
        issue = Issue(
            id=0,
            iid=iid,
            project_id=project.id,
            title=title,
            description=desc,
            state="opened",
            author_id=author.id,
            created_ms=t,
            updated_ms=t,
            labels=labels,
            assignee_ids=assignees,
            milestone_id=self._milestone_for(t, project_ms, group_ms),
            confidential=r.random() < 0.04,
            discussion_locked=True if r.random() < 0.02 else None,
            upvotes=int(r.expovariate(1.0)) if r.random() < 0.4 else 0,
            downvotes=1 if r.random() < 0.05 else 0,
            weight=r.choice((1, 2, 3, 5, 8)) if r.random() < 0.3 else None,
            area=area.path if area else None,
        )
        end = self.now - 60_000
        if closed:
            issue.state = "closed"
            issue.closed_ms = min(t + int(r.expovariate(1 / (20 * DAY_MS))) + 3_600_000, end)
            issue.closed_by_id = assignees[0] if assignees else author.id
            issue.status_index = r.choices((2, 3, 4), weights=(80, 12, 8))[0]
            end = issue.closed_ms
        else:
            issue.status_index = r.choices((0, 1, 5), weights=(55, 30, 15))[0]
            if r.random() < 0.15:
                issue.due_date = date_str(self.now + self.randint(-20, 90) * DAY_MS)
        self._issue_notes(issue, ctx, project, vocab, files, end)
        last = max((n.updated_ms for d in issue.discussions for n in d.notes), default=t)
        issue.updated_ms = min(
            max(last, issue.closed_ms or t) + self.randint(0, 5000), self.now - 1000
        )
        return issue

    def _issue_system_note(self, kind: int, issue: Issue, ctx: dict[str, str], t: int) -> str:
        # Build only the chosen text: this runs hundreds of thousands of times.
        if kind == 0:
            return f"added {_label_ref(issue.labels[0])} label"
        if kind == 1:
            return "changed the description"
        if kind == 2:
            return f"changed title from **{ctx['thing']} issue** to **{issue.title}**"
        if kind == 3:
            return f"mentioned in merge request !{self.randint(1, 200)}"
        if kind == 4:
            return "changed milestone to %v1.2"
        if kind == 5:
            return 'removed ~"needs investigation" label'
        if kind == 6:
            return f"changed due date to {date_str(t)}"
        return f"assigned to @{self.pick_human().username}"

    def _mr_system_note(self, kind: int, mr: MergeRequest) -> str:
        if kind == 0:
            n = self.randint(1, 4)
            return (
                f"added {n} commit{'s' if n > 1 else ''}\n\n<ul><li>"
                f"{_hex40(self.rng)[:8]} - {mr.title.removeprefix('Draft: ')}</li></ul>"
            )
        if kind == 1:
            return "changed the description"
        if kind == 2 and mr.labels:
            return f"added {_label_ref(mr.labels[0])} label"
        if kind == 3:
            return "marked this merge request as **ready**"
        if kind == 4:
            return f"mentioned in issue #{self.randint(1, 150)}"
        return "resolved all threads"

    def _issue_notes(
        self,
        issue: Issue,
        ctx: dict[str, str],
        project: Project,
        vocab: V.AreaVocab,
        files: Sequence[str],
        end: int,
    ) -> None:
        r = self.rng
        n = self._note_count()
        t0 = issue.created_ms
        discussions: list[Discussion] = []
        author = self.users[issue.author_id]
        produced = 0
        if issue.assignee_ids and n > 0:
            who = self.users[issue.assignee_ids[0]]
            note = self._note(author, f"assigned to @{who.username}", t0 + 1000, system=True)
            discussions.append(Discussion(_hex40(r), True, [note]))
            produced += 1
        while produced < n:
            roll = r.random()
            t = self.randint(t0 + 2000, max(end - 1000, t0 + 3000))
            if roll < 0.22:
                body = self._issue_system_note(self.randint(0, 7), issue, ctx, t)
                note = self._note(self.pick_human(), body, t, system=True)
                discussions.append(Discussion(_hex40(r), True, [note]))
                produced += 1
            elif roll < 0.75:
                who = author if r.random() < 0.3 else self.pick_human()
                body = self.text.issue_comment(ctx, project.language, vocab, files)
                note = self._note(who, body, t, internal=r.random() < 0.03)
                discussions.append(Discussion(_hex40(r), True, [note]))
                produced += 1
            else:
                replies = self.randint(1, 3)
                times = self._times(t, max(end - 1000, t + 1000), replies + 1)
                notes = [
                    self._note(
                        self.pick_human(),
                        self.text.issue_comment(ctx, project.language, vocab, files),
                        times[0],
                        type="DiscussionNote",
                    )
                ]
                for tt in times[1:]:
                    who = author if r.random() < 0.4 else self.pick_human()
                    notes.append(self._note(who, self.text.reply(ctx), tt, type="DiscussionNote"))
                discussions.append(Discussion(_hex40(r), False, notes))
                produced += len(notes)
        if issue.state == "closed" and issue.closed_ms is not None and n > 0:
            closer = self.users[issue.closed_by_id or issue.author_id]
            note = self._note(closer, "closed", issue.closed_ms, system=True)
            discussions.append(Discussion(_hex40(r), True, [note]))
        discussions.sort(key=lambda d: d.notes[0].created_ms)
        issue.discussions = discussions

    # --- merge requests -----------------------------------------------------------------

    def _mr(
        self,
        project: Project,
        iid: int,
        t: int,
        area: Area | None,
        tests: dict[str, list[str]],
        issue_index: dict[str, list[tuple[int, int]]],
        project_ms: list[Milestone],
        group_ms: list[Milestone],
    ) -> MergeRequest:
        r = self.rng
        lang = project.language
        if area is None:
            return self._bot_mr(project, iid, t, project_ms, group_ms)
        vocab = V.AREAS[area.vocab]
        excluded = area.excluded_at(t)
        skip = {excluded} if excluded else set()
        owner = self.users[area.owner_at(t)]
        author = owner if r.random() < _OWNER_AUTHOR_SHARE else self.pick_human(skip | {owner.id})
        reviewers = [rid for rid in area.reviewer_ids if rid != author.id]
        if len(reviewers) < len(area.reviewer_ids) and owner.id != author.id:
            reviewers.append(owner.id)
        r.shuffle(reviewers)
        reviewers = reviewers[: r.choice((1, 1, 2))]
        usernames = [self.users[x].username for x in reviewers] or [owner.username]
        ctx = self.text.context(vocab, area.files, usernames)

        # state and lifetime
        age = self.now - t
        if age < 45 * DAY_MS:
            state = r.choices(("opened", "merged", "closed"), weights=(50, 42, 8))[0]
        else:
            state = r.choices(("merged", "closed", "locked"), weights=(86, 12, 1))[0]
        end = min(t + 3_600_000 + int(r.expovariate(1 / (4 * DAY_MS))), self.now - 120_000)
        if area.handover_ms is not None and t < area.handover_ms:
            end = min(end, area.handover_ms - 60_000)  # nobody crosses the handover
        end = max(end, t + 60_000)

        # diffs
        diffs = self._area_diffs(project, area, tests, ctx, r.random())
        closes = None
        pool = issue_index.get(area.path, [])
        if pool and r.random() < 0.5:
            k = bisect.bisect_left(pool, (t, 0))
            if k:
                closes = pool[r.randrange(max(0, k - 20), k)][1]
        title = self.text.mr_title(ctx)
        draft = state == "opened" and r.random() < 0.3
        if draft:
            title = "Draft: " + title
        desc = self.text.mr_description(ctx, closes)
        if r.random() < 0.3:
            desc = desc.replace("\n", "\r\n")
        labels = [f"team::{project.team}"] if r.random() < 0.7 else []
        if r.random() < 0.6:
            labels.append(r.choice(("bug", "feature", "enhancement", "tech-debt")))
        if r.random() < 0.1:
            labels.append(r.choice(V.EXTRA_LABELS))
        mr = MergeRequest(
            id=0,
            iid=iid,
            project_id=project.id,
            title=title,
            description=desc,
            state=state,
            author_id=author.id,
            created_ms=t,
            updated_ms=t,
            source_branch=f"{author.username.split('.')[0]}/{_slugify(title.removeprefix('Draft: '))}",
            target_branch=project.default_branch,
            sha=_hex40(r),
            base_sha=_hex40(r),
            start_sha="",
            labels=labels,
            assignee_ids=[author.id],
            reviewer_ids=reviewers,
            milestone_id=self._milestone_for(t, project_ms, group_ms),
            draft=draft,
            squash=r.random() < 0.3,
            area=area.path,
            diffs=diffs,
            upvotes=int(r.expovariate(1.5)) if r.random() < 0.3 else 0,
        )
        mr.start_sha = mr.base_sha
        if state == "merged":
            mr.merged_ms = end
            mr.merged_by_id = reviewers[0] if reviewers and r.random() < 0.5 else author.id
            mr.merge_commit_sha = _hex40(r)
        elif state in ("closed", "locked"):
            mr.closed_ms = end if state == "closed" else None
            mr.closed_by_id = author.id if state == "closed" else None
        if state == "locked":
            mr.discussion_locked = True
        self._mr_notes(mr, area, ctx, lang, t, end)
        last = max((n.updated_ms for d in mr.discussions for n in d.notes), default=t)
        mr.updated_ms = min(
            max(last, end if state != "opened" else t) + self.randint(0, 5000), self.now - 1000
        )
        return mr

    def _area_diffs(
        self,
        project: Project,
        area: Area,
        tests: dict[str, list[str]],
        ctx: dict[str, str],
        roll: float,
    ) -> list[DiffFile]:
        r = self.rng
        lang = project.language
        k = min(len(area.files), 1 + int(r.expovariate(0.7)))
        paths = r.sample(area.files, k)
        if tests.get(area.path) and r.random() < 0.4:
            paths.append(r.choice(tests[area.path]))
        if r.random() < 0.08:
            paths.append(
                r.choice([f for f in project.files if f.startswith("docs/")] or ["README.md"])
            )
        if r.random() < 0.05:
            paths.append("CHANGELOG.md")
        diffs: list[DiffFile] = []
        for i, path in enumerate(dict.fromkeys(paths)):
            mode = "modify"
            old_path = path
            if i == 0 and roll < 0.06:
                mode = "rename"
                stem, dot, ext = path.rpartition("/")[2].partition(".")
                old_path = (
                    f"{area.path}{r.choice(('legacy_', 'old_', ''))}{stem}"
                    f"{r.choice(('_old', '_impl', '', 's'))}{dot}{ext}"
                )
                if old_path == path:
                    old_path = f"{area.path}legacy_{stem}{dot}{ext}"
            elif i == 0 and roll < 0.16:
                mode = "new"
            elif i == 0 and roll < 0.19:
                mode = "delete"
                stem, dot, ext = path.rpartition("/")[2].partition(".")
                path = old_path = f"{area.path}deprecated_{stem}{dot}{ext}"
            body, anchors = self.text.diff(path, lang, ctx, mode)
            diffs.append(
                DiffFile(
                    old_path=old_path,
                    new_path=path,
                    diff=body,
                    new_file=mode == "new",
                    renamed_file=mode == "rename",
                    deleted_file=mode == "delete",
                    a_mode="0" if mode == "new" else "100644",
                    b_mode="0" if mode == "delete" else "100644",
                    anchors=anchors,
                )
            )
        return diffs

    def _bot_mr(
        self,
        project: Project,
        iid: int,
        t: int,
        project_ms: list[Milestone],
        group_ms: list[Milestone],
    ) -> MergeRequest:
        """Dependency bumps by renovate-bot, touching only the dependency files."""
        r = self.rng
        bot = self.bots["Renovate Bot"]
        dep = r.choice(V.DEPENDENCIES[project.language])
        major = self.randint(0, 5)
        old, new = f"{major}.{self.randint(0, 20)}.{self.randint(0, 9)}", ""
        new = f"{major}.{int(old.split('.')[1]) + 1}.0"
        diffs = []
        for path in V.DEPENDENCY_FILES[project.language]:
            body, anchors = self.text.dependency_diff(path, project.language, dep, old, new)
            diffs.append(DiffFile(path, path, body, anchors=anchors))
        age = self.now - t
        state = (
            "opened"
            if age < 10 * DAY_MS and r.random() < 0.6
            else r.choices(("merged", "closed"), weights=(80, 20))[0]
        )
        end = min(t + self.randint(3_600_000, 5 * DAY_MS), self.now - 120_000)
        human = self.pick_human()
        mr = MergeRequest(
            id=0,
            iid=iid,
            project_id=project.id,
            title=f"Update dependency {dep} to v{new}",
            description=f"This MR contains the following updates:\n\n| Package | Change |\n"
            f"|---|---|\n| `{dep}` | `{old}` -> `{new}` |\n\n---\n\n"
            "This MR has been generated by Renovate Bot.",
            state=state,
            author_id=bot.id,
            created_ms=t,
            updated_ms=t,
            source_branch=f"renovate/{_slugify(dep)}-{major}.x",
            target_branch=project.default_branch,
            sha=_hex40(r),
            base_sha=_hex40(r),
            start_sha="",
            labels=["dependencies"],
            assignee_ids=[human.id],
            reviewer_ids=[human.id],
            milestone_id=None,
            diffs=diffs,
        )
        mr.start_sha = mr.base_sha
        if state == "merged":
            mr.merged_ms, mr.merged_by_id, mr.merge_commit_sha = end, human.id, _hex40(r)
        elif state == "closed":
            mr.closed_ms, mr.closed_by_id = end, human.id
        note = self._note(bot, "requested review from @" + human.username, t + 1000, system=True)
        mr.discussions = [Discussion(_hex40(r), True, [note])]
        if state == "merged":
            note = self._note(human, "approved this merge request", end - 1000, system=True)
            mr.discussions.append(Discussion(_hex40(r), True, [note]))
        mr.updated_ms = min(max(end, t) + 1000, self.now - 1000)
        return mr

    def _mr_notes(
        self, mr: MergeRequest, area: Area, ctx: dict[str, str], lang: str, t0: int, end: int
    ) -> None:
        r = self.rng
        n = self._note_count()
        author = self.users[mr.author_id]
        reviewers = [self.users[x] for x in mr.reviewer_ids]
        anchored = [d for d in mr.diffs if d.anchors]
        discussions: list[Discussion] = []
        produced = 0
        if reviewers and n > 0:
            names = " and ".join("@" + u.username for u in reviewers)
            note = self._note(author, f"requested review from {names}", t0 + 1000, system=True)
            discussions.append(Discussion(_hex40(r), True, [note]))
            produced += 1

        def other(t: int) -> User:
            excluded = area.excluded_at(t)
            owner = area.owner_at(t)
            if owner != author.id and r.random() < 0.5:
                return self.users[owner]
            return self.pick_human({excluded} if excluded else set())

        resolved_p = 0.9 if mr.state == "merged" else 0.4
        while produced < n:
            roll = r.random()
            t = self.randint(t0 + 2000, max(end - 1000, t0 + 3000))
            if roll < 0.2:
                body = self._mr_system_note(self.randint(0, 5), mr)
                note = self._note(author, body, t, system=True)
                discussions.append(Discussion(_hex40(r), True, [note]))
                produced += 1
            elif roll < 0.6 and anchored:
                diff = r.choice(anchored)
                old_line, new_line = r.choice(diff.anchors)
                pos = Position(
                    mr.base_sha,
                    mr.start_sha,
                    mr.sha,
                    diff.old_path,
                    diff.new_path,
                    old_line,
                    new_line,
                )
                first = r.choice(reviewers) if reviewers and r.random() < 0.8 else other(t)
                replies = r.choice((0, 0, 1, 1, 2))
                times = self._times(t, max(end - 1000, t + 1000), replies + 1)
                resolved = r.random() < resolved_p
                notes = [
                    self._note(
                        first,
                        self.text.review_comment(ctx, lang),
                        times[0],
                        type="DiffNote",
                        position=pos,
                        resolvable=True,
                    )
                ]
                for i, tt in enumerate(times[1:]):
                    who = author if i % 2 == 0 else first
                    notes.append(
                        self._note(
                            who,
                            self.text.reply(ctx),
                            tt,
                            type="DiffNote",
                            position=pos,
                            resolvable=True,
                        )
                    )
                if resolved:
                    for note in notes:
                        note.resolved = True
                        note.resolved_ms = min(times[-1] + 60_000, self.now - 1000)
                discussions.append(Discussion(_hex40(r), False, notes))
                produced += len(notes)
            elif roll < 0.85 or not reviewers:
                who = (
                    r.choice(reviewers)
                    if reviewers and r.random() < 0.5
                    else (author if r.random() < 0.4 else other(t))
                )
                if r.random() < 0.08:
                    who = self.bots["CI Bot"]
                    body = (
                        f"Pipeline #{self.randint(100000, 999999)} "
                        f"{r.choice(('passed', 'failed', 'passed'))} for {mr.sha[:8]}."
                    )
                else:
                    body = self.text.mr_comment(ctx)
                note = self._note(who, body, t)
                discussions.append(Discussion(_hex40(r), True, [note]))
                produced += 1
            else:
                first = r.choice(reviewers)
                times = self._times(t, max(end - 1000, t + 1000), 2)
                resolved = r.random() < resolved_p
                notes = [
                    self._note(
                        first,
                        self.text.review_comment(ctx, lang),
                        times[0],
                        type="DiscussionNote",
                        resolvable=True,
                    ),
                    self._note(
                        author,
                        self.text.reply(ctx),
                        times[1],
                        type="DiscussionNote",
                        resolvable=True,
                    ),
                ]
                for note in notes:
                    note.resolved = resolved
                    note.resolved_ms = min(times[1] + 60_000, self.now - 1000) if resolved else None
                discussions.append(Discussion(_hex40(r), False, notes))
                produced += 2
        if mr.state == "merged" and reviewers and n > 0:
            note = self._note(
                reviewers[0], "approved this merge request", end - 30_000, system=True
            )
            discussions.append(Discussion(_hex40(r), True, [note]))
        discussions.sort(key=lambda d: d.notes[0].created_ms)
        mr.discussions = discussions

    # --- the whole thing ----------------------------------------------------------------

    def run(self) -> Dataset:
        cfg, r = self.cfg, self.rng
        self._make_people()
        n_proj = cfg.projects
        templates = [V.PROJECT_TEMPLATES[i % len(V.PROJECT_TEMPLATES)] for i in range(n_proj)]
        self._make_bots(101)
        top = self._group_for("acme")
        group_ms = self._group_milestones(top)
        weights = [_PROJECT_WEIGHTS[i % len(_PROJECT_WEIGHTS)] for i in range(n_proj)]
        issue_counts = _split(cfg.issues, weights)
        mr_counts = _split(cfg.mrs, weights)
        projects: list[Project] = []
        truth: list[TruthArea] = []
        tests_by_project: dict[int, dict[str, list[str]]] = {}
        for i, tpl in enumerate(templates):
            cycle = i // len(V.PROJECT_TEMPLATES)
            path = tpl.path if cycle == 0 else f"{tpl.path}-{cycle + 1}"
            namespace = self._group_for(path.rsplit("/", 1)[0])
            # Enough MRs per area (about ten or more) that ownership is visible in the data.
            n_areas = max(3, min(len(tpl.areas), mr_counts[i] // 10))
            areas, tests, files = self._tree(tpl, n_areas)
            tests_by_project[101 + i] = tests
            project = Project(
                id=101 + i,
                path=path,
                name=tpl.name if cycle == 0 else f"{tpl.name} {cycle + 1}",
                description=tpl.description,
                language=tpl.language,
                team=tpl.team,
                namespace=namespace,
                created_ms=self.start - self.randint(10, 200) * DAY_MS,
                areas=areas,
                files=files,
            )
            flags = self._assign_owners(areas)
            project_ms = self._milestones(project)
            project.milestone_ids = [m.id for m in project_ms] + [m.id for m in group_ms]

            # MR timing and areas first: handovers are placed on each area's MR timeline.
            mr_times = sorted(self._created_time() for _ in range(mr_counts[i]))
            area_weights = [r.uniform(0.6, 1.6) for _ in areas]
            mr_areas: list[Area | None] = [
                None if r.random() < 0.06 else r.choices(areas, weights=area_weights)[0]
                for _ in mr_times
            ]
            for area in areas:
                if area.path in flags:
                    times = [t for t, a in zip(mr_times, mr_areas, strict=True) if a is area]
                    self._set_handover(area, times, flags[area.path])

            issue_times = sorted(self._created_time() for _ in range(issue_counts[i]))
            issue_index: dict[str, list[tuple[int, int]]] = {}
            for iid, t in enumerate(issue_times, start=1):
                issue_area = (
                    r.choices(areas, weights=area_weights)[0] if r.random() < 0.85 else None
                )
                issue = self._issue(project, iid, t, issue_area, tests, project_ms, group_ms)
                project.issues[iid] = issue
                self.issues.append(issue)
                if issue_area is not None:
                    issue_index.setdefault(issue_area.path, []).append((t, iid))
            project.next_issue_iid = len(issue_times) + 1
            for iid, (t, mr_area) in enumerate(zip(mr_times, mr_areas, strict=True), start=1):
                mr = self._mr(project, iid, t, mr_area, tests, issue_index, project_ms, group_ms)
                project.mrs[iid] = mr
                self.mrs.append(mr)
            project.next_mr_iid = len(mr_times) + 1
            project.last_activity_ms = max(
                [i.updated_ms for i in project.issues.values()]
                + [m.updated_ms for m in project.mrs.values()]
                + [project.created_ms]
            )
            projects.append(project)
            for area in areas:
                truth.append(
                    TruthArea(
                        project=project.path,
                        path=area.path,
                        current_owner=self.users[area.owner_id].username,
                        previous_owner=(
                            self.users[area.previous_owner_id].username
                            if area.previous_owner_id
                            else None
                        ),
                        handover_at=iso_ms(area.handover_ms) if area.handover_ms else None,
                        reviewers=[self.users[x].username for x in area.reviewer_ids],
                    )
                )

        # Global ids follow creation order across projects, like GitLab's sequences.
        next_ids = {"issue": 1001, "mr": 2001, "note": 100001}
        for kind, items in (("issue", self.issues), ("mr", self.mrs)):
            items.sort(key=lambda it: (it.created_ms, it.project_id, it.iid))
            for item in items:
                item.id = next_ids[kind]
                next_ids[kind] += 1
        self.notes.sort(key=lambda n: n.created_ms)
        for note in self.notes:
            note.id = next_ids["note"]
            next_ids["note"] += 1
        next_ids["milestone"] = self.next_milestone_id
        _Extras(cfg, self.users, projects, next_ids, tests_by_project).run()
        return Dataset(
            seed=cfg.seed,
            preset=cfg.preset,
            now_ms=self.now,
            users=self.users,
            groups=self.groups,
            projects=projects,
            milestones=self.milestones,
            truth_areas=truth,
            token_user_id=1,
            next_ids=next_ids,
            last_stamp_ms=self.now - 1,
        )

    def _created_time(self) -> int:
        # Mild growth over time: more recent activity than two years ago.
        u = self.rng.random() ** 0.85
        return self.start + DAY_MS + int(u * (HISTORY_MS - DAY_MS - 1_800_000))


#: Shares of the second pass (see the module docstring).
_ISSUE_TYPE_SHARES = (("incident", 0.03), ("task", 0.04), ("test_case", 0.02))
_MOVED_SHARE = 0.04
_INTERNAL_SHARE = 0.04
_MULTILINE_SHARE = 0.25
_STRAY_PATH_SHARE = 0.04
_WIDE_MR_SHARE = 0.04
_NULL_RANGE_SHARE = 0.3


class _Extras:
    """The second generation pass: each feature draws from its own random stream."""

    def __init__(
        self,
        cfg: DatasetConfig,
        users: dict[int, User],
        projects: list[Project],
        next_ids: dict[str, int],
        tests: dict[int, dict[str, list[str]]],
    ) -> None:
        self.cfg = cfg
        self.users = users
        self.projects = projects
        self.next_ids = next_ids
        self.tests = tests

    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.cfg.seed}-{name}")

    def run(self) -> None:
        self._issue_types()
        self._internal_notes()
        self._moved()
        self._wide_mrs()
        self._diff_note_positions()

    def _issue_types(self) -> None:
        r = self.rng("issue-types")
        for p in self.projects:
            for issue in p.issues.values():
                roll = r.random()
                for name, share in _ISSUE_TYPE_SHARES:
                    if roll < share:
                        issue.issue_type = name
                        break
                    roll -= share

    def _internal_notes(self) -> None:
        r = self.rng("internal-notes")
        for p in self.projects:
            for issue in p.issues.values():
                for d in issue.discussions:
                    for note in d.notes:
                        if not note.system and r.random() < _INTERNAL_SHARE:
                            note.internal = True

    def _moved(self) -> None:
        r = self.rng("moved")
        for p in self.projects:
            ordered = sorted(p.issues.values(), key=lambda i: (i.created_ms, i.iid))
            created = [i.created_ms for i in ordered]
            for issue in ordered:
                if issue.state != "closed" or issue.closed_ms is None:
                    continue
                if r.random() >= _MOVED_SHARE:
                    continue
                k = bisect.bisect_left(created, issue.closed_ms)
                later = [i for i in ordered[k : k + 10] if i is not issue]
                if not later:
                    continue
                target = r.choice(later)
                issue.moved_to_id = target.id
                ms = issue.closed_ms
                note = Note(
                    self.next_ids["note"],
                    issue.closed_by_id or issue.author_id,
                    f"moved to #{target.iid}",
                    ms,
                    ms,
                    system=True,
                )
                self.next_ids["note"] += 1
                issue.discussions.append(Discussion(_hex40(r), True, [note]))
                issue.updated_ms = max(issue.updated_ms, ms)

    def _wide_mrs(self) -> None:
        r = self.rng("wide-mrs")
        for p in self.projects:
            areas = {a.path: a for a in p.areas}
            tests = self.tests.get(p.id, {})
            for mr in p.mrs.values():
                area = areas.get(mr.area or "")
                if area is None or r.random() >= _WIDE_MR_SHARE:
                    continue
                have = {d.new_path for d in mr.diffs} | {d.old_path for d in mr.diffs}
                text = TextGen(self.rng(f"wide-mr-{mr.id}"))
                ctx = text.context(
                    V.AREAS[area.vocab], area.files, [self.users[mr.author_id].username]
                )
                for path in [*area.files, *tests.get(area.path, [])]:
                    if path in have:
                        continue
                    body, anchors = text.diff(path, p.language, ctx, "modify")
                    mr.diffs.append(DiffFile(path, path, body, anchors=anchors))

    def _diff_note_positions(self) -> None:
        stray_rng = self.rng("stray-diff-paths")
        multi_rng = self.rng("multi-line-notes")
        null_rng = self.rng("null-line-ranges")
        for p in self.projects:
            areas = {a.path: a for a in p.areas}
            for mr in p.mrs.values():
                by_path = {d.new_path: d for d in mr.diffs}
                in_diff = set(by_path) | {d.old_path for d in mr.diffs}
                area = areas.get(mr.area or "")
                for d in mr.discussions:
                    pos = d.notes[0].position
                    if pos is None or d.notes[0].type != "DiffNote":
                        continue
                    stray = [f for f in (area.files if area else []) if f not in in_diff]
                    if stray and stray_rng.random() < _STRAY_PATH_SHARE:
                        # The file was in an earlier version of the MR, dropped by a push.
                        path = stray_rng.choice(stray)
                        pos.old_path = pos.new_path = path
                        continue
                    if multi_rng.random() >= _MULTILINE_SHARE:
                        # Notes made through the API without a range show line_range null.
                        pos.null_line_range = null_rng.random() < _NULL_RANGE_SHARE
                        continue
                    diff = by_path.get(pos.new_path)
                    if diff is None:
                        continue
                    start = _range_start(
                        diff.anchors, (pos.old_line, pos.new_line), multi_rng.randint(1, 6)
                    )
                    if start is not None:
                        pos.line_range = (start, (pos.old_line, pos.new_line))


def _range_start(
    anchors: list[tuple[int | None, int | None]], end: tuple[int | None, int | None], span: int
) -> tuple[int | None, int | None] | None:
    """An anchor up to ``span`` lines before ``end`` in the same hunk (None if none)."""
    try:
        idx = anchors.index(end)
    except ValueError:
        return None
    first = idx
    while first > 0 and idx - first < span:
        (o1, n1), (o2, n2) = anchors[first - 1], anchors[first]
        # Same hunk: neither side's line number jumps (a new hunk starts further on).
        if o1 is not None and o2 is not None and o2 - o1 != 1:
            break
        if n1 is not None and n2 is not None and n2 - n1 != 1:
            break
        first -= 1
    return anchors[first] if first < idx else None
