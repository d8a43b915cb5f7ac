"""Speed and memory of LRDM next to the stock KSampler (issue: 'at the algorithm's floor').

Runs, in one process and alternating, ComfyUI's KSampler path and LRDM_Sampler on the same model,
seed, sampler, scheduler and steps for 1, 2 and 4 objects; prints a table with the median wall time
of each, the ratio, the floor 1 + f*n/2 (+ the one capture evaluation), U-Net evaluations counted
per run and the peak memory of each (process RSS on the CPU, max_memory_allocated on a GPU).

    PYTHONPATH=tools .venv/bin/python bench/speed.py [--ckpt F] [--size 64] [--steps 20] [--t0 0.3]
        [--repeats 3] [--objects 1,2,4] [--device cpu|cuda] [--dtype fp32|fp16|bf16] [--arch sd15|sdxl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
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


class PeakMemory:
    """Peak memory during a block: polled process RSS on the CPU, torch's allocator peak on CUDA."""

    def __init__(self, device: str) -> None:
        self.device, self.peak = device, 0
        self._stop = threading.Event()

    def __enter__(self):
        import psutil
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return self
        proc = psutil.Process()
        self.peak = proc.memory_info().rss

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


def setup(args):
    """ComfyUI and the pack in-process; the checkpoint loaded: (model, clip, pack)."""
    pack = host.load(args.device, args.threads or None)
    import comfy.sd

    model, clip, _, _ = comfy.sd.load_checkpoint_guess_config(args.ckpt, output_vae=False, output_clip=True)
    return model, clip, pack


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", default=str(REPO / ".cache" / "models" / "lrdm_random_sd15.safetensors"))
    ap.add_argument("--size", type=int, default=64, help="image size in pixels (latent = size / 8)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--t0", type=float, default=0.3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--objects", default="1,2,4")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sampler", default="euler")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--out", default=str(RESULTS / "speed.json"))
    args = ap.parse_args()

    import torch

    model, clip, pack = setup(args)
    from comfy.patcher_extension import WrappersMP

    counter = {"rows": 0}

    def count(executor, x, *a, **kw):
        counter["rows"] += x.shape[0]
        return executor(x, *a, **kw)

    model = model.clone()
    model.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, "bench_counter", count)
    sampler_node = pack.nodes.sampler_node
    latent = {"samples": torch.zeros(1, 4, args.size // 8, args.size // 8)}
    method = pack.nodes.params.node_kwargs(pack.lrdm_core.config.LRDMConfig(t0=args.t0, guidance="input"))

    def stock(n: int):
        prompt = " and ".join(PHRASES[:n])
        pos = clip.encode_from_tokens_scheduled(clip.tokenize(prompt))
        neg = clip.encode_from_tokens_scheduled(clip.tokenize(""))
        return sampler_node.sample(model, pos, neg, latent, 1, args.steps, 7.5, args.sampler, "normal", 1.0)

    def lrdm(n: int):
        lay = pack.lrdm_core.layout.layout_from_dict(
            {"objects": [{"phrase": p, "box": b} for p, b in zip(PHRASES[:n], BOXES[:n], strict=True)]}
        )
        return sampler_node.Sampler.execute(
            model,
            clip,
            lay,
            " and ".join(PHRASES[:n]),
            "",
            latent,
            1,
            args.steps,
            7.5,
            args.sampler,
            "normal",
            1.0,
            **method,
        )

    def measure(fn, n):
        counter["rows"] = 0
        if args.device == "cuda":
            torch.cuda.synchronize()
        with PeakMemory(args.device) as mem:
            t = time.perf_counter()
            fn(n)
            if args.device == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t
        return dt, counter["rows"], mem.peak

    rows = []
    for n in [int(s) for s in args.objects.split(",")]:
        measure(stock, n), measure(lrdm, n)  # warm-up (kernels, caches, model load)
        times = {"stock": [], "lrdm": []}
        evals, peaks = {}, {"stock": 0, "lrdm": 0}
        for _ in range(args.repeats):
            for name, fn in (("stock", stock), ("lrdm", lrdm)):
                dt, ev, peak = measure(fn, n)
                times[name].append(dt)
                evals[name] = ev
                peaks[name] = max(peaks[name], peak)
        k = round(args.t0 * args.steps)
        med = {m: statistics.median(v) for m, v in times.items()}
        rows.append(
            {
                "objects": n,
                "stock_s": med["stock"],
                "lrdm_s": med["lrdm"],
                "ratio": med["lrdm"] / med["stock"],
                "floor": 1 + k * n / (2 * args.steps),
                "floor_with_capture": 1 + (k * n + 1) / (2 * args.steps),
                "evals_stock": evals["stock"],
                "evals_lrdm": evals["lrdm"],
                "evals_formula": 1 + k * (n + 2) + (args.steps - k) * 2,
                "peak_stock_mb": peaks["stock"] / 2**20,
                "peak_lrdm_mb": peaks["lrdm"] / 2**20,
                "peak_ratio": peaks["lrdm"] / max(peaks["stock"], 1),
            }
        )
        print_table(rows, args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"args": vars(args), "device": device_name(args.device), "rows": rows}, indent=1)
    )
    return 0


def device_name(device: str) -> str:
    """What ran the benchmark, for the table's caption."""
    import platform

    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def print_table(rows: list[dict], args) -> None:
    """The benchmark table (markdown)."""
    out = [
        f"\nLRDM vs stock KSampler: {args.size}px, {args.steps} steps {args.sampler}, t0={args.t0}, "
        f"{device_name(args.device)}",
        "| objects | stock s | LRDM s | ratio | floor 1+f*n/2 | +capture | U-Net evals stock / LRDM (formula) "
        "| peak MB stock / LRDM (ratio) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['objects']} | {r['stock_s']:.2f} | {r['lrdm_s']:.2f} | {r['ratio']:.3f} | {r['floor']:.3f} "
            f"| {r['floor_with_capture']:.3f} | {r['evals_stock']} / {r['evals_lrdm']} ({r['evals_formula']}) "
            f"| {r['peak_stock_mb']:.0f} / {r['peak_lrdm_mb']:.0f} ({r['peak_ratio']:.2f}) |"
        )
    sys.stdout.write("\n".join(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
