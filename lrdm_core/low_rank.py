"""A low-rank additive attention bias as extra query and key channels (issue 15): no [N, T] mask exists.

softmax(q k^T / sqrt(d) + U K^T) v with U: [N, e] (per query) and K: [T, e] (per key) equals plain attention on
q' = [q * sqrt(d'/d), U * d'^(1/4)] and k' = [k, K * d'^(1/4)] (v' = [v, 0]), head size d' = d + e rounded up to a
multiple of 8, because any attention function scales q' k'^T by 1 / sqrt(d'). The region biases are such sums (one rank
per object or segment), so they run through the host's own attention kernel, whatever it is, at the memory of
q, k and v, with the same bias on every head.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

ALIGN = 8  # head sizes a multiple of 8 keep the fast kernels (flash / memory-efficient need it in fp16)


def head_size(d: int, extra: int) -> int:
    """The augmented head size: d + extra rounded up to a multiple of ALIGN."""
    return -(-(d + extra) // ALIGN) * ALIGN


def heads_first(t: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, N, heads*d] -> [B, heads, N, d] (ComfyUI's skip_reshape layout)."""
    b, n, hd = t.shape
    return t.reshape(b, n, heads, hd // heads).transpose(1, 2)


def augmented(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, queries: torch.Tensor, keys: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q', k', v' whose plain attention is q, k, v's attention plus the bias queries @ keys^T.

    q: [B, h, N, d]; k, v: [B, h, T, d] (v may be narrower); queries: [N, e]; keys: [T, e]. Returns three
    [B, h, N|T, d'] tensors in q's dtype. The bias channels carry sqrt(sqrt(d')) on each side, so neither side
    is large in half precision.
    """
    d, e = q.shape[-1], queries.shape[-1]
    dp = head_size(max(d, v.shape[-1]), e)
    side = dp**0.25
    qa = q.new_zeros(*q.shape[:-1], dp)  # [B, h, N, d']
    qa[..., :d] = q * (dp / d) ** 0.5
    qa[..., d : d + e] = (queries * side).to(q.dtype)  # broadcast over batch and heads
    ka = k.new_zeros(*k.shape[:-1], dp)  # [B, h, T, d']
    ka[..., :d] = k
    ka[..., d : d + e] = (keys * side).to(k.dtype)
    va = v.new_zeros(*v.shape[:-1], dp)  # [B, h, T, d']
    va[..., : v.shape[-1]] = v
    return qa, ka, va


def low_rank_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    heads: int,
    queries: torch.Tensor,
    keys: torch.Tensor,
    attend: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    skip_reshape: bool = False,
    skip_output_reshape: bool = False,
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + queries @ keys^T) v through `attend` (heads-first q', k', v' -> [B, h, N, d'],
    e.g. the host's attention with skip_reshape and skip_output_reshape), else torch's SDPA.

    q: [B, N, heads*d] (or [B, heads, N, d] with skip_reshape); k, v likewise with T keys; returns
    [B, N, heads*d] (or [B, heads, N, d] with skip_output_reshape), ComfyUI's attention conventions.
    """
    qh, kh, vh = (q, k, v) if skip_reshape else (heads_first(t, heads) for t in (q, k, v))  # [B, h, N|T, d]
    qa, ka, va = augmented(qh, kh, vh, queries, keys)  # [B, h, N|T, d']
    out = attend(qa, ka, va) if attend is not None else F.scaled_dot_product_attention(qa, ka, va)
    out = out[..., : vh.shape[-1]]  # [B, h, N, d]
    if skip_output_reshape:
        return out
    b, h, n, d = out.shape
    return out.transpose(1, 2).reshape(b, n, h * d)  # [B, N, heads*d]
