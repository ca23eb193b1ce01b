"""A hypothesis state machine over the run policy (ERRATA 10): random sequences of run
outcomes, crashed runs, pauses, resumes, triggers and clock jumps. It checks that every
state change is one of the legal transitions (its own copy of the table, so widening
the table in the code fails here), that the counters follow an independent model, and
that the status survives a round trip through its file format."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lore.service import policy
from lore.service.status import StageRecord, SyncStatusFile

INTERVAL = 300
MAX = 10
COOLDOWN = 1800
CAP = 4 * 3600

# The plan's table (Key Design Principles §6) and the edges the plan implies, written
# out independently of lore.service.policy.
LEGAL = {
    ("idle", "running"),
    ("running", "success"),
    ("running", "degraded"),
    ("running", "backoff"),
    ("running", "paused"),
    ("backoff", "running"),
    ("backoff", "paused"),
    ("paused", "half_open"),
    ("half_open", "running"),
    ("half_open", "paused"),
    # implied: next run after a good one; manual pause from anywhere; resume -> idle;
    # pausing again; a crashed run superseded by the next one
    ("success", "running"),
    ("degraded", "running"),
    ("idle", "paused"),
    ("success", "paused"),
    ("degraded", "paused"),
    ("paused", "idle"),
    ("half_open", "idle"),
    ("paused", "paused"),
    ("running", "running"),
}

OUTCOMES = st.sampled_from(["success", "degraded", "transient", "rate_limited", "permanent"])


def stages_for(outcome: str) -> list[StageRecord]:
    if outcome == "success":
        return [StageRecord("issues", True, 3), StageRecord("mrs", True, 1)]
    if outcome == "degraded":
        return [
            StageRecord("issues", True, 3),
            StageRecord("mrs", True, 1),
            StageRecord("embeddings", False, error="down", error_code="EMBEDDING_UNAVAILABLE"),
        ]
    if outcome == "transient":
        return [
            StageRecord("issues", False, error="500", error_code="NETWORK_ERROR"),
            StageRecord("mrs", True),
        ]
    if outcome == "rate_limited":
        return [
            StageRecord(
                "issues",
                False,
                error="429",
                error_code="RATE_LIMITED",
                retry_after_ms=3 * 3600 * 1000,
            )
        ]
    return [StageRecord("issues", False, error="401", error_code="AUTH_FAILED")]


class RunPolicyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.status = SyncStatusFile()
        self.now = 1_700_000_000_000
        self.jitter = 0.5
        self.edges: list[tuple[str, str]] = []
        self.inflight_pid: int | None = None
        self.next_pid = 100
        # the independent model
        self.failures = 0
        self.pause_kind: str | None = None  # manual | permanent | breaker
        self.breaker_at: int | None = None
        self._original = policy.transition
        policy.transition = self._spy  # type: ignore[assignment]

    def teardown(self) -> None:
        policy.transition = self._original  # type: ignore[assignment]

    def _spy(self, status: SyncStatusFile, dst: str) -> None:
        src = status.state
        self._original(status, dst)
        self.edges.append((src, dst))

    # -- helpers -------------------------------------------------------------------------

    def _gate_and_start(self, ignore_backoff: bool) -> tuple[bool, bool]:
        gate = policy.gate(self.status, COOLDOWN, self.now, ignore_backoff=ignore_backoff)
        if gate.action == "paused":
            assert self.pause_kind is not None
            if self.pause_kind == "breaker":
                assert self.breaker_at is not None and self.now < self.breaker_at + COOLDOWN * 1000
            return False, False
        if gate.action == "backoff":
            assert not ignore_backoff and self.pause_kind is None
            assert (
                self.status.next_retry_at_ms is not None and self.now < self.status.next_retry_at_ms
            )
            assert gate.remaining_seconds == (self.status.next_retry_at_ms - self.now) // 1000
            return False, False
        if gate.probe:
            assert self.pause_kind == "breaker" or self.status.state == "half_open"
            assert self.breaker_at is not None and self.now >= self.breaker_at + COOLDOWN * 1000
            self.pause_kind, self.breaker_at = None, None  # lifted while the probe runs
        else:
            assert self.pause_kind is None
        self.next_pid += 1
        policy.start_run(self.status, self.now, self.next_pid, gate.probe)
        self.inflight_pid = self.next_pid
        return True, gate.probe

    def _finish(self, outcome: str) -> None:
        assert self.inflight_pid is not None
        stages = stages_for(outcome)
        before_state = self.status.state
        probe = (
            self.status.current_run is not None
            and self.status.current_run.probe
            and self.status.current_run.pid == self.inflight_pid
        )
        applied = policy.finish_run(
            self.status,
            outcome=policy.classify_outcome(stages),
            core_failure=policy.first_core_failure(stages),
            interval_seconds=INTERVAL,
            max_transient_failures=MAX,
            now_ms=self.now,
            rng=lambda: self.jitter,
            pid=self.inflight_pid,
        )
        self.inflight_pid = None
        if before_state != "running":
            assert applied.recorded_only
            return
        if outcome in ("success", "degraded"):
            self.failures, self.pause_kind, self.breaker_at = 0, None, None
        elif outcome == "permanent":
            self.pause_kind, self.breaker_at = "permanent", None
        else:
            self.failures += 1
            if probe or self.failures >= MAX:
                self.pause_kind, self.breaker_at = "breaker", self.now
            else:
                retry = self.status.next_retry_at_ms
                assert retry is not None
                low = self.now + INTERVAL * 1000
                high = (
                    self.now + max(min(INTERVAL * 2 ** (self.failures - 1), CAP), INTERVAL) * 1000
                )
                if outcome == "rate_limited":
                    assert retry == max(self.now + 3 * 3600 * 1000, retry)
                    assert retry >= self.now + 3 * 3600 * 1000
                else:
                    assert low <= retry <= high

    # -- rules ------------------------------------------------------------------------------

    @rule(
        ms=st.sampled_from(
            [
                0,
                1000,
                60_000,
                INTERVAL * 1000,
                COOLDOWN * 1000 - 1,
                COOLDOWN * 1000,
                3 * 3600 * 1000,
                24 * 3600 * 1000,
            ]
        )
    )
    def clock_jump(self, ms: int) -> None:
        self.now += ms

    @rule(jitter=st.floats(min_value=0.0, max_value=1.0))
    def new_jitter(self, jitter: float) -> None:
        self.jitter = jitter

    @rule(outcome=OUTCOMES)
    def scheduled_run(self, outcome: str) -> None:
        if self.inflight_pid is not None:
            self.inflight_pid = None  # a new scheduled run means the old process is gone
        started, _ = self._gate_and_start(ignore_backoff=False)
        if started:
            self._finish(outcome)

    @rule(count=st.integers(min_value=1, max_value=12))
    def outage(self, count: int) -> None:
        """Consecutive transient failures, each at its retry time: reaches the breaker."""
        for _ in range(count):
            if self.status.next_retry_at_ms is not None:
                self.now = max(self.now, self.status.next_retry_at_ms)
            self.scheduled_run("transient")

    @rule(outcome=OUTCOMES, ignore_backoff=st.booleans())
    def trigger(self, outcome: str, ignore_backoff: bool) -> None:
        if self.inflight_pid is not None:
            self.inflight_pid = None
        started, _ = self._gate_and_start(ignore_backoff=ignore_backoff)
        if started:
            self._finish(outcome)

    @rule()
    def start_and_crash_or_linger(self) -> None:
        if self.inflight_pid is None:
            self._gate_and_start(ignore_backoff=False)

    @precondition(lambda self: self.inflight_pid is not None)
    @rule(outcome=OUTCOMES)
    def finish_inflight(self, outcome: str) -> None:
        self._finish(outcome)

    @rule(reason=st.text(max_size=20))
    def pause(self, reason: str) -> None:
        was = self.status.state == "paused"
        already = policy.pause(self.status, reason or "Manually paused")
        assert already == (was or self.pause_kind is not None)
        assert not self.status.is_circuit_breaker
        self.pause_kind, self.breaker_at = "manual", None

    @rule()
    def resume(self) -> None:
        was_paused = policy.resume(self.status)
        assert was_paused == (self.pause_kind is not None)
        if was_paused:
            self.failures, self.pause_kind, self.breaker_at = 0, None, None
            assert self.status.state == "idle"

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def only_legal_transitions(self) -> None:
        illegal = [edge for edge in self.edges if edge not in LEGAL]
        assert not illegal, illegal

    @invariant()
    def counters_follow_the_model(self) -> None:
        s = self.status
        assert s.consecutive_failures == self.failures
        assert (s.state == "paused") == (self.pause_kind is not None)
        assert s.is_circuit_breaker == (self.pause_kind == "breaker")
        assert s.circuit_breaker_paused_at_ms == self.breaker_at
        if self.pause_kind == "manual":
            assert s.paused_reason is not None and s.paused_reason.startswith("MANUAL: ")
        if self.pause_kind == "permanent":
            assert s.paused_reason is not None and s.paused_reason.startswith("AUTH_FAILED: ")
        assert policy.invariant_violations(s, MAX) == []
        if s.current_run is not None and self.inflight_pid is None:
            # a crashed run's marker may linger (while paused); it must read as stale
            shown = policy.display_state(s, COOLDOWN, self.now, lambda pid: False)
            assert shown in ("running_stale", "paused", "half_open")

    @invariant()
    def survives_its_file_format(self) -> None:
        again = SyncStatusFile.from_dict(self.status.to_dict())
        assert again == self.status

    @invariant()
    def display_state_is_one_of_the_plans(self) -> None:
        shown = policy.display_state(
            self.status, COOLDOWN, self.now, lambda pid: pid == self.inflight_pid
        )
        assert shown in (
            "idle",
            "running",
            "running_stale",
            "success",
            "degraded",
            "backoff",
            "half_open",
            "paused",
        )


RunPolicyMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRunPolicy = RunPolicyMachine.TestCase


def test_the_machine_reaches_every_state() -> None:
    """A directed walk, so the random one is known to be able to reach everything."""
    machine: Any = RunPolicyMachine()
    try:
        seen = {machine.status.state}
        for outcome in ["success", "degraded"] + ["transient"] * 10:
            machine.clock_jump(24 * 3600 * 1000)
            machine.scheduled_run(outcome)
            seen.add(machine.status.state)
        machine.clock_jump(COOLDOWN * 1000)
        machine.scheduled_run("transient")  # failed probe
        machine.clock_jump(COOLDOWN * 1000)
        machine.scheduled_run("success")  # good probe
        machine.start_and_crash_or_linger()
        seen.add(machine.status.state)
        machine.pause("x")
        machine.resume()
        seen.add(machine.status.state)
        assert {"idle", "running", "success", "degraded", "backoff", "paused"} <= seen
        assert ("paused", "half_open") in machine.edges and (
            "half_open",
            "running",
        ) in machine.edges
        machine.only_legal_transitions()
        machine.counters_follow_the_model()
    finally:
        machine.teardown()
