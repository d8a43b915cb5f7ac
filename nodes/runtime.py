"""LRDM inside ComfyUI's sampler: wrappers installed on a ModelPatcher clone (COMFY_API.md).

OUTER_SAMPLE adds the object layers' conditionings to the guider for one run; SAMPLER_SAMPLE runs
the attention capture on x_T and builds the vision guidance; PREDICT_NOISE replaces the noise
prediction inside the layered window (Eq. 8, our reading); APPLY_MODEL adds each layer's offset
xi to its own batch chunk. All per-run state lives in that run's model_options copy, never on the
shared model.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import comfy.model_patcher
import comfy.patcher_extension
import comfy.sampler_helpers
import comfy.samplers
import torch
from comfy.patcher_extension import WrappersMP

from ..lrdm_core.attention import AttentionRecorder
from ..lrdm_core.config import LRDMConfig
from ..lrdm_core.errors import user_error
from ..lrdm_core.guidance import default_top_k, guidance_offset, top_k_mean, vp_scale
from ..lrdm_core.layout import Layout
from ..lrdm_core.raster import composition_weights, paint_order, rasterize
from ..lrdm_core.window import in_window, sigma_threshold
from .capture import CaptureAttention
from .unet import output_cross_attention, select_blocks

log = logging.getLogger("lrdm")

WRAPPER_KEY = "lrdm"
RUN_KEY = "lrdm_run"  # model_options["transformer_options"] key holding the RunState of one run
OFFSETS_KEY = "lrdm_offsets"  # transformer_options key: cond uuid -> input offset for that chunk
BG_KEY = "lrdm_background"


def layer_key(i: int) -> str:
    """The guider conds key of object layer i."""
    return f"lrdm_layer_{i}"


@dataclass(frozen=True)
class LRDMSpec:
    """Everything a run needs: layout, per-object conditionings, token positions and parameters."""

    layout: Layout
    layer_conds: tuple  # one CONDITIONING per object
    background_cond: object | None  # CONDITIONING for the background layer, None = the positive prompt
    prompt_positions: tuple  # per object: context positions in the global prompt, or None
    phrase_positions: tuple  # per object: context positions in its own phrase encoding
    config: LRDMConfig
    observer: object | None = None  # called with the RunState after the capture (stage nodes, tests)


@dataclass
class RunState:
    """Per-run state: window, masks, guidance offsets and the captured maps."""

    spec: LRDMSpec
    threshold: float | None
    masks: torch.Tensor  # [n, H, W] regions on the latent grid
    weights: torch.Tensor  # [n, H, W] composition weights (overlaps resolved)
    bg_weight: torch.Tensor  # [H, W]
    offsets: list[torch.Tensor] | None = None  # xi_i [B, C, H, W], unit-variance units
    maps: torch.Tensor | None = None  # [n, B, H, W] attention maps of the objects at x_T
    layered_calls: int = 0
    extra: dict = field(default_factory=dict)


def install(model, spec: LRDMSpec):
    """Clone `model` and install the LRDM wrappers on the clone (an earlier LRDM patch is replaced)."""
    output_cross_attention(model)  # refuses DiT models with a clear message
    m = model.clone()
    for kind in (WrappersMP.OUTER_SAMPLE, WrappersMP.SAMPLER_SAMPLE, WrappersMP.PREDICT_NOISE,
                 WrappersMP.APPLY_MODEL):
        if m.get_wrappers(kind, WRAPPER_KEY):
            log.warning("LRDM: the model already had an LRDM patch; the new layout replaces it.")
            m.remove_wrappers_with_key(kind, WRAPPER_KEY)
    m.add_wrapper_with_key(WrappersMP.OUTER_SAMPLE, WRAPPER_KEY, OuterSample(spec))
    m.add_wrapper_with_key(WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY, SamplerSample(spec))
    m.add_wrapper_with_key(WrappersMP.PREDICT_NOISE, WRAPPER_KEY, PredictNoise())
    m.add_wrapper_with_key(WrappersMP.APPLY_MODEL, WRAPPER_KEY, ApplyModel())
    return m


class OuterSample:
    """Adds the object (and background) conditionings to the guider's conds for this run only."""

    def __init__(self, spec: LRDMSpec) -> None:
        self.spec = spec

    def __call__(self, executor, *args, **kwargs):
        guider = executor.class_obj
        added = []
        if self.spec.config.t0 > 0:
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
        if threshold is None:
            return executor(guider, sigmas, extra_args, callback, noise, *args, **kwargs)
        latent_image = args[0] if args else kwargs.get("latent_image")
        h, w = noise.shape[-2:]
        masks = rasterize(self.spec.layout, h, w, device=noise.device)  # [n, H, W]
        weights, bg = composition_weights(masks, paint_order(self.spec.layout))
        state = RunState(self.spec, threshold, masks.to(noise.dtype), weights.to(noise.dtype), bg.to(noise.dtype))
        if cfg.needs_capture():
            x_t, noise_gain = _initial_state(guider, sigmas, noise, latent_image)
            state.maps = capture_maps(guider, self.spec, x_t, sigmas[:1].expand(x_t.shape[0]),
                                      extra_args["model_options"])
            x_vp = x_t / vp_scale(float(sigmas[0]))  # [B, C, H, W]
            k = cfg.top_k or default_top_k(h, w)
            state.offsets = [guidance_offset(top_k_mean(x_vp, state.maps[i], k), masks[i],
                                             cfg.strength_in, cfg.strength_out)
                             for i in range(len(masks))]
            if cfg.guidance == "state":
                noise = noise + state_shift(state) * (vp_scale(float(sigmas[0])) / noise_gain)
        if self.spec.observer is not None:
            self.spec.observer(state)
        if cfg.composition == "fuse":
            return fuse_at_t0(executor, state, guider, sigmas, extra_args, callback, noise, *args, **kwargs)
        transformer_options = extra_args["model_options"].setdefault("transformer_options", {})
        transformer_options[RUN_KEY] = state
        try:
            return executor(guider, sigmas, extra_args, callback, noise, *args, **kwargs)
        finally:
            transformer_options.pop(RUN_KEY, None)


def fuse_at_t0(executor, state: RunState, guider, sigmas, extra_args, callback, noise, latent_image=None,
               denoise_mask=None, disable_pbar=False):
    """Authors' mode (choice 1): each layer its own trajectory from its own guided noise to t0, fused once.

    Background from x_T with the background prompt; layer i from x_T + xi_i with its phrase; at t0
    z = z * (1 - M_i) + z_i * M_i, largest region first; then the global prompt to the end.
    """
    if denoise_mask is not None:
        raise user_error("composition 'shared' with a noise mask (inpainting)", "composition 'fuse'",
                         "Use composition 'shared' for inpainting.")
    k = int((sigmas > state.threshold * (1.0 + 1e-5) + 1e-8).sum())  # layered steps
    head, tail = sigmas[: k + 1], sigmas[k:]
    scale = vp_scale(float(sigmas[0]))
    _, gain = _initial_state(guider, sigmas, noise, latent_image)

    def run(conds_key: str | None, start_noise):
        saved = guider.conds["positive"]
        if conds_key is not None:
            guider.conds["positive"] = guider.conds[conds_key]
        try:
            return executor(guider, head, extra_args, callback, start_noise, latent_image, None, disable_pbar)
        finally:
            guider.conds["positive"] = saved

    z = run(BG_KEY if BG_KEY in guider.conds else None, noise)
    masks = state.masks
    for i in paint_order(state.spec.layout):  # bottom (largest) first, small ones end on top
        xi = state.offsets[i] if state.offsets is not None else torch.zeros_like(noise)
        z_i = run(layer_key(i), noise + xi * (scale / gain))
        z = z * (1.0 - masks[i]) + z_i * masks[i]
    state.layered_calls = k
    return executor(guider, tail, extra_args, callback, torch.zeros_like(noise), z, None, disable_pbar)


def _initial_state(guider, sigmas, noise, latent_image) -> tuple[torch.Tensor, float]:
    """x_T as KSAMPLER builds it, and the factor noise is scaled by (comfy/samplers.py KSAMPLER)."""
    ms = guider.inner_model.model_sampling
    sigma_max, s0 = float(ms.sigma_max), float(sigmas[0])
    max_denoise = math.isclose(sigma_max, s0, rel_tol=1e-05) or s0 > sigma_max
    if latent_image is None:
        latent_image = torch.zeros_like(noise)
    x_t = ms.noise_scaling(sigmas[0], noise, latent_image, max_denoise)
    gain = math.sqrt(1.0 + s0 ** 2) if max_denoise else s0
    return x_t, gain


def state_shift(state: RunState) -> torch.Tensor:
    """Guidance 'state' (authors' code, choice 9): one shift of x_T, xi_i inside each layer's weight,
    the sum of all outside terms on the background."""
    total = torch.zeros_like(state.offsets[0])  # [B, C, H, W]
    outside = torch.zeros_like(total)
    for xi, wgt in zip(state.offsets, state.weights, strict=True):
        total = total + xi * wgt
        outside = outside + xi
    return total + outside * state.bg_weight


def capture_maps(guider, spec: LRDMSpec, x_t: torch.Tensor, sigma: torch.Tensor, model_options) -> torch.Tensor:
    """One U-Net evaluation on x_T with capture hooks on the chosen up-blocks: maps [n, B, H, W]."""
    h, w = x_t.shape[-2:]
    recorder = AttentionRecorder(h, w)
    conds, columns, sources = _capture_plan(guider, spec)
    opts = comfy.model_patcher.create_model_options_clone(model_options)
    to = opts.setdefault("transformer_options", {})
    attn2 = to.setdefault("patches_replace", {}).setdefault("attn2", {})
    hooks = []
    for blk in select_blocks(output_cross_attention(guider.model_patcher), spec.config.capture_blocks):
        for idx in range(blk.n_transformers):
            key = ("output", blk.block_id, idx)
            prev = attn2.get(key, attn2.get(("output", blk.block_id)))
            attn2[key] = CaptureAttention(prev, recorder, columns)
            hooks.append(attn2[key])
    with torch.no_grad():
        comfy.samplers.calc_cond_batch(guider.inner_model, conds, x_t, sigma, opts)
    maps = []
    for uid, cols in sources:
        recorded = recorder.maps(uid)  # [B, m, H, W]
        if recorded is None:
            raise RuntimeError("LRDM: the attention capture recorded nothing; is another node replacing "
                               "the U-Net's forward?")
        maps.append(recorded[:, cols].mean(dim=1))  # [B, H, W]
    log.debug("LRDM capture: %d hooks, %d calls", len(hooks), sum(hk.calls for hk in hooks))
    return torch.stack(maps)  # [n, B, H, W]


def _capture_plan(guider, spec: LRDMSpec):
    """Which conds to evaluate and which token columns to record; per object its (uuid, column ids)."""
    source = spec.config.capture_source
    positive = guider.conds.get("positive") or []
    pos_uid = positive[0]["uuid"] if positive else None
    prompt_cols: list[int] = []
    columns: dict[object, list[int]] = {}
    conds: list = []
    sources = []
    for i, pp in enumerate(spec.prompt_positions):
        use_prompt = pp is not None and pos_uid is not None and source != "phrase"
        if source == "prompt" and not use_prompt:
            log.warning("LRDM: %r not found in the global prompt; using its own encoding for its map.",
                        spec.layout.objects[i].phrase)
        if use_prompt:
            idx = []
            for p in pp:
                if p not in prompt_cols:
                    prompt_cols.append(p)
                idx.append(prompt_cols.index(p))
            sources.append((pos_uid, idx))
        else:
            layer = guider.conds[layer_key(i)]
            uid = layer[0]["uuid"]
            columns[uid] = list(spec.phrase_positions[i])
            conds.append(layer[:1])
            sources.append((uid, list(range(len(spec.phrase_positions[i])))))
    if prompt_cols:
        columns[pos_uid] = prompt_cols
        conds.insert(0, positive[:1])
    return conds, columns, sources


class PredictNoise:
    """Inside the layered window: sum_i W_i x0(x + xi_i, y_i) + W_bg x0(x, y_bg), then CFG (Eq. 8)."""

    def __call__(self, executor, x, timestep, model_options, seed=None):
        state: RunState | None = model_options.get("transformer_options", {}).get(RUN_KEY)
        if state is None or not in_window(float(timestep.max()), state.threshold):
            return executor(x, timestep, model_options, seed)
        state.layered_calls += 1
        return layered_prediction(executor.class_obj, state, x, timestep, model_options)


def layered_prediction(guider, state: RunState, x, timestep, model_options):
    """One layered step: one shared unconditional pass, one per layer, one background pass, batched."""
    cfg = state.spec.config
    conds = guider.conds
    positive, negative = conds.get("positive"), conds.get("negative")
    background = conds.get(BG_KEY, positive)
    skip_uncond = math.isclose(guider.cfg, 1.0) and not model_options.get("disable_cfg1_optimization", False)
    uncond = None if skip_uncond else negative
    layers = [conds[layer_key(i)] for i in range(len(state.spec.layer_conds))]
    scale = vp_scale(timestep).to(x.dtype).reshape(-1, 1, 1, 1)  # [B, 1, 1, 1]
    shifts = _input_offsets(state, scale, x.dtype) if cfg.guidance in ("input", "eps") else None
    opts = dict(model_options)
    to = opts["transformer_options"] = dict(model_options.get("transformer_options", {}))
    if shifts is not None:
        to[OFFSETS_KEY] = {e["uuid"]: shifts[i] for i, layer in enumerate(layers) for e in layer}
    outs = comfy.samplers.calc_cond_batch(guider.inner_model, [background, uncond, *layers], x, timestep, opts)
    bg_out, un_out, layer_outs = outs[0], outs[1], outs[2:]
    if cfg.guidance == "eps":  # noise-prediction reading: x0 = x0' - xi (PAPER.md choice 9)
        layer_outs = [o - s for o, s in zip(layer_outs, shifts, strict=True)]
    comp = bg_out * state.bg_weight
    for wgt, out in zip(state.weights, layer_outs, strict=True):
        comp = comp + out * wgt
    for fn in model_options.get("sampler_pre_cfg_function", []):
        comp, un_out = fn({"conds": [background, uncond], "conds_out": [comp, un_out], "cond_scale": guider.cfg,
                           "timestep": timestep, "input": x, "sigma": timestep, "model": guider.inner_model,
                           "model_options": model_options})
    return comfy.samplers.cfg_function(guider.inner_model, comp, un_out, guider.cfg, x, timestep,
                                       model_options=model_options, cond=background, uncond=uncond)


def _input_offsets(state: RunState, scale: torch.Tensor, dtype) -> list[torch.Tensor]:
    """xi_i in the sampler's x units (choice 3: x = x_vp * sqrt(sigma^2 + 1)): [B, C, H, W] each."""
    return [xi.to(dtype) * scale for xi in state.offsets]


class ApplyModel:
    """Adds each layer's offset to its own chunk of the batched U-Net input (identified by cond uuid)."""

    def __call__(self, executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options=None,
                 **kwargs):
        offsets = (transformer_options or {}).get(OFFSETS_KEY)
        uuids = (transformer_options or {}).get("uuids")
        if offsets and uuids:
            x = _shift_chunks(x, uuids, offsets)
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)


def _shift_chunks(x: torch.Tensor, uuids: list, offsets: dict) -> torch.Tensor:
    """x [chunks*B, C, H, W] with offsets[uuid] [B, C, H, W] added to the chunks that have one."""
    per = x.shape[0] // len(uuids)
    parts = list(x.split(per))
    for j, uid in enumerate(uuids):
        off = offsets.get(uid)
        if off is None:
            continue
        if off.shape[-2:] != parts[j].shape[-2:]:
            log.warning("LRDM: a layer conditioning has an area set; its guidance offset is skipped.")
            continue
        parts[j] = parts[j] + off.to(parts[j].dtype)
    return torch.cat(parts)
