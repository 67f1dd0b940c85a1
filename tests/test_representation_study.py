"""The representation study's yardstick, on curves worked out by hand."""

import pytest

from studies import representation as representation_study


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
