"""The LRDM toy model (behind LRDM_ToyModelLoader) in ComfyUI's classes: SD1-style U-Net, tiny CLIP, linear VAE."""

from __future__ import annotations

import copy
import json
from typing import Any

import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.model_sampling
import comfy.sd
import comfy.sd1_clip
import comfy.supported_models_base
import comfy.utils
import safetensors.torch
import torch

DOWNSCALE = 8  # latent side = image side / 8, as on SD1.5
PIXEL = 2  # the toy world is drawn in 2x2 pixel blocks (a 32x32 picture shown at 64x64)
IMAGE_CHANNELS = 3
LATENT_CHANNELS = IMAGE_CHANNELS * (DOWNSCALE // PIXEL) ** 2  # 48: 2x2 block means, pixel-unshuffled by 4
UNET_PREFIX = "model.diffusion_model."
TEXT_PREFIX = "cond_stage_model."
TOKEN_EMBED_KEY = "clip_l.transformer.text_model.embeddings.token_embedding.weight"
SPARSE_IDS_KEY = "lrdm.token_ids"  # rows of the token table that were trained (the caption vocabulary)
SPARSE_ROWS_KEY = "lrdm.token_rows"

# Tiny CLIP-L-shaped text transformer (same vocabulary, positions and special tokens as SD1's CLIP-L).
DEFAULT_TEXT_CONFIG: dict[str, Any] = {
    "architectures": ["CLIPTextModel"],
    "hidden_act": "quick_gelu",
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "max_position_embeddings": 77,
    "projection_dim": 128,
    "vocab_size": 49408,
    "bos_token_id": 0,
    "eos_token_id": 49407,
    "pad_token_id": 1,
    "layer_norm_eps": 1e-05,
    "model_type": "clip_text_model",
}

# SD1-style U-Net: cross-attention transformers in input, middle and output blocks at 8x8 and 4x4 latents.
DEFAULT_UNET_CONFIG: dict[str, Any] = {
    "image_size": 8,
    "in_channels": LATENT_CHANNELS,
    "out_channels": LATENT_CHANNELS,
    "model_channels": 64,
    "num_res_blocks": [1, 1],
    "channel_mult": [1, 2],
    "transformer_depth": [1, 1],
    "transformer_depth_middle": 1,
    "transformer_depth_output": [1, 1, 1, 1],
    "context_dim": 128,
    "num_heads": -1,
    "num_head_channels": 32,
    "use_linear_in_transformer": True,
    "use_spatial_transformer": True,
    "legacy": False,
    "adm_in_channels": None,
    "use_temporal_attention": False,
    "use_temporal_resblock": False,
    "use_checkpoint": False,
}


def default_config() -> dict[str, Any]:
    """A fresh copy of the default toy configuration (unet, text, image size, prediction type)."""
    return {
        "unet": copy.deepcopy(DEFAULT_UNET_CONFIG),
        "text": copy.deepcopy(DEFAULT_TEXT_CONFIG),
        "image_size": 64,
        "prediction": "x0",
    }


class ToyLatentFormat(comfy.latent_formats.LatentFormat):
    """Block-averaged RGB in [-1, 1], pixel-unshuffled: 48 channels at 1/8 size, identity scale."""

    scale_factor = 1.0
    latent_channels = LATENT_CHANNELS

    def __init__(self) -> None:
        # Channel k holds colour k // n (n = 16 sub-pixels per cell): the preview is each cell's mean colour.
        n = LATENT_CHANNELS // IMAGE_CHANNELS
        self.latent_rgb_factors = [[1.0 / n if k // n == c else 0.0 for c in range(3)] for k in range(LATENT_CHANNELS)]


class ToyX0Sampling(comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.X0):
    """SD1's discrete linear schedule; the U-Net predicts the clean latent (ComfyUI's own X0 type)."""


class ToyModelConfig(comfy.supported_models_base.BASE):
    """supported_models-style config of the toy U-Net on SD1's discrete schedule (x0- or v-prediction)."""

    unet_config: dict[str, Any] = {}
    unet_extra_config: dict[str, Any] = {}
    latent_format = ToyLatentFormat
    sampling_settings: dict[str, Any] = {}
    memory_usage_factor = 1.0
    supported_inference_dtypes = [torch.float32, torch.float16, torch.bfloat16]
    prediction = "x0"  # "x0" (shipped model) or "v" (SD2.x-style)

    def model_type(self, state_dict: dict[str, torch.Tensor], prefix: str = "") -> comfy.model_base.ModelType:
        """V_PREDICTION for 'v'; EPS for 'x0' (its model_sampling is replaced in get_model)."""
        if self.prediction == "v":
            return comfy.model_base.ModelType.V_PREDICTION
        return comfy.model_base.ModelType.EPS

    def inpaint_model(self) -> bool:
        """The 48 input channels are the latent, not an inpainting concat (BASE tests in_channels > 4)."""
        return False

    def get_model(self, state_dict: dict, prefix: str = "", device: Any = None) -> comfy.model_base.BaseModel:
        """A BaseModel over UNetModel; x0-prediction swaps in ToyX0Sampling (as the ModelSamplingDiscrete node)."""
        model = comfy.model_base.BaseModel(self, model_type=self.model_type(state_dict, prefix), device=device)
        if self.prediction == "x0":
            model.model_sampling = ToyX0Sampling(self)
        elif self.prediction != "v":
            raise ValueError(f"Unknown toy prediction type {self.prediction!r}. Expected 'x0' or 'v'.")
        return model


def _text_model_class(text_config: dict[str, Any]) -> type:
    """An SD1 CLIP text-model class bound to a tiny config."""

    class ToyTextModel(comfy.sd1_clip.SDClipModel):
        """SD1's CLIP text encoder class with a tiny transformer; last layer, final layer norm."""

        def __init__(
            self, device: str = "cpu", dtype: torch.dtype | None = None, model_options: dict | None = None
        ) -> None:
            super().__init__(
                device=device,
                dtype=dtype,
                textmodel_json_config=copy.deepcopy(text_config),
                return_projected_pooled=False,
                model_options=model_options or {},
            )

    return ToyTextModel


def clip_target(text_config: dict[str, Any]) -> comfy.supported_models_base.ClipTarget:
    """ClipTarget: the real SD1 (CLIP-L) tokenizer and a tiny SD1ClipModel."""
    width = int(text_config["hidden_size"])
    text_cls = _text_model_class(text_config)

    class ToySDTokenizer(comfy.sd1_clip.SDTokenizer):
        """SD1's CLIP-L tokenizer; embeddings (textual inversion) sized to the tiny width."""

        def __init__(self, embedding_directory: str | None = None, tokenizer_data: dict | None = None) -> None:
            super().__init__(
                embedding_directory=embedding_directory,
                embedding_size=width,
                tokenizer_data=tokenizer_data or {},
            )

    class ToyTokenizer(comfy.sd1_clip.SD1Tokenizer):
        """SD1Tokenizer wrapper (key 'l', like SD1.5)."""

        def __init__(self, embedding_directory: str | None = None, tokenizer_data: dict | None = None) -> None:
            super().__init__(
                embedding_directory=embedding_directory,
                tokenizer_data=tokenizer_data or {},
                tokenizer=ToySDTokenizer,
            )

    class ToyClipModel(comfy.sd1_clip.SD1ClipModel):
        """SD1ClipModel holding the tiny text model under clip_l."""

        def __init__(
            self,
            device: str = "cpu",
            dtype: torch.dtype | None = None,
            model_options: dict | None = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(
                device=device, dtype=dtype, model_options=model_options or {}, clip_model=text_cls, **kwargs
            )

    return comfy.supported_models_base.ClipTarget(ToyTokenizer, ToyClipModel)


class BlockAE(torch.nn.Module):
    """Fixed linear 'autoencoder': 2x2 block mean + pixel-unshuffle by 4 (encode), the exact inverse on
    2x2-block images (decode: pixel-shuffle + nearest 2x upsample). encode(decode(z)) == z for every z."""

    def __init__(self, downscale: int = DOWNSCALE, pixel: int = PIXEL) -> None:
        super().__init__()
        self.pixel = pixel
        self.factor = downscale // pixel

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [-1, 1] -> [B, 48, H/8, W/8]."""
        x = torch.nn.functional.avg_pool2d(x, self.pixel)  # [B, 3, H/2, W/2]
        return torch.nn.functional.pixel_unshuffle(x, self.factor)  # [B, 48, H/8, W/8]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """[B, 48, h, w] -> [B, 3, 8h, 8w] in [-1, 1] (not clamped here)."""
        x = torch.nn.functional.pixel_shuffle(z, self.factor)  # [B, 3, 4h, 4w]
        return x.repeat_interleave(self.pixel, dim=2).repeat_interleave(self.pixel, dim=3)  # [B, 3, 8h, 8w]


class ToyVAE:
    """A plain module behind the host's VAE interface (encode/decode as comfy.sd.VAE): the stock
    VAEEncode/VAEDecode nodes call only these, so no host internals are set or relied on."""

    downscale_ratio = DOWNSCALE
    upscale_ratio = DOWNSCALE
    latent_channels = LATENT_CHANNELS
    latent_dim = 2
    output_channels = IMAGE_CHANNELS

    def __init__(self, device: torch.device | None = None) -> None:
        self.first_stage_model = BlockAE().eval()  # the name comfy.sd.VAE uses; tools read it
        self.device = device if device is not None else torch.device("cpu")  # linear, tiny: never worth moving
        self.output_device = comfy.model_management.intermediate_device()

    def _crop(self, pixels: torch.Tensor) -> torch.Tensor:
        """[B, H, W, C] -> centre-cropped to a multiple of 8 and the first 3 channels (as comfy.sd.VAE)."""
        for dim in (1, 2):
            size = pixels.shape[dim]
            keep = (size // DOWNSCALE) * DOWNSCALE
            if keep != size:
                pixels = pixels.narrow(dim, (size % DOWNSCALE) // 2, keep)
        return pixels[..., :IMAGE_CHANNELS]

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """IMAGE [B, H, W, C] in [0, 1] -> latent [B, 48, H/8, W/8]."""
        x = self._crop(pixels).movedim(-1, 1).to(self.device, torch.float32)  # [B, 3, H, W]
        with torch.no_grad():
            z = self.first_stage_model.encode(x * 2.0 - 1.0)  # [B, 48, H/8, W/8]
        return z.to(self.output_device)

    def decode(self, samples: torch.Tensor, vae_options: dict | None = None) -> torch.Tensor:
        """Latent [B, 48, h, w] -> IMAGE [B, 8h, 8w, 3] in [0, 1]."""
        if samples.ndim == 5:  # [B, C, 1, h, w] from video-shaped latents
            samples = samples[:, :, 0]
        with torch.no_grad():
            x = self.first_stage_model.decode(samples.to(self.device, torch.float32))  # [B, 3, 8h, 8w]
        return ((x + 1.0) / 2.0).clamp(0.0, 1.0).movedim(1, -1).to(self.output_device)  # [B, 8h, 8w, 3]

    def encode_tiled(self, pixels: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Tiles give the same result on a per-block linear map: one pass."""
        return self.encode(pixels)

    def decode_tiled(self, samples: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Tiles give the same result on a per-block linear map: one pass."""
        return self.decode(samples)

    def spacial_compression_encode(self) -> int:
        """Pixels per latent cell (the host's spelling)."""
        return DOWNSCALE

    def spacial_compression_decode(self) -> int:
        """Pixels per latent cell (the host's spelling)."""
        return DOWNSCALE

    def temporal_compression_decode(self) -> None:
        """Not a video VAE."""
        return None

    def throw_exception_if_invalid(self) -> None:
        """Always valid: the weights are fixed."""

    def get_sd(self) -> dict[str, torch.Tensor]:
        """No weights (VAESave writes an empty file)."""
        return {}

    def model_size(self) -> int:
        """No weights to load."""
        return 0

    def is_dynamic(self) -> bool:
        """Never loaded through the host's model management."""
        return False


def build_model(
    config: dict[str, Any],
    state_dict: dict[str, torch.Tensor] | None = None,
    dtype: torch.dtype | None = None,
) -> comfy.model_patcher.ModelPatcher:
    """ModelPatcher over a BaseModel with the toy U-Net; weights from `state_dict` (U-Net keys, no prefix)."""
    model_config = ToyModelConfig(config["unet"])
    model_config.prediction = config.get("prediction", "v")
    load_device = comfy.model_management.get_torch_device()
    if dtype is None:
        dtype = comfy.model_management.unet_dtype(supported_dtypes=model_config.supported_inference_dtypes)
    manual_cast = comfy.model_management.unet_manual_cast(dtype, load_device, model_config.supported_inference_dtypes)
    model_config.set_inference_dtype(dtype, manual_cast)
    model = model_config.get_model({}, device=torch.device("cpu"))
    if state_dict is not None:
        missing, unexpected = model.diffusion_model.load_state_dict(state_dict, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"Toy U-Net weights do not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}."
            )
    return comfy.model_patcher.ModelPatcher(
        model, load_device=load_device, offload_device=comfy.model_management.unet_offload_device()
    )


def build_clip(
    config: dict[str, Any],
    state_dict: dict[str, torch.Tensor] | None = None,
    dtype: torch.dtype | None = None,
) -> comfy.sd.CLIP:
    """comfy.sd.CLIP: the real SD1 tokenizer, the tiny text model; weights keyed 'clip_l.transformer...'."""
    options = {} if dtype is None else {"dtype": dtype}
    clip = comfy.sd.CLIP(target=clip_target(config["text"]), model_options=options)
    if state_dict is not None:
        missing, unexpected = clip.cond_stage_model.load_state_dict(state_dict, strict=False)
        missing = [k for k in missing if not k.endswith(("position_ids", "logit_scale"))]
        if missing or unexpected:
            raise ValueError(
                f"Toy text weights do not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}."
            )
    return clip


def _split_state_dict(sd: dict[str, torch.Tensor], text_width: int) -> tuple[dict, dict]:
    """Split a toy checkpoint into U-Net and text state dicts; expand the sparse token table."""
    unet = {k[len(UNET_PREFIX) :]: v for k, v in sd.items() if k.startswith(UNET_PREFIX)}
    text = {k[len(TEXT_PREFIX) :]: v for k, v in sd.items() if k.startswith(TEXT_PREFIX)}
    if SPARSE_IDS_KEY in sd:
        ids, rows = sd[SPARSE_IDS_KEY].long(), sd[SPARSE_ROWS_KEY]
        table = torch.zeros(DEFAULT_TEXT_CONFIG["vocab_size"], text_width, dtype=rows.dtype)  # [V, D]
        table[ids] = rows
        text[TOKEN_EMBED_KEY] = table
    return unet, text


def load_toy(path: str, dtype: torch.dtype | None = None) -> tuple[Any, comfy.sd.CLIP, ToyVAE, dict[str, Any]]:
    """Load (MODEL patcher, CLIP, VAE, metadata) from a toy safetensors checkpoint."""
    sd, metadata = comfy.utils.load_torch_file(path, safe_load=True, return_metadata=True)
    metadata = metadata or {}
    config = json.loads(metadata["lrdm_config"]) if "lrdm_config" in metadata else default_config()
    unet_sd, text_sd = _split_state_dict(sd, int(config["text"]["hidden_size"]))
    model = build_model(config, unet_sd, dtype=dtype)
    clip = build_clip(config, text_sd, dtype=dtype)
    return model, clip, ToyVAE(), metadata


def save_toy(
    path: str,
    model: Any,
    clip: comfy.sd.CLIP,
    config: dict[str, Any],
    token_ids: list[int],
    info: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float16,
) -> None:
    """Save U-Net + text model (only the trained `token_ids` rows of the token table) to safetensors."""
    base = model.model if hasattr(model, "model") else model
    out: dict[str, torch.Tensor] = {}
    for k, v in base.diffusion_model.state_dict().items():
        out[UNET_PREFIX + k] = v.detach().to(dtype).contiguous()
    for k, v in clip.cond_stage_model.state_dict().items():
        if k == TOKEN_EMBED_KEY:
            ids = torch.tensor(sorted(set(token_ids)), dtype=torch.int64)  # [n]
            out[SPARSE_IDS_KEY] = ids
            out[SPARSE_ROWS_KEY] = v.detach()[ids].to(dtype).contiguous()  # [n, D]
        elif not k.endswith(("position_ids", "logit_scale")):
            out[TEXT_PREFIX + k] = v.detach().to(dtype).contiguous()
    meta = {"lrdm_config": json.dumps(config), "format": "lrdm-toy-1", **(info or {})}
    safetensors.torch.save_file(out, path, metadata=meta)
