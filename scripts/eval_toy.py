"""Sample the toy model through ComfyUI's sampling code and score the images with the toy detector.

.venv/bin/python scripts/eval_toy.py --n 100 --cfg 4.5 --steps 25 --grid /tmp/toy_grid.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from hostkit import bootstrap  # noqa: E402
from toyworld import detect, scenes  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=os.path.join(REPO, "models", "lrdm_toy.safetensors"))
    p.add_argument("--n", type=int, default=100, help="number of captions (one image each)")
    p.add_argument("--seed", type=int, default=12345, help="caption and noise seed")
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--cfg", type=float, default=4.5)
    p.add_argument("--sampler", default="euler")
    p.add_argument("--scheduler", default="normal")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-objects", type=int, default=1, help="objects per caption: this..max (0: 'empty' scenes)")
    p.add_argument("--max-objects", type=int, default=3, help="objects per caption: min..this")
    p.add_argument("--grid", default="", help="write a PNG grid of the samples here")
    p.add_argument("--json", default="", help="write the metrics here")
    p.add_argument("--gt", action="store_true", help="score ground-truth renders instead of samples")
    p.add_argument("--comfy", default=None, help="ComfyUI tree (default: $COMFYUI_PATH, else .host/ComfyUI)")
    return p.parse_args()


def main() -> None:
    """Sample, detect, report."""
    a = parse_args()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    sc = [scenes.sample_scene(rng, min_objects=a.min_objects, max_objects=a.max_objects) for _ in range(a.n)]
    t0 = time.time()
    if a.gt:
        images = np.stack([scenes.render(s) for s in sc])  # [N, H, W, 3]
    else:
        bootstrap.setup_comfy(a.comfy, pytorch_attention=True)
        import comfy.sample

        tm = bootstrap.pack_module("nodes.host.toy_model")
        model, clip, vae, meta = tm.load_toy(a.weights, dtype=torch.float32)
        negative = clip.encode_from_tokens_scheduled(clip.tokenize(""))
        out = []
        for i, s in enumerate(sc):
            positive = clip.encode_from_tokens_scheduled(clip.tokenize(s.caption))
            latent = torch.zeros(1, tm.LATENT_CHANNELS, 8, 8)  # [1, 48, 8, 8]
            noise = comfy.sample.prepare_noise(latent, a.seed + i)
            z = comfy.sample.sample(
                model,
                noise,
                a.steps,
                a.cfg,
                a.sampler,
                a.scheduler,
                positive,
                negative,
                latent,
                seed=a.seed + i,
                disable_pbar=True,
            )
            out.append(vae.decode(z)[0].numpy())  # [H, W, 3]
        images = np.stack(out)
    elapsed = time.time() - t0
    tot = [0, 0, 0, 0, 0]
    count_ok = empty_clean = 0
    palette = []
    confusion = {f"{a}->{b}": 0 for a in scenes.SHAPES for b in scenes.SHAPES}
    for s, img in zip(sc, images, strict=True):
        dets = detect.detect(img)
        m = detect.match_caption([(o.colour, o.shape) for o in s.objects], dets)
        if len(s.objects) == len({o.colour for o in s.objects}):  # one object per colour: unambiguous pairs
            for o in s.objects:
                same = [d for d in dets if d.colour == o.colour]
                if same:
                    best = next((d for d in same if d.shape == o.shape), same[0])
                    confusion[f"{o.shape}->{best.shape}"] += 1
        tot = [x + y for x, y in zip(tot, m, strict=True)]
        count_ok += int(m.detections == m.expected)
        empty_clean += int(not s.objects and not dets)
        palette.append(detect.near_palette_fraction(img))
    exp, col, shp, ndet, extra = tot
    res = {
        "images": a.n,
        "objects": exp,
        "colour_recall": col / max(1, exp),
        "shape_accuracy": shp / max(1, col),
        "object_recall": shp / max(1, exp),
        "precision": (ndet - extra) / max(1, ndet),
        "count_accuracy": count_ok / a.n,
        "empty_images": sum(not s.objects for s in sc),
        "empty_clean": empty_clean,  # 'empty' captions sampled without any detected object
        "near_palette": float(np.mean(palette)),
        "seconds": round(elapsed, 1),
        "shape_confusion (asked->drawn)": confusion,
        "min_objects": a.min_objects,
        "max_objects": a.max_objects,
        "steps": a.steps,
        "cfg": a.cfg,
        "sampler": a.sampler,
        "scheduler": a.scheduler,
    }
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    if a.grid:
        from PIL import Image

        k = int(np.ceil(np.sqrt(a.n)))
        pad = np.ones((k * k - a.n, *images.shape[1:]), dtype=images.dtype)  # [pad, H, W, 3]
        g = np.concatenate([images, pad]).reshape(k, k, *images.shape[1:])  # [k, k, H, W, 3]
        g = g.transpose(0, 2, 1, 3, 4).reshape(k * images.shape[1], k * images.shape[2], 3)  # [kH, kW, 3]
        Image.fromarray((np.clip(g, 0, 1) * 255).round().astype(np.uint8)).save(a.grid)
        with open(a.grid + ".txt", "w") as f:
            f.write("\n".join(s.caption for s in sc))


if __name__ == "__main__":
    main()
