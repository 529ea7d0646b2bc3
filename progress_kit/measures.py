"""Registry of instruments with published psychometrics and their sources.

The built-in registry lives in ``measures.toml`` beside this module. Every number carries a
citation; numbers that could not be sourced are left empty and the measure's ``notes`` say so.
Users extend or override it with their own TOML file through :func:`load_measures`.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Measure", "measures", "get_measure", "load_measures", "reset_measures",
           "anxiety_measure_for", "score_items"]

_NUMBER_FIELDS = ("min", "max", "step", "cutoff", "reliable_change", "reliability")


@dataclass(frozen=True)
class Measure:
    """One instrument: range, direction, cut-off, reliable-change threshold and sources.

    ``cutoff`` is the boundary between the clinical and non-clinical range. A score exactly at
    the cut-off counts as clinical when ``clinical_at_cutoff`` is true (PHQ-9 caseness is
    ``>= 10``; an ORS of 25 is non-clinical). ``reliable_change`` is the published threshold in
    points: a change of at least that size in the good direction is a reliable improvement.
    """

    name: str
    label: str
    kind: str
    min: float
    max: float
    step: float | None
    better: str
    cutoff: float | None = None
    clinical_at_cutoff: bool = True
    reliable_change: float | None = None
    reliability: float | None = None
    items: int | None = None
    item_min: float | None = None
    item_max: float | None = None
    max_missing_items: int = 0
    problems: tuple[str, ...] = ()
    notes: str = ""
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def direction(self) -> int:
        """+1 when higher scores are better, -1 when lower scores are better."""
        return 1 if self.better == "higher" else -1

    def is_clinical(self, scores: Any) -> np.ndarray:
        """Boolean array: which scores lie in the clinical range (NaN where score is NaN).

        Examples
        --------
        >>> get_measure("PHQ-9").is_clinical([9, 10, 27])
        array([False,  True,  True])
        """
        if self.cutoff is None:
            raise ValueError(f"{self.name} has no clinical cut-off in the registry; "
                             "set one with load_measures() or pass a cut-off explicitly")
        s = np.asarray(scores, dtype=float)
        if self.better == "lower":
            out = s >= self.cutoff if self.clinical_at_cutoff else s > self.cutoff
        else:
            out = s <= self.cutoff if self.clinical_at_cutoff else s < self.cutoff
        return out

    def describe_cutoff(self) -> str:
        """The caseness rule in words, e.g. ``'clinical if PHQ-9 >= 10'``."""
        if self.cutoff is None:
            return f"{self.name}: no cut-off"
        op = {("lower", True): ">=", ("lower", False): ">",
              ("higher", True): "<=", ("higher", False): "<"}[(self.better, self.clinical_at_cutoff)]
        return f"clinical if {self.name} {op} {self.cutoff:g}"


def _measure_from_toml(name: str, spec: dict[str, Any], origin: str,
                       base: Measure | None = None) -> Measure:
    spec = dict(spec)
    sources = dict(base.sources) if base else {}
    given_sources = spec.pop("sources", {})
    known = {f.name for f in fields(Measure)} - {"name", "sources"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"{origin}: measure {name!r} has unknown field(s) {sorted(unknown)}; "
                         f"known fields are {sorted(known)}")
    for key in spec:
        # a number given without a citation is attributed to the file that gave it
        sources[key] = given_sources.get(key, f"set in {origin}")
    sources.update(given_sources)
    if "problems" in spec:
        spec["problems"] = tuple(spec["problems"])
    if "max" not in spec and base is None:
        spec["max"] = math.inf
    if base is not None:
        measure = replace(base, **spec, sources=sources)
    else:
        missing = {"min", "better"} - set(spec)
        if missing:
            raise ValueError(f"{origin}: new measure {name!r} needs field(s) {sorted(missing)}")
        spec.setdefault("label", name)
        spec.setdefault("kind", "questionnaire")
        spec.setdefault("step", None)
        measure = Measure(name=name, sources=sources, **spec)
    _check_measure(measure, origin)
    return measure


def _check_measure(m: Measure, origin: str) -> None:
    where = f"{origin}: measure {m.name!r}"
    if m.better not in ("lower", "higher"):
        raise ValueError(f"{where}: better must be 'lower' or 'higher', not {m.better!r}")
    if not m.min < m.max:
        raise ValueError(f"{where}: min {m.min} must be below max {m.max}")
    if m.step is not None and m.step <= 0:
        raise ValueError(f"{where}: step must be positive, not {m.step}")
    if m.cutoff is not None and not m.min <= m.cutoff <= m.max:
        raise ValueError(f"{where}: cutoff {m.cutoff} lies outside {m.min}-{m.max}")
    if m.reliability is not None and not 0 < m.reliability <= 1:
        raise ValueError(f"{where}: reliability must lie in (0, 1], not {m.reliability}")
    if m.reliable_change is not None and m.reliable_change <= 0:
        raise ValueError(f"{where}: reliable_change must be positive, not {m.reliable_change}")


def _read_toml(path: Path | str, text: str | None = None) -> dict[str, Any]:
    try:
        return tomllib.loads(text if text is not None else Path(path).read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc


def _builtin() -> dict[str, Measure]:
    text = resources.files("progress_kit").joinpath("measures.toml").read_text("utf-8")
    specs = _read_toml("measures.toml", text)
    return {name: _measure_from_toml(name, spec, "built-in registry") for name, spec in specs.items()}


_REGISTRY: dict[str, Measure] = _builtin()


def reset_measures() -> None:
    """Restore the built-in registry, discarding anything loaded with :func:`load_measures`."""
    _REGISTRY.clear()
    _REGISTRY.update(_builtin())


def load_measures(path: str | Path) -> pd.DataFrame:
    """Extend or override the registry from a TOML file.

    Each TOML table is one measure. A table named like a built-in measure overrides only the
    fields it gives; any other name adds a measure, which needs at least ``min`` and ``better``.
    Give citations in a ``[NAME.sources]`` table; a number without one is attributed to the file.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    DataFrame
        The whole registry after loading, as :func:`measures` gives it.

    Examples
    --------
    >>> import tempfile, os
    >>> toml = '[K10]\\nmin = 10\\nmax = 50\\nstep = 1\\nbetter = "lower"\\ncutoff = 20\\n'
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "mine.toml")
    ...     _ = open(p, "w").write(toml)
    ...     table = load_measures(p)
    >>> float(table.loc["K10", "cutoff"])
    20.0
    >>> reset_measures()
    """
    specs = _read_toml(path)
    staged = {name: _measure_from_toml(name, spec, str(path), _REGISTRY.get(name))
              for name, spec in specs.items()}
    _REGISTRY.update(staged)
    return measures()


def get_measure(name: str) -> Measure:
    """Look up a measure by its registry name; an unknown name raises with the closest match.

    Examples
    --------
    >>> get_measure("PHQ-9").cutoff
    10
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown measure {name!r}{suggest_measure(name)}") from None


def suggest_measure(name: str) -> str:
    """``"; did you mean 'PHQ-9'?"`` for the closest registry name, or a list of known names."""
    def norm(s: str) -> str:
        return "".join(ch for ch in str(s).lower() if ch.isalnum())

    by_norm = {norm(n): n for n in _REGISTRY}
    if norm(name) in by_norm:
        return f"; did you mean {by_norm[norm(name)]!r}?"
    close = difflib.get_close_matches(norm(name), list(by_norm), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {by_norm[close[0]]!r}?"
    return f"; known measures are {', '.join(sorted(_REGISTRY))}"


def measures() -> pd.DataFrame:
    """The registry as a DataFrame, one row per measure, with a ``source_*`` column per number.

    Examples
    --------
    >>> table = measures()
    >>> table.loc["GAD-7", ["min", "max", "cutoff", "reliable_change"]].tolist()
    [0.0, 21.0, 8.0, 4.0]
    """
    rows = []
    for m in _REGISTRY.values():
        row = {f.name: getattr(m, f.name) for f in fields(Measure) if f.name != "sources"}
        row["problems"] = ", ".join(m.problems)
        for key in _NUMBER_FIELDS + ("max_missing_items",):
            row[f"source_{key}"] = m.sources.get("range" if key in ("min", "max", "step") else key)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("name")
    for col in _NUMBER_FIELDS + ("item_min", "item_max"):
        table[col] = table[col].astype(float)
    return table


def anxiety_measure_for(problem: str | None) -> str:
    """The recommended anxiety measure for an NHS Talking Therapies problem descriptor.

    Uses the ``problems`` field of the registry (after Clark et al. 2018, Lancet 391:679, Table 2).
    A problem with no registered disorder-specific measure, or whose measure lacks a cut-off or a
    reliable-change threshold, falls back to GAD-7.

    Examples
    --------
    >>> anxiety_measure_for("social_anxiety"), anxiety_measure_for("depression")
    ('SPIN', 'GAD-7')
    """
    for m in _REGISTRY.values():
        if problem and problem in m.problems and m.cutoff is not None and m.reliable_change:
            return m.name
    return "GAD-7"


def score_items(items: pd.DataFrame, measure: str, *, item_columns: list[str] | None = None,
                max_missing: int | None = None) -> pd.DataFrame:
    """Turn item-level responses into questionnaire totals.

    Missing-item rule: a total is the sum of the answered items when none is missing. When
    ``1 <= missing <= max_missing`` (the registry's ``max_missing_items`` unless given) the total is
    prorated, ``round(mean(answered) * n_items)`` with halves rounded up, so it stays on the
    instrument's step. With more missing items the total is NaN and ``reason`` says why. No row is
    dropped.

    Parameters
    ----------
    items : DataFrame
        One row per administration. Item columns hold the item scores; other columns are kept.
    measure : str
        Registry name, e.g. ``"PHQ-9"``; gives the number of items and their range.
    item_columns : list of str, optional
        The item columns in order. Default: the first ``n_items`` columns whose names end in a
        number (``phq1`` ... ``phq9``, ``item_1`` ...).
    max_missing : int, optional
        Override the registry's missing-item allowance.

    Returns
    -------
    DataFrame
        The non-item columns plus ``measure``, ``score``, ``n_missing``, ``prorated`` and ``reason``.

    Raises
    ------
    ValueError
        When the item columns cannot be found, or an item lies outside the item range.

    Examples
    --------
    >>> df = pd.DataFrame({"client_id": ["a", "b"], **{f"phq{i}": [2, 1] for i in range(1, 10)}})
    >>> df.loc[1, "phq9"] = None
    >>> score_items(df, "PHQ-9")[["client_id", "score", "n_missing", "prorated"]]
      client_id  score  n_missing  prorated
    0         a   18.0          0     False
    1         b    9.0          1      True
    """
    m = get_measure(measure)
    if not m.items:
        raise ValueError(f"{measure} has no item-level definition in the registry")
    cols = item_columns or _guess_item_columns(items, m.items)
    if len(cols) != m.items:
        raise ValueError(f"{measure} has {m.items} items but {len(cols)} item columns were given: {cols}")
    values = items[cols].apply(pd.to_numeric, errors="coerce")
    bad_text = values.isna() & items[cols].notna() & (items[cols].astype(str).apply(
        lambda c: c.str.strip()) != "")
    out_of_range = (values < m.item_min) | (values > m.item_max)
    if bad_text.any().any() or out_of_range.any().any():
        row, col = np.argwhere((bad_text | out_of_range).to_numpy())[0]
        raise ValueError(f"{measure} item {cols[col]!r} in row {row} is {items[cols[col]].iloc[row]!r}; "
                         f"items must be numbers from {m.item_min:g} to {m.item_max:g}")
    allowed = m.max_missing_items if max_missing is None else max_missing
    n_missing = values.isna().sum(axis=1)
    total = values.sum(axis=1, min_count=1)
    prorated = (n_missing > 0) & (n_missing <= allowed)
    scaled = np.floor(values.mean(axis=1) * m.items + 0.5)
    score = total.where(n_missing == 0, scaled.where(prorated))
    reason = np.where(n_missing > allowed,
                      [f"{k} of {m.items} items missing; at most {allowed} may be prorated"
                       for k in n_missing], "")
    result = items.drop(columns=cols).copy()
    result["measure"] = measure
    result["score"] = score.astype(float)
    result["n_missing"] = n_missing.astype(int)
    result["prorated"] = prorated.to_numpy()
    result["reason"] = reason
    return result


def _guess_item_columns(items: pd.DataFrame, n_items: int) -> list[str]:
    numbered = [c for c in items.columns if str(c)[-1:].isdigit()]
    numbered.sort(key=lambda c: _trailing_int(str(c)))
    if len(numbered) < n_items:
        raise ValueError(f"could not find {n_items} item columns ending in a number; "
                         f"pass item_columns=[...] (columns are {list(items.columns)})")
    return numbered[:n_items]


def _trailing_int(name: str) -> int:
    digits = ""
    for ch in reversed(name):
        if not ch.isdigit():
            break
        digits = ch + digits
    return int(digits)
