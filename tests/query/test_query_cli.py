"""`lore issues`, `lore mrs`, `lore show` and `lore status` through the installed
executable: human and robot output, every robot document validated against the schema
`lore robot-docs` publishes, and bad input."""

from __future__ import annotations

import functools
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from .conftest import CLOCK_ENV, StoreBuilder, build_standard

if TYPE_CHECKING:
    from tests.conftest import LoreEnv


@functools.lru_cache(maxsize=1)
def _manifest() -> dict[str, Any]:
    from lore.cli.app import cli
    from lore.cli.commands.robot_docs import build_manifest

    return build_manifest(cli)


def entry(command: str) -> dict[str, Any]:
    return next(c for c in _manifest()["commands"] if c["command"] == command)


def check_success(command: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Validate a success envelope and its data against robot-docs; return the data."""
    jsonschema.validate(doc, _manifest()["envelopes"]["success"])
    jsonschema.validate(doc["data"], entry(command)["response_schema"])
    return doc["data"]


def check_failure(command: str, code: int, doc: dict[str, Any], expected: str) -> dict[str, Any]:
    """Validate a failure envelope; its code must be one the command declares."""
    jsonschema.validate(doc, _manifest()["envelopes"]["failure"])
    error = doc["error"]
    assert error["code"] == expected, doc
    declared = {c["code"]: c["exit"] for c in entry(command)["exit_codes"]}
    assert declared.get(expected) == code, (expected, declared)
    return error


def robot(env: LoreEnv, *args: str) -> tuple[int, dict[str, Any]]:
    return env.robot(*args, extra_env=CLOCK_ENV)


def human(env: LoreEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return env.run(*args, extra_env=CLOCK_ENV)


@pytest.fixture
def mirror(lore_env: LoreEnv) -> dict[str, int]:
    """The standard dataset in the isolated data dir (the DB the CLI reads)."""
    b = StoreBuilder(lore_env.data_dir / "lore.db")
    try:
        return build_standard(b)
    finally:
        b.close()


# -- robot ---------------------------------------------------------------------------------


def test_issues_robot(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    code, doc = robot(lore_env, "issues")
    assert code == 0
    data = check_success("lore issues", doc)
    assert [i["ref"] for i in data["items"]][:2] == ["acme/web#12", "acme/platform#1"]
    assert data["total"] == 5 and data["count"] == 5
    assert data["items"][1]["status"] == {
        "name": "In progress",
        "category": "in_progress",
        "color": "#1f75cb",
    }

    code, doc = robot(
        lore_env,
        "issues",
        "--state",
        "all",
        "-p",
        "platform",
        "--label",
        "bug",
        "--since",
        "30d",
        "--sort",
        "iid",
        "--asc",
        "--limit",
        "1",
    )
    data = check_success("lore issues", doc)
    assert [i["ref"] for i in data["items"]] == ["acme/platform#1"]
    assert data["total"] == 2 and data["count"] == 1
    assert data["filters"]["projects"] == ["acme/platform"]
    assert data["filters"]["since"] == "2025-05-02T12:00:00.000Z"
    assert data["filters"]["order"] == "asc" and data["filters"]["limit"] == 1


def test_issue_status_filters_robot(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    code, doc = robot(lore_env, "issues", "--status", "to do")
    assert code == 0
    assert [i["ref"] for i in check_success("lore issues", doc)["items"]] == ["acme/platform#2"]
    code, doc = robot(lore_env, "issues", "--state", "all", "--status-category", "done")
    assert code == 0
    assert [i["ref"] for i in check_success("lore issues", doc)["items"]] == ["acme/platform#3"]


def test_mrs_robot(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    code, doc = robot(lore_env, "mrs", "--state", "all", "--reviewer", "@alice", "--draft")
    assert code == 0
    data = check_success("lore mrs", doc)
    [mr] = data["items"]
    assert mr["ref"] == "acme/platform!1" and mr["draft"] is True
    assert mr["reviewers"] == ["alice", "carol"] and mr["source_branch"] == "fix-safari"
    assert data["filters"]["reviewer"] == "alice" and data["filters"]["draft"] is True

    code, doc = robot(lore_env, "mrs", "--state", "merged", "--author", "carol")
    data = check_success("lore mrs", doc)
    assert [m["merged_by"] for m in data["items"]] == ["alice"]


def test_show_robot_issue_and_mr(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    code, doc = robot(lore_env, "show", "acme/platform#1")
    assert code == 0
    issue = check_success("lore show", doc)
    assert issue["kind"] == "issue" and issue["description"].startswith("Steps:")
    assert issue["counts"]["notes"] == 4

    code, doc = robot(
        lore_env,
        "show",
        "https://gitlab.example.com/acme/platform/-/merge_requests/1",
        "--no-system",
    )
    mr = check_success("lore show", doc)
    assert mr["kind"] == "mr" and len(mr["changes"]) == 4
    assert mr["counts"]["system_notes_hidden"] == 1
    assert all(not n["system"] for d in mr["discussions"] for n in d["notes"])


def test_status_robot(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    lore_env.write_config("https://gitlab.example.com", ["acme/platform", "acme/later"])
    code, doc = robot(lore_env, "status")
    assert code == 0
    data = check_success("lore status", doc)
    assert data["config"] == {"path": str(lore_env.config_path), "loaded": True, "error": None}
    assert [p["path"] for p in data["projects"]] == ["acme/platform", "acme/web", "acme/later"]
    assert data["projects"][2]["mirrored"] is False
    assert data["db"]["path"] == str(lore_env.data_dir / "lore.db")
    assert data["embeddings"]["coverage"] == 0.6
    assert data["last_sync"]["outcome"] == "degraded"
    assert data["workitem_status"]["instances"][0]["available"] is True


def test_status_without_config_still_reports_the_mirror(
    lore_env: LoreEnv, mirror: dict[str, int]
) -> None:
    code, doc = robot(lore_env, "status")
    assert code == 0
    data = check_success("lore status", doc)
    assert data["config"]["loaded"] is False
    assert data["config"]["error"]["code"] == "CONFIG_NOT_FOUND"
    assert data["totals"]["issues"] == 6


def test_status_with_broken_config_still_reports(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    lore_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    lore_env.config_path.write_text("{not json")
    code, doc = robot(lore_env, "status")
    data = check_success("lore status", doc)
    assert code == 0 and data["config"]["error"]["code"] == "CONFIG_INVALID"


# -- before the first sync -----------------------------------------------------------------


def test_reading_commands_before_any_sync(lore_env: LoreEnv) -> None:
    db = lore_env.data_dir / "lore.db"
    code, doc = robot(lore_env, "issues", "--label", "bug")
    data = check_success("lore issues", doc)
    assert code == 0 and data["items"] == [] and any("lore sync" in h for h in data["hints"])

    proc = human(lore_env, "mrs")
    assert proc.returncode == 0
    assert "No open merge requests match." in proc.stdout and "lore sync" in proc.stdout

    code, doc = robot(lore_env, "show", "#1")
    error = check_failure("lore show", code, doc, "NOT_FOUND")
    assert code == 7 and error["actions"] == ["lore sync"]

    lore_env.write_config("https://gitlab.example.com", ["acme/platform"])
    code, doc = robot(lore_env, "status")
    data = check_success("lore status", doc)
    assert code == 0 and data["synced"] is False and data["db"]["exists"] is False
    assert [p["path"] for p in data["projects"]] == ["acme/platform"]
    proc = human(lore_env, "status")
    assert proc.returncode == 0 and "Nothing is synced yet." in proc.stdout
    assert "not created yet" in proc.stdout

    assert not db.exists(), "reading commands must not create the database"


# -- human ---------------------------------------------------------------------------------


def test_issues_human(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    proc = human(lore_env, "issues", "--limit", "2")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "acme/web#12" in out and "acme/platform#1 " in out
    assert "● In progress" in out and "bug, frontend" in out
    assert "2h ago" in out and "1d ago" in out
    assert "showing 2 of 5 open issues" in out
    assert "\x1b[" not in out  # NO_COLOR is honoured

    proc = human(lore_env, "issues", "-p", "acme/platform", "--state", "closed")
    assert "acme/platform" in proc.stdout.splitlines()[0]
    assert "#3 " in proc.stdout and "acme/platform#3" not in proc.stdout  # short refs
    assert "1 closed issues" in proc.stdout or "1 closed issue" in proc.stdout


def test_issues_human_narrow_terminal_keeps_one_line_per_item(
    lore_env: LoreEnv, mirror: dict[str, int]
) -> None:
    proc = lore_env.run("issues", extra_env={**CLOCK_ENV, "COLUMNS": "72"})
    lines = proc.stdout.splitlines()
    header = lines[0]
    assert "Title" in header and "Updated" in header
    assert "Labels" not in header and "Assignees" not in header  # dropped, not squeezed
    assert max(len(line) for line in lines) <= 72
    assert len(lines) == 2 + 5 + 1  # header, rule, one line per issue, footer


def test_empty_list_human_explains(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    proc = human(lore_env, "issues", "--author", "alcie")
    assert proc.returncode == 0
    assert "No open issues match." in proc.stdout
    assert "did you mean 'alice'" in proc.stdout


def test_mrs_human(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    proc = human(lore_env, "mrs", "--state", "all")
    out = proc.stdout
    assert proc.returncode == 0
    assert "Draft: Fix Safari login" in out
    assert "merged" in out and "locked" in out
    assert "@alice, @carol" in out
    assert "4 merge requests" in out


def test_show_human(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    proc = human(lore_env, "show", "!1")
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert out.startswith("acme/platform!1  Fix Safari login")
    assert "Branches:  fix-safari → main" in out
    assert "Changes (4 files)" in out and "~ docs/old.md → docs/new.md" in out
    assert "@carol on src/login.py:42" in out and "unresolved" in out
    assert "  ↳ @bob on src/login.py:42" in out
    assert "    Good catch, fixing." in out
    assert "marked this merge request as draft" in out
    assert "1 unresolved" in out

    proc = human(lore_env, "show", "acme/platform#1", "--no-system")
    assert "added ~bug label" not in proc.stdout
    assert "1 system notes hidden" in proc.stdout
    assert "2. log in [bug]" in proc.stdout  # user text is not read as rich markup
    assert "● In progress" in proc.stdout


def test_status_human(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    proc = human(lore_env, "status")
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert str(lore_env.data_dir / "lore.db") in out and "schema v" in out
    assert "degraded 2h ago" in out and "embeddings ✗ EMBEDDING_UNAVAILABLE" in out
    assert "6/10 documents (60%)" in out and "nomic-embed-text (4d" in out
    assert "3 open / 1 closed" in out and "issues 2h, mrs 3h" in out
    assert "https://gitlab.example.com: available" in out
    assert "CONFIG_NOT_FOUND" in out
    assert "Cursor age" in out and "Notes" in out  # a wide terminal shows every column

    narrow = lore_env.run("status", extra_env={**CLOCK_ENV, "COLUMNS": "80", "NO_COLOR": "1"})
    table = narrow.stdout[narrow.stdout.index("Project ") :].splitlines()
    assert table[0].split() == ["Project", "Issues", "Merge", "requests", "Synced"]
    assert "3 open / 1 closed" in narrow.stdout and max(len(line) for line in table) <= 80


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args", "code", "needle"),
    [
        ("lore issues", ["issues", "--lable", "bug"], 2, "did you mean --label"),
        ("lore mrs", ["mrs", "--reviwer", "bob"], 2, "did you mean --reviewer"),
        ("lore issues", ["issues", "--limit", "0"], 2, "--limit"),
        ("lore issues", ["issues", "--since", "yesterday"], 2, "--since"),
        ("lore issues", ["issues", "--state", "merged"], 2, "--state"),
        ("lore mrs", ["mrs", "--sort", "title"], 2, "--sort"),
        ("lore show", ["show", "twelve"], 2, "'twelve'"),
        ("lore show", ["show", "#12"], 13, "#12"),
        ("lore show", ["show", "acme/web#99"], 7, "acme/web#99"),
        (
            "lore show",
            ["show", "https://gitlab.example.com/other/repo/-/issues/1"],
            7,
            "other/repo",
        ),
        ("lore issues", ["issues", "--project", "acme/nope"], 7, "acme/nope"),
    ],
)
def test_bad_input(
    lore_env: LoreEnv, mirror: dict[str, int], command: str, args: list[str], code: int, needle: str
) -> None:
    expected = {2: "USAGE_ERROR", 7: "NOT_FOUND", 13: "AMBIGUOUS"}[code]
    rc, doc = robot(lore_env, *args)
    assert rc == code, doc
    error = check_failure(command, rc, doc, expected)
    assert needle in error["message"] + " " + (error["suggestion"] or ""), error
    proc = human(lore_env, *args)
    assert proc.returncode == code and proc.stdout == ""
    assert f"error[{expected}]" in proc.stderr


def test_ambiguous_lists_candidates(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    rc, doc = robot(lore_env, "show", "#12")
    assert rc == 13
    assert doc["error"]["details"]["candidates"] == ["acme/platform#12", "acme/web#12"]
    proc = human(lore_env, "show", "#12")
    assert "  - acme/platform#12" in proc.stderr and "  - acme/web#12" in proc.stderr


def test_unknown_project_lists_mirrored_ones(lore_env: LoreEnv, mirror: dict[str, int]) -> None:
    proc = human(lore_env, "mrs", "-p", "acme/platfrom")
    assert proc.returncode == 7
    assert "did you mean 'acme/platform'" in proc.stderr
    assert "  - acme/platform" in proc.stderr and "  - acme/web" in proc.stderr


def test_status_filter_without_status_data(lore_env: LoreEnv) -> None:
    b = StoreBuilder(lore_env.data_dir / "lore.db")
    b.project("acme/platform")
    b.issue("acme/platform", 1, "No statuses on this instance")
    b.close()
    rc, doc = robot(lore_env, "issues", "--status", "Done")
    error = check_failure("lore issues", rc, doc, "USAGE_ERROR")
    assert "work-item status" in error["message"] and "lore status" in error["actions"]


# -- manifest and startup ------------------------------------------------------------------


def test_robot_docs_publishes_the_flags() -> None:
    def flags(command: str) -> set[str]:
        return {f for p in entry(command)["params"] for f in p["flags"]}

    common = {
        "--state",
        "--label",
        "--author",
        "--assignee",
        "--since",
        "--project",
        "--limit",
        "--sort",
        "--asc",
        "--desc",
        "--milestone",
        "--search",
    }
    assert common | {"--status", "--status-category", "--type", "-t", "--all-types"} <= flags(
        "lore issues"
    )
    assert "--type" not in flags("lore mrs")
    assert common | {"--reviewer", "--draft", "--ready"} <= flags("lore mrs")
    assert {"--system", "--no-system"} <= flags("lore show")
    state = next(p for p in entry("lore mrs")["params"] if p["name"] == "state")
    assert state["choices"] == ["opened", "closed", "merged", "locked", "all"]
    assert state["default"] == "opened"
    limit = next(p for p in entry("lore issues")["params"] if p["name"] == "limit")
    assert limit["default"] == 50
    for command in ("lore issues", "lore mrs", "lore show", "lore status"):
        assert entry(command)["response_schema"]["type"] == "object"
        assert entry(command)["examples"]


@pytest.mark.parametrize("args", [["status"], ["issues"], ["show", "#1"], ["mrs", "--since", "1w"]])
def test_reading_commands_do_not_import_httpx(
    lore_env: LoreEnv, mirror: dict[str, int], args: list[str]
) -> None:
    code = (
        "import sys\n"
        "from lore.cli.app import main\n"
        f"rc = main({args!r})\n"
        "sys.stderr.write('HTTPX=%s RC=%s' % ('httpx' in sys.modules, rc))\n"
    )
    env = {**lore_env.env, **CLOCK_ENV}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert "HTTPX=False RC=0" in proc.stderr, proc.stderr
