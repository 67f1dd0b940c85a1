"""Each purpose's reset seeds stay in its own block, whatever the run seed, count or start."""

import pytest

from mtm_jax import seeds


def test_purposes_never_share_a_seed_and_data_seeds_keep_their_old_values():
  blocks = [seeds.reset_seeds(p, 1000, start=10**6) for p in seeds.PURPOSES]
  assert all(set(a).isdisjoint(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
  assert seeds.data_seed(0, 7) == 7 and seeds.data_seed(2, 7) == 2 * 1_000_003 + 7  # datasets regenerate as before
  assert seeds.data_seed(999, 10**6) < seeds.reset_seeds("reported", 1)[0]


@pytest.mark.parametrize("start, count", [(-1, 5), (seeds.BLOCK - 2, 5)])
def test_seeds_past_a_block_are_refused(start, count):
  with pytest.raises(ValueError, match="leave its block"):
    seeds.reset_seeds("reported", count, start=start)
