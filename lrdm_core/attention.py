"""Cross-attention maps of object tokens (dynamic delta, METHOD.md choice 4): probabilities of chosen key columns."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def token_probabilities(q: torch.Tensor, k: torch.Tensor, heads: int, columns: list[int]) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) restricted to `columns`, averaged over heads.

    q: [B, N, heads*d]; k: [B, T, heads*d]; returns [B, N, len(columns)] in float32. The softmax needs
    every key's logit for its normaliser; only the requested columns are kept.
    """
    b, n, hd = q.shape
    d = hd // heads
    qh = q.float().reshape(b, n, heads, d).transpose(1, 2)  # [B, h, N, d]
    kh = k.float().reshape(b, -1, heads, d).transpose(1, 2)  # [B, h, T, d]
    logits = qh @ kh.transpose(-1, -2) * d**-0.5  # [B, h, N, T]
    cols = torch.as_tensor(columns, device=q.device, dtype=torch.long)
    probs = logits.index_select(-1, cols) - logits.logsumexp(dim=-1, keepdim=True)  # [B, h, N, m]
    return probs.exp().mean(dim=1)  # [B, N, m]


class AttentionRecorder:
    """Accumulates token maps from several blocks and averages them on the latent grid."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self._sum: dict[object, torch.Tensor] = {}
        self._count: dict[object, int] = {}

    def add(self, key: object, probs: torch.Tensor, res_h: int, res_w: int) -> None:
        """Add one block's maps: probs [B, N=res_h*res_w, m] upsampled to [B, m, H, W]."""
        b, _n, m = probs.shape
        maps = probs.transpose(1, 2).reshape(b, m, res_h, res_w)  # [B, m, h, w]
        if (res_h, res_w) != (self.height, self.width):
            maps = F.interpolate(maps, size=(self.height, self.width), mode="bilinear", align_corners=False)
        self._sum[key] = self._sum.get(key, 0) + maps  # [B, m, H, W]
        self._count[key] = self._count.get(key, 0) + 1

    def maps(self, key: object) -> torch.Tensor | None:
        """Average over recorded blocks for `key`: [B, m, H, W], or None if nothing was recorded."""
        if key not in self._sum:
            return None
        return self._sum[key] / self._count[key]

    def blocks_recorded(self, key: object) -> int:
        """How many block evaluations were averaged for `key`."""
        return self._count.get(key, 0)


def resolution_of(n_tokens: int, latent_h: int, latent_w: int) -> tuple[int, int]:
    """Spatial size of a block with n_tokens queries, halving (ceil) the latent size until it fits."""
    h, w = latent_h, latent_w
    while h * w > n_tokens and (h > 1 or w > 1):
        h, w = (h + 1) // 2, (w + 1) // 2
    if h * w != n_tokens:
        raise ValueError(f"cannot place {n_tokens} queries on a {latent_h}x{latent_w} latent")
    return h, w
