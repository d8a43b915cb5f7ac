"""Region attention bias (beyond the paper; DenseDiffusion-style): on the global prompt's passes its object
tokens are favoured inside their regions and suppressed outside on every cross-attention block, and
self-attention favours pixels of the same region; on each object layer's pass (layered steps) its phrase's
tokens are favoured inside its own region.

How it reaches the host's attention without taking any replace key (so IPAdapter's attn2 replaces, PAG's
attn1 replace and every other patch keep their place and effect):

- two markers, an attn1_patch and an attn2_patch (ComfyUI runs every patch of these lists, in order, right
  before that attention of each transformer block), note which attention of which block comes next;
- during the biased steps the evaluation's transformer_options carry a BiasOverride as ComfyUI's
  `optimized_attention_override` (comfy/ldm/modules/attention.py wrap_attn), wrapping any override already
  there. It splits each call by cond chunk (`uuids`): unbiased chunks run the host's call unchanged; a biased
  chunk's bias, low-rank (one rank per object or segment), becomes extra query and key channels
  (lrdm_core.low_rank), and the chunk runs through the same host function, heads-first. Functions that quantize
  q and k (sage, int8) would round the bias channels with them; for those, and for functions this module does
  not know, the chunk runs through torch's SDPA instead (the same softmax, exact).

Units (issue 18): attn_bias and self_bias are fractions of each block's own logit range, capped in attention mass
(bias_cap) and faded over the steps (bias_decay). Each biased call estimates its chunk's strengths from a few of
the chunk's query rows (lrdm_core.bias_units: rows x keys logits, never the block's N x T) and scales the
pattern the plan cached for that block; the evaluation's time factor travels on the BiasRun.

Memory: no [N, T] mask and no logits beyond what the host's function makes for q, k and v exist: the chunk's q,
k and v grow by e channels (rounded to a multiple of 8), so ComfyUI's own per-row estimate in calc_cond_batch
stays right (BaseModel.memory_required has no model_options hook in ComfyUI 0.3.75 or 0.33, and patching the
shared model's method would change every other clone; nothing is added to it). The patterns cached per block
resolution for the run are N x e and T x e values.
Where a bias cannot apply (another node computes that attention itself, keys that are not the prompt's
text, a call that already has a mask) it is skipped and logged once per run.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import comfy.ldm.modules.attention as comfy_attention
import torch

from ...lrdm_core.attention import resolution_of
from ...lrdm_core.bias import BiasPlan, chunk_runs
from ...lrdm_core.low_rank import low_rank_attention
from .capture import context_length
from .keys import BIAS_KEY, OVERRIDE_KEY, layer_key
from .state import RunState

log = logging.getLogger("lrdm")

EXACT_FUNCTIONS = (  # host functions that compute softmax(q k^T / sqrt(d)) v without rounding q and k
    "attention_basic",
    "attention_sub_quad",
    "attention_split",
    "attention_xformers",
    "attention_pytorch",
    "attention_flash",
)


def host_supports_override() -> bool:
    """Whether this ComfyUI routes its attention through transformer_options' optimized_attention_override."""
    return hasattr(comfy_attention, "wrap_attn")


@dataclass
class BiasRun:
    """One run's bias: the plan, which attention of which block comes next (set by the markers), and the
    skips already logged."""

    plan: BiasPlan
    kind: str | None = None  # "attn1" / "attn2": the attention the last marker announced
    where: tuple | None = None  # (block, id, index) of that attention
    seen: bool = True  # whether that attention came through the override
    decay: float = 1.0  # the biases' time factor at the current evaluation (bias_units.bias_decay)
    logged: set = field(default_factory=set)

    def once(self, key, level: int, message: str, *args) -> None:
        """Log `message` the first time `key` comes up in this run."""
        if key not in self.logged:
            self.logged.add(key)
            log.log(level, message, *args)

    def mark(self, kind: str, where: tuple) -> None:
        """The next attention is `kind` at `where`; an announced biased one that never reached the override
        was computed by another node's replace (IPAdapter, PAG): logged once per kind."""
        if not self.seen and (self.kind, self.where) != (kind, where) and self.biases(self.kind):
            self.once(
                ("replaced", self.kind),
                logging.WARNING,
                "LRDM: the region bias does not reach the %s at %s (and maybe other blocks): another node "
                "computes that attention itself there, without ComfyUI's attention function; it runs unbiased "
                "there, the other blocks keep the bias.",
                "self-attention" if self.kind == "attn1" else "cross-attention",
                self.where,
            )
        self.kind, self.where, self.seen = kind, where, False

    def biases(self, kind: str | None) -> bool:
        """Whether the plan biases this kind of attention at all."""
        return bool(self.plan.self_strength if kind == "attn1" else self.plan.strength)


class AttentionMarker:
    """attn1_patch / attn2_patch: notes which attention comes next; q, k and v pass unchanged."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, n, context, value, extra_options):
        run: BiasRun | None = extra_options.get(BIAS_KEY)
        if run is not None:
            block = extra_options.get("block") or (None, None)
            run.mark(self.kind, (block[0], block[1], extra_options.get("block_index", 0)))
        return n, context, value


def install_markers(m) -> None:
    """Add the two markers to the ModelPatcher clone `m` (once; the patch lists chain with every other)."""
    if not host_supports_override():
        log.warning(
            "LRDM: this ComfyUI has no optimized_attention_override, so attn_bias and self_bias cannot act; "
            "update ComfyUI, or set both to 0 to silence this."
        )
        return
    patches = m.model_options.get("transformer_options", {}).get("patches", {})
    for kind, add in (("attn1", m.set_model_attn1_patch), ("attn2", m.set_model_attn2_patch)):
        if not any(isinstance(p, AttentionMarker) for p in patches.get(f"{kind}_patch", [])):
            add(AttentionMarker(kind))


def with_bias(transformer_options: dict, run: BiasRun) -> dict:
    """A copy of one evaluation's transformer_options with the run and the override (chained)."""
    previous = transformer_options.get(OVERRIDE_KEY)
    if isinstance(previous, BiasOverride):
        previous = previous.previous
    if previous is not None:
        run.once(
            "override",
            logging.INFO,
            "LRDM: another node set ComfyUI's attention override; the region bias hands it the biased chunks.",
        )
    return {**transformer_options, BIAS_KEY: run, OVERRIDE_KEY: BiasOverride(run, previous)}


def _exact_functions() -> set:
    """The raw host functions (inside wrap_attn) that the bias channels pass through unrounded."""
    fns = (getattr(comfy_attention, name, None) for name in EXACT_FUNCTIONS)
    return {getattr(fn, "__wrapped__", fn) for fn in fns if fn is not None}


class BiasOverride:
    """ComfyUI's optimized_attention_override: the biased chunks of a call get their bias channels, the rest run
    exactly the host's attention (or the override that was there before)."""

    def __init__(self, run: BiasRun, previous=None) -> None:
        self.run = run
        self.previous = previous

    def __call__(self, func, *args, **kwargs):
        attend = func if self.previous is None else functools.partial(self.previous, func)
        factors = self._factors(args, kwargs)
        if factors is None:
            return attend(*args, **kwargs)
        q, k, v, heads = args
        flags = {key: kwargs.get(key, False) for key in ("skip_reshape", "skip_output_reshape")}
        heads_first = {**kwargs, "skip_reshape": True, "skip_output_reshape": True}

        def host(qa: torch.Tensor, ka: torch.Tensor, va: torch.Tensor) -> torch.Tensor:
            """The host's attention on heads-first q', k', v' (lrdm_core.low_rank): [B, h, N, d']."""
            return attend(qa, ka, va, heads, **heads_first)

        exact = self.previous is not None or func in _exact_functions()
        per = q.shape[0] // len(factors)
        outs = []
        for first, end, f in chunk_runs(factors):
            rows = slice(first * per, end * per)
            if f is None:
                outs.append(attend(q[rows], k[rows], v[rows], heads, **kwargs))
            else:
                outs.append(low_rank_attention(q[rows], k[rows], v[rows], heads, *f, host if exact else None, **flags))
        return torch.cat(outs)  # [B, N, heads*d] (or [B, heads, N, d])

    def _factors(self, args, kwargs) -> list | None:
        """Per cond chunk its bias factors (BiasPlan.factors) or None; None for the whole call when nothing applies."""
        run, plan = self.run, self.run.plan
        options = kwargs.get("transformer_options") or {}
        uuids, kind = options.get("uuids"), run.kind
        if kind is None:
            return None
        run.seen = True
        if not uuids or not run.biases(kind) or not any(plan.wants(kind, u) for u in uuids):
            return None
        if len(args) != 4 or kwargs.get("mask") is not None:
            run.once("mask", logging.WARNING, "LRDM: the region bias skips attention calls that carry a mask.")
            return None
        q, k = args[0], args[1]
        n, t = (q.shape[2], k.shape[2]) if kwargs.get("skip_reshape") else (q.shape[1], k.shape[1])
        latent = tuple(plan.segments.shape[-2:])
        seen = tuple((options.get("original_shape") or [0, 0, *latent])[-2:])
        if seen != latent:
            run.once(
                "tiles",
                logging.WARNING,
                "LRDM: the U-Net sees a %s latent, not the %s one the layout was drawn on (tiled sampling?); "
                "the region bias skips it.",
                seen,
                latent,
            )
            return None
        res = _resolution(n, options, plan)
        if res is None or q.shape[0] % len(uuids):
            run.once(
                "shape", logging.WARNING, "LRDM: the region bias skips attention of an unexpected shape %s.", q.shape
            )
            return None
        per, heads, first = q.shape[0] // len(uuids), args[3], bool(kwargs.get("skip_reshape"))
        factors = [
            plan.factors(kind, u, res, q[j * per : (j + 1) * per], k[j * per : (j + 1) * per], heads, first, run.decay)
            if plan.wants(kind, u)
            else None
            for j, u in enumerate(uuids)
        ]  # each (queries, keys) or None: the strengths from this chunk's own rows
        if any(plan.wants(kind, u) and f is None for u, f in zip(uuids, factors, strict=True)):
            run.once(
                ("keys", kind),
                logging.INFO,
                "LRDM: the region bias skips %s calls with %d keys for %d queries (not the prompt's text or the "
                "block's own pixels, e.g. an image prompt's tokens).",
                kind,
                t,
                n,
            )
        if kind == "attn1" and t > n and any(f is not None for f in factors):
            run.once("extended", logging.INFO, "LRDM: self-attention has %d extra keys; their bias is 0.", t - n)
        return None if all(f is None for f in factors) else factors


def _resolution(n_tokens: int, options: dict, plan: BiasPlan) -> tuple[int, int] | None:
    """The block's spatial size: activations_shape (ComfyUI sets it), else from the token count; None if neither."""
    shape = options.get("activations_shape")
    if shape is not None and len(shape) == 4 and shape[2] * shape[3] == n_tokens:
        return int(shape[2]), int(shape[3])
    try:
        return resolution_of(n_tokens, *plan.segments.shape[-2:])
    except ValueError:
        return None


def bias_plan(guider, state: RunState) -> BiasPlan | None:
    """The plan for the positive prompt's and the layers' chunks, built once per run; None if nothing to bias."""
    _build(guider, state)
    return state.bias_plan


def bias_run(guider, state: RunState) -> BiasRun | None:
    """The run's BiasRun (plan + marker state + logged skips), built once per run; None if nothing to bias."""
    _build(guider, state)
    return state.bias_run


def _build(guider, state: RunState) -> None:
    """Fill the run's bias_plan and bias_run once (while conds["positive"] is the global prompt)."""
    if not state.bias_built:
        state.bias_built = True
        state.bias_plan = _plan(guider, state)
        state.bias_run = BiasRun(state.bias_plan) if state.bias_plan is not None and host_supports_override() else None


def _plan(guider, state: RunState) -> BiasPlan | None:
    """The BiasPlan of the positive prompt's and the layers' chunks; None if nothing to bias."""
    cfg = state.spec.config
    positions = state.spec.prompt_positions
    found = [i for i, p in enumerate(positions) if p] if cfg.attn_bias else []
    if cfg.attn_bias and len(found) < len(positions):
        log.warning(
            "LRDM: attn_bias needs each phrase inside the global prompt; %d of %d found.",
            len(found),
            len(positions),
        )
    positive = guider.conds.get("positive") or []
    layer_conds = [(i, c) for i in range(len(state.spec.layer_conds)) for c in guider.conds.get(layer_key(i)) or []]
    layers = {
        c["uuid"]: (i, list(state.spec.phrase_positions[i]), state.masks[i : i + 1])
        for i, c in layer_conds
        if cfg.attn_bias
    }
    lengths = {c["uuid"]: context_length(c) for c in [*positive, *(c for _, c in layer_conds)]}
    return (
        BiasPlan(
            uuids=frozenset(c["uuid"] for c in positive),
            columns=[list(positions[i]) for i in found],
            masks=state.masks[found],
            strength=cfg.attn_bias,
            segments=torch.cat([state.weights, state.bg_weight[None]]),  # [n+1, H, W]
            self_strength=cfg.self_bias,
            layers=layers,
            lengths={u: n for u, n in lengths.items() if n},
            cap=cfg.bias_cap,
        )
        if (found or cfg.self_bias) and positive
        else None
    )
