"""The shipped toy model through LRDM_ToyModelLoader and ComfyUI's stock nodes (encode, sample, decode)."""

from __future__ import annotations

import importlib
import os
import shutil

import numpy as np
import pytest
import torch

import nodes as comfy_nodes

WEIGHTS = "lrdm_toy.safetensors"


@pytest.fixture(scope="module")
def toy(pack):
    """nodes/toy_loader.py of the pack (the loader node; the model itself is nodes/host/toy_model.py)."""
    return importlib.import_module(f"{pack.__name__}.nodes.toy_loader")


@pytest.fixture(scope="module")
def loaded(toy):
    """(MODEL, CLIP, VAE) from the loader node's execute."""
    if not os.path.isfile(os.path.join(toy.MODELS_DIR, WEIGHTS)):
        pytest.skip(f"models/{WEIGHTS} not built yet (scripts/train_toy.py)")
    out = toy.ToyModelLoader.execute(WEIGHTS)
    return out.args


def _sample(model, clip, vae, prompt: str, seed: int, steps: int = 20, cfg: float = 4.5) -> np.ndarray:
    """Stock CLIPTextEncode -> EmptyLatentImage 64x64 -> KSampler -> VAEDecode; image [64, 64, 3]."""
    pos = comfy_nodes.CLIPTextEncode().encode(clip, prompt)[0]
    neg = comfy_nodes.CLIPTextEncode().encode(clip, "")[0]
    latent = comfy_nodes.EmptyLatentImage().generate(64, 64, 1)[0]
    out = comfy_nodes.KSampler().sample(model, seed, steps, cfg, "euler", "normal", pos, neg, latent)[0]
    assert out["samples"].shape == (1, 48, 8, 8)
    image = comfy_nodes.VAEDecode().decode(vae, out)[0]
    assert image.shape == (1, 64, 64, 3)
    return image[0].numpy()


def test_schema(toy) -> None:
    """Node id, category, description, a tooltip on every input, outputs MODEL/CLIP/VAE."""
    s = toy.ToyModelLoader.define_schema()
    assert s.node_id == "LRDM_ToyModelLoader" and s.category == "lrdm/toy" and s.description
    assert all(i.tooltip for i in s.inputs)
    assert [o.io_type for o in s.outputs] == ["MODEL", "CLIP", "VAE"]
    assert toy.TOY_NODES == [toy.ToyModelLoader]


def test_loaded_objects(loaded, toy) -> None:
    """BaseModel with ComfyUI's X0 sampling, 48 latent channels; SD1 tokenizer ids; CLIP width = context_dim."""
    model, clip, vae = loaded
    import comfy.model_base
    import comfy.model_sampling

    assert isinstance(model.model, comfy.model_base.BaseModel)
    sampling = model.get_model_object("model_sampling")
    assert isinstance(sampling, comfy.model_sampling.X0)
    assert isinstance(sampling, comfy.model_sampling.ModelSamplingDiscrete)
    assert model.get_model_object("latent_format").latent_channels == 48
    unet = model.model.diffusion_model
    assert unet.__class__.__name__ == "UNetModel"
    ids = [t for t, _ in clip.tokenize("a photo of a cat")["l"][0][:7]]
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    cond = comfy_nodes.CLIPTextEncode().encode(clip, "a red circle")[0][0][0]
    assert (
        cond.shape[:2] == (1, 77)
        and cond.shape[2] == unet.output_blocks[0][1].transformer_blocks[0].attn2.to_k.in_features
    )
    assert vae.spacial_compression_decode() == 8


def test_cross_attention_in_output_blocks(loaded) -> None:
    """Cross-attention transformers sit in output blocks at two resolutions (layout methods read them)."""
    model = loaded[0]
    unet = model.model.diffusion_model
    with_attn = [i for i, blk in enumerate(unet.output_blocks) if any(hasattr(m, "attn2") for m in blk.modules())]
    assert len(with_attn) == len(unet.output_blocks) >= 4
    assert any(hasattr(m, "attn2") for m in unet.middle_block.modules())
    assert any(hasattr(m, "attn2") for m in unet.input_blocks.modules())


def test_vae_is_exact(loaded) -> None:
    """VAEEncode -> VAEDecode returns a 2x2-block image exactly; decode -> encode returns any latent."""
    vae = loaded[2]
    img = torch.rand(2, 32, 32, 3).repeat_interleave(2, 1).repeat_interleave(2, 2)  # [2, 64, 64, 3]
    lat = comfy_nodes.VAEEncode().encode(vae, img)[0]
    assert lat["samples"].shape == (2, 48, 8, 8)
    back = comfy_nodes.VAEDecode().decode(vae, lat)[0]
    assert torch.allclose(back, img, atol=1e-6)
    z = torch.rand(1, 48, 8, 8) * 2 - 1
    again = comfy_nodes.VAEEncode().encode(vae, comfy_nodes.VAEDecode().decode(vae, {"samples": z})[0])[0]
    assert torch.allclose(again["samples"], z, atol=1e-6)


def test_vae_values_and_crop(loaded) -> None:
    """VAEDecode maps latent v to pixel (v + 1) / 2 (block layout of pixel_shuffle), clamped to [0, 1];
    VAEEncode crops an RGBA 70x66 image to its centred RGB 64x64, as the host's own VAE does."""
    vae = loaded[2]
    z = torch.linspace(-1.5, 1.5, 48 * 64).reshape(1, 48, 8, 8)  # [1, 48, 8, 8]
    img = comfy_nodes.VAEDecode().decode(vae, {"samples": z})[0]  # [1, 64, 64, 3]
    blocks = torch.nn.functional.pixel_shuffle(z, 4).repeat_interleave(2, 2).repeat_interleave(2, 3)  # [1, 3, 64, 64]
    assert torch.equal(img, ((blocks + 1) / 2).clamp(0, 1).movedim(1, -1))
    assert 0.0 < img.mean() < 1.0 and img.min() == 0.0 and img.max() == 1.0
    rgba = torch.rand(1, 70, 66, 4)
    lat = comfy_nodes.VAEEncode().encode(vae, rgba)[0]["samples"]
    ref = comfy_nodes.VAEEncode().encode(vae, rgba[:, 3:67, 1:65, :3].contiguous())[0]["samples"]
    assert lat.shape == (1, 48, 8, 8) and torch.equal(lat, ref)


def test_samples_through_stock_nodes(loaded) -> None:
    """A few KSampler steps give a finite image in [0, 1]."""
    img = _sample(*loaded, "a red circle and a blue square", seed=3, steps=6)
    assert np.isfinite(img).all() and img.min() >= 0.0 and img.max() <= 1.0


def test_draws_the_asked_colour(loaded, pack) -> None:
    """Single-object prompts: the detector finds the asked colour in most samples."""
    from toyworld import detect

    hits = 0
    prompts = ["a red square", "a blue circle", "a green triangle", "a yellow circle"]
    for i, prompt in enumerate(prompts):
        img = _sample(*loaded, prompt, seed=100 + i)
        colour = prompt.split()[1]
        hits += any(d.colour == colour for d in detect.detect(img))
    assert hits >= 3


def _train(tmp_path, out: str, *extra: str) -> None:
    """Run scripts/train_toy.py for a few tiny steps in a subprocess (one thread)."""
    import subprocess
    import sys
    from pathlib import Path

    import comfy.sd

    repo = Path(__file__).resolve().parents[2]
    cmd = [
        sys.executable,
        str(repo / "scripts" / "train_toy.py"),
        "--steps",
        "3",
        "--batch",
        "2",
        "--warmup",
        "1",
        "--log-every",
        "1",
        "--ckpt",
        str(tmp_path / f"{out}.pt"),
        "--out",
        str(tmp_path / f"{out}.safetensors"),
        "--comfy",
        str(Path(comfy.sd.__file__).resolve().parents[1]),
        *extra,
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)


def test_training_resumes_exactly(tmp_path, toy) -> None:
    """3 steps straight == 2 steps, stop, resume to 3 (same weights bit for bit); the export loads."""
    import safetensors.torch

    _train(tmp_path, "straight")
    _train(tmp_path, "resumed", "--stop-at", "2")
    _train(tmp_path, "resumed")
    a = safetensors.torch.load_file(str(tmp_path / "straight.safetensors"))
    b = safetensors.torch.load_file(str(tmp_path / "resumed.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    model, clip, vae, meta = toy.load_toy(str(tmp_path / "straight.safetensors"))
    assert meta["steps"] == "3"


class _Planted:
    """A pickle that writes a file when it is unpickled with weights_only=False."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_training_resume_never_runs_code_from_the_checkpoint(tmp_path) -> None:
    """A resume checkpoint is read with weights_only=True: a planted pickle is refused, not executed."""
    import subprocess

    marker = tmp_path / "ran"
    torch.save({"config": {}, "payload": _Planted(str(marker))}, str(tmp_path / "planted.pt"))
    with pytest.raises(subprocess.CalledProcessError) as e:
        _train(tmp_path, "planted")
    assert not marker.exists()
    assert b"weights_only" in e.value.stderr or b"Unsupported global" in e.value.stderr, e.value.stderr[-2000:]


def test_training_defaults_stay_in_the_repository() -> None:
    """The resume checkpoint and the ComfyUI tree default to paths inside the repo (.cache/, .host/), not /tmp."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "COMFYUI_PATH"}
    out = subprocess.run(
        [sys.executable, str(repo / "scripts" / "train_toy.py"), "--help"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    code = "from hostkit import bootstrap; print(bootstrap.comfy_tree())"
    comfy = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo / "tools",
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    assert comfy == str(repo / ".host" / "ComfyUI")
    assert f"default {repo / '.cache' / 'toy' / 'lrdm_toy_ckpt.pt'})" in " ".join(out.split())
    assert "default: $COMFYUI_PATH, else .host/ComfyUI" in " ".join(out.split())


# --- the loader reads only the files it lists (issue 19) --------------------------------------------------------


@pytest.fixture
def models_dir(toy, tmp_path, monkeypatch):
    """A models folder holding the shipped weights (a link) beside an outside folder with a real checkpoint."""
    inside, outside = tmp_path / "pack" / "models", tmp_path / "elsewhere"
    inside.mkdir(parents=True)
    outside.mkdir()
    shipped = os.path.join(toy.MODELS_DIR, WEIGHTS)
    if os.path.isfile(shipped):
        shutil.copyfile(shipped, inside / WEIGHTS)  # a copy: a link would resolve outside this folder
    import safetensors.torch

    safetensors.torch.save_file({"x": torch.zeros(1)}, str(outside / "lrdm_toy_secret.safetensors"))
    (inside / "lrdm_toy_escape.safetensors").symlink_to(outside / "lrdm_toy_secret.safetensors")
    monkeypatch.setattr(toy, "MODELS_DIR", str(inside))
    return inside, outside


def _refusal(pack, toy, weights) -> str:
    with pytest.raises(pack.lrdm_core.errors.LRDMError) as e:
        toy.ToyModelLoader.execute(weights)
    msg = str(e.value)
    assert msg.startswith("Expected one of the toy checkpoints in the pack's models folder"), msg
    assert "Pick the weights from the node's list" in msg, msg
    return msg


@pytest.mark.parametrize("kind", ["absolute", "dot-dot", "symlink-out"])
def test_loader_refuses_paths_outside_its_folder(pack, toy, models_dir, kind) -> None:
    """An API prompt (or a linked input, which skips ComfyUI's combo check) naming a file outside models/ is
    refused with the same message whether that file exists or not, and its content is never read."""
    inside, outside = models_dir
    real, missing = {
        "absolute": (str(outside / "lrdm_toy_secret.safetensors"), str(outside / "lrdm_toy_absent.safetensors")),
        "dot-dot": ("../../elsewhere/lrdm_toy_secret.safetensors", "../../elsewhere/lrdm_toy_absent.safetensors"),
        "symlink-out": ("lrdm_toy_escape.safetensors", "lrdm_toy_absent.safetensors"),
    }[kind]
    assert "lrdm_toy_escape.safetensors" not in toy.available_weights()
    seen, unseen = _refusal(pack, toy, real), _refusal(pack, toy, missing)  # names of equal length
    assert seen.replace("secret", "absent").replace("escape", "absent") == unseen


def test_loader_lists_and_loads_only_files_inside(toy, models_dir) -> None:
    inside, _ = models_dir
    if not (inside / WEIGHTS).is_file():
        pytest.skip(f"models/{WEIGHTS} not built yet (scripts/train_toy.py)")
    assert toy.available_weights() == [WEIGHTS]
    assert toy.resolve_weights(WEIGHTS) == os.path.realpath(inside / WEIGHTS)
