"""REDCap exports: one row per record x event x repeat instance, read through a recipe.

See :func:`read_redcap` and ``docs/ingest.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

from ..data import problem_table, read_raw, report_or_raise
from ..errors import DataValidationError
from ._common import Errors, ImportedData, problem
from ._episode_rows import EpisodeSpec
from .wide import Recipe, _read, _recipe_episodes, _text, check_episode_columns, read_recipe

__all__ = ["read_redcap"]

REDCAP_COLUMNS = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")
ARM = "redcap_arm"
"""The recipe's ``episode`` value that makes each arm of a longitudinal project an episode."""
_ARM = re.compile(r"_arm_(\d+)$")
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
    Episodes of care (returning clients), in one of three ways the recipe chooses:

    - ``episode = "redcap_arm"``: each **arm** of a longitudinal project is an episode (the
      "re-referral as a new arm" design): a record's rows in ``..._arm_2`` events are its episode
      ``arm_2``. ``episode_start`` / ``episode_end`` name the fields holding the episode's dates
      (e.g. ``date_enrolled`` on the arm's enrolment event); without them an episode runs from its
      first score to its last.
    - ``episode_form = "episode"``: a **repeating instrument** holds one instance per episode,
      its dates in the ``episode_start`` / ``episode_end`` fields; the episode of instance 2 is
      ``episode_2``, and each score belongs to the episode whose dates hold its day.
    - ``episode = "<field>"``: a field on each row names the episode (as for
      :func:`progress_kit.read_wide`).

    Repeat instances of a questionnaire's own form are repeated administrations, never episodes.
    Without any of these, a record found in more than one arm is a warning (its arms would
    otherwise be read as one course). The rules of a data folder then apply
    (``docs/data-format.md``): overlapping episodes, a score between episodes or in another arm's
    dates are errors naming the file, line, column and value.

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
    if errors not in ("raise", "report"):
        raise ValueError(f"errors must be 'raise' or 'report', not {errors!r}")
    parsed = read_recipe(recipe)
    choices = _choices(dictionary) if dictionary is not None else None
    named = parsed.episode is not None or parsed.episode_form is not None
    data = _read(records, parsed, errors if named else "report", today, choices=choices,
                 keep=REDCAP_COLUMNS, form_column="redcap_repeat_instrument", episodes=_episodes)
    return data if named else _warn_arms(records, parsed, data, errors)


def _episodes(frame: pd.DataFrame, recipe: Recipe, file: str):
    """Each row's episode (its arm, its episode form's instance, or the recipe's field) and where
    its dates are."""
    if recipe.episode == ARM:
        if "redcap_event_name" not in frame:
            raise ValueError(f'{file}: episode = "{ARM}" needs the redcap_event_name column of a '
                             "longitudinal project's export")
        check_episode_columns(frame, recipe, file, ("episode_start", "episode_end"))
        arm = _text(frame, "redcap_event_name").str.extract(_ARM, expand=False)
        return ("arm_" + arm).fillna(""), EpisodeSpec("redcap_event_name", recipe.episode_start,
                                                      recipe.episode_end, "the arm")
    if recipe.episode_form is not None:
        for col in ("redcap_repeat_instrument", "redcap_repeat_instance"):
            if col not in frame:
                raise ValueError(f"{file}: episode_form needs the {col} column of a project "
                                 "with repeating instruments")
        check_episode_columns(frame, recipe, file, ("episode_start", "episode_end"))
        mine = _text(frame, "redcap_repeat_instrument").str.lower() == recipe.episode_form.lower()
        episode = (recipe.episode_form + "_" + _text(frame, "redcap_repeat_instance"))
        return episode.where(mine, ""), EpisodeSpec("redcap_repeat_instance",
                                                    recipe.episode_start, recipe.episode_end,
                                                    f"{recipe.episode_form} instance")
    return _recipe_episodes(frame, recipe, file)


def _warn_arms(records, recipe: Recipe, data: ImportedData, errors: Errors) -> ImportedData:
    """A warning per record found in more than one arm when the recipe names no episodes: its
    arms are read as one course, which is right for randomised arms but not for re-referrals."""
    raw = read_raw(records, "records")
    frame = raw.frame
    if not raw.problems and "redcap_event_name" in frame and recipe.client_id in frame:
        arms = pd.DataFrame({"id": _text(frame, recipe.client_id), "line": raw.lines,
                             "arm": _text(frame, "redcap_event_name").str.extract(
                                 _ARM, expand=False)}).dropna()
        counts = arms.groupby("id", sort=True)["arm"].nunique()
        found = []
        for record in counts[counts > 1].index:
            rows = arms[arms["id"] == record]
            found.append(problem(raw.file, int(rows["line"].iat[0]), "redcap_event_name", record,
                                 f"record {record!r} is in arms "
                                 f"{', '.join(sorted(rows['arm'].unique(), key=int))}, read as "
                                 "one course; if each arm is a referral, say episode = "
                                 f'"{ARM}" in the recipe', "warning"))
        if found:
            data.problems = pd.concat([data.problems, problem_table(found)], ignore_index=True)
    if errors == "raise":
        if len(data.problems) and (data.problems["severity"] == "error").any():
            raise DataValidationError(data.problems)
        report_or_raise(data.observations, data.problems, "raise")
    return data


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
