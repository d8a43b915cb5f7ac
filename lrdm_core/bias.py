"""Region biases as additive attention biases (beyond the paper; DenseDiffusion-style), in model-free units.

The plan of one run (which cond chunks get which bias) and the bias patterns it caches per block resolution.
A strength s is s times the block's own logit range, capped in attention mass (lrdm_core.bias_units, issue 18):
each biased call estimates it from a few query rows of its chunk (q_rows k^T, never the block's N x T logits)
and scales the cached pattern. Every bias here is low-rank, one rank per object or segment: it is handed out as
factors (queries [N, e], keys [T, e]) that lrdm_core.low_rank turns into extra query and key channels, the same
on every row of the chunk and every head; no [N, T] mask is built while sampling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .attention import repeated_columns
from .bias_units import cross_bias_strengths, region_rows, scaled_region_bias, self_bias_strength


def resampled(weights: torch.Tensor, res_h: int, res_w: int) -> torch.Tensor:
    """[n, H, W] region or segment weights on the latent grid, area-resampled to a block's grid: [n, N]."""
    w = F.interpolate(weights[:, None].float(), size=(res_h, res_w), mode="area")[:, 0]  # [n, h, w]
    return w.reshape(w.shape[0], -1)  # [n, N]


def region_logit_bias(
    masks: torch.Tensor, columns: list[list[int]], n_keys: int, strength: float, res_h: int, res_w: int
) -> torch.Tensor:
    """Bias [N, T]: +strength on object i's token columns inside its region, -strength outside (in logits).

    masks: [n, H, W] regions on the latent grid, area-resampled to the block's res_h x res_w.
    """
    unit = 2.0 * resampled(masks, res_h, res_w) - 1.0  # [n, N]
    b = torch.full((1, unit.shape[0]), float(strength), device=masks.device)  # [1, n]
    return scaled_region_bias(unit, columns, n_keys, b)[0]  # [N, T]


def segment_logit_bias(segments: torch.Tensor, strength: float, res_h: int, res_w: int) -> torch.Tensor:
    """Self-attention bias [N, N] = strength * (2 S - 1), S[p, q] = sum_s w_s(p) w_s(q) (DenseDiffusion-style).

    S is the chance that pixels p and q share a segment; segments: [S, H, W] soft weights (the objects'
    composition weights and the background's, summing to 1 per pixel), area-resampled to res_h x res_w.
    """
    w = resampled(segments, res_h, res_w)  # [S, N]
    return strength * (2.0 * (w.T @ w) - 1.0)  # [N, N]


@dataclass(frozen=True)
class CrossPattern:
    """One chunk kind's cross-attention bias at one resolution and key count, before its strengths."""

    unit: torch.Tensor  # [n, N]: 2 m - 1 per object and query
    columns: list  # per object: its token columns, tiled over the repeated context (< T)
    rows: list  # per object: the sampled query rows of its region (bias_units.region_rows)
    keys: torch.Tensor  # [T, n]: 1 on object i's columns


@dataclass(frozen=True)
class SelfPattern:
    """The self-attention bias at one resolution and key count, before its strength."""

    weights: torch.Tensor  # [N, S]: each segment's weight on the block's queries
    keys: torch.Tensor  # [T, S+1]: the segment weights and 1 on the block's own keys, 0 on appended keys
    rows: torch.Tensor  # [R]: sampled query rows of every segment
    same: torch.Tensor  # [R, N]: S of those rows


@dataclass
class BiasPlan:
    """Which cond chunks get a bias, the object columns, regions and segments, the strengths in model-free
    units, and the patterns cached per resolution.

    `uuids` are the global prompt's conds (cross-attention bias on the objects' columns and the self-attention
    bias); `layers` maps each object layer's cond to (object index, its phrase's columns, its [1, H, W]
    region); `lengths` maps a cond to its own context length in tokens.
    """

    uuids: frozenset
    columns: list[list[int]]  # per object: its token positions in the global prompt
    masks: torch.Tensor  # [n, H, W] regions on the latent grid
    strength: float  # cross-attention bias (attn_bias), x the block's logit range
    segments: torch.Tensor  # [n+1, H, W] composition weights of the objects and the background
    self_strength: float  # self-attention bias (self_bias), x the block's logit range
    layers: dict = field(default_factory=dict)  # layer cond uuid -> (object index, phrase columns, [1, H, W])
    lengths: dict = field(default_factory=dict)  # cond uuid -> context length (tokens) of that cond
    cap: float = 1.0  # the most attention mass a region's tokens / own pixels may take (bias_cap)
    cache: dict = field(default_factory=dict)

    def wants(self, kind: str, uid) -> bool:
        """Whether chunk `uid` carries a bias on `kind` ('attn1' self-, 'attn2' cross-attention)."""
        if kind == "attn1":
            return bool(self.self_strength) and uid in self.uuids
        if not self.strength:
            return False
        return (uid in self.uuids and bool(self.columns)) or uid in self.layers

    def pattern(self, kind: str, uid, res: tuple[int, int], n_keys: int, device) -> CrossPattern | SelfPattern | None:
        """The cached bias pattern of chunk `uid` at a block, or None where it cannot apply (keys not its own)."""
        if kind == "attn1":
            return self.self_pattern(res, n_keys, device)
        return self.cross_pattern(uid, res, n_keys, device)

    def cross_pattern(self, uid, res: tuple[int, int], n_keys: int, device) -> CrossPattern | None:
        """The prompt's objects or a layer's phrase; None if the keys are not this cond's text (T not a multiple
        of its length: e.g. an image prompt's tokens).

        ComfyUI pads the contexts of one batch to a common length by repeating them, so the columns repeat
        every `length` keys (comfy/conds.py CONDCrossAttn.concat).
        """
        length = self.lengths.get(uid) or n_keys
        if n_keys % length:
            return None
        ident = "prompt" if uid in self.uuids else ("layer", self.layers[uid][0])
        key = ("attn2", ident, length, *res, n_keys, str(device))
        if key not in self.cache:
            if ident == "prompt":
                masks, columns = self.masks, self.columns
            else:
                _, cols, region = self.layers[uid]
                masks, columns = region, [cols]
            m = resampled(masks.to(device), *res)  # [n, N]
            tiled = [[c for c in repeated_columns(cols, length, n_keys) if c < n_keys] for cols in columns]
            keys = torch.zeros(n_keys, len(tiled), device=device)  # [T, n]
            for i, cols in enumerate(tiled):
                keys[cols, i] = 1.0
            self.cache[key] = CrossPattern(2.0 * m - 1.0, tiled, region_rows(m), keys)
        return self.cache[key]

    def self_pattern(self, res: tuple[int, int], n_keys: int, device) -> SelfPattern | None:
        """The segment bias on the block's own N keys, zeros on extra keys that a patch appended (reference-only,
        StyleAligned: T a multiple of N); None for other key counts."""
        n = res[0] * res[1]
        if n_keys % n:
            return None
        key = ("attn1", *res, n_keys, str(device))
        if key not in self.cache:
            w = resampled(self.segments.to(device), *res)  # [S, N]
            rows = torch.cat(region_rows(w))  # [R]
            own = torch.cat([w.T, torch.ones(n, 1, device=device)], dim=1)  # [N, S+1]
            keys = F.pad(own, (0, 0, 0, n_keys - n))  # [T, S+1]: the appended keys unbiased
            self.cache[key] = SelfPattern(w.T.contiguous(), keys, rows, w.T[rows] @ w)
        return self.cache[key]

    def factors(
        self, kind: str, uid, res: tuple[int, int], q, k, heads: int, heads_first: bool = False, decay: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The bias of chunk `uid` for this call as factors (queries [N, e], keys [T, e]), float32, the bias being
        queries @ keys^T (q, k: the chunk's rows, ComfyUI's layout); None where it cannot apply. Its strengths:
        the mean over the chunk's rows."""
        n_keys = k.shape[2] if heads_first else k.shape[1]
        pat = self.pattern(kind, uid, res, n_keys, q.device)
        if pat is None:
            return None
        if isinstance(pat, SelfPattern):  # b (2 S - 1) = sum_s 2 b w_s(p) w_s(q) - b, on the block's own keys
            own = k[:, :, : res[0] * res[1]] if heads_first else k[:, : res[0] * res[1]]  # the block's own keys
            b = self_bias_strength(
                q, own, heads, pat.rows, pat.same, self.self_strength, self.cap, decay, heads_first
            ).mean()  # []
            return torch.cat([2.0 * b * pat.weights, (-b).expand(pat.weights.shape[0], 1)], dim=1), pat.keys
        b = cross_bias_strengths(
            q, k, heads, pat.rows, pat.unit, pat.columns, self.strength, self.cap, decay, heads_first=heads_first
        ).mean(0)  # [n]
        return pat.unit.T * b, pat.keys  # [N, n], [T, n]: b_i (2 m_i - 1) on object i's columns

    def mask(
        self, kind: str, uid, res: tuple[int, int], q, k, heads: int, heads_first: bool = False, decay: float = 1.0
    ) -> torch.Tensor | None:
        """The same bias multiplied out, [N, T] in q's dtype: the explicit form the factored attention equals."""
        f = self.factors(kind, uid, res, q, k, heads, heads_first, decay)
        return None if f is None else (f[0] @ f[1].T).to(q.dtype)


def chunk_runs(masks: list) -> list[tuple[int, int, object]]:
    """Consecutive chunks that share one bias (the same object, or None) as (first, end, bias)."""
    runs: list[tuple[int, int, object]] = []
    for j, m in enumerate(masks):
        if runs and runs[-1][2] is m:
            runs[-1] = (runs[-1][0], j + 1, m)
        else:
            runs.append((j, j + 1, m))
    return runs
