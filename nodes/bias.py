"""Region attention bias (beyond the paper; DenseDiffusion-style): on the global prompt's passes, its object
tokens are favoured inside their regions and suppressed outside on every cross-attention block, and
self-attention favours pixels of the same region."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from ..lrdm_core.attention import biased_attention, region_logit_bias, resolution_of, segment_logit_bias
from .capture import host_attention
from .state import RunState

log = logging.getLogger("lrdm")

BIAS_KEY = "lrdm_bias"  # transformer_options key: the BiasPlan of the current evaluation


@dataclass
class BiasPlan:
    """Which cond chunks get a bias, the object columns, regions and segments, and a cache per resolution."""

    uuids: frozenset
    columns: list[list[int]]  # per object: its token positions in the global prompt
    masks: torch.Tensor  # [n, H, W] regions on the latent grid
    strength: float  # cross-attention bias (attn_bias)
    segments: torch.Tensor  # [n+1, H, W] composition weights of the objects and the background
    self_strength: float  # self-attention bias (self_bias)
    cache: dict = field(default_factory=dict)

    def bias(self, res_h: int, res_w: int, n_keys: int, device, dtype) -> torch.Tensor:
        """[N, T] logit bias at one block resolution (cached)."""
        key = (res_h, res_w, n_keys)
        if key not in self.cache:
            self.cache[key] = region_logit_bias(self.masks, self.columns, n_keys, self.strength, res_h, res_w)
        return self.cache[key].to(device=device, dtype=dtype)

    def self_bias(self, res_h: int, res_w: int, device, dtype) -> torch.Tensor:
        """[N, N] self-attention bias at one block resolution (cached)."""
        key = ("self", res_h, res_w)
        if key not in self.cache:
            self.cache[key] = segment_logit_bias(self.segments, self.self_strength, res_h, res_w)
        return self.cache[key].to(device=device, dtype=dtype)


def bias_plan(guider, state: RunState) -> BiasPlan | None:
    """The plan for the positive prompt's chunks, built once per run; None if there is nothing to bias."""
    if "bias_plan" not in state.cache:
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
        state.cache["bias_plan"] = (
            BiasPlan(
                uuids=frozenset(c["uuid"] for c in positive),
                columns=[list(positions[i]) for i in found],
                masks=state.masks[found],
                strength=cfg.attn_bias,
                segments=torch.cat([state.weights, state.bg_weight[None]]),  # [n+1, H, W]
                self_strength=cfg.self_bias,
            )
            if (found or cfg.self_bias) and positive
            else None
        )
    return state.cache["bias_plan"]


class RegionBias:
    """attn2 (or attn1) replace: biased attention for the chunks a BiasPlan names; otherwise exactly the host's."""

    def __init__(self, previous=None, kind: str = "attn2") -> None:
        self.previous = previous
        self.kind = kind

    def __call__(self, q, k, v, extra_options):
        plan: BiasPlan | None = extra_options.get(BIAS_KEY)
        uuids = extra_options.get("uuids") or []
        active = plan is not None and (plan.self_strength if self.kind == "attn1" else plan.columns)
        if not active or self.previous is not None or not plan.uuids.intersection(uuids):
            return host_attention(self.previous, q, k, v, extra_options)
        per = q.shape[0] // len(uuids)
        shape = extra_options.get("activations_shape")
        res = (
            (shape[2], shape[3])
            if shape and shape[2] * shape[3] == q.shape[1]
            else resolution_of(q.shape[1], *plan.segments.shape[-2:])
        )
        if self.kind == "attn1":
            one = plan.self_bias(*res, q.device, torch.float32)  # [N, N]
        else:
            one = plan.bias(*res, k.shape[1], q.device, torch.float32)  # [N, T]
        gate = torch.tensor([1.0 if u in plan.uuids else 0.0 for u in uuids], device=q.device)
        bias = gate.repeat_interleave(per)[:, None, None] * one[None]  # [B, N, T]
        return biased_attention(q, k, v, extra_options["n_heads"], bias)
