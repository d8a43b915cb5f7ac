"""The layered window on arbitrary sigma schedules (choice 5)."""

import pytest
import torch

from lrdm_core.errors import LRDMError
from lrdm_core.window import in_window, layered_steps, sigma_threshold


@pytest.mark.parametrize(
    "sigmas",
    [
        torch.tensor([14.6, 9.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.0]),
        torch.linspace(10.0, 0.0, 21),
        torch.tensor([3.0, 2.9, 0.0]),
    ],
)
@pytest.mark.parametrize("t0", [0.0, 0.3, 0.5, 1.0])
def test_window_covers_round_t0_steps(sigmas, t0):
    steps = len(sigmas) - 1
    thr = sigma_threshold(sigmas, t0)
    layered = [in_window(float(s), thr) for s in sigmas[:-1]]
    k = round(t0 * steps)
    assert layered == [True] * k + [False] * (steps - k)


def test_intermediate_sigmas_of_a_layered_step_are_layered():
    sigmas = torch.tensor([10.0, 6.0, 3.0, 1.0, 0.0])
    thr = sigma_threshold(sigmas, 0.5)  # two steps layered: threshold = sigmas[2] = 3
    assert in_window(4.5, thr) and not in_window(3.0, thr) and not in_window(2.0, thr)


def test_t0_out_of_range_is_refused():
    with pytest.raises(LRDMError, match="t0"):
        layered_steps(10, 1.5)
    with pytest.raises(LRDMError):
        layered_steps(10, float("nan"))


def _evaluations(sampler, sigmas: list[float]) -> list[tuple[int, float]]:
    """(step, sigma) of each model evaluation of k-diffusion's heun / heunpp2 / euler, in order."""
    out, end, n = [], sigmas[-1], len(sigmas) - 1
    for i in range(n):
        out.append((i, sigmas[i]))
        if sampler == "heun" and sigmas[i + 1] != 0:
            out.append((i, sigmas[i + 1]))
        if sampler == "heunpp2" and sigmas[i + 1] != end:
            out.append((i, sigmas[i + 1]))
            if i + 2 <= n and sigmas[i + 2] != end:
                out.append((i, sigmas[i + 2]))
    return out


@pytest.mark.parametrize("sampler", ["euler", "heun", "heunpp2"])
@pytest.mark.parametrize("t0", [0.25, 0.5, 0.75, 1.0])
def test_every_evaluation_of_a_layered_step_is_inside_issue17_5(sampler, t0):
    """Heun's corrector of the last layered step runs at sigmas[k], as step k's own first evaluation does (and
    heunpp2's stages reach sigmas[k + 1]): the window still takes exactly the evaluations of the first k steps."""
    from lrdm_core.window import Window

    sigmas = [14.6, 9.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.0]

    def sample_fn():
        pass

    sample_fn.__name__ = f"sample_{sampler}"
    window = Window(torch.tensor(sigmas), t0, sample_fn)
    k = round(t0 * (len(sigmas) - 1))
    evals = _evaluations(sampler, sigmas)
    assert [window.contains(s) for _, s in evals] == [i < k for i, _ in evals]
    assert [window.contains(s) for _, s in evals] == [i < k for i, _ in evals]  # a second trajectory ('fuse')
