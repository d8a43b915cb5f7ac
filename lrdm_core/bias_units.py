"""Region biases in model-free units (issue 18): a bias strength s means s times the block's own logit range
(row max - row min, as DenseDiffusion modulates its attention scores), decays over the sampler's steps, and is
capped so that a region's tokens or pixels take at most `cap` of its queries' attention mass (mean over the
sampled queries and the heads).

The range and the mass are estimated from a few query rows per region (q_rows @ k^T: R x T logits, never the
block's N x T), so the bias can still run through the host's memory-efficient attention (lrdm_core.low_rank).
DenseDiffusion (Kim et al. 2023, "Dense Text-to-Image Generation with Attention Modulation") adds
treg * (max - score) inside a region and subtracts treg * (score - min) outside, treg = (t / 1000)^5.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

ROWS_PER_REGION = 8  # query rows sampled per region to estimate the logit range and the region's mass
SAME_LEVELS = 33  # self-attention mass: segment-sharing weights S rounded to multiples of 1/32


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


def capped_bias(mass: Callable[[torch.Tensor], torch.Tensor], limit: torch.Tensor, cap: float, iters: int = 14):
    """The largest b in [0, limit] with mass(b) <= cap, by bisection (the region's mass grows with its bias);
    limit itself where cap >= 1 or mass(limit) <= cap, 0 where the mass is above the cap already.

    mass: [B] biases -> [B] masses; limit: [B]. Returns [B].
    """
    if cap >= 1.0:
        return limit
    lo, hi = torch.zeros_like(limit), limit.clone()
    ok = mass(hi) <= cap
    if bool(ok.all()):  # the cap does not bind: no search
        return limit
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
    sweeps: int = 6,
    heads_first: bool = False,
) -> torch.Tensor:
    """Per chunk and object, the cross-attention logit bias: strength * decay * logit range, capped so the
    object's columns take at most `cap` of the attention mass of its region's (sampled) queries.

    q: [B, N, heads*d]; k: [B, T, heads*d]; rows: per object its region_rows; unit: [n, N] the objects' bias
    patterns per query (2 m - 1); columns: per object its token columns (< T); heads_first: q, k as
    [B, heads, N|T, d]. With several objects a region's queries also see the other objects' biases (their
    columns pushed down outside their boxes), so the caps are solved together, `sweeps` Jacobi rounds; the
    columns of different objects are disjoint. Returns [B, n] biases in logits (0 where strength or decay is 0).
    """
    b, n = q.shape[0], len(columns)
    if not strength or not decay or not n:
        return q.new_zeros(b, n, dtype=torch.float32)
    every = torch.cat(rows)  # [R]
    logits = row_logits(q, k, heads, every, heads_first)  # [B, h, R, T]
    limit = strength * decay * logit_range(logits)  # [B]
    probs = logits.softmax(dim=-1)  # [B, h, R, T]
    own = torch.stack([probs[..., cols].sum(-1) for cols in columns])  # [n, B, h, R]: each object's mass
    rest = (1.0 - own.sum(0)).clamp(min=0.0)  # [B, h, R]: the other keys'
    pattern = unit[:, every].float().to(q.device)[:, None, None]  # [n, 1, 1, R]: each object's bias sign per row
    owner = torch.cat([torch.full((r.numel(),), i) for i, r in enumerate(rows)]).to(q.device)  # [R]: whose row
    pick = torch.nn.functional.one_hot(owner, n).float().T  # [n, R]
    pick = pick / pick.sum(-1, keepdim=True)  # [n, R]: mean over each object's own rows
    limits = limit[:, None].expand(-1, n)  # [B, n]
    out = limits.clone()
    for _ in range(sweeps if cap < 1.0 else 0):  # every object's cap given the others' current biases (Jacobi)
        current = own * torch.exp(out.T[:, :, None, None] * pattern)  # [n, B, h, R]
        others = current.sum(0) + rest  # [B, h, R]

        def mass(cand: torch.Tensor, current: torch.Tensor = current, others: torch.Tensor = others) -> torch.Tensor:
            """Each object's mass on its own sampled rows if it alone moved to `cand` ([B, n])."""
            e = own * torch.exp(cand.T[:, :, None, None] * pattern)  # [n, B, h, R]
            ratio = e / (others - current + e)  # [n, B, h, R]: row r's mass for object n if r were its row
            return torch.einsum("nbhr,nr->bn", ratio, pick) / ratio.shape[2]  # [B, n]

        new = capped_bias(mass, limits, cap)
        if torch.equal(new, out):  # settled (e.g. no cap binds): the next sweep would give the same
            break
        out = new
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
    rows (the bias is b * (2 S - 1); the cap is solved with S rounded to 1/32); heads_first: q, k as
    [B, heads, N, d]. Returns [B] biases in logits.
    """
    if not strength or not decay:
        return q.new_zeros(q.shape[0], dtype=torch.float32)
    logits = row_logits(q, k, heads, rows, heads_first)  # [B, h, R, N]
    limit = strength * decay * logit_range(logits)  # [B]
    levels = torch.linspace(0.0, 1.0, SAME_LEVELS, device=q.device)  # [K]
    idx = (same.float().to(q.device).clamp(0, 1) * (SAME_LEVELS - 1)).round().long()  # [R, N]
    probs = logits.softmax(dim=-1)  # [B, h, R, N]
    binned = probs.new_zeros(*probs.shape[:3], SAME_LEVELS).scatter_add_(-1, idx.expand_as(probs), probs)
    sign = 2.0 * levels - 1.0  # [K]: the bias pattern 2 S - 1 per level

    def mass(b: torch.Tensor) -> torch.Tensor:
        """The own-segment mass sum_q p_q S_q e^(b (2 S_q - 1)) / sum_q p_q e^(b (2 S_q - 1)), per level."""
        e = binned * torch.exp(b[:, None, None, None] * sign)  # [B, h, R, K]
        return ((e * levels).sum(-1) / e.sum(-1)).mean(dim=(1, 2))  # [B]

    return capped_bias(mass, limit, cap)  # [B]


def scaled_region_bias(unit: torch.Tensor, columns: list[list[int]], n_keys: int, b: torch.Tensor) -> torch.Tensor:
    """The [B, N, T] cross-attention mask: object i's columns get b[:, i] * unit[i] (unit = 2 m - 1 per query).

    unit: [n, N] in [-1, 1]; b: [B, n] from cross_bias_strengths.
    """
    bias = torch.zeros(b.shape[0], unit.shape[1], n_keys, device=b.device)  # [B, N, T]
    for i, cols in enumerate(columns):
        cols = [c for c in cols if c < n_keys]
        bias[:, :, cols] += b[:, i, None, None] * unit[i].float().to(b.device)[None, :, None]  # [B, N, m]
    return bias
