"""Stage nodes for users who want to see the method: the captured attention maps and the guidance."""

from __future__ import annotations

import comfy.sample
import comfy.samplers
import torch
import torch.nn.functional as F
from comfy_api.latest import io

from ..lrdm_core.config import Guidance, LRDMConfig
from ..lrdm_core.layout import Layout
from ..lrdm_core.preview import heatmaps
from .host.encode import encode
from .host.runtime import install
from .host.spec import build_spec
from .host.state import RunState
from .params import ChecksBiases, method_inputs, model_inputs, noise_inputs
from .patch_nodes import PATCH_PROMPT


class _CaptureOnly(comfy.samplers.Sampler):
    """A sampler that takes no step: the LRDM wrappers around it run the capture on x_T and stop."""

    def sample(
        self,
        model_wrap,
        sigmas,
        extra_args,
        callback,
        noise,
        latent_image=None,
        denoise_mask=None,
        disable_pbar=False,
    ):
        return latent_image if latent_image is not None else torch.zeros_like(noise)


def capture(
    model, clip, layout: Layout, prompt: str, latent: dict, seed: int, steps: int, scheduler: str, config
) -> RunState:
    """Run only LRDM's first-step capture (one U-Net evaluation on x_T) and return its RunState."""
    seen: list[RunState] = []
    cfg = config.with_(t0=1.0, guidance=Guidance.INPUT if config.guidance is Guidance.NONE else config.guidance)
    patched = install(model, build_spec(clip, layout, prompt, cfg, observer=seen.append))
    latent_image = comfy.sample.fix_empty_latent_channels(patched, latent["samples"])
    noise = comfy.sample.prepare_noise(latent_image, seed, latent.get("batch_index"))
    sigmas = comfy.samplers.calculate_sigmas(patched.get_model_object("model_sampling"), scheduler, steps)
    guider = comfy.samplers.CFGGuider(patched)
    guider.set_conds(encode(clip, prompt or layout.prompt), encode(clip, ""))
    guider.sample(noise, latent_image, _CaptureOnly(), sigmas, seed=seed, disable_pbar=True)
    return seen[0]


class CaptureAttention(ChecksBiases, io.ComfyNode):
    """The objects' cross-attention maps at the first step, and the vision guidance built from them."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="LRDM_CaptureAttention",
            display_name="LRDM Capture Attention",
            category="lrdm/stages",
            description="Runs the first step's attention capture (one U-Net evaluation on x_T for this seed) and "
            "returns each object's map as a MASK plus previews of the maps and of the vision guidance "
            "xi (Eq. 6). Use the same seed, steps and scheduler as the sampler to see what it sees.",
            inputs=[
                *model_inputs(PATCH_PROMPT),
                io.Latent.Input("latent", tooltip="The latent the sampler starts from (its size sets the maps')."),
                *noise_inputs(),
                io.Combo.Input(
                    "scheduler",
                    options=comfy.samplers.SCHEDULER_NAMES,
                    default="normal",
                    tooltip="Scheduler of the sampler.",
                ),
                *method_inputs(),
            ],
            outputs=[
                io.Mask.Output(display_name="attention_maps"),
                io.Image.Output(display_name="maps_preview"),
                io.Image.Output(display_name="guidance_preview"),
            ],
        )

    @classmethod
    def execute(
        cls,
        model,
        clip,
        layout: Layout,
        prompt: str,
        latent: dict,
        seed: int,
        steps: int,
        scheduler: str,
        **kw,
    ) -> io.NodeOutput:
        config = LRDMConfig(**kw)
        state = capture(model, clip, layout, prompt, latent, seed, steps, scheduler, config)
        maps = state.maps[:, 0].float()  # [n, H, W] (first batch item)
        h, w = maps.shape[-2:]
        size = (h * 8, w * 8)
        lo, hi = maps.amin(dim=(1, 2), keepdim=True), maps.amax(dim=(1, 2), keepdim=True)
        masks = F.interpolate(((maps - lo) / (hi - lo).clamp(min=1e-12))[:, None], size=size, mode="bilinear")
        xi = torch.stack([o[0].norm(dim=0) * o[0].mean(dim=0).sign() for o in state.offsets])  # [n, H, W]
        return io.NodeOutput(masks[:, 0].clamp(0, 1), heatmaps(maps, size), heatmaps(xi, size))
