"""Test-environment-only stand-in for ``torchaudio`` (newer ComfyUI hosts import it at module level).

No torchaudio wheel matches torch 2.13.0 here. ComfyUI 0.33.0 imports ``torchaudio`` and
``torchaudio.functional`` at the top of modules that every run loads (comfy/text_encoders/gemma4.py via
comfy.sd, comfy_extras/nodes_audio.py, ...), so without an importable torchaudio the host does not
start. This module is copied by ``make`` into the test venv's site-packages as ``torchaudio/__init__.py``
(only when no real torchaudio is installed). Every attribute is a stub that raises a clear error when
called, so an audio node fails loudly instead of silently. LRDM never uses audio; this never ships in
the pack.
"""

import sys
import types

__version__ = "0.0.0+lrdm.stub"
STANDIN = True  # lets a test tell the stand-in from a real torchaudio


class _Missing:
    """Any torchaudio function or class: raises when called or instantiated."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name}: torchaudio is a test-only stand-in here (tools/hostkit/tashim.py); no audio")

    def __getattr__(self, attr: str) -> "_Missing":
        return _Missing(f"{self._name}.{attr}")


class _StubModule(types.ModuleType):
    """A torchaudio submodule whose every attribute is a _Missing."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Missing(f"{self.__name__}.{attr}")


for _sub in ("functional", "transforms", "compliance", "compliance.kaldi", "io", "models", "pipelines", "utils"):
    _name = f"{__name__}.{_sub}"
    sys.modules[_name] = _StubModule(_name)
    if "." not in _sub:
        globals()[_sub] = sys.modules[_name]
sys.modules[f"{__name__}.compliance"].kaldi = sys.modules[f"{__name__}.compliance.kaldi"]


def __getattr__(attr: str):
    if attr.startswith("__"):
        raise AttributeError(attr)
    return _Missing(f"{__name__}.{attr}")
