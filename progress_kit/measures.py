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
           "anxiety_measure_for", "primary_measure_for", "reaches", "THRESHOLD_TOLERANCE",
           "score_items", "severity_band", "measures_file", "use_measures", "MEASURES_ENV"]

#: Relative tolerance of every comparison with a published threshold (:func:`reaches`): a
#: difference equal to the threshold up to floating-point rounding reaches it. Every registry step
#: (1 point for PHQ-9, 0.1 for ORS) is many orders of magnitude coarser, so no real score moves.
THRESHOLD_TOLERANCE = 1e-9


def reaches(value: Any, threshold: Any) -> np.ndarray:
    """Whether ``value`` reaches ``threshold`` (``value >= threshold``), counting a value equal to
    the threshold up to floating-point rounding as reaching it.

    Scores on a decimal step are not exact in binary: an ORS drop from 16.4 to 11.4 is computed as
    4.999999999999998, which a plain ``>= 5`` misses although the published rule ("a change of 5
    or more") is met. The comparison is ``value >= threshold - tol`` with
    ``tol = THRESHOLD_TOLERANCE * max(1, |threshold|)``; NaN never reaches.

    Examples
    --------
    >>> 16.4 - 11.4 >= 5, bool(reaches(16.4 - 11.4, 5))
    (False, True)
    >>> reaches([4.9, 5.0, np.nan], 5).tolist()
    [False, True, False]
    """
    v = np.asarray(value, dtype=float)
    t = np.asarray(threshold, dtype=float)
    with np.errstate(invalid="ignore"):
        return v >= t - THRESHOLD_TOLERANCE * np.maximum(1.0, np.abs(t))

_NUMBER_FIELDS = ("min", "max", "step", "cutoff", "reliable_change", "reliability")

# The TOML type of every field: a wrong type is a clear error naming the file and the field,
# never a silent coercion ("no" is not false; "depression" is not a list of letters).
_FIELD_TYPES = {"label": "text", "kind": "text", "better": "text", "notes": "text",
                "min": "number", "max": "number", "step": "number", "cutoff": "number",
                "reliable_change": "number", "reliability": "number", "item_min": "number",
                "item_max": "number", "items": "integer", "max_missing_items": "integer",
                "clinical_at_cutoff": "boolean", "problems": "list of text",
                "severity_bands": "list of {low, high, label} tables",
                "critical_items": "list of {item, description} tables",
                "sources": "table of text"}


@dataclass(frozen=True)
class Measure:
    """One instrument: range, direction, cut-off, reliable-change threshold and sources.

    ``cutoff`` is the boundary between the clinical and non-clinical range. A score exactly at
    the cut-off counts as clinical when ``clinical_at_cutoff`` is true (PHQ-9 caseness is
    ``>= 10``; an ORS of 25 is non-clinical). ``reliable_change`` is the published threshold in
    points: a change of at least that size in the good direction is a reliable improvement.
    ``severity_bands`` holds published ``(low, high, label)`` bands of the total score (a band
    covers ``low <= score <= high``); ``critical_items`` holds published risk items as
    ``(item number, description)``, e.g. PHQ-9 item 9.
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
    severity_bands: tuple[tuple[float, float, str], ...] = ()
    critical_items: tuple[tuple[int, str], ...] = ()
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
        # a score equal to the cut-off up to rounding is at the cut-off (a sum of decimal VAS
        # marks such as 6.1 + 6.3 + 6.2 + 6.4 is 25.000000000000004, not above 25)
        signed = s - self.cutoff if self.better == "lower" else self.cutoff - s
        with np.errstate(invalid="ignore"):
            if self.clinical_at_cutoff:
                return reaches(signed, 0.0)
            return signed > THRESHOLD_TOLERANCE * max(1.0, abs(self.cutoff))

    def describe_cutoff(self) -> str:
        """The caseness rule in words, e.g. ``'clinical if PHQ-9 >= 10'``."""
        if self.cutoff is None:
            return f"{self.name}: no cut-off"
        op = {("lower", True): ">=", ("lower", False): ">",
              ("higher", True): "<=", ("higher", False): "<"}[(self.better, self.clinical_at_cutoff)]
        return f"clinical if {self.name} {op} {self.cutoff:g}"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _type_ok(kind: str, v: Any) -> bool:
    if kind == "text":
        return isinstance(v, str)
    if kind == "number":
        return _is_number(v) and not math.isnan(v)
    if kind == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "boolean":
        return isinstance(v, bool)
    if kind == "list of text":
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    if kind == "table of text":
        return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())
    if kind.startswith("list of {low"):
        return isinstance(v, list) and all(
            isinstance(b, dict) and set(b) == {"low", "high", "label"} and _is_number(b["low"])
            and _is_number(b["high"]) and isinstance(b["label"], str) for b in v)
    return isinstance(v, list) and all(  # critical items
        isinstance(c, dict) and set(c) == {"item", "description"}
        and isinstance(c["item"], int) and not isinstance(c["item"], bool)
        and isinstance(c["description"], str) for c in v)


def _check_types(name: str, spec: Any, origin: str) -> None:
    if not isinstance(spec, dict):
        raise ValueError(f"{origin}: {name!r} must be a table of fields ([{name}] followed by "
                         f"key = value lines), not a {type(spec).__name__} ({spec!r:.60})")
    known = set(_FIELD_TYPES)
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"{origin}: measure {name!r} has unknown field(s) {sorted(unknown)}; "
                         f"known fields are {sorted(known)}")
    for key, value in spec.items():
        kind = _FIELD_TYPES[key]
        if not _type_ok(kind, value):
            raise ValueError(f"{origin}: measure {name!r}, field {key!r} must be {kind}, not "
                             f"{type(value).__name__} {value!r:.60}")


def _measure_from_toml(name: str, spec: dict[str, Any], origin: str,
                       base: Measure | None = None) -> Measure:
    _check_types(name, spec, origin)
    spec = dict(spec)
    sources = dict(base.sources) if base else {}
    given_sources = spec.pop("sources", {})
    for key in spec:
        # a number given without a citation is attributed to the file that gave it, by name only:
        # the source is printed in reports, and a folder's path says where the service keeps data
        sources[key] = given_sources.get(key, f"set in the service's {Path(origin).name}")
    sources.update(given_sources)
    if "problems" in spec:
        spec["problems"] = tuple(spec["problems"])
    if "severity_bands" in spec:
        spec["severity_bands"] = tuple((b["low"], b["high"], b["label"]) for b in spec["severity_bands"])
    if "critical_items" in spec:
        spec["critical_items"] = tuple((c["item"], c["description"]) for c in spec["critical_items"])
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
    if m.kind not in ("questionnaire", "diary"):
        raise ValueError(f"{where}: kind must be 'questionnaire' or 'diary', not {m.kind!r}")
    for lo, hi, label in m.severity_bands:
        if not m.min <= lo <= hi <= m.max:
            raise ValueError(f"{where}: severity band {label!r} ({lo}-{hi}) must lie within "
                             f"{m.min}-{m.max} with low <= high")
    for (_, hi, a), (lo, _, b) in zip(m.severity_bands, m.severity_bands[1:], strict=False):
        if lo <= hi:
            raise ValueError(f"{where}: severity bands {a!r} and {b!r} overlap or are out of "
                             "order; list them lowest first")
    for item, _ in m.critical_items:
        if m.items is None or not 1 <= item <= m.items:
            raise ValueError(f"{where}: critical item {item} is not one of the measure's "
                             f"{m.items or 0} items")


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


MEASURES_ENV = "PROGRESS_KIT_MEASURES"
"""Environment variable naming a service's measures file. The command line sets it (from
``--measures`` or the data folder's ``measures.toml``) so that every process it starts, Jupyter
kernels included, reads the same registry."""


def measures_file(data_dir: str | Path | None = None, path: str | Path | None = None) -> Path | None:
    """The service's own measures file, or None when there is none.

    ``path`` when given (``--measures``); else the file named by :data:`MEASURES_ENV`; else
    ``measures.toml`` in ``data_dir`` when it exists there.

    Examples
    --------
    >>> measures_file("/no/such/folder") is None
    True
    """
    import os

    chosen = path if path is not None else os.environ.get(MEASURES_ENV) or None
    if chosen is not None:
        chosen = Path(chosen)
        if not chosen.is_file():
            raise FileNotFoundError(f"{chosen}: no such measures file")
        return chosen.resolve()
    if data_dir is not None and (Path(data_dir) / "measures.toml").is_file():
        return (Path(data_dir) / "measures.toml").resolve()
    return None


def use_measures(data_dir: str | Path | None = None, path: str | Path | None = None) -> Path | None:
    """Make the registry the built-in one plus the service's measures file, if there is one.

    The file is found by :func:`measures_file`. With a file, the registry is reset first, so
    that it holds exactly the built-in measures and that file whatever was loaded before; with
    none, the registry is left as it is. Returns the file used (or None).

    Examples
    --------
    >>> use_measures("/no/such/folder") is None
    True
    """
    chosen = measures_file(data_dir, path)
    if chosen is not None:
        saved = registry_state()
        reset_measures()
        try:
            load_measures(chosen)
        except BaseException:
            restore_registry(saved)  # a bad file leaves the registry as it was
            raise
    return chosen


def registry_state() -> dict[str, Measure]:
    """A copy of the registry, to hand to another process (:func:`restore_registry`)."""
    return dict(_REGISTRY)


def restore_registry(state: dict[str, Measure]) -> None:
    """Make the registry exactly ``state`` (from :func:`registry_state`)."""
    _REGISTRY.clear()
    _REGISTRY.update(state)


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
        row["severity_bands"] = "; ".join(f"{lo:g}-{hi:g} {label}" for lo, hi, label in m.severity_bands)
        row["critical_items"] = "; ".join(f"item {i}: {d}" for i, d in m.critical_items)
        for key in _NUMBER_FIELDS + ("max_missing_items", "severity_bands", "critical_items"):
            row[f"source_{key}"] = m.sources.get("range" if key in ("min", "max", "step") else key)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("name")
    for col in _NUMBER_FIELDS + ("item_min", "item_max"):
        table[col] = table[col].astype(float)
    return table


def severity_band(scores: Any, measure: str) -> np.ndarray:
    """The published severity band of each total score, e.g. ``"moderately severe"``.

    Parameters
    ----------
    scores : array-like of float
        Total scores on ``measure``.
    measure : str
        Registry name; its ``severity_bands`` give the bands (``low <= score <= high``).

    Returns
    -------
    ndarray of object
        One label per score; ``None`` where the score is missing, falls in no band, or the
        measure has no published bands (e.g. ORS, PCL-5).

    Notes
    -----
    Bands come from the registry with their source (``pk.measures()["source_severity_bands"]``):
    PHQ-9 after Kroenke, Spitzer & Williams (2001), GAD-7 after Spitzer et al. (2006), CORE-10
    after Barkham et al. (2013), WSAS after Mundt et al. (2002). Extend them with
    :func:`load_measures`.

    Examples
    --------
    >>> severity_band([3, 9, 10, 19, 27, float("nan")], "PHQ-9").tolist()
    ['minimal', 'mild', 'moderate', 'moderately severe', 'severe', None]
    >>> severity_band([30.5], "ORS").tolist()
    [None]
    """
    m = get_measure(measure)
    s = np.atleast_1d(np.asarray(scores, dtype=float))
    out = np.full(s.shape, None, dtype=object)
    if not m.severity_bands:
        return out
    lows = np.array([b[0] for b in m.severity_bands], dtype=float)
    highs = np.array([b[1] for b in m.severity_bands], dtype=float)
    labels = np.array([b[2] for b in m.severity_bands], dtype=object)
    idx = np.searchsorted(lows, s, side="right") - 1
    ok = (idx >= 0) & ~np.isnan(s)
    ok[ok] &= s[ok] <= highs[idx[ok]]
    out[ok] = labels[idx[ok]]
    return out


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


def primary_measure_for(problem: Any) -> tuple[str, str]:
    """The measure a client's progress is judged on, from their presenting problem, and why.

    NHS Talking Therapies pairs each anxiety disorder with a disorder-specific measure (the
    registry's ``problems``: social anxiety to SPIN, PTSD to PCL-5, generalised anxiety to
    GAD-7; Clark et al. 2018, Lancet 391:679, Table 2). A problem with such a measure (with a
    cut-off and a reliable-change threshold) is judged on it; depression, a problem with no
    registered measure, and a missing problem are judged on PHQ-9, and the reason says which.

    Returns
    -------
    (measure, reason)

    Examples
    --------
    >>> primary_measure_for("social_anxiety")
    ('SPIN', 'social anxiety: its problem-specific measure')
    >>> primary_measure_for("depression")
    ('PHQ-9', 'depression')
    >>> primary_measure_for(None)[1]
    'problem not recorded: PHQ-9 by default'
    >>> primary_measure_for("ptsd")[1]
    'ptsd: PCL-5 has no cut-off or reliable-change threshold in the registry, PHQ-9 by default'
    """
    if not isinstance(problem, str) or not problem.strip():
        return "PHQ-9", "problem not recorded: PHQ-9 by default"
    words = problem.replace("_", " ")
    if problem == "depression":
        return "PHQ-9", "depression"
    lacking = []
    for m in _REGISTRY.values():
        if problem in m.problems:
            if m.cutoff is not None and m.reliable_change:
                return m.name, f"{words}: its problem-specific measure"
            lacking.append(m.name)
    if lacking:  # e.g. PCL-5 without a reliable-change threshold: add one with load_measures
        return "PHQ-9", (f"{words}: {lacking[0]} has no cut-off or reliable-change threshold in "
                         "the registry, PHQ-9 by default")
    return "PHQ-9", f"{words}: no problem-specific measure in the registry, PHQ-9 by default"


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
