"""Speed and memory of LRDM next to the stock KSampler (issue: 'at the algorithm's floor').

Runs, in one process and alternating, ComfyUI's KSampler path and LRDM_Sampler on the same model,
seed, sampler, scheduler and steps for 1, 2 and 4 objects; prints a table with the median wall time
of each, the ratio, the floor (U-Net rows over the stock's 2 per step: 1 + f*n with the paper's CFG per layer,
+ the one capture evaluation), U-Net evaluations (batch rows) and U-Net calls counted per run, and the peak
memory of each (process RSS on the CPU, torch.cuda.max_memory_allocated on a GPU, reset before every run),
in total and above the level at the run's start.

The model is either a checkpoint (--ckpt, e.g. the random SD1.5 file of `make models`) or, without
--ckpt, a full-size random-weight SD1.5 or SDXL built in memory from ComfyUI's own model classes
(comfy.supported_models SD15 / SDXL, comfy.sd.CLIP with the arch's text encoders: CLIP-L, or CLIP-L +
CLIP-G with 2048-dim context and 1280-dim pooled output): nothing is read or written on disk. --tiny
shrinks the U-Net and the text encoders' depth (same context and pooled widths) for tests.

--split-check adds one pair of LRDM runs on the largest n: as usual, and with ComfyUI's calc_cond_batch
told there is no free memory, so that it runs every conditioning of the batched step as its own U-Net
call (the path it takes when memory is short); it reports the calls, the time and the largest
difference of the two latents.

    .venv/bin/python bench/speed.py [--ckpt F | --arch sd15|sdxl [--tiny]] [--size 64]
        [--steps 20] [--t0 0.3] [--repeats 3] [--objects 1,2,4] [--device cpu|cuda]
        [--dtype auto|fp32|fp16|bf16] [--threads N] [--split-check] [--out F]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import threading
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import host  # noqa: E402

REPO, RESULTS = host.REPO, host.RESULTS
BOXES = [
    [0.05, 0.05, 0.45, 0.45],
    [0.55, 0.55, 0.95, 0.95],
    [0.55, 0.05, 0.95, 0.45],
    [0.05, 0.55, 0.45, 0.95],
]
PHRASES = ["a red apple", "a blue cup", "a green pear", "a yellow lemon"]
SEED = 1

# Full-size U-Net configs, as comfy.model_detection detects them from released checkpoints
# (ComfyUI 0.3.75, model_detection.py: the SD15 and SDXL dicts of unet_config_from_diffusers_unet).
UNET = {
    "sd15": {
        "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True,
        "legacy": False, "adm_in_channels": None, "in_channels": 4, "model_channels": 320,
        "num_res_blocks": [2, 2, 2, 2], "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
        "channel_mult": [1, 2, 4, 4], "transformer_depth_middle": 1, "use_linear_in_transformer": False,
        "context_dim": 768, "num_heads": 8,
        "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
        "use_temporal_attention": False, "use_temporal_resblock": False,
    },
    "sdxl": {
        "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True,
        "legacy": False, "num_classes": "sequential", "adm_in_channels": 2816, "in_channels": 4,
        "model_channels": 320, "num_res_blocks": [2, 2, 2], "transformer_depth": [0, 0, 2, 2, 10, 10],
        "channel_mult": [1, 2, 4], "transformer_depth_middle": 10, "use_linear_in_transformer": True,
        "context_dim": 2048, "num_head_channels": 64,
        "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10],
        "use_temporal_attention": False, "use_temporal_resblock": False,
    },
}  # fmt: skip
# --tiny: three resolutions (the capture's up-blocks exist), one block each, narrow; context and adm
# widths unchanged, so the conditioning keeps the arch's shapes.
TINY_UNET = {
    "sd15": {
        "model_channels": 32, "channel_mult": [1, 2, 2], "num_res_blocks": [1, 1, 1],
        "transformer_depth": [1, 1, 1], "transformer_depth_output": [1] * 6, "transformer_depth_middle": 1,
    },
    "sdxl": {
        "model_channels": 32, "channel_mult": [1, 2, 2], "num_res_blocks": [1, 1, 1],
        "transformer_depth": [0, 1, 1], "transformer_depth_output": [0, 0, 1, 1, 1, 1],
        "transformer_depth_middle": 1,
    },
}  # fmt: skip
TINY_TEXT_LAYERS = 3  # full width and vocabulary; the hidden layer -2 is read (ComfyUI asserts abs(-2) < layers)
CONFIG_CLASS = {"sd15": "SD15", "sdxl": "SDXL"}
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def say(text: str) -> None:
    """One line to stdout, flushed (progress of long GPU runs)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class PeakMemory:
    """Peak memory during a block: polled process RSS on the CPU, torch's allocator peak on CUDA.

    `start` is the level on entry (weights already loaded, after the warm-up), `peak` the maximum.
    """

    def __init__(self, device: str) -> None:
        self.device, self.peak, self.start = device, 0, 0
        self._stop = threading.Event()

    def __enter__(self):
        import psutil
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
            return self
        proc = psutil.Process()
        self.start = self.peak = proc.memory_info().rss

        def poll() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, proc.memory_info().rss)
                time.sleep(0.005)

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()


def randomize(module, seed: int) -> None:
    """Random weights in place, on the module's own device: norm layers identity, other weights N(0, 0.02),
    biases 0 (as tools/hostkit/checkpoint.py, which writes the random SD1.5 file)."""
    import torch

    norms = (torch.nn.GroupNorm, torch.nn.LayerNorm)
    gens: dict = {}
    with torch.no_grad():
        for sub in module.modules():
            is_norm = isinstance(sub, norms)
            for name, p in sub.named_parameters(recurse=False):
                if not p.is_floating_point():
                    continue
                if is_norm:
                    p.fill_(1.0 if name == "weight" else 0.0)
                elif name == "bias":
                    p.zero_()
                else:
                    if p.device not in gens:
                        gens[p.device] = torch.Generator(device=p.device).manual_seed(seed)
                    p.normal_(0.0, 0.02, generator=gens[p.device])


def build(arch: str, dtype: str = "auto", tiny: bool = False, seed: int = 0):
    """A random-weight model of `arch` in memory, the way comfy.sd.load_checkpoint_guess_config sets one up.

    Returns (ModelPatcher, comfy.sd.CLIP, info dict). ComfyUI must be imported (host.load) first.
    """
    import comfy.model_management as mm
    import comfy.model_patcher
    import comfy.sd
    import comfy.supported_models
    import torch

    unet_config = dict(UNET[arch], **(TINY_UNET[arch] if tiny else {}))
    config = getattr(comfy.supported_models, CONFIG_CLASS[arch])(unet_config)
    load_device = mm.get_torch_device()
    if dtype == "auto":
        unet_dtype = mm.unet_dtype(supported_dtypes=list(config.supported_inference_dtypes))
    else:
        unet_dtype = getattr(torch, DTYPES[dtype])
    manual_cast = mm.unet_manual_cast(unet_dtype, load_device, config.supported_inference_dtypes)
    config.set_inference_dtype(unet_dtype, manual_cast)
    # Built straight on the GPU when there is one (random init there takes seconds, not minutes).
    initial = load_device if load_device.type == "cuda" else torch.device("cpu")
    base = config.get_model({}, device=initial)
    randomize(base.diffusion_model, seed)
    model = comfy.model_patcher.ModelPatcher(base, load_device=load_device, offload_device=mm.unet_offload_device())
    if initial.type != "cpu":
        mm.load_models_gpu([model], force_full_load=True)

    te_options = {"initial_device": mm.text_encoder_device()}
    if dtype != "auto":
        te_options["dtype"] = unet_dtype
    if tiny:
        for name in ("clip_l", "clip_g"):
            te_options[f"{name}_model_config"] = {"num_hidden_layers": TINY_TEXT_LAYERS}
    clip = comfy.sd.CLIP(target=config.clip_target(), model_options=te_options)
    randomize(clip.cond_stage_model, seed + 1)
    info = {
        "arch": arch,
        "tiny": tiny,
        "config": type(config).__name__,
        "unet_dtype": str(unet_dtype).removeprefix("torch."),
        "manual_cast_dtype": None if manual_cast is None else str(manual_cast).removeprefix("torch."),
        "unet_params": sum(p.numel() for p in base.diffusion_model.parameters()),
        "text_params": sum(p.numel() for p in clip.cond_stage_model.parameters()),
        "context_dim": unet_config["context_dim"],
        "adm_in_channels": unet_config["adm_in_channels"],
    }
    return model, clip, info


def setup(args):
    """ComfyUI and the pack in-process; the model loaded or built: (model, clip, pack, info)."""
    pack = host.load(args.device, args.threads or None)
    import comfy.utils

    comfy.utils.set_progress_bar_enabled(False)  # one progress line per run instead
    if args.ckpt:
        import comfy.sd

        model, clip, _, _ = comfy.sd.load_checkpoint_guess_config(args.ckpt, output_vae=False, output_clip=True)
        base = model.model
        info = {"ckpt": str(args.ckpt), "config": type(base.model_config).__name__}
        info["unet_dtype"] = str(base.get_dtype()).removeprefix("torch.")
        cast = base.manual_cast_dtype
        info["manual_cast_dtype"] = None if cast is None else str(cast).removeprefix("torch.")
        return model, clip, pack, info
    model, clip, info = build(args.arch, args.dtype, args.tiny)
    return model, clip, pack, info


@contextlib.contextmanager
def forced_split():
    """calc_cond_batch sees no free memory: every conditioning of a step runs as its own U-Net call.

    Only comfy.samplers' view of model_management changes (model loading decisions stay as they are)."""
    import comfy.samplers

    real = comfy.samplers.model_management

    class NoFreeMemory(types.ModuleType):
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def get_free_memory(*args, **kwargs):
            return 0

    comfy.samplers.model_management = NoFreeMemory("model_management_no_free_memory")
    try:
        yield
    finally:
        comfy.samplers.model_management = real


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", default="", help="checkpoint file (default: build --arch in memory)")
    ap.add_argument("--arch", default="sd15", choices=sorted(UNET), help="model built in memory without --ckpt")
    ap.add_argument("--tiny", action="store_true", help="small U-Net / text encoders of --arch (tests only)")
    ap.add_argument("--dtype", default="auto", choices=["auto", *DTYPES], help="U-Net and text encoder dtype")
    ap.add_argument("--size", type=int, default=64, help="image size in pixels (latent = size / 8)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--t0", type=float, default=0.3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--objects", default="1,2,4")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sampler", default="euler")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--split-check", action="store_true", help="LRDM with calc_cond_batch forced to split")
    ap.add_argument("--out", default=str(RESULTS / "speed.json"))
    args = ap.parse_args(argv)
    args.object_counts = [int(s) for s in args.objects.split(",")]
    if not 1 <= min(args.object_counts) <= max(args.object_counts) <= len(PHRASES):
        ap.error(f"--objects: counts between 1 and {len(PHRASES)}")
    if args.size % 8:
        ap.error("--size: a multiple of 8")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    t_setup = time.perf_counter()
    model, clip, pack, info = setup(args)
    info["setup_s"] = time.perf_counter() - t_setup
    label = f"{info.get('arch', info['config'])} {args.size}px"
    say(f"[{label}] model ready in {info['setup_s']:.1f} s: {json.dumps(info)}")
    from comfy.patcher_extension import WrappersMP

    counter = {"rows": 0, "calls": 0}

    def count(executor, x, *a, **kw):
        counter["rows"] += x.shape[0]
        counter["calls"] += 1
        return executor(x, *a, **kw)

    model = model.clone()
    model.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, "bench_counter", count)
    sampler_node = pack.nodes.sampler_node
    latent = {"samples": torch.zeros(1, 4, args.size // 8, args.size // 8)}
    method = pack.lrdm_core.config.PRESETS["paper"].with_(t0=args.t0).to_dict()

    def stock(n: int):
        prompt = " and ".join(PHRASES[:n])
        pos = clip.encode_from_tokens_scheduled(clip.tokenize(prompt))
        neg = clip.encode_from_tokens_scheduled(clip.tokenize(""))
        return sampler_node.sample(model, pos, neg, latent, SEED, args.steps, 7.5, args.sampler, "normal", 1.0)

    def lrdm(n: int):
        lay = pack.lrdm_core.layout.layout_from_dict(
            {"objects": [{"phrase": p, "box": b} for p, b in zip(PHRASES[:n], BOXES[:n], strict=True)]}
        )
        out = sampler_node.Sampler.execute(
            model,
            clip,
            lay,
            " and ".join(PHRASES[:n]),
            "",
            latent,
            SEED,
            args.steps,
            7.5,
            args.sampler,
            "normal",
            1.0,
            **method,
        )
        return out.args[0]

    def measure(fn, n, what: str):
        counter["rows"] = counter["calls"] = 0
        if args.device == "cuda":
            torch.cuda.synchronize()
        with PeakMemory(args.device) as mem:
            t = time.perf_counter()
            out = fn(n)
            if args.device == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t
        r = {"s": dt, "rows": counter["rows"], "calls": counter["calls"], "peak": mem.peak, "start": mem.start}
        say(
            f"[{label} n={n}] {what}: {dt:.2f} s, {r['rows']} U-Net rows in {r['calls']} calls, "
            f"peak {mem.peak / 2**20:.0f} MB (+{(mem.peak - mem.start) / 2**20:.0f} over start)"
        )
        return r, out

    count = pack.lrdm_core.composition.evaluation_count  # the paper's preset: guidance 'input', CFG per layer
    rows = []
    for n in args.object_counts:
        measure(stock, n, "stock warm-up"), measure(lrdm, n, "LRDM warm-up")  # kernels, caches, model load
        times = {"stock": [], "lrdm": []}
        last, peaks, extra = {}, {"stock": 0, "lrdm": 0}, {"stock": 0, "lrdm": 0}
        for rep in range(args.repeats):
            for name, fn in (("stock", stock), ("lrdm", lrdm)):
                r, _ = measure(fn, n, f"{name} {rep + 1}/{args.repeats}")
                times[name].append(r["s"])
                last[name] = r
                peaks[name] = max(peaks[name], r["peak"])
                extra[name] = max(extra[name], r["peak"] - r["start"])
        k = round(args.t0 * args.steps)
        med = {m: statistics.median(v) for m, v in times.items()}
        rows.append(
            {
                "objects": n,
                "stock_s": med["stock"],
                "lrdm_s": med["lrdm"],
                "ratio": med["lrdm"] / med["stock"],
                "floor": count(args.steps, k, n, shifted=True, capture=False) / (2 * args.steps),
                "floor_with_capture": count(args.steps, k, n, shifted=True) / (2 * args.steps),
                "evals_stock": last["stock"]["rows"],
                "evals_lrdm": last["lrdm"]["rows"],
                "evals_formula": count(args.steps, k, n, shifted=True),
                "calls_stock": last["stock"]["calls"],
                "calls_lrdm": last["lrdm"]["calls"],
                "peak_stock_mb": peaks["stock"] / 2**20,
                "peak_lrdm_mb": peaks["lrdm"] / 2**20,
                "peak_ratio": peaks["lrdm"] / max(peaks["stock"], 1),
                "peak_over_start_stock_mb": extra["stock"] / 2**20,
                "peak_over_start_lrdm_mb": extra["lrdm"] / 2**20,
            }
        )
        print_table(rows, args, info)
        save(args, info, rows, None)  # partial results survive a run cut off later

    split = None
    if args.split_check:
        n = max(args.object_counts)
        a, out_a = measure(lrdm, n, "LRDM, batched")
        with forced_split():
            b, out_b = measure(lrdm, n, "LRDM, calc_cond_batch forced to split")
        xa, xb = out_a["samples"].float(), out_b["samples"].float()
        split = {
            "objects": n,
            "batched_s": a["s"],
            "split_s": b["s"],
            "rows_batched": a["rows"],
            "rows_split": b["rows"],
            "calls_batched": a["calls"],
            "calls_split": b["calls"],
            "peak_batched_mb": a["peak"] / 2**20,
            "peak_split_mb": b["peak"] / 2**20,
            "max_abs_diff": float((xa - xb).abs().max()),
            "max_abs": float(xa.abs().max()),
            "finite": bool(torch.isfinite(xa).all() and torch.isfinite(xb).all()),
        }
        say(
            f"[{label}] split check n={n}: {split['calls_batched']} -> {split['calls_split']} U-Net calls, "
            f"rows {split['rows_batched']} / {split['rows_split']}, {a['s']:.2f} s -> {b['s']:.2f} s, "
            f"max |diff| {split['max_abs_diff']:.3g} (max |x| {split['max_abs']:.3g}), finite {split['finite']}"
        )

    save(args, info, rows, split)
    say(f"[{label}] wrote {args.out}")
    return 0


def save(args, info: dict, rows: list[dict], split: dict | None) -> None:
    """The results as JSON at args.out (written after every row, so a run cut short keeps its rows)."""
    import torch

    out = {
        "args": {k: v for k, v in vars(args).items() if k != "object_counts"},
        "device": device_name(args.device),
        "torch": torch.__version__,
        "model": info,
        "rows": rows,
        "split_check": split,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(path)


def device_name(device: str) -> str:
    """What ran the benchmark, for the table's caption."""
    import platform

    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def table_lines(rows: list[dict], args: dict, device: str, info: dict) -> list[str]:
    """The benchmark table (markdown lines); args as a dict (also from a saved JSON)."""
    what = info.get("arch", info.get("config", "?")) + (" (tiny)" if info.get("tiny") else "")
    dtype = info.get("unet_dtype", args.get("dtype", "?"))
    out = [
        f"LRDM vs stock KSampler: {what}, {dtype}, {args['size']}px, {args['steps']} steps {args['sampler']}, "
        f"t0={args['t0']}, median of {args['repeats']}, {device}",
        "| objects | stock s | LRDM s | ratio | floor 1+f*n | +capture | U-Net evals stock / LRDM (formula) "
        "| U-Net calls stock / LRDM | peak MB stock / LRDM (ratio) | peak over start MB stock / LRDM |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['objects']} | {r['stock_s']:.2f} | {r['lrdm_s']:.2f} | {r['ratio']:.3f} | {r['floor']:.3f} "
            f"| {r['floor_with_capture']:.3f} | {r['evals_stock']} / {r['evals_lrdm']} ({r['evals_formula']}) "
            f"| {r.get('calls_stock', '?')} / {r.get('calls_lrdm', '?')} "
            f"| {r['peak_stock_mb']:.0f} / {r['peak_lrdm_mb']:.0f} ({r['peak_ratio']:.2f}) "
            f"| {r.get('peak_over_start_stock_mb', 0):.0f} / {r.get('peak_over_start_lrdm_mb', 0):.0f} |"
        )
    return out


def print_table(rows: list[dict], args, info: dict) -> None:
    """The benchmark table (markdown) to stdout."""
    say("\n" + "\n".join(table_lines(rows, vars(args), device_name(args.device), info)))


if __name__ == "__main__":
    raise SystemExit(main())
