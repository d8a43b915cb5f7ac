"""An SDXL-architecture checkpoint with random weights that ComfyUI's loader detects as SDXL.

Stand-in for ``sd_xl_base_1.0.safetensors`` in the server tests (no download possible on CI).
``comfy.model_detection`` matches SDXL on model_channels 320, linear projections, transformer depths
[0, 0, 2, 2, 10, 10], context 2048 and adm 2816; the channel multipliers are read from the weights but
not matched. So the U-Net keeps SDXL's block layout exactly (input 4-8 and output 0-5 with 2 or 10
transformers each, 10 in the middle, 5 heads of 64 at 320 channels) at ``channel_mult`` [1, 1, 1]
instead of [1, 2, 4]: 283 M parameters instead of 2.6 B. The text encoders are SDXL's own (CLIP-L and
OpenCLIP bigG, full size: ComfyUI builds them from fixed configs whatever the file holds), stored as
float8_e4m3fn to halve the file (1.5 GB; the loader casts them to its text-encoder dtype); the VAE is
SD1.5's architecture, like SDXL's. Keys as in a released SDXL file (``conditioner.embedders.*``).

Run as ``python -m hostkit ckpt --arch sdxl --tree <ComfyUI> --out <file>``.
"""

from pathlib import Path

from .checkpoint import SD15_VAE_DDCONFIG, _randomize, write_random

SDXL_UNET_CONFIG = {
    "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True,
    "legacy": False, "num_classes": "sequential", "adm_in_channels": 2816, "in_channels": 4,
    "model_channels": 320, "num_res_blocks": [2, 2, 2], "transformer_depth": [0, 0, 2, 2, 10, 10],
    "channel_mult": [1, 1, 1], "transformer_depth_middle": 10, "use_linear_in_transformer": True,
    "context_dim": 2048, "num_head_channels": 64, "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10],
    "use_temporal_attention": False, "use_temporal_resblock": False,
}


def build_state_dict(seed: int = 0) -> dict:
    """Random SDXL-architecture checkpoint state dict: U-Net and VAE fp16, text encoders float8_e4m3fn."""
    import comfy.cli_args
    import torch

    comfy.cli_args.args.cpu = True
    import comfy.ldm.models.autoencoder
    import comfy.sd
    import comfy.supported_models

    gen = torch.Generator().manual_seed(seed)
    model_config = comfy.supported_models.SDXL(dict(SDXL_UNET_CONFIG))
    model_config.set_inference_dtype(torch.float32, None)
    base = model_config.get_model({})
    _randomize(base.diffusion_model, gen)
    unet_sd = {k: v.half() for k, v in base.diffusion_model.state_dict().items()}
    del base

    cpu = {"initial_device": torch.device("cpu")}
    clip = comfy.sd.CLIP(target=model_config.clip_target(), model_options=cpu)
    _randomize(clip.cond_stage_model, gen)
    clip_sd = clip.get_sd()
    del clip
    clip_sd = model_config.process_clip_state_dict_for_saving(clip_sd)
    clip_sd = {k: v.to(torch.float8_e4m3fn) if v.is_floating_point() else v for k, v in clip_sd.items()}

    vae = comfy.ldm.models.autoencoder.AutoencoderKL(ddconfig=dict(SD15_VAE_DDCONFIG), embed_dim=4)
    _randomize(vae, gen)
    vae_sd = {k: v.half() for k, v in vae.state_dict().items()}
    del vae

    sd = {}
    sd.update(model_config.process_unet_state_dict_for_saving(unet_sd))
    sd.update(clip_sd)
    sd.update(model_config.process_vae_state_dict_for_saving(vae_sd))
    return {k: v.contiguous() for k, v in sd.items()}


def make_checkpoint(tree: Path, out: Path, seed: int = 0) -> Path:
    """Write the random SDXL checkpoint to ``out`` atomically (ComfyUI at ``tree`` goes on sys.path)."""
    return write_random(tree, out, lambda: build_state_dict(seed), "SDXL")
