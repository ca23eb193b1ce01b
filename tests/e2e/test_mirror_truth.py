"""Mirror equals upstream (issue 9): a sync and a `--full` while GitLab is being edited —
random edits, notes that GitLab's throttle keeps from touching their item, deleted notes,
status changes, and an item moved to the end of the list on every page read — lose
nothing and delete nothing live; once the edits stop, one more sync (with its regular
reconciliation due) makes the mirror equal to the simulator's truth: every issue, MR and
note id, every updated_at and every note count."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from e2e_helpers import mirror_vs_upstream

from lore.sim.server import Simulator
from lore_testkit import LoreEnv


def _sync(lore_env: LoreEnv, env: dict[str, str], *args: str) -> dict[str, Any]:
    code, doc = lore_env.robot("sync", "--no-docs", *args, extra_env=env, timeout=900)
    assert code == 0, doc
    return dict(doc["data"])


def _lost(diffs: dict[str, Any]) -> dict[str, Any]:
    """Differences a sync under churn must never leave: live items missing or deleted."""
    return {k: v for k, v in diffs.items() if k.endswith(".missing")}


@pytest.mark.slow
def test_mirror_equals_upstream_under_churn(lore_env: LoreEnv) -> None:
    with Simulator.start(preset="medium", seed=9) as sim:
        lore_env.write_config(
            sim.url,
            [p.path for p in sim.dataset.projects],
            extra={"embedding": {"provider": "none"}},
        )
        env = {"GITLAB_TOKEN": sim.token}
        db = lore_env.data_dir / "lore.db"
        sim.admin.edit_during_listing(route="issues", every_pages=2)
        sim.admin.start_churn(edits_per_second=25, seed=4)
        try:
            _sync(lore_env, env)
            assert not _lost(mirror_vs_upstream(db, sim.admin.snapshot()))
            sim.admin.edit_during_listing(route="merge_requests", every_pages=2)
            report = _sync(lore_env, env, "--full")
            diffs = mirror_vs_upstream(db, sim.admin.snapshot())
            # churn deletes notes, never items: a --full that deleted anything deleted a
            # live item
            assert not _lost(diffs) and not [k for k in diffs if k.endswith(".extra")], diffs
            deleted = sum(
                p.get("deleted", 0)
                for s in report["stages"]
                for p in (s.get("details") or {}).get("projects", {}).values()
                if isinstance(p, dict)
            )
            assert deleted == 0
        finally:
            churn = sim.admin.stop_churn()
            sim.admin.clear_listing_hook()
        assert churn["edits"] > 50, churn
        assert churn["note"] > 0 and churn["note_deleted"] > 0 and churn["errors"] == 0, churn
        # The edits have stopped; the next scheduled reconciliation is due.
        conn = sqlite3.connect(db)
        with conn:
            conn.execute(
                "UPDATE kv SET value = json_set(value, '$.at', "
                "'2000-01-01T00:00:00.000Z') WHERE key LIKE 'reconcile:%'"
            )
        conn.close()
        _sync(lore_env, env)
        assert mirror_vs_upstream(db, sim.admin.snapshot()) == {}
