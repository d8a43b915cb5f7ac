"""Attention capture (dynamic delta, METHOD.md choice 4): an attn2 replace that records object-token maps on x_T."""

from __future__ import annotations

import comfy.ldm.modules.attention as comfy_attention
import comfy.model_patcher
import comfy.samplers
import torch

from ...lrdm_core.attention import AttentionRecorder, resolution_of, token_probabilities
from ...lrdm_core.config import CaptureSource
from .keys import layer_key
from .unet import output_cross_attention, select_blocks


def host_attention(previous, q, k, v, extra_options):
    """What the block would compute without us: the replace that was there before, else the host's own
    optimized attention (comfy/ldm/modules/attention.py CrossAttention.forward)."""
    if previous is not None:
        return previous(q, k, v, extra_options)
    return comfy_attention.optimized_attention(
        q,
        k,
        v,
        extra_options["n_heads"],
        attn_precision=extra_options.get("attn_precision"),
        transformer_options=extra_options,
    )


class CaptureAttention:
    """attn2 replace for one (block, id, index): records token probabilities of the chunks in `columns`.

    The output is computed by the replace that was there before (chained) or by the host's own
    optimized attention, so capturing never changes what the U-Net computes.
    """

    def __init__(
        self,
        previous,
        recorder: AttentionRecorder,
        columns: dict[object, list[int]],
        block: object = None,
        periods: dict | None = None,
    ) -> None:
        self.previous = previous
        self.recorder = recorder
        self.columns = columns  # cond uuid -> context positions to record
        self.block = block  # the up-block this transformer belongs to (maps are averaged per block first)
        self.periods = periods or {}  # cond uuid -> its own context length (the batch may repeat it)

    def __call__(self, q, k, v, extra_options):
        self._record(q, k, extra_options)
        return host_attention(self.previous, q, k, v, extra_options)

    def _record(self, q, k, extra_options) -> None:
        """Record the maps of every chunk whose cond uuid asked for columns."""
        uuids = extra_options.get("uuids") or []
        if not uuids:
            return
        per = q.shape[0] // len(uuids)
        res_h, res_w = _resolution(q.shape[1], extra_options, self.recorder)
        for j, uid in enumerate(uuids):
            cols = self.columns.get(uid)
            if not cols:
                continue
            sl = slice(j * per, (j + 1) * per)
            probs = token_probabilities(q[sl], k[sl], extra_options["n_heads"], cols, self.periods.get(uid))
            self.recorder.add(uid, probs, res_h, res_w, self.block)  # probs [B, N, m]


def _resolution(n_tokens: int, extra_options, recorder: AttentionRecorder) -> tuple[int, int]:
    """The block's spatial size from activations_shape (ComfyUI sets it), else from the token count."""
    shape = extra_options.get("activations_shape")
    if shape is not None and len(shape) == 4 and shape[2] * shape[3] == n_tokens:
        return int(shape[2]), int(shape[3])
    return resolution_of(n_tokens, recorder.height, recorder.width)


def capture_maps(guider, spec, x_t: torch.Tensor, sigma: torch.Tensor, model_options) -> torch.Tensor:
    """One U-Net evaluation on x_T with capture hooks on the chosen up-blocks: maps [n, B, H, W]."""
    recorder = AttentionRecorder(*x_t.shape[-2:])
    conds, columns, sources = _capture_plan(guider, spec)
    periods = context_lengths(conds)
    opts = comfy.model_patcher.create_model_options_clone(model_options)
    attn2 = opts.setdefault("transformer_options", {}).setdefault("patches_replace", {}).setdefault("attn2", {})
    for blk in select_blocks(output_cross_attention(guider.model_patcher), spec.config.capture_blocks):
        for idx in range(blk.n_transformers):
            key = ("output", blk.block_id, idx)
            prev = attn2.get(key, attn2.get(("output", blk.block_id)))
            attn2[key] = CaptureAttention(prev, recorder, columns, blk.block_id, periods)
    with torch.no_grad():
        comfy.samplers.calc_cond_batch(guider.inner_model, conds, x_t, sigma, opts)
    maps = []
    for uid, cols in sources:
        recorded = recorder.maps(uid)  # [B, m, H, W]
        if recorded is None:
            raise RuntimeError(
                "LRDM: the attention capture recorded nothing; is another node replacing the U-Net's forward?"
            )
        maps.append(recorded[:, cols].mean(dim=1))  # [B, H, W]
    return torch.stack(maps)  # [n, B, H, W]


def context_lengths(conds) -> dict:
    """cond uuid -> the length of its own cross-attention context (before the batch repeats it)."""
    return {e["uuid"]: int(e["cross_attn"].shape[1]) for cond in conds if cond for e in cond if "cross_attn" in e}


def _capture_plan(guider, spec):
    """Which conds to evaluate and which token columns to record; per object its (uuid, column ids)."""
    source = spec.config.capture_source
    positive = guider.conds.get("positive") or []
    pos_uid = positive[0]["uuid"] if positive else None
    prompt_cols: list[int] = []
    columns: dict[object, list[int]] = {}
    conds: list = []
    sources = []
    for i, pp in enumerate(spec.prompt_positions):
        use_prompt = pp is not None and pos_uid is not None and source is not CaptureSource.PHRASE
        # a phrase missing from the prompt falls back to its own encoding (spec.build_spec warned once)
        if use_prompt:
            for p in pp:
                if p not in prompt_cols:
                    prompt_cols.append(p)
            sources.append((pos_uid, [prompt_cols.index(p) for p in pp]))
        else:
            layer = guider.conds[layer_key(i)]
            uid = layer[0]["uuid"]
            columns[uid] = list(spec.phrase_positions[i])
            conds.append(layer[:1])
            sources.append((uid, list(range(len(spec.phrase_positions[i])))))
    if prompt_cols:
        columns[pos_uid] = prompt_cols
        conds.insert(0, positive[:1])
    return conds, columns, sources
