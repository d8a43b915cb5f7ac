"""CLI behind ``make run``, ``make demo``, ``make serve`` and the random test models (``make models``).

    python -m hostkit run --tree T --workflow W.json [--ckpt C] [--out DIR] [--url URL] [--set k=v]...
    python -m hostkit serve --tree T [--port 8188] [--ckpt C]...
    python -m hostkit ckpt --tree T --out F.safetensors [--arch sdxl]
    python -m hostkit lora --tree T --out F.safetensors
    python -m hostkit packmodels --tree T --sd15 C --sdxl C --out DIR

(run with ``PYTHONPATH=tools``; the Makefile does this.)
"""

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from . import server as srv
from . import workflow as wf

logger = logging.getLogger("lrdm.hostkit")

DEFAULT_BASE = srv.REPO_ROOT / ".host" / "base"
# Flags for servers this tool starts for tests and runs: SDPA attention (what GPU users get, and
# about 2x faster than the CPU default here). Override with LRDM_SERVER_ARGS.
DEFAULT_SERVER_ARGS = "--use-pytorch-cross-attention"


def server_args() -> list[str]:
    return os.environ.get("LRDM_SERVER_ARGS", DEFAULT_SERVER_ARGS).split()


def cmd_run(args) -> int:
    workflow = wf.load_workflow(args.workflow)
    ckpt_name = None
    server = None
    if args.ckpt:
        ckpt = Path(args.ckpt)
        if not args.url and not ckpt.is_file():
            sys.stderr.write(f"error: checkpoint {ckpt} not found\n")
            return 2
        ckpt_name = ckpt.name
    t0 = time.monotonic()
    try:
        if args.url:
            client = srv.ComfyClient(args.url)
        else:
            base = srv.prepare_base(
                args.base, checkpoints=[args.ckpt] if args.ckpt else [], inputs=srv.example_inputs()
            )
            server = srv.ComfyServer(args.tree, base, port=args.port, extra_args=server_args())
            server.start()
            client = server.client
        prompt = wf.ui_to_api(workflow, client.object_info())
        if ckpt_name and not wf.set_checkpoint(prompt, ckpt_name):
            logger.warning("--ckpt given but the workflow has no literal ckpt_name input")
        if args.shrink:
            wf.shrink(prompt)
        wf.apply_overrides(prompt, args.set or [])
        prompt_id = client.submit(prompt)
        logger.info("queued prompt %s", prompt_id)
        entry = client.wait(prompt_id, timeout=args.timeout)
        refs = srv.image_refs(entry)
        if not refs:
            sys.stderr.write("error: the workflow finished but produced no images\n")
            return 1
        paths = [client.download(ref, args.out) for ref in refs]
    except (srv.ComfyError, wf.WorkflowError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    except (RuntimeError, TimeoutError) as e:
        sys.stderr.write(f"error: {e}\n")
        if server is not None:
            sys.stderr.write(f"(server log: {server.log_path})\n")
        return 1
    finally:
        if server is not None:
            server.stop()
    logger.info("%d image(s) in %.1f s", len(paths), time.monotonic() - t0)
    for p in paths:
        print(p.resolve())  # noqa: T201 - the CLI's result
    return 0


def cmd_serve(args) -> int:
    base = srv.prepare_base(args.base, checkpoints=args.ckpt or [], inputs=srv.example_inputs())
    server = srv.ComfyServer(args.tree, base, port=args.port, listen=args.listen, extra_args=args.extra or [])
    cmd = server.command()
    logger.info("ComfyUI with LRDM at http://%s:%d (base directory %s)", args.listen, args.port, base)
    os.chdir(server.tree)
    os.execv(cmd[0], cmd)  # foreground: Ctrl-C stops ComfyUI itself
    return 0


def cmd_ckpt(args) -> int:
    if args.arch == "sdxl":
        from .sdxl import make_checkpoint
    else:
        from .checkpoint import make_checkpoint

    make_checkpoint(Path(args.tree), Path(args.out), seed=args.seed)
    return 0


def cmd_lora(args) -> int:
    from .lora import make_lora

    make_lora(Path(args.tree), Path(args.out), seed=args.seed)
    return 0


def cmd_packmodels(args) -> int:
    from .packmodels import make_pack_models

    make_pack_models(
        Path(args.tree), Path(args.sd15), Path(args.sdxl) if args.sdxl else None, Path(args.out), seed=args.seed
    )
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m hostkit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run a UI-format workflow on a (temporary) server; print image paths")
    r.add_argument("--tree", required=True, help="ComfyUI tree (holds main.py)")
    r.add_argument("--workflow", required=True)
    r.add_argument("--ckpt", help="checkpoint file (linked into the base) or, with --url, a name")
    r.add_argument("--out", type=Path, default=Path("output"))
    r.add_argument("--url", help="use this running server instead of starting one")
    r.add_argument("--base", type=Path, default=DEFAULT_BASE, help="--base-directory for the server")
    r.add_argument("--port", type=int, default=None)
    r.add_argument("--set", action="append", metavar="[NODE.]INPUT=VALUE", help="override an input")
    r.add_argument("--shrink", action="store_true", help="64x64, batch 1, <=3 steps (CI-sized)")
    r.add_argument("--timeout", type=float, default=3600.0)
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("serve", help="ComfyUI's UI with the pack, in the foreground")
    s.add_argument("--tree", required=True)
    s.add_argument("--port", type=int, default=8188)
    s.add_argument("--listen", default="127.0.0.1")
    s.add_argument("--base", type=Path, default=DEFAULT_BASE)
    s.add_argument("--ckpt", action="append", help="checkpoint file to link into models/checkpoints")
    s.add_argument("extra", nargs="*", help="more main.py arguments (after --)")
    s.set_defaults(func=cmd_serve)

    c = sub.add_parser("ckpt", help="write a random-weight checkpoint (SD1.5, or SDXL's architecture)")
    c.add_argument("--tree", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--arch", choices=("sd15", "sdxl"), default="sd15")
    c.set_defaults(func=cmd_ckpt)

    lo = sub.add_parser("lora", help="write a random-weight SD1.5 LoRA (kohya keys)")
    lo.add_argument("--tree", required=True)
    lo.add_argument("--out", required=True)
    lo.add_argument("--seed", type=int, default=0)
    lo.set_defaults(func=cmd_lora)

    pm = sub.add_parser("packmodels", help="write random-weight CLIP vision, IPAdapter and ControlNet files")
    pm.add_argument("--tree", required=True)
    pm.add_argument("--sd15", required=True, help="the random SD1.5 checkpoint (IPAdapter widths)")
    pm.add_argument("--sdxl", help="the random SDXL checkpoint (SDXL IPAdapter and ControlNet)")
    pm.add_argument("--out", required=True, help="models folder: writes clip_vision/, ipadapter/, controlnet/")
    pm.add_argument("--seed", type=int, default=0)
    pm.set_defaults(func=cmd_packmodels)

    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
