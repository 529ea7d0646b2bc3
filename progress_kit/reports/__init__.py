"""Monthly reports: client and cohort notebooks rendered to HTML and PDF, one at a time or as a batch.

``render_client`` and ``render_cohort`` turn parameters into files; ``run_batch`` renders every
client with activity in a month plus the cohort report. See ``docs/reports.md`` and
``docs/security.md``.
"""

import importlib

__all__ = ["render_report", "render_client", "render_prep", "render_share", "render_cohort", "safe_name",
           "safe_names", "parse_month", "run_batch"]

# Imported on first use, so that ``python -m progress_kit.reports.resources`` runs its module
# fresh (no runpy warning) and ``import progress_kit.reports`` stays light.
_WHERE = {"render_report": "render", "render_client": "render", "render_cohort": "render",
          "render_prep": "render", "render_share": "render",
          "safe_name": "safe", "safe_names": "safe", "parse_month": "safe", "run_batch": "batch"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
