"""Eq. 6 against direct references: top-K mean, xi sign and scaling, default K, the VP scale."""

import math

import pytest
import torch

from lrdm_core.guidance import colour_part, default_top_k, guidance_offset, top_k_mean, vp_scale


def test_top_k_mean_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 6, 5, generator=g)
    attn = torch.rand(2, 6, 5, generator=g)
    got = top_k_mean(x, attn, 7)
    for b in range(2):
        flat = attn[b].flatten()
        idx = sorted(range(30), key=lambda i: -float(flat[i]))[:7]
        ref = torch.stack([x[b, :, i // 5, i % 5] for i in idx]).mean(0)
        assert torch.allclose(got[b], ref, atol=1e-6)


def test_top_k_is_clamped_to_the_grid():
    x = torch.randn(1, 4, 2, 2)
    assert torch.allclose(top_k_mean(x, torch.rand(1, 2, 2), 100)[0], x[0].mean(dim=(1, 2)), atol=1e-6)


def test_offset_adds_inside_and_subtracts_outside():
    delta = torch.tensor([[1.0, -2.0]])
    region = torch.zeros(4, 4)
    region[1:3, 1:3] = 1.0
    xi = guidance_offset(delta, region, 0.5, 0.25)
    assert xi.shape == (1, 2, 4, 4)
    assert torch.allclose(xi[0, :, 1, 1], torch.tensor([0.5, -1.0]))
    assert torch.allclose(xi[0, :, 0, 0], torch.tensor([-0.25, 0.5]))
    paper = guidance_offset(delta, region, 1.0, 1.0)  # lambda * (2M - 1) * delta
    assert torch.allclose(paper[0], delta[0, :, None, None] * (2 * region - 1))


def test_soft_region_interpolates():
    xi = guidance_offset(torch.ones(1, 1), torch.full((1, 1), 0.25), 1.0, 1.0)
    assert float(xi) == pytest.approx(0.25 - 0.75)


def test_default_k_scales_with_area():
    assert default_top_k(64, 64) == 20
    assert default_top_k(128, 128) == 80
    assert default_top_k(32, 32) == 6 and default_top_k(8, 8) == 6  # the floor: not one pixel's noise
    assert default_top_k(2, 2) == 4  # never more than the latent has


def test_vp_scale():
    assert vp_scale(0.0) == 1.0
    assert vp_scale(14.6146) == pytest.approx(math.sqrt(14.6146**2 + 1))
    assert torch.allclose(vp_scale(torch.tensor([0.0, 3.0])), torch.tensor([1.0, math.sqrt(10)]))


def test_colour_part_keeps_colours_and_drops_texture():
    """colour_part projects on span(F): a latent that is F @ rgb stays; a part orthogonal to F goes."""
    f = torch.randn(6, 3)  # [C, 3]
    colour = (f @ torch.tensor([0.2, -0.5, 0.9]))[None]  # [1, C]
    texture = torch.randn(1, 6)
    texture = texture - colour_part(texture, f)  # orthogonal to span(F)
    assert torch.allclose(colour_part(colour, f), colour, atol=1e-5)
    assert torch.allclose(colour_part(colour + texture, f), colour, atol=1e-5)
    assert texture.norm() > 0.1


def test_colour_part_of_a_mean_colour_map():
    """With the toy model's factors (mean of each colour's sub-pixels) the colour part is the sub-pixel mean."""
    n = 4
    f = torch.tensor([[1.0 / n if k // n == c else 0.0 for c in range(3)] for k in range(3 * n)])  # [12, 3]
    delta = torch.randn(2, 3 * n)
    means = delta.reshape(2, 3, n).mean(dim=2, keepdim=True).expand(2, 3, n).reshape(2, 3 * n)
    assert torch.allclose(colour_part(delta, f), means, atol=1e-5)
