"""Test oracle: the region bias as it was computed before it moved onto the host's attention (nodes/bias.py
up to db71bdc): attn1/attn2 replaces on every transformer that build, per call, an fp32 [B, N, T] bias
(zeros for unbiased chunks) and compute softmax(q k^T / sqrt(d) + bias) v explicitly over all chunks.
Only the tests install it, to compare the new path with it and to show what the memory test catches."""

from __future__ import annotations

import comfy.ldm.modules.attention as comfy_attention
import torch


def explicit_biased_attention(q, k, v, heads: int, bias: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v per head; q [B, N, h*d], k, v [B, T, h*d], bias [B, N, T]."""
    b, n, hd = q.shape
    d = hd // heads
    qh, kh, vh = (t.reshape(b, -1, heads, d).transpose(1, 2) for t in (q, k, v))  # [B, h, N|T, d]
    logits = (qh.float() @ kh.float().transpose(-1, -2)) * d**-0.5 + bias[:, None].float()  # [B, h, N, T]
    out = logits.softmax(dim=-1).to(vh.dtype) @ vh  # [B, h, N, d]
    return out.transpose(1, 2).reshape(b, n, hd)  # [B, N, h*d]


class ExplicitRegionBias:
    """attn1/attn2 replace of the old path, reading the run's BiasPlan from transformer_options."""

    def __init__(self, pack, kind: str) -> None:
        self.bias, self.kind = pack.lrdm_core.bias, kind
        self.key = pack.nodes.host.bias.BIAS_KEY

    def __call__(self, q, k, v, extra_options):
        run, uuids = extra_options.get(self.key), extra_options.get("uuids") or []
        heads = extra_options["n_heads"]
        if run is None or not uuids:
            return comfy_attention.optimized_attention(q, k, v, heads)
        plan, (_, _, h, w) = run.plan, extra_options["activations_shape"]
        parts = [self._part(plan, u, h, w, k.shape[1]) for u in uuids]  # each [N, T] or None
        if all(p is None for p in parts):
            return comfy_attention.optimized_attention(q, k, v, heads)
        zero = torch.zeros(q.shape[1], k.shape[1])
        bias = torch.stack([zero if p is None else p for p in parts]).repeat_interleave(q.shape[0] // len(uuids), 0)
        return explicit_biased_attention(q, k, v, heads, bias)

    def _part(self, plan, uid, h: int, w: int, n_keys: int):
        """The old per-chunk bias: the prompt's objects, a layer's phrase, the segments (self), or None."""
        if self.kind == "attn1":
            return (
                self.bias.segment_logit_bias(plan.segments, plan.self_strength, h, w)
                if plan.wants("attn1", uid)
                else None
            )
        if uid in plan.uuids and plan.columns and plan.strength:
            return self.bias.region_logit_bias(plan.masks, plan.columns, n_keys, plan.strength, h, w)
        if uid in plan.layers and plan.strength:
            _, cols, region = plan.layers[uid]
            return self.bias.region_logit_bias(region, [cols], n_keys, plan.strength, h, w)
        return None


def install_oracle(pack, m) -> None:
    """The old install: an ExplicitRegionBias replace on every transformer, in place of the markers."""
    for block, block_id, n in pack.nodes.host.unet.all_cross_attention(m):
        for idx in range(n):
            for kind in ("attn1", "attn2"):
                m.set_model_patch_replace(ExplicitRegionBias(pack, kind), kind, block, block_id, idx)
