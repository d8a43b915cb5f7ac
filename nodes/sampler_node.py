"""The all-in-one LRDM sampler node: layout + prompts in, LATENT out."""

from __future__ import annotations

import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview
import torch
from comfy_api.latest import io

from ..lrdm_core.config import LRDMConfig
from ..lrdm_core.layout import Layout
from .host.encode import encode
from .host.runtime import install
from .host.spec import build_spec
from .params import ChecksBiases, cfg_input, method_inputs, model_inputs, noise_inputs


class Sampler(ChecksBiases, io.ComfyNode):
    """Encode, patch and sample in one node (KSampler's inputs plus the layout and LRDM's parameters)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="LRDM_Sampler",
            display_name="LRDM Sampler",
            category="lrdm/sampling",
            description="Generates a latent whose objects sit in the layout's regions (LRDiff, zero-shot). Works "
            "like KSampler with a layout, a global prompt and a negative prompt.",
            inputs=[
                *model_inputs(
                    "Global prompt describing the whole image; name the objects in it so their attention maps "
                    "are read from it."
                ),
                io.String.Input(
                    "negative",
                    multiline=True,
                    default="",
                    tooltip="Negative prompt (the unconditional branch of CFG).",
                ),
                io.Latent.Input("latent", tooltip="Empty latent (txt2img) or an encoded image with denoise < 1."),
                *noise_inputs(),
                cfg_input(),
                io.Combo.Input(
                    "sampler_name",
                    options=comfy.samplers.SAMPLER_NAMES,
                    default="euler",
                    tooltip="Any ComfyUI sampler; the layered window follows its own steps.",
                ),
                io.Combo.Input(
                    "scheduler",
                    options=comfy.samplers.SCHEDULER_NAMES,
                    default="normal",
                    tooltip="Any ComfyUI scheduler.",
                ),
                io.Float.Input(
                    "denoise",
                    default=1.0,
                    min=0.0,
                    max=1.0,
                    step=0.01,
                    tooltip="1 = from noise; < 1 edits the input latent (the paper's editing use).",
                ),
                *method_inputs(),
            ],
            outputs=[io.Latent.Output(display_name="latent")],
        )

    @classmethod
    def execute(
        cls,
        model,
        clip,
        layout: Layout,
        prompt: str,
        negative: str,
        latent: dict,
        seed: int,
        steps: int,
        cfg: float,
        sampler_name: str,
        scheduler: str,
        denoise: float,
        **kw,
    ) -> io.NodeOutput:
        config = LRDMConfig(**kw)
        patched = install(model, build_spec(clip, layout, prompt, config))
        positive, uncond = encode(clip, prompt), encode(clip, negative)
        return io.NodeOutput(
            sample(patched, positive, uncond, latent, seed, steps, cfg, sampler_name, scheduler, denoise)
        )


def sample(
    model,
    positive,
    negative,
    latent: dict,
    seed: int,
    steps: int,
    cfg: float,
    sampler_name: str,
    scheduler: str,
    denoise: float,
) -> dict:
    """KSampler's path (nodes.common_ksampler) on an already patched model."""
    latent_image = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
    noise = comfy.sample.prepare_noise(latent_image, seed, latent.get("batch_index"))
    callback = latent_preview.prepare_callback(model, steps)
    samples = comfy.sample.sample(
        model,
        noise,
        steps,
        cfg,
        sampler_name,
        scheduler,
        positive,
        negative,
        latent_image,
        denoise=denoise,
        noise_mask=latent.get("noise_mask"),
        callback=callback,
        disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED,
        seed=seed,
    )
    out = latent.copy()
    out["samples"] = samples.to(torch.float32)
    return out
