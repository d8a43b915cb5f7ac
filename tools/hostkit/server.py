"""Start, query and stop a headless ComfyUI server; submit API prompts and collect their images.

``ComfyClient`` talks HTTP to any ComfyUI (a URL); ``ComfyServer`` owns one ``main.py`` process
on a free loopback port with its own ``--base-directory`` (custom_nodes/ComfyUI-LRDM -> the repo,
models/checkpoints/* -> given files) and stops it by process group. Standard library only.
"""

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

logger = logging.getLogger("lrdm.hostkit.server")

PACK_DIR_NAME = "ComfyUI-LRDM"
REPO_ROOT = Path(__file__).resolve().parents[2]


class ComfyError(RuntimeError):
    """The server rejected a prompt (HTTP 400) or failed while executing it."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _link(target: Path, link: Path) -> None:
    """Make ``link`` a symlink to ``target`` (replacing a different link)."""
    target = Path(target).resolve()
    if link.is_symlink():
        if link.resolve() == target:
            return
        link.unlink()
    elif link.exists():
        raise FileExistsError(f"{link} exists and is not a symlink; move it away")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=target.is_dir())


def example_inputs(pack: Path = REPO_ROOT) -> list[Path]:
    """The images the example workflows load (example_workflows/input/*.png)."""
    return sorted((Path(pack) / "example_workflows" / "input").glob("*.png"))


def prepare_base(
    base: Path, pack: Path = REPO_ROOT, checkpoints=(), loras=(), inputs=(), custom_nodes=(), models=None
) -> Path:
    """Lay out a ComfyUI ``--base-directory``: the pack and other node packs (custom_nodes: folders linked under
    their own names), models linked in (models: {folder: files} beside checkpoints and loras), input images
    copied (none overwritten)."""
    base = Path(base).resolve()
    for sub in ("custom_nodes", "models/checkpoints", "models/loras", "input", "output", "user"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    _link(pack, base / "custom_nodes" / PACK_DIR_NAME)
    for node_pack in map(Path, custom_nodes):
        _link(node_pack, base / "custom_nodes" / node_pack.name)
    folders = {"checkpoints": checkpoints, "loras": loras, **(models or {})}
    for folder, files in folders.items():
        for f in map(Path, files):
            _link(f, base / "models" / folder / f.name)
    for image in map(Path, inputs):
        if not (base / "input" / image.name).exists():
            shutil.copyfile(image, base / "input" / image.name)
    return base


def format_node_errors(body: dict) -> str:
    """Readable text from a /prompt 400 body or an execution_error message."""
    lines = []
    err = body.get("error")
    if isinstance(err, dict):
        lines.append(f"{err.get('message', 'error')}: {err.get('details', '')}".rstrip(": "))
    elif err:
        lines.append(str(err))
    for node_id, info in (body.get("node_errors") or {}).items():
        for e in info.get("errors", []):
            detail = e.get("details", "")
            lines.append(
                f"  node {node_id} ({info.get('class_type', '?')}): {e.get('message', '')}"
                + (f": {detail}" if detail else "")
            )
    return "\n".join(lines) or json.dumps(body)[:2000]


class ComfyClient:
    """Minimal HTTP client for ComfyUI's /object_info, /prompt, /history and /view."""

    def __init__(self, url: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.client_id = uuid.uuid4().hex

    def _request(self, path: str, data: dict | None = None):
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(
            self.url + path, data=body, headers={"Content-Type": "application/json"} if body else {}
        )
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return resp.status, resp.read()

    def get_json(self, path: str):
        return json.loads(self._request(path)[1])

    def object_info(self) -> dict:
        return self.get_json("/object_info")

    def post_prompt(self, prompt: dict, extra_data: dict | None = None) -> tuple[int, dict]:
        """POST /prompt; returns (HTTP status, JSON body) without raising on 400."""
        payload = {"prompt": prompt, "client_id": self.client_id}
        if extra_data:
            payload["extra_data"] = extra_data
        try:
            status, raw = self._request("/prompt", payload)
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except json.JSONDecodeError:
            return status, {"error": raw.decode(errors="replace")}

    def submit(self, prompt: dict, extra_data: dict | None = None) -> str:
        """Queue a prompt; raise ComfyError with the node errors if the server rejects it."""
        status, body = self.post_prompt(prompt, extra_data)
        if status != 200 or "prompt_id" not in body:
            raise ComfyError(f"server rejected the prompt (HTTP {status}):\n{format_node_errors(body)}")
        return body["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 1800.0, poll: float = 0.5) -> dict:
        """Poll /history until the prompt finishes; raise ComfyError if it failed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.get_json(f"/history/{prompt_id}").get(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None:
                status = entry["status"]
                if status.get("status_str") == "error" or not status.get("completed"):
                    raise ComfyError(f"prompt {prompt_id} failed:\n{format_execution_error(entry)}")
                return entry
            time.sleep(poll)
        raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout:.0f} s")

    def download(self, ref: dict, dest_dir: Path) -> Path:
        """Fetch one image ({filename, subfolder, type}) via /view into dest_dir."""
        dest_dir = Path(dest_dir)
        dest_dir.mkdir(parents=True, exist_ok=True)
        query = urllib.parse.urlencode({k: ref.get(k, "") for k in ("filename", "subfolder", "type")})
        _, raw = self._request(f"/view?{query}")
        dest = dest_dir / Path(ref["filename"]).name
        dest.write_bytes(raw)
        return dest


def format_execution_error(entry: dict) -> str:
    """The execution_error text of a /history entry (node, type, exception message)."""
    out = []
    for kind, data in entry.get("status", {}).get("messages", []):
        if kind in ("execution_error", "execution_interrupted"):
            out.append(
                f"  node {data.get('node_id')} ({data.get('node_type')}): "
                f"{data.get('exception_type', kind)}: {data.get('exception_message', '')}".rstrip()
            )
    return "\n".join(out) or json.dumps(entry.get("status"))[:2000]


def image_refs(entry: dict) -> list[dict]:
    """Every image a finished /history entry lists, in node order."""
    refs = []
    for node_id in sorted(entry.get("outputs", {}), key=lambda k: (len(k), k)):
        refs.extend(entry["outputs"][node_id].get("images", []))
    return refs


class ComfyServer:
    """One headless ComfyUI ``main.py`` process; use as a context manager or start()/stop()."""

    def __init__(
        self,
        tree: Path,
        base: Path,
        port: int | None = None,
        python: str = sys.executable,
        listen: str = "127.0.0.1",
        extra_args=(),
        cpu: bool | None = None,
        env: dict | None = None,
    ):
        self.tree = Path(tree).resolve()
        self.base = Path(base).resolve()
        self.port = port or free_port()
        self.listen = listen
        self.python = python
        self.extra_args = list(extra_args)
        self.cpu = cpu
        self.env = dict(env or {})  # added to the server's environment
        self.proc: subprocess.Popen | None = None
        self.log_path = self.base / "comfyui.log"
        self._log = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.listen in ("0.0.0.0", "") else self.listen
        return f"http://{host}:{self.port}"

    @property
    def client(self) -> ComfyClient:
        return ComfyClient(self.url)

    def command(self) -> list[str]:
        cmd = [
            self.python,
            str(self.tree / "main.py"),
            "--listen",
            self.listen,
            "--port",
            str(self.port),
            "--base-directory",
            str(self.base),
            "--disable-auto-launch",
            "--database-url",
            "sqlite:///:memory:",
        ]
        if self.cpu if self.cpu is not None else not _has_cuda(self.python):
            cmd.append("--cpu")
        return cmd + self.extra_args

    def start(self, timeout: float = 300.0) -> "ComfyServer":
        """Launch main.py in its own process group and wait until /object_info answers."""
        if not (self.tree / "main.py").is_file():
            raise FileNotFoundError(f"no ComfyUI at {self.tree} (main.py missing); run `make host`")
        self.base.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # closed in stop()
        cmd = self.command()
        logger.info("starting ComfyUI: %s", " ".join(cmd))
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.tree,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode} during start-up:\n" + self.log_tail())
            try:
                ComfyClient(self.url, timeout=30).get_json("/object_info")
                logger.info("ComfyUI ready at %s", self.url)
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"ComfyUI did not answer /object_info within {timeout:.0f} s:\n" + self.log_tail())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the server's process group, SIGKILL after ``grace`` seconds."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "ComfyServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _has_cuda(python: str) -> bool:
    """Whether torch in ``python``'s environment sees a CUDA device (decides --cpu)."""
    if python == sys.executable and "torch" in sys.modules:
        return sys.modules["torch"].cuda.is_available()
    probe = "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0
