"""Speed and memory of LRDM next to the stock KSampler, as users run it (issue 15).

One configuration per process: a model (a checkpoint, or a full-size random-weight SD1.5 or SDXL built in
memory), one image size, the presets (`plus` = the node defaults, LRDM+ with its region biases; `paper` =
the paper's method) and the object counts. For each object count it runs, alternating in one process,
ComfyUI's KSampler path once and LRDM_Sampler once per preset (times --repeats), with the same seed,
sampler, scheduler and steps; the presets' rows share the stock runs. Few steps with t0 give each run
layered, biased and plain steps. Reported per (preset, objects): the median wall times and their ratio,
the floor 1 + f*n/2 (f = layered steps / steps; 1 + f*n for the paper's CFG per layer; +capture: the one
capture evaluation on x_T counted too),
U-Net evaluations (batch rows) and calls, and the peak memory of each: the process RSS on a CPU (glibc is
told to map every block of 1 MiB or more on its own and the heap is trimmed between runs, so that the RSS
follows what is alive), torch.cuda.max_memory_allocated on a GPU (reset before every run).

The model is a checkpoint (--ckpt, e.g. the random SD1.5 file of `make models`) or, without --ckpt, a
full-size random-weight SD1.5 or SDXL built in memory from ComfyUI's own model classes
(comfy.supported_models SD15 / SDXL, comfy.sd.CLIP with the arch's text encoders: CLIP-L, or CLIP-L +
CLIP-G with 2048-dim context and 1280-dim pooled output): nothing is read or written on disk. --tiny
shrinks the U-Net and the text encoders' depth (same context and pooled widths) for tests.

--plan NAME runs the configurations of PLANS[NAME], each in its own process, and merges their rows into
one JSON (`make bench-speed` runs --plan cpu on the random checkpoints: SD1.5 at 64 and 512 px, 16
objects at 512 px, the SDXL-architecture stand-in at 1024 px). --table FILE prints the table of a saved JSON.

--split-check adds one pair of LRDM runs (first preset, largest n): as usual, and with ComfyUI's
calc_cond_batch told there is no free memory, so that it runs every conditioning of the batched step as
its own U-Net call (the path it takes when memory is short); it reports the calls, the time and the
largest difference of the two latents.

    .venv/bin/python bench/speed.py [--ckpt F | --arch sd15|sdxl [--tiny]] [--size 64] [--steps 6]
        [--t0 0.3] [--repeats 1] [--presets plus,paper] [--objects 2,4] [--device cpu|cuda]
        [--dtype auto|fp32|fp16|bf16] [--threads N] [--split-check] [--out F]
    .venv/bin/python bench/speed.py --plan cpu --sd15-ckpt F --sdxl-ckpt F [--out F]
    .venv/bin/python bench/speed.py --table bench/results/speed.json
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import statistics
import subprocess
import sys
import tempfile
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
PHRASES = [
    "a red apple", "a blue cup", "a green pear", "a yellow lemon", "a purple plum", "an orange ball",
    "a white egg", "a black hat", "a pink flower", "a brown shoe", "a gray stone", "a golden key",
    "a silver spoon", "a teal vase", "a violet book", "a beige box",
]  # fmt: skip
SEED = 1
PRESETS = ("plus", "paper")
# `make bench-speed` (24.3-24.5 min on a quiet 2-core machine, measured): SD1.5 at 64 px (bound by its weights)
# and 512 px, both presets, 2 and 4 objects; 6 steps where the time is compared with the floor (t0 0.3: 2
# layered; LRDM+: 5 biased; 1 plain), 3 steps elsewhere (1 layered, 2 biased, 1 plain); 16 objects at 512 px
# (it completes; ComfyUI splits the batch if it must); the SDXL-architecture stand-in of `make models`
# (SDXL's blocks and token counts at a third of the width) at 1024 px. --only picks entries by index.
PLANS = {
    "cpu": [
        {"model": "sd15", "size": 64, "presets": "plus,paper", "objects": "2,4", "steps": 6},
        {"model": "sd15", "size": 512, "presets": "plus,paper", "objects": "2", "steps": 6},
        {"model": "sd15", "size": 512, "presets": "plus,paper", "objects": "4", "steps": 3},
        {"model": "sd15", "size": 512, "presets": "plus", "objects": "16", "steps": 3},
        {"model": "sdxl", "size": 1024, "presets": "plus,paper", "objects": "2", "steps": 3},
        {"model": "sdxl", "size": 1024, "presets": "plus", "objects": "4", "steps": 3},
    ],
}

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


def boxes(n: int) -> list[list[float]]:
    """n boxes: the four quadrants for n <= 4, else the cells of a square grid (row by row)."""
    if n <= len(BOXES):
        return BOXES[:n]
    side = math.ceil(math.sqrt(n))
    cell = 1.0 / side
    return [
        [
            (i % side) * cell + 0.02,
            (i // side) * cell + 0.02,
            (i % side + 1) * cell - 0.02,
            (i // side + 1) * cell - 0.02,
        ]
        for i in range(n)
    ]


def steady_rss():
    """glibc: blocks of 1 MiB or more mapped on their own (returned to the OS when freed), so the RSS follows
    the live memory; returns the C library for malloc_trim, or None elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 2**20)  # M_MMAP_THRESHOLD (fixed: no dynamic raise after a free)
        return libc
    except (OSError, AttributeError):
        return None


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
    """Random weights in place: the test models' one fill (tools/hostkit/randomweights.py), seeded."""
    import torch
    from hostkit.randomweights import randomize as fill

    fill(module, torch.Generator().manual_seed(seed))


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

    Only the sampler's view of free memory changes (model loading decisions stay as they are): newer hosts
    ask the patcher (ModelPatcher.get_free_memory, comfy/samplers.py calc_cond_batch), ComfyUI <= 0.3.x asks
    comfy.samplers.model_management."""
    import comfy.model_patcher
    import comfy.samplers

    patcher_cls = comfy.model_patcher.ModelPatcher
    if "get_free_memory" in vars(patcher_cls):
        real_method = patcher_cls.get_free_memory
        patcher_cls.get_free_memory = lambda self, *args, **kwargs: 0
        try:
            yield
        finally:
            patcher_cls.get_free_memory = real_method
        return
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
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--t0", type=float, default=0.3, help="layered fraction of the steps, both presets")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--presets", default="plus,paper", help="plus (the node defaults) and/or paper")
    ap.add_argument("--objects", default="2,4")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sampler", default="euler")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--split-check", action="store_true", help="LRDM with calc_cond_batch forced to split")
    ap.add_argument("--plan", default="", choices=["", *PLANS], help="run a list of configurations (PLANS)")
    ap.add_argument("--only", default="", help="--plan: entries by index (0,2); rows merged into --out")
    ap.add_argument("--sd15-ckpt", default="", help="--plan: SD1.5 checkpoint (default: built in memory)")
    ap.add_argument("--sdxl-ckpt", default="", help="--plan: SDXL checkpoint (default: built in memory)")
    ap.add_argument("--table", default="", help="print the table of a saved JSON and exit")
    ap.add_argument("--out", default=str(RESULTS / "speed.json"))
    args = ap.parse_args(argv)
    args.object_counts = [int(s) for s in args.objects.split(",")]
    args.preset_names = [s.strip() for s in args.presets.split(",") if s.strip()]
    if not 1 <= min(args.object_counts) <= max(args.object_counts) <= len(PHRASES):
        ap.error(f"--objects: counts between 1 and {len(PHRASES)}")
    if not args.preset_names or any(p not in PRESETS for p in args.preset_names):
        ap.error(f"--presets: some of {', '.join(PRESETS)}")
    if args.size % 8:
        ap.error("--size: a multiple of 8")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.table:
        say("\n".join(table_lines(json.loads(Path(args.table).read_text()))))
        return 0
    if args.plan:
        return run_plan(args)
    return run_config(args)


def run_plan(args) -> int:
    """Each configuration of PLANS[args.plan] in its own process; the rows merged into args.out after each
    (with --only, into the rows already there: same (arch, size, preset, objects, steps) replaced)."""
    failures = []
    t_start = time.perf_counter()
    plan = PLANS[args.plan]
    path = Path(args.out)
    merged = json.loads(path.read_text()) if args.only and path.exists() else {"plan": args.plan, "wall_s": 0.0}
    merged.update(failures=failures)
    wall = merged["wall_s"]
    for cfg in [plan[int(i)] for i in args.only.split(",")] if args.only else plan:
        ckpt = {"sd15": args.sd15_ckpt, "sdxl": args.sdxl_ckpt}[cfg["model"]]
        out = Path(tempfile.mkdtemp(prefix="lrdm_speed_")) / "run.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), *(["--ckpt", ckpt] if ckpt else ["--arch", cfg["model"]])]
        for key in ("size", "presets", "objects", "steps"):
            cmd += [f"--{key}", str(cfg[key])]
        cmd += ["--t0", str(args.t0), "--repeats", str(args.repeats), "--device", args.device, "--dtype", args.dtype]
        cmd += ["--threads", str(args.threads), "--out", str(out)]
        say(f"== {cfg} ({time.perf_counter() - t_start:.0f} s into the plan)")
        rc = subprocess.run(cmd).returncode
        if rc:
            failures.append(f"{cfg}: exit {rc}")
        if out.exists():  # rows of a run cut short are kept
            merge_run(merged, json.loads(out.read_text()))
        merged["wall_s"] = wall + time.perf_counter() - t_start
        write_json(path, merged)
    say("\n" + "\n".join(table_lines(merged)))
    say(f"wrote {args.out} in {merged['wall_s'] / 60:.1f} min" + (f"; failures: {failures}" if failures else ""))
    return 1 if failures else 0


def merge_run(merged: dict, run: dict) -> None:
    """Add one configuration's results to a merged plan result (its rows replace rows with the same key)."""
    key = ("arch", "size", "preset", "objects", "steps")
    new_keys = {tuple(r[k] for k in key) for r in run["rows"]}
    rows = [r for r in merged.get("rows", []) if tuple(r[k] for k in key) not in new_keys] + run["rows"]
    merged["rows"] = sorted(
        rows, key=lambda r: (r["arch"], r["size"], r["objects"], r["steps"], PRESETS.index(r["preset"]))
    )
    merged.setdefault("device", run["device"])
    merged.setdefault("torch", run["torch"])
    merged.setdefault("runs", []).append({k: run[k] for k in ("args", "model")})
    if run.get("split_check"):
        merged.setdefault("split_check", []).append(run["split_check"])


def steps_of(pack, preset: str, steps: int, t0: float) -> dict:
    """Layered, biased and plain steps of one LRDM run (lrdm_core.window's rounding)."""
    cfg = pack.lrdm_core.config.PRESETS[preset].with_(t0=t0)
    k = pack.lrdm_core.window.layered_steps(steps, t0)
    biased = pack.lrdm_core.window.layered_steps(steps, cfg.bias_end) if cfg.biased() else 0
    return {"layered": k, "biased": biased, "plain": steps - max(k, biased)}


def run_config(args) -> int:
    import torch

    libc = steady_rss() if args.device == "cpu" else None
    t_setup = time.perf_counter()
    model, clip, pack, info = setup(args)
    info["setup_s"] = time.perf_counter() - t_setup
    arch = info.get("arch") or info["config"].lower()
    label = f"{arch} {args.size}px"
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
    presets = {p: pack.lrdm_core.config.PRESETS[p].with_(t0=args.t0).to_dict() for p in PRESETS}

    def latent(size):
        return {"samples": torch.zeros(1, 4, size // 8, size // 8)}

    def stock(n: int, size: int = args.size, steps: int = args.steps):
        prompt = " and ".join(PHRASES[:n])
        pos = clip.encode_from_tokens_scheduled(clip.tokenize(prompt))
        neg = clip.encode_from_tokens_scheduled(clip.tokenize(""))
        return sampler_node.sample(model, pos, neg, latent(size), SEED, steps, 7.5, args.sampler, "normal", 1.0)

    def lrdm(n: int, preset: str, size: int = args.size, steps: int = args.steps):
        lay = pack.lrdm_core.layout.layout_from_dict(
            {"objects": [{"phrase": p, "box": b} for p, b in zip(PHRASES[:n], boxes(n), strict=True)]}
        )
        prompt = " and ".join(PHRASES[:n])
        out = sampler_node.Sampler.execute(
            model, clip, lay, prompt, "", latent(size), SEED, steps, 7.5, args.sampler, "normal", 1.0, **presets[preset]
        )
        return out.args[0]

    def measure(fn, what: str, *a):
        counter["rows"] = counter["calls"] = 0
        if libc is not None:
            libc.malloc_trim(0)
        if args.device == "cuda":
            torch.cuda.synchronize()
        with PeakMemory(args.device) as mem:
            t = time.perf_counter()
            out = fn(*a)
            if args.device == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t
        r = {"s": dt, "rows": counter["rows"], "calls": counter["calls"], "peak": mem.peak, "start": mem.start}
        say(
            f"[{label} n={a[0]}] {what}: {dt:.2f} s, {r['rows']} U-Net rows in {r['calls']} calls, "
            f"peak {mem.peak / 2**20:.0f} MB (+{(mem.peak - mem.start) / 2**20:.0f} over start)"
        )
        return r, out

    warm = min(args.size, 64)  # kernels, caches, lazy imports: a cheap pass of both paths first
    measure(stock, "stock warm-up (64 px, 2 steps)", 2, warm, 2)
    for p in args.preset_names:
        measure(lrdm, f"LRDM {p} warm-up (64 px, 2 steps)", 2, p, warm, 2)
    rows = []
    for n in args.object_counts:
        runs = {name: [] for name in ("stock", *args.preset_names)}
        for rep in range(args.repeats):
            runs["stock"].append(measure(stock, f"stock {rep + 1}/{args.repeats}", n)[0])
            for p in args.preset_names:
                runs[p].append(measure(lrdm, f"LRDM {p} {rep + 1}/{args.repeats}", n, p)[0])
        for p in args.preset_names:
            rows.append(
                summarize(runs["stock"], runs[p], arch=arch, size=args.size, preset=p, n=n, args=args, pack=pack)
            )
        say("\n" + "\n".join(table_lines({"rows": rows, "device": device_name(args.device), "model": info})))
        save(args, info, rows, None)  # partial results survive a run cut off later

    split = None
    if args.split_check:
        n, p = max(args.object_counts), args.preset_names[0]
        a, out_a = measure(lrdm, f"LRDM {p}, batched", n, p)
        with forced_split():
            b, out_b = measure(lrdm, f"LRDM {p}, calc_cond_batch forced to split", n, p)
        xa, xb = out_a["samples"].float(), out_b["samples"].float()
        split = {
            "arch": arch,
            "size": args.size,
            "preset": p,
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


def summarize(stock: list[dict], lrdm: list[dict], *, arch, size, preset, n, args, pack) -> dict:
    """One row of the table: medians of the times, peaks, evaluation counts and the floor."""
    s = steps_of(pack, preset, args.steps, args.t0)
    k, steps = s["layered"], args.steps
    config = pack.lrdm_core.config
    shifted = config.PRESETS[preset].guidance in (config.Guidance.INPUT, config.Guidance.EPS)  # CFG per layer
    count = pack.lrdm_core.composition.evaluation_count
    med_stock, med_lrdm = statistics.median(r["s"] for r in stock), statistics.median(r["s"] for r in lrdm)
    peak_stock, peak_lrdm = max(r["peak"] for r in stock), max(r["peak"] for r in lrdm)
    return {
        "arch": arch,
        "size": size,
        "preset": preset,
        "objects": n,
        "steps": steps,
        "layered_steps": k,
        "biased_steps": s["biased"],
        "plain_steps": s["plain"],
        "stock_s": med_stock,
        "lrdm_s": med_lrdm,
        "ratio": med_lrdm / med_stock,
        "floor": count(steps, k, n, shifted, capture=False) / (2 * steps),
        "floor_with_capture": count(steps, k, n, shifted) / (2 * steps),
        "evals_stock": stock[-1]["rows"],
        "evals_lrdm": lrdm[-1]["rows"],
        "evals_formula": count(steps, k, n, shifted),
        "calls_stock": stock[-1]["calls"],
        "calls_lrdm": lrdm[-1]["calls"],
        "peak_stock_mb": peak_stock / 2**20,
        "peak_lrdm_mb": peak_lrdm / 2**20,
        "peak_ratio": peak_lrdm / max(peak_stock, 1),
        "peak_over_start_stock_mb": max(r["peak"] - r["start"] for r in stock) / 2**20,
        "peak_over_start_lrdm_mb": max(r["peak"] - r["start"] for r in lrdm) / 2**20,
    }


def save(args, info: dict, rows: list[dict], split: dict | None) -> None:
    """The results of one configuration as JSON at args.out (rewritten after every object count)."""
    import torch

    out = {
        "args": {k: v for k, v in vars(args).items() if k not in ("object_counts", "preset_names")},
        "device": device_name(args.device),
        "torch": torch.__version__,
        "model": info,
        "rows": rows,
        "split_check": split,
    }
    write_json(Path(args.out), out)


def write_json(path: Path, data: dict) -> None:
    """Atomically (a run cut short leaves the last complete file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def device_name(device: str) -> str:
    """What ran the benchmark, for the table's caption."""
    import platform

    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def table_lines(result: dict) -> list[str]:
    """The benchmark table (markdown lines) of a saved result (one configuration or a merged plan)."""
    out = [
        f"LRDM vs stock KSampler on {result.get('device', '?')}; median wall time; floor = 1 + f*n/2 (paper: 1 + f*n), "
        "f = layered steps / steps (+capture: with the capture evaluation)",
        "| arch | px | preset | objects | steps layered/biased/plain | stock s | LRDM s | ratio | floor (+capture) "
        "| U-Net evals stock / LRDM (formula) | U-Net calls stock / LRDM | peak MB stock / LRDM | peak ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        out.append(
            f"| {r['arch']} | {r['size']} | {r['preset']} | {r['objects']} "
            f"| {r['steps']}: {r['layered_steps']}/{r['biased_steps']}/{r['plain_steps']} "
            f"| {r['stock_s']:.2f} | {r['lrdm_s']:.2f} | {r['ratio']:.2f} "
            f"| {r['floor']:.2f} ({r['floor_with_capture']:.2f}) "
            f"| {r['evals_stock']} / {r['evals_lrdm']} ({r['evals_formula']}) | {r['calls_stock']} / {r['calls_lrdm']} "
            f"| {r['peak_stock_mb']:.0f} / {r['peak_lrdm_mb']:.0f} | {r['peak_ratio']:.2f} |"
        )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
