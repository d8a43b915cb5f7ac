"""The layered window (Algorithm 1, PAPER.md choice 5): the first fraction t0 of the sampler's own steps."""

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
    iff sigma > threshold (see Window for the end-point stages of Heun), so intermediate evaluations of
    multi-stage samplers fall in the window too.
    """
    steps = max(int(sigmas.shape[-1]) - 1, 0)
    k = layered_steps(steps, fraction)
    if k <= 0:
        return None
    return float(sigmas[min(k, steps)])


def in_window(sigma: float, threshold: float | None) -> bool:
    """Whether an evaluation at `sigma` is inside the layered window."""
    return threshold is not None and sigma > threshold * (1.0 + 1e-5) + 1e-8


# Samplers whose later stage evaluates the model at the step's end sigma (k-diffusion sample_heun: the corrector
# at sigmas[i + 1]), by sampler function name: how many such evaluations a step makes. At sigma_k they come before
# step k's own first evaluation, which is at the same sigma, so the sigma alone cannot tell them apart.
END_POINT_STAGES = {"sample_heun": 1}


class Window:
    """The layered window of one run: every evaluation of the first k steps (choice 5), multi-stage included.

    An evaluation at sigma > sigmas[k] is inside; one at exactly sigmas[k] is inside only while the last
    layered step's end-point stages are still due (`end_evals` of them: Heun's corrector), then plain.
    Call `contains` once per model evaluation, in order; a rise in sigma starts a new trajectory ('fuse').
    """

    def __init__(self, threshold: float | None, end_evals: int = 0) -> None:
        self.threshold = threshold
        self.end_evals = end_evals
        self._at_end = 0
        self._last = float("inf")

    def contains(self, sigma: float) -> bool:
        """Whether this evaluation (at `sigma`) belongs to a layered step."""
        if sigma > self._last and not _same_sigma(sigma, self._last):
            self._at_end = 0  # a new trajectory from a higher sigma
        self._last = sigma
        if in_window(sigma, self.threshold):
            return True
        if self.threshold is None or self._at_end >= self.end_evals or not _same_sigma(sigma, self.threshold):
            return False
        self._at_end += 1
        return True


def _same_sigma(a: float, b: float) -> bool:
    """Equal up to the tolerance in_window uses."""
    return abs(a - b) <= abs(b) * 1e-5 + 1e-8


def end_point_evaluations(sampler_function) -> int:
    """END_POINT_STAGES of a sampler function (0 for the single-evaluation and mid-point samplers)."""
    return END_POINT_STAGES.get(getattr(sampler_function, "__name__", ""), 0)
