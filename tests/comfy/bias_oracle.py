"""Test oracle: the region bias as it was computed before it moved onto the host's attention (nodes/bias.py
up to db71bdc): attn1/attn2 replaces on every transformer that build, per call, an fp32 [B, N, T] bias
(zeros for unbiased chunks) and compute softmax(q k^T / sqrt(d) + bias) v explicitly over all chunks.
Since issue 18 each chunk's strengths are in model-free units: here they come straight from
lrdm_core.bias_units on the chunk's own q and k (sampled rows, logit range, cap, decay), independently of
BiasPlan's cached patterns. Only the tests install it, to compare the new path with it and to show what the
memory test catches."""

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
        self.bias, self.units, self.kind = pack.lrdm_core.bias, pack.lrdm_core.bias_units, kind
        self.key = pack.nodes.host.bias.BIAS_KEY

    def __call__(self, q, k, v, extra_options):
        run, uuids = extra_options.get(self.key), extra_options.get("uuids") or []
        heads = extra_options["n_heads"]
        if run is None or not uuids:
            return comfy_attention.optimized_attention(q, k, v, heads)
        _, _, h, w = extra_options["activations_shape"]
        per = q.shape[0] // len(uuids)
        rows = [slice(j * per, (j + 1) * per) for j in range(len(uuids))]
        parts = [self._part(run, u, q[r], k[r], heads, h, w) for u, r in zip(uuids, rows, strict=True)]
        if all(p is None for p in parts):
            return comfy_attention.optimized_attention(q, k, v, heads)
        zero = torch.zeros(q.shape[1], k.shape[1])
        bias = torch.stack([zero if p is None else p for p in parts]).repeat_interleave(per, 0)  # [B, N, T]
        return explicit_biased_attention(q, k, v, heads, bias)

    def _part(self, run, uid, q, k, heads: int, h: int, w: int):
        """The per-chunk bias [N, T]: the prompt's objects, a layer's phrase, the segments (self), or None."""
        plan, units, n_keys = run.plan, self.units, k.shape[1]
        if self.kind == "attn1":
            if not plan.wants("attn1", uid):
                return None
            seg = torch.nn.functional.interpolate(plan.segments[:, None].float(), size=(h, w), mode="area")
            seg = seg[:, 0].reshape(seg.shape[0], -1)  # [S, N]
            same = seg.T @ seg  # [N, N]
            picked = torch.cat(units.region_rows(seg))  # [R]
            b = units.self_bias_strength(
                q, k, heads, picked, same[picked], plan.self_strength, plan.cap, run.decay
            ).mean()
            return self.bias.segment_logit_bias(plan.segments, float(b), h, w)
        if uid in plan.uuids and plan.columns and plan.strength:
            masks, columns = plan.masks, plan.columns
        elif uid in plan.layers and plan.strength:
            _, cols, masks = plan.layers[uid]
            columns = [cols]
        else:
            return None
        m = torch.nn.functional.interpolate(masks[:, None].float(), size=(h, w), mode="area")
        m = m[:, 0].reshape(m.shape[0], -1)  # [n, N]
        b = units.cross_bias_strengths(
            q, k, heads, units.region_rows(m), 2 * m - 1, columns, plan.strength, plan.cap, run.decay
        ).mean(0)  # [n]
        return sum(
            self.bias.region_logit_bias(masks[i : i + 1], [columns[i]], n_keys, float(b[i]), h, w)
            for i in range(len(columns))
        )


def install_oracle(pack, m) -> None:
    """The old install: an ExplicitRegionBias replace on every transformer, in place of the markers."""
    for block, block_id, n in pack.nodes.host.unet.all_cross_attention(m):
        for idx in range(n):
            for kind in ("attn1", "attn2"):
                m.set_model_patch_replace(ExplicitRegionBias(pack, kind), kind, block, block_id, idx)
