"""The representation study's yardstick, on curves worked out by hand."""

import pytest

from studies import representation as representation_study
from studies.report import over_seeds


def test_the_yardstick_is_a_share_of_raw_td3s_final_score_unless_raw_td3_did_not_learn():
  learning = {"raw": {0: (1.0, 0.0), 1000: (20.0, 1.0)}, "state": {0: (1.0, 0.0), 1000: (30.0, 1.0)}}
  assert representation_study.yardstick(learning) == pytest.approx((18.0, "raw TD3"))
  assert representation_study.steps_to_reach(learning["state"], 18.0) == 1000
  # Raw TD3 ends below where it started: 90 % of -1.4 would be reached at step 0 by everything.
  flat = {
    "raw": {0: (0.8, 0.0), 1000: (-1.4, 0.0)},
    "state": {0: (-1.0, 0.0), 1000: (13.2, 7.3)},
    "state_action": {0: (-1.0, 0.0), 1000: (14.9, 1.7)},
  }
  target, whose = representation_study.yardstick(flat)
  assert (target, whose) == (pytest.approx(0.9 * 14.9), "the best variant")
  assert representation_study.steps_to_reach(flat["raw"], target) is None


def test_updates_saved_are_counted_seed_by_seed():
  curve = lambda *per_step: {step: over_seeds(v) for step, v in zip((0, 1000, 2000), per_step)}  # noqa: E731
  raw = curve([0.0, 0.0, 0.0], [5.0, 20.0, 5.0], [20.0, 20.0, 5.0])  # reaches 18 at 2000, 1000, never
  state = curve([0.0, 0.0, 0.0], [20.0, 20.0, 20.0], [20.0, 20.0, 20.0])  # at 1000 on every seed
  assert representation_study.steps_to_reach(raw, 18.0, seed=0) == 2000
  saved = representation_study.updates_saved(raw, state, 18.0)
  assert saved.values == (1000.0, 0.0, 2000.0)  # the last seed's raw run counts one evaluation past its end
  assert saved.above(0) is None  # the middle seed saves nothing: undecided at three seeds
