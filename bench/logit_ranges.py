"""Attention logit scale of a toy model per block (issue 18): what an absolute logit bias means on it.

    PYTHONPATH=. .venv/bin/python bench/logit_ranges.py [--model lrdm_toy] [--n 4] [--steps 25]

Samples the first --n default layouts' prompts with plain KSampler sampling and records, on every self- and
cross-attention block, the logit range (row max - row min over the keys, the unit of lrdm_core.bias_units)
and the per-row std, averaged over heads and 16 evenly spaced query rows, for the first and second half of
the steps. Prints a table; writes bench/results/logit_ranges_<model>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import host  # noqa: E402
from quality import DEFAULT_LAYOUTS, model_path  # noqa: E402


class Recorder:
    """attn1/attn2 replace that records (sigma, range, std) of sampled query rows, then runs the host's attention."""

    def __init__(self, store: dict, key: tuple[str, str]) -> None:
        self.store, self.key = store, key

    def __call__(self, q, k, v, extra_options):
        import comfy.ldm.modules.attention as attention

        heads = extra_options["n_heads"]
        rows = torch.linspace(0, q.shape[1] - 1, min(16, q.shape[1])).long()  # [R]
        logits = host.pack_module("lrdm_core.bias_units").row_logits(q, k, heads, rows)  # [B, h, R, T]
        span = (logits.amax(-1) - logits.amin(-1)).mean().item()
        sigma = float(extra_options["sigmas"][0]) if "sigmas" in extra_options else 0.0
        self.store.setdefault(self.key, []).append((sigma, span, logits.std(-1).mean().item()))
        return attention.optimized_attention(q, k, v, heads)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lrdm_toy")
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    pack = host.load("cpu", args.threads)
    import nodes as comfy_nodes

    weights = model_path(args.model)
    model, clip, _, _ = pack.nodes.host.toy_model.load_toy(str(weights), dtype=torch.float32)
    store: dict = {}
    patched = model.clone()
    for block, i, count in pack.nodes.host.unet.all_cross_attention(patched):
        for j in range(count):
            patched.set_model_attn1_replace(Recorder(store, ("self", f"{block}{i}")), block, i, j)
            patched.set_model_attn2_replace(Recorder(store, ("cross", f"{block}{i}")), block, i, j)
    negative = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    for seed, line in enumerate(DEFAULT_LAYOUTS.read_text().splitlines()[: args.n]):
        positive = clip.encode_from_tokens_scheduled(clip.tokenize(json.loads(line)["prompt"]))
        latent = {"samples": torch.zeros(1, 4, 8, 8)}
        comfy_nodes.common_ksampler(patched, seed, args.steps, 4.5, "euler", "normal", positive, negative, latent)
    table = {}
    for (kind, block), values in store.items():
        a = np.array(values)  # [calls, 3]: sigma, range, std
        early = a[:, 0] > np.median(a[:, 0])
        table[f"{kind} {block}"] = {
            "range": float(a[:, 1].mean()),
            "range_first_half": float(a[early, 1].mean()),
            "range_second_half": float(a[~early, 1].mean()),
            "row_std": float(a[:, 2].mean()),
        }
    sys.stdout.write("| block | range | first half | second half | row std |\n|---|---|---|---|---|\n")
    for name, r in table.items():
        sys.stdout.write(
            f"| {name} | {r['range']:.2f} | {r['range_first_half']:.2f} | {r['range_second_half']:.2f} "
            f"| {r['row_std']:.2f} |\n"
        )
    out = host.RESULTS / f"logit_ranges_{weights.stem}.json"
    out.write_text(
        json.dumps({"model": weights.name, "layouts": args.n, "steps": args.steps, "blocks": table}, indent=1)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
