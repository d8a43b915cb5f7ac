"""LRDM_ToyModelLoader: the pack's small trained model (models/lrdm_toy*.safetensors) as MODEL, CLIP and VAE."""

from __future__ import annotations

import os

from comfy_api.latest import io

from .host.toy_model import load_toy

MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")
DEFAULT_WEIGHTS = "lrdm_toy.safetensors"


def available_weights() -> list[str]:
    """Toy checkpoints shipped in the pack's models/ folder."""
    if not os.path.isdir(MODELS_DIR):
        return [DEFAULT_WEIGHTS]
    found = sorted(f for f in os.listdir(MODELS_DIR) if f.startswith("lrdm_toy") and f.endswith(".safetensors"))
    return found or [DEFAULT_WEIGHTS]


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
        path = os.path.join(MODELS_DIR, weights)
        if not os.path.isfile(path):
            raise ValueError(f"Toy weights not found: {path}. Expected a file in {MODELS_DIR}.")
        model, clip, vae, _ = load_toy(path)
        return io.NodeOutput(model, clip, vae)


TOY_NODES: list[type[io.ComfyNode]] = [ToyModelLoader]
