"""The masked trajectory transformer (Uni[MASK] / MTM) and an MLP baseline.

Both take normalised trajectories ``traj[m]`` (continuous ``[B,T,d]``, discrete ``[B,T]``) and a
visibility mask ``visible[m]`` (bool ``[B,T]``) and return per-modality outputs ``[B,T,out]``
(values for continuous modalities, logits for discrete ones). Hidden inputs are replaced by zeros
before anything reads them and by a learned mask embedding in the token stream, so no hidden value
can reach any output or gradient.
"""

from __future__ import annotations

import dataclasses
import numbers

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax.matmul import dense_dot
from mtm_jax.packing import Packing, fits, tiers_of
from mtm_jax.spec import ACTIONS, RETURNS, STATES, DatasetSpec, ModalitySpec

LAYOUTS = ("stacked", "per_modality")
# Where dropout acts. "residual": the input embeddings and each residual branch. "torch": where PyTorch's
# TransformerEncoderLayer (the reference MTM's block) puts it: attention probabilities, the MLP's
# activation and each residual branch, not the inputs.
DROPOUT_PLACEMENTS = ("residual", "torch")
TOKEN_INITS = ("normal", "zeros")  # modality embeddings and mask tokens: N(0, 0.02), or zero (the reference MTM)
DECODER_EMBEDS = ("shared", "per_modality")  # the projection of encoder outputs into the MAE decoder
# Dense layers' initial weights: flax's (LeCun normal kernels, zero biases), or PyTorch's (the reference MTM):
# nn.Linear draws kernel and bias from U(+-1/sqrt(fan_in)); attention's input projection is Xavier-uniform and
# its biases zero.
PARAM_INITS = ("flax", "torch")
NEG_INF = -1e9  # finite, so a query whose keys are all padding gets a uniform (unused) row, not NaN


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Architecture of the masked trajectory model; see configs/ for field comments."""

  kind: str = "transformer"  # "transformer" or "mlp"
  token_layout: str = "per_modality"
  width: int = 128
  num_heads: int = 4
  encoder_layers: int = 2
  decoder_layers: int = 1  # 0: one bidirectional encoder over all tokens, no MAE split
  mlp_ratio: int = 4
  dropout: float = 0.0
  dropout_placement: str = "residual"
  token_init: str = "normal"
  decoder_embed: str = "shared"
  param_init: str = "flax"
  causal: bool = False
  positions: str = "sinusoidal"  # or "learned"
  max_horizon: int = 0  # >0: embed steps remaining beside the first return (Uni[MASK] "first")
  mlp_hidden: tuple[int, ...] = (256, 256)  # MLP baseline only
  dtype: str = "float32"  # compute dtype of matmuls; params stay float32

  def __post_init__(self):
    problems = model_problems(dataclasses.asdict(self))
    if problems:
      raise ValueError("invalid ModelConfig: " + "; ".join(problems))


def model_problems(fields: dict) -> list[str]:
  """One 'model.KEY=VALUE: what is allowed' line per invalid field (the experiment check lists them all)."""
  problems = []

  def need(key, ok, allowed):
    if not ok:
      problems.append(f"model.{key}={fields[key]!r}: {allowed}")

  def integer(key, low):
    value = fields[key]
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low
    need(key, ok, "must be a positive integer" if low else "must be an integer >= 0")

  for key in ("width", "num_heads", "encoder_layers", "mlp_ratio"):
    integer(key, 1)
  for key in ("decoder_layers", "max_horizon"):
    integer(key, 0)
  dropout = fields["dropout"]
  need("dropout", isinstance(dropout, numbers.Real) and 0 <= dropout < 1, "must be in [0, 1)")
  need("kind", fields["kind"] in ("transformer", "mlp"), "must be 'transformer' or 'mlp'")
  need("token_layout", fields["token_layout"] in LAYOUTS, f"must be one of {LAYOUTS}")
  need("positions", fields["positions"] in ("sinusoidal", "learned"), "must be 'sinusoidal' or 'learned'")
  need("dropout_placement", fields["dropout_placement"] in DROPOUT_PLACEMENTS, f"must be one of {DROPOUT_PLACEMENTS}")
  need("token_init", fields["token_init"] in TOKEN_INITS, f"must be one of {TOKEN_INITS}")
  need("decoder_embed", fields["decoder_embed"] in DECODER_EMBEDS, f"must be one of {DECODER_EMBEDS}")
  need("param_init", fields["param_init"] in PARAM_INITS, f"must be one of {PARAM_INITS}")
  need(
    "decoder_embed",
    fields["decoder_embed"] == "shared" or fields["token_layout"] == "per_modality",
    "per_modality needs model.token_layout='per_modality'",
  )
  need("dtype", fields["dtype"] in ("float32", "bfloat16", "float16"), "must be 'float32', 'bfloat16' or 'float16'")
  width, heads = fields["width"], fields["num_heads"]
  if not problems:
    need("width", width % heads == 0 and width % 2 == 0, f"must be even and divisible by model.num_heads={heads}")
  return problems


def token_order(spec: DatasetSpec) -> tuple[str, ...]:
  """Order of modalities within a timestep: returns, states, actions, then extras (GPT order)."""
  roles = [n for n in (RETURNS, STATES, ACTIONS) if n in spec]
  return tuple(roles + [n for n in spec.names if n not in roles])


def token_visibility(spec: DatasetSpec, layout: str, visible) -> jax.Array:
  """bool [B, N] in token order: stacked tokens count as visible when any of their modalities is."""
  v_BxTxM = jnp.stack([visible[n] for n in token_order(spec)], axis=-1)
  if layout == "stacked":
    return v_BxTxM.any(-1)
  return v_BxTxM.reshape(v_BxTxM.shape[0], -1)


def dense_kwargs(param_init: str, fan_in: int) -> dict:
  """nn.Dense's keyword arguments: the CPU-friendly product (matmul.py) and the initialisers of a PARAM_INITS
  scheme (none: flax's own)."""
  if param_init == "flax":
    return {"dot_general": dense_dot}
  bound = 1.0 / np.sqrt(fan_in)
  return {
    "dot_general": dense_dot,
    "kernel_init": _TORCH_KERNEL,
    "bias_init": lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound),
  }


_TORCH_KERNEL = nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")  # U(+-1/sqrt(fan_in))


def sinusoidal(length: int, width: int) -> np.ndarray:
  omega = 1.0 / 10000 ** (np.arange(width // 2) / (width / 2))
  angle = np.arange(length)[:, None] * omega[None]
  return np.concatenate([np.sin(angle), np.cos(angle)], axis=-1).astype(np.float32)


class Attention(nn.Module):
  """Multi-head attention over [B, L, W] tokens, or over packed visible tokens [G, K, W] with their
  ``packing``: the projections run on the packed rows alone, the (cheap, L x L) scores and mixing on
  [B, L] with ``allowed_BxLxL``."""

  num_heads: int
  dtype: jnp.dtype
  dropout: float = 0.0  # on the attention probabilities
  param_init: str = "flax"

  @nn.compact
  def __call__(self, x, allowed_BxLxL, deterministic: bool = True, packing: Packing | None = None):
    W = x.shape[-1]
    H = self.num_heads
    torch = self.param_init == "torch"  # PyTorch's MultiheadAttention: zero biases in both projections
    qkv = nn.DenseGeneral(
      (3, H, W // H),
      dtype=self.dtype,
      name="qkv",
      dot_general=dense_dot,
      **({"kernel_init": nn.initializers.xavier_uniform()} if torch else {}),
    )(x)
    out_proj = nn.DenseGeneral(
      W, axis=(-2, -1), dtype=self.dtype, name="out", dot_general=dense_dot, **({"kernel_init": _TORCH_KERNEL} if torch else {})
    )
    qkv_BxLx3xHxD = qkv if packing is None else packing.unpack(qkv)
    q_BxLxHxD, k_BxLxHxD, v_BxLxHxD = (qkv_BxLx3xHxD[:, :, i] for i in range(3))
    logits_BxHxLxL = jnp.einsum("bqhd,bkhd->bhqk", q_BxLxHxD, k_BxLxHxD) / np.sqrt(W // H)
    logits_BxHxLxL = jnp.where(allowed_BxLxL[:, None], logits_BxHxLxL.astype(jnp.float32), NEG_INF)
    probs_BxHxLxL = jax.nn.softmax(logits_BxHxLxL, axis=-1).astype(self.dtype)
    probs_BxHxLxL = nn.Dropout(self.dropout)(probs_BxHxLxL, deterministic)
    out_BxLxHxD = jnp.einsum("bhqk,bkhd->bqhd", probs_BxHxLxL, v_BxLxHxD)
    return out_proj(out_BxLxHxD if packing is None else packing.pack(out_BxLxHxD))


class Block(nn.Module):
  """Pre-LayerNorm transformer block."""

  num_heads: int
  mlp_ratio: int
  dropout: float
  dtype: jnp.dtype
  dropout_placement: str = "residual"
  param_init: str = "flax"

  @nn.compact
  def __call__(self, x, allowed_BxLxL, deterministic: bool, packing: Packing | None = None):
    """x: tokens [B, L, W], or packed visible tokens [G, K, W] with their ``packing``."""
    W = x.shape[-1]
    inner = self.dropout if self.dropout_placement == "torch" else 0.0
    h = Attention(self.num_heads, self.dtype, inner, self.param_init)(nn.LayerNorm()(x), allowed_BxLxL, deterministic, packing)
    x = x + nn.Dropout(self.dropout)(h, deterministic)
    h = nn.Dense(self.mlp_ratio * W, dtype=self.dtype, **dense_kwargs(self.param_init, W))(nn.LayerNorm()(x))
    h = nn.Dropout(inner)(nn.gelu(h), deterministic)
    h = nn.Dense(W, dtype=self.dtype, **dense_kwargs(self.param_init, self.mlp_ratio * W))(h)
    return x + nn.Dropout(self.dropout)(h, deterministic)


class Stack(nn.Module):
  num_layers: int
  num_heads: int
  mlp_ratio: int
  dropout: float
  dtype: jnp.dtype
  dropout_placement: str = "residual"
  param_init: str = "flax"

  @nn.compact
  def __call__(self, x, allowed_BxLxL, deterministic: bool, packing: Packing | None = None):
    for _ in range(self.num_layers):
      block = Block(self.num_heads, self.mlp_ratio, self.dropout, self.dtype, self.dropout_placement, self.param_init)
      x = block(x, allowed_BxLxL, deterministic, packing)
    return nn.LayerNorm()(x)


def make_stack(cfg: ModelConfig, num_layers: int, name: str, cls=Stack, **parent) -> Stack:
  """``parent``: parent=MODULE where the stack is built outside a compact method (nn.cond's branches)."""
  return cls(
    num_layers,
    cfg.num_heads,
    cfg.mlp_ratio,
    cfg.dropout,
    jnp.dtype(cfg.dtype),
    cfg.dropout_placement,
    cfg.param_init,
    name=name,
    **parent,
  )


class ValueEmbed(nn.Module):
  """Embeds one modality's values; hidden entries are zeroed first so they cannot leak."""

  modality: ModalitySpec
  width: int
  param_init: str = "flax"

  @nn.compact
  def __call__(self, x, visible_BxT):
    if self.modality.is_discrete:
      return nn.Embed(self.modality.num_classes, self.width)(jnp.where(visible_BxT, x, 0))
    return nn.Dense(self.width, **dense_kwargs(self.param_init, self.modality.dim))(jnp.where(visible_BxT[..., None], x, 0.0))


class Head(nn.Module):
  """MTM's output head: LayerNorm, Dense, GELU, Dense."""

  size: int
  param_init: str = "flax"

  @nn.compact
  def __call__(self, x_BxTxW):
    W = x_BxTxW.shape[-1]
    h = nn.gelu(nn.Dense(W, **dense_kwargs(self.param_init, W))(nn.LayerNorm()(x_BxTxW)))
    return nn.Dense(self.size, **dense_kwargs(self.param_init, W))(h).astype(jnp.float32)


def _steps_remaining_input(traj, visible, max_horizon):
  """Steps remaining at the window's first step, present only where the first return is visible."""
  if "steps_remaining" not in traj:
    raise ValueError("this model embeds steps remaining (model.max_horizon > 0): traj needs 'steps_remaining' int [B,T]")
  steps_B = jnp.clip(traj["steps_remaining"][:, 0], 0, max_horizon)
  return jnp.where(visible[RETURNS][:, 0], steps_B, 0), visible[RETURNS][:, 0]


class MaskedTrajectoryModel(nn.Module):
  """Bidirectional (or causal) transformer over masked trajectory tokens."""

  config: ModelConfig
  spec: DatasetSpec
  window: int

  def _token_init(self):
    """Of modality embeddings and mask tokens."""
    return nn.initializers.zeros if self.config.token_init == "zeros" else nn.initializers.normal(0.02)

  def _positions(self, name: str, length: int):
    if self.config.positions == "learned":
      return self.param(name, nn.initializers.normal(0.02), (length, self.config.width))
    return jnp.asarray(sinusoidal(length, self.config.width)) / 2.0

  def _tokens(self, per_modality_BxTxW, prefix: str):
    """Arranges per-modality embeddings into the token sequence [B, N, W] of the layout."""
    names = token_order(self.spec)
    T = self.window
    pos_TxW = self._positions(f"{prefix}_position", T)
    if self.config.token_layout == "stacked":
      return sum(per_modality_BxTxW[n] for n in names) + pos_TxW[None]
    modality_MxW = self.param(f"{prefix}_modality", self._token_init(), (len(names), self.config.width))
    x_BxTxMxW = jnp.stack([per_modality_BxTxW[n] for n in names], axis=2)
    x_BxTxMxW = x_BxTxMxW + pos_TxW[None, :, None] + modality_MxW[None, None]
    B = x_BxTxMxW.shape[0]
    return x_BxTxMxW.reshape(B, T * len(names), self.config.width)

  def _time_index(self):
    per_step = 1 if self.config.token_layout == "stacked" else len(self.spec.names)
    return np.arange(self.window * per_step)

  def _attention_mask(self, key_ok_BxL, positions_BxL):
    """Which keys each query may read: valid keys, and (causal) no later token."""
    allowed_BxLxL = jnp.broadcast_to(key_ok_BxL[:, None, :], key_ok_BxL.shape + key_ok_BxL.shape[-1:])
    if self.config.causal:
      allowed_BxLxL = allowed_BxLxL & (positions_BxL[:, None, :] <= positions_BxL[:, :, None])
    return allowed_BxLxL

  def _embed(self, traj, visible, prefix):
    """Per-modality input embeddings with mask embeddings in hidden slots."""
    cfg = self.config
    out = {}
    for m in self.spec:
      value_BxTxW = ValueEmbed(m, cfg.width, cfg.param_init, name=f"{prefix}_embed_{m.name}")(traj[m.name], visible[m.name])
      mask_token_W = self.param(f"{prefix}_mask_token_{m.name}", self._token_init(), (cfg.width,))
      out[m.name] = jnp.where(visible[m.name][..., None], value_BxTxW, mask_token_W[None, None])
    if cfg.max_horizon > 0:
      steps_B, gate_B = _steps_remaining_input(traj, visible, cfg.max_horizon)
      steps_BxW = nn.Embed(cfg.max_horizon + 1, cfg.width, name=f"{prefix}_steps_remaining")(steps_B) * gate_B[:, None]
      first_T = jnp.arange(self.window) == 0
      out[RETURNS] = out[RETURNS] + first_T[None, :, None] * steps_BxW[:, None, :]
    return out

  @nn.compact
  def __call__(
    self, traj, visible, *, deterministic: bool = True, features: str | None = None, pack: tuple[int, int] | None = None
  ):
    """Per-modality outputs [B, T, d] of the heads; ``features="output"``: the last stack's per-modality
    features [B, T, W] instead, ``"encoder"``: the encoder's (MTM's representation; with an MAE encoder,
    meaningful at visible tokens only).

    pack=(groups, capacity): the MAE encoder computes visible tokens only, packed per group of the batch
    into ``capacity`` rows (``packing.py``); a batch that does not fit runs densely. ``capacity`` may be a
    tuple of rising tiers: each batch takes the tightest that holds it. None: dense."""
    if features not in (None, "output", "encoder"):
      raise ValueError(f"features={features!r}: ask for None (the heads' outputs), 'output' or 'encoder'")
    cfg = self.config
    x_BxNxW = self._tokens(self._embed(traj, visible, "enc"), "enc")
    if cfg.dropout_placement == "residual":
      x_BxNxW = nn.Dropout(cfg.dropout)(x_BxNxW, deterministic)
    vis_BxN = token_visibility(self.spec, self.config.token_layout, visible)
    B, N, W = x_BxNxW.shape
    time_BxN = jnp.broadcast_to(jnp.asarray(self._time_index()), (B, N))

    if cfg.decoder_layers == 0:
      # One encoder over all tokens: hidden slots already hold mask embeddings.
      h_BxNxW = make_stack(cfg, cfg.encoder_layers, "encoder")(
        x_BxNxW, self._attention_mask(jnp.ones((B, N), bool), time_BxN), deterministic
      )
    else:
      enc_BxNxW = self._encode(x_BxNxW, vis_BxN, time_BxN, deterministic, pack)
      if features == "encoder":
        return self._per_modality(enc_BxNxW)
      h_BxNxW = self._decode(traj, visible, enc_BxNxW, vis_BxN, time_BxN, deterministic)

    out = self._per_modality(h_BxNxW)
    if features is not None:
      return out
    return {m.name: Head(m.output_size, cfg.param_init, name=f"head_{m.name}")(out[m.name]) for m in self.spec}

  def _encode(self, x_BxNxW, vis_BxN, time_BxN, deterministic, pack):
    """MAE encoder over visible tokens (hidden ones are padding keys); rows of hidden tokens are unused."""
    cfg = self.config
    stack = lambda mdl, cls=Stack: make_stack(cfg, cfg.encoder_layers, "encoder", cls, parent=mdl)  # noqa: E731
    allowed = self._attention_mask(vis_BxN, time_BxN)
    if pack is None:
      return stack(self)(x_BxNxW, allowed, deterministic)
    groups, capacities = pack[0], tiers_of(pack[1])
    # Rematerialised branches: the backward pass of a switch keeps every branch's residuals, and the
    # branches not taken fill theirs with zeros; the rarer ones (every tier but the tightest, and the
    # dense fallback) keep none, so the usual branch pays nothing for them.
    remat = nn.remat(Stack, static_argnums=(3,))

    def dense(mdl, x_BxNxW, allowed):
      return stack(mdl, remat)(x_BxNxW, allowed, deterministic)

    def packed(capacity, cls):
      def branch(mdl, x_BxNxW, allowed):
        packing = Packing.create(vis_BxN, groups, capacity)
        return packing.unpack(stack(mdl, cls)(packing.pack(x_BxNxW), allowed, deterministic, packing))

      return branch

    # The tightest tier that holds every group's visible tokens; past the loosest, the dense encoder.
    tier = sum(~fits(vis_BxN, groups, c) for c in capacities)
    branches = [packed(c, Stack if i == 0 else remat) for i, c in enumerate(capacities)] + [dense]
    return nn.switch(tier, branches, self, x_BxNxW, allowed)

  def _decode(self, traj, visible, enc_BxNxW, vis_BxN, time_BxN, deterministic):
    """MAE decoder over all tokens: encoder outputs where visible, decoder mask embeddings elsewhere."""
    cfg = self.config
    init = dense_kwargs(cfg.param_init, cfg.width)
    if cfg.decoder_embed == "shared":
      enc_BxNxW = nn.Dense(cfg.width, name="decoder_embed", **init)(enc_BxNxW)
    else:  # one projection per modality (the reference MTM); the layout is per_modality
      names = token_order(self.spec)
      B, N, W = enc_BxNxW.shape
      enc_BxTxMxW = enc_BxNxW.reshape(B, self.window, len(names), W)
      enc_BxNxW = jnp.stack(
        [nn.Dense(W, name=f"decoder_embed_{n}", **init)(enc_BxTxMxW[:, :, i]) for i, n in enumerate(names)], axis=2
      ).reshape(B, N, W)
    masks_BxNxW = self._tokens(self._mask_embeddings(visible), "dec")
    x_BxNxW = jnp.where(vis_BxN[..., None], enc_BxNxW, 0.0) + masks_BxNxW
    allowed = self._attention_mask(jnp.ones(vis_BxN.shape, bool), time_BxN)
    return make_stack(cfg, cfg.decoder_layers, "decoder")(x_BxNxW, allowed, deterministic)

  def _mask_embeddings(self, visible):
    """Decoder-side mask token per hidden modality slot (zero where the modality is visible)."""
    out = {}
    for m in self.spec:
      token_W = self.param(f"dec_mask_token_{m.name}", self._token_init(), (self.config.width,))
      out[m.name] = jnp.where(visible[m.name][..., None], 0.0, token_W[None, None])
    return out

  def _per_modality(self, h_BxNxW):
    """Splits the token sequence back into per-modality features [B, T, W]."""
    names = token_order(self.spec)
    if self.config.token_layout == "stacked":
      return {n: h_BxNxW for n in names}
    B, _, W = h_BxNxW.shape
    h_BxTxMxW = h_BxNxW.reshape(B, self.window, len(names), W)
    return {n: h_BxTxMxW[:, :, i] for i, n in enumerate(names)}


class MLPBaseline(nn.Module):
  """Flattened masked window in, window out (Uni[MASK]'s feed-forward baseline)."""

  config: ModelConfig
  spec: DatasetSpec
  window: int

  @nn.compact
  def __call__(self, traj, visible, *, deterministic: bool = True, features: str | None = None):
    """Outputs [B, T, d] per modality; ``features="output"``: the last hidden layer [B, H] (it has no encoder)."""
    if features not in (None, "output"):
      raise ValueError(f"the MLP baseline has no {features!r} features; ask for 'output' (its last hidden layer)")
    cfg = self.config
    parts = []
    for m in self.spec:
      vis_BxT = visible[m.name]
      if m.is_discrete:
        x_BxTxD = jax.nn.one_hot(jnp.where(vis_BxT, traj[m.name], 0), m.num_classes)
      else:
        x_BxTxD = traj[m.name].astype(jnp.float32)
      parts += [jnp.where(vis_BxT[..., None], x_BxTxD, 0.0), vis_BxT[..., None].astype(jnp.float32)]
    B = parts[0].shape[0]
    h = jnp.concatenate([p.reshape(B, -1) for p in parts], axis=-1)
    if cfg.max_horizon > 0:
      steps_B, gate_B = _steps_remaining_input(traj, visible, cfg.max_horizon)
      h = jnp.concatenate([h, (steps_B / cfg.max_horizon * gate_B)[:, None]], axis=-1)
    for size in cfg.mlp_hidden:
      h = nn.Dropout(cfg.dropout)(nn.gelu(nn.Dense(size, dot_general=dense_dot)(h)), deterministic)
    if features == "output":
      return h
    sizes = [m.output_size for m in self.spec]
    out = nn.Dense(self.window * sum(sizes), dot_general=dense_dot)(h).reshape(B, self.window, sum(sizes))
    splits = np.cumsum(sizes)[:-1]
    return {m.name: o for m, o in zip(self.spec, jnp.split(out, splits, axis=-1))}


def build_model(config: ModelConfig, spec: DatasetSpec, window: int) -> nn.Module:
  cls = MLPBaseline if config.kind == "mlp" else MaskedTrajectoryModel
  return cls(config=config, spec=spec, window=window)


def dummy_inputs(spec: DatasetSpec, window: int, batch: int = 1, max_horizon: int = 0):
  """Zero trajectories and all-visible masks of the right shapes (for init and eval_shape)."""
  traj = {m.name: jnp.zeros((batch, window) + m.trailing_shape(), jnp.int32 if m.is_discrete else jnp.float32) for m in spec}
  if max_horizon > 0:
    traj["steps_remaining"] = jnp.zeros((batch, window), jnp.int32)
  visible = {m.name: jnp.ones((batch, window), bool) for m in spec}
  return traj, visible


def count_params(params) -> int:
  return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))
