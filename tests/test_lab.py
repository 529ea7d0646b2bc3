"""JupyterLab set-up: the "progress-kit" kernel that make registers.

``make`` registers it twice: inside .venv (``--sys-prefix``) and per user, for a JupyterLab
installed elsewhere. The per-user copy is shared by every checkout on the machine and points at
the .venv of the checkout where ``make`` ran last, so nothing run from this .venv (nbval,
papermill, ``make test-browser``) may pick it up. The browser test starts JupyterLab itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SPEC_DIR = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "progress-kit"


@pytest.mark.skipif(not SPEC_DIR.is_dir(), reason="kernel not registered in this environment (run make)")
def test_progress_kit_kernel_resolves_to_this_environment(tmp_path):
    # a stale per-user kernel of the same name, as another checkout's make leaves it
    stale = tmp_path / "data" / "kernels" / "progress-kit"
    stale.mkdir(parents=True)
    (stale / "kernel.json").write_text(json.dumps({
        "argv": ["/elsewhere/.venv/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (progress-kit)", "language": "python"}))
    env = dict(os.environ, JUPYTER_DATA_DIR=str(tmp_path / "data"))
    env.pop("JUPYTER_PREFER_ENV_PATH", None)
    code = ("from jupyter_client.kernelspec import KernelSpecManager as K; "
            "print(K().get_kernel_spec('progress-kit').argv[0])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert os.path.abspath(out).startswith(os.path.abspath(sys.prefix)), out


def test_explore_notebook_names_the_progress_kit_kernel():
    import nbformat

    root = Path(__file__).resolve().parents[1]
    nb = nbformat.read(root / "progress_kit" / "notebooks" / "explore.ipynb", as_version=4)
    assert nb.metadata.kernelspec.name == "progress-kit"
    assert "make demo" in nb.cells[0].source and "data/demo" in nb.cells[2].source
