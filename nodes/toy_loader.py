"""LRDM_ToyModelLoader: the pack's small trained model (models/lrdm_toy*.safetensors) as MODEL, CLIP and VAE."""

from __future__ import annotations

import os

from comfy_api.latest import io

from ..lrdm_core.errors import quote, user_error
from .host.toy_model import load_toy

MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")
DEFAULT_WEIGHTS = "lrdm_toy.safetensors"


def available_weights() -> list[str]:
    """Toy checkpoints shipped in the pack's models/ folder (files that resolve inside it; no symlinks out)."""
    if not os.path.isdir(MODELS_DIR):
        return [DEFAULT_WEIGHTS]
    found = sorted(
        f
        for f in os.listdir(MODELS_DIR)
        if f.startswith("lrdm_toy") and f.endswith(".safetensors") and _inside_models(f) is not None
    )
    return found or [DEFAULT_WEIGHTS]


def _inside_models(name: str) -> str | None:
    """The real path of `name` when it resolves to a file directly inside MODELS_DIR, else None."""
    root = os.path.realpath(MODELS_DIR)
    path = os.path.realpath(os.path.join(root, name))
    return path if os.path.dirname(path) == root and os.path.isfile(path) else None


def resolve_weights(name: object) -> str:
    """The path of a listed toy checkpoint. Any other value (absolute, '../', a symlink out) is refused
    before its path is touched, with one message whether or not such a file exists."""
    listed = available_weights()
    if not isinstance(name, str) or name not in listed:
        raise user_error(
            f"one of the toy checkpoints in the pack's models folder ({', '.join(listed)})",
            quote(name),
            "Pick the weights from the node's list; other paths are not read.",
        )
    path = _inside_models(name)
    if path is None:  # only the default name is listed without its file
        raise user_error(
            f"the toy checkpoint models/{name} in the pack",
            "no such file",
            "Reinstall the pack (the file ships with it) or train one with scripts/train_toy.py.",
        )
    return path


class ToyModelLoader(io.ComfyNode):
    """Loads the LRDM toy text-to-image model (64x64 coloured shapes) as MODEL, CLIP and VAE."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        """Node schema: one weights choice in, MODEL/CLIP/VAE out."""
        return io.Schema(
            node_id="LRDM_ToyModelLoader",
            display_name="LRDM Toy Model Loader",
            category="lrdm/toy",
            description=(
                "Loads the pack's small trained text-to-image model: red/green/blue/yellow circles, "
                "squares and triangles at random places on a plain background, 64x64 pixels "
                "(8x8 latent of 48 channels). "
                "It runs through the stock CLIPTextEncode, EmptyLatentImage (64x64), KSampler and VAEDecode "
                "nodes and exists to measure layout control without Stable Diffusion weights."
            ),
            inputs=[
                io.Combo.Input(
                    "weights",
                    options=available_weights(),
                    default=DEFAULT_WEIGHTS,
                    tooltip="Toy checkpoint from the pack's models/ folder (lrdm_toy*.safetensors).",
                ),
            ],
            outputs=[
                io.Model.Output(tooltip="The toy U-Net (x0-prediction, SD1-style cross-attention)."),
                io.Clip.Output(tooltip="Tiny CLIP text model behind the real SD1 tokenizer."),
                io.Vae.Output(tooltip="Fixed linear VAE: 2x2 block means, pixel-unshuffled (48 x H/8 x W/8)."),
            ],
        )

    @classmethod
    def execute(cls, weights: str) -> io.NodeOutput:
        """Load the chosen checkpoint."""
        model, clip, vae, _ = load_toy(resolve_weights(weights))
        return io.NodeOutput(model, clip, vae)


TOY_NODES: list[type[io.ComfyNode]] = [ToyModelLoader]
