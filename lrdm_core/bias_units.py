"""Region biases in model-free units (issue 18): a bias strength s means s times the block's own logit range
(row max - row min, as DenseDiffusion modulates its attention scores), decays over the sampler's steps, and is
capped so that a region's tokens or pixels take at most `cap` of its queries' attention mass (mean over the
sampled queries and the heads).

The range and the mass are estimated from a few query rows per region (q_rows @ k^T: R x T logits, never the
block's N x T), so the bias can still run as an additive mask through the host's memory-efficient attention.
DenseDiffusion (Kim et al. 2023, "Dense Text-to-Image Generation with Attention Modulation") adds
treg * (max - score) inside a region and subtracts treg * (score - min) outside, treg = (t / 1000)^5.
"""

from __future__ import annotations

import torch

ROWS_PER_REGION = 8  # query rows sampled per region to estimate the logit range and the region's mass


def region_rows(weights: torch.Tensor, per: int = ROWS_PER_REGION) -> list[torch.Tensor]:
    """Per region, up to `per` evenly spaced query indices where its weight is >= 0.5 (else its argmax).

    weights: [n, N] region weights on a block's queries; returns n index tensors (long, each 1..per long).
    """
    out = []
    for w in weights:
        inside = torch.nonzero(w >= 0.5).flatten()  # [k]
        if inside.numel() == 0:
            inside = w.argmax().reshape(1)
        pick = torch.linspace(0, inside.numel() - 1, min(per, inside.numel()), device=w.device).round().long()
        out.append(inside[pick])
    return out


def row_logits(
    q: torch.Tensor, k: torch.Tensor, heads: int, rows: torch.Tensor, heads_first: bool = False
) -> torch.Tensor:
    """Scaled logits q k^T / sqrt(d) of the chosen query rows only, float32.

    q: [B, N, heads*d]; k: [B, T, heads*d] (heads_first: [B, heads, N, d] and [B, heads, T, d], ComfyUI's
    skip_reshape layout); rows: [R] query indices; returns [B, heads, R, T].
    """
    if heads_first:
        qh, kh = q[:, :, rows].float(), k.float()  # [B, h, R, d], [B, h, T, d]
    else:
        b, _, hd = q.shape
        qh = q[:, rows].float().reshape(b, -1, heads, hd // heads).transpose(1, 2)  # [B, h, R, d]
        kh = k.float().reshape(b, -1, heads, hd // heads).transpose(1, 2)  # [B, h, T, d]
    return qh @ kh.transpose(-1, -2) * qh.shape[-1] ** -0.5  # [B, h, R, T]


def logit_range(logits: torch.Tensor) -> torch.Tensor:
    """The block's logit scale per batch item: row max - row min, averaged over heads and rows.

    logits: [B, h, R, T]; returns [B].
    """
    return (logits.amax(-1) - logits.amin(-1)).mean(dim=(1, 2))  # [B]


def capped_bias(
    logits: torch.Tensor, unit: torch.Tensor, weight: torch.Tensor, limit: torch.Tensor, cap: float, iters: int = 20
) -> torch.Tensor:
    """The largest b in [0, limit] for which softmax(logits + b * unit) puts at most `cap` of the mass on
    `weight` (mean over heads and rows); bisection, as that mass grows with b. limit itself where cap >= 1.

    logits: [B, h, R, T]; unit: [R, T] the bias pattern (in [-1, 1]); weight: [R, T] the keys that count as
    the region's (in [0, 1]); limit: [B]. Returns [B]; 0 where the mass is above the cap already.
    """
    if cap >= 1.0:
        return limit

    def mass(b: torch.Tensor) -> torch.Tensor:
        p = (logits + b[:, None, None, None] * unit).softmax(dim=-1)  # [B, h, R, T]
        return (p * weight).sum(-1).mean(dim=(1, 2))  # [B]

    lo, hi = torch.zeros_like(limit), limit.clone()
    ok = mass(hi) <= cap
    for _ in range(iters):
        mid = (lo + hi) / 2
        below = mass(mid) <= cap
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return torch.where(ok, limit, lo)  # [B]


def bias_decay(progress: float, end: float = 1.0, power: float = 0.0) -> float:
    """Time factor of the bias at sampler progress in [0, 1]: (1 - progress)^power before `end`, 0 after
    (power 0: constant until end; power 5 follows DenseDiffusion's (t / 1000)^5 on a linear timestep schedule)."""
    if progress >= end:
        return 0.0
    return (1.0 - progress) ** power if power else 1.0


def cross_bias_strengths(
    q: torch.Tensor,
    k: torch.Tensor,
    heads: int,
    rows: list[torch.Tensor],
    unit: torch.Tensor,
    columns: list[list[int]],
    strength: float,
    cap: float = 1.0,
    decay: float = 1.0,
    sweeps: int = 3,
    heads_first: bool = False,
) -> torch.Tensor:
    """Per chunk and object, the cross-attention logit bias: strength * decay * logit range, capped so the
    object's columns take at most `cap` of the attention mass of its region's (sampled) queries.

    q: [B, N, heads*d]; k: [B, T, heads*d]; rows: per object its region_rows; unit: [n, N] the objects' bias
    patterns per query (2 m - 1); columns: per object its token columns (< T); heads_first: q, k as
    [B, heads, N|T, d]. With several objects a region's
    queries also see the other objects' biases (their columns pushed down outside their boxes), so each cap is
    solved given the others', `sweeps` times. Returns [B, n] biases in logits (0 where strength or decay is 0).
    """
    b, n, t = q.shape[0], len(columns), k.shape[-2]
    if not strength or not decay or not n:
        return q.new_zeros(b, n, dtype=torch.float32)
    every = torch.cat(rows)  # [R]
    logits = row_logits(q, k, heads, every, heads_first)  # [B, h, R, T]
    limit = strength * decay * logit_range(logits)  # [B]
    hits = torch.zeros(n, 1, t, device=q.device)  # [n, 1, T]
    for i, cols in enumerate(columns):
        hits[i, 0, cols] = 1.0
    patterns = hits * unit[:, every].float().to(q.device)[:, :, None]  # [n, R, T]
    owner = torch.cat([torch.full((r.numel(),), i) for i, r in enumerate(rows)])  # [R]: whose region a row samples
    out = limit[:, None].repeat(1, n)  # [B, n]
    for _ in range(sweeps if cap < 1.0 else 0):  # each object's cap given the others' biases (Gauss-Seidel)
        for i in range(n):
            mine = owner == i
            others = torch.einsum("bj,jrt->brt", out, patterns[:, mine]) - out[:, i, None, None] * patterns[i, mine]
            part = logits[:, :, mine] + others[:, None]  # [B, h, R_i, T]
            out[:, i] = capped_bias(part, patterns[i, mine], hits[i].expand(int(mine.sum()), t), limit, cap)
    return out  # [B, n]


def self_bias_strength(
    q: torch.Tensor,
    k: torch.Tensor,
    heads: int,
    rows: torch.Tensor,
    same: torch.Tensor,
    strength: float,
    cap: float = 1.0,
    decay: float = 1.0,
    heads_first: bool = False,
) -> torch.Tensor:
    """Per chunk, the self-attention logit bias: strength * decay * logit range, capped so a query's own
    segment (the keys it shares a segment with) takes at most `cap` of its attention mass.

    q, k: [B, N, heads*d]; rows: [R] sampled queries; same: [R, N] segment-sharing weights S[p, q] of those
    rows (the bias is b * (2 S - 1)); heads_first: q, k as [B, heads, N, d]. Returns [B] biases in logits.
    """
    if not strength or not decay:
        return q.new_zeros(q.shape[0], dtype=torch.float32)
    logits = row_logits(q, k, heads, rows, heads_first)  # [B, h, R, N]
    limit = strength * decay * logit_range(logits)  # [B]
    s = same.float().to(q.device)  # [R, N]
    return capped_bias(logits, 2.0 * s - 1.0, s, limit, cap)  # [B]


def scaled_region_bias(unit: torch.Tensor, columns: list[list[int]], n_keys: int, b: torch.Tensor) -> torch.Tensor:
    """The [B, N, T] cross-attention mask: object i's columns get b[:, i] * unit[i] (unit = 2 m - 1 per query).

    unit: [n, N] in [-1, 1]; b: [B, n] from cross_bias_strengths.
    """
    bias = torch.zeros(b.shape[0], unit.shape[1], n_keys, device=b.device)  # [B, N, T]
    for i, cols in enumerate(columns):
        cols = [c for c in cols if c < n_keys]
        bias[:, :, cols] += b[:, i, None, None] * unit[i].float().to(b.device)[None, :, None]  # [B, N, m]
    return bias
