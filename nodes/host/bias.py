"""Region attention bias (beyond the paper; DenseDiffusion-style): on the global prompt's passes its object
tokens are favoured inside their regions and suppressed outside on every cross-attention block, and
self-attention favours pixels of the same region; on each object layer's pass (layered steps) its phrase's
tokens are favoured inside its own region."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from ...lrdm_core.attention import biased_attention, region_logit_bias, resolution_of, segment_logit_bias
from .capture import host_attention
from .keys import BIAS_KEY, layer_key
from .state import RunState

log = logging.getLogger("lrdm")



@dataclass
class BiasPlan:
    """Which cond chunks get a bias, the object columns, regions and segments, and a cache per resolution."""

    uuids: frozenset
    columns: list[list[int]]  # per object: its token positions in the global prompt
    masks: torch.Tensor  # [n, H, W] regions on the latent grid
    strength: float  # cross-attention bias (attn_bias)
    segments: torch.Tensor  # [n+1, H, W] composition weights of the objects and the background
    self_strength: float  # self-attention bias (self_bias)
    layers: dict = field(default_factory=dict)  # layer cond uuid -> (object index, phrase token columns, [1, H, W])
    cache: dict = field(default_factory=dict)

    def bias(self, res_h: int, res_w: int, n_keys: int, device, dtype) -> torch.Tensor:
        """[N, T] logit bias at one block resolution (cached)."""
        key = (res_h, res_w, n_keys)
        if key not in self.cache:
            self.cache[key] = region_logit_bias(self.masks, self.columns, n_keys, self.strength, res_h, res_w)
        return self.cache[key].to(device=device, dtype=dtype)

    def layer_bias(self, uid, res_h: int, res_w: int, n_keys: int, device, dtype) -> torch.Tensor:
        """[N, T] bias of one object layer's pass: its phrase's tokens towards its own region (cached)."""
        i, cols, region = self.layers[uid]
        key = ("layer", i, res_h, res_w, n_keys)
        if key not in self.cache:
            self.cache[key] = region_logit_bias(region, [cols], n_keys, self.strength, res_h, res_w)
        return self.cache[key].to(device=device, dtype=dtype)

    def chunk_bias(self, uid, res_h: int, res_w: int, n_keys: int, device) -> torch.Tensor | None:
        """The cross-attention bias of one cond chunk: the prompt's, a layer's, or None (unbiased)."""
        if uid in self.uuids and self.columns:
            return self.bias(res_h, res_w, n_keys, device, torch.float32)
        if uid in self.layers and self.strength:
            return self.layer_bias(uid, res_h, res_w, n_keys, device, torch.float32)
        return None

    def self_bias(self, res_h: int, res_w: int, device, dtype) -> torch.Tensor:
        """[N, N] self-attention bias at one block resolution (cached)."""
        key = ("self", res_h, res_w)
        if key not in self.cache:
            self.cache[key] = segment_logit_bias(self.segments, self.self_strength, res_h, res_w)
        return self.cache[key].to(device=device, dtype=dtype)


def bias_plan(guider, state: RunState) -> BiasPlan | None:
    """The plan for the positive prompt's and the layers' chunks, built once per run; None if nothing to bias."""
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
        layers = {
            c["uuid"]: (i, list(state.spec.phrase_positions[i]), state.masks[i : i + 1])
            for i in range(len(state.spec.layer_conds))
            if cfg.attn_bias
            for c in guider.conds.get(layer_key(i)) or []
        }
        state.cache["bias_plan"] = (
            BiasPlan(
                uuids=frozenset(c["uuid"] for c in positive),
                columns=[list(positions[i]) for i in found],
                masks=state.masks[found],
                strength=cfg.attn_bias,
                segments=torch.cat([state.weights, state.bg_weight[None]]),  # [n+1, H, W]
                self_strength=cfg.self_bias,
                layers=layers,
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
        if plan is None or self.previous is not None or not uuids:
            return host_attention(self.previous, q, k, v, extra_options)
        shape = extra_options.get("activations_shape")
        res = (
            (shape[2], shape[3])
            if shape and shape[2] * shape[3] == q.shape[1]
            else resolution_of(q.shape[1], *plan.segments.shape[-2:])
        )
        if self.kind == "attn1":
            one = plan.self_bias(*res, q.device, torch.float32) if plan.self_strength else None  # [N, N]
            parts = [one if u in plan.uuids else None for u in uuids]
        else:
            parts = [plan.chunk_bias(u, *res, k.shape[1], q.device) for u in uuids]  # each [N, T] or None
        if all(p is None for p in parts):
            return host_attention(self.previous, q, k, v, extra_options)
        n_keys = k.shape[1]
        zero = torch.zeros(q.shape[1], n_keys, device=q.device)
        per = q.shape[0] // len(uuids)
        bias = torch.stack([zero if p is None else p for p in parts]).repeat_interleave(per, dim=0)  # [B, N, T]
        return biased_attention(q, k, v, extra_options["n_heads"], bias)
