"""Where a fork-server zygote starts (:mod:`progress_kit.reports.engine`).

Kept apart from ``engine``, which imports papermill at the top, so that a new zygote can leave out
optional modules before papermill, nbformat and jsonschema are imported. jsonschema imports
``rfc3987_syntax`` (an IRI format checker) when it is installed, and that module builds a parser
from its grammar on import: 2.4-3.3 s of CPU in every zygote. Notebook validation never checks
string formats, so the zygotes go without it (jsonschema then skips its IRI check). Only the
zygotes do this; the process that runs the batch keeps its modules as they are.
"""

from __future__ import annotations

import sys

SKIPPED_IMPORTS = ("rfc3987_syntax",)


def zygote(*args) -> None:
    """Run :func:`progress_kit.reports.engine._zygote` in this new process."""
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)  # ``import name`` now raises ImportError
    from .engine import _zygote

    _zygote(*args)
