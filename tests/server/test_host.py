"""The test host itself: pinned requirements, the torchvision shim (tools/hostkit/tvshim.py), base folders."""

import subprocess
import sys

import pytest
from hostkit import server as srv
from hostkit.fixtures import REPO


def _py(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", ["requirements-host.txt", "requirements-host-new.txt"])
def test_host_requirements_are_exact_pins_without_torch(name):
    lines = [ln.strip() for ln in (REPO / "tools" / name).read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith("#")]
    assert reqs and all("==" in r for r in reqs), [r for r in reqs if "==" not in r]
    assert not [r for r in reqs if r.lower().startswith("torch==")]


def test_torchvision_imports_in_the_test_venv():
    r = _py("import torchvision, torch; print(torchvision.__version__, torch.__version__)")
    assert r.returncode == 0, r.stderr[-2000:]


def test_shim_costs_nothing_at_interpreter_start():
    r = _py("import sys; print('torch' in sys.modules, 'torchvision' in sys.modules)")
    assert r.returncode == 0 and r.stdout.split() == ["False", "False"], (r.stdout, r.stderr)


def test_base_directory_gets_models_linked_and_example_inputs_copied(tmp_path):
    ckpt, lora = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    ckpt.write_bytes(b"x")
    lora.write_bytes(b"y")
    inputs = srv.example_inputs()
    assert {p.name for p in inputs} >= {"lrdm_edit_table.png", "lrdm_mask_apple.png", "lrdm_mask_cup.png"}
    (tmp_path / "base" / "input").mkdir(parents=True)
    (tmp_path / "base" / "input" / inputs[0].name).write_bytes(b"the user's own file")
    base = srv.prepare_base(tmp_path / "base", checkpoints=[ckpt], loras=[lora], inputs=inputs)
    assert (base / "models" / "checkpoints" / "a.safetensors").resolve() == ckpt.resolve()
    assert (base / "models" / "loras" / "b.safetensors").resolve() == lora.resolve()
    assert (base / "input" / inputs[0].name).read_bytes() == b"the user's own file"  # never overwritten
    assert all((base / "input" / p.name).read_bytes() == p.read_bytes() for p in inputs[1:])
