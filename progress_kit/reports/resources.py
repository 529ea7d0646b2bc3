"""Where the report notebooks and the nbconvert template live: inside the package, one copy.

``progress_kit/notebooks`` holds the built-in report notebooks (and ``teaching/``, the course),
``progress_kit/templates/clinical`` the nbconvert template. They are the only copies: a source
checkout installed with ``pip install -e .`` (``make venv``) edits them in place, and a
pip-installed kit ships them as package data. A service's own report notebooks live wherever
the service keeps them (a checkout's top-level ``notebooks/`` is meant for them) and are passed
with ``--notebook``; ``progress-kit report new`` writes an editable copy of a built-in one.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["package_dir", "notebook_path", "template_dir", "KINDS"]

KINDS = ("client", "cohort", "prep", "share")
"""The report kinds, each with a built-in notebook."""
_NAMES = {"client": "client_report.ipynb", "cohort": "cohort_report.ipynb",
          "prep": "session_prep.ipynb", "share": "client_share.ipynb"}


def package_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def notebook_path(kind: str) -> Path:
    """The built-in notebook for ``kind``: "client", "cohort", "prep" (the session-preparation
    sheet) or "share" (the client's own page).

    Examples
    --------
    >>> notebook_path("prep").name
    'session_prep.ipynb'
    """
    if kind not in KINDS:
        raise ValueError(f"report kind must be 'client', 'cohort', 'prep' or 'share', not {kind!r}")
    return package_dir() / "notebooks" / _NAMES[kind]


def template_dir() -> Path:
    """The folder that holds the ``clinical`` nbconvert template (pass as extra base dir)."""
    return package_dir() / "templates"
