"""Where a fork-server zygote starts (:mod:`progress_kit.reports.engine`).

The first code a new zygote runs, so that it can leave out optional modules before papermill,
nbformat and jsonschema are imported (by :mod:`progress_kit.reports.inprocess`). jsonschema imports
``rfc3987_syntax`` (an IRI format checker) when it is installed, and that module builds a parser
from its grammar on import: 2.4-3.3 s of CPU in every zygote. Notebook validation never checks
string formats, so the zygotes go without it (jsonschema then skips its IRI check). Only the
zygotes do this; the process that runs the batch keeps its modules as they are, and does not
import papermill at all (it needs only the fork server).
"""

from __future__ import annotations

import gc
import sys

SKIPPED_IMPORTS = ("rfc3987_syntax",)


def zygote(*args) -> None:
    """Run :func:`progress_kit.reports.engine._zygote` in this new process."""
    # No cyclic garbage collection during the warm-up: it is nearly all imports and first calls,
    # whose objects live as long as the zygote, so each automatic collection walks a growing heap
    # for nothing (0.2-0.5 s of a 2.8 s warm-up). The zygote collects once, freezes what is left
    # and turns collection back on before its first report (engine._zygote).
    gc.disable()
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)  # ``import name`` now raises ImportError
    from .engine import _zygote

    _zygote(*args)
