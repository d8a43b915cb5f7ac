"""Token positions from an injected tokenizer, and token probabilities against a direct softmax."""

import pytest
import torch

from lrdm_core.attention import AttentionRecorder, resolution_of, token_probabilities
from lrdm_core.bias import segment_logit_bias
from lrdm_core.tokens import TokenizerFns, find_subsequence, positions_in_phrase, positions_in_prompt

VOCAB = {"a": 1, "red": 2, "apple": 3, "and": 4, "blue": 5, "cup": 6, "green": 7}


def _tok(text: str) -> list[int]:
    ids = [100] + [VOCAB.setdefault(w, 10 + len(VOCAB)) for w in text.replace(",", " ").split()] + [101]
    return ids + [101] * (12 - len(ids))


TOK = TokenizerFns(tokenize=_tok, special_ids=frozenset({100, 101}))


def test_subsequence():
    assert find_subsequence([1, 2, 3, 2, 3], [2, 3]) == 1
    assert find_subsequence([1, 2], [3]) is None
    assert find_subsequence([1, 2], []) is None


def test_phrase_found_in_prompt_without_stopwords():
    assert positions_in_prompt(TOK, "a red apple and a blue cup", "a blue cup") == [6, 7]
    assert positions_in_prompt(TOK, "a red apple", "a green apple") is None


def test_repeated_phrase_binds_to_next_occurrence():
    taken = {2, 3}
    assert positions_in_prompt(TOK, "a red apple and a red apple", "a red apple", taken) == [6, 7]


def test_positions_in_own_encoding():
    assert positions_in_phrase(TOK, "a blue cup") == [2, 3]
    assert positions_in_phrase(TOK, "a") == [1]  # only stopwords: keep them


def test_token_probabilities_match_full_softmax():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(2, 10, 16, generator=g), torch.randn(2, 7, 16, generator=g)
    got = token_probabilities(q, k, heads=4, columns=[1, 5])
    qh, kh = q.reshape(2, 10, 4, 4).transpose(1, 2), k.reshape(2, 7, 4, 4).transpose(1, 2)
    full = torch.softmax(qh @ kh.transpose(-1, -2) / 2.0, dim=-1)  # [2, 4, 10, 7]
    assert torch.allclose(got, full[..., [1, 5]].mean(1), atol=1e-6)


def test_recorder_averages_blocks_on_the_latent_grid():
    rec = AttentionRecorder(4, 4)
    rec.add("u", torch.ones(1, 4, 1), 2, 2, block=1)
    rec.add("u", torch.zeros(1, 16, 1), 4, 4, block=2)
    maps = rec.maps("u")
    assert maps.shape == (1, 1, 4, 4) and torch.allclose(maps, torch.full((1, 1, 4, 4), 0.5))
    assert rec.blocks_recorded("u") == 2 and rec.maps("v") is None


@pytest.mark.parametrize(
    "n, hw, out", [(64, (8, 8), (8, 8)), (16, (8, 8), (4, 4)), (6, (5, 3), (3, 2)), (2, (3, 3), None)]
)
def test_resolution_of(n, hw, out):
    if out is None:
        with pytest.raises(ValueError):
            resolution_of(n, *hw)
    else:
        assert resolution_of(n, *hw) == out


def test_region_bias_raises_inside_and_lowers_outside():
    from lrdm_core.bias import region_logit_bias

    masks = torch.zeros(1, 4, 4)
    masks[0, :2, :2] = 1.0
    bias = region_logit_bias(masks, [[3]], n_keys=6, strength=2.0, res_h=2, res_w=2)
    assert bias.shape == (4, 6)
    assert bias[0, 3] == 2.0 and bias[3, 3] == -2.0 and float(bias[:, :3].abs().sum()) == 0.0


def test_segment_bias_favours_pixels_of_one_region():
    """+s between pixels of one hard segment, -s across segments; soft weights in between; symmetric."""
    obj = torch.zeros(4, 4)
    obj[:2, :2] = 1.0
    segments = torch.stack([obj, 1.0 - obj])  # [2, 4, 4]: one object and the background
    bias = segment_logit_bias(segments, 3.0, 4, 4)  # [16, 16]
    inside, outside = 0, 15  # pixel (0, 0) in the object, (3, 3) in the background
    assert bias.shape == (16, 16) and torch.allclose(bias, bias.T)
    assert bias[inside, 1] == 3.0 and bias[outside, 14] == 3.0 and bias[inside, outside] == -3.0
    half = segment_logit_bias(segments, 3.0, 2, 2)  # area-resampled: cell (0, 0) is all object
    assert half[0, 0] == 3.0 and half[0, 3] == -3.0


def test_recorder_weights_every_block_equally_whatever_its_transformer_count_issue17_6():
    """SDXL: a block with 10 transformers and one with 2 count once each (not 10/12 and 2/12)."""
    rec = AttentionRecorder(4, 4)
    for _ in range(10):
        rec.add("u", torch.ones(1, 4, 1), 2, 2, block=4)  # the 32x32 level's block: 10 transformer calls
    for _ in range(2):
        rec.add("u", torch.zeros(1, 16, 1), 4, 4, block=7)
    assert torch.allclose(rec.maps("u"), torch.full((1, 1, 4, 4), 0.5)) and rec.blocks_recorded("u") == 2


def test_repeated_context_columns_issue17_7():
    """A 77-token cond batched beside a 154-token one is repeated (comfy/conds.py CONDCrossAttn.concat): every
    copy of an object column is biased, and its probability is the sum over its copies."""
    import torch.nn.functional as F

    from lrdm_core.attention import repeated_columns
    from lrdm_core.bias import BiasPlan

    assert repeated_columns([2, 5], 77, 154) == [2, 5, 79, 82]
    assert repeated_columns([2, 5], None, 77) == [2, 5] and repeated_columns([2], 77, 77) == [2]
    masks = torch.zeros(1, 2, 2)
    masks[0, 0, 0] = 1.0
    segments = torch.stack([masks[0], 1.0 - masks[0]])  # [2, 2, 2]
    plan = BiasPlan(frozenset({"p"}), [[3]], masks, 2.0, segments, 0.0, lengths={"p": 6})
    assert plan.cross_pattern("p", (2, 2), 12, "cpu").columns == [[3, 9]]  # 2 copies of a 6-token context
    # softmax over a repeated context with both copies biased = the unrepeated biased attention
    g = torch.Generator().manual_seed(0)
    q, k, v = (
        torch.randn(1, 2, 4, 4, generator=g),
        torch.randn(1, 2, 6, 4, generator=g),
        torch.randn(1, 2, 6, 4, generator=g),
    )  # [B, heads, N|T, d]
    k2, v2 = k.repeat(1, 1, 2, 1), v.repeat(1, 1, 2, 1)  # [B, heads, 12, d]
    bias = plan.mask("attn2", "p", (2, 2), q, k2, 2, heads_first=True)  # [N, 12]
    assert torch.equal(bias[:, 3], bias[:, 9]) and bias[0, 9] > 0 > bias[1, 9]
    once = F.scaled_dot_product_attention(q, k, v, attn_mask=plan.mask("attn2", "p", (2, 2), q, k, 2, heads_first=True))
    twice = F.scaled_dot_product_attention(q, k2, v2, attn_mask=bias)
    assert torch.allclose(once, twice, atol=1e-5)
    q, k = q.transpose(1, 2).reshape(1, 4, 8), k.transpose(1, 2).reshape(1, 6, 8)  # [B, N, heads*d]
    p_once = token_probabilities(q, k, heads=2, columns=[3])
    p_twice = token_probabilities(q, k.repeat(1, 2, 1), heads=2, columns=[3], period=6)
    assert torch.allclose(p_once, p_twice, atol=1e-6)
