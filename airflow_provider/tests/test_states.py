"""Run states: today's runner names, the Vertex-backed runner's names, and unknown ones."""

from __future__ import annotations

import pytest

from fullcycle_provider import states


@pytest.mark.parametrize("state, outcome", [
    ("QUEUED", "waiting"), ("RUNNING", "waiting"), ("SUBMITTED", "waiting"),
    ("SUCCEEDED", "success"), ("FAILED", "failure"), ("CANCELLED", "failure"),
    ("PIPELINE_STATE_RUNNING", "waiting"), ("PIPELINE_STATE_SUCCEEDED", "success"),
    ("pipeline_state_cancelled", "failure"), ("PAUSED", "unknown"), (None, "unknown"),
])
def test_outcome(state, outcome):
    assert states.outcome(state) == outcome
    assert states.is_terminal(state) is (outcome != "waiting")
