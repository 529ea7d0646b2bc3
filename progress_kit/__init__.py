"""progress-kit: routine outcome monitoring (ROM) for psychotherapy.

DataFrames go in, tidy DataFrames come out. See README.md and docs/ for the guide.
"""

from os import PathLike

# ``distributed`` registers the Dask implementations with the statistics modules' hook (_dask)
from . import distributed  # noqa: F401
from .change import *  # noqa: F403
from .daily import *  # noqa: F403
from .data import *  # noqa: F403
from .data import ClinicData
from .datasets import list_datasets, read_dataset
from .demo import *  # noqa: F403
from .distributed import read_parquet_by_client, write_parquet_by_client  # noqa: F401
from .errors import DataValidationError, DataValidationWarning
from .flags import *  # noqa: F403
from .ingest import *  # noqa: F403
from .measures import *  # noqa: F403
from .on_track import *  # noqa: F403
from .outcomes import *  # noqa: F403
from .plots import *  # noqa: F403
from .progress_score import *  # noqa: F403
from .prompts import *  # noqa: F403
from .sources import *  # noqa: F403  (load_data: a folder or a database URL)
from .sudden_gains import *  # noqa: F403
from .trajectories import *  # noqa: F403
from .trend import *  # noqa: F403


def _version() -> str:
    """The installed distribution's version: pyproject.toml is the one place it is written."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("progress-kit")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


__version__ = _version()


def explore(data: ClinicData | str | PathLike, *, measure: str | None = None,
            client: str | None = None):
    """An interactive explorer of a clinic for JupyterLab; see :func:`progress_kit.explorer.explore`.

    Loads ipywidgets only when called, so ``import progress_kit`` stays light for batch work.
    """
    from .explorer import explore as _explore

    return _explore(data, measure=measure, client=client)
