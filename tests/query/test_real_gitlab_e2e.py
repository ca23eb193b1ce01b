"""End to end against the simulator (which serves what real GitLab serves: issue types,
moved issues, internal notes, multi-line diff notes, diff notes on files no longer in the
diff, diff lists cut at ``diff_max_files``): `lore sync`, then `lore issues` and
`lore show` through the installed executable, every robot document valid against
robot-docs and every value checked against the simulator's own data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from lore.core.refs import format_ref

from .test_query_cli import check_success

if TYPE_CHECKING:
    from tests.conftest import LoreEnv

DIFF_MAX_FILES = 5


@pytest.fixture
def synced(lore_env: LoreEnv) -> Any:
    from lore.sim.server import Simulator

    # GitLab 15.6 has no /diffs: /changes says `overflow: true` itself. (Through /diffs lore
    # asks only from 500 files on, GitLab's smallest diff_max_files.)
    with Simulator.start(
        preset="small", seed=7, diff_max_files=DIFF_MAX_FILES, gitlab_version="15.6"
    ) as sim:
        lore_env.write_config(sim.url, [p.path for p in sim.dataset.projects])
        proc = lore_env.run(
            "sync", "--no-docs", "--no-embed", extra_env={"GITLAB_TOKEN": sim.token}, timeout=300
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield sim


def _robot(env: LoreEnv, command: str, *args: str) -> dict[str, Any]:
    code, doc = env.robot(*args)
    assert code == 0, doc
    return check_success(command, doc)


def test_issue_types_and_show_fields_match_the_simulator(lore_env: LoreEnv, synced: Any) -> None:
    ds = synced.dataset
    issues = {i.id: (p, i) for p in ds.projects for i in p.issues.values()}
    tasks = {i for i, (_p, issue) in issues.items() if issue.issue_type == "task"}
    others = {i for i, (_p, issue) in issues.items() if issue.issue_type not in ("issue", "task")}
    assert tasks and others, "the simulator serves no tasks/incidents/test cases"

    data = _robot(lore_env, "lore issues", "issues", "--state", "all", "--limit", "1000")
    listed = {i["id"]: i["issue_type"] for i in data["items"]}
    assert set(listed) == set(issues) - tasks  # tasks hidden, everything else listed
    assert all(listed[i] == issues[i][1].issue_type for i in listed)
    assert data["hidden_by_type"] == {"task": len(tasks)}

    data = _robot(
        lore_env, "lore issues", "issues", "--state", "all", "--type", "task", "--limit", "1000"
    )
    assert {i["id"] for i in data["items"]} == tasks and data["hidden_by_type"] == {}
    wanted = sorted({issues[i][1].issue_type for i in others})
    data = _robot(
        lore_env,
        "lore issues",
        "issues",
        "--state",
        "all",
        "--type",
        ",".join(wanted),
        "--limit",
        "1000",
    )
    assert {i["id"] for i in data["items"]} == others
    data = _robot(
        lore_env, "lore issues", "issues", "--state", "all", "--all-types", "--limit", "1000"
    )
    assert {i["id"] for i in data["items"]} == set(issues)

    # A moved issue points at its (mirrored) target by ref.
    project, moved = next((p, i) for p, i in (v for v in issues.values()) if i.moved_to_id)
    target_project, target = issues[moved.moved_to_id]
    shown = _robot(lore_env, "lore show", "show", format_ref("issue", moved.iid, project.path))
    assert shown["moved_to"] == {
        "id": target.id,
        "ref": format_ref("issue", target.iid, target_project.path),
        "web_url": shown["moved_to"]["web_url"],
        "mirrored": True,
    }
    assert shown["moved_to"]["web_url"]

    # Internal notes are flagged, exactly those.
    project, issue = next(
        (p, i)
        for p, i in issues.values()
        if any(n.internal for d in i.discussions for n in d.notes)
    )
    shown = _robot(lore_env, "lore show", "show", format_ref("issue", issue.iid, project.path))
    truth = {n.id: n.internal for d in issue.discussions for n in d.notes}
    got = {n["id"]: n["internal"] for d in shown["discussions"] for n in d["notes"]}
    assert got == truth and shown["counts"]["internal_notes"] == sum(truth.values())
    out = lore_env.run("show", format_ref("issue", issue.iid, project.path)).stdout
    assert " · internal" in out


def test_mr_diff_notes_and_cut_diff_lists_match_the_simulator(
    lore_env: LoreEnv, synced: Any
) -> None:
    ds = synced.dataset
    mrs = [(p, m) for p in ds.projects for m in p.mrs.values()]

    # A multi-line diff note carries its range, start and end as GitLab sent them.
    project, mr, note = next(
        (p, m, d.notes[0])
        for p, m in mrs
        for d in m.discussions
        if d.notes[0].position is not None and d.notes[0].position.line_range is not None
    )
    ref = format_ref("mr", mr.iid, project.path)
    shown = _robot(lore_env, "lore show", "show", ref)
    got = next(n for d in shown["discussions"] for n in d["notes"] if n["id"] == note.id)
    (s_old, s_new), (e_old, e_new) = note.position.line_range
    rng = got["position"]["line_range"]
    assert (rng["start"]["old_line"], rng["start"]["new_line"]) == (s_old, s_new)
    assert (rng["end"]["old_line"], rng["end"]["new_line"]) == (e_old, e_new)
    assert "lines " in lore_env.run("show", ref).stdout

    # A diff note on a file the MR's diff no longer lists: the path is in its changes,
    # marked as known from a diff note only.
    project, mr, path = next(
        (p, m, d.notes[0].position.new_path)
        for p, m in mrs
        for d in m.discussions
        if d.notes[0].position is not None
        and d.notes[0].position.new_path not in {f.new_path for f in m.diffs}
        and len(m.diffs) <= DIFF_MAX_FILES
    )
    shown = _robot(lore_env, "lore show", "show", format_ref("mr", mr.iid, project.path))
    sources = {c["new_path"]: c["source"] for c in shown["changes"]}
    assert sources[path] == "diff_note"
    assert {f.new_path for f in mr.diffs} <= {p for p, s in sources.items() if s == "diff"}
    assert shown["diffs_overflow"] is False

    # Diff lists longer than diff_max_files are cut, and show says so.
    project, mr = next((p, m) for p, m in mrs if len(m.diffs) > DIFF_MAX_FILES)
    ref = format_ref("mr", mr.iid, project.path)
    shown = _robot(lore_env, "lore show", "show", ref)
    assert shown["diffs_overflow"] is True and shown["changes_count"] == f"{DIFF_MAX_FILES}+"
    assert sum(1 for c in shown["changes"] if c["source"] == "diff") == DIFF_MAX_FILES
    assert "GitLab cut this diff list at its limits" in lore_env.run("show", ref).stdout
    small = next((p, m) for p, m in mrs if 0 < len(m.diffs) <= DIFF_MAX_FILES)
    shown = _robot(lore_env, "lore show", "show", format_ref("mr", small[1].iid, small[0].path))
    assert shown["diffs_overflow"] is False
    assert shown["changes_count"] == str(len(small[1].diffs))
