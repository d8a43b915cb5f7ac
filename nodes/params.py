"""The inputs shared by the sampler, patch and guider nodes; the method inputs come from lrdm_core.config.PARAMS."""

from __future__ import annotations

from comfy_api.latest import io

from ..lrdm_core.config import PARAMS, LRDMConfig, Param, method_value_error

LAYOUT = io.Custom("LRDM_LAYOUT")
_D = LRDMConfig()


def model_inputs(prompt_tooltip: str) -> list:
    """Model, CLIP, layout and global-prompt inputs shared by the sampling nodes."""
    return [
        io.Model.Input(
            "model",
            tooltip="The diffusion model (SD1.x, SD2.x or SDXL U-Net; LoRAs and other patches are kept).",
        ),
        io.Clip.Input(
            "clip",
            tooltip="The CLIP of the same checkpoint: encodes each object's phrase and finds its tokens.",
        ),
        LAYOUT.Input("layout", tooltip="Objects with phrases and regions (from an LRDM layout node)."),
        io.String.Input("prompt", multiline=True, default="", tooltip=prompt_tooltip),
    ]


def noise_inputs() -> list:
    """Seed, steps and scheduler, as on KSampler."""
    return [
        io.Int.Input(
            "seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True, tooltip="Noise seed (x_T)."
        ),
        io.Int.Input("steps", default=30, min=1, max=10000, tooltip="Sampler steps (t0 of them are layered)."),
    ]


def cfg_input() -> io.Float.Input:
    """Classifier-free guidance scale, as on KSampler."""
    return io.Float.Input(
        "cfg", default=7.5, min=0.0, max=100.0, step=0.1, tooltip="Classifier-free guidance scale (paper: 7.5)."
    )


def method_inputs() -> list:
    """One node input per row of lrdm_core.config.PARAMS (its id = the LRDMConfig field; LRDMConfig(**kw))."""
    return [_input(p, getattr(_D, p.name)) for p in PARAMS]


def _input(p: Param, default) -> io.Input:
    """The V3 input of one parameter row: a combo for enums, else by the default's type."""
    common = dict(tooltip=p.tooltip, optional=p.optional)
    if p.choices is not None:
        return io.Combo.Input(p.name, options=[c.value for c in p.choices], default=default.value, **common)
    if isinstance(default, str):
        return io.String.Input(p.name, default=default, **common)
    if isinstance(default, int):
        return io.Int.Input(p.name, default=default, min=int(p.lo), max=int(p.hi), **common)
    return io.Float.Input(p.name, default=default, min=p.lo, max=p.hi, step=p.step, **common)


class ChecksBiases:
    """Mixin (before io.ComfyNode) of the nodes that take the method inputs: their validate_inputs. A bias out of
    range (most likely a workflow saved with the old logit values, 12 and 6) gets the pack's expected / got / fix
    message instead of ComfyUI's bare 'bigger than max'."""

    @classmethod
    def validate_inputs(cls, attn_bias: float | None = None, self_bias: float | None = None) -> bool | str:
        """The pack's message for a bias out of range; True otherwise (None: a linked input, checked later)."""
        return method_value_error(attn_bias=attn_bias, self_bias=self_bias) or True
