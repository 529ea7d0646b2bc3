"""Monthly reports: client and cohort notebooks rendered to HTML and PDF, one at a time or as a batch.

``render_client`` and ``render_cohort`` turn parameters into files; ``run_batch`` renders every
client with activity in a month plus the cohort report. See ``docs/reports.md``.
"""

from .render import render_client, render_cohort, render_prep, render_report
from .safe import parse_month, safe_name, safe_names

__all__ = ["render_report", "render_client", "render_prep", "render_cohort", "safe_name", "safe_names",
           "parse_month", "run_batch"]


def run_batch(*args, **kwargs):
    """See :func:`progress_kit.reports.batch.run_batch`."""
    from .batch import run_batch as _run

    return _run(*args, **kwargs)
