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
    iff sigma > threshold (see Window for the end-point stages of Heun), so intermediate evaluations of
    multi-stage samplers fall in the window too.
    """
    steps = max(int(sigmas.shape[-1]) - 1, 0)
    k = layered_steps(steps, fraction)
    if k <= 0:
        return None
    return float(sigmas[min(k, steps)])


def step_progress(sigmas: torch.Tensor, sigma: float) -> float:
    """The fraction of the schedule's steps done before an evaluation at `sigma`: i / S for step i's sigma
    (a multi-stage sampler's later stages count with the step whose sigma they pass)."""
    steps = max(int(sigmas.shape[-1]) - 1, 1)
    done = sum(1 for s in sigmas[:-1].tolist() if in_window(s, sigma))  # steps whose sigma is above this one
    return min(done / steps, 1.0)


def in_window(sigma: float, threshold: float | None) -> bool:
    """Whether an evaluation at `sigma` is inside the layered window."""
    return threshold is not None and sigma > threshold * (1.0 + 1e-5) + 1e-8


def _heun_stages(i: int, sigmas: torch.Tensor) -> list[int]:
    """k-diffusion sample_heun: step i's corrector at sigmas[i + 1] (none when that is 0)."""
    return [i + 1] if float(sigmas[i + 1]) != 0 else []


def _heunpp2_stages(i: int, sigmas: torch.Tensor) -> list[int]:
    """k-diffusion sample_heunpp2: step i's stages at sigmas[i + 1] and sigmas[i + 2] (fewer near the end)."""
    end = float(sigmas[-1])
    if float(sigmas[i + 1]) == end:
        return []
    if i + 2 >= sigmas.shape[-1] or float(sigmas[i + 2]) == end:
        return [i + 1]
    return [i + 1, i + 2]


# Samplers whose later stages evaluate the model at a later step's own sigma, by sampler function name: the
# schedule indices step i evaluates at besides its first. The stages of the last layered steps at sigmas[k]
# (and beyond) come before step k's own evaluation at the same sigma, so the sigma alone cannot tell them apart.
END_POINT_STAGES = {"sample_heun": _heun_stages, "sample_heunpp2": _heunpp2_stages}


def end_point_stages(sampler_function, sigmas: torch.Tensor, k: int) -> dict[int, int]:
    """How many evaluations of the first k steps fall at sigmas[j] for j >= k: {j: count} (empty for the
    single-evaluation and mid-point samplers)."""
    stages = END_POINT_STAGES.get(getattr(sampler_function, "__name__", ""))
    extra: dict[int, int] = {}
    if stages is None:
        return extra
    for i in range(max(0, k - 2), k):  # a stage reaches at most two steps ahead (heunpp2)
        for j in stages(i, sigmas):
            if j >= k:
                extra[j] = extra.get(j, 0) + 1
    return extra


class Window:
    """The layered window of one run: every evaluation of the first k steps (choice 5), multi-stage included.

    An evaluation at sigma > sigmas[k] is inside; at sigmas[j] (j >= k) the first `extra[j]` evaluations are
    inside too (the end-point stages of the last layered steps, e.g. Heun's corrector at sigmas[k]), the
    later ones are plain. Call `contains` once per model evaluation, in order; an evaluation at the
    schedule's first sigma starts a new trajectory ('fuse' runs several).
    """

    def __init__(self, sigmas: torch.Tensor, fraction: float, sampler_function=None) -> None:
        self.threshold = sigma_threshold(sigmas, fraction)
        k = layered_steps(max(int(sigmas.shape[-1]) - 1, 0), fraction)
        extra = end_point_stages(sampler_function, sigmas, k) if self.threshold is not None else {}
        self.extra = {float(sigmas[j]): n for j, n in extra.items()}  # sigma -> evaluations still layered
        self.start = float(sigmas[0]) if sigmas.shape[-1] else 0.0
        self._seen: dict[float, int] = {}

    def contains(self, sigma: float) -> bool:
        """Whether this evaluation (at `sigma`) belongs to a layered step."""
        if _same_sigma(sigma, self.start) or sigma > self.start:
            self._seen = {}  # a trajectory starts
        if in_window(sigma, self.threshold):
            return True
        for at, n in self.extra.items():
            if _same_sigma(sigma, at) and self._seen.get(at, 0) < n:
                self._seen[at] = self._seen.get(at, 0) + 1
                return True
        return False


def _same_sigma(a: float, b: float) -> bool:
    """Equal up to the tolerance in_window uses."""
    return abs(a - b) <= abs(b) * 1e-5 + 1e-8
