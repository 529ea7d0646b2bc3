"""Report sections: each a small function that returns a :class:`Section`.

One module of section builders per report: :mod:`.client` for the client report, :mod:`.cohort`
for the cohort (service) report, :mod:`.prep` for the session-preparation sheet and
:mod:`.share` for the client's own page; :mod:`.tracker` words the companion tracker's trends and
prompts for all three; all share
:mod:`.common` (the ``Section`` class, wording helpers and the methods footnote). Everything is
re-exported here, so ``from progress_kit.reports import sections as S`` keeps working.
"""

from .client import *  # noqa: F403
from .client import __all__ as _client_all
from .client import _p_text  # noqa: F401  (the tests use it)
from .cohort import *  # noqa: F403
from .cohort import __all__ as _cohort_all
from .common import *  # noqa: F403
from .common import __all__ as _common_all
from .prep import *  # noqa: F403
from .prep import __all__ as _prep_all
from .share import *  # noqa: F403
from .share import __all__ as _share_all
from .tracker import *  # noqa: F403
from .tracker import __all__ as _tracker_all

__all__ = [*_common_all, *_client_all, *_cohort_all, *_prep_all, *_tracker_all, *_share_all]
