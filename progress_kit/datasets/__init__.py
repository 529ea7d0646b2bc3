"""Published reference datasets bundled with the kit (see README.md in this folder)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["read_dataset", "list_datasets"]


def list_datasets() -> list[str]:
    """Names of the bundled datasets.

    Examples
    --------
    >>> "bland1995" in list_datasets()
    True
    """
    folder = resources.files("progress_kit.datasets")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".csv"))


def read_dataset(name: str) -> pd.DataFrame:
    """Read a bundled published dataset; its source is in ``progress_kit/datasets/README.md``.

    Examples
    --------
    >>> read_dataset("sleepstudy").shape
    (180, 3)
    """
    if name not in list_datasets():
        raise ValueError(f"unknown dataset {name!r}; bundled datasets are {', '.join(list_datasets())}")
    with resources.files("progress_kit.datasets").joinpath(f"{name}.csv").open("rb") as fh:
        return pd.read_csv(fh)
