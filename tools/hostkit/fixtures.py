"""pytest fixtures for the live-server tiers (tests/server, tests/browser).

A tier's conftest imports them by name (``from hostkit.fixtures import comfy_server, ...``). The
server runs the real ComfyUI ``main.py`` on a free loopback port with a temporary base directory
(custom_nodes/ComfyUI-LRDM -> this repo, the random SD1.5 checkpoint linked into
models/checkpoints, and, where they have been made, the random SDXL checkpoint and SD1.5 LoRA;
the example workflows' input images copied into input/) and is stopped by process group at the
end of the session. Tests that need the SDXL checkpoint or the LoRA ask for ``test_sdxl_ckpt`` /
``test_lora``, which fail with "run `make models`" when the file is missing.

Third-party packs: when ``../shared/thirdparty`` (beside the repo; $LRDM_THIRDPARTY) exists, the node packs in
it (ComfyUI_IPAdapter_plus, ComfyUI-Advanced-ControlNet) are linked into custom_nodes/ with the random
CLIP vision, IPAdapter and ControlNet files (hostkit.packmodels, $LRDM_PACK_MODELS, default
.cache/models/packs) in models/clip_vision, ipadapter, controlnet; tests that need them ask for
``thirdparty``, which skips when the folder is absent (a user's machine). The test-only nodes of
tests/server/lrdm_test_probe are linked in as well.

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


THIRDPARTY_PACKS = ("ComfyUI_IPAdapter_plus", "ComfyUI-Advanced-ControlNet")
PACK_MODEL_FOLDERS = ("clip_vision", "ipadapter", "controlnet")
PROBE = REPO / "tests" / "server" / "lrdm_test_probe"


def thirdparty_dir() -> Path:
    """Where the unmodified third-party packs are: $LRDM_THIRDPARTY, else ../shared/thirdparty beside the repo."""
    return Path(os.environ.get("LRDM_THIRDPARTY") or REPO.parent / "shared" / "thirdparty")


def pack_models_dir() -> Path:
    """The random CLIP vision / IPAdapter / ControlNet files (models/<folder>/ layout)."""
    return Path(os.environ.get("LRDM_PACK_MODELS") or REPO / ".cache" / "models" / "packs")


def _thirdparty_install() -> tuple[list[Path], dict]:
    """The third-party node packs present and the pack model files to link ({folder: files})."""
    packs = [thirdparty_dir() / name for name in THIRDPARTY_PACKS if (thirdparty_dir() / name).is_dir()]
    if not packs:
        return [], {}
    models = {f: sorted((pack_models_dir() / f).glob("*.safetensors")) for f in PACK_MODEL_FOLDERS}
    return packs, models


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
    packs, pack_models = _thirdparty_install()
    probe = [PROBE] if PROBE.is_dir() else []
    base = srv.prepare_base(
        tmp_path_factory.mktemp("comfy-base"),
        checkpoints=checkpoints,
        loras=loras,
        inputs=srv.example_inputs(),
        custom_nodes=[*packs, *probe],
        models=pack_models,
    )
    # Every RuntimeWarning in the log, not only the first per line: "invalid value encountered in cast" from
    # SaveImage is how a NaN image shows (tests look for it after each run).
    server = srv.ComfyServer(
        comfy_tree, base, extra_args=server_args(), env={"PYTHONWARNINGS": "always::RuntimeWarning"}
    )
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


@pytest.fixture(scope="session")
def thirdparty(comfy_server) -> dict:
    """The third-party packs' node ids and model file names; skips without ../shared/thirdparty, fails without
    the random pack models (`make models`)."""
    where = thirdparty_dir()
    missing = [n for n in THIRDPARTY_PACKS if not (where / n).is_dir()]
    if missing:
        pytest.skip(
            f"third-party packs {missing} not at {where} (the project's test machine has them in "
            "../shared/thirdparty; set LRDM_THIRDPARTY to run these tests elsewhere)"
        )
    _, models = _thirdparty_install()
    names = {f: sorted(p.name for p in files) for f, files in models.items()}
    empty = [f for f, files in names.items() if not files]
    if empty:
        pytest.fail(f"no random {empty} model files in {pack_models_dir()}; run `make models`", pytrace=False)
    log = comfy_server.log_text().splitlines()
    failed = {}
    for name in THIRDPARTY_PACKS:  # a snapshot newer than the host's API can fail to import: say why
        if any("IMPORT FAILED" in ln and name in ln for ln in log):
            why = [ln for ln in log if name in ln and ("Error" in ln or "error" in ln)]
            failed[name] = why[0].strip() if why else "IMPORT FAILED (see the server log)"
    return {"models": names, "failed": failed}


def require_pack(thirdparty: dict, name: str) -> None:
    """Skip, with the server's reason, a test whose third-party pack did not import on this host."""
    if name in thirdparty["failed"]:
        pytest.skip(f"{name} did not import on this ComfyUI: {thirdparty['failed'][name][:300]}")
