"""lrdm_core.low_rank: a low-rank bias as extra query/key channels equals the explicit fp32
softmax(q k^T / sqrt(d) + U K^T) v, through torch's SDPA and through a host-style attention that scales by its
own head size; ComfyUI's head-first conventions and half precision."""

import pytest
import torch

from lrdm_core.bias import BiasPlan
from lrdm_core.low_rank import head_size, low_rank_attention


def explicit(q, k, v, heads, bias):
    """The explicit computation (oracle): fp32 logits of every head, [N, T] bias added."""
    b, n, hd = q.shape
    d = hd // heads
    qh, kh, vh = (t.float().reshape(b, -1, heads, d).transpose(1, 2) for t in (q, k, v))  # [B, h, N|T, d]
    logits = qh @ kh.transpose(-1, -2) * d**-0.5 + bias.float()  # [B, h, N, T]
    return (logits.softmax(-1) @ vh).transpose(1, 2).reshape(b, n, hd)  # [B, N, heads*d]


def basic_attention(q, k, v):
    """A host-style attention on heads-first tensors: softmax(q k^T * dim_head^-0.5) v (ComfyUI attention_basic)."""
    return (q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5).softmax(-1) @ v  # [B, h, N, d']


def _case(seed: int, b=2, n=10, t=7, heads=4, d=8, e=3):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(b, m, heads * d, generator=g) for m in (n, t, t))
    return q, k, v, heads, 3.0 * torch.randn(n, e, generator=g), torch.randn(t, e, generator=g)


@pytest.mark.parametrize("attend", [None, basic_attention], ids=["sdpa", "host_basic"])
def test_bias_channels_equal_the_explicit_computation(attend):
    q, k, v, heads, queries, keys = _case(0)
    got = low_rank_attention(q, k, v, heads, queries, keys, attend)
    torch.testing.assert_close(got, explicit(q, k, v, heads, queries @ keys.T), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(got, explicit(q, k, v, heads, torch.zeros(10, 7)), atol=1e-3)  # the bias acts


def test_head_sizes_round_up_to_a_multiple_of_eight():
    assert [head_size(d, e) for d, e in ((40, 3), (40, 8), (64, 1), (8, 0))] == [48, 48, 72, 8]


def test_comfys_head_first_conventions_and_half_precision():
    q, k, v, heads, queries, keys = _case(1, b=1, n=9, t=9, heads=2)
    ref = explicit(q, k, v, heads, queries @ keys.T)  # [B, N, heads*d]
    split = [t.reshape(1, 9, heads, 8).transpose(1, 2) for t in (q, k, v)]  # [B, h, N, d]
    head_first = low_rank_attention(*split, heads, queries, keys, skip_reshape=True, skip_output_reshape=True)
    torch.testing.assert_close(head_first.transpose(1, 2).reshape(1, 9, heads * 8), ref, rtol=1e-5, atol=1e-5)
    half = low_rank_attention(q.half(), k.half(), v.half(), heads, queries, keys, basic_attention)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), ref, rtol=0, atol=2e-2)


@pytest.mark.parametrize("kind, t", [("attn2", 12), ("attn1", 16), ("attn1", 32)])
def test_the_plans_factors_through_the_channels_equal_its_explicit_mask(kind, t):
    """Cross-attention on a repeated context, self-attention on the block's own and on appended keys."""
    masks = torch.zeros(2, 4, 4)
    masks[0, :2, :2], masks[1, 1:, 2:] = 1.0, 0.7
    segments = torch.cat([masks, (1 - masks.sum(0, keepdim=True)).clamp(min=0)])  # [3, 4, 4]
    plan = BiasPlan(frozenset({"P"}), [[1], [3, 4]], masks, 2.0, segments, 0.4, lengths={"P": 6}, cap=0.9)
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, m, 2 * 8, generator=g) for m in (16, t, t))
    factors = plan.factors(kind, "P", (4, 4), q, k, 2)
    got = low_rank_attention(q, k, v, 2, *factors, basic_attention)
    torch.testing.assert_close(got, explicit(q, k, v, 2, plan.mask(kind, "P", (4, 4), q, k, 2)), rtol=1e-5, atol=1e-5)
