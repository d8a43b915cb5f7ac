"""Random-weight model files for the third-party packs the server tests run beside LRDM.

Stand-ins for files users download (no download possible on CI), built like the random checkpoints
(hostkit.randomweights): the tensor names and shapes the real loaders read.

- CLIP vision: ComfyUI's ViT-L/14 (``comfy/clip_vision_config_vitl.json``: ``comfy.clip_vision.load``
  picks the config from the layer count, so it cannot be shrunk); fp16, 0.6 GB.
- IPAdapter (ComfyUI_IPAdapter_plus ``IPAdapterModelLoader``): the basic adapter (``ImageProjModel`` on
  ViT-L's 768-d image embeds, 4 tokens) with one ``to_k_ip``/``to_v_ip`` pair per cross-attention layer in
  the pack's module order (``ipadapter_execute``), each shaped like that layer's ``attn2.to_k`` in the given
  checkpoint: SD1.5 (16 layers, context 768) or the random SDXL (70 layers, context 2048).
- ControlNet (``comfy.controlnet.load_controlnet``, which reads the architecture from the weights): ComfyUI's
  own ``comfy.cldm.cldm.ControlNet`` on the checkpoint's U-Net config, ``control_model.`` keys. SD1.5 keeps
  only the first level's transformers (the loader matches SD1.5 on context and channels, not on depths; 0.5
  GB instead of 0.7); SDXL keeps SDXL's depths (the loader matches them) at the random SDXL's widths.

Run as ``python -m hostkit packmodels --tree <ComfyUI> --sd15 <ckpt> --sdxl <ckpt> --out <dir>``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .bootstrap import setup_comfy
from .checkpoint import SD15_UNET_CONFIG, write_random
from .randomweights import randomize
from .sdxl import SDXL_UNET_CONFIG

logger = logging.getLogger("lrdm.hostkit.packmodels")

CLIP_VISION_NAME = "lrdm_random_clip_vision_vitl.safetensors"
IPADAPTER_NAMES = {a: f"lrdm_random_ip-adapter_{a}.safetensors" for a in ("sd15", "sdxl")}
CONTROLNET_NAMES = {a: f"lrdm_random_controlnet_{a}.safetensors" for a in ("sd15", "sdxl")}
CLIP_VISION_DIM = 768  # ViT-L/14 projection_dim
IP_TOKENS = 4  # basic IPAdapter: clip_extra_context_tokens

# ComfyUI_IPAdapter_plus ipadapter_execute: cross-attention layers in the order of its module keys 1, 3, 5, ...
IP_LAYERS = {
    "sd15": [("input_blocks", i, 0) for i in (1, 2, 4, 5, 7, 8)]
    + [("output_blocks", i, 0) for i in range(3, 12)]
    + [("middle_block", None, 0)],
    "sdxl": [("input_blocks", i, j) for i in (4, 5, 7, 8) for j in range(2 if i in (4, 5) else 10)]
    + [("output_blocks", i, j) for i in range(6) for j in range(2 if i in (3, 4, 5) else 10)]
    + [("middle_block", None, j) for j in range(10)],
}


def _attn2_key(block: str, block_id, index: int) -> str:
    """The checkpoint key of one transformer's attn2.to_k (ldm layout)."""
    where = f"{block}.1" if block_id is None else f"{block}.{block_id}.1"
    return f"model.diffusion_model.{where}.transformer_blocks.{index}.attn2.to_k.weight"


def checkpoint_shapes(ckpt: Path) -> dict:
    """Tensor shapes of a safetensors checkpoint (its header only)."""
    from safetensors import safe_open

    with safe_open(str(ckpt), framework="pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}


def build_clip_vision(seed: int = 0) -> dict:
    """ViT-L/14 CLIP vision state dict (fp16), keys as ``comfy.clip_vision.load`` reads them."""
    import os

    import torch

    setup_comfy()
    import comfy.clip_vision

    config = os.path.join(os.path.dirname(comfy.clip_vision.__file__), "clip_vision_config_vitl.json")
    model = comfy.clip_vision.ClipVisionModel(config)
    randomize(model.model, torch.Generator().manual_seed(seed))
    return {k: v.half().contiguous() for k, v in model.model.state_dict().items()}


def build_ipadapter(arch: str, ckpt: Path, seed: int = 0) -> dict:
    """Basic IPAdapter state dict for the checkpoint's cross-attention widths (fp16)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    shapes = checkpoint_shapes(ckpt)
    layers = [shapes[_attn2_key(*layer)] for layer in IP_LAYERS[arch]]  # each [inner, context]
    context = layers[0][1]

    def rand(*shape):
        return (torch.randn(shape, generator=gen) * 0.02).half()

    sd = {
        "image_proj.proj.weight": rand(IP_TOKENS * context, CLIP_VISION_DIM),
        "image_proj.proj.bias": torch.zeros(IP_TOKENS * context).half(),
        "image_proj.norm.weight": torch.ones(context).half(),
        "image_proj.norm.bias": torch.zeros(context).half(),
    }
    for n, shape in enumerate(layers):
        sd[f"ip_adapter.{2 * n + 1}.to_k_ip.weight"] = rand(*shape)
        sd[f"ip_adapter.{2 * n + 1}.to_v_ip.weight"] = rand(*shape)
    return sd


def build_controlnet(arch: str, seed: int = 0) -> dict:
    """ComfyUI's ControlNet on the random checkpoint's U-Net config (fp16), ``control_model.`` keys."""
    import torch

    setup_comfy()
    import comfy.cldm.cldm

    if arch == "sd15":
        config = dict(SD15_UNET_CONFIG, transformer_depth=[1, 1, 0, 0, 0, 0, 0, 0], transformer_depth_middle=-1)
    else:
        config = dict(SDXL_UNET_CONFIG)
    for key in ("out_channels", "transformer_depth_output"):
        config.pop(key)
    net = comfy.cldm.cldm.ControlNet(hint_channels=3, **config)
    randomize(net, torch.Generator().manual_seed(seed))  # zero convs random too: a trained ControlNet acts
    return {f"control_model.{k}": v.half().contiguous() for k, v in net.state_dict().items()}


def make_pack_models(tree: Path, sd15: Path, sdxl: Path | None, out: Path, seed: int = 0) -> list[Path]:
    """Write every file above into ``out`` (models/<folder>/ layout: clip_vision, ipadapter, controlnet)."""
    out = Path(out)
    jobs = [
        (out / "clip_vision" / CLIP_VISION_NAME, lambda: build_clip_vision(seed), "CLIP vision ViT-L"),
        (out / "ipadapter" / IPADAPTER_NAMES["sd15"], lambda: build_ipadapter("sd15", sd15, seed), "IPAdapter SD1.5"),
        (out / "controlnet" / CONTROLNET_NAMES["sd15"], lambda: build_controlnet("sd15", seed), "ControlNet SD1.5"),
    ]
    if sdxl is not None:
        jobs += [
            (out / "ipadapter" / IPADAPTER_NAMES["sdxl"], lambda: build_ipadapter("sdxl", sdxl, seed), "IPA SDXL"),
            (out / "controlnet" / CONTROLNET_NAMES["sdxl"], lambda: build_controlnet("sdxl", seed), "CN SDXL"),
        ]
    written = []
    for path, build, arch in jobs:
        if path.is_file():
            logger.info("kept %s", path)
        else:
            write_random(tree, path, build, arch)
        written.append(path)
    return written
