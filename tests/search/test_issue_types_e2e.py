"""End to end: sync the simulator (which serves incidents, tasks and test cases), then
`lore search --type <issue type>` finds only issues of that type, as the simulator says."""

from __future__ import annotations

from typing import Any


def test_search_by_issue_type_against_the_simulator(lore_env: Any, sim: Any) -> None:
    ds = sim.dataset
    lore_env.write_config(
        sim.url, [p.path for p in ds.projects], extra={"embedding": {"provider": "none"}}
    )
    proc = lore_env.run("sync", "--no-embed", extra_env={"GITLAB_TOKEN": sim.token}, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    types = {i.id: i.issue_type for p in ds.projects for i in p.issues.values()}
    refs = {f"{p.path}#{i.iid}": i.issue_type for p in ds.projects for i in p.issues.values()}
    wanted = sorted({t for t in types.values() if t != "issue"})
    assert wanted, "the simulator serves no incidents, tasks or test cases"
    for name in wanted:
        # Documents name their type, so the type's own word finds them.
        code, doc = lore_env.robot(
            "search", name.replace("_", " "), "--type", name, "--mode", "lexical", "--limit", "1000"
        )
        assert code == 0, doc
        hits = doc["data"]["hits"]
        assert {h["ref"] for h in hits} == {r for r, t in refs.items() if t == name}
        assert {h["issue_type"] for h in hits} == {name}
