"""A long rate-limit hint ends the scheduled run as RATE_LIMITED with retry_after_ms, and
the service backs off until then (the hint is a floor for the computed backoff) instead
of retrying into the limit or pausing as if the token were bad."""

from __future__ import annotations

from typing import Any

from lore.gitlab.client import MAX_HINT_WAIT_SECONDS

from .conftest import ServiceEnv

T0 = 1_800_000_000_000


def test_long_retry_after_backs_the_service_off_until_the_hint(svc: ServiceEnv, sim: Any) -> None:
    svc.env["GITLAB_TOKEN"] = sim.token
    svc.lore.write_config(
        sim.url, [p.path for p in sim.dataset.projects], extra={"embedding": {"provider": "none"}}
    )
    sid = svc.checked("install", "--backend", "cron", "--interval", "5m")["data"]["service_id"]
    wait = int(MAX_HINT_WAIT_SECONDS) * 15  # 15 minutes: longer than any computed backoff
    sim.configure_faults([{"route": "*", "kind": "429", "retry_after": wait}])
    svc.checked("run", "--service-id", sid, extra_env=svc.hooks(T0, jitter=0.0))
    status = svc.status_file(sid)
    assert status["state"] == "backoff", status
    assert status["last_error_code"] == "RATE_LIMITED"
    assert status["backoff_reason"] == "server_hint"
    assert status["next_retry_at_ms"] == T0 + wait * 1000
    # the client gave up at once: one 429 per request, no retries into the limit
    assert sim.stats()["responses_by_status"].get("429", 0) <= 2
    # still backing off a minute before the hint runs out
    skipped = svc.checked(
        "run", "--service-id", sid, extra_env=svc.hooks(T0 + (wait - 60) * 1000, jitter=0.0)
    )["data"]
    assert sim.stats()["responses_by_status"].get("429", 0) <= 2, skipped
