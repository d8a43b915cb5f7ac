"""LRDM's extra conds as third-party code expects them: dressed like the positive, seen as conditional rows.

The object and background layers are extra entries in the guider's conds (keys.layer_key, keys.BG_KEY).
Node packs read the positive cond's entries (ControlNet's `control`, GLIGEN's `gligen`, area/mask, hooks,
model-specific keys) and `cond_or_uncond` ((cond, uncond)[i] in IPAdapter, PuLID, InstantID), so each layer
carries the positive's entries (only its own text encoding differs) and presents itself as a conditional
pass (index 0) to the U-Net and its patches.
"""

from __future__ import annotations

import uuid

import torch

# A layer's own entries: its phrase's encoding and identity; every other entry comes from the positive cond.
OWN_KEYS = frozenset({"cross_attn", "pooled_output", "uuid", "model_conds"})


def dress_like_positive(layer: list[dict], positive: list[dict] | None) -> list[dict]:
    """One entry per (positive entry, layer entry): the positive's entries, the layer's own on top
    (converted conds, comfy/sampler_helpers.py convert_cond)."""
    if not positive:
        return layer
    out = []
    for p in positive:
        extras = {k: v for k, v in p.items() if k not in OWN_KEYS}
        for entry in layer:
            dressed = {**extras, **entry}
            dressed["model_conds"] = {**p.get("model_conds", {}), **entry.get("model_conds", {})}
            dressed["uuid"] = uuid.uuid4()
            out.append(dressed)
    return out


def as_conditional(cond_or_uncond: list[int], n_cond: int) -> list[int]:
    """LRDM's extra rows of its own calc_cond_batch calls as the (cond, uncond) indices patches expect: the n_cond
    layer rows after index 1 as conditional (0), any rows after them (each layer's uncond, CFG per layer) as 1."""
    return [i if i < 2 else (0 if i < 2 + n_cond else 1) for i in cond_or_uncond]


def composite_cond(background: list[dict], layers: list[list[dict]], weights, bg_weight) -> list[dict]:
    """The layered step's conditional input as one cond: each entry masked by its layer's composition weight,
    so calc_cond_batch on it gives the composite (Eq. 8) that the post-CFG functions receive as cond_denoised."""
    out = [_masked(e, bg_weight) for e in background]
    for wgt, layer in zip(weights, layers, strict=True):
        out.extend(_masked(e, wgt) for e in layer)
    return out


def _masked(entry: dict, weight: torch.Tensor) -> dict:
    """A copy of a processed cond entry whose mask is multiplied by weight [H, W] (same uuid: same offsets)."""
    w = weight[None]  # [1, H, W]
    mask = entry.get("mask")
    return {**entry, "mask": w if mask is None else mask * w.to(mask)}
