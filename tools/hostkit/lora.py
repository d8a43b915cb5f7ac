"""A LoRA for the SD1.5 architecture with random weights, in the kohya format ComfyUI's LoraLoader reads.

Stand-in for a user's LoRA in the server tests. Keys as kohya's sd-scripts write them:
``lora_unet_<diffusers module path with _>`` for every spatial transformer's proj_in/proj_out, attention
q/k/v/out and feed-forward layers, and ``lora_te_text_model_encoder_layers_<i>_<module>`` for CLIP-L's
attention and MLP layers; each with ``.lora_down.weight`` [r, in(, 1, 1)], ``.lora_up.weight``
[out, r(, 1, 1)] and ``.alpha`` (= r). Module names and shapes come from ComfyUI's own key maps
(``comfy.lora.model_lora_keys_unet`` / ``model_lora_keys_clip``) on an SD1.5 model with unallocated
weights, so every key matches. up ~ N(0, 0.02), down ~ N(0, 0.1): a small, visible change; fp16.

Run as ``python -m hostkit lora --tree <ComfyUI> --out <file>``.
"""

import logging
import os
import re
from pathlib import Path

from .bootstrap import setup_comfy
from .checkpoint import SD15_UNET_CONFIG

logger = logging.getLogger("lrdm.hostkit.lora")

UNET_TARGETS = re.compile(
    r"attentions\.\d+\.(proj_in|proj_out|transformer_blocks\.\d+\."
    r"(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.(0\.proj|2)))\.weight$"
)
TE_KEY = "lora_te_text_model_encoder_layers_{}_{}"
TE_LAYERS = 12  # CLIP-L


def target_shapes() -> dict[str, tuple[int, ...]]:
    """kohya module name -> shape of the SD1.5 weight it patches (U-Net and CLIP-L)."""
    import torch

    setup_comfy()
    import comfy.lora
    import comfy.sd
    import comfy.supported_models
    import comfy.utils

    model_config = comfy.supported_models.SD15(dict(SD15_UNET_CONFIG))
    model_config.set_inference_dtype(torch.float32, None)
    model = model_config.get_model({})  # ComfyUI skips weight init: shapes only, nothing filled
    unet_sd = model.state_dict()
    shapes = {}
    for diffusers_key, ldm_key in comfy.utils.unet_to_diffusers(model_config.unet_config).items():
        if UNET_TARGETS.search(diffusers_key):
            name = "lora_unet_" + diffusers_key[: -len(".weight")].replace(".", "_")
            shapes[name] = tuple(unet_sd[f"diffusion_model.{ldm_key}"].shape)
    clip = comfy.sd.CLIP(target=model_config.clip_target(), model_options={"initial_device": torch.device("cpu")})
    clip_sd = clip.cond_stage_model.state_dict()
    for layer in range(TE_LAYERS):
        for module, lora_module in comfy.lora.LORA_CLIP_MAP.items():
            key = f"clip_l.transformer.text_model.encoder.layers.{layer}.{module}.weight"
            shapes[TE_KEY.format(layer, lora_module)] = tuple(clip_sd[key].shape)
    return shapes


def build_state_dict(rank: int = 4, seed: int = 0) -> dict:
    """The random LoRA's tensors (fp16 weights, fp16 alpha), keyed as kohya writes them."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for name, shape in sorted(target_shapes().items()):
        out_dim, in_dim, *kernel = shape  # Linear [out, in]; the 1x1 Conv2d proj_in/out [out, in, 1, 1]
        sd[f"{name}.lora_down.weight"] = (torch.randn((rank, in_dim, *kernel), generator=gen) * 0.1).half()
        sd[f"{name}.lora_up.weight"] = (torch.randn((out_dim, rank, *kernel), generator=gen) * 0.02).half()
        sd[f"{name}.alpha"] = torch.tensor(float(rank)).half()
    return sd


def make_lora(tree: Path, out: Path, rank: int = 4, seed: int = 0) -> Path:
    """Write the random LoRA to ``out`` atomically (ComfyUI at ``tree`` goes on sys.path)."""
    setup_comfy(tree)
    from safetensors.torch import save_file

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sd = build_state_dict(rank, seed)
    tmp = out.with_name(out.name + ".tmp")
    save_file(
        sd,
        str(tmp),
        metadata={
            "lrdm": "random-weights SD1.5 LoRA (kohya keys) for tests",
            "ss_network_dim": str(rank),
            "ss_network_alpha": str(rank),
        },
    )
    os.replace(tmp, out)
    logger.info("wrote %s (%d modules, %.1f MB)", out, len(sd) // 3, out.stat().st_size / 1e6)
    return out
