"""LRDM parameters, with the paper's defaults and where each comes from (PAPER.md choices 1-9)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from .errors import user_error
from .window import check_fraction

GUIDANCE_MODES = ("input", "state", "eps", "none")
CAPTURE_SOURCES = ("auto", "prompt", "phrase")
COMPOSITIONS = ("shared", "fuse")
DELTA_SPACES = ("latent", "rgb")
MAX_STRENGTH = 10.0
MAX_BIAS = 20.0


def _check_bias(name: str, value: object, fix: str) -> None:
    """A logit bias: a finite number in [0, MAX_BIAS]."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0.0 <= value <= MAX_BIAS:
        raise user_error(f"{name} in [0, {MAX_BIAS:g}]", repr(value), fix)


@dataclass(frozen=True)
class LRDMConfig:
    """Every knob of the method; see the README's parameter table."""

    # Defaults: the "plus" preset, the best measured on the pack's small model (PRESETS below has the paper's).
    t0: float = 0.3  # layered fraction of the sampler's steps (Algorithm 1; authors: step 15 of 51)
    strength_in: float = 1.0  # lambda inside the region (Eq. 6)
    strength_out: float = 1.0  # lambda outside the region (Eq. 6: equal = the paper)
    top_k: int = 0  # K locations for the dynamic delta; 0 = 20 at 64x64, scaled with the latent's area, at least 6
    guidance: str = "state"  # how xi acts (choice 9): "state" shifts x_T once (authors' code; measured best),
    # "input" adds it to each layer's input every layered step (the figure), "eps" the noise-prediction reading
    capture_blocks: str = "paper"  # up-blocks read: "paper" (one per resolution), "all", or ids "4,7,10"
    capture_source: str = "auto"  # token maps from the global prompt if the phrase is in it, else the phrase
    composition: str = "shared"  # choice 1: per-step masked sum on a shared x_t, or "fuse" (authors' code)
    attn_bias: float = 12.0  # beyond the paper: region bias of the prompt's / each layer's object tokens (0 = off)
    delta_space: str = "rgb"  # delta as Eq. 6 ("latent") or its colour part ("rgb", the authors' image-space delta)
    self_bias: float = 6.0  # beyond the paper: self-attention bias within regions on the global prompt's passes
    bias_end: float = 0.8  # fraction of the sampler's steps the region biases act in (1 = all; later steps refine)

    def __post_init__(self) -> None:
        check_fraction(self.t0)
        check_fraction(self.bias_end, "bias_end")
        for name, label in (("strength_in", "strength"), ("strength_out", "strength_out")):  # label: node input
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > MAX_STRENGTH:
                raise user_error(
                    f"{label} to be a finite number within +-{MAX_STRENGTH:g}",
                    repr(v),
                    f"Set {label} to a value around 0-2; the paper's lambda is 1.",
                )
        if not isinstance(self.top_k, int) or self.top_k < 0:
            raise user_error("top_k >= 0 (0 = automatic)", repr(self.top_k), "Set top_k to 0 or more.")
        if self.guidance not in GUIDANCE_MODES:
            raise user_error(f"guidance in {GUIDANCE_MODES}", repr(self.guidance), "Pick one of them.")
        if self.capture_source not in CAPTURE_SOURCES:
            raise user_error(f"capture_source in {CAPTURE_SOURCES}", repr(self.capture_source), "Pick one of them.")
        _check_bias("attn_bias", self.attn_bias, "0 turns it off; LRDM+ uses 12.")
        _check_bias("self_bias", self.self_bias, "0 turns it off; LRDM+ uses 6.")
        if self.delta_space not in DELTA_SPACES:
            raise user_error(f"delta_space in {DELTA_SPACES}", repr(self.delta_space), "Pick one of them.")
        if self.composition not in COMPOSITIONS:
            raise user_error(f"composition in {COMPOSITIONS}", repr(self.composition), "Pick one of them.")

    def needs_capture(self) -> bool:
        """Whether the capture evaluation runs: a dynamic delta with a non-zero strength, used in the window
        (or by a 'state' shift, which acts on x_T even without a window)."""
        strength = self.strength_in != 0 or self.strength_out != 0
        return self.guidance != "none" and strength and (self.t0 > 0 or self.guidance == "state")

    def biased(self) -> bool:
        """Whether the region bias replaces are installed (cross- or self-attention)."""
        return self.attn_bias > 0 or self.self_bias > 0

    def to_dict(self) -> dict:
        """Plain dict, for logs and benchmark files."""
        return asdict(self)

    def with_(self, **kw) -> LRDMConfig:
        """A copy with some fields changed."""
        return replace(self, **kw)


# The two settings the nodes offer (README "Parameters"): the node defaults are "plus", the best measured on the
# pack's small model (bench/quality.py, README "Layout accuracy"); "paper" is the paper's method alone.
PRESETS: dict[str, LRDMConfig] = {
    "plus": LRDMConfig(),
    # the paper's method in the figure's reading (choice 9, which Eq. 8 leaves open): xi on each layer's input every
    # layered step, CFG per layer on that input, the layers' denoised estimates composed by their masks; the fields
    # not named here are the paper's numbers too
    "paper": LRDMConfig(guidance="input", attn_bias=0.0, delta_space="latent", self_bias=0.0, bias_end=1.0),
}
