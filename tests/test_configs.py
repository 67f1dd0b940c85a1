"""The configs package: one base holds every key, recipes only override it, and every recipe reads its variant
string the same way (keywords or values in order), with a one-line error for anything it does not know."""

import pytest

from configs import base, gridworld, locomotion, pointmaze, sinusoid
from mtm_jax.experiment import parse

RECIPES = {
  sinusoid: ("", "scale=smoke"),
  gridworld: ("", "regime=multi_task,scale=small", "regime=finetune_bc,scale=smoke"),
  pointmaze: ("", "model=states_bc,context=5,scale=small", "model=mlp_rcbc,scale=smoke"),
  locomotion: ("", "scale=small,env=walker2d,level=medium-replay", "scale=smoke,model=mlp_bc", "model=mtm_reference"),
}


def keys(config, prefix="") -> set[str]:
  """Dotted keys, down to a section's leaves (a mask task's parameters count as one key: its task's)."""
  out = set()
  for k, v in config.items():
    if hasattr(v, "items") and k != "task_params":
      out |= keys(v, f"{prefix}{k}.")
    else:
      out.add(prefix + k)
  return out


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.__name__.split(".")[-1])
def test_every_recipe_variant_holds_exactly_the_base_keys_and_passes(recipe):
  for arg in RECIPES[recipe]:
    config = recipe.get_config(arg)
    assert keys(config) == keys(base.get_config()), arg  # no key of its own, none left to a silent default
    parse(config, training=config.train.regime != "finetune")  # a finetune names its pretrained run at launch


def test_keywords_and_values_in_order_give_one_config():
  assert locomotion.get_config("small,walker2d,expert,bc") == locomotion.get_config(
    "model=bc,level=expert,env=walker2d,scale=small"
  )
  assert pointmaze.get_config("bc,5") == pointmaze.get_config("context=5,model=bc")
  assert locomotion.get_config() == locomotion.get_config("scale=full,env=hopper,level=medium,model=mtm")


def test_the_locomotion_scales_are_what_the_studies_train():
  small = locomotion.get_config("scale=small")
  assert (small.model.width, small.train.batch_size, small.train.num_steps, small.train.warmup_steps) == (64, 128, 3000, 300)
  full = locomotion.get_config()
  assert (full.model.width, full.train.batch_size, full.train.num_steps, full.train.warmup_steps) == (512, 2048, 140_000, 40_000)
  finetune = gridworld.get_config("regime=finetune_goal,scale=small")
  assert (finetune.train.regime, finetune.train.num_steps, finetune.masks.tasks) == ("finetune", 500, ("goal",))


@pytest.mark.parametrize(
  "arg, message",
  [
    ("scale=huge", "unknown scale='huge' in variant 'scale=huge'; choose from ['full', 'small', 'smoke']"),
    ("colour=red", "unknown variant key 'colour'"),
    ("small,hopper,medium,mtm,extra", "has more values than ['scale', 'env', 'level', 'model']"),
    ("scale=small,scale=smoke", "sets scale twice"),
    ("model=decision_gpt", "unknown model='decision_gpt'"),
  ],
)
def test_a_variant_it_does_not_know_is_one_line_naming_the_choices(arg, message):
  with pytest.raises(ValueError) as err:
    locomotion.get_config(arg)
  assert message in str(err.value) and "\n" not in str(err.value)


def test_a_free_value_takes_its_type():
  assert base.variants("steps=5", steps=(int, 10)) == {"steps": 5}
  assert base.variants("", steps=(int, 10)) == {"steps": 10}
  with pytest.raises(ValueError, match="'many' is not a int"):
    base.variants("steps=many", steps=(int, 10))
