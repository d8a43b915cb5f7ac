"""The attention-capture hook: an attn2 replace that records object-token maps, then runs the host attention."""

from __future__ import annotations

import comfy.ldm.modules.attention as comfy_attention

from ..lrdm_core.attention import AttentionRecorder, resolution_of, token_probabilities


class CaptureAttention:
    """attn2 replace for one (block, id, index): records token probabilities of the chunks in `columns`.

    The output is computed by the replace that was there before (chained) or by the host's own
    optimized attention, so capturing never changes what the U-Net computes.
    """

    def __init__(self, previous, recorder: AttentionRecorder, columns: dict[object, list[int]]) -> None:
        self.previous = previous
        self.recorder = recorder
        self.columns = columns  # cond uuid -> context positions to record
        self.calls = 0

    def __call__(self, q, k, v, extra_options):
        self.calls += 1
        self._record(q, k, extra_options)
        if self.previous is not None:
            return self.previous(q, k, v, extra_options)
        return comfy_attention.optimized_attention(q, k, v, extra_options["n_heads"],
                                                   attn_precision=extra_options.get("attn_precision"),
                                                   transformer_options=extra_options)

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
            probs = token_probabilities(q[sl], k[sl], extra_options["n_heads"], cols)  # [B, N, m]
            self.recorder.add(uid, probs, res_h, res_w)


def _resolution(n_tokens: int, extra_options, recorder: AttentionRecorder) -> tuple[int, int]:
    """The block's spatial size from activations_shape (ComfyUI sets it), else from the token count."""
    shape = extra_options.get("activations_shape")
    if shape is not None and len(shape) == 4 and shape[2] * shape[3] == n_tokens:
        return int(shape[2]), int(shape[3])
    return resolution_of(n_tokens, recorder.height, recorder.width)
