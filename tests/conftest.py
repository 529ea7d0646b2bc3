"""Shared fixtures. The demo clinic is generated once per session at a fixed end date."""

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

DATA = Path(__file__).parent / "data"
DEMO_END = "2026-10-31"


@pytest.fixture(scope="session")
def demo_clinic():
    from progress_kit import demo_data

    return demo_data(n_clients=60, months=6, seed=0, end=DEMO_END)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory, demo_clinic):
    folder = tmp_path_factory.mktemp("demo")
    demo_clinic.write(folder)
    return folder


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """The command line's on-disk cache (reports/diskcache.py) goes to a folder of the test run,
    never into the user's own ~/.cache."""
    import os

    folder = tmp_path_factory.mktemp("pk-cache")
    folder.chmod(0o700)
    old = os.environ.get("PROGRESS_KIT_CACHE_DIR")
    os.environ["PROGRESS_KIT_CACHE_DIR"] = str(folder / "cache")
    yield
    if old is None:
        os.environ.pop("PROGRESS_KIT_CACHE_DIR", None)
    else:
        os.environ["PROGRESS_KIT_CACHE_DIR"] = old
