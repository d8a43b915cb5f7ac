"""Test-host tooling for LRDM (never shipped in the pack): a real ComfyUI for tests and demos.

Modules: ``tvshim`` (torchvision import hook for the test venv), ``checkpoint`` (random-weight
SD1.5 checkpoint), ``workflow`` (UI-format workflow -> API prompt), ``server`` (start/stop a
headless ComfyUI, submit prompts), ``__main__`` (the ``make run``/``demo``/``serve`` CLI).
"""
