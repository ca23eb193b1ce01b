"""End to end: the simulator serves diff notes on files an MR's current diff no longer
lists (dropped by a later push); after `lore sync`, `lore who FILE` credits that MR's
author and the note's author for exactly that file, and not for the MR's other files."""

from __future__ import annotations

from typing import Any

from lore.core.clock import iso_from_ms

from .test_who_cli import check


def test_who_credits_paths_only_diff_notes_know(lore_env: Any, sim: Any) -> None:
    ds = sim.dataset
    lore_env.write_config(sim.url, [p.path for p in ds.projects])
    proc = lore_env.run(
        "sync", "--no-docs", "--no-embed", extra_env={"GITLAB_TOKEN": sim.token}, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    now = iso_from_ms(ds.now_ms)
    strays = [
        (p, m, d.notes[0])
        for p in ds.projects
        for m in p.mrs.values()
        for d in m.discussions
        if d.notes[0].position is not None
        and d.notes[0].author_id != m.author_id
        and d.notes[0].position.new_path not in {f.new_path for f in m.diffs}
        and d.notes[0].position.new_path not in {f.old_path for f in m.diffs}
    ]
    assert strays, "the simulator serves no diff note on a dropped file"
    project, mr, note = strays[0]
    path = note.position.new_path
    reviewer = ds.users[note.author_id].username
    author = ds.users[mr.author_id].username

    code, doc = lore_env.robot(
        "who", path, "--project", project.path, "--now", now, "--limit", "100", "--curve", "none"
    )
    assert code == 0, doc
    data = check(doc)
    assert data["query"]["match"] == "file"
    experts = {e["username"]: e for e in data["experts"]}
    assert reviewer in experts and author in experts

    def kinds(user: str) -> set[str]:
        rows = experts[user]["breakdown"]
        return {k for k, v in rows.items() if v["count"]}

    assert "reviewed" in kinds(reviewer)
    assert "authored_merged" in kinds(author) or "authored_unmerged" in kinds(author)


def test_diff_note_reviews_its_path_only_end_to_end(lore_env: Any, sim: Any) -> None:
    """A fresh MR (admin API) touching kept.py whose reviewer commented on dropped.py,
    a file its diff no longer lists, and a third person commenting on the MR itself."""
    ds = sim.dataset
    project = ds.projects[0]
    files = sorted(f for f in project.files if f.startswith("src/"))
    kept, dropped = files[0], files[1]
    since = sim.admin.clock()["now"]
    mr = sim.admin.create_mr(project.path, title="Narrowed down", author="oskar", files=[kept])
    sim.admin.add_note(
        project.path,
        "mr",
        mr["iid"],
        body="this leaks",
        author="anders",
        position={"new_path": dropped, "old_path": dropped, "new_line": 3, "old_line": 3},
    )
    sim.admin.add_note(project.path, "mr", mr["iid"], body="LGTM overall", author="priya")
    sim.admin.set_clock(advance_seconds=120)
    lore_env.write_config(sim.url, [p.path for p in ds.projects])
    proc = lore_env.run(
        "sync", "--no-docs", "--no-embed", extra_env={"GITLAB_TOKEN": sim.token}, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    now = sim.admin.clock()["now"]

    def who(path: str) -> dict[str, set[str]]:
        code, doc = lore_env.robot(
            "who", path, "--project", project.path, "--since", since, "--now", now, "--limit", "100"
        )
        assert code == 0, doc
        data = check(doc)
        assert data["query"]["match"] == "file"
        return {
            e["username"]: {k for k, v in e["breakdown"].items() if v["count"]}
            for e in data["experts"]
        }

    assert who(dropped) == {
        "oskar": {"authored_unmerged"},
        "anders": {"reviewed"},
        "priya": {"discussed"},
    }
    assert who(kept) == {"oskar": {"authored_unmerged"}, "priya": {"discussed"}}
    code, doc = lore_env.robot("show", f"{project.path}!{mr['iid']}")
    assert code == 0, doc
    changes = {c["new_path"]: c["source"] for c in doc["data"]["changes"]}
    assert changes == {kept: "diff", dropped: "diff_note"}
