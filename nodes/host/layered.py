"""Layered rendering (LRDiff Eq. 8, Algorithm 1) on ComfyUI's conds and sampler."""

from __future__ import annotations

import logging
import math
import uuid

import comfy.samplers
import torch

from ...lrdm_core.composition import SHIFTED_GUIDANCE, compose
from ...lrdm_core.config import Guidance
from ...lrdm_core.errors import user_error
from ...lrdm_core.guidance import vp_scale
from ...lrdm_core.raster import paint_order
from .keys import BG_KEY, OFFSETS_KEY, layer_key
from .state import RunState

log = logging.getLogger("lrdm")


def layered_prediction(guider, state: RunState, x, timestep, model_options):
    """Eq. 8 with CFG per layer: sum_i W_i cfg(x + xi_i, y_i) + W_bg cfg(x, y_bg), all rows in one batch.

    Every layer's unconditional row runs on that layer's own input (x + xi_i); without input offsets the
    layers share the background's. The masked sums of the conditional and of the unconditional rows then go
    through ComfyUI's cfg_function: for linear CFG this is exactly the per-layer sum (the weights sum to 1).
    """
    cfg = state.spec.config
    conds = guider.conds
    background = conds.get(BG_KEY, conds.get("positive"))
    skip_uncond = math.isclose(guider.cfg, 1.0) and not model_options.get("disable_cfg1_optimization", False)
    uncond = None if skip_uncond else conds.get("negative")
    layers = [conds[layer_key(i)] for i in range(len(state.spec.layer_conds))]
    shifts = None
    if cfg.guidance in SHIFTED_GUIDANCE and state.offsets is not None:  # offsets None: strength 0, layers only
        scale = vp_scale(timestep).to(x.dtype).reshape(-1, 1, 1, 1)  # [B, 1, 1, 1]
        shifts = [xi.to(x.dtype) * scale for xi in state.offsets]  # each [B, C, H, W]
    layer_unconds = _layer_unconds(state, uncond, len(layers)) if shifts is not None and uncond else []
    opts = dict(model_options)
    to = opts["transformer_options"] = dict(model_options.get("transformer_options", {}))
    if shifts is not None:
        to[OFFSETS_KEY] = {
            e["uuid"]: shifts[i] for rows in (layers, layer_unconds) for i, cond in enumerate(rows) for e in cond
        }
    rows = [background, uncond, *layers, *layer_unconds]
    outs = comfy.samplers.calc_cond_batch(guider.inner_model, rows, x, timestep, opts)
    n = len(layers)
    bg_out, un_out, layer_outs = outs[0], outs[1], outs[2 : 2 + n]
    layer_un = outs[2 + n :] or [un_out] * n
    if cfg.guidance is Guidance.EPS and shifts is not None:  # noise-prediction reading: x0 = x0' - xi (choice 9)
        layer_outs = [o - s for o, s in zip(layer_outs, shifts, strict=True)]
        if layer_unconds:
            layer_un = [o - s for o, s in zip(layer_un, shifts, strict=True)]
    comp = compose(bg_out, layer_outs, state.weights, state.bg_weight)
    un_comp = compose(un_out, layer_un, state.weights, state.bg_weight) if layer_unconds else un_out
    for fn in model_options.get("sampler_pre_cfg_function", []):
        comp, un_comp = fn(
            {
                "conds": [background, uncond],
                "conds_out": [comp, un_comp],
                "cond_scale": guider.cfg,
                "timestep": timestep,
                "input": x,
                "sigma": timestep,
                "model": guider.inner_model,
                "model_options": model_options,
            }
        )
    return comfy.samplers.cfg_function(
        guider.inner_model,
        comp,
        un_comp,
        guider.cfg,
        x,
        timestep,
        model_options=model_options,
        cond=background,
        uncond=uncond,
    )


def _layer_unconds(state: RunState, uncond: list, n: int) -> list[list]:
    """Per layer a copy of the negative's entries under new uuids (its own batch chunk, shifted like the
    layer), made once per run."""
    key = ("layer_unconds", id(uncond))
    if key not in state.cache:
        state.cache[key] = [[dict(e, uuid=uuid.uuid4()) for e in uncond] for _ in range(n)]
    return state.cache[key]


def initial_state(guider, sigmas, noise, latent_image) -> tuple[torch.Tensor, float]:
    """x_T as KSAMPLER builds it, and the factor the noise is scaled by (comfy/samplers.py KSAMPLER)."""
    ms = guider.inner_model.model_sampling
    sigma_max, s0 = float(ms.sigma_max), float(sigmas[0])
    max_denoise = math.isclose(sigma_max, s0, rel_tol=1e-05) or s0 > sigma_max
    if latent_image is None:
        latent_image = torch.zeros_like(noise)
    x_t = ms.noise_scaling(sigmas[0], noise, latent_image, max_denoise)
    gain = math.sqrt(1.0 + s0**2) if max_denoise else s0
    return x_t, gain


def fuse_at_t0(
    executor,
    state: RunState,
    guider,
    sigmas,
    extra_args,
    callback,
    noise,
    latent_image=None,
    denoise_mask=None,
    disable_pbar=False,
):
    """Authors' mode (choice 1): each layer its own trajectory from its own guided noise to t0, fused once.

    Background from x_T with the background prompt; layer i from x_T + xi_i with its phrase; at t0
    z = z * (1 - M_i) + z_i * M_i, largest region first; then the global prompt to the end.
    """
    if denoise_mask is not None:
        raise user_error(
            "composition 'shared' with a noise mask (inpainting)",
            "composition 'fuse'",
            "Use composition 'shared' for inpainting.",
        )
    k = int((sigmas > state.threshold * (1.0 + 1e-5) + 1e-8).sum())  # layered steps
    head, tail = sigmas[: k + 1], sigmas[k:]
    _, gain = initial_state(guider, sigmas, noise, latent_image)
    noise_per_vp = vp_scale(float(sigmas[0])) / gain

    def run(conds_key: str | None, start_noise):
        saved = guider.conds["positive"]
        if conds_key is not None:
            guider.conds["positive"] = guider.conds[conds_key]
        try:
            return executor(guider, head, extra_args, callback, start_noise, latent_image, None, disable_pbar)
        finally:
            guider.conds["positive"] = saved

    z = run(BG_KEY if BG_KEY in guider.conds else None, noise)
    for i in paint_order(state.spec.layout):  # bottom (largest) first, small ones end on top
        xi = state.offsets[i] if state.offsets is not None else torch.zeros_like(noise)
        z_i = run(layer_key(i), noise + xi * noise_per_vp)
        z = z * (1.0 - state.masks[i]) + z_i * state.masks[i]
    state.layered_calls = k
    return executor(guider, tail, extra_args, callback, torch.zeros_like(noise), z, None, disable_pbar)
