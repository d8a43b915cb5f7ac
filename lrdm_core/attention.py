"""Cross-attention maps of object tokens (dynamic delta, METHOD.md choice 4): probabilities of chosen key columns."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def repeated_columns(columns: Sequence[int], period: int | None, n_keys: int) -> list[int]:
    """Every copy of `columns` in a context of n_keys keys that repeats a `period`-long conditioning.

    ComfyUI batches conds of different lengths by repeating each to the lcm of the lengths (comfy/conds.py
    CONDCrossAttn.concat), e.g. a 77-token prompt beside a 154-token negative becomes 2 copies: column c is
    also c + 77. Copy-major order: [c_0, c_1, ..., c_0 + period, c_1 + period, ...]; None = one copy.
    """
    period = n_keys if not period or period <= 0 else int(period)
    copies = max(1, n_keys // period)
    return [c + period * j for j in range(copies) for c in columns if c + period * j < n_keys]


def token_probabilities(
    q: torch.Tensor, k: torch.Tensor, heads: int, columns: list[int], period: int | None = None
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) restricted to `columns`, averaged over heads, summed over repeated copies.

    q: [B, N, heads*d]; k: [B, T, heads*d]; returns [B, N, len(columns)] in float32. The softmax needs
    every key's logit for its normaliser; only the requested columns are kept. With a repeated context
    (`period` < T, see repeated_columns) a token's probability is split among its copies: they are summed.
    """
    b, n, hd = q.shape
    d = hd // heads
    qh = q.float().reshape(b, n, heads, d).transpose(1, 2)  # [B, h, N, d]
    kh = k.float().reshape(b, -1, heads, d).transpose(1, 2)  # [B, h, T, d]
    logits = qh @ kh.transpose(-1, -2) * d**-0.5  # [B, h, N, T]
    every = repeated_columns(columns, period, kh.shape[2])
    if len(every) % len(columns):  # a column beyond the period: the columns as given, one copy
        every = list(columns)
    cols = torch.as_tensor(every, device=q.device, dtype=torch.long)
    probs = logits.index_select(-1, cols) - logits.logsumexp(dim=-1, keepdim=True)  # [B, h, N, copies*m]
    probs = probs.exp().mean(dim=1)  # [B, N, copies*m]
    return probs.reshape(b, n, -1, len(columns)).sum(dim=2)  # [B, N, m]


class AttentionRecorder:
    """Accumulates token maps from several blocks: the mean of each block's calls, then the mean over blocks.

    A block with several transformers (SDXL: 2 or 10) counts once, as one block per resolution does on the
    project page; averaging per call would give the 10-transformer level 10/12 of the weight.
    """

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self._sum: dict[object, dict[object, torch.Tensor]] = {}
        self._count: dict[object, dict[object, int]] = {}

    def add(self, key: object, probs: torch.Tensor, res_h: int, res_w: int, block: object = None) -> None:
        """Add one transformer call's maps of `block`: probs [B, N=res_h*res_w, m] upsampled to [B, m, H, W]."""
        b, _n, m = probs.shape
        maps = probs.transpose(1, 2).reshape(b, m, res_h, res_w)  # [B, m, h, w]
        if (res_h, res_w) != (self.height, self.width):
            maps = F.interpolate(maps, size=(self.height, self.width), mode="bilinear", align_corners=False)
        sums, counts = self._sum.setdefault(key, {}), self._count.setdefault(key, {})
        sums[block] = sums.get(block, 0) + maps  # [B, m, H, W]
        counts[block] = counts.get(block, 0) + 1

    def maps(self, key: object) -> torch.Tensor | None:
        """Mean over blocks of each block's mean for `key`: [B, m, H, W], or None if nothing was recorded."""
        if key not in self._sum:
            return None
        per_block = [total / self._count[key][blk] for blk, total in self._sum[key].items()]
        return torch.stack(per_block).mean(dim=0)  # [B, m, H, W]

    def blocks_recorded(self, key: object) -> int:
        """How many blocks were averaged for `key`."""
        return len(self._sum.get(key, {}))


def resolution_of(n_tokens: int, latent_h: int, latent_w: int) -> tuple[int, int]:
    """Spatial size of a block with n_tokens queries, halving (ceil) the latent size until it fits."""
    h, w = latent_h, latent_w
    while h * w > n_tokens and (h > 1 or w > 1):
        h, w = (h + 1) // 2, (w + 1) // 2
    if h * w != n_tokens:
        raise ValueError(f"cannot place {n_tokens} queries on a {latent_h}x{latent_w} latent")
    return h, w


def biased_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, bias: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v per head (a DenseDiffusion-style region bias on the logits).

    q: [B, N, heads*d]; k, v: [B, T, heads*d]; bias: [B, N, T] (shared by the heads); returns [B, N, heads*d].
    """
    b, n, hd = q.shape
    d = hd // heads
    qh = q.reshape(b, n, heads, d).transpose(1, 2)  # [B, h, N, d]
    kh = k.reshape(b, -1, heads, d).transpose(1, 2)  # [B, h, T, d]
    vh = v.reshape(b, -1, heads, d).transpose(1, 2)  # [B, h, T, d]
    logits = (qh.float() @ kh.float().transpose(-1, -2)) * d**-0.5 + bias[:, None].float()  # [B, h, N, T]
    out = logits.softmax(dim=-1).to(vh.dtype) @ vh  # [B, h, N, d]
    return out.transpose(1, 2).reshape(b, n, hd)  # [B, N, heads*d]


def region_logit_bias(
    masks: torch.Tensor,
    columns: list[list[int]],
    n_keys: int,
    strength: float,
    res_h: int,
    res_w: int,
    period: int | None = None,
) -> torch.Tensor:
    """Bias [N, T]: +strength on object i's token columns inside its region, -strength outside.

    masks: [n, H, W] regions on the latent grid, area-resampled to the block's res_h x res_w. `period`: the
    conditioning's own length when the batch repeats it to T keys; every copy of a column is biased.
    """
    m = F.interpolate(masks[:, None].float(), size=(res_h, res_w), mode="area")[:, 0]  # [n, h, w]
    m = m.reshape(m.shape[0], -1)  # [n, N]
    bias = torch.zeros(m.shape[1], n_keys, device=masks.device)  # [N, T]
    for i, cols in enumerate(columns):
        for c in repeated_columns(cols, period, n_keys):
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
