"""Train the LRDM toy text-to-image model (seeded, resumable) and export models/lrdm_toy.safetensors.

The model is built with nodes/host/toy_model.py's builders, so the exported weights load exactly through
LRDM_ToyModelLoader. Data are generated on the fly by tools/toyworld/scenes.py: batch k depends only on
(seed, k), so a resumed run sees the same data as an uninterrupted one.

    .venv/bin/python scripts/train_toy.py --steps 6000 --stop-at 5730 --ckpt .cache/toy/lrdm_toy_repro.pt  # shipped

A run resumes from --ckpt when that file exists (same flags); --max-minutes stops early and exports.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import types
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from hostkit import bootstrap  # noqa: E402
from toyworld import scenes  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=6000, help="total optimiser steps (the LR schedule spans them)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--min-lr-frac", type=float, default=0.1, help="cosine decay floor as a fraction of --lr")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the exported weights (0 = off)")
    p.add_argument("--min-snr", type=float, default=5.0, help="min-SNR-gamma loss weighting (0 = plain v-loss)")
    p.add_argument("--cond-drop", type=float, default=0.1, help="probability of an empty caption (for CFG)")
    p.add_argument("--empty-frac", type=float, default=0.1, help="fraction of scenes without objects ('empty')")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    p.add_argument("--prediction", choices=["x0", "v"], default=None, help="U-Net target (default: config's)")
    p.add_argument("--model-channels", type=int, default=None)
    p.add_argument("--res-blocks", type=int, default=None)
    p.add_argument("--text-width", type=int, default=None)
    p.add_argument("--text-layers", type=int, default=None)
    p.add_argument("--head-channels", type=int, default=None, help="U-Net channels per attention head")
    p.add_argument("--text-heads", type=int, default=None, help="attention heads of the text model")
    p.add_argument("--max-objects", type=int, default=3, help="most objects in a training scene")
    p.add_argument("--min-side", type=int, default=16, help="smallest object box side in pixels (of 64)")
    p.add_argument("--max-side", type=int, default=32, help="largest object box side in pixels (of 64)")
    p.add_argument(
        "--ckpt",
        default=os.path.join(REPO, ".cache", "toy", "lrdm_toy_ckpt.pt"),
        help="resumable training checkpoint (.pt; default %(default)s)",
    )
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--out", default=os.path.join(REPO, "models", "lrdm_toy.safetensors"))
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop (checkpoint + export) after this wall time")
    p.add_argument(
        "--stop-at",
        type=int,
        default=0,
        help="stop (checkpoint + export) after this step; the LR "
        "schedule still spans --steps (reproduces a run that hit --max-minutes)",
    )
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--export-only", action="store_true", help="export --ckpt to --out and exit")
    p.add_argument("--export-raw", action="store_true", help="export the live weights instead of the EMA")
    p.add_argument("--comfy", default=None, help="ComfyUI tree (default: $COMFYUI_PATH, else .host/ComfyUI)")
    return p.parse_args()


def make_config(tm: Any, a: argparse.Namespace) -> dict[str, Any]:
    """Default toy config with command-line overrides."""
    cfg = tm.default_config()
    if a.prediction:
        cfg["prediction"] = a.prediction
    if a.model_channels:
        cfg["unet"]["model_channels"] = a.model_channels
    if a.res_blocks:
        n = a.res_blocks
        levels = len(cfg["unet"]["channel_mult"])
        cfg["unet"]["num_res_blocks"] = [n] * levels
        cfg["unet"]["transformer_depth"] = [1] * (n * levels)
        cfg["unet"]["transformer_depth_output"] = [1] * ((n + 1) * levels)
    if a.text_width:
        cfg["text"]["hidden_size"] = cfg["text"]["projection_dim"] = a.text_width
        cfg["text"]["intermediate_size"] = 4 * a.text_width
        cfg["unet"]["context_dim"] = a.text_width
    if a.text_layers:
        cfg["text"]["num_hidden_layers"] = a.text_layers
    if a.head_channels:
        cfg["unet"]["num_head_channels"] = a.head_channels
    if a.text_heads:
        cfg["text"]["num_attention_heads"] = a.text_heads
    return cfg


def data_kwargs(a: argparse.Namespace) -> dict[str, int]:
    """Scene-generator arguments of the training data (defaults: the first model's 1-3 objects, sides 16-32)."""
    return {"max_objects": a.max_objects, "min_side": a.min_side, "max_side": a.max_side}


def init_weights(modules: list[torch.nn.Module], vocab_ids: list[int]) -> None:
    """Fresh init (ComfyUI skips it): torch defaults, zeroed residual outputs, vocabulary-only token rows."""
    for root in modules:
        for name, m in root.named_modules():
            if isinstance(m, torch.nn.Embedding):
                torch.nn.init.normal_(m.weight, std=0.02)
            elif isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.LayerNorm, torch.nn.GroupNorm)):
                _reset(m)
            if name.endswith(("out_layers.3", "proj_out")) or name == "out.2":
                for p in m.parameters():
                    torch.nn.init.zeros_(p)
    for root in modules:
        for name, m in root.named_modules():
            if isinstance(m, torch.nn.Embedding) and name.endswith("token_embedding"):
                keep = torch.zeros(m.weight.shape[0], dtype=torch.bool)
                keep[vocab_ids] = True
                with torch.no_grad():
                    m.weight[~keep] = 0.0  # never trained; the export stores only the vocabulary rows


def _reset(m: torch.nn.Module) -> None:
    """Call the stock torch reset_parameters (ComfyUI's ops override it with a no-op)."""
    for cls in (torch.nn.Linear, torch.nn.Conv2d, torch.nn.LayerNorm, torch.nn.GroupNorm):
        if isinstance(m, cls):
            cls.reset_parameters(m)
            return


def make_clip_trainable(text: torch.nn.Module) -> None:
    """Give each CLIPLayer an out-of-place forward (ComfyUI's `x += ...` breaks autograd); same maths."""

    def forward(self: Any, x: torch.Tensor, mask: Any = None, optimized_attention: Any = None) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x), mask, optimized_attention)  # [B, T, D]
        return x + self.mlp(self.layer_norm2(x))  # [B, T, D]

    for m in text.modules():
        if type(m).__name__ == "CLIPLayer":
            m.forward = types.MethodType(forward, m)


def sparse_token_rows(text: torch.nn.Module, vocab_ids: list[int]) -> torch.nn.Parameter:
    """Train only the vocabulary's rows of the 49408-row token table (a hook looks them up; others read 0)."""
    emb = text.clip_l.transformer.text_model.embeddings.token_embedding
    rows = torch.nn.Parameter(emb.weight.detach()[vocab_ids].clone())  # [n, D]
    lut = torch.full((emb.weight.shape[0],), len(vocab_ids), dtype=torch.long)  # [V] -> row, n = zero row
    lut[vocab_ids] = torch.arange(len(vocab_ids))

    def hook(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        table = torch.cat([rows, rows.new_zeros(1, rows.shape[1])])  # [n + 1, D]
        return table[lut[args[0]]].to(output.dtype)  # [B, T, D]

    emb.register_forward_hook(hook)
    return rows


def write_token_rows(text: torch.nn.Module, vocab_ids: list[int], rows: torch.Tensor) -> None:
    """Copy trained rows back into the full token table (what the loader rebuilds)."""
    with torch.no_grad():
        text.clip_l.transformer.text_model.embeddings.token_embedding.weight[vocab_ids] = rows.detach()


def lr_at(step: int, a: argparse.Namespace) -> float:
    """Linear warmup then cosine decay to min_lr_frac * lr at --steps."""
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    t = min(1.0, (step - a.warmup) / max(1, a.steps - a.warmup))
    return a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def main() -> None:
    """Train, checkpoint, export."""
    a = parse_args()
    torch.set_num_threads(a.threads)
    bootstrap.setup_comfy(a.comfy, pytorch_attention=True)
    from tqdm import tqdm

    tm = bootstrap.pack_module("nodes.host.toy_model")

    cfg = make_config(tm, a)
    torch.manual_seed(a.seed)
    patcher = tm.build_model(cfg, dtype=torch.float32)
    clip = tm.build_clip(cfg, dtype=torch.float32)
    vae = tm.ToyVAE()
    base = patcher.model  # comfy.model_base.BaseModel
    text = clip.cond_stage_model  # SD1ClipModel (clip_l = tiny SDClipModel)

    token_cache: dict[str, list[int]] = {}

    def tokens(caption: str) -> list[int]:
        """Token ids of a caption through ComfyUI's SD1 tokenizer (77, padded)."""
        if caption not in token_cache:
            token_cache[caption] = [t for t, _ in clip.tokenize(caption)["l"][0]]
        return token_cache[caption]

    vocab_ids = sorted({t for w in scenes.vocabulary() for t in tokens(w)} | set(tokens("")))
    init_weights([base.diffusion_model, text], vocab_ids)
    make_clip_trainable(text)
    rows = sparse_token_rows(text, vocab_ids)
    params = [p for p in list(base.diffusion_model.parameters()) + list(text.parameters()) if p.dtype.is_floating_point]
    for p in params:
        p.requires_grad_(True)
    text.clip_l.logit_scale.requires_grad_(False)
    text.clip_l.transformer.text_model.embeddings.token_embedding.weight.requires_grad_(False)
    params = [p for p in params if p.requires_grad] + [rows]
    base.diffusion_model.train()
    text.train()
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay, betas=(0.9, 0.99))
    ema = [p.detach().clone() for p in params]
    n_unet = sum(p.numel() for p in base.diffusion_model.parameters())
    n_text = sum(p.numel() for p in params[:-1]) - n_unet
    print(
        f"U-Net {n_unet / 1e6:.2f} M params, text {n_text / 1e6:.2f} M (+ {len(vocab_ids)} token rows); "
        f"config {json.dumps(cfg['unet'])}",
        flush=True,
    )

    start, losses, elapsed_before = 0, [], 0.0
    if a.ckpt and os.path.isfile(a.ckpt):
        ck = torch.load(a.ckpt, map_location="cpu", weights_only=True)  # tensors and plain data, never code
        if ck["config"] != cfg or ck.get("data", data_kwargs(a)) != data_kwargs(a):
            raise SystemExit(f"{a.ckpt} was trained with another config or data; delete it or pass the same flags.")
        for p, v in zip(params, ck["params"], strict=True):
            p.data.copy_(v)
        for e, v in zip(ema, ck["ema"], strict=True):
            e.copy_(v)
        opt.load_state_dict(ck["opt"])
        start, losses, elapsed_before = ck["step"], ck["losses"], ck["elapsed"]
        print(f"resumed from {a.ckpt} at step {start}", flush=True)

    sigmas = base.model_sampling.sigmas.float()  # [1000], SD1's discrete schedule
    t_start = time.time()

    def save_ckpt(step: int) -> None:
        """Write the resumable checkpoint atomically."""
        if not a.ckpt:
            return
        os.makedirs(os.path.dirname(os.path.abspath(a.ckpt)), exist_ok=True)
        tmp = a.ckpt + ".tmp"
        torch.save(
            {
                "config": cfg,
                "data": data_kwargs(a),
                "params": [p.detach() for p in params],
                "ema": ema,
                "opt": opt.state_dict(),
                "step": step,
                "losses": losses,
                "elapsed": elapsed_before + time.time() - t_start,
            },
            tmp,
        )
        os.replace(tmp, a.ckpt)

    def export(step: int) -> None:
        """Write EMA weights to --out (fp16 safetensors) with training metadata."""
        live = [p.detach().clone() for p in params]
        if not a.export_raw:
            for p, e in zip(params, ema, strict=True):
                p.data.copy_(e)
        recent = losses[-200:]
        info = {
            "steps": str(step),
            "batch": str(a.batch),
            "seed": str(a.seed),
            "lr": str(a.lr),
            "ema": str(a.ema),
            "min_snr": str(a.min_snr),
            "final_loss": f"{float(np.mean(recent)) if recent else float('nan'):.4f}",
            "train_minutes": f"{(elapsed_before + time.time() - t_start) / 60:.1f}",
            "threads": str(a.threads),
            "data": json.dumps(data_kwargs(a)),
        }
        write_token_rows(text, vocab_ids, params[-1])
        tm.save_toy(a.out, patcher, clip, cfg, vocab_ids, info=info)
        for p, v in zip(params, live, strict=True):
            p.data.copy_(v)
        print(f"exported {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB) at step {step}", flush=True)

    if a.export_only:
        export(start)
        return
    end = min(a.steps, a.stop_at) if a.stop_at else a.steps
    bar = tqdm(
        range(start, end),
        initial=start,
        total=a.steps,
        mininterval=20.0,
        file=sys.stdout,
        dynamic_ncols=False,
        ncols=100,
    )
    step = start
    for step in bar:
        rng = np.random.default_rng([a.seed, step])
        batch = [
            scenes.sample_scene(rng, min_objects=0, max_objects=0)
            if rng.random() < a.empty_frac
            else scenes.sample_scene(rng, **data_kwargs(a))
            for _ in range(a.batch)
        ]
        images = torch.from_numpy(np.stack([scenes.render(s) for s in batch]))  # [B, H, W, 3]
        caps = ["" if rng.random() < a.cond_drop else s.caption for s in batch]
        with torch.no_grad():
            x0 = vae.first_stage_model.encode(images.movedim(-1, 1) * 2.0 - 1.0)  # [B, 48, H/8, W/8]
        g = torch.Generator().manual_seed(a.seed * 1_000_003 + step)
        t = torch.randint(0, sigmas.shape[0], (a.batch,), generator=g)  # [B]
        sigma = sigmas[t]  # [B]
        noise = torch.randn(x0.shape, generator=g)  # [B, 48, h, w]
        x = x0 + noise * sigma[:, None, None, None]  # k-diffusion form; apply_model rescales by 1/sqrt(s^2+1)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, a)
        context, _ = text.clip_l([tokens(c) for c in caps])  # [B, 77, D]
        denoised = base.apply_model(x, sigma, c_crossattn=context)  # [B, 48, h, w]
        # Loss on the denoised latent for any parametrisation: v-loss = (snr + 1) * |x0 error|^2;
        # min-SNR-gamma weighs it min(snr, gamma) * |x0 error|^2 (Hang et al. 2023).
        snr = 1.0 / sigma**2  # [B]
        w = torch.minimum(snr, torch.full_like(snr, a.min_snr)) if a.min_snr > 0 else snr + 1.0
        per = ((denoised - x0) ** 2).mean(dim=(1, 2, 3))  # [B]
        loss = (w * per).mean()
        v_loss = ((snr + 1.0) * per).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if a.ema > 0:
            d = min(a.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                torch._foreach_lerp_(ema, [p.detach() for p in params], 1.0 - d)
        else:
            for e, p in zip(ema, params, strict=True):
                e.copy_(p.detach())
        losses.append(float(v_loss.detach()))
        if (step + 1) % a.log_every == 0:
            bar.set_postfix_str(f"v-loss {np.mean(losses[-a.log_every :]):.4f} lr {lr_at(step, a):.2e}")
            per_step = (time.time() - t_start) / max(1, step + 1 - start)
            eta = per_step * (end - step - 1) / 60
            print(
                f"step {step + 1} v-loss {np.mean(losses[-a.log_every :]):.4f} ({per_step:.2f} s/step, "
                f"ETA {eta:.1f} min)",
                flush=True,
            )
        if a.ckpt_every and (step + 1) % a.ckpt_every == 0:
            save_ckpt(step + 1)
        if a.max_minutes and time.time() - t_start > a.max_minutes * 60:
            print(f"time limit reached at step {step + 1}", flush=True)
            step += 1
            break
    else:
        step = max(start, end)
        if end < a.steps:
            print(f"stopped at step {step} (--stop-at)", flush=True)
    bar.close()
    save_ckpt(step)
    export(step)


if __name__ == "__main__":
    main()
