"""Build the LRDMSpec a run needs from node inputs (layout, CLIP, prompts, optional wired conditionings)."""

from __future__ import annotations

import logging

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
    # Token positions first: they check the phrases' token budget before any phrase is CLIP-encoded.
    in_prompt, in_phrase = token_positions(clip, layout, prompt or layout.prompt)
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
    missing = [o.phrase for o, pos in zip(layout.objects, in_prompt, strict=True) if pos is None]
    if missing and (prompt or layout.prompt).strip() and config.capture_source is not CaptureSource.PHRASE:
        log.warning("LRDM: %s", phrase_fallback_message(missing))
    background = encode(clip, layout.background) if layout.background.strip() else None
    return LRDMSpec(
        layout=layout,
        layer_conds=conds,
        background_cond=background,
        prompt_positions=in_prompt,
        phrase_positions=in_phrase,
        config=config,
        observer=observer,
    )


def phrase_fallback_message(missing: list[str]) -> str:
    """The warning for phrases whose tokens are not in the global prompt (their maps come from the phrase)."""
    return (
        f"Expected every object's phrase word for word in the global prompt, got {', '.join(map(repr, missing))} "
        "not in it. Their attention maps are read from each phrase encoded alone; copy the phrase into the "
        "prompt to read it in context."
    )
