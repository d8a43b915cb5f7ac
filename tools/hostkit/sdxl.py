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

from .checkpoint import build_random, write_random

SDXL_UNET_CONFIG = {
    "use_checkpoint": False,
    "image_size": 32,
    "out_channels": 4,
    "use_spatial_transformer": True,
    "legacy": False,
    "num_classes": "sequential",
    "adm_in_channels": 2816,
    "in_channels": 4,
    "model_channels": 320,
    "num_res_blocks": [2, 2, 2],
    "transformer_depth": [0, 0, 2, 2, 10, 10],
    "channel_mult": [1, 1, 1],
    "transformer_depth_middle": 10,
    "use_linear_in_transformer": True,
    "context_dim": 2048,
    "num_head_channels": 64,
    "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10],
    "use_temporal_attention": False,
    "use_temporal_resblock": False,
}


def build_state_dict(seed: int = 0) -> dict:
    """Random SDXL-architecture checkpoint state dict: U-Net and VAE fp16, text encoders float8_e4m3fn."""
    return build_random("SDXL", SDXL_UNET_CONFIG, "float8_e4m3fn", seed)


def make_checkpoint(tree: Path, out: Path, seed: int = 0) -> Path:
    """Write the random SDXL checkpoint to ``out`` atomically (ComfyUI at ``tree`` goes on sys.path)."""
    return write_random(tree, out, lambda: build_state_dict(seed), "SDXL")
