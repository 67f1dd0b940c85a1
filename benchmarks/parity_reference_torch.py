"""The reference side of parity_reference.py: trains the reference PyTorch MTM on the windows in IN.npz and
writes its predictions for the held-out windows to OUT.npz.

Runs in the reference's venv, never in the project's (it imports torch and the reference's code from
$ANCHOR, default /tmp/anchor, built by ../shared/anchor/build.sh):
  PYTHONPATH=/tmp/anchor/stubs:/tmp/anchor /tmp/anchor/venv/bin/python -m benchmarks.parity_reference_torch IN.npz OUT.npz
parity_reference.py writes IN.npz and calls this; nothing here is meant to be run by hand.

What it keeps from the reference's training loop (research/mtm/train.py): its model, its per-batch
random-autoregressive masks, its loss (MSE on every token, norm "none"), its AdamW parameter groups, its
warmup-then-cosine schedule and its tokenizer's normalisation (mean/std per feature, std < 0.1 left at 1).
What it takes from IN.npz instead of the reference's D4RL loader: the training windows (flat arrays and
window starts, sampled uniformly as both loaders do) and the returns, so both sides learn the same targets.
"""

import json
import sys
import time

import numpy as np
import torch

# The reference's code comes from PYTHONPATH=$ANCHOR/stubs:$ANCHOR (its callers set it; see the docstring).
from research.mtm.masks import create_random_autoregressize_mask
from research.mtm.models.mtm_model import MTM, MTMConfig
from torch.optim.lr_scheduler import LambdaLR

MODALITIES = ("states", "actions", "returns")


def schedule(warmup: int, total: int):
  """The reference's: linear warmup, then cosine to zero."""

  def factor(step):
    if step < warmup:
      return step / warmup
    return 0.5 * (1 + np.cos((step - warmup) / (total - warmup) * np.pi))

  return factor


def main(inp: str, out: str) -> None:
  data = np.load(inp)
  cfg = json.loads(str(data["config"]))
  np.random.seed(cfg["seed"])  # the reference's mask functions draw from numpy's global generator
  torch.manual_seed(cfg["seed"])
  rng = np.random.default_rng(cfg["seed"])
  T = cfg["window"]
  flat = {m: torch.from_numpy(data[f"train_{m}"]).float() for m in MODALITIES}
  real = torch.from_numpy(data["train_real"])
  mean = {m: flat[m][real].mean(0) for m in MODALITIES}
  std = {m: flat[m][real].std(0) for m in MODALITIES}
  for m in MODALITIES:
    std[m][std[m] < 0.1] = 1.0

  def encode(m, x):  # [B, T, d] -> [B, T, 1, d], normalised
    return ((x - mean[m]) / std[m]).unsqueeze(2)

  shapes = {m: (1, flat[m].shape[-1]) for m in MODALITIES}
  model = MTM(
    shapes,
    T,
    MTMConfig(
      n_embd=cfg["width"],
      n_head=cfg["num_heads"],
      n_enc_layer=cfg["encoder_layers"],
      n_dec_layer=cfg["decoder_layers"],
      dropout=cfg["dropout"],
      norm="none",
    ),
  )
  optimizer = MTM.configure_optimizers(
    model, learning_rate=cfg["learning_rate"], weight_decay=cfg["weight_decay"], betas=(0.9, 0.999)
  )
  scheduler = LambdaLR(optimizer, lr_lambda=schedule(cfg["warmup_steps"], cfg["num_steps"]))
  discrete = {m: False for m in MODALITIES}
  starts, offsets = data["train_starts"], torch.arange(T)
  model.train()
  started = time.perf_counter()
  for step in range(cfg["num_steps"]):
    if step and step % max(1, cfg["num_steps"] // 10) == 0:  # the parent passes stdout through: a sign of life
      print(f"reference: step {step}/{cfg['num_steps']}, {step / (time.perf_counter() - started):.2f} steps/s", flush=True)
    rows = torch.from_numpy(rng.choice(starts, cfg["batch_size"]))[:, None] + offsets
    batch = {m: encode(m, flat[m][rows]) for m in MODALITIES}
    masks = create_random_autoregressize_mask(shapes, cfg["keep_ratios"], T, "cpu", cfg["mode_weights"])
    loss, *_ = MTM.forward_loss(batch, model(batch, masks), masks, discrete, norm="none", reduce_use_sum=False)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
  train_seconds = time.perf_counter() - started

  # The reference takes one mask per batch: score each task's windows in groups that share a mask.
  model.eval()
  truth = {m: torch.from_numpy(data[f"eval_{m}"]).float() for m in MODALITIES}
  predictions = {}
  with torch.no_grad():
    for task in cfg["tasks"]:
      visible = np.stack([data[f"visible_{task}_{m}"] for m in MODALITIES], 1)  # [N, M, T]
      groups, which = np.unique(visible.reshape(len(visible), -1), axis=0, return_inverse=True)
      outputs = {m: torch.zeros_like(truth[m]) for m in MODALITIES}
      for g, group in enumerate(groups):
        rows = torch.from_numpy(np.flatnonzero(which.reshape(-1) == g))
        mask = {m: torch.from_numpy(group.reshape(len(MODALITIES), T)[i].astype(np.float32)) for i, m in enumerate(MODALITIES)}
        predicted = model({m: encode(m, truth[m][rows]) for m in MODALITIES}, mask)
        for m in MODALITIES:
          outputs[m][rows] = predicted[m].squeeze(2) * std[m] + mean[m]
      predictions.update({f"{task}_{m}": outputs[m].numpy() for m in MODALITIES})
  np.savez(out, train_seconds=train_seconds, **predictions)


if __name__ == "__main__":
  main(*sys.argv[1:])
