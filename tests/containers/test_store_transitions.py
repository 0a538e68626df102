"""The deployment status table: what may follow what, and the SQL the store derives from it."""

from __future__ import annotations

import pytest

from containers import store
from containers.store import FINAL, LIVE, RECOVERY, TRANSITIONS, Status, may_move, sources

pytestmark = pytest.mark.unit


def test_the_lifecycle_runs_starting_running_stopping_stopped() -> None:
    for old, new in [
        (Status.STARTING, Status.RUNNING),
        (Status.RUNNING, Status.STOPPING),
        (Status.STOPPING, Status.STOPPED),
    ]:
        assert may_move(old, new), (old, new)


def test_any_live_state_may_fail_and_final_states_are_final() -> None:
    assert all(may_move(status, Status.FAILED) for status in LIVE)
    assert all(not TRANSITIONS[status] for status in FINAL)
    assert not may_move(Status.STOPPED, Status.RUNNING, recovering=True)


def test_nothing_goes_back_except_the_reconcilers_recovery() -> None:
    assert not may_move(Status.STOPPING, Status.RUNNING)
    assert not may_move(Status.RUNNING, Status.STARTING)
    assert may_move(Status.STOPPING, Status.RUNNING, recovering=True)
    assert set(RECOVERY) <= set(LIVE)


def test_the_sql_names_exactly_the_statuses_it_ran_before() -> None:
    assert sources(Status.RUNNING) == (Status.STARTING,)
    assert sources(Status.STOPPING) == (Status.STARTING, Status.RUNNING)
    assert sources(Status.RUNNING, recovering=True) == (Status.STARTING, Status.STOPPING)
    assert store._LIVE == "status IN ('starting', 'running', 'stopping')"
    assert store._TO_RUNNING == "status = 'starting'"
    assert store._TO_STOPPING == "status IN ('starting', 'running')"
    assert store._ACTIVE == "status IN ('starting', 'running')"
    assert store._REARM == "status IN ('starting', 'stopping')"


def test_the_table_matches_the_schemas_check_constraint() -> None:
    assert {s.value for s in Status} == {"starting", "running", "stopping", "stopped", "failed"}
