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
