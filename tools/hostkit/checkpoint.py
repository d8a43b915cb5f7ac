"""A full-size SD1.5-architecture checkpoint with random weights, built with ComfyUI's own classes.

Shape-true stand-in for a real SD1.5 checkpoint (no download possible on CI): SD1.5 U-Net config,
random CLIP-L from ``comfy.sd.CLIP(target=SD15.clip_target())`` with the bundled tokenizer, an
AutoencoderKL (ch 128, ch_mult [1,2,4,4], z 4); keys prefixed ``model.diffusion_model.``,
``cond_stage_model.transformer.``, ``first_stage_model.``; fp16; weights from hostkit.randomweights.
``comfy.sd.load_checkpoint_guess_config`` detects it as SD15. Images it makes are noise.

Run as ``python -m hostkit ckpt --tree <ComfyUI> --out <file>`` (needs ComfyUI importable).
"""

import logging
import os
from pathlib import Path

from .bootstrap import setup_comfy
from .randomweights import randomize

logger = logging.getLogger("lrdm.hostkit.checkpoint")

SD15_UNET_CONFIG = {
    "use_checkpoint": False,
    "image_size": 32,
    "out_channels": 4,
    "use_spatial_transformer": True,
    "legacy": False,
    "adm_in_channels": None,
    "in_channels": 4,
    "model_channels": 320,
    "num_res_blocks": [2, 2, 2, 2],
    "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
    "channel_mult": [1, 2, 4, 4],
    "transformer_depth_middle": 1,
    "use_linear_in_transformer": False,
    "context_dim": 768,
    "num_heads": 8,
    "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
    "use_temporal_attention": False,
    "use_temporal_resblock": False,
}
SD15_VAE_DDCONFIG = {
    "double_z": True,
    "z_channels": 4,
    "resolution": 256,
    "in_channels": 3,
    "out_ch": 3,
    "ch": 128,
    "ch_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_resolutions": [],
    "dropout": 0.0,
}


def build_state_dict(seed: int = 0) -> dict:
    """Random SD1.5 checkpoint state dict (fp16), keys exactly as in a released SD1.5 file."""
    return build_random("SD15", SD15_UNET_CONFIG, "float16", seed)


def build_random(model: str, unet_config: dict, clip_dtype: str, seed: int = 0) -> dict:
    """Random checkpoint state dict of comfy.supported_models.<model> with this U-Net config: U-Net and VAE fp16,
    text encoders in torch.<clip_dtype>; keys as ComfyUI saves them."""
    import torch

    setup_comfy()  # a CPU job everywhere (model_management reads this on import)
    import comfy.ldm.models.autoencoder
    import comfy.sd
    import comfy.supported_models

    gen = torch.Generator().manual_seed(seed)
    model_config = getattr(comfy.supported_models, model)(dict(unet_config))
    model_config.set_inference_dtype(torch.float32, None)
    base = model_config.get_model({})
    randomize(base.diffusion_model, gen)
    unet_sd = {k: v.half() for k, v in base.diffusion_model.state_dict().items()}
    del base

    cpu = {"initial_device": torch.device("cpu")}
    clip = comfy.sd.CLIP(target=model_config.clip_target(), model_options=cpu)
    randomize(clip.cond_stage_model, gen)
    clip_sd = model_config.process_clip_state_dict_for_saving(clip.get_sd())
    dtype = getattr(torch, clip_dtype)
    clip_sd = {k: v.to(dtype) if v.is_floating_point() else v for k, v in clip_sd.items()}
    del clip

    vae = comfy.ldm.models.autoencoder.AutoencoderKL(ddconfig=dict(SD15_VAE_DDCONFIG), embed_dim=4)
    randomize(vae, gen)
    vae_sd = {k: v.half() for k, v in vae.state_dict().items()}
    del vae

    sd = {}
    sd.update(model_config.process_unet_state_dict_for_saving(unet_sd))
    sd.update(clip_sd)
    sd.update(model_config.process_vae_state_dict_for_saving(vae_sd))
    return {k: v.contiguous() for k, v in sd.items()}


def make_checkpoint(tree: Path, out: Path, seed: int = 0) -> Path:
    """Write the random checkpoint to ``out`` atomically (ComfyUI at ``tree`` goes on sys.path)."""
    return write_random(tree, out, lambda: build_state_dict(seed), "SD1.5")


def write_random(tree: Path, out: Path, build, arch: str) -> Path:
    """Put ComfyUI at ``tree`` on sys.path, build a state dict and write it to ``out`` atomically."""
    setup_comfy(tree)
    from safetensors.torch import save_file

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sd = build()
    tmp = out.with_name(out.name + ".tmp")
    save_file(sd, str(tmp), metadata={"lrdm": f"random-weights {arch}-architecture test checkpoint"})
    os.replace(tmp, out)
    logger.info("wrote %s (%d tensors, %.2f GB)", out, len(sd), out.stat().st_size / 1e9)
    return out
