"""lrdm_core is host-free: it imports with comfy, nodes, server and folder_paths unavailable."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('comfy', 'nodes', 'server', 'folder_paths', 'comfy_api', 'comfy_extras'):
            raise ImportError('blocked host module ' + name)
sys.meta_path.insert(0, Block())
import pkgutil, importlib, lrdm_core
for m in pkgutil.walk_packages(lrdm_core.__path__, 'lrdm_core.'):
    importlib.import_module(m.name)
print('ok', len(sys.modules))
"""


def test_core_imports_without_the_host():
    r = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")
