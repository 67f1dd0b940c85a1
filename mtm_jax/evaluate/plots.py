"""PNG figures a person would rather look at than a table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def reconstruction(path: str, truth, prediction, visible, title: str, feature: int = 0) -> None:
  """Ground truth, prediction and the visible points of a few windows, one panel each.

  truth, prediction: [N, T, d]; visible: bool [N, T].
  """
  truth, prediction, visible = np.asarray(truth), np.asarray(prediction), np.asarray(visible)
  n = truth.shape[0]
  fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.8), sharey=True, squeeze=False)
  steps = np.arange(truth.shape[1])
  for i, ax in enumerate(axes[0]):
    ax.plot(steps, truth[i, :, feature], "-", color="0.6", label="ground truth")
    ax.plot(steps, prediction[i, :, feature], "o--", color="C1", markerfacecolor="none", label="prediction")
    ax.plot(steps[visible[i]], truth[i, visible[i], feature], "o", color="C0", label="visible to the model")
    ax.set_xlabel("t")
  axes[0][0].legend(fontsize=7, loc="lower left")
  fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
