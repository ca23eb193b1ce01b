"""GitLabClient against real GitLab's answers: the auth header, error mapping (401
error_description, 403 insufficient_scope vs ForbiddenError), redirects, TLS errors,
rate-limit pacing and 429s. The simulator serves each case (no mocks of lore itself)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lore.core.errors import ErrorCode, LoreError
from lore.gitlab.client import (
    MAX_HINT_WAIT_SECONDS,
    ForbiddenError,
    GitLabClient,
    InsufficientScopeError,
    RetryPolicy,
    ssl_context_for,
)
from lore.sim.redirect import Redirector
from lore.sim.server import Simulator


class FakeSleep:
    """Records every sleep; sleeps for real only ``real`` seconds at most (0: never).
    With ``start`` it is also the clock, moved forward by every sleep."""

    def __init__(self, real: float = 0.0, start: float | None = None) -> None:
        self.calls: list[float] = []
        self.real = real
        self.now = start
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.calls.append(seconds)
            if self.now is not None:
                self.now += seconds
        if self.real:
            time.sleep(min(seconds, self.real))

    def clock(self) -> float:
        assert self.now is not None
        return self.now


def client_for(
    url: str,
    token: str,
    *,
    sleep: Any = None,
    clock: Any = None,
    max_retries: int = 5,
    **kwargs: Any,
) -> GitLabClient:
    retry = RetryPolicy(
        max_retries=max_retries,
        sleep=sleep or FakeSleep(),
        rng=lambda: 0.0,
        **({"clock": clock} if clock else {}),
    )
    return GitLabClient(url, token, retry=retry, **kwargs)


@pytest.fixture
def tls_sim() -> Iterator[Simulator]:
    with Simulator.start(preset="small", seed=7, tls=True) as server:
        yield server


# -- auth header --------------------------------------------------------------------


def test_bearer_header_is_sent(sim: Simulator) -> None:
    with client_for(sim.url, sim.token) as client:
        assert client.current_user()["username"]
        client.post_graphql("{ currentUser { username } }")
    kinds = {entry["auth"] for entry in sim.state.request_log}
    assert kinds == {"bearer"}
    assert client.auth_scheme == "bearer"


def test_private_token_is_only_a_fallback_when_bearer_is_refused(sim: Simulator) -> None:
    # A proxy that eats Authorization: the first answer is 401, PRIVATE-TOKEN then works.
    sim.configure_faults([{"route": "*", "kind": "401", "count": 1}])
    with client_for(sim.url, sim.token) as client:
        assert client.current_user()["username"]
        assert client.auth_scheme == "private-token"
        client.version()
    assert [e["auth"] for e in sim.state.request_log] == [
        "bearer",
        "private-token",
        "private-token",
    ]


def test_no_fallback_once_bearer_has_worked(sim: Simulator) -> None:
    with client_for(sim.url, sim.token) as client:
        client.version()
        sim.configure_faults([{"route": "*", "kind": "401", "count": 1}])
        with pytest.raises(LoreError) as info:
            client.current_user()
    assert info.value.code is ErrorCode.AUTH_FAILED
    assert [e["auth"] for e in sim.state.request_log] == ["bearer", "bearer"]


# -- error mapping ------------------------------------------------------------------


def test_401_shows_error_description(sim: Simulator) -> None:
    sim.configure_faults([{"route": "user", "kind": "401_expired"}])
    with client_for(sim.url, sim.token) as client, pytest.raises(LoreError) as info:
        client.current_user()
    err = info.value
    assert err.code is ErrorCode.AUTH_FAILED
    assert "Token is expired" in err.message
    assert "invalid_token" not in err.message and sim.token not in err.message


def test_403_insufficient_scope_names_the_scope(sim: Simulator) -> None:
    sim.configure_faults([{"route": "issues", "kind": "403_scope"}])
    project = sim.dataset.projects[0]
    with client_for(sim.url, sim.token) as client, pytest.raises(LoreError) as info:
        client.get_page(f"/api/v4/projects/{project.id}/issues", what="issues")
    err = info.value
    assert isinstance(err, InsufficientScopeError) and not isinstance(err, ForbiddenError)
    assert err.code is ErrorCode.AUTH_FAILED
    assert err.scope_missing == "read_api" and "read_api" in err.message
    assert err.suggestion and "read_api" in err.suggestion


def test_403_on_a_list_is_forbidden_not_a_bad_token() -> None:
    with Simulator.start(preset="small", seed=7) as sim:
        project = sim.dataset.projects[0]
        sim.admin.set_features(project.path, merge_requests="disabled")
        with client_for(sim.url, sim.token) as client, pytest.raises(ForbiddenError) as info:
            client.get_page(f"/api/v4/projects/{project.id}/merge_requests", what="merge requests")
    err = info.value
    assert err.code is ErrorCode.AUTH_FAILED  # for callers that do not catch it
    assert err.http_status == 403 and err.what == "merge requests"
    assert err.path.endswith("/merge_requests") and "403" in err.message
    assert not getattr(err, "scope_missing", None)


# -- TLS ----------------------------------------------------------------------------


def test_certificate_error_is_permanent_and_names_the_fix(tls_sim: Simulator) -> None:
    sleep = FakeSleep()
    with (
        client_for(
            tls_sim.url, tls_sim.token, sleep=sleep, verify=ssl_context_for(environ={})
        ) as client,
        pytest.raises(LoreError) as info,
    ):
        client.version()
    err = info.value
    assert err.code is ErrorCode.NETWORK_ERROR
    assert "certificate" in err.message
    assert (
        err.suggestion and "gitlab.caBundle" in err.suggestion and "SSL_CERT_FILE" in err.suggestion
    )
    assert sleep.calls == [] and client.stats.requests == 1 and client.stats.retries == 0


def test_ca_bundle_and_env_vars_are_trusted(tls_sim: Simulator) -> None:
    assert tls_sim.ca_bundle
    contexts = [
        ssl_context_for(tls_sim.ca_bundle, environ={}),
        ssl_context_for(environ={"SSL_CERT_FILE": tls_sim.ca_bundle}),
        ssl_context_for(environ={"REQUESTS_CA_BUNDLE": tls_sim.ca_bundle}),
    ]
    for context in contexts:
        with client_for(tls_sim.url, tls_sim.token, verify=context) as client:
            assert client.version()["version"]


def test_missing_ca_file_in_env_is_config_invalid_naming_it(tmp_path: Any) -> None:
    with pytest.raises(LoreError) as info:
        ssl_context_for(environ={"SSL_CERT_FILE": str(tmp_path / "nope.pem")})
    assert info.value.code is ErrorCode.CONFIG_INVALID
    assert "SSL_CERT_FILE" in info.value.message and "nope.pem" in info.value.message
    # an http:// set-up is not broken by a stale variable
    assert ssl_context_for(environ={"SSL_CERT_FILE": str(tmp_path / "nope.pem")}, strict_env=False)


def test_plain_http_server_behind_https_url_is_a_permanent_tls_error(sim: Simulator) -> None:
    sleep = FakeSleep()
    url = sim.url.replace("http://", "https://")
    with client_for(url, sim.token, sleep=sleep) as client, pytest.raises(LoreError) as info:
        client.version()
    assert info.value.code is ErrorCode.NETWORK_ERROR and "TLS" in info.value.message
    assert sleep.calls == []


# -- redirects ----------------------------------------------------------------------


def test_post_redirect_is_an_error_naming_the_final_url(sim: Simulator) -> None:
    with Redirector.start(sim.url, status=301) as red:
        with client_for(red.url, sim.token) as client, pytest.raises(LoreError) as info:
            client.post_graphql("{ currentUser { id } }")
        err = info.value
        assert err.code is ErrorCode.CONFIG_INVALID
        assert sim.url in (err.suggestion or "") and "gitlab.baseUrl" in (err.suggestion or "")
        assert [r.method for r in red.requests] == ["POST"]
    # nothing reached GitLab as a bodyless GET
    assert not [e for e in sim.state.request_log if e["path"] == "/api/graphql"]


def test_same_host_get_redirect_moves_the_base_url_and_post_then_works(sim: Simulator) -> None:
    with Redirector.start(sim.url, status=301) as red:
        with client_for(red.url, sim.token) as client:
            assert client.version()["version"]
            assert client.base_url == sim.url and client.configured_base_url == red.url
            data = client.post_graphql("{ currentUser { username } }")
        assert data["data"]["currentUser"]["username"]
        assert [r.method for r in red.requests] == ["GET"]  # the POST went straight to GitLab


def test_cross_host_redirect_never_sends_the_token(sim: Simulator) -> None:
    other = sim.url.replace("127.0.0.1", "localhost")
    with (
        Redirector.start(other, status=302) as red,
        client_for(red.url, sim.token) as client,
        pytest.raises(LoreError) as info,
    ):
        client.version()
    assert [r.method for r in red.requests] == ["GET"]
    err = info.value
    assert err.code is ErrorCode.CONFIG_INVALID
    assert "127.0.0.1" in err.message and "localhost" in err.message
    assert list(sim.state.request_log) == []  # not even the GET reached the other host


# -- rate limits --------------------------------------------------------------------


def test_rate_limit_headers_slow_the_client_before_429s() -> None:
    # 24 requests per 3 s window, 60 requests from 4 threads: the naive client gets 429s
    # (see the control below); the throttle spreads them instead.
    with Simulator.start(preset="small", seed=7, rate_limit=(24, 3)) as sim:
        sleep = FakeSleep(real=10.0)
        with client_for(sim.url, sim.token, sleep=sleep, concurrency=4) as client:
            started = time.monotonic()
            errors: list[BaseException] = []

            def work() -> None:
                try:
                    for _ in range(15):
                        client.version()
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=work) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
        assert not errors
        statuses = sim.stats()["responses_by_status"]
        assert statuses.get("200") == 60
        assert statuses.get("429", 0) <= 2, statuses  # window-edge races at most
        assert client.stats.throttled_requests > 0
        assert elapsed >= 3.0  # 60 requests cannot fit in fewer than 3 windows of 24


def test_control_without_throttle_hits_429s() -> None:
    with Simulator.start(preset="small", seed=7, rate_limit=(24, 3)) as sim:
        headers = {"Authorization": f"Bearer {sim.token}"}
        with httpx.Client(base_url=sim.url, headers=headers) as raw:
            for _ in range(60):
                raw.get("/api/v4/version")
        assert sim.stats()["responses_by_status"].get("429", 0) > 0


def test_bare_429_waits_for_the_next_minute_window(sim: Simulator) -> None:
    sim.configure_faults([{"route": "graphql", "kind": "429_bare", "count": 1}])
    sleep = FakeSleep(start=1_800_000_017.25)  # 17.25 s into a minute
    with client_for(sim.url, sim.token, sleep=sleep, clock=sleep.clock) as client:
        assert client.post_graphql("{ currentUser { id } }")["data"]
    assert sleep.calls == [pytest.approx(60 - 17.25)]


def test_bare_429s_are_bounded(sim: Simulator) -> None:
    sim.configure_faults([{"route": "graphql", "kind": "429_bare"}])
    sleep = FakeSleep(start=1_800_000_000.0)
    with (
        client_for(sim.url, sim.token, sleep=sleep, clock=sleep.clock) as client,
        pytest.raises(LoreError) as info,
    ):
        client.post_graphql("{ currentUser { id } }")
    assert info.value.code is ErrorCode.RATE_LIMITED
    assert info.value.retry_after_ms == 60_000
    assert sleep.calls == [60.0] * RetryPolicy().max_rate_limit_waits  # ≈ 3 minutes, then stop


def test_long_retry_after_is_rate_limited_at_once(sim: Simulator) -> None:
    wait = int(MAX_HINT_WAIT_SECONDS) + 240
    sim.configure_faults([{"route": "issues", "kind": "429", "retry_after": wait}])
    sleep = FakeSleep()
    project = sim.dataset.projects[0]
    with client_for(sim.url, sim.token, sleep=sleep) as client, pytest.raises(LoreError) as info:
        client.get_page(f"/api/v4/projects/{project.id}/issues")
    assert info.value.code is ErrorCode.RATE_LIMITED
    assert info.value.retry_after_ms == wait * 1000
    assert sleep.calls == []


# -- absolute URLs from GitLab (keyset Link: rel="next") -------------------------------


def test_absolute_links_go_to_the_current_base_and_never_to_another_host(sim: Simulator) -> None:
    with client_for(sim.url, sim.token) as client:
        # GitLab behind a proxy may write links with another scheme/port for the same host.
        same_host = "http://127.0.0.1:1/api/v4/version?x=1"
        assert client.request("GET", same_host).json()["version"]
        with pytest.raises(LoreError) as info:
            client.request("GET", "http://localhost:1/api/v4/version")
    assert "localhost" in info.value.message
    assert [(e["path"], e["query"]) for e in sim.state.request_log] == [("/api/v4/version", "x=1")]


def test_used_up_budget_with_a_far_reset_is_rate_limited_without_sending() -> None:
    # A daily quota used up: waiting until its reset is the service's job, not a worker's.
    with Simulator.start(preset="small", seed=7, rate_limit=(2, 86_400)) as sim:
        sleep = FakeSleep()
        with client_for(sim.url, sim.token, sleep=sleep) as client:
            client.version()
            client.version()
            with pytest.raises(LoreError) as info:
                client.version()
        assert sim.stats()["responses_by_status"] == {"200": 2}  # the third never left
    err = info.value
    assert err.code is ErrorCode.RATE_LIMITED
    assert err.retry_after_ms is not None and err.retry_after_ms > MAX_HINT_WAIT_SECONDS * 1000
    assert sleep.calls == []
