"""ComfyUI tier: the real ComfyUI imported in-process, tiny SD1.x / SD2.x (v) / SDXL-family models in memory.

The ComfyUI tree comes from $COMFYUI_PATH (set by the Makefile: a user's install or .host/ComfyUI).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tools") not in sys.path:
    sys.path.insert(0, str(REPO / "tools"))

from hostkit import bootstrap  # noqa: E402
from hostkit.randomweights import randomize  # noqa: E402

try:
    bootstrap.setup_comfy(device="cuda" if torch.cuda.is_available() else "cpu")
except FileNotFoundError as e:
    pytest.exit(str(e), returncode=2)

import comfy.model_base  # noqa: E402
import comfy.model_management  # noqa: E402
import comfy.model_patcher  # noqa: E402
import comfy.sd  # noqa: E402
import comfy.sd1_clip  # noqa: E402
import comfy.supported_models  # noqa: E402
import comfy.supported_models_base  # noqa: E402

# The tiny models are bound by per-op overhead, not arithmetic: one intra-op thread is as fast on an idle
# machine and 5-10x faster on a shared one (measured on the 2-core CI machine with a training job on one core).
torch.set_num_threads(int(os.environ.get("LRDM_TEST_THREADS", "1")))

TINY_CONTEXT = 64


def load_pack():
    """The repo imported as the package lrdm_pack, every submodule of nodes/ and lrdm_core/ with it."""
    return bootstrap.load_pack(walk=True)


def bench_module(name: str, path: Path):
    """A bench script as a module, imported once (bench/ is no package)."""
    import importlib.util

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def _init_weights(module: torch.nn.Module, seed: int) -> None:
    """ComfyUI skips weight init: the random checkpoints' fill (hostkit.randomweights), seeded."""
    randomize(module, torch.Generator().manual_seed(seed))


def _unet_config(**over) -> dict:
    """A small SD1.5-shaped U-Net: 3 resolutions, cross-attention at each, 2 output blocks per level."""
    cfg = {
        "image_size": 32,
        "in_channels": 4,
        "out_channels": 4,
        "model_channels": 32,
        "num_res_blocks": [1, 1, 1],
        "channel_mult": [1, 2, 2],
        "transformer_depth": [1, 1, 1],
        "transformer_depth_output": [1, 1, 1, 1, 1, 1],
        "transformer_depth_middle": 1,
        "context_dim": TINY_CONTEXT,
        "num_head_channels": 8,
        "num_heads": -1,
        "use_linear_in_transformer": False,
        "adm_in_channels": None,
        "use_spatial_transformer": True,
        "legacy": False,
        "use_temporal_attention": False,
        "use_temporal_resblock": False,
        "dtype": torch.float32,
    }
    cfg.update(over)
    return cfg


def build_model(kind: str = "sd15", seed: int = 0, dtype=torch.float32) -> comfy.model_patcher.ModelPatcher:
    """A tiny model of the family: 'sd15' (eps), 'sd21v' (v-prediction) or 'sdxl' (3-tuple blocks, adm)."""
    if kind == "sd15":
        config = comfy.supported_models.SD15(_unet_config(dtype=dtype))
        model = config.get_model({})
    elif kind == "sd21v":
        config = comfy.supported_models.SD20(
            _unet_config(use_linear_in_transformer=True, model_channels=64)
        )  # SD2 heads: ch // 64
        model = comfy.model_base.BaseModel(config, model_type=comfy.model_base.ModelType.V_PREDICTION)
    elif kind == "sdxl":
        cfg = _unet_config(
            transformer_depth=[0, 2, 2],
            transformer_depth_output=[0, 0, 2, 2, 2, 2],
            transformer_depth_middle=2,
            use_linear_in_transformer=True,
            adm_in_channels=TINY_CONTEXT + 6 * 256,
            num_classes="sequential",
        )
        config = comfy.supported_models.SDXL(cfg)
        model = config.get_model({})
    else:
        raise ValueError(kind)
    _init_weights(model.diffusion_model, seed)
    model.diffusion_model.to(dtype)
    dev = comfy.model_management.get_torch_device()
    return comfy.model_patcher.ModelPatcher(
        model, load_device=dev, offload_device=comfy.model_management.unet_offload_device()
    )


def build_clip(seed: int = 0) -> comfy.sd.CLIP:
    """A random tiny CLIP text model with the real SD1 tokenizer (hidden size = TINY_CONTEXT)."""
    target = comfy.supported_models_base.ClipTarget(comfy.sd1_clip.SD1Tokenizer, comfy.sd1_clip.SD1ClipModel)
    target.params = dict(
        clip_model=comfy.sd1_clip.SDClipModel,
        textmodel_json_config={
            "architectures": ["CLIPTextModel"],
            "attention_dropout": 0.0,
            "bos_token_id": 0,
            "dropout": 0.0,
            "eos_token_id": 49407,
            "hidden_act": "quick_gelu",
            "hidden_size": TINY_CONTEXT,
            "initializer_factor": 1.0,
            "initializer_range": 0.02,
            "intermediate_size": 4 * TINY_CONTEXT,
            "layer_norm_eps": 1e-05,
            "max_position_embeddings": 77,
            "model_type": "clip_text_model",
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "pad_token_id": 1,
            "projection_dim": TINY_CONTEXT,
            "vocab_size": 49408,
        },
    )
    clip = comfy.sd.CLIP(target=target)
    _init_weights(clip.cond_stage_model, seed + 1)
    return clip


@pytest.fixture(scope="session")
def pack():
    """The LRDM pack imported as a package (lrdm_pack)."""
    return load_pack()


@pytest.fixture(scope="session")
def sd15():
    return build_model("sd15")


@pytest.fixture(scope="session")
def sdxl():
    return build_model("sdxl")


@pytest.fixture(scope="session")
def clip():
    return build_clip()
