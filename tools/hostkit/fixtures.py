"""pytest fixtures for the live-server tiers (tests/server, tests/browser).

A tier's conftest imports them by name (``from hostkit.fixtures import comfy_server, ...``). The
server runs the real ComfyUI ``main.py`` on a free loopback port with a temporary base directory
(custom_nodes/ComfyUI-LRDM -> this repo, the random SD1.5 checkpoint linked into
models/checkpoints) and is stopped by process group at the end of the session.

Environment (the Makefile sets both): COMFYUI_PATH (the ComfyUI tree, default .host/ComfyUI),
LRDM_TEST_CKPT (checkpoint file, default .cache/models/lrdm_random_sd15.safetensors).
"""

import os
from pathlib import Path

import pytest

from . import server as srv
from .__main__ import server_args

REPO = srv.REPO_ROOT
TEST_CKPT_NAME = "lrdm_random_sd15.safetensors"


@pytest.fixture(scope="session")
def comfy_tree() -> Path:
    tree = Path(os.environ.get("COMFYUI_PATH") or REPO / ".host" / "ComfyUI")
    if not (tree / "main.py").is_file():
        pytest.fail(f"no ComfyUI at {tree}; run `make host` (or set COMFYUI_PATH)", pytrace=False)
    return tree


@pytest.fixture(scope="session")
def test_ckpt() -> Path:
    ckpt = Path(os.environ.get("LRDM_TEST_CKPT") or REPO / ".cache" / "models" / TEST_CKPT_NAME)
    if not ckpt.is_file():
        pytest.fail(f"no test checkpoint at {ckpt}; run `make models`", pytrace=False)
    return ckpt


@pytest.fixture(scope="session")
def comfy_server(comfy_tree, test_ckpt, tmp_path_factory):
    """A running ComfyUI with the pack; yields hostkit.server.ComfyServer (``.url``, ``.client``)."""
    base = srv.prepare_base(tmp_path_factory.mktemp("comfy-base"), checkpoints=[test_ckpt])
    server = srv.ComfyServer(comfy_tree, base, extra_args=server_args())
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
