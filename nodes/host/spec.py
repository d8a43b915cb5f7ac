"""Build the LRDMSpec a run needs from node inputs (layout, CLIP, prompts, optional wired conditionings)."""

from __future__ import annotations

import logging

import torch

from ...lrdm_core.config import CaptureSource, LRDMConfig
from ...lrdm_core.errors import user_error
from ...lrdm_core.layout import Layout
from .encode import encode, object_conditionings, token_positions
from .state import LRDMSpec

log = logging.getLogger("lrdm")


def build_spec(
    clip, layout: Layout, prompt: str, config: LRDMConfig, objects_conditioning=None, observer=None
) -> LRDMSpec:
    """Encode each object's phrase (or split a wired CONDITIONING, one entry per object) and find tokens."""
    if not isinstance(layout, Layout):
        raise user_error("an LRDM_LAYOUT", type(layout).__name__, "Connect an LRDM layout node.")
    if objects_conditioning is not None:
        if len(objects_conditioning) != len(layout.objects):
            raise user_error(
                f"{len(layout.objects)} conditioning entries (one per object, e.g. from Conditioning (Combine))",
                f"{len(objects_conditioning)}",
                "Combine exactly one encoded phrase per object, in layout order.",
            )
        conds = tuple([entry] for entry in objects_conditioning)
    else:
        conds = object_conditionings(clip, layout)
    in_prompt, in_phrase = token_positions(clip, layout, prompt or layout.prompt)
    missing = [o.phrase for o, pos in zip(layout.objects, in_prompt, strict=True) if pos is None]
    if missing and (prompt or layout.prompt).strip() and config.capture_source is not CaptureSource.PHRASE:
        log.warning("LRDM: %s", phrase_fallback_message(missing))
    background = encode(clip, layout.background) if layout.background.strip() else None
    return LRDMSpec(
        prompt_reference=prompt_reference(clip, prompt or layout.prompt, in_prompt),
        layout=layout,
        layer_conds=conds,
        background_cond=background,
        prompt_positions=in_prompt,
        phrase_positions=in_phrase,
        config=config,
        observer=observer,
    )


def prompt_reference(clip, prompt: str, in_prompt: tuple) -> torch.Tensor | None:
    """The prompt's encoding up to its last object token [T', D] (CLIP is causal: these rows depend only on
    the tokens up to there), to check the positive conditioning against when sampling starts; None if no
    object is read from the prompt."""
    found = [p for pos in in_prompt if pos for p in pos]
    if not found:
        return None
    emb = encode(clip, prompt)[0][0]  # [1, T, D]
    return emb[0, : max(found) + 1].detach().float().cpu()  # [T', D]


def prompt_mismatch(reference: torch.Tensor | None, positive: list) -> str | None:
    """None when some entry of the positive conds starts with `reference` (the typed prompt's encoding up to
    its last object token), else the warning: the token positions would point at other words."""
    if reference is None or not positive:
        return None
    for entry in positive:
        emb = entry.get("cross_attn")
        if emb is None or emb.shape[-1] != reference.shape[-1] or emb.shape[-2] < reference.shape[0]:
            continue
        got = emb[0, : reference.shape[0]].detach().float().cpu()  # [T', D]
        if (got - reference).abs().max() <= 1e-3 * (1.0 + reference.abs().max()):
            return None
    return (
        "Expected the node's prompt to be the text the positive conditioning was encoded from (LRDM finds each "
        f"object's tokens in it), got a positive conditioning whose first {reference.shape[0]} tokens differ from "
        "the prompt's. The attention maps and the region bias would read and steer other words. Type the positive "
        "CLIPTextEncode's text into the prompt input (prompt weights or embeddings in the positive also change "
        "its tokens; without them the two must match)."
    )


def phrase_fallback_message(missing: list[str]) -> str:
    """The warning for phrases whose tokens are not in the global prompt (their maps come from the phrase)."""
    return (
        f"Expected every object's phrase word for word in the global prompt, got {', '.join(map(repr, missing))} "
        "not in it. Their attention maps are read from each phrase encoded alone; copy the phrase into the "
        "prompt to read it in context."
    )
