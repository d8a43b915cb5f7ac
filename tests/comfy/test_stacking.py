"""LRDM chains with what is already on the model: attn2 replaces, LoRA weight patches, a second LRDM."""

from __future__ import annotations

import comfy.ldm.modules.attention as comfy_attention
import torch
from helpers import OFF, PROMPT, layout, model_state, run_lrdm, run_stock


class CountingReplace:
    """An IPAdapter-style attn2 replace: runs the default attention and adds a visible offset.

    ModelPatcher.clone() deep-copies model_options (and so this object): count on the class.
    """

    calls = 0

    def __call__(self, q, k, v, extra_options):
        type(self).calls += 1
        out = comfy_attention.optimized_attention(q, k, v, extra_options["n_heads"])
        return out + 0.05


def test_existing_attn2_replace_on_a_captured_block_still_runs(pack, sd15, clip):
    patched = sd15.clone()
    patched.set_model_attn2_replace(CountingReplace(), "output", 3)  # a block LRDM's capture also hooks
    CountingReplace.calls = 0
    with_both = run_lrdm(pack, patched, clip, steps=4, t0=0.5)
    # capture (1 call) + 2 layered steps (one batched call each) + 2 plain steps
    assert CountingReplace.calls == 1 + 2 + 2
    assert not torch.equal(with_both, run_lrdm(pack, sd15, clip, steps=4, t0=0.5))  # its effect is kept
    assert not torch.equal(with_both, run_stock(patched, clip))  # and LRDM's too


def test_attn2_patch_and_output_patch_stack(pack, sd15, clip):
    seen = {"patch": 0, "out": 0}
    patched = sd15.clone()

    def attn2_patch(n, context, value, extra_options):
        seen["patch"] += 1
        return n, context, value

    def out_patch(out, extra_options):
        seen["out"] += 1
        return out

    patched.set_model_attn2_patch(attn2_patch)
    patched.set_model_attn2_output_patch(out_patch)
    run_lrdm(pack, patched, clip)
    assert seen["patch"] > 0 and seen["out"] == seen["patch"]


def test_lora_patched_weights_are_used_and_lrdm_off_is_stock(pack, sd15, clip):
    lora = sd15.clone()
    key = "diffusion_model.out.2.weight"
    weight = sd15.model.state_dict()[key]
    lora.add_patches({key: (torch.full_like(weight, 0.01),)}, 1.0)
    assert torch.equal(run_lrdm(pack, lora, clip, **OFF), run_stock(lora, clip))  # OFF: paper preset, t0 0
    assert not torch.equal(run_lrdm(pack, lora, clip), run_lrdm(pack, sd15, clip))


def test_second_lrdm_patch_replaces_the_first(pack, sd15, clip):
    apply = pack.nodes.patch_nodes.ApplyLayout
    from helpers import METHOD

    one = apply.execute(sd15, clip, layout(pack), PROMPT, **METHOD).args[0]
    two = apply.execute(one, clip, layout(pack), PROMPT, **METHOD).args[0]
    assert model_state(one) == model_state(two)  # same wrapper counts: replaced, not stacked
