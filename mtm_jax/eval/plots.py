"""PNG figures a person would rather look at than a table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from mtm_jax import runtime


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
  _save(fig, path, 110)


def matrix(path: str, values, rows, columns, title: str, fmt: str = "{:.3g}", cmap: str = "viridis", log: bool = False) -> None:
  """An annotated heatmap of a [rows, columns] table (NaN cells left blank); ``log`` colours by log10."""
  values = np.asarray(values, np.float64)
  shade = np.log10(values) if log else values
  fig, ax = plt.subplots(figsize=(1.0 * len(columns) + 2.5, 0.45 * len(rows) + 1.8))
  image = ax.imshow(np.ma.masked_invalid(shade), cmap=cmap, aspect="auto")
  ax.set_xticks(range(len(columns)), columns, rotation=35, ha="right")
  ax.set_yticks(range(len(rows)), rows)
  finite = shade[np.isfinite(shade)]
  middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
  for i in range(len(rows)):
    for j in range(len(columns)):
      if np.isfinite(values[i, j]):
        color = "black" if shade[i, j] > middle else "white"  # viridis is light at the top
        ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center", fontsize=7, color=color)
  ax.set_xlabel("evaluation task")
  ax.set_ylabel("trained model")
  fig.colorbar(image, ax=ax, fraction=0.04, label="log10" if log else None)
  ax.set_title(title, fontsize=10)
  fig.tight_layout()
  _save(fig, path, 120)


def _draw_room(ax, size: int, walls, door, goal) -> None:
  """Grid lines, walls (dark), the door (gold) and the goal (green), y growing downwards like MiniGrid."""
  for x, y in walls:
    ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, color="0.25"))
  ax.add_patch(plt.Rectangle((door[0] - 0.5, door[1] - 0.5), 1, 1, color="goldenrod", alpha=0.6))
  ax.add_patch(plt.Rectangle((goal[0] - 0.5, goal[1] - 0.5), 1, 1, color="limegreen", alpha=0.5))
  ax.set_xlim(-0.5, size - 0.5)
  ax.set_ylim(size - 0.5, -0.5)
  ax.set_xticks([])
  ax.set_yticks([])
  ax.set_aspect("equal")


def grid_paths(path: str, panels: dict, room: dict, seed: int = 0) -> None:
  """One panel per title: agent paths ([N, T+1, 2] cells) drawn with jitter, starts as dots.

  panels: title -> (cells [N, T+1, 2], marks [N, K, 2] or None: requested cells, drawn as crosses).
  room: size, walls, door, goal.
  """
  rng = np.random.default_rng(seed)
  fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.5), squeeze=False)
  for ax, (title, (cells, marks)) in zip(axes[0], panels.items()):
    _draw_room(ax, **room)
    for i in range(cells.shape[0]):
      jitter = rng.uniform(-0.18, 0.18, size=2)
      xy = cells[i] + jitter
      ax.plot(xy[:, 0], xy[:, 1], "-", color=f"C{i % 10}", alpha=0.7, linewidth=1)
      ax.plot(xy[0, 0], xy[0, 1], "o", color=f"C{i % 10}", markersize=3)
      if marks is not None:
        ax.plot(marks[i][:, 0] + jitter[0], marks[i][:, 1] + jitter[1], "x", color=f"C{i % 10}", markersize=6)
    ax.set_title(title, fontsize=9)
  fig.tight_layout()
  _save(fig, path, 120)


def cell_heatmaps(path: str, probs_TxC, cells, observed: dict, room: dict, title: str) -> None:
  """One panel per timestep: the probability of each cell (cells [C, 2]); observed steps outlined in red."""
  probs_TxC = np.asarray(probs_TxC)
  T = probs_TxC.shape[0]
  fig, axes = plt.subplots(1, T, figsize=(1.9 * T, 2.3), squeeze=False)
  for t, ax in enumerate(axes[0]):
    _draw_room(ax, **room)
    grid = np.full((room["size"], room["size"]), np.nan)
    for (x, y), p in zip(cells, probs_TxC[t]):
      grid[y, x] = p
    ax.imshow(np.ma.masked_invalid(grid), cmap="magma", vmin=0, vmax=1, zorder=0)
    if t in observed:
      x, y = observed[t]
      ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
    ax.set_title(f"t={t}" + (" (seen)" if t in observed else ""), fontsize=8)
  fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  _save(fig, path, 110)


def maze_paths(path: str, panels: dict, walls_xy, cell: float = 1.0) -> None:
  """One panel per title: continuous paths ([N, L, 2] x, y) over a maze whose wall cells centre at walls_xy.

  panels: title -> (paths [N, L, 2], targets [N, 2]); starts are dots, targets stars.
  """
  walls_xy = np.asarray(walls_xy)
  fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8), squeeze=False)
  for ax, (title, (paths, targets)) in zip(axes[0], panels.items()):
    for x, y in walls_xy:
      ax.add_patch(plt.Rectangle((x - cell / 2, y - cell / 2), cell, cell, color="0.3"))
    for i, xy in enumerate(np.asarray(paths)):
      ax.plot(xy[:, 0], xy[:, 1], "-", color=f"C{i % 10}", linewidth=1, alpha=0.8)
      ax.plot(xy[0, 0], xy[0, 1], "o", color=f"C{i % 10}", markersize=3)
      ax.plot(targets[i][0], targets[i][1], "*", color=f"C{i % 10}", markersize=9, markeredgecolor="k")
    lo, hi = walls_xy.min(0) - cell / 2, walls_xy.max(0) + cell / 2
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
  fig.tight_layout()
  _save(fig, path, 120)


def bars(path: str, table: dict, columns, title: str, references: dict | None = None) -> None:
  """Grouped bars with standard-error whiskers: table[row][column] = (mean, se) or None.

  references: label -> value, drawn as dashed horizontal lines (e.g. the expert's return).
  """
  rows = list(table)
  fig, ax = plt.subplots(figsize=(1.2 * len(rows) + 2, 3.6))
  width = 0.8 / len(columns)
  for j, column in enumerate(columns):
    xs = [i + (j - (len(columns) - 1) / 2) * width for i in range(len(rows))]
    cells = [table[r].get(column) for r in rows]
    ax.bar(
      [x for x, c in zip(xs, cells) if c],
      [c[0] for c in cells if c],
      width,
      yerr=[c[1] for c in cells if c],
      label=column,
      capsize=2,
    )
  for k, (label, value) in enumerate((references or {}).items()):
    ax.axhline(value, color="0.2", linestyle=("--", ":", "-.")[k % 3], linewidth=1, label=label)
  ax.set_xticks(range(len(rows)), rows, rotation=30, ha="right")
  ax.set_ylabel("mean return")
  ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never over them
  ax.set_title(title, fontsize=10)
  fig.tight_layout()
  _save(fig, path, 120)


def learning_curves(path: str, runs: dict, title: str, references: dict | None = None) -> None:
  """Evaluation return against environment steps, one line per run (shaded +- one std over its episodes).

  runs[label] = {"steps", "means", "stds", "marks": {name: step}}: a run's marks are drawn as points on its curve.
  references: name -> return, drawn as grey horizontal lines (others' numbers, labelled as theirs).
  """
  fig, ax = plt.subplots(figsize=(7, 4))
  symbols = ("*", "D", "s", "^")
  for i, (label, run) in enumerate(runs.items()):
    steps, means, stds = (np.asarray(run[k], np.float64) for k in ("steps", "means", "stds"))
    ax.plot(steps, means, "-", linewidth=1.2, color=f"C{i}", label=label)
    ax.fill_between(steps, means - stds, means + stds, color=f"C{i}", alpha=0.15)
    for j, (name, step) in enumerate(run.get("marks", {}).items()):
      k = int(np.argmin(np.abs(steps - step)))
      ax.plot(
        steps[k], means[k], symbols[j % len(symbols)], color=f"C{i}", markersize=9, markeredgecolor="k", label=f"{label}: {name}"
      )
  for j, (name, value) in enumerate((references or {}).items()):
    ax.axhline(value, color="0.5", linestyle=("--", ":", "-.")[j % 3], linewidth=1, label=name)
  ax.set_xlabel("environment steps")
  ax.set_ylabel("return (deterministic policy)")
  ax.set_title(title)
  ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
  fig.tight_layout()
  _save(fig, path, 110)


def lines(path: str, series: dict, xlabel: str, ylabel: str, title: str, log_x: bool = False) -> None:
  """One line per series with interval bars: series[label] = {x: (mean, low, high, ...) or None}; a point
  whose low or high is nan (too few seeds for an interval) has no bar."""
  fig, ax = plt.subplots(figsize=(6, 3.8))
  for label, points in series.items():
    xy = sorted((x, cell) for x, cell in points.items() if cell is not None)
    if xy:
      mean, low, high = (np.array([c[i] for _, c in xy], np.float64) for i in range(3))
      bars = np.nan_to_num(np.stack([mean - low, high - mean]))
      ax.errorbar([x for x, _ in xy], mean, yerr=bars, marker="o", markersize=3, capsize=2, label=label)
  if log_x:
    ax.set_xscale("log")
  ax.set_xlabel(xlabel, fontsize=9)
  ax.set_ylabel(ylabel)
  ax.set_title(title, fontsize=10)
  ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
  fig.tight_layout()
  _save(fig, path, 110)


def _ema(values, weight: float) -> np.ndarray:
  """TensorBoard's smoothing: an exponential moving average, debiased at the start."""
  out, running = [], 0.0
  for i, v in enumerate(values):
    running = weight * running + (1 - weight) * v
    out.append(running / (1 - weight ** (i + 1)))
  return np.asarray(out)


def _grouped_bars(ax, values: dict, labels) -> None:
  """One group of bars per label, one bar per run (values: run -> [value per label])."""
  width = 0.8 / len(values)
  for r, (run, row) in enumerate(values.items()):
    ax.bar(np.arange(len(labels)) + (r - (len(values) - 1) / 2) * width, row, width, color=f"C{r}", label=run)
  ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
  ax.legend(fontsize=7)


def run_curves(path: str, runs: dict, smooth: float = 0.8) -> None:
  """Learning curves of several runs in one figure: train loss (smoothed, raw faint), evaluation losses
  and rollout scores against step. runs: name -> (train records, eval records), each a list of dicts
  with "step" and scalars (metrics.jsonl / eval_metrics.jsonl); panels without data are left out."""

  def series(records, name):  # a step evaluated again keeps its newest value
    points = {r["step"]: r[name] for r in records if name in r}
    return np.asarray(sorted(points.items()), np.float64).reshape(-1, 2)

  def names(prefix):
    return sorted({k for _, evals in runs.values() for r in evals for k in r if k.startswith(prefix)})

  rollout = names("rollout/")
  scores = [k for k in rollout if k.endswith("/score")]  # normalised where the dataset has references
  panels = [
    ("train loss", ["loss"], "train"),
    ("validation loss", names("eval/"), "eval"),
    ("rollout score" if scores else "rollout return", scores or rollout, "eval"),
  ]
  panels = [p for p in panels if any(len(series(runs[n][p[2] == "eval"], k)) for n in runs for k in p[1])]
  fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
  styles = ["-", "--", ":", "-."]
  for ax, (title, keys, stream) in zip(axes[0], panels):
    ax.set_title(title)
    if stream == "eval" and all(len(series(records[1], k)) <= 1 for records in runs.values() for k in keys):
      _grouped_bars(
        ax,
        {
          run: [series(records[1], k)[-1, 1] if len(series(records[1], k)) else np.nan for k in keys]
          for run, records in runs.items()
        },
        [k.split("/", 1)[1] for k in keys],
      )
      ax.set_yscale("log" if title == "validation loss" else "linear")
      continue
    for r, (run, records) in enumerate(runs.items()):
      for j, name in enumerate(keys):
        xy = series(records[stream == "eval"], name)
        if not len(xy):
          continue
        label = run if len(keys) == 1 else f"{run}: {name.split('/', 1)[1]}"
        if stream == "train":
          ax.plot(xy[:, 0], xy[:, 1], color=f"C{r}", alpha=0.25, linewidth=0.8)
          ax.plot(xy[:, 0], _ema(xy[:, 1], smooth), color=f"C{r}", label=label)
        else:
          ax.plot(xy[:, 0], xy[:, 1], styles[j % len(styles)], marker="o", markersize=4, color=f"C{r}", label=label)
    ax.set_xlabel("step")
    if title != "rollout score" and title != "rollout return":
      ax.set_yscale("log")
    ax.legend(fontsize=7)
  fig.tight_layout()
  _save(fig, path, 110)


def _save(fig, path: str, dpi: int) -> None:
  """Writes ``fig`` as a PNG by replacing ``path``, and closes it: a killed write, or a study's invocation writing
  the same figure beside another, never leaves half a file."""
  runtime.replace_file(path, lambda partial: fig.savefig(partial, dpi=dpi, format="png"))
  plt.close(fig)
