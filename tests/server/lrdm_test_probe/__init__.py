"""Test-only ComfyUI nodes for the server tier (installed as custom_nodes/lrdm_test_probe by hostkit.fixtures).

Never shipped: they let a test read what happened inside a run through /history.
- LRDMTest_LatentValues: an output node whose UI result is the sampled latent's values (to compare runs) and
  the attention calls counted since the last report.
- LRDMTest_CountAttention: wraps every attention replace already on the model (attn1/attn2, any key) in a
  counter named after the replace's class or function (placed right after the patch it counts, so that a
  later patch that chains it still counts its calls).
- LRDMTest_ExtendKeys: a reference-only / StyleAligned-style attn1_patch that appends keys and values
  (a scaled copy of the block's own tokens) to every self-attention.
"""

from __future__ import annotations

import collections

import torch

COUNTS: collections.Counter = collections.Counter()  # runs are sequential: LRDMTest_LatentValues pops it


class CountingReplace:
    """Calls the wrapped attention replace and counts the call under its class or function name."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = getattr(inner, "__name__", type(inner).__name__)

    def __call__(self, q, k, v, extra_options, *args, **kwargs):
        COUNTS[self.name] += 1
        return self.inner(q, k, v, extra_options, *args, **kwargs)

    def __getattr__(self, name):  # IPAdapter calls .add() on the replace it finds: reach the wrapped one
        inner = self.__dict__.get("inner")
        if inner is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(inner, name)


class CountAttention:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",)}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"
    CATEGORY = "lrdm_test"

    def patch(self, model):
        m = model.clone()
        replaces = m.model_options.setdefault("transformer_options", {}).setdefault("patches_replace", {})
        for kind, table in list(replaces.items()):
            replaces[kind] = {
                key: fn if isinstance(fn, CountingReplace) else CountingReplace(fn) for key, fn in table.items()
            }
        return (m,)


def extend_keys(n, context_attn1, value_attn1, extra_options):
    """Reference-style attn1_patch: keys/values = the block's tokens plus a scaled copy (more keys than queries)."""
    COUNTS["extend_keys"] += 1
    return n, torch.cat([context_attn1, context_attn1 * 0.5], dim=1), torch.cat([value_attn1, -value_attn1], dim=1)


class ExtendKeys:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",)}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"
    CATEGORY = "lrdm_test"

    def patch(self, model):
        m = model.clone()
        m.set_model_attn1_patch(extend_keys)
        return (m,)


class LatentValues:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",)}}

    RETURN_TYPES = ()
    FUNCTION = "report"
    OUTPUT_NODE = True
    CATEGORY = "lrdm_test"

    def report(self, samples):
        x = samples["samples"].float()
        counts = dict(COUNTS)
        COUNTS.clear()
        return {"ui": {"values": x.flatten().tolist(), "shape": list(x.shape), "counts": [counts]}}


NODE_CLASS_MAPPINGS = {
    "LRDMTest_LatentValues": LatentValues,
    "LRDMTest_CountAttention": CountAttention,
    "LRDMTest_ExtendKeys": ExtendKeys,
}
