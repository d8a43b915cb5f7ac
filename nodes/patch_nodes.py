"""LRDM for any sampler: a MODEL patch (stock KSampler) and a GUIDER (SamplerCustomAdvanced)."""

from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from ..lrdm_core.config import LRDMConfig
from ..lrdm_core.layout import Layout
from .host.runtime import install
from .host.spec import build_spec
from .params import ChecksBiases, cfg_input, method_inputs, model_inputs

PATCH_PROMPT = (
    "The global prompt as typed into the positive CLIPTextEncode; used to find each object's tokens for its "
    "attention map. Empty = use each phrase's own encoding."
)

OBJECT_CONDS = io.Conditioning.Input(
    "objects_conditioning",
    optional=True,
    tooltip="Optional: one conditioning entry per object, in layout order (chain Conditioning (Combine)); "
    "replaces the phrase encodings so embeddings and prompt weights work per object.",
)


class ApplyLayout(ChecksBiases, io.ComfyNode):
    """MODEL patch: the stock KSampler (or any sampler) then renders the layout with LRDM."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="LRDM_ApplyLayout",
            display_name="LRDM Apply Layout (model patch)",
            category="lrdm/sampling",
            description="Patches a clone of the model so that any sampler places the layout's objects in their "
            "regions (LRDiff: attention capture, vision guidance, layered rendering for the first t0 "
            "of the steps, then the global prompt). Chains with LoRAs and other patches.",
            inputs=[*model_inputs(PATCH_PROMPT), *method_inputs(), OBJECT_CONDS],
            outputs=[io.Model.Output(display_name="model")],
        )

    @classmethod
    def execute(cls, model, clip, layout: Layout, prompt: str, objects_conditioning=None, **kw) -> io.NodeOutput:
        config = LRDMConfig(**kw)
        spec = build_spec(clip, layout, prompt, config, objects_conditioning)
        return io.NodeOutput(install(model, spec))


class Guider(ChecksBiases, io.ComfyNode):
    """GUIDER for SamplerCustomAdvanced: CFG with the global prompt plus LRDM's layered rendering."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="LRDM_Guider",
            display_name="LRDM Guider",
            category="lrdm/sampling",
            description="A CFG guider whose model renders the layout with LRDM; plug into SamplerCustomAdvanced "
            "with any noise, sampler and sigmas.",
            inputs=[
                *model_inputs(PATCH_PROMPT),
                io.Conditioning.Input("positive", tooltip="The global prompt's conditioning."),
                io.Conditioning.Input("negative", tooltip="The negative (unconditional) conditioning."),
                cfg_input(),
                *method_inputs(),
                OBJECT_CONDS,
            ],
            outputs=[io.Guider.Output(display_name="guider")],
        )

    @classmethod
    def execute(
        cls,
        model,
        clip,
        layout: Layout,
        prompt: str,
        positive,
        negative,
        cfg: float,
        objects_conditioning=None,
        **kw,
    ) -> io.NodeOutput:
        config = LRDMConfig(**kw)
        spec = build_spec(clip, layout, prompt, config, objects_conditioning)
        guider = comfy.samplers.CFGGuider(install(model, spec))
        guider.set_conds(positive, negative)
        guider.set_cfg(cfg)
        return io.NodeOutput(guider)
