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

from ...lrdm_core.bias_units import bias_decay
from ...lrdm_core.composition import shift_chunks, state_shift
from ...lrdm_core.config import Composition, DeltaSpace, Guidance
from ...lrdm_core.errors import user_error
from ...lrdm_core.guidance import colour_part, default_top_k, guidance_offset, top_k_mean, vp_scale
from ...lrdm_core.raster import canvas_mismatch, composition_weights, paint_order, rasterize
from ...lrdm_core.window import Window, sigma_threshold, step_progress
from .bias import bias_plan, bias_run, install_markers, with_bias
from .capture import capture_maps
from .conds import as_conditional, dress_like_positive
from .keys import BG_KEY, OFFSETS_KEY, ROWS_KEY, RUN_KEY, WRAPPER_KEY, layer_key
from .layered import fuse_at_t0, initial_state, layered_prediction
from .spec import prompt_mismatch
from .state import LRDMSpec, RunState
from .unet import output_cross_attention

log = logging.getLogger("lrdm")

__all__ = ["LRDMSpec", "RunState", "install"]


def install(model, spec: LRDMSpec):
    """Clone `model` and install the LRDM wrappers (and the region-bias markers) on the clone."""
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
    """The region bias's attention markers (nodes/bias.py); no replace key is taken, so every other patch
    keeps its place. The bias itself is handed to the host's attention per evaluation (PredictNoise)."""
    install_markers(m)


class OuterSample:
    """Adds the object (and background) conditionings to the guider's conds for this run only."""

    def __init__(self, spec: LRDMSpec) -> None:
        self.spec = spec

    def __call__(self, executor, *args, **kwargs):
        guider = executor.class_obj
        positive = guider.conds.get("positive")
        extra = {layer_key(i): cond for i, cond in enumerate(self.spec.layer_conds)}
        if self.spec.background_cond is not None:
            extra[BG_KEY] = self.spec.background_cond
        added = []
        if self.spec.config.t0 > 0 or self.spec.config.needs_capture():
            for key, cond in extra.items():  # each with the positive's ControlNet, GLIGEN, area/mask, hooks
                guider.conds[key] = dress_like_positive(comfy.sampler_helpers.convert_cond(cond), positive)
                added.append(key)
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
        transformer_options = extra_args["model_options"].setdefault("transformer_options", {})
        transformer_options[RUN_KEY] = state  # before the capture: ApplyModel checks every U-Net input against it
        try:
            if cfg.needs_capture():
                noise = self._guidance(state, guider, sigmas, extra_args, noise, args[0] if args else None)
            if self.spec.observer is not None:
                self.spec.observer(state)
            if cfg.biased():
                state.bias_window = Window(sigmas, cfg.bias_end, sampler_function)
                state.sigmas = sigmas.detach().float().cpu()
                bias_plan(guider, state)  # now, while conds["positive"] is the global prompt ('fuse' swaps it)
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
        if cfg.guidance is Guidance.STATE and cfg.composition is Composition.SHARED:  # 'fuse' shifts each layer's start
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
            run = bias_run(executor.class_obj, state)
            if run is not None:
                run.decay = bias_decay(step_progress(state.sigmas, sigma), power=state.spec.config.bias_decay)
                model_options = dict(model_options)
                model_options["transformer_options"] = with_bias(model_options["transformer_options"], run)
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
        to = transformer_options or {}
        state: RunState | None = to.get(RUN_KEY)
        if state is not None and tuple(x.shape[-2:]) != tuple(state.masks.shape[-2:]):
            raise tiled_input_error(tuple(x.shape[-2:]), tuple(state.masks.shape[-2:]))
        if to.get(ROWS_KEY) and "cond_or_uncond" in to:  # LRDM's layer rows present themselves as cond rows
            transformer_options = {**to, "cond_or_uncond": as_conditional(to["cond_or_uncond"], to[ROWS_KEY])}
        offsets = to.get(OFFSETS_KEY)
        uuids = to.get("uuids")
        if offsets and uuids:
            x = shift_chunks(x, uuids, offsets)
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)


def tiled_input_error(got: tuple, latent: tuple):
    """The refusal when something (tiled sampling, MultiDiffusion) hands the U-Net part of the latent."""
    return user_error(
        f"the U-Net to see the whole {latent[0]}x{latent[1]} latent in each call (LRDM's regions, offsets and "
        "biases are laid out on it)",
        f"a {got[0]}x{got[1]} input: a node in the graph (tiled / MultiDiffusion sampling, a model-function "
        "wrapper) calls the U-Net on tiles",
        "Use LRDM without tiled sampling (sample the layout first, then upscale or refine the image with the "
        "tiled sampler in a second pass without LRDM).",
    )
