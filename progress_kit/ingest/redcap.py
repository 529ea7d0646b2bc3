"""REDCap exports: one row per record x event x repeat instance, read through a recipe.

See :func:`read_redcap` and ``docs/ingest.md``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ..data import read_raw
from ._common import Errors, ImportedData
from .wide import _read, read_recipe

__all__ = ["read_redcap"]

REDCAP_COLUMNS = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")
_DICTIONARY_NAMES = {"field_name": ("field_name", "Variable / Field Name"),
                     "choices": ("select_choices_or_calculations",
                                 "Choices, Calculations, OR Slider Labels"),
                     "field_type": ("field_type", "Field Type")}


def read_redcap(records: str | Path | pd.DataFrame, *, recipe: str | Path | dict,
                dictionary: str | Path | pd.DataFrame | None = None, errors: Errors = "raise",
                today: dt.date | None = None) -> ImportedData:
    """Read a REDCap records export (raw values) into validated observations and items.

    Parameters
    ----------
    records : path or DataFrame
        The "CSV / Microsoft Excel (raw data)" export or an API ``content=record`` export.
        Problems give the line of this file (header = line 1).
    recipe : path or dict
        As for :func:`progress_kit.read_wide`; ``form`` names the instrument's REDCap form so
        that rows of another repeating instrument are not read for it. The shipped
        ``recipe_path("redcap_phq9_gad7")`` fits a project with ``phq9`` and ``gad7`` forms.
    dictionary : path or DataFrame, optional
        The project's data dictionary (CSV download or API ``content=metadata``). When given,
        every item value must be one of its field's coded choices.
    errors, today
        As in :func:`progress_kit.read_observations`.

    Returns
    -------
    ImportedData
        As :func:`progress_kit.read_wide`; the observations keep ``redcap_event_name``,
        ``redcap_repeat_instrument`` and ``redcap_repeat_instance`` when the export has them.

    Notes
    -----
    Rows that belong to other forms (all of this instrument's fields blank) give no score and are
    counted in ``skipped``. A checkbox field arrives as one column per code (``field___code``); its
    ticked code is the answer, matched to the dictionary's codes case-insensitively (REDCap
    lower-cases the codes in column names). More than one ticked box is a problem.

    Examples
    --------
    >>> import pandas as pd
    >>> records = pd.DataFrame({"record_id": ["1", "1"], "redcap_event_name": ["baseline_arm_1",
    ...     "week_4_arm_1"], "gad7_date": ["2024-01-08", "2024-02-05"], "gad7_total": ["12", "7"]})
    >>> recipe = {"client_id": "record_id", "instrument": [{"measure": "GAD-7",
    ...           "date": "gad7_date", "total": "gad7_total"}]}
    >>> read_redcap(records, recipe=recipe).observations[["client_id", "score", "redcap_event_name"]]
      client_id  score redcap_event_name
    0         1   12.0    baseline_arm_1
    1         1    7.0      week_4_arm_1
    """
    parsed = read_recipe(recipe)
    choices = _choices(dictionary) if dictionary is not None else None
    return _read(records, parsed, errors, today, choices=choices, keep=REDCAP_COLUMNS,
                 form_column="redcap_repeat_instrument")


def _choices(dictionary: str | Path | pd.DataFrame) -> dict[str, set[str]]:
    """Coded choices per field, lower-cased: ``{"phq9_1": {"0", "1", "2", "3"}}``."""
    raw = read_raw(dictionary, "dictionary")
    if raw.problems:
        raise ValueError(f"data dictionary {raw.file}: {raw.problems[0]['reason']}")
    frame = raw.frame
    cols = {}
    for key, names in _DICTIONARY_NAMES.items():
        found = [n for n in names if n in frame.columns]
        if not found:
            raise ValueError(f"data dictionary {raw.file}: no column {' or '.join(map(repr, names))}")
        cols[key] = found[0]
    out = {}
    for name, kind, text in zip(frame[cols["field_name"]], frame[cols["field_type"]],
                                frame[cols["choices"]], strict=True):
        if kind.strip() in ("radio", "dropdown", "checkbox") and text.strip():
            codes = {part.split(",", 1)[0].strip().lower() for part in text.split("|") if part.strip()}
            out[name.strip()] = codes
    return out
