"""Config loading and validation: every bad input names the key and loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lore.core import config as cfgmod
from lore.core.errors import ErrorCode, LoreError
from lore.core.paths import config_path, data_dir

GOOD = {
    "gitlab": {"baseUrl": "https://gitlab.example.com", "tokenEnvVar": "GITLAB_TOKEN"},
    "projects": [{"path": "group/sub/repo"}],
}


def _err(raw: object) -> LoreError:
    with pytest.raises(LoreError) as info:
        cfgmod.validate(raw)
    return info.value


def test_good_config_gets_defaults() -> None:
    cfg = cfgmod.validate(json.loads(json.dumps(GOOD)))
    assert cfg.base_url == "https://gitlab.example.com"
    assert cfg.project_paths == ["group/sub/repo"]
    assert cfg.sync.concurrency == 8
    assert cfg.embedding.provider == "ollama"
    assert cfg.who.half_life_days == 180


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda c: c["sync"].update(concurency=3), "sync.concurency"),
        (lambda c: c.update(extra=1), "extra"),
        (lambda c: c["gitlab"].update(baseUrl=42), "gitlab.baseUrl"),
        (lambda c: c["gitlab"].update(baseUrl="ftp://x"), "gitlab.baseUrl"),
        (lambda c: c["gitlab"].update(baseUrl="not a url"), "gitlab.baseUrl"),
        (lambda c: c.update(projects=[]), "projects"),
        (lambda c: c["projects"].append({"path": "noslash"}), "projects[1].path"),
        (lambda c: c["sync"].update(concurrency="8"), "sync.concurrency"),
        (lambda c: c["sync"].update(concurrency=0), "sync.concurrency"),
        (lambda c: c["gitlab"].update(tokenEnvVar="MY-TOKEN"), "gitlab.tokenEnvVar"),
        (lambda c: c["gitlab"].pop("baseUrl"), "gitlab.baseUrl"),
        (lambda c: c.update(who={"curve": "cubic"}), "who.curve"),
    ],
)
def test_invalid_config_names_the_key(mutate, key: str) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads(json.dumps(GOOD))
    raw["sync"] = {}
    mutate(raw)
    err = _err(raw)
    assert err.code is ErrorCode.CONFIG_INVALID
    assert key in err.message
    assert err.suggestion


def test_unknown_key_suggests_the_near_miss() -> None:
    raw = json.loads(json.dumps(GOOD))
    raw["sync"] = {"concurency": 4}
    err = _err(raw)
    assert "did you mean 'concurrency'" in err.message


def test_malformed_json_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{\n  "gitlab": {\n    "baseUrl": "x",,\n  }\n}\n')
    with pytest.raises(LoreError) as info:
        cfgmod.load(path)
    assert info.value.code is ErrorCode.CONFIG_INVALID
    assert "line 3" in info.value.message and "column" in info.value.message


def test_missing_config_suggests_init(tmp_path: Path) -> None:
    with pytest.raises(LoreError) as info:
        cfgmod.load(tmp_path / "nope.json")
    assert info.value.code is ErrorCode.CONFIG_NOT_FOUND
    assert "lore init" in (info.value.suggestion or "")


def test_token_unset_and_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = cfgmod.validate(json.loads(json.dumps(GOOD)))
    monkeypatch.delenv("GITLAB_TOKEN", raising=False)
    with pytest.raises(LoreError) as info:
        cfg.token()
    assert info.value.code is ErrorCode.TOKEN_NOT_SET and "not set" in info.value.message
    monkeypatch.setenv("GITLAB_TOKEN", "  ")
    with pytest.raises(LoreError) as info:
        cfg.token()
    assert info.value.code is ErrorCode.TOKEN_NOT_SET and "empty" in info.value.message
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-abc")
    assert cfg.token() == "glpat-abc"


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LORE_CONFIG_PATH", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert config_path() == tmp_path / "home" / ".config" / "lore" / "config.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "lore" / "config.json"
    monkeypatch.setenv("LORE_CONFIG_PATH", str(tmp_path / "env.json"))
    assert config_path() == tmp_path / "env.json"
    assert config_path(str(tmp_path / "flag.json")) == tmp_path / "flag.json"


def test_data_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LORE_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "lore"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "lore"
    monkeypatch.setenv("LORE_DATA_DIR", str(tmp_path / "data"))
    assert data_dir() == tmp_path / "data"


def test_round_trip_through_dumps() -> None:
    cfg = cfgmod.build("http://127.0.0.1:9/", ["a/b", "a/c/d"], "TOK")
    again = cfgmod.parse(cfgmod.dumps(cfg))
    assert again.to_dict() == cfg.to_dict()
    assert again.base_url == "http://127.0.0.1:9"


def _with_gitlab(**keys: object) -> dict[str, object]:
    raw = json.loads(json.dumps(GOOD))
    raw["gitlab"].update(keys)
    return raw


def test_tls_keys_default_to_verifying_with_no_extra_ca() -> None:
    cfg = cfgmod.validate(_with_gitlab())
    assert cfg.gitlab.ca_bundle is None and cfg.gitlab.tls_verify is True
    # defaults stay out of the written file
    assert "caBundle" not in cfgmod.dumps(cfg) and "tlsVerify" not in cfgmod.dumps(cfg)


def test_ca_bundle_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    ca = tmp_path / "certs" / "corp.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_with_gitlab(caBundle="certs/corp.pem", tlsVerify=True)))
    cfg = cfgmod.load(path)
    assert cfg.gitlab.ca_bundle == str(ca.resolve())
    again = cfgmod.parse(cfgmod.dumps(cfg))
    assert again.gitlab.ca_bundle == str(ca.resolve())


@pytest.mark.parametrize("value", ["missing.pem", "", "."])
def test_bad_ca_bundle_is_config_invalid_naming_key_and_path(tmp_path: Path, value: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_with_gitlab(caBundle=value)))
    with pytest.raises(LoreError) as info:
        cfgmod.load(path)
    err = info.value
    assert err.code is ErrorCode.CONFIG_INVALID
    assert "gitlab.caBundle" in err.message and (err.details or {}).get("key") == "gitlab.caBundle"
    if value == "missing.pem":
        assert str(tmp_path / "missing.pem") in err.message


def test_tls_verify_must_be_a_boolean() -> None:
    err = _err(_with_gitlab(tlsVerify="no"))
    assert err.code is ErrorCode.CONFIG_INVALID and "gitlab.tlsVerify" in err.message
