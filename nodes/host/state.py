"""What one LRDM run carries: the spec built by the nodes and the per-run state the wrappers share."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ...lrdm_core.config import LRDMConfig
from ...lrdm_core.layout import Layout
from ...lrdm_core.window import Window


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
    # [T', D] the prompt's encoding up to its last object token (checked against the positive cond)
    prompt_reference: torch.Tensor | None = field(default=None, compare=False, repr=False)


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
    window: Window | None = None  # the layered window (every evaluation of the first t0 of the steps)
    bias_window: Window | None = None  # the region biases' window (bias_end)
    sigmas: torch.Tensor | None = None  # the sampler's schedule [S + 1] (the biases' decay over the steps)
    layer_unconds: tuple | None = None  # (the negative cond, per layer its copy under new uuids): CFG per layer
    bias_built: bool = False  # bias_plan and bias_run below have been built for this run (nodes/host/bias.py)
    bias_plan: object | None = None  # lrdm_core.bias.BiasPlan of the run, None = nothing to bias
    bias_run: object | None = None  # nodes/host/bias.BiasRun: the plan, its markers' state and logged skips
