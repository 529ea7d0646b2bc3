"""progress-kit: routine outcome monitoring (ROM) for psychotherapy.

DataFrames go in, tidy DataFrames come out. See README.md and docs/ for the guide.
"""

from .change import *  # noqa: F403
from .daily import *  # noqa: F403
from .data import *  # noqa: F403
from .datasets import list_datasets, read_dataset
from .demo import *  # noqa: F403
from .errors import DataValidationError, DataValidationWarning
from .flags import *  # noqa: F403
from .ingest import *  # noqa: F403
from .measures import *  # noqa: F403
from .on_track import *  # noqa: F403
from .outcomes import *  # noqa: F403
from .plots import *  # noqa: F403
from .progress_score import *  # noqa: F403
from .sudden_gains import *  # noqa: F403
from .trajectories import *  # noqa: F403

__version__ = "0.1.0"
