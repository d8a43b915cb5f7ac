"""Shared helpers of the ComfyUI tier: run LRDM and the stock KSampler on tiny models."""

from __future__ import annotations

import comfy.patcher_extension
import torch
from comfy.patcher_extension import WrappersMP
from hostkit import bootstrap

import nodes as comfy_nodes

PROMPT = "a red apple and a blue cup"
LAYOUT_JSON = (
    '{"objects": [{"phrase": "a red apple", "box": [0.05, 0.1, 0.5, 0.6]},'
    ' {"phrase": "a blue cup", "box": [0.5, 0.45, 0.95, 0.95]}]}'
)
# The paper's preset with a longer window (t0 0.5) so that 4-step runs have 2 layered steps.
METHOD = dict(bootstrap.pack_module("lrdm_core.config").PRESETS["paper"].to_dict(), t0=0.5)


def latent(size: int = 16, batch: int = 1, value: float = 0.0) -> dict:
    """An (empty) latent dict of size x size cells."""
    return {"samples": torch.full((batch, 4, size, size), value)}


def layout(pack, text: str = LAYOUT_JSON):
    """An LRDM_LAYOUT from JSON text."""
    return pack.lrdm_core.layout.layout_from_json(text)


def run_lrdm(
    pack,
    model,
    clip,
    steps=4,
    cfg=7.5,
    sampler="euler",
    scheduler="normal",
    lat=None,
    seed=1,
    denoise=1.0,
    text=LAYOUT_JSON,
    prompt=PROMPT,
    **method,
) -> torch.Tensor:
    """LRDM_Sampler's execute on the tiny model: the sampled latent."""
    kw = dict(METHOD, **method)
    out = pack.nodes.sampler_node.Sampler.execute(
        model,
        clip,
        layout(pack, text),
        prompt,
        "",
        lat or latent(),
        seed,
        steps,
        cfg,
        sampler,
        scheduler,
        denoise,
        **kw,
    )
    return out.args[0]["samples"]


def run_stock(
    model,
    clip,
    steps=4,
    cfg=7.5,
    sampler="euler",
    scheduler="normal",
    lat=None,
    seed=1,
    denoise=1.0,
    prompt=PROMPT,
) -> torch.Tensor:
    """ComfyUI's own KSampler path (nodes.common_ksampler)."""
    pos = clip.encode_from_tokens_scheduled(clip.tokenize(prompt))
    neg = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    return comfy_nodes.common_ksampler(
        model, seed, steps, cfg, sampler, scheduler, pos, neg, lat or latent(), denoise=denoise
    )[0]["samples"]


class EvalCounter:
    """A DIFFUSION_MODEL wrapper that counts U-Net evaluations (batch rows)."""

    def __init__(self) -> None:
        self.rows = 0
        self.calls = 0

    def __call__(self, executor, x, *args, **kwargs):
        self.rows += x.shape[0]
        self.calls += 1
        return executor(x, *args, **kwargs)


def with_counter(model) -> tuple[object, EvalCounter]:
    """A clone of `model` that counts its U-Net evaluations."""
    m = model.clone()
    counter = EvalCounter()
    m.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, "test_counter", counter)
    return m, counter


def model_state(model) -> str:
    """A printable fingerprint of what a ModelPatcher carries (options, wrappers, callbacks, patches)."""
    return repr(
        (
            sorted(comfy.patcher_extension.copy_nested_dicts(model.model_options).items(), key=str),
            {k: {kk: len(v) for kk, v in w.items()} for k, w in model.wrappers.items()},
            {k: len(v) for k, v in model.callbacks.items()},
            sorted(model.patches),
            sorted(model.attachments),
        )
    )
