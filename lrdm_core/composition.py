"""Layered composition math (LRDiff Eq. 8, Algorithm 1): masked sums, the x_T shift, batch-chunk offsets, counts."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from .config import Guidance

log = logging.getLogger("lrdm")

SHIFTED_GUIDANCE = (Guidance.INPUT, Guidance.EPS)  # xi on each layer's input every layered step (choice 3)


def compose(bg_out: torch.Tensor, layer_outs: Sequence[torch.Tensor], weights: torch.Tensor, bg_weight: torch.Tensor):
    """sum_i W_i out_i + W_bg out_bg (Eq. 8's masked sum).

    bg_out, layer_outs[i]: [B, C, H, W]; weights: [n, H, W]; bg_weight: [H, W]; returns [B, C, H, W].
    """
    comp = bg_out * bg_weight  # [B, C, H, W]
    for wgt, out in zip(weights, layer_outs, strict=True):
        comp = comp + out * wgt
    return comp


def state_shift(offsets: Sequence[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """Guidance 'state' (authors' code, choice 9) on one shared latent: x_T + sum_i W_i xi_i.

    Each layer's trajectory starts from x_T + xi_i and the background's from x_T itself (LRDiff_code), so on
    the shared latent the shift is xi_i where layer i is shown and nothing on the background; the outside
    term of xi_i lies where W_i = 0 and has no effect here. offsets[i]: [B, C, H, W]; weights: [n, H, W].
    """
    total = torch.zeros_like(offsets[0])  # [B, C, H, W]
    for xi, wgt in zip(offsets, weights, strict=True):
        total = total + xi * wgt
    return total


def shift_chunks(x: torch.Tensor, uuids: list, offsets: dict) -> torch.Tensor:
    """x [chunks*B, C, H, W] with offsets[uuid] [B, C, H, W] added to the chunks that have one."""
    per = x.shape[0] // len(uuids)
    parts = list(x.split(per))
    for j, uid in enumerate(uuids):
        off = offsets.get(uid)
        if off is None:
            continue
        if off.shape[-2:] != parts[j].shape[-2:]:
            log.warning("LRDM: a layer conditioning has an area set; its guidance offset is skipped.")
            continue
        parts[j] = parts[j] + off.to(parts[j].dtype)
    return torch.cat(parts)


def rows_per_layered_step(n: int, shifted: bool, cfg: bool = True) -> int:
    """U-Net rows of one layered evaluation: background + n layers, the shared uncond, and with per-step
    input offsets one uncond per layer on that layer's input (CFG per layer, Eq. 8)."""
    if not cfg:
        return n + 1
    return n + 2 + (n if shifted else 0)


def evaluation_count(steps: int, layered: int, n: int, shifted: bool, capture: bool = True) -> int:
    """U-Net rows of a run of `steps` single-evaluation steps, `layered` of them layered, with CFG:
    1 (capture) + k * rows_per_layered_step + (S - k) * 2."""
    return int(capture) + layered * rows_per_layered_step(n, shifted) + (steps - layered) * 2
