"""Wide exports (one row per administration, one column per item) read through a recipe.

A recipe says which columns hold the client, the day, the items and the total of each
instrument. It is a TOML file or a dict::

    client_id = "record_id"

    [[instrument]]
    measure = "PHQ-9"
    date = "phq9_date"
    date_format = "%d/%m/%Y"   # optional; default ISO YYYY-MM-DD
    items = ["phq9_1", "phq9_2", "phq9_3", "phq9_4", "phq9_5", "phq9_6", "phq9_7", "phq9_8", "phq9_9"]
    total = "phq9_total"       # optional; with items, both must agree

See :func:`read_wide`, :func:`progress_kit.read_redcap` and ``docs/ingest.md``. Example recipes
ship in ``progress_kit/ingest/recipes/`` (:func:`recipe_path`).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import EPISODE, read_raw
from ..errors import shorten
from ..measures import Measure, get_measure
from ._common import (
    Errors,
    ImportedData,
    finish,
    items_of_valid,
    problem,
    validate_items,
    validate_observations,
)
from ._episode_rows import EpisodeSpec, episodes_by_column

__all__ = ["read_wide", "read_recipe", "recipe_path"]

_TOP_KEYS = {"client_id", "instrument", "keep", "description", "episode", "episode_start",
             "episode_end", "episode_date_format", "episode_form"}
_INSTRUMENT_KEYS = {"measure", "form", "date", "date_format", "items", "total", "answers",
                    "filter_column", "filter_value", "description"}
_TICKED = {"1", "checked", "true", "yes"}


@dataclass
class Instrument:
    measure: str
    date: str
    items: list[str] = field(default_factory=list)
    total: str | None = None
    date_format: str | None = None
    form: str | None = None
    answers: dict[str, float] = field(default_factory=dict)
    filter_column: str | None = None
    filter_value: str | None = None


@dataclass
class Recipe:
    client_id: str
    instruments: list[Instrument]
    keep: list[str] = field(default_factory=list)
    episode: str | None = None
    episode_start: str | None = None
    episode_end: str | None = None
    episode_date_format: str | None = None
    episode_form: str | None = None


def recipe_path(name: str) -> Path:
    """Path of a recipe shipped with the kit: ``redcap_phq9_gad7``, ``openfit_ors_srs``, ``novopsych``.

    Examples
    --------
    >>> recipe_path("redcap_phq9_gad7").name
    'redcap_phq9_gad7.toml'
    """
    path = Path(str(resources.files("progress_kit") / "ingest" / "recipes" / f"{name}.toml"))
    if not path.exists():
        shipped = sorted(p.stem for p in path.parent.glob("*.toml"))
        raise ValueError(f"no shipped recipe {name!r}; shipped recipes are {', '.join(shipped)}")
    return path


def read_recipe(recipe: str | Path | dict) -> Recipe:
    """Read and check a recipe (a TOML path or a dict); errors name the key and the reason.

    Examples
    --------
    >>> r = read_recipe({"client_id": "id", "instrument": [{"measure": "GAD-7", "date": "d",
    ...                  "total": "gad7"}]})
    >>> r.instruments[0].measure, r.instruments[0].total
    ('GAD-7', 'gad7')
    """
    where = "recipe"
    if not isinstance(recipe, dict):
        where = str(recipe)
        try:
            recipe = tomllib.loads(Path(recipe).read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{where}: not valid TOML ({exc})") from None
    unknown = set(recipe) - _TOP_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; known keys are {sorted(_TOP_KEYS)}")
    if not isinstance(recipe.get("client_id"), str):
        raise ValueError(f"{where}: client_id must name the column holding the client")
    _check_types(recipe, _TOP_TYPES, where)
    specs = recipe.get("instrument") or []
    if not specs:
        raise ValueError(f"{where}: no [[instrument]] table")
    out = []
    for i, spec in enumerate(specs, start=1):
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: instrument {i} is {_toml_type(spec)}, not a table "
                             "([[instrument]] with keys)")
        bad = set(spec) - _INSTRUMENT_KEYS
        if bad:
            raise ValueError(f"{where}: instrument {i} has unknown key(s) {sorted(bad)}; known keys "
                             f"are {sorted(_INSTRUMENT_KEYS)}")
        if "measure" not in spec or "date" not in spec:
            raise ValueError(f"{where}: instrument {i} needs measure and date")
        _check_types(spec, _INSTRUMENT_TYPES, f"{where}: instrument {i}")
        if not spec.get("items") and not spec.get("total"):
            raise ValueError(f"{where}: instrument {i} ({spec['measure']}) needs items, total or both")
        measure = _registered(spec["measure"])
        if measure is not None and spec.get("items") and measure.items and \
                len(spec["items"]) != measure.items:
            raise ValueError(f"{where}: instrument {i}: {measure.name} has {measure.items} items, "
                             f"the recipe lists {len(spec['items'])}")
        answers = {str(k).strip().lower(): float(v) for k, v in (spec.get("answers") or {}).items()}
        out.append(Instrument(spec["measure"], spec["date"], list(spec.get("items") or []),
                              spec.get("total"), spec.get("date_format"), spec.get("form"), answers,
                              spec.get("filter_column"), spec.get("filter_value")))
    if "episode_form" in recipe and ("episode" in recipe or "episode_start" not in recipe):
        raise ValueError(f"{where}: episode_form (a REDCap repeating instrument holding the "
                         "episodes) needs episode_start and no episode")
    if ("episode_start" in recipe or "episode_end" in recipe) and "episode" not in recipe \
            and "episode_form" not in recipe:
        raise ValueError(f"{where}: episode_start and episode_end need episode (the column "
                         "naming each row's episode of care)")
    if "episode_end" in recipe and "episode_start" not in recipe:
        raise ValueError(f"{where}: episode_end needs episode_start")
    return Recipe(recipe["client_id"], out, list(recipe.get("keep") or []), recipe.get("episode"),
                  recipe.get("episode_start"), recipe.get("episode_end"),
                  recipe.get("episode_date_format"), recipe.get("episode_form"))


_TEXT = (str,)
_TOP_TYPES = {"client_id": _TEXT, "keep": (list, str), "description": _TEXT, "instrument": (list,),
              "episode": _TEXT, "episode_start": _TEXT, "episode_end": _TEXT,
              "episode_date_format": _TEXT, "episode_form": _TEXT}
_INSTRUMENT_TYPES = {"measure": _TEXT, "date": _TEXT, "items": (list, str), "total": _TEXT,
                     "date_format": _TEXT, "form": _TEXT, "answers": (dict, float), "filter_column": _TEXT,
                     "filter_value": (str, int, float, bool), "description": _TEXT}
# (list, str) and (dict, float): a list of texts, a table of numbers


def _registered(name: str) -> Measure | None:
    """The registry's measure of that name, or None (an unregistered measure is skipped, not an error)."""
    try:
        return get_measure(name)
    except ValueError:
        return None


def _toml_type(value: Any) -> str:
    names = {str: "a text", bool: "true/false", int: "a number", float: "a number", list: "a list",
             dict: "a table"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)


def _check_types(spec: dict, types: dict[str, tuple], where: str) -> None:
    """Each recipe key of the right TOML type; a message names the recipe, the key and the value."""
    for key, want in types.items():
        if key not in spec:
            continue
        value = spec[key]
        if want in ((list, str), (dict, float)):
            outer, inner = want
            good = isinstance(value, outer) and all(
                isinstance(v, inner) if inner is str else _is_number(v)
                for v in (value if outer is list else value.values()))
            what = "a list of column names (texts)" if outer is list else \
                'a table of answers to numbers (e.g. "Not at all" = 0)'
        else:
            good = isinstance(value, want) and not (bool not in want and isinstance(value, bool))
            what = "[[instrument]] tables" if key == "instrument" else \
                " or ".join(sorted({_toml_type(t()) for t in want}))
        if not good:
            raise ValueError(f"{where}: {key} must be {what}, not {shorten(repr(value), 60)}")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def read_wide(table: str | Path | pd.DataFrame, recipe: str | Path | dict, *,
              errors: Errors = "raise", today: dt.date | None = None) -> ImportedData:
    """Read a wide export (one row per administration) into validated observations and items.

    Parameters
    ----------
    table : path or DataFrame
        CSV (UTF-8), ``.xlsx`` or ``.parquet``, or a DataFrame. Line numbers in problems are the
        file's (header = line 1).
    recipe : path or dict
        Which columns hold what (see the module docstring, ``docs/ingest.md`` and the shipped
        examples, :func:`recipe_path`). Per instrument: ``measure`` (a registry name), ``date``
        (column), ``date_format`` (optional, ``strftime`` codes), ``items`` (columns in item
        order), ``total`` (column), ``answers`` (labels to item scores, e.g. ``"Not at all" = 0``),
        ``filter_column`` / ``filter_value`` (use only rows where that column has that value).
        ``keep`` (top level) lists extra columns copied to the observations. ``episode`` (top
        level) names the column holding each row's episode of care (a referral number), and
        ``episode_start`` / ``episode_end`` (optional) the columns of its dates, in
        ``episode_date_format`` (default ISO); see Notes.
    errors, today
        As in :func:`progress_kit.read_observations`.

    Returns
    -------
    ImportedData
        ``observations`` (with ``source`` = the line it came from, and any ``keep`` columns),
        ``items``, stub ``clients``, ``problems`` and ``skipped`` (rows with no data for an
        instrument, instruments whose measure is not registered).

    Notes
    -----
    A row with every column of an instrument blank gives no score for it (it belongs to another
    form or visit) and is counted in ``skipped``. With items, the score is their sum; missing
    items follow the registry rule of :func:`progress_kit.score_items` (at most
    ``max_missing_items`` missing, prorated as ``round(mean x n_items)``, listed as warnings).
    With both items and a total the two must agree, or the row has no score and is listed.
    Scores then pass the same checks as a data folder (range, step, dates, duplicates).

    Episodes of care: with ``episode``, the result's ``clients`` has one row per client and
    episode and every score an ``episode_id`` (the column's value). An episode's dates are
    those of ``episode_start`` / ``episode_end`` (every row of one episode must give the same,
    blanks aside); without them it runs from its first score to its last, a client's latest
    episode open (placeholders, like stub clients: status ``finished`` for the ended ones,
    ``active`` for the latest). A blank episode cell takes the episode from the date. Then the
    rules of a data folder apply (``docs/data-format.md``): episodes of one client must not
    overlap, a score between two episodes or whose episode disagrees with its date is an error
    naming the file, line, column and value, and is not kept.

    Examples
    --------
    >>> import pandas as pd
    >>> export = pd.DataFrame({"id": ["a", "a"], "when": ["08/01/2024", "15/01/2024"],
    ...                        "gad": [12, 7]})
    >>> recipe = {"client_id": "id", "instrument": [{"measure": "GAD-7", "date": "when",
    ...           "date_format": "%d/%m/%Y", "total": "gad"}]}
    >>> read_wide(export, recipe).observations[["client_id", "date", "measure", "score"]]
      client_id       date measure  score
    0         a 2024-01-08   GAD-7   12.0
    1         a 2024-01-15   GAD-7    7.0
    """
    return _read(table, read_recipe(recipe), errors, today)


def _recipe_episodes(frame: pd.DataFrame, recipe: Recipe, file: str
                     ) -> tuple[pd.Series, EpisodeSpec] | None:
    """Each row's episode (text) and where its dates are, from the recipe's ``episode``."""
    if recipe.episode is None:
        if recipe.episode_form is not None:
            raise ValueError(f"{file}: episode_form is for REDCap exports (read_redcap)")
        return None
    check_episode_columns(frame, recipe, file, ("episode", "episode_start", "episode_end"))
    return _text(frame, recipe.episode), EpisodeSpec(recipe.episode, recipe.episode_start,
                                                       recipe.episode_end)


def check_episode_columns(frame: pd.DataFrame, recipe: Recipe, file: str, keys: tuple) -> None:
    """Each of the recipe's episode columns among ``keys`` is in the table."""
    for key in keys:
        col = getattr(recipe, key)
        if col is not None and col not in frame.columns:
            raise ValueError(f"{file}: the recipe's {key} column {col!r} is not in the table "
                             f"(columns are {', '.join(frame.columns)})")


def _periods(frame: pd.DataFrame, client: pd.Series, episode: pd.Series, spec: EpisodeSpec,
             lines: np.ndarray, date_format: str | None) -> pd.DataFrame | None:
    """The rows giving an episode's dates (ISO text; a date that does not parse is kept as
    written, for :func:`read_clients` to name)."""
    if spec.start is None:
        return None

    def day(col: str | None) -> pd.Series:
        if col is None:
            return pd.Series("", index=frame.index)
        text = _text(frame, col)
        if not date_format:
            return text.where(~text.str.match(r"^\d{4}-\d{2}-\d{2}[ T]"), text.str[:10])
        parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        return parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), text)

    out = pd.DataFrame({"client_id": client.to_numpy(), EPISODE: episode.to_numpy(),
                        "start": day(spec.start).to_numpy(), "end": day(spec.end).to_numpy(),
                        "line": lines})
    return out[(out["client_id"] != "") & (out[EPISODE] != "") &
               ((out["start"] != "") | (out["end"] != ""))].reset_index(drop=True)


def _read(table, recipe: Recipe, errors: Errors, today, *, choices: dict[str, set[str]] | None = None,
          keep: tuple[str, ...] = (), form_column: str | None = None,
          episodes=_recipe_episodes) -> ImportedData:
    raw = read_raw(table, "records")
    problems = list(raw.problems)
    frame, lines, file = raw.frame, raw.lines, raw.file
    skipped: Counter = Counter()
    obs_rows, origins, item_rows, item_origins = [], [], [], []
    keep = tuple(c for c in (*keep, *recipe.keep) if c in frame.columns)
    if not raw.problems and recipe.client_id not in frame.columns:
        raise ValueError(f"{file}: no column {recipe.client_id!r} for client_id (columns are "
                         f"{', '.join(frame.columns)})")
    episode = episodes(frame, recipe, file) if not raw.problems else None
    for ins in recipe.instruments if not raw.problems else []:
        if _registered(ins.measure) is None:
            skipped[(ins.measure, "not a registered measure (add it with load_measures)")] += len(frame)
            continue
        rows = _rows_for(frame, ins, form_column)
        columns = _instrument_columns(frame, ins, file)
        blank = np.ones(len(frame), bool)
        for col in columns:
            text = _text(frame, col)
            # an unticked checkbox is exported as 0 on every row, whichever form the row is
            empty = ~text.str.lower().isin(_TICKED) if "___" in col else text.eq("")
            blank &= empty.to_numpy()
        skipped[(ins.measure, "rows with no data for it")] += int((rows & blank).sum())
        for i in np.flatnonzero(rows & ~blank):
            result = _one_row(frame.iloc[i], ins, file, int(lines[i]), frame, choices or {}, today)
            problems.extend(result["problems"])
            if result["score"] is None:
                continue
            row = {"client_id": frame[recipe.client_id].iloc[i].strip(), "date": result["date"],
                   "measure": ins.measure, "score": f"{result['score']:g}", "source": f"{file} line "
                                                                                     f"{int(lines[i])}"}
            row.update({c: frame[c].iloc[i] for c in keep})
            if episode is not None:
                row[EPISODE] = episode[0].iloc[i]
            obs_rows.append(row)
            origins.append((file, int(lines[i]), f"{ins.measure}: "))
            for n, v in result["items"].items():
                item_rows.append((row["client_id"], result["date"], ins.measure, n, v))
                item_origins.append((file, int(lines[i]), f"{ins.measure}: "))
    _count_unmatched(frame, recipe, skipped)
    obs = pd.DataFrame(obs_rows, columns=["client_id", "date", "measure", "score", "source", *keep,
                                          *([EPISODE] if episode is not None else [])])
    valid, more = validate_observations(obs, origins, today)
    problems.extend(more)
    clients = None
    if episode is not None:  # episodes of care: the clients table, and each score's episode
        if EPISODE not in valid:  # no score at all
            valid[EPISODE] = pd.Series(dtype=object)
        source = valid["source"] if "source" in valid else pd.Series([], dtype=str)
        lines_of = source.str.extract(r" line (\d+)$", expand=False).astype(float)
        periods = _periods(frame, _text(frame, recipe.client_id), episode[0], episode[1],
                           np.asarray(lines), recipe.episode_date_format)
        valid, _, clients, found = episodes_by_column(
            valid, lines_of.to_numpy(dtype=np.int64), file, episode[1], periods, today)
        problems.extend(found)
    items = pd.DataFrame(item_rows, columns=["client_id", "date", "measure", "item", "response"])
    items, item_origins = items_of_valid(items, item_origins, valid)
    item_ok, item_problems = validate_items(items, item_origins, today)
    problems.extend(item_problems)
    if clients is not None and len(item_ok):  # an item is in its administration's episode
        keys = ["client_id", "date", "measure"]
        item_ok = item_ok.merge(valid[keys + [EPISODE]].drop_duplicates(keys), on=keys, how="left")
    table_ = pd.DataFrame([{"source": m, "what": w, "count": n} for (m, w), n in sorted(skipped.items())
                           if n], columns=["source", "what", "count"])
    return finish(valid, item_ok, problems, table_, errors, clients=clients)


def _count_unmatched(frame: pd.DataFrame, recipe: Recipe, skipped: Counter) -> None:
    """Rows whose filter value no instrument reads (e.g. a DASS-21 row in a NovoPsych export)."""
    filters = {ins.filter_column for ins in recipe.instruments if ins.filter_column}
    for col in filters:
        if col not in frame:
            continue
        wanted = {str(i.filter_value).strip().lower() for i in recipe.instruments if i.filter_column == col}
        values = _text(frame, col)
        for value, n in values[~values.str.lower().isin(wanted)].value_counts().items():
            skipped[(value or "(blank)", f"{col} not in the recipe")] += int(n)


def _text(frame: pd.DataFrame, col: str) -> pd.Series:
    return frame[col].astype(str).str.strip()


def _rows_for(frame: pd.DataFrame, ins: Instrument, form_column: str | None) -> np.ndarray:
    rows = np.ones(len(frame), bool)
    if ins.filter_column:
        if ins.filter_column not in frame:
            raise ValueError(f"filter_column {ins.filter_column!r} of {ins.measure} is not a column")
        rows &= (_text(frame, ins.filter_column).str.lower() == str(ins.filter_value).strip().lower()
                 ).to_numpy()
    if ins.form and form_column and form_column in frame:
        form = _text(frame, form_column)
        # a repeating row of another form is not this instrument; non-repeating rows are
        rows &= ((form == "") | (form.str.lower() == ins.form.lower())).to_numpy()
    return rows


def _checkbox_columns(frame: pd.DataFrame, name: str) -> dict[str, str]:
    """``{code: column}`` for a checkbox field exported as ``name___code`` (codes lower-cased)."""
    prefix = f"{name}___".lower()
    return {c[len(prefix):].lower(): c for c in frame.columns if c.lower().startswith(prefix)}


def _instrument_columns(frame: pd.DataFrame, ins: Instrument, file: str) -> list[str]:
    cols = [ins.date, *ins.items] + ([ins.total] if ins.total else [])
    out = []
    for col in cols:
        if col in frame:
            out.append(col)
        elif _checkbox_columns(frame, col):
            out.extend(_checkbox_columns(frame, col).values())
        else:
            raise ValueError(f"{file}: the recipe's {ins.measure} column {col!r} is not in the table "
                             f"(columns are {', '.join(frame.columns)})")
    return out


def _one_row(row: pd.Series, ins: Instrument, file: str, line: int, frame: pd.DataFrame,
             choices: dict[str, set[str]], today) -> dict[str, Any]:
    problems: list[dict] = []
    out: dict[str, Any] = {"score": None, "items": {}, "problems": problems, "date": ""}
    m = get_measure(ins.measure)

    def bad(column: str, value: Any, reason: str) -> None:
        problems.append(problem(file, line, column, value, f"{ins.measure}: {reason}"))

    date_text = row[ins.date].strip()
    if ins.date_format and date_text:
        try:
            out["date"] = dt.datetime.strptime(date_text, ins.date_format).date().isoformat()
        except ValueError:
            bad(ins.date, date_text, f"{ins.date} {date_text!r} is not a possible date in the format "
                                     f"{ins.date_format!r}")
            return out
    else:
        out["date"] = date_text[:10] if len(date_text) > 10 and date_text[10] in " T" else date_text
    values: dict[int, float | None] = {}
    for n, col in enumerate(ins.items, start=1):
        text, column = _item_text(row, col, frame, bad)
        if text is None:
            return out
        if text == "":
            values[n] = None
            continue
        if col in choices and text.lower() not in choices[col]:
            bad(column, text, f"{col} {text!r} is not one of the data dictionary's choices "
                              f"({', '.join(sorted(choices[col]))})")
            return out
        value = ins.answers.get(text.lower())
        if value is None:
            try:
                value = float(text)
            except ValueError:
                bad(column, text, f"item {n} ({col}) {text!r} is not a number"
                                  + (" or one of the recipe's answers" if ins.answers else ""))
                return out
        if m.item_min is not None and not m.item_min <= value <= m.item_max:
            bad(column, text, f"item {n} ({col}) {text} is outside {m.item_min:g}-{m.item_max:g}")
            return out
        values[n] = value
    total = None
    if ins.total:
        total_text = row[ins.total].strip() if ins.total in row else ""
        if total_text:
            try:
                total = float(total_text)
            except ValueError:
                bad(ins.total, total_text, f"total {total_text!r} is not a number")
                return out
    if not ins.items:
        if total is None:
            bad(ins.total or "", "", "blank total")
            return out
        out["score"] = total
        return out
    answered = {k: v for k, v in values.items() if v is not None}
    missing = [k for k, v in values.items() if v is None]
    allowed = m.max_missing_items
    if not answered or len(missing) > allowed:
        if total is not None and not answered:
            out["score"] = total  # a total with no items recorded at all
            return out
        bad(ins.items[missing[0] - 1], "", f"{len(missing)} of {len(values)} items missing (items "
                                           f"{', '.join(map(str, missing))}); at most {allowed} may be "
                                           "prorated, so there is no score")
        return out
    item_sum = sum(answered.values())
    score = item_sum if not missing else float(np.floor(item_sum / len(answered) * len(values) + 0.5))
    if missing:
        problems.append(problem(file, line, ins.items[missing[0] - 1], "",
                                f"{ins.measure}: {len(missing)} of {len(values)} items missing (item"
                                f"{'s' * (len(missing) > 1)} {', '.join(map(str, missing))}); total "
                                f"prorated to {score:g} (registry rule: at most {allowed} missing, "
                                f"round(mean x {len(values)}))",
                                "warning"))
    if total is not None and abs(total - score) > 1e-9 and not (missing and abs(total - item_sum) < 1e-9):
        bad(ins.total, f"{total:g}", f"stated total {total:g} disagrees with the item "
                                     f"{'sum' if not missing else 'prorated total'} {score:g}")
        return out
    out["score"], out["items"] = score, answered
    return out


def _item_text(row: pd.Series, col: str, frame: pd.DataFrame, bad) -> tuple[str | None, str]:
    if col in row:
        return row[col].strip(), col
    boxes = _checkbox_columns(frame, col)
    ticked = [code for code, c in boxes.items() if row[c].strip().lower() in _TICKED]
    if len(ticked) > 1:
        bad(col, ", ".join(ticked), f"{col}: more than one box ticked ({', '.join(ticked)})")
        return None, col
    return (ticked[0] if ticked else ""), (boxes[ticked[0]] if ticked else col)
