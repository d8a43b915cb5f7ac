"""The layered window (Algorithm 1, METHOD.md choice 5): the first fraction t0 of the sampler's own steps."""

from __future__ import annotations

import torch

from .errors import user_error


def layered_steps(num_steps: int, fraction: float) -> int:
    """How many of the schedule's steps are layered: round(t0 * steps)."""
    check_fraction(fraction)
    return round(fraction * num_steps)


def check_fraction(fraction: float, name: str = "t0") -> None:
    """A step fraction (t0, bias_end) must be a finite number in [0, 1]."""
    if not isinstance(fraction, (int, float)) or not (0.0 <= float(fraction) <= 1.0):
        fix = "the paper uses about 0.3" if name == "t0" else "1 = every step"
        raise user_error(
            f"a step fraction {name} in [0, 1]",
            repr(fraction),
            f"Set {name} between 0 (no steps) and 1 (all steps); {fix}.",
        )


def sigma_threshold(sigmas: torch.Tensor, fraction: float) -> float | None:
    """Sigma below which steps are plain: sigmas[k] for k layered steps, None when k = 0.

    sigmas: the sampler's schedule [S + 1] (last entry usually 0). An evaluation at sigma is layered
    iff sigma > threshold, so intermediate evaluations of multi-stage samplers fall in the window too.
    """
    steps = max(int(sigmas.shape[-1]) - 1, 0)
    k = layered_steps(steps, fraction)
    if k <= 0:
        return None
    return float(sigmas[min(k, steps)])


def in_window(sigma: float, threshold: float | None) -> bool:
    """Whether an evaluation at `sigma` is inside the layered window."""
    return threshold is not None and sigma > threshold * (1.0 + 1e-5) + 1e-8
