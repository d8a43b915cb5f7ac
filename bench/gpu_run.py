"""The one prepared GPU run of the speed benchmark (issues 6 and 15): SD1.5 at 512 and 768 px, SDXL at 1024 px, fp16.

Runs bench/speed.py once per (architecture, size), each in its own process, on a full-size random-weight
model built in memory (no checkpoint file), 20 euler steps (t0 0.3), both presets (plus = the node
defaults with the region biases, paper), 4 and 16 objects, with the forced memory-split check on the
defaults; then writes all results as one JSON and one markdown file, speed_gpu_<device>.{json,md}, into
bench/results/ and into $OUT when that is set (the device machine's folder that comes back), and prints
the tables. Targets: LRDM / stock time <= 1.25x at 512 px (issue 6), peak max_memory_allocated <= 1.15x
(issue 6; issue 15 for the defaults), 16 objects complete.

Made for the device tool's machines, which hold torch, torchvision, transformers and tokenizers but not
ComfyUI's own import-time needs torchsde (+ trampoline) and av. It takes what it lacks from the working
tree: the ComfyUI tree ($COMFYUI_PATH, else .host/ComfyUI), torchsde and trampoline (pure Python) from
.venv/lib/python3*/site-packages/, all three named in the run's carry list (bench/README.md); av, which
ComfyUI imports at start-up but the benchmark never calls, is replaced by an empty placeholder package
in a temporary folder when it is missing (nothing is installed into the machine's Python).

    python3 bench/gpu_run.py    # on the GPU machine: the whole table (bench/README.md has the device call)
    .venv/bin/python bench/gpu_run.py --smoke --device cpu --arch sdxl --tiny   # the script itself, on a CPU
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
# (arch, image size in px, object counts, repeats): SD1.5 first, the issues' 512 px target.
PLAN = [("sd15", 512, "4,16", 3), ("sd15", 768, "4,16", 2), ("sdxl", 1024, "4,16", 2)]
PRESETS = "plus,paper"  # the node defaults first: the split check runs on the first preset
PURE_PYTHON_DEPS = ("torchsde", "trampoline")  # ComfyUI imports torchsde at start-up (k_diffusion.sampling)
AV_PLACEHOLDER = {
    "__init__.py": '"""Placeholder for PyAV (bench/gpu_run.py): ComfyUI imports av at start-up; the benchmark '
    'never calls it."""\n\n\ndef open(*args, **kwargs):  # noqa: A001\n'
    '    raise ImportError("PyAV is not installed (bench/gpu_run.py placeholder)")\n',
    "container.py": "class InputContainer:\n    pass\n",
    "subtitles/__init__.py": "",
    "subtitles/stream.py": "class SubtitleStream:\n    pass\n",
}


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def prepare(site: Path) -> dict:
    """A folder for PYTHONPATH with what this Python lacks: torchsde/trampoline copied, av as a placeholder."""
    added = {}
    for name in PURE_PYTHON_DEPS:
        if importlib.util.find_spec(name) is not None:
            continue
        found = sorted(REPO.glob(f".venv/lib/python3*/site-packages/{name}"))
        if not found:
            raise SystemExit(
                f"error: {name} is not importable and not in .venv/lib/python3*/site-packages/ "
                f"(carry .venv/lib/python3.11/site-packages/{name}; see bench/README.md)"
            )
        shutil.copytree(found[0], site / name)
        added[name] = str(found[0].relative_to(REPO))
    if importlib.util.find_spec("av") is None:
        for rel, text in AV_PLACEHOLDER.items():
            path = site / "av" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        added["av"] = "placeholder"
    return added


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--dtype", default="fp16", choices=["auto", "fp32", "fp16", "bf16"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--arch", default="sd15,sdxl", help="which of the plan's architectures, in order")
    ap.add_argument("--smoke", action="store_true", help="test the script: first entry, 64 px, 2 steps, 2 objects")
    ap.add_argument("--tiny", action="store_true", help="tiny models (tests of the script only)")
    ap.add_argument("--budget-s", type=float, default=500.0, help="wall time for all runs; the last is cut")
    ap.add_argument("--out-dir", default="", help="default: bench/results (and $OUT when set)")
    args = ap.parse_args(argv)
    t_start = time.monotonic()

    import torch

    tree = Path(os.environ.get("COMFYUI_PATH") or REPO / ".host" / "ComfyUI")
    say(
        f"python {platform.python_version()}, torch {torch.__version__}, cuda available "
        f"{torch.cuda.is_available()}, ComfyUI tree {tree}"
    )
    if not (tree / "comfy").is_dir():
        say(f"error: no ComfyUI tree at {tree} (run `make tree` and carry .host/ComfyUI; see bench/README.md)")
        return 2
    device = "cpu"
    if args.device == "cuda":  # asked in a child process: this one keeps no CUDA context during the runs
        probe = "import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
        device = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
        if not device:
            say("error: --device cuda but torch sees no GPU")
            return 2

    site = Path(tempfile.mkdtemp(prefix="lrdm_bench_site_"))
    added = prepare(site)
    say(f"device {device}; added to PYTHONPATH ({site}): {added or 'nothing'}")
    env = dict(os.environ, PYTHONUNBUFFERED="1", COMFYUI_PATH=str(tree))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)

    name = f"speed_gpu_{slug(device)}" if args.device == "cuda" else "speed_cpu_smoke"
    out_dirs = [Path(args.out_dir) if args.out_dir else REPO / "bench" / "results"]
    if os.environ.get("OUT"):
        out_dirs.append(Path(os.environ["OUT"]))
    # Each run's own JSON (rewritten after every object count) goes straight to $OUT when set, so that
    # finished rows come back even if the device call is stopped before the summary is written.
    work = Path(os.environ["OUT"]) if os.environ.get("OUT") else Path(tempfile.mkdtemp(prefix="lrdm_bench_runs_"))
    wanted = args.arch.split(",")
    plan = [p for p in PLAN if p[0] in wanted]
    runs, failures = [], []
    if args.smoke:
        plan = plan[:1]
    for arch, size, objects, repeats in plan:
        if args.smoke:
            size, objects, repeats = 64, "2", 1
        steps = 2 if args.smoke else args.steps
        out = work / f"speed_run_{arch}_{size}.json"
        cmd = [
            sys.executable, str(HERE / "speed.py"), "--arch", arch, "--size", str(size), "--steps", str(steps),
            "--presets", PRESETS, "--objects", objects, "--repeats", str(repeats), "--dtype", args.dtype,
            "--device", args.device, "--split-check", "--out", str(out),
        ]  # fmt: skip
        if args.device == "cpu":
            cmd += ["--threads", "1"]
        if args.tiny:
            cmd.append("--tiny")
        left = args.budget_s - (time.monotonic() - t_start)
        if left < 30:
            failures.append(f"{arch}: skipped, {left:.0f} s of the budget left")
            say(f"== {arch}: skipped ({left:.0f} s left)")
            continue
        say(f"== {arch} {size}px, {steps} steps, objects {objects}, {repeats} repeats, {args.dtype}: {left:.0f} s left")
        t = time.monotonic()
        try:
            rc = subprocess.run(cmd, env=env, cwd=REPO, timeout=left).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        say(f"== {arch}: exit {rc} after {time.monotonic() - t:.0f} s")
        if rc != 0:
            failures.append(f"{arch}: exit {rc}")
        if out.exists():  # rows of a run cut short are kept
            runs.append(json.loads(out.read_text()))

    import speed

    lines = [f"# LRDM speed bench on {device} (bench/gpu_run.py)", ""]
    for r in runs:
        lines += speed.table_lines(r) + [""]
        if r.get("split_check"):
            s = r["split_check"]
            lines += [
                f"Split check ({s['arch']} {s['size']} px, {s['preset']}, n={s['objects']}): U-Net calls "
                f"{s['calls_batched']} -> "
                f"{s['calls_split']}, rows {s['rows_batched']} / {s['rows_split']}, "
                f"{s['batched_s']:.2f} s -> {s['split_s']:.2f} s, peak {s['peak_batched_mb']:.0f} -> "
                f"{s['peak_split_mb']:.0f} MB, max |diff| {s['max_abs_diff']:.3g} (max |x| {s['max_abs']:.3g}), "
                f"finite {s['finite']}",
                "",
            ]
    lines += [f"Failures: {'; '.join(failures)}" if failures else "All runs completed.", ""]
    summary = {
        "device": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "added_modules": added,
        "wall_s": time.monotonic() - t_start,
        "failures": failures,
        "runs": runs,
    }
    for d in out_dirs:
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.json").write_text(json.dumps(summary, indent=1))
        (d / f"{name}.md").write_text("\n".join(lines))
    say("\n" + "\n".join(lines))
    say(f"wrote {name}.json / .md to {', '.join(map(str, out_dirs))} in {summary['wall_s']:.0f} s")
    shutil.rmtree(site, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
