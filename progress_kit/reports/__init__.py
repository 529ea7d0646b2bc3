"""Reports: the steps a report notebook is made of, and rendering notebooks to HTML and PDF.

A report notebook's cells call the step functions (usually ``from progress_kit import reports
as pr``): :func:`load_client` (only that client's data, prepared by the kit) or
:func:`load_cohort`, then one call per section (:func:`status`, :func:`headline_chart`,
:func:`progress_note`, ...), each shown with :func:`show`; :func:`section` adds one of your own.
See :mod:`progress_kit.reports.steps` and "Write your own report" in ``docs/reports.md``.

``render_client``, ``render_cohort``, ``render_prep`` and ``render_share`` turn parameters (and,
optionally, your own notebook) into files; ``run_batch`` renders every client with activity in a
month plus the cohort report. See ``docs/reports.md`` and ``docs/security.md``.
"""

import importlib

STEPS = ["ClientReport", "CohortReport", "prepare_client", "load_client", "load_cohort",
         "write_bundle", "show", "section", "title", "heading",
         "identity", "status", "trends", "headline_chart", "progress_note", "since_last_month",
         "since_last_session", "long_term", "questionnaires", "expected_range", "sudden_gains", "sessions",
         "data_quality", "diary", "diary_table", "takeaways", "scores", "intro",
         "things_to_talk_about", "methods",
         "overview", "month_over_month", "service_outcomes", "outcome_trend", "recovery_funnel",
         "jacobson", "slope_distribution", "clients_to_review", "backtest",
         "PARAMETERS", "REQUIRED", "NotebookProblem", "notebook_parameters", "check_notebook"]
"""The notebook steps' names (:mod:`.steps`'s ``__all__``; a test keeps them equal)."""

__all__ = ["render_report", "render_client", "render_prep", "render_share", "render_cohort",
           "safe_name", "safe_names", "parse_month", "run_batch", "new_notebook", *STEPS]

# Imported on first use, so that ``import progress_kit.reports`` stays light (the command line
# checks a notebook's parameters without importing pandas or the sections).
_WHERE = {"render_report": "render", "render_client": "render", "render_cohort": "render",
          "render_prep": "render", "render_share": "render", "new_notebook": "resources",
          "safe_name": "safe", "safe_names": "safe", "parse_month": "safe", "run_batch": "batch",
          **dict.fromkeys(STEPS, "steps")}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
