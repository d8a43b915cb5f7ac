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


def test_heun_end_point_stage_of_the_last_layered_step_is_inside_issue17_5():
    """Heun: step i evaluates at sigmas[i] and sigmas[i+1]; with k layered steps the corrector of step k-1 at
    sigmas[k] is layered, step k's own first evaluation at the same sigma is not."""
    from lrdm_core.window import Window, end_point_evaluations

    sigmas = torch.tensor([10.0, 6.0, 3.0, 1.0, 0.0])
    order = [10.0, 6.0, 6.0, 3.0, 3.0, 1.0, 1.0, 0.0]  # heun's evaluation order (the last step is euler)
    order = order[:-1]  # sigma 0 is never evaluated
    window = Window(sigma_threshold(sigmas, 0.5), end_evals=1)
    assert [window.contains(s) for s in order] == [True, True, True, True, False, False, False]
    euler = Window(sigma_threshold(sigmas, 0.5), end_evals=0)
    assert [euler.contains(s) for s in (10.0, 6.0, 3.0, 1.0)] == [True, True, False, False]

    def sample_heun():
        pass

    assert end_point_evaluations(sample_heun) == 1 and end_point_evaluations(None) == 0
    fuse = Window(sigma_threshold(sigmas, 0.5), end_evals=1)  # 'fuse' runs trajectories one after another
    assert [fuse.contains(s) for s in order[:5] + order[:5]] == [True, True, True, True, False] * 2
