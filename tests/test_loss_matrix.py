"""Column normalisation of the loss matrix and the three findings read off it."""

import numpy as np

from mtm_jax.eval import loss_matrix


def test_normalize_columns_divides_by_the_minimum_with_a_floor():
  raw = np.array([[2.0, 0.001], [1.0, 0.5], [4.0, np.nan]])
  out = loss_matrix.relative_to_column_best(raw, floor=0.01)
  np.testing.assert_allclose(out[:, 0], [2.0, 1.0, 4.0])
  np.testing.assert_allclose(out[:2, 1], [0.1, 50.0])  # a near-zero minimum is replaced by the floor
  assert np.isnan(out[2, 1])


def test_findings_on_a_matrix_shaped_like_the_paper():
  columns = ["bc", "goal", "past"]
  rows = ["bc", "goal", "past", "multi_task", "random", "finetune"]
  n = np.array(
    [
      [1.00, 1.50, 2.00],
      [1.40, 1.00, 2.10],
      [1.60, 1.70, 1.00],
      [1.20, 1.30, 1.40],
      [1.10, 1.20, 1.30],
      [1.01, 1.02, 1.03],
    ]
  )
  found = loss_matrix.findings(n, rows, columns)
  assert [ok for _, ok, _ in found] == [True, True, True]
  n[5, 2] = 1.2  # finetune 20% behind on past
  n[4] = 1.5  # random worse than multi-task everywhere
  n[0, 1] = 0.95  # the bc model beats the goal model on goal
  found = loss_matrix.findings(n, rows, columns)
  assert [ok for _, ok, _ in found] == [False, False, False]
  assert "past: 1.200x" in found[0][2]


def test_finetune_is_compared_with_the_best_row_even_below_the_floor():
  columns, rows = ["bc", "fd"], ["bc", "fd", "multi_task", "random", "finetune"]
  raw = np.array([[1.0, 4.5], [1.5, 0.0045], [1.1, 0.3], [1.1, 0.3], [1.0, 0.0132]])
  found = loss_matrix.findings(loss_matrix.relative_to_column_best(raw), rows, columns)
  assert not found[0][1] and "fd: 2.933x" in found[0][2]
