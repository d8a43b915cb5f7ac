"""Region logit biases as additive attention masks (beyond the paper; DenseDiffusion-style).

The plan of one run (which cond chunks get which bias), its cache per block resolution and dtype, and a
sliced attention for hosts whose attention function cannot take a mask broadcast over batch and heads.
Every mask here is [N, T] (queries x keys): it is broadcast over the rows of its chunk and over the heads,
never repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .attention import repeated_columns

SLICE_BYTES = 256 * 2**20  # default logits budget of one query slice in sliced_attention


def region_logit_bias(
    masks: torch.Tensor, columns: list[list[int]], n_keys: int, strength: float, res_h: int, res_w: int
) -> torch.Tensor:
    """Bias [N, T]: +strength on object i's token columns inside its region, -strength outside.

    masks: [n, H, W] regions on the latent grid, area-resampled to the block's res_h x res_w.
    """
    m = F.interpolate(masks[:, None].float(), size=(res_h, res_w), mode="area")[:, 0]  # [n, h, w]
    m = m.reshape(m.shape[0], -1)  # [n, N]
    bias = torch.zeros(m.shape[1], n_keys, device=masks.device)  # [N, T]
    for i, cols in enumerate(columns):
        for c in cols:
            if c < n_keys:
                bias[:, c] += strength * (2.0 * m[i] - 1.0)
    return bias  # [N, T]


def segment_logit_bias(segments: torch.Tensor, strength: float, res_h: int, res_w: int) -> torch.Tensor:
    """Self-attention bias [N, N] = strength * (2 S - 1), S[p, q] = sum_s w_s(p) w_s(q) (DenseDiffusion-style).

    S is the chance that pixels p and q share a segment; segments: [S, H, W] soft weights (the objects'
    composition weights and the background's, summing to 1 per pixel), area-resampled to res_h x res_w.
    """
    w = F.interpolate(segments[:, None].float(), size=(res_h, res_w), mode="area")[:, 0]  # [S, h, w]
    w = w.reshape(w.shape[0], -1)  # [S, N]
    return strength * (2.0 * (w.T @ w) - 1.0)  # [N, N]


@dataclass
class BiasPlan:
    """Which cond chunks get a bias, the object columns, regions and segments, and a cache per resolution.

    `uuids` are the global prompt's conds (cross-attention bias on the objects' columns and the self-attention
    bias); `layers` maps each object layer's cond to (object index, its phrase's columns, its [1, H, W]
    region); `lengths` maps a cond to its own context length in tokens.
    """

    uuids: frozenset
    columns: list[list[int]]  # per object: its token positions in the global prompt
    masks: torch.Tensor  # [n, H, W] regions on the latent grid
    strength: float  # cross-attention bias (attn_bias)
    segments: torch.Tensor  # [n+1, H, W] composition weights of the objects and the background
    self_strength: float  # self-attention bias (self_bias)
    layers: dict = field(default_factory=dict)  # layer cond uuid -> (object index, phrase columns, [1, H, W])
    lengths: dict = field(default_factory=dict)  # cond uuid -> context length (tokens) of that cond
    cache: dict = field(default_factory=dict)

    def wants(self, kind: str, uid) -> bool:
        """Whether chunk `uid` carries a bias on `kind` ('attn1' self-, 'attn2' cross-attention)."""
        if kind == "attn1":
            return bool(self.self_strength) and uid in self.uuids
        if not self.strength:
            return False
        return (uid in self.uuids and bool(self.columns)) or uid in self.layers

    def mask(self, kind: str, uid, res: tuple[int, int], n_keys: int, dtype, device) -> torch.Tensor | None:
        """The [N, n_keys] additive mask of chunk `uid`, or None where it cannot apply (keys not its own)."""
        if kind == "attn1":
            return self.self_mask(res, n_keys, dtype, device)
        return self.cross_mask(uid, res, n_keys, dtype, device)

    def cross_mask(self, uid, res: tuple[int, int], n_keys: int, dtype, device) -> torch.Tensor | None:
        """Cross-attention mask [N, T]: the prompt's objects or a layer's phrase; None if the keys are not
        this cond's text (T not a multiple of its length: e.g. an image prompt's tokens).

        ComfyUI pads the contexts of one batch to a common length by repeating them, so the columns repeat
        every `length` keys (comfy/conds.py CONDCrossAttn.concat).
        """
        length = self.lengths.get(uid) or n_keys
        if n_keys % length:
            return None
        ident = "prompt" if uid in self.uuids else ("layer", self.layers[uid][0])
        key = ("attn2", ident, length, *res, n_keys, dtype, str(device))
        if key not in self.cache:
            if ident == "prompt":
                masks, columns = self.masks, self.columns
            else:
                _, cols, region = self.layers[uid]
                masks, columns = region, [cols]
            tiled = [repeated_columns(cols, length, n_keys) for cols in columns]
            bias = region_logit_bias(masks, tiled, n_keys, self.strength, *res)  # [N, T]
            self.cache[key] = bias.to(device=device, dtype=dtype)
        return self.cache[key]

    def self_mask(self, res: tuple[int, int], n_keys: int, dtype, device) -> torch.Tensor | None:
        """Self-attention mask [N, T]: the segment bias on the block's own N keys, zeros on extra keys that a
        patch appended (reference-only, StyleAligned: T a multiple of N); None for other key counts."""
        n = res[0] * res[1]
        if n_keys % n:
            return None
        key = ("attn1", *res, n_keys, dtype, str(device))
        if key not in self.cache:
            bias = segment_logit_bias(self.segments, self.self_strength, *res)  # [N, N]
            if n_keys > n:
                bias = F.pad(bias, (0, n_keys - n))  # [N, T]: the appended keys unbiased
            self.cache[key] = bias.to(device=device, dtype=dtype)
        return self.cache[key]


def chunk_runs(masks: list) -> list[tuple[int, int, object]]:
    """Consecutive chunks that share one mask (the same tensor, or None) as (first, end, mask)."""
    runs: list[tuple[int, int, object]] = []
    for j, m in enumerate(masks):
        if runs and runs[-1][2] is m:
            runs[-1] = (runs[-1][0], j + 1, m)
        else:
            runs.append((j, j + 1, m))
    return runs


def sliced_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    heads: int,
    bias: torch.Tensor,
    skip_reshape: bool = False,
    skip_output_reshape: bool = False,
    budget_bytes: int = SLICE_BYTES,
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v on query slices through torch's SDPA, bias [N, T] broadcast over
    batch and heads: whatever kernel SDPA picks, at most one slice of fp32 logits exists at a time.

    q: [B, N, heads*d] (or [B, heads, N, d] with skip_reshape); k, v: [B, T, heads*d] (or [B, heads, T, d]);
    returns [B, N, heads*d] (or [B, heads, N, d] with skip_output_reshape), ComfyUI's attention conventions.
    """
    if skip_reshape:
        b, _, n, d = q.shape
        qh, kh, vh = q, k, v  # [B, h, N|T, d]
    else:
        b, n, hd = q.shape
        d = hd // heads
        qh, kh, vh = (t.reshape(b, -1, heads, d).transpose(1, 2) for t in (q, k, v))  # [B, h, N|T, d]
    t_keys = kh.shape[2]
    mask = bias.to(device=q.device, dtype=q.dtype)  # [N, T]
    rows = max(1, min(n, budget_bytes // max(1, b * heads * t_keys * 4)))
    out = torch.empty(b, heads, n, vh.shape[-1], device=q.device, dtype=q.dtype)  # [B, h, N, d]
    for i in range(0, n, rows):
        out[:, :, i : i + rows] = F.scaled_dot_product_attention(
            qh[:, :, i : i + rows], kh, vh, attn_mask=mask[i : i + rows]
        )  # [B, h, rows, d]
    if skip_output_reshape:
        return out
    return out.transpose(1, 2).reshape(b, n, heads * vh.shape[-1])  # [B, N, heads*d]
