"""The LRDM parameter inputs shared by the sampler, patch and guider nodes, and their LRDMConfig."""

from __future__ import annotations

from comfy_api.latest import io

from ..lrdm_core.config import (
    CAPTURE_SOURCES,
    COMPOSITIONS,
    DELTA_SPACES,
    GUIDANCE_MODES,
    MAX_BIAS,
    MAX_STRENGTH,
    LRDMConfig,
)

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
    """Inputs for every LRDMConfig field, with the paper's defaults in the tooltips."""
    return [
        io.Float.Input(
            "t0",
            default=_D.t0,
            min=0.0,
            max=1.0,
            step=0.01,
            tooltip="Layered fraction: the first t0 of the sampler's steps denoise each object as its own "
            "layer (paper: ~0.3, step 15 of 51). 0 turns LRDM off.",
        ),
        io.Float.Input(
            "strength",
            default=_D.strength_in,
            min=-MAX_STRENGTH,
            max=MAX_STRENGTH,
            step=0.01,
            tooltip="Vision guidance lambda inside each region (Eq. 6). 0 = layers only.",
        ),
        io.Float.Input(
            "strength_out",
            default=_D.strength_out,
            min=-MAX_STRENGTH,
            max=MAX_STRENGTH,
            step=0.01,
            tooltip="Vision guidance subtracted outside each region (Eq. 6; equal to strength = the paper).",
        ),
        io.Int.Input(
            "top_k",
            default=_D.top_k,
            min=0,
            max=4096,
            tooltip="K highest-attention locations averaged into delta (Eq. 6). 0 = automatic: 20 at a "
            "64x64 latent (the authors' value), scaled with the latent's area, at least 6.",
        ),
        io.Combo.Input(
            "guidance",
            options=list(GUIDANCE_MODES),
            default=_D.guidance,
            tooltip="How xi acts (PAPER.md choice 9): 'input' adds xi to each layer's input every "
            "layered step, applies CFG per layer on that input and composes denoised estimates (the "
            "figure's reading, the paper's button); 'state' shifts x_T once (authors' "
            "code); 'eps' composes noise predictions; 'none' = layers without guidance.",
        ),
        io.String.Input(
            "capture_blocks",
            default=_D.capture_blocks,
            tooltip="Up-blocks whose cross-attention gives the maps: 'paper' (one per resolution), "
            "'all', or output block ids such as '4,7,10'.",
        ),
        io.Combo.Input(
            "capture_source",
            options=list(CAPTURE_SOURCES),
            default=_D.capture_source,
            tooltip="Where an object's token map is read: 'auto' = in the global prompt when the phrase "
            "occurs there, else in the phrase's own encoding.",
        ),
        io.Combo.Input(
            "composition",
            options=list(COMPOSITIONS),
            default=_D.composition,
            tooltip="'shared': every layered step composes the layers' predictions by their masks on one "
            "shared latent (the paper's figure). 'fuse': each object is denoised as its own "
            "trajectory from its own guided noise and fused once at t0 (the authors' code; "
            "costs (n+1)x the layered steps).",
        ),
        io.Float.Input(
            "attn_bias",
            default=_D.attn_bias,
            min=0.0,
            max=MAX_BIAS,
            step=0.1,
            tooltip="Beyond the paper: bias the global prompt's object tokens towards their regions on "
            "every cross-attention block whenever the global prompt is evaluated, and each layer's phrase "
            "towards its own region on its layered passes (DenseDiffusion-style; logit units). Keeps "
            "small objects from vanishing. 0 = off (the paper).",
        ),
        io.Combo.Input(
            "delta_space",
            options=list(DELTA_SPACES),
            default=_D.delta_space,
            optional=True,  # optional: workflows saved before these three inputs existed still validate
            tooltip="Vision-guidance delta (Eq. 6): 'latent' = the mean latent at the top-K locations (the "
            "paper); 'rgb' = only its colour part, through the model's latent->RGB preview factors (the "
            "authors' code takes the mean colour in image space): less texture, stronger colour cue.",
        ),
        io.Float.Input(
            "self_bias",
            default=_D.self_bias,
            optional=True,
            min=0.0,
            max=MAX_BIAS,
            step=0.1,
            tooltip="Beyond the paper: on the global prompt's passes, self-attention favours pixels of the "
            "same region and damps attention across regions (DenseDiffusion-style; logit units). Keeps "
            "objects inside and shaped like their boxes; may cost some image quality. 0 = off.",
        ),
        io.Float.Input(
            "bias_end",
            default=_D.bias_end,
            min=0.0,
            max=1.0,
            step=0.01,
            optional=True,
            tooltip="Beyond the paper: attn_bias and self_bias act in the first bias_end of the sampler's "
            "steps (1 = all). Ending them early lets the last steps draw clean detail.",
        ),
    ]


def config_from(
    t0: float,
    strength: float,
    strength_out: float,
    top_k: int,
    guidance: str,
    capture_blocks: str,
    capture_source: str,
    composition: str,
    attn_bias: float,
    delta_space: str = _D.delta_space,
    self_bias: float = _D.self_bias,
    bias_end: float = _D.bias_end,
) -> LRDMConfig:
    """LRDMConfig from the node inputs of method_inputs()."""
    return LRDMConfig(
        t0=t0,
        strength_in=strength,
        strength_out=strength_out,
        top_k=top_k,
        guidance=guidance,
        capture_blocks=capture_blocks,
        capture_source=capture_source,
        composition=composition,
        attn_bias=attn_bias,
        delta_space=delta_space,
        self_bias=self_bias,
        bias_end=bias_end,
    )


METHOD_KEYS = (
    "t0",
    "strength",
    "strength_out",
    "top_k",
    "guidance",
    "capture_blocks",
    "capture_source",
    "composition",
    "attn_bias",
    "delta_space",
    "self_bias",
    "bias_end",
)


def node_kwargs(config: LRDMConfig) -> dict:
    """The node inputs of method_inputs() for a config (inverse of config_from)."""
    d = config.to_dict()
    d["strength"] = d.pop("strength_in")
    return {k: d[k] for k in METHOD_KEYS}
