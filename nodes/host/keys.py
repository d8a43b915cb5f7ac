"""Every key LRDM puts into ComfyUI's model_options / transformer_options / guider conds: one place.

All are prefixed `lrdm` so they never collide with the host's or another pack's keys.
"""

from __future__ import annotations

WRAPPER_KEY = "lrdm"  # ModelPatcher wrapper key of the four sampling wrappers (runtime.install)
RUN_KEY = "lrdm_run"  # transformer_options: the RunState of one sampling run
OFFSETS_KEY = "lrdm_offsets"  # transformer_options: cond uuid -> input offset of that batch chunk
BIAS_KEY = "lrdm_bias"  # transformer_options: the BiasPlan of the current evaluation
BG_KEY = "lrdm_background"  # guider conds: the background layer's conditioning


def layer_key(i: int) -> str:
    """The guider conds key of object layer i."""
    return f"lrdm_layer_{i}"
