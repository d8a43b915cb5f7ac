"""The one random-weight fill of the test models (ComfyUI skips weight init when it builds a model)."""

from __future__ import annotations


def randomize(module, generator) -> None:
    """Fill in place: norm scales 1 + N(0, 0.02), other weights N(0, 0.02), vectors (biases) N(0, 0.002)."""
    import torch

    with torch.no_grad():
        for name, p in module.named_parameters():
            if not p.is_floating_point():
                continue
            noise = torch.randn(p.shape, generator=generator)
            if p.dim() == 1 and name.endswith("weight") and ("norm" in name or name.endswith("ln.weight")):
                p.copy_(1.0 + 0.02 * noise)
            elif p.dim() > 1:
                p.copy_(0.02 * noise)
            else:
                p.copy_(0.002 * noise)
