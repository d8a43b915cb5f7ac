"""Find the U-Net's cross-attention up-blocks (block ids: METHOD.md 'In ComfyUI') and refuse models without them."""

from __future__ import annotations

from dataclasses import dataclass

from ...lrdm_core.errors import user_error

SUPPORTED = "SD1.x, SD2.x and SDXL-family U-Nets (any model with cross-attention output blocks)"


@dataclass(frozen=True)
class UpBlock:
    """One output block with cross-attention: its id, transformer count and resolution group."""

    block_id: int
    n_transformers: int
    group: int  # 0 = lowest resolution; the group index grows with each upsample


def output_cross_attention(model_patcher) -> list[UpBlock]:
    """Output blocks that hold cross-attention transformers, grouped by resolution."""
    base = model_patcher.model
    dm = getattr(base, "diffusion_model", None)
    blocks = getattr(dm, "output_blocks", None)
    if blocks is None:
        raise user_error(
            SUPPORTED,
            f"{type(base).__name__} ({type(dm).__name__})",
            "LRDM reads the U-Net's up-block cross-attention; SD3, Flux and other DiT models "
            "have none. Use an SD1.5, SD2.x or SDXL checkpoint.",
        )
    found, group = [], 0
    for i, block in enumerate(blocks):
        n = sum(_cross_attention_count(layer) for layer in block)
        if n:
            found.append(UpBlock(i, n, group))
        if any(type(layer).__name__ == "Upsample" for layer in block):
            group += 1
    if not found:
        raise user_error(
            SUPPORTED,
            f"{type(base).__name__} with no cross-attention in its output blocks",
            "Use a text-conditioned U-Net checkpoint.",
        )
    return found


def _cross_attention_count(layer) -> int:
    """Number of transformer blocks with a text cross-attention (attn2) in a SpatialTransformer."""
    tbs = getattr(layer, "transformer_blocks", None)
    if tbs is None:
        return 0
    return sum(1 for tb in tbs if getattr(tb, "attn2", None) is not None)


def select_blocks(blocks: list[UpBlock], which: str) -> list[UpBlock]:
    """'paper': the middle block of each resolution; 'all'; or explicit output ids like '4,7,10'."""
    which = (which or "paper").strip().lower()
    if which == "all":
        return list(blocks)
    if which == "paper":
        chosen = []
        for g in sorted({b.group for b in blocks}):
            members = [b for b in blocks if b.group == g]
            chosen.append(members[len(members) // 2])
        return chosen
    try:
        ids = {int(s) for s in which.split(",") if s.strip()}
    except ValueError:
        ids = set()
    chosen = [b for b in blocks if b.block_id in ids]
    if not chosen:
        raise user_error(
            f"'paper', 'all' or output block ids with cross-attention ({','.join(str(b.block_id) for b in blocks)})",
            repr(which),
            "Fix capture_blocks.",
        )
    return chosen


def all_cross_attention(model_patcher) -> list[tuple[str, int, int]]:
    """(block, id, transformer count) of every input, middle and output block with cross-attention."""
    dm = model_patcher.model.diffusion_model
    found = []
    for name, blocks in (
        ("input", dm.input_blocks),
        ("middle", [dm.middle_block]),
        ("output", dm.output_blocks),
    ):
        for i, block in enumerate(blocks):
            n = sum(_cross_attention_count(layer) for layer in block)
            if n:
                found.append((name, i, n))
    return found
