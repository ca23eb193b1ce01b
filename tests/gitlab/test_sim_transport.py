"""The simulator's transport-level behaviours, as real GitLab (and the nginx in front of
it) has them: HTTPS with a private CA, http→https and cross-host redirects, the
Rack::Attack request throttle with its RateLimit-* headers, and bare 429s."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from lore.sim.redirect import Redirector
from lore.sim.server import Simulator

RATE_HEADERS = (
    "ratelimit-name",
    "ratelimit-limit",
    "ratelimit-observed",
    "ratelimit-remaining",
    "ratelimit-reset",
)


@pytest.fixture
def tls_sim() -> Iterator[Simulator]:
    with Simulator.start(preset="small", seed=7, tls=True) as server:
        yield server


def test_tls_sim_is_trusted_only_with_its_ca(tls_sim: Simulator) -> None:
    assert tls_sim.url.startswith("https://127.0.0.1:")
    assert tls_sim.ca_bundle is not None
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(tls_sim.url + "/api/v4/version")
    context = ssl.create_default_context(cafile=tls_sim.ca_bundle)
    headers = {"Authorization": f"Bearer {tls_sim.token}"}
    for host in ("127.0.0.1", "localhost"):
        response = httpx.get(
            f"https://{host}:{tls_sim.port}/api/v4/version", verify=context, headers=headers
        )
        assert response.status_code == 200
    # the handshake failure above did not stop the server from serving
    assert httpx.get(tls_sim.url + "/api/v4/user", verify=context, headers=headers).json()[
        "username"
    ]


def test_redirector_answers_every_method_and_records_credentials_by_kind(sim: Simulator) -> None:
    with Redirector.start(sim.url, status=301) as red:
        got = httpx.post(
            red.url + "/api/graphql?a=1",
            json={"query": "{x}"},
            headers={"Authorization": "Bearer secret-value"},
        )
        assert got.status_code == 301
        assert got.headers["location"] == sim.url + "/api/graphql?a=1"
        httpx.get(red.url + "/api/v4/version", headers={"PRIVATE-TOKEN": "secret-value"})
        httpx.get(red.url + "/api/v4/user?private_token=secret-value")
        seen = red.requests
    assert [(r.method, r.path, r.auth, r.token_param) for r in seen] == [
        ("POST", "/api/graphql", "bearer", False),
        ("GET", "/api/v4/version", "private-token", False),
        ("GET", "/api/v4/user", "none", True),
    ]
    assert "secret-value" not in repr(seen)


def test_rate_limit_headers_on_every_response_and_429_when_used_up() -> None:
    with Simulator.start(preset="small", seed=7, rate_limit=(3, 60)) as sim:
        headers = {"Authorization": f"Bearer {sim.token}"}
        with httpx.Client(base_url=sim.url, headers=headers) as client:
            answers = [client.get("/api/v4/version") for _ in range(3)]
            refused = client.post("/api/graphql", json={"query": "{ currentUser { id } }"})
            refused_again = client.get("/api/v4/user")
        for i, response in enumerate(answers, start=1):
            assert response.status_code == 200
            assert all(h in response.headers for h in RATE_HEADERS)
            assert "retry-after" not in response.headers
            assert response.headers["ratelimit-observed"] == str(i)
            assert response.headers["ratelimit-remaining"] == str(3 - i)
        reset = int(answers[0].headers["ratelimit-reset"])
        assert reset % 60 == 0 and 0 < reset - time.time() <= 61  # epoch-aligned window end
        assert refused.status_code == 429 and refused.text == "Retry later\n"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-resettime"].endswith("GMT")
        assert refused_again.status_code == 429  # REST and GraphQL share one bucket
        assert sim.stats()["responses_by_status"] == {"200": 3, "429": 2}


def test_rate_limit_window_ends() -> None:
    with Simulator.start(preset="small", seed=7, rate_limit=(1, 1)) as sim:
        headers = {"Authorization": f"Bearer {sim.token}"}
        with httpx.Client(base_url=sim.url, headers=headers) as client:
            first = client.get("/api/v4/version")
            second = client.get("/api/v4/version")
            reset = int(first.headers["ratelimit-reset"])
            time.sleep(max(0.0, reset - time.time()) + 0.05)
            after = client.get("/api/v4/version")
    # the second may land in the next window when the first was at its very end
    if int(second.headers["ratelimit-reset"]) == reset:
        assert second.status_code == 429
    assert first.status_code == 200 and after.status_code == 200


def test_bare_429_fault_has_no_hint_on_any_route(sim: Simulator) -> None:
    sim.configure_faults([{"route": "*", "kind": "429_bare", "count": 2}])
    headers = {"Authorization": f"Bearer {sim.token}"}
    gql = httpx.post(
        sim.url + "/api/graphql", json={"query": "{ currentUser { id } }"}, headers=headers
    )
    rest = httpx.get(sim.url + "/api/v4/version", headers=headers)
    for response in (gql, rest):
        assert response.status_code == 429
        assert response.headers["content-type"].startswith("text/html")
        assert not [h for h in response.headers if h.startswith("ratelimit") or h == "retry-after"]


def test_oauth_error_bodies(sim: Simulator) -> None:
    sim.configure_faults(
        [
            {"route": "user", "kind": "401_expired", "count": 1},
            {"route": "issues", "kind": "403_scope", "count": 1},
        ]
    )
    headers = {"Authorization": f"Bearer {sim.token}"}
    expired = httpx.get(sim.url + "/api/v4/user", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"
    assert "expired" in expired.json()["error_description"]
    assert expired.headers["www-authenticate"].startswith('Bearer realm="The API"')
    project = sim.dataset.projects[0].id
    scope = httpx.get(f"{sim.url}/api/v4/projects/{project}/issues", headers=headers)
    assert scope.status_code == 403
    assert scope.json()["error"] == "insufficient_scope" and scope.json()["scope"] == "api read_api"
