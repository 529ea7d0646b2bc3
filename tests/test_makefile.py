"""The Makefile's targets, read with ``make -n`` (nothing is run)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None or not (ROOT / "Makefile").exists(),
                                reason="needs make and the checkout's Makefile")


def _commands(*targets: str) -> str:
    return subprocess.run(["make", "-n", "-B", "-C", str(ROOT), *targets], capture_output=True,
                          text=True, check=True).stdout


def test_make_venv_never_registers_a_per_user_kernel():
    """Issue 24, item 17: make venv repointed the user's kernel at the last checkout it ran in."""
    venv = _commands("venv")
    assert "ipykernel install --sys-prefix --name progress-kit" in venv
    assert "--user" not in venv


def test_make_kernel_registers_this_checkout_per_user():
    kernel = _commands("kernel")
    assert "ipykernel install --user --name progress-kit" in kernel
    assert str(ROOT) in kernel  # the display name says which checkout it runs
