"""pytest fixtures for the live-server tiers (tests/server, tests/browser).

A tier's conftest imports them by name (``from hostkit.fixtures import comfy_server, ...``). The
server runs the real ComfyUI ``main.py`` on a free loopback port with a temporary base directory
(custom_nodes/ComfyUI-LRDM -> this repo, the random SD1.5 checkpoint linked into
models/checkpoints, and, where they have been made, the random SDXL checkpoint and SD1.5 LoRA;
the example workflows' input images copied into input/) and is stopped by process group at the
end of the session. Tests that need the SDXL checkpoint or the LoRA ask for ``test_sdxl_ckpt`` /
``test_lora``, which fail with "run `make models`" when the file is missing.

Environment (the Makefile sets them): COMFYUI_PATH (the ComfyUI tree, default .host/ComfyUI),
LRDM_TEST_CKPT (checkpoint file, default .cache/models/lrdm_random_sd15.safetensors),
LRDM_TEST_SDXL_CKPT (default .cache/models/lrdm_random_sdxl.safetensors), LRDM_TEST_LORA
(default .cache/models/lrdm_random_sd15_lora.safetensors).
"""

import os
from pathlib import Path

import pytest

from . import server as srv
from .__main__ import server_args

REPO = srv.REPO_ROOT
TEST_CKPT_NAME = "lrdm_random_sd15.safetensors"
TEST_SDXL_CKPT_NAME = "lrdm_random_sdxl.safetensors"
TEST_LORA_NAME = "lrdm_random_sd15_lora.safetensors"


def model_file(env: str, name: str) -> Path:
    """A test model's path: $env if set, else .cache/models/<name>."""
    return Path(os.environ.get(env) or REPO / ".cache" / "models" / name)


def _required(path: Path, what: str) -> Path:
    if not path.is_file():
        pytest.fail(f"no {what} at {path}; run `make models`", pytrace=False)
    return path


@pytest.fixture(scope="session")
def comfy_tree() -> Path:
    tree = Path(os.environ.get("COMFYUI_PATH") or REPO / ".host" / "ComfyUI")
    if not (tree / "main.py").is_file():
        pytest.fail(f"no ComfyUI at {tree}; run `make host` (or set COMFYUI_PATH)", pytrace=False)
    return tree


@pytest.fixture(scope="session")
def test_ckpt() -> Path:
    return _required(model_file("LRDM_TEST_CKPT", TEST_CKPT_NAME), "test checkpoint")


@pytest.fixture(scope="session")
def test_sdxl_ckpt() -> Path:
    return _required(model_file("LRDM_TEST_SDXL_CKPT", TEST_SDXL_CKPT_NAME), "SDXL test checkpoint")


@pytest.fixture(scope="session")
def test_lora() -> Path:
    return _required(model_file("LRDM_TEST_LORA", TEST_LORA_NAME), "test LoRA")


@pytest.fixture(scope="session")
def comfy_server(comfy_tree, test_ckpt, tmp_path_factory):
    """A running ComfyUI with the pack; yields hostkit.server.ComfyServer (``.url``, ``.client``)."""
    sdxl = model_file("LRDM_TEST_SDXL_CKPT", TEST_SDXL_CKPT_NAME)
    loras = [p for p in [model_file("LRDM_TEST_LORA", TEST_LORA_NAME)] if p.is_file()]
    checkpoints = [test_ckpt, *([sdxl] if sdxl.is_file() else [])]
    base = srv.prepare_base(tmp_path_factory.mktemp("comfy-base"), checkpoints=checkpoints, loras=loras,
                            inputs=srv.example_inputs())
    # Every RuntimeWarning in the log, not only the first per line: "invalid value encountered in cast" from
    # SaveImage is how a NaN image shows (tests look for it after each run).
    server = srv.ComfyServer(comfy_tree, base, extra_args=server_args(),
                             env={"PYTHONWARNINGS": "always::RuntimeWarning"})
    server.start(timeout=300)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def object_info(comfy_server) -> dict:
    return comfy_server.client.object_info()


@pytest.fixture(scope="session")
def lrdm_node_ids(object_info) -> list[str]:
    """Every node id the pack registered (LRDM_ prefix); fails when there are none."""
    ids = sorted(k for k in object_info if k.startswith("LRDM_"))
    assert ids, "the pack registered no LRDM_ nodes (check nodes/__init__.py NODE_LIST and the server log)"
    return ids
