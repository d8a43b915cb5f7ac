"""LRDM inside ComfyUI's sampler: wrappers installed on a ModelPatcher clone (METHOD.md 'In ComfyUI').

OUTER_SAMPLE adds the object layers' conditionings to the guider for one run; SAMPLER_SAMPLE runs
the attention capture on x_T and builds the vision guidance; PREDICT_NOISE replaces the prediction
inside the layered window (Eq. 8, our reading) and turns the region bias on after it; APPLY_MODEL
adds each layer's offset xi to its own batch chunk. Per-run state lives in that run's model_options
copy, never on the shared model.
"""

from __future__ import annotations

import logging

import comfy.sampler_helpers
import torch
from comfy.patcher_extension import WrappersMP

from ...lrdm_core.composition import shift_chunks, state_shift
from ...lrdm_core.config import Composition, DeltaSpace, Guidance
from ...lrdm_core.guidance import colour_part, default_top_k, guidance_offset, top_k_mean, vp_scale
from ...lrdm_core.raster import canvas_mismatch, composition_weights, paint_order, rasterize
from ...lrdm_core.window import Window, sigma_threshold
from .bias import RegionBias, bias_plan
from .capture import capture_maps
from .keys import BG_KEY, BIAS_KEY, OFFSETS_KEY, RUN_KEY, WRAPPER_KEY, layer_key
from .layered import fuse_at_t0, initial_state, layered_prediction
from .spec import prompt_mismatch
from .state import LRDMSpec, RunState
from .unet import all_cross_attention, output_cross_attention

log = logging.getLogger("lrdm")

__all__ = ["LRDMSpec", "RunState", "install"]


def install(model, spec: LRDMSpec):
    """Clone `model` and install the LRDM wrappers (and the region-bias replaces) on the clone."""
    output_cross_attention(model)  # refuses DiT models with a clear message
    m = model.clone()
    kinds = (WrappersMP.OUTER_SAMPLE, WrappersMP.SAMPLER_SAMPLE, WrappersMP.PREDICT_NOISE, WrappersMP.APPLY_MODEL)
    if any(m.get_wrappers(kind, WRAPPER_KEY) for kind in kinds):
        log.warning("LRDM: the model already had an LRDM patch; the new layout replaces it.")
        for kind in kinds:
            m.remove_wrappers_with_key(kind, WRAPPER_KEY)
    m.add_wrapper_with_key(WrappersMP.OUTER_SAMPLE, WRAPPER_KEY, OuterSample(spec))
    m.add_wrapper_with_key(WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY, SamplerSample(spec))
    m.add_wrapper_with_key(WrappersMP.PREDICT_NOISE, WRAPPER_KEY, PredictNoise())
    m.add_wrapper_with_key(WrappersMP.APPLY_MODEL, WRAPPER_KEY, ApplyModel())
    if spec.config.biased():
        _install_bias(m, spec.config)
    return m


def _install_bias(m, config) -> None:
    """RegionBias replaces on every cross-attention transformer (attn2 for attn_bias, attn1 for self_bias),
    chained with what is there."""
    replaces = m.model_options.setdefault("transformer_options", {}).setdefault("patches_replace", {})
    layers = [(block, block_id, idx) for block, block_id, n in all_cross_attention(m) for idx in range(n)]
    kinds = [kind for kind, on in (("attn2", config.attn_bias), ("attn1", config.self_bias)) if on]
    kept = 0
    for kind in kinds:
        there = replaces.get(kind, {})
        for block, block_id, idx in layers:
            prev = there.get((block, block_id, idx), there.get((block, block_id)))
            if isinstance(prev, RegionBias):
                prev = prev.previous
            kept += prev is not None
            m.set_model_patch_replace(RegionBias(prev, kind), kind, block, block_id, idx)
    if kept:  # RegionBias cannot bias another node's attention: that node's replace runs there unchanged
        log.warning(
            "LRDM: the region bias skips %d of %d attention layers that another node (e.g. IPAdapter) already "
            "replaces; that node's attention runs there unchanged.",
            kept,
            len(layers) * len(kinds),
        )


class OuterSample:
    """Adds the object (and background) conditionings to the guider's conds for this run only."""

    def __init__(self, spec: LRDMSpec) -> None:
        self.spec = spec

    def __call__(self, executor, *args, **kwargs):
        guider = executor.class_obj
        added = []
        if self.spec.config.t0 > 0 or self.spec.config.needs_capture():
            for i, cond in enumerate(self.spec.layer_conds):
                guider.conds[layer_key(i)] = comfy.sampler_helpers.convert_cond(cond)
                added.append(layer_key(i))
            if self.spec.background_cond is not None:
                guider.conds[BG_KEY] = comfy.sampler_helpers.convert_cond(self.spec.background_cond)
                added.append(BG_KEY)
        try:
            return executor(*args, **kwargs)
        finally:
            for key in added:
                guider.conds.pop(key, None)


class SamplerSample:
    """Before the first step: rasterise the layout, capture attention on x_T, build xi (Eq. 6)."""

    def __init__(self, spec: LRDMSpec) -> None:
        self.spec = spec

    def __call__(self, executor, guider, sigmas, extra_args, callback, noise, *args, **kwargs):
        cfg = self.spec.config
        threshold = sigma_threshold(sigmas, cfg.t0)
        if threshold is None and not cfg.biased() and not cfg.needs_capture():
            return executor(guider, sigmas, extra_args, callback, noise, *args, **kwargs)
        mismatch = prompt_mismatch(self.spec.prompt_reference, guider.conds.get("positive") or [])
        if mismatch:
            log.warning("LRDM: %s", mismatch)
        h, w = noise.shape[-2:]
        stretched = canvas_mismatch(self.spec.layout, h, w)
        if stretched:
            log.warning("LRDM: %s", stretched)
        masks = rasterize(self.spec.layout, h, w, device=noise.device)  # [n, H, W]
        weights, bg = composition_weights(masks, paint_order(self.spec.layout))
        state = RunState(self.spec, threshold, masks.to(noise.dtype), weights.to(noise.dtype), bg.to(noise.dtype))
        sampler_function = getattr(executor.class_obj, "sampler_function", None)
        state.window = Window(sigmas, cfg.t0, sampler_function)
        if cfg.needs_capture():
            noise = self._guidance(state, guider, sigmas, extra_args, noise, args[0] if args else None)
        if self.spec.observer is not None:
            self.spec.observer(state)
        if cfg.biased():
            state.bias_threshold = sigma_threshold(sigmas, cfg.bias_end)
            state.bias_window = Window(sigmas, cfg.bias_end, sampler_function)
            bias_plan(guider, state)  # now, while conds["positive"] is the global prompt ('fuse' swaps it)
        transformer_options = extra_args["model_options"].setdefault("transformer_options", {})
        transformer_options[RUN_KEY] = state
        try:
            if threshold is not None and cfg.composition is Composition.FUSE:
                return fuse_at_t0(executor, state, guider, sigmas, extra_args, callback, noise, *args, **kwargs)
            return executor(guider, sigmas, extra_args, callback, noise, *args, **kwargs)
        finally:
            transformer_options.pop(RUN_KEY, None)

    def _guidance(self, state: RunState, guider, sigmas, extra_args, noise, latent_image):
        """Capture maps on x_T, delta from the top-K locations, xi per object; the noise, shifted in 'state' mode."""
        cfg = self.spec.config
        x_t, noise_gain = initial_state(guider, sigmas, noise, latent_image)
        state.maps = capture_maps(guider, self.spec, x_t, sigmas[:1].expand(x_t.shape[0]), extra_args["model_options"])
        x_vp = x_t / vp_scale(float(sigmas[0]))  # [B, C, H, W]
        k = cfg.top_k or default_top_k(*x_t.shape[-2:])
        rgb = _rgb_factors(guider, x_t) if cfg.delta_space is DeltaSpace.RGB else None
        state.offsets = []
        for i in range(len(state.masks)):
            delta = top_k_mean(x_vp, state.maps[i], k)  # [B, C]
            if rgb is not None:
                delta = colour_part(delta, rgb)
            state.offsets.append(guidance_offset(delta, state.masks[i], cfg.strength, cfg.strength_out))
        if cfg.guidance is Guidance.STATE and cfg.composition is Composition.SHARED:  # 'fuse' shifts each start
            return noise + state_shift(state.offsets, state.weights) * (vp_scale(float(sigmas[0])) / noise_gain)
        return noise


def _rgb_factors(guider, x):
    """The model's latent->RGB preview factors [C, 3] (comfy/latent_formats.py), or None with a warning."""
    factors = getattr(guider.model_patcher.model.latent_format, "latent_rgb_factors", None)
    if factors is None or len(factors) != x.shape[1]:
        log.warning("LRDM: this model has no latent->RGB factors; delta_space 'rgb' falls back to 'latent'.")
        return None
    return torch.tensor(factors, device=x.device, dtype=torch.float32)  # [C, 3]


class PredictNoise:
    """Layered prediction inside the window; plain CFG after it (with the region bias when it is on)."""

    def __call__(self, executor, x, timestep, model_options, seed=None):
        state: RunState | None = model_options.get("transformer_options", {}).get(RUN_KEY)
        if state is None:
            return executor(x, timestep, model_options, seed)
        sigma = float(timestep.max())
        if state.spec.config.biased() and state.bias_window.contains(sigma):
            # first bias_end of the steps: the global prompt's chunks (the window's background pass too)
            plan = bias_plan(executor.class_obj, state)
            if plan is not None:
                model_options = dict(model_options)
                model_options["transformer_options"] = {
                    **model_options["transformer_options"],
                    BIAS_KEY: plan,
                }
        if state.spec.config.composition is Composition.SHARED and state.window.contains(sigma):
            state.layered_calls += 1
            return layered_prediction(executor.class_obj, state, x, timestep, model_options)
        return executor(x, timestep, model_options, seed)


class ApplyModel:
    """Adds each layer's offset to its own chunk of the batched U-Net input (identified by cond uuid)."""

    def __call__(
        self,
        executor,
        x,
        t,
        c_concat=None,
        c_crossattn=None,
        control=None,
        transformer_options=None,
        **kwargs,
    ):
        offsets = (transformer_options or {}).get(OFFSETS_KEY)
        uuids = (transformer_options or {}).get("uuids")
        if offsets and uuids:
            x = shift_chunks(x, uuids, offsets)
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)
