"""AdaptivePageSize: halve on failures a smaller page may avoid, grow back after a run of
successes, never past the configured size, and bisect towards a known complexity limit."""

from __future__ import annotations

from lore.gitlab.graphql import FailureKind
from lore.sync.work_item_status import AdaptivePageSize


def test_halves_down_to_the_floor_of_one() -> None:
    pages = AdaptivePageSize(100)
    sizes = []
    while pages.on_failure(FailureKind.SERVER):
        sizes.append(pages.size)
    assert sizes == [50, 25, 12, 6, 3, 1]
    assert pages.size == 1 and pages.shrinks == 6
    assert pages.on_failure(FailureKind.SERVER) is False  # the floor holds


def test_grows_back_to_the_start_after_runs_of_successes() -> None:
    pages = AdaptivePageSize(100, grow_after=3)
    pages.on_failure(FailureKind.TIMEOUT)
    pages.on_failure(FailureKind.TIMEOUT)
    assert pages.size == 25
    history = []
    for _ in range(9):
        pages.on_success()
        history.append(pages.size)
    # two successes change nothing; the third doubles; and again; capped at the start size
    assert history == [25, 25, 50, 50, 50, 100, 100, 100, 100]
    assert pages.grows == 2


def test_a_failure_resets_the_run_of_successes() -> None:
    pages = AdaptivePageSize(8, grow_after=2)
    pages.on_failure(FailureKind.SERVER)  # 4
    pages.on_success()
    pages.on_failure(FailureKind.SERVER)  # 2, run reset
    pages.on_success()
    assert pages.size == 2
    pages.on_success()
    assert pages.size == 4


def test_growth_bisects_towards_a_size_rejected_as_too_complex() -> None:
    pages = AdaptivePageSize(100, grow_after=1)
    for _ in range(3):
        pages.on_failure(FailureKind.COMPLEXITY)  # 100 → 50 → 25 → 12; ceiling 25
    assert (pages.size, pages.ceiling) == (12, 25)
    pages.on_success()
    assert pages.size == 18  # not 24: bisect (12 + 25) // 2
    pages.on_failure(FailureKind.COMPLEXITY)  # 18 rejected too: back to 12, ceiling 18
    assert (pages.size, pages.ceiling) == (12, 18)
    pages.on_success()
    assert pages.size == 15
    pages.on_success()
    assert pages.size == 16
    pages.on_success()
    assert pages.size == 17
    for _ in range(5):
        pages.on_success()
    assert pages.size == 17  # converged just under the rejected size and stays there
    assert pages.grows == 4 and pages.shrinks == 4


def test_a_failure_right_after_growing_returns_to_the_size_that_worked() -> None:
    pages = AdaptivePageSize(100, grow_after=1)
    for _ in range(3):
        pages.on_failure(FailureKind.SERVER)  # 50, 25, 12
    sizes = []
    for _ in range(4):
        pages.on_success()
        sizes.append(pages.size)
    assert sizes == [24, 48, 96, 100]
    pages.on_failure(FailureKind.TIMEOUT)
    assert pages.size == 96  # the pre-growth size that worked, not 100 // 2
    pages.on_success()  # transient failures set no ceiling: grows again
    assert pages.size == 100
    pages.on_success()  # 100 has now worked: the next failure halves
    pages.on_failure(FailureKind.SERVER)
    assert pages.size == 50


def test_complexity_limit_17_settles_on_one_item_per_page() -> None:
    """The simulator's cost is 12 + 3·first, so a limit of 17 admits only first=1."""
    pages = AdaptivePageSize(100)
    attempts = 0
    fetched = 0
    while fetched < 150:
        attempts += 1
        if 12 + 3 * pages.size > 17:
            assert pages.on_failure(FailureKind.COMPLEXITY)
            continue
        fetched += pages.size
        pages.on_success()
    assert pages.size == 1 and pages.ceiling == 2
    assert attempts - 150 == pages.shrinks == 7  # 6 halvings + 1 failed probe at size 2


def test_start_is_clamped_to_graphql_limits() -> None:
    assert AdaptivePageSize(1000).size == 100
    assert AdaptivePageSize(0).size == 1
