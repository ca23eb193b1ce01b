"""Dataset objects → GitLab REST v4 JSON shapes (field names, nesting, types, nulls).

Shapes follow GitLab 17.x responses and the conformance schemas in
``/work/shared/conformance/gitlab/schemas``. Two deliberate choices forced by those
schemas (whose ``required`` lists and types are binding for us):

- ``merged_by`` / ``merge_user`` / ``closed_by`` on merge requests reference
  ``user/basic.json`` whose type is ``object`` only, so they are *omitted* when empty
  rather than sent as ``null`` (real GitLab sends ``null``; clients must accept both);
- ``resolved_by`` on notes is typed ``string|null``, so it is always ``null`` (real
  GitLab sends a user object for resolved notes); ``resolved_at`` carries the time.

Every MR has an assignee (the author), because that schema requires ``assignee``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lore.sim import vocab as V
from lore.sim.model import (
    Dataset,
    DiffFile,
    Discussion,
    Issue,
    MergeRequest,
    Milestone,
    Note,
    Project,
    User,
    date_str,
    iso_ms,
)

Json = dict[str, Any]

#: GitLab's default maximum number of files in one MR diff (``diff_max_files``).
DEFAULT_DIFF_MAX_FILES = 1000
#: REST ``type`` per ``issue_type`` (work item type names as GitLab renders them).
ISSUE_TYPE_NAMES = {
    "issue": "ISSUE",
    "incident": "INCIDENT",
    "task": "TASK",
    "test_case": "TEST_CASE",
}

_TIME_STATS: Json = {
    "time_estimate": 0,
    "total_time_spent": 0,
    "human_time_estimate": None,
    "human_total_time_spent": None,
}


class Renderer:
    """Renders with absolute URLs under ``base_url`` (the simulator's own address)."""

    def __init__(self, dataset: Dataset, base_url: str) -> None:
        self.ds = dataset
        self.base = base_url.rstrip("/")
        self._users: dict[int, Json] = {}
        self._line_code_prefix: dict[str, str] = {}
        self._milestones: dict[tuple[int, str], Json] = {}
        #: GitLab's diff limit (``diff_max_files``): more files than this → overflow.
        self.diff_max_files = DEFAULT_DIFF_MAX_FILES

    # --- users --------------------------------------------------------------------------

    def user(self, user_id: int) -> Json:
        """GitLab's UserBasic (author, assignees, reviewers...). Cached; do not mutate."""
        cached = self._users.get(user_id)
        if cached is None:
            u = self.ds.users[user_id]
            digest = hashlib.md5(f"{u.username}@acme.example".encode()).hexdigest()
            cached = {
                "id": u.id,
                "username": u.username,
                "name": u.name,
                "state": u.state,
                "locked": False,
                "avatar_url": f"https://www.gravatar.com/avatar/{digest}?s=80&d=identicon",
                "web_url": f"{self.base}/{u.username}",
            }
            self._users[user_id] = cached
        return cached

    def current_user(self, user: User) -> Json:
        """``GET /user``: the full self view of the token's user."""
        out = dict(self.user(user.id))
        created = iso_ms(user.created_ms)
        out.update(
            {
                "created_at": created,
                "bio": "",
                "location": None,
                "public_email": None,
                "skype": "",
                "linkedin": "",
                "twitter": "",
                "discord": "",
                "website_url": "",
                "organization": "Acme",
                "job_title": "",
                "pronouns": None,
                "bot": user.bot,
                "work_information": None,
                "local_time": None,
                "last_sign_in_at": iso_ms(self.ds.now_ms - 3_600_000),
                "confirmed_at": created,
                "last_activity_on": date_str(self.ds.now_ms),
                "email": f"{user.username}@acme.example",
                "theme_id": 1,
                "color_scheme_id": 1,
                "projects_limit": 100000,
                "current_sign_in_at": iso_ms(self.ds.now_ms - 3_600_000),
                "identities": [],
                "can_create_group": True,
                "can_create_project": True,
                "two_factor_enabled": False,
                "external": False,
                "private_profile": False,
                "commit_email": f"{user.username}@acme.example",
                "is_admin": user.username == "root",
                "note": None,
            }
        )
        return out

    # --- projects -----------------------------------------------------------------------

    def project(self, p: Project) -> Json:
        ns = p.namespace
        web = f"{self.base}/{p.path}"
        mrs_available = p.merge_requests_access_level == "enabled"
        api = f"{self.base}/api/v4/projects/{p.id}"
        return {
            "id": p.id,
            "description": p.description,
            "name": p.name,
            "name_with_namespace": " / ".join(
                [g.name for g in self._group_chain(ns.id)] + [p.name]
            ),
            "path": p.slug,
            "path_with_namespace": p.path,
            "created_at": iso_ms(p.created_ms),
            "default_branch": p.default_branch,
            "tag_list": [],
            "topics": [],
            "ssh_url_to_repo": f"git@127.0.0.1:{p.path}.git",
            "http_url_to_repo": f"{web}.git",
            "web_url": web,
            "readme_url": f"{web}/-/blob/{p.default_branch}/README.md",
            "forks_count": 0,
            "avatar_url": None,
            "star_count": 3,
            "last_activity_at": iso_ms(p.last_activity_ms),
            "namespace": {
                "id": ns.id,
                "name": ns.name,
                "path": ns.path,
                "kind": "group",
                "full_path": ns.full_path,
                "parent_id": ns.parent_id,
                "avatar_url": None,
                "web_url": f"{self.base}/groups/{ns.full_path}",
            },
            "visibility": "private",
            "archived": False,
            "empty_repo": False,
            "issues_enabled": True,
            # feature_available? for the token's user: "private" shuts a non-member out.
            "merge_requests_enabled": mrs_available,
            "issues_access_level": "enabled",
            "merge_requests_access_level": p.merge_requests_access_level,
            "open_issues_count": sum(1 for i in p.issues.values() if i.state == "opened"),
            "_links": {
                "self": api,
                "issues": f"{api}/issues",
                # GitLab leaves the link out when MRs are not available to the token's user.
                **({"merge_requests": f"{api}/merge_requests"} if mrs_available else {}),
                "repo_branches": f"{api}/repository/branches",
                "labels": f"{api}/labels",
                "events": f"{api}/events",
                "members": f"{api}/members",
                "cluster_agents": f"{api}/cluster_agents",
            },
        }

    def _group_chain(self, group_id: int | None) -> list[Any]:
        chain = []
        while group_id is not None:
            g = self.ds.groups[group_id]
            chain.append(g)
            group_id = g.parent_id
        return list(reversed(chain))

    # --- milestones ---------------------------------------------------------------------

    def milestone(self, m: Milestone) -> Json:
        """A milestone (cached per simulator day: milestones never change, ``expired``
        depends on the clock). Do not mutate the result."""
        today = date_str(self.ds.now_ms)
        cached = self._milestones.get((m.id, today))
        if cached is None:
            cached = self._milestones[(m.id, today)] = self._milestone(m, today)
        return cached

    def _milestone(self, m: Milestone, today: str) -> Json:
        out: Json = {"id": m.id, "iid": m.iid}
        if m.group_id is not None:
            out["group_id"] = m.group_id
        else:
            out["project_id"] = m.project_id
        out.update(
            {
                "title": m.title,
                "description": m.description,
                "state": m.state,
                "created_at": iso_ms(m.created_ms),
                "updated_at": iso_ms(m.updated_ms),
                "due_date": m.due_date,
                "start_date": m.start_date,
                "expired": m.due_date < today,
                "web_url": f"{self.base}/{m.web_path}",
            }
        )
        return out

    # --- issues and merge requests ------------------------------------------------------

    @staticmethod
    def _tasks(description: str | None) -> Json:
        text = description or ""
        done = text.count("- [x]") + text.count("- [X]")
        return {"count": done + text.count("- [ ]"), "completed_count": done}

    @staticmethod
    def user_notes_count(discussions: list[Discussion]) -> int:
        return sum(1 for d in discussions for n in d.notes if not n.system)

    def _refs(self, p: Project, sigil: str, iid: int) -> Json:
        short = f"{sigil}{iid}"
        return {"short": short, "relative": short, "full": f"{p.path}{short}"}

    def issue(self, i: Issue) -> Json:
        p = self.ds.projects_by_id[i.project_id]
        web = f"{self.base}/{p.path}/-/issues/{i.iid}"
        api = f"{self.base}/api/v4/projects/{p.id}"
        assignees = [self.user(a) for a in i.assignee_ids]
        tasks = self._tasks(i.description)
        return {
            "id": i.id,
            "iid": i.iid,
            "project_id": i.project_id,
            "title": i.title,
            "description": i.description,
            "state": i.state,
            "created_at": iso_ms(i.created_ms),
            "updated_at": iso_ms(i.updated_ms),
            "closed_at": iso_ms(i.closed_ms) if i.closed_ms is not None else None,
            "closed_by": self.user(i.closed_by_id) if i.closed_by_id is not None else None,
            "labels": list(i.labels),
            "milestone": (
                self.milestone(self.ds.milestones[i.milestone_id])
                if i.milestone_id is not None
                else None
            ),
            "assignees": assignees,
            "author": self.user(i.author_id),
            "type": ISSUE_TYPE_NAMES.get(i.issue_type, "ISSUE"),
            "assignee": assignees[0] if assignees else None,
            "user_notes_count": self.user_notes_count(i.discussions),
            "merge_requests_count": 0,
            "upvotes": i.upvotes,
            "downvotes": i.downvotes,
            "due_date": i.due_date,
            "confidential": i.confidential,
            "discussion_locked": i.discussion_locked,
            "issue_type": i.issue_type,
            "web_url": web,
            "time_stats": dict(_TIME_STATS),
            "task_completion_status": tasks,
            "weight": i.weight,
            "blocking_issues_count": 0,
            "has_tasks": tasks["count"] > 0,
            "task_status": f"{tasks['completed_count']} of {tasks['count']} checklist items completed"
            if tasks["count"]
            else "",
            "_links": {
                "self": f"{api}/issues/{i.iid}",
                "notes": f"{api}/issues/{i.iid}/notes",
                "award_emoji": f"{api}/issues/{i.iid}/award_emoji",
                "project": api,
                "closed_as_duplicate_of": None,
            },
            "references": self._refs(p, "#", i.iid),
            "severity": "UNKNOWN",
            "moved_to_id": i.moved_to_id,
            "imported": False,
            "imported_from": "none",
            "service_desk_reply_to": None,
            "epic_iid": None,
            "epic": None,
            "iteration": None,
            "health_status": None,
        }

    def merge_request(self, m: MergeRequest, single: bool = False) -> Json:
        p = self.ds.projects_by_id[m.project_id]
        assignees = [self.user(a) for a in m.assignee_ids]
        if m.state == "merged" or m.state in ("closed", "locked"):
            detailed = "not_open"
        elif m.draft:
            detailed = "draft_status"
        else:
            detailed = "mergeable"
        unresolved = any(n.resolvable and not n.resolved for d in m.discussions for n in d.notes)
        out: Json = {
            "id": m.id,
            "iid": m.iid,
            "project_id": m.project_id,
            "title": m.title,
            "description": m.description,
            "state": m.state,
            "created_at": iso_ms(m.created_ms),
            "updated_at": iso_ms(m.updated_ms),
        }
        if m.merged_by_id is not None:
            out["merged_by"] = self.user(m.merged_by_id)
            out["merge_user"] = self.user(m.merged_by_id)
        out["merged_at"] = iso_ms(m.merged_ms) if m.merged_ms is not None else None
        if m.closed_by_id is not None:
            out["closed_by"] = self.user(m.closed_by_id)
        out.update(
            {
                "closed_at": iso_ms(m.closed_ms) if m.closed_ms is not None else None,
                "target_branch": m.target_branch,
                "source_branch": m.source_branch,
                "user_notes_count": self.user_notes_count(m.discussions),
                "upvotes": m.upvotes,
                "downvotes": m.downvotes,
                "author": self.user(m.author_id),
                "assignees": assignees,
                "assignee": assignees[0] if assignees else self.user(m.author_id),
                "reviewers": [self.user(r) for r in m.reviewer_ids],
                "source_project_id": m.project_id,
                "target_project_id": m.project_id,
                "labels": list(m.labels),
                "draft": m.draft,
                "imported": False,
                "imported_from": "none",
                "work_in_progress": m.draft,
                "milestone": (
                    self.milestone(self.ds.milestones[m.milestone_id])
                    if m.milestone_id is not None
                    else None
                ),
                "merge_when_pipeline_succeeds": False,
                "merge_status": "can_be_merged",
                "detailed_merge_status": detailed,
                "merge_after": None,
                "sha": m.sha,
                "merge_commit_sha": m.merge_commit_sha,
                "squash_commit_sha": None,
                "discussion_locked": m.discussion_locked,
                "should_remove_source_branch": None,
                "force_remove_source_branch": True,
                "prepared_at": iso_ms(m.created_ms + 5000),
                "reference": f"!{m.iid}",
                "references": self._refs(p, "!", m.iid),
                "web_url": f"{self.base}/{p.path}/-/merge_requests/{m.iid}",
                "time_stats": dict(_TIME_STATS),
                "squash": m.squash,
                "squash_on_merge": m.squash,
                "task_completion_status": self._tasks(m.description),
                "has_conflicts": False,
                "blocking_discussions_resolved": not unresolved,
                "approvals_before_merge": None,
            }
        )
        if single:
            out.update(
                {
                    "subscribed": False,
                    "changes_count": self.changes_count(m),
                    "latest_build_started_at": None,
                    "latest_build_finished_at": None,
                    "first_deployed_to_production_at": None,
                    "pipeline": None,
                    "head_pipeline": None,
                    "diff_refs": {
                        "base_sha": m.base_sha,
                        "head_sha": m.sha,
                        "start_sha": m.start_sha,
                    },
                    "merge_error": None,
                    "first_contribution": False,
                    "user": {"can_merge": True},
                    "diverged_commits_count": 0,
                    "rebase_in_progress": False,
                }
            )
        return out

    def changes_count(self, m: MergeRequest) -> str:
        """``"12"``, or ``"1000+"`` when the diff has more files than GitLab's limit."""
        cap = self.diff_max_files
        return f"{cap}+" if len(m.diffs) > cap else str(len(m.diffs))

    def capped_diffs(self, m: MergeRequest) -> tuple[list[DiffFile], bool]:
        """The diff files GitLab serves (the first ``diff_max_files``) and the overflow flag."""
        cap = self.diff_max_files
        if len(m.diffs) > cap:
            return m.diffs[:cap], True
        return m.diffs, False

    # --- discussions and notes ----------------------------------------------------------

    def _line_code(self, path: str, old: int | None, new: int | None) -> str:
        prefix = self._line_code_prefix.get(path)
        if prefix is None:
            prefix = hashlib.sha1(path.encode()).hexdigest()
            self._line_code_prefix[path] = prefix
        return f"{prefix}_{old or new or 0}_{new or old or 0}"

    def _anchor(self, path: str, old: int | None, new: int | None) -> Json:
        kind_of = "new" if old is None else "old" if new is None else None
        return {
            "line_code": self._line_code(path, old, new),
            "type": kind_of,
            "old_line": old,
            "new_line": new,
        }

    def note(self, n: Note, item: Issue | MergeRequest) -> Json:
        is_mr = isinstance(item, MergeRequest)
        out: Json = {
            "id": n.id,
            "type": n.type,
            "body": n.body,
            "attachment": None,
            "author": self.user(n.author_id),
            "created_at": iso_ms(n.created_ms),
            "updated_at": iso_ms(n.updated_ms),
            "system": n.system,
            "noteable_id": item.id,
            "noteable_type": "MergeRequest" if is_mr else "Issue",
            "project_id": item.project_id,
            "noteable_iid": item.iid,
            "commands_changes": {},
            "resolvable": n.resolvable,
            "confidential": n.internal,
            "internal": n.internal,
        }
        if n.resolvable:
            out["resolved"] = n.resolved
            out["resolved_by"] = None
            out["resolved_at"] = iso_ms(n.resolved_ms) if n.resolved_ms is not None else None
        pos = n.position
        if pos is not None:
            anchor = self._anchor(pos.new_path, pos.old_line, pos.new_line)
            if pos.line_range is not None:
                (s_old, s_new), (e_old, e_new) = pos.line_range
                line_range = {
                    "start": self._anchor(pos.new_path, s_old, s_new),
                    "end": self._anchor(pos.new_path, e_old, e_new),
                }
            elif pos.null_line_range:
                line_range = None
            else:
                line_range = {"start": anchor, "end": dict(anchor)}
            out["commit_id"] = None
            out["position"] = {
                "base_sha": pos.base_sha,
                "start_sha": pos.start_sha,
                "head_sha": pos.head_sha,
                "old_path": pos.old_path,
                "new_path": pos.new_path,
                "position_type": "text",
                "old_line": pos.old_line,
                "new_line": pos.new_line,
                "line_range": line_range,
            }
        return out

    def discussion(self, d: Discussion, item: Issue | MergeRequest) -> Json:
        return {
            "id": d.id,
            "individual_note": d.individual_note,
            "notes": [self.note(n, item) for n in d.notes],
        }

    @staticmethod
    def diff(f: DiffFile) -> Json:
        return {
            "old_path": f.old_path,
            "new_path": f.new_path,
            "a_mode": f.a_mode,
            "b_mode": f.b_mode,
            "new_file": f.new_file,
            "renamed_file": f.renamed_file,
            "deleted_file": f.deleted_file,
            "generated_file": False,
            "diff": f.diff,
        }

    # --- work items (GraphQL) -----------------------------------------------------------

    @staticmethod
    def status(index: int) -> Json:
        gid, name, category, color = V.STATUSES[index]
        return {
            "id": f"gid://gitlab/{gid}",
            "name": name,
            "category": category,
            "color": color,
            "iconName": f"status-{category.replace('_', '-')}",
            "description": None,
            "position": index,
        }
