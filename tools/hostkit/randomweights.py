"""The one random-weight fill of the test models (ComfyUI skips weight init when it builds a model)."""

from __future__ import annotations


def randomize(module, generator) -> None:
    """Fill parameters in place: norm layers weight 1 / bias 0; others weight N(0, 0.02), bias 0."""
    import torch

    norms = (torch.nn.GroupNorm, torch.nn.LayerNorm)
    with torch.no_grad():
        for sub in module.modules():
            is_norm = isinstance(sub, norms)
            for name, p in sub.named_parameters(recurse=False):
                if not p.is_floating_point():
                    continue
                if is_norm:
                    p.fill_(1.0 if name == "weight" else 0.0)
                elif name == "bias":
                    p.zero_()
                else:
                    p.copy_(torch.randn(p.shape, generator=generator) * 0.02)
