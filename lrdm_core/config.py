"""LRDM parameters: one table (PARAMS) of every knob, its range and its tooltip; LRDMConfig holds the values.

The node inputs (nodes/params.py), the web preset buttons (web/js/presets.js, checked by a test) and the
benchmark's method rows (bench/quality.py) are all derived from this file. Choices cite docs/METHOD.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum

from .errors import LRDMError, user_error


class Guidance(str, Enum):
    """How the vision guidance xi acts (METHOD.md choice 9)."""

    INPUT = "input"  # xi added to each layer's input every layered step (the paper's figure)
    STATE = "state"  # xi shifts x_T once (the authors' code)
    EPS = "eps"  # the noise-prediction reading of Eq. 8
    NONE = "none"  # layers without guidance


class CaptureSource(str, Enum):
    """Where an object's token map is read."""

    AUTO = "auto"
    PROMPT = "prompt"
    PHRASE = "phrase"


class Composition(str, Enum):
    """How the layers meet (METHOD.md choice 1)."""

    SHARED = "shared"  # per-step masked sum on a shared x_t
    FUSE = "fuse"  # authors' code: one trajectory per layer, fused once at t0


class DeltaSpace(str, Enum):
    """The space of the dynamic delta (Eq. 6)."""

    LATENT = "latent"
    RGB = "rgb"


MAX_STRENGTH = 10.0
MAX_BIAS = 4.0  # attn_bias / self_bias: fractions of each block's own logit range (issue 18)
MAX_DECAY = 8.0
# A value above MAX_BIAS most likely comes from a workflow saved before the biases changed units (issue 18): it was
# the bias in logits (the old defaults: attn_bias 12, self_bias 6), which means nothing on another model.
OLD_UNITS = (
    "attn_bias and self_bias are now fractions of each attention block's own logit range (row max - row min), "
    "not logits; a workflow saved before that change carries the old logit values (12 and 6)"
)


@dataclass(frozen=True)
class Param:
    """One row of the parameter table: an LRDMConfig field as the nodes show it."""

    name: str  # the LRDMConfig field and the node input id
    tooltip: str
    lo: float | None = None  # numbers: the allowed range
    hi: float | None = None
    step: float | None = None
    choices: type[Enum] | None = None  # combos: the enum of allowed values
    optional: bool = False  # optional on the nodes: workflows saved before the input existed still validate
    fix: str = ""  # added to the error for a value out of range


PARAMS: tuple[Param, ...] = (
    Param(
        "t0",
        "Layered fraction: the first t0 of the sampler's steps denoise each object as its own layer (paper: "
        "~0.3, step 15 of 51). 0 turns LRDM off.",
        0.0,
        1.0,
        0.01,
        fix="Set t0 between 0 (no layered steps) and 1 (all); the paper uses about 0.3.",
    ),
    Param(
        "strength",
        "Vision guidance lambda inside each region (Eq. 6). 0 = layers only.",
        -MAX_STRENGTH,
        MAX_STRENGTH,
        0.01,
        fix="Set strength around 0-2; the paper's lambda is 1.",
    ),
    Param(
        "strength_out",
        "Vision guidance subtracted outside each region (Eq. 6; equal to strength = the paper).",
        -MAX_STRENGTH,
        MAX_STRENGTH,
        0.01,
        fix="Set strength_out around 0-2; equal to strength is the paper.",
    ),
    Param(
        "top_k",
        "K highest-attention locations averaged into delta (Eq. 6). 0 = automatic: 20 at a 64x64 latent (the "
        "authors' value), scaled with the latent's area, at least 6.",
        0,
        4096,
        fix="Set top_k to 0 (automatic) or more.",
    ),
    Param(
        "guidance",
        "How xi acts (METHOD.md choice 9): 'input' adds xi to each layer's input every layered step, applies CFG "
        "per layer on that input and composes denoised estimates (the figure's reading, the paper's button); "
        "'state' shifts x_T once (authors' code); 'eps' composes noise predictions; 'none' = layers without "
        "guidance.",
        choices=Guidance,
    ),
    Param(
        "capture_blocks",
        "Up-blocks whose cross-attention gives the maps: 'paper' (one per resolution), 'all', or output block ids "
        "such as '4,7,10'.",
    ),
    Param(
        "capture_source",
        "Where an object's token map is read: 'auto' = in the global prompt when the phrase occurs there, else in "
        "the phrase's own encoding.",
        choices=CaptureSource,
    ),
    Param(
        "composition",
        "'shared': every layered step composes the layers' predictions by their masks on one shared latent (the "
        "paper's figure). 'fuse': each object is denoised as its own trajectory from its own guided noise and "
        "fused once at t0 (the authors' code; costs (n+1)x the layered steps).",
        choices=Composition,
    ),
    Param(
        "attn_bias",
        "Beyond the paper: bias the global prompt's object tokens towards their regions on every cross-attention "
        "block whenever the global prompt is evaluated, and each layer's phrase towards its own region on its "
        "layered passes (DenseDiffusion-style). In model-free units: a fraction of each block's own logit range "
        "(row max - row min), so it means the same on any checkpoint; bias_cap limits it. Keeps small objects from "
        "vanishing. 0 = off (the paper).",
        0.0,
        MAX_BIAS,
        0.01,
        fix=f"Set attn_bias in [0, {MAX_BIAS:g}] ({OLD_UNITS}): the default is {{default}}; 0 turns it off.",
    ),
    Param(
        "delta_space",
        "Vision-guidance delta (Eq. 6): 'latent' = the mean latent at the top-K locations (the paper); 'rgb' = only "
        "its colour part, through the model's latent->RGB preview factors (the authors' code takes the mean colour "
        "in image space): less texture, stronger colour cue.",
        choices=DeltaSpace,
        optional=True,
    ),
    Param(
        "self_bias",
        "Beyond the paper: on the global prompt's passes, self-attention favours pixels of the same region and "
        "damps attention across regions (DenseDiffusion-style). Same units as attn_bias (a fraction of the block's "
        "logit range), limited by bias_cap. Keeps objects inside and shaped like their boxes; may cost some image "
        "quality. 0 = off.",
        0.0,
        MAX_BIAS,
        0.01,
        optional=True,
        fix=f"Set self_bias in [0, {MAX_BIAS:g}] ({OLD_UNITS}): the default is {{default}}; 0 turns it off.",
    ),
    Param(
        "bias_end",
        "Beyond the paper: attn_bias and self_bias act in the first bias_end of the sampler's steps (1 = all). "
        "Ending them early lets the last steps draw clean detail.",
        0.0,
        1.0,
        0.01,
        optional=True,
        fix="Set bias_end between 0 and 1; 1 = every step.",
    ),
    Param(
        "bias_cap",
        "Beyond the paper: the most attention mass a region's object tokens (attn_bias) or a region's own pixels "
        "(self_bias) may take from the queries inside it; the bias is lowered on a block where it would take more. "
        "Keeps objects from turning into flat stickers that fill their box. 1 = no cap.",
        0.0,
        1.0,
        0.01,
        optional=True,
        fix="Set bias_cap between 0 and 1; 1 = no cap.",
    ),
    Param(
        "bias_decay",
        "Beyond the paper: attn_bias and self_bias fade over the sampler's steps as (1 - progress)^bias_decay "
        "(0 = constant until bias_end; DenseDiffusion's schedule is about 5).",
        0.0,
        MAX_DECAY,
        0.1,
        optional=True,
        fix=f"Set bias_decay between 0 (constant) and {MAX_DECAY:g}.",
    ),
)


@dataclass(frozen=True)
class LRDMConfig:
    """The values of PARAMS (same names, same order). Defaults: the "plus" preset, the best measured."""

    t0: float = 0.3  # layered fraction of the sampler's steps (Algorithm 1; authors: step 15 of 51)
    strength: float = 1.0  # lambda inside the region (Eq. 6)
    strength_out: float = 1.0  # lambda outside the region (Eq. 6: equal = the paper)
    top_k: int = 0  # K locations for the dynamic delta; 0 = automatic
    guidance: Guidance = Guidance.STATE  # measured best on the pack's model
    capture_blocks: str = "paper"  # up-blocks read: "paper" (one per resolution), "all", or ids "4,7,10"
    capture_source: CaptureSource = CaptureSource.AUTO
    composition: Composition = Composition.SHARED
    attn_bias: float = 2.0  # beyond the paper: region bias of the prompt's / each layer's object tokens (x logit range)
    delta_space: DeltaSpace = DeltaSpace.RGB
    self_bias: float = 0.4  # beyond the paper: self-attention bias within regions (x logit range)
    bias_end: float = 0.8  # fraction of the sampler's steps the region biases act in
    bias_cap: float = 0.9  # the most attention mass a region's tokens / pixels may take (1 = no cap)
    bias_decay: float = 0.0  # the biases fade as (1 - progress)^bias_decay

    def __post_init__(self) -> None:
        for p in PARAMS:
            object.__setattr__(self, p.name, _checked(p, getattr(self, p.name), _KINDS[p.name]))

    def needs_capture(self) -> bool:
        """Whether the capture evaluation runs: a dynamic delta with a non-zero strength, used in the window
        (or by a 'state' shift, which acts on x_T even without a window)."""
        strength = self.strength != 0 or self.strength_out != 0
        return self.guidance is not Guidance.NONE and strength and (self.t0 > 0 or self.guidance is Guidance.STATE)

    def biased(self) -> bool:
        """Whether a region bias (cross- or self-attention) acts."""
        return self.attn_bias > 0 or self.self_bias > 0

    def to_dict(self) -> dict:
        """Plain values by name: the node inputs (a preset button, a benchmark row, a log line)."""
        return {k: v.value if isinstance(v, Enum) else v for k, v in asdict(self).items()}

    def with_(self, **kw) -> LRDMConfig:
        """A copy with some fields changed."""
        return replace(self, **kw)


def _checked(p: Param, value: object, kind: type) -> object:
    """`value` for the row `p`: an enum member for combos; a number in range; else the pack's error."""
    if p.choices is not None:
        try:
            return p.choices(value)
        except ValueError:
            raise user_error(
                f"{p.name} in {tuple(c.value for c in p.choices)}", repr(value), "Pick one of them."
            ) from None
    if kind is str:
        if not isinstance(value, str):
            raise user_error(f"{p.name} as text", repr(value), "Type it as text.")
        return value
    ok_type = isinstance(value, int) and not isinstance(value, bool) if kind is int else isinstance(value, (int, float))
    if not ok_type or not math.isfinite(value) or not p.lo <= value <= p.hi:
        number = "a whole number" if kind is int else "a finite number"
        fix = p.fix.replace("{default}", f"{_DEFAULTS[p.name]:g}")
        raise user_error(f"{p.name} to be {number} in [{p.lo:g}, {p.hi:g}]", repr(value), fix)
    return value


def method_value_error(**values) -> str | None:
    """The pack's message for the first method value out of its range (a node's validate_inputs: before
    ComfyUI's own bare min/max check), None when all are fine; None values (linked inputs) pass."""
    rows = {p.name: p for p in PARAMS}
    for name, value in values.items():
        if value is None:
            continue
        try:
            _checked(rows[name], value, _KINDS[name])
        except LRDMError as e:
            return str(e)
    return None


_KINDS = {f.name: type(f.default) for f in fields(LRDMConfig)}  # each field's value type, from its default
_DEFAULTS = {f.name: f.default for f in fields(LRDMConfig)}  # each field's default (the "plus" preset)
assert tuple(f.name for f in fields(LRDMConfig)) == tuple(p.name for p in PARAMS), "PARAMS and LRDMConfig differ"


# The two settings the nodes offer (README "Parameters"): the node defaults are "plus", the best measured on the
# pack's small model (bench/quality.py); "paper" is the paper's method alone.
PRESETS: dict[str, LRDMConfig] = {
    "plus": LRDMConfig(),
    # the paper's method in the figure's reading (METHOD.md choice 9, which Eq. 8 leaves open): xi on each layer's
    # input every layered step, CFG per layer on that input, the layers' denoised estimates composed by their masks;
    # the fields not named here are the paper's numbers too
    "paper": LRDMConfig(
        guidance=Guidance.INPUT, attn_bias=0.0, delta_space=DeltaSpace.LATENT, self_bias=0.0, bias_end=1.0
    ),
}
