"""Shared parts of the report sections: each section is a small function that returns a :class:`Section`.

A section is computed by library code and only displayed by the notebooks. Its ``status`` says
whether it holds a result (``ok``), whether the client's data are too few to compute it
(``insufficient``: said plainly), or whether the statistic is not part of this version of the
kit (``unavailable``). Numbers are never made up: an unavailable statistic shows a note.

Every section that labels something carries ``method``: which method and thresholds produced the
label, for the report's methods footnote.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...data import ClinicData
from ...measures import get_measure
from ..wording import words

__all__ = ["Section", "MIN_DIARY_DAYS", "UNAVAILABLE", "methods"]

MIN_DIARY_DAYS = 14
"""Fewest days (pairs) before a within-person correlation or lagged effect is shown."""
UNAVAILABLE = "Not available in this version of progress-kit."


def _stat(name: str) -> Callable | None:
    """A statistics function of the kit, or None when this version does not have it yet."""
    import progress_kit

    fn = getattr(progress_kit, name, None)
    # a submodule of the same name (e.g. progress_kit.sudden_gains) is not the function
    return fn if callable(fn) else None


@dataclass
class Section:
    """One part of a report: a message, an optional table and figure, and the method used."""

    key: str
    title: str
    status: str = "ok"
    message: str = ""
    table: pd.DataFrame | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    method: str = ""
    plot: Callable | None = None
    figsize: tuple[float, float] = (7.2, 3.0)
    header: bool = True  # show the table's column names
    lines: list[str] | None = None  # shown as a bulleted list under the message
    kind = "section"  # which macro shows it: "section", "status" (the box), "small_print"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_html(self, level: int = 3, figure: str = "") -> str:
        """The section as HTML, by the template's macros (``figure``: an embedded image's HTML)."""
        from ..macros import section_html

        return section_html(self, level, figure)

    def _repr_html_(self) -> str:
        return self.to_html()


def _w(key: str, /, **fields) -> str:
    """The phrase ``key`` of the wording in use, its named fields filled in."""
    return words()(key, **fields)


def _unavailable(key: str, title: str, what: str) -> Section:
    return Section(key, title, "unavailable", _w("common.unavailable", what=what))


def _fmt_day(ts) -> str:
    return "–" if pd.isna(ts) else pd.Timestamp(ts).strftime("%d %b %Y")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    """``1 session``, ``2 sessions``, ``0 sessions``: ``unit.session`` or ``unit.sessions`` of the
    wording in use (spaces in ``word`` as ``_``), else ``word`` (or ``plural``, default
    ``word + "s"``) after the number.

    Examples
    --------
    >>> _plural(1, "session"), _plural(3, "loss", "losses"), _plural(2, "sudden gain")
    ('1 session', '3 losses', '2 sudden gains')
    """
    name = word if n == 1 else (plural or word + "s")
    pattern = words().phrases.get("unit." + name.replace(" ", "_"))
    return pattern.format(n=n) if pattern is not None else f"{n} {name}"


def _num(x: float, digits: int = 0) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _threshold_change(fn: Callable, scores: pd.DataFrame, measure: str) -> pd.DataFrame:
    """clinical_significance by the published threshold (the method of NHS Talking Therapies)."""
    with warnings.catch_warnings():
        # with a single client the sample SD that the other RCI methods need is undefined and
        # numpy warns while computing it; the threshold method does not use it
        warnings.filterwarnings("ignore", "Degrees of freedom <= 0", RuntimeWarning)
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        return fn(scores, measure=measure, method="threshold")


def _plot(name: str, *args, **kwargs):
    import progress_kit.plots as plots

    return getattr(plots, name)(*args, **kwargs)


_SHARED: dict[tuple, tuple[tuple, tuple, Any]] = {}
_SHARED_MAX = 16


def shared(name: str, frames: tuple, args: tuple, compute: Callable[[], Any],
           store: dict | None = None) -> Any:
    """``compute()``, kept for the same ``frames`` (by identity) and ``args``.

    For results that a report derives from a whole clinic rather than from its own client (the
    expected-response model, the service-wide ``client_flags``): every client report of a batch
    would otherwise compute them again from the same data. The batch's fork server computes them
    once in its warm worker (:func:`progress_kit.reports.notebook.prepare_batch`), so each
    report's process starts with them. A report takes only its own client's row from them.

    An entry holds the frames it was computed from, so their identity cannot be reused by other
    frames while it lives; it is used only while ``frames`` are the very same objects and none of
    their columns was written since (the cohort statistics' check,
    :func:`progress_kit._cohort.unchanged`: an in-place edit in an interactive session computes
    again). At most ``_SHARED_MAX`` entries are kept (the oldest goes first).

    ``store``: where to keep the entry instead of the process-wide cache, e.g. one report's
    :attr:`~progress_kit.reports.context.ReportData.derived` for results from its own client's
    rows, which would otherwise push the whole-clinic results out.
    """
    from ..._cohort import copy_on_write

    if not copy_on_write():  # an in-place edit could not be told: keep nothing (pandas 2)
        return compute()
    store = _SHARED if store is None else store
    key = (name, tuple(map(id, frames)), args)
    hit = _kept(store, key, frames)
    if hit is not None:
        return hit[0]
    value = compute()
    _keep(store, key, frames, value)
    return value


def _kept(store: dict, key: tuple, frames: tuple, columns=None) -> tuple[Any] | None:
    """``(value,)`` kept under ``key`` while ``frames`` are the very ones it was kept for and
    none of their columns (all, or ``columns``) was written since; else None."""
    from ..._cohort import unchanged

    hit = store.get(key)
    if hit is not None and all(a is b and (b is None or unchanged(h, b, columns))
                               for a, h, b in zip(hit[0], hit[1], frames, strict=True)):
        return (hit[2],)
    return None


def _keep(store: dict, key: tuple, frames: tuple, value: Any, columns=None) -> None:
    """Keep ``value`` under ``key`` with ``frames`` and their columns (all, or ``columns``) held
    (:func:`_kept`); at most ``_SHARED_MAX`` entries, the oldest going first."""
    from ..._cohort import hold_columns

    while len(store) >= _SHARED_MAX:
        store.pop(next(iter(store)))
    store[key] = (frames, tuple(None if f is None else hold_columns(f, columns) for f in frames),
                  value)


_ROW_TABLES = ("observations", "sessions", "clients", "problems", "items")


def _row_frames(clinic: ClinicData) -> tuple:
    return tuple(getattr(clinic, name, None) for name in _ROW_TABLES)


def index_client_rows(clinic: ClinicData) -> None:
    """Index the rows of each of ``clinic``'s tables by client, once for every client (one
    grouping per table, no loop over clients), for :func:`client_rows`.

    Kept with the whole-clinic results (:data:`_SHARED`, so that a report's process forgets it
    with them) for this very clinic while each table's ``client_id`` column is the one indexed
    (the positions depend on nothing else). A batch's warm process calls this through
    :func:`progress_kit.reports.notebook.prepare_batch`.
    """
    from ..._cohort import copy_on_write

    if not copy_on_write():  # an in-place edit could not be told: keep nothing (pandas 2)
        return
    frames = _row_frames(clinic)
    index = {name: frame.groupby("client_id", sort=False, observed=True).indices
             for name, frame in zip(_ROW_TABLES, frames, strict=True)
             if frame is not None and "client_id" in frame.columns}
    _keep(_SHARED, ("client_rows", tuple(map(id, frames)), ()), frames, index, ["client_id"])


def client_rows(clinic: ClinicData) -> dict[str, dict] | None:
    """The index :func:`index_client_rows` made of ``clinic``'s tables: for each table, each
    client's row positions in the table's order; None without one, or when a table or its
    ``client_id`` column is not the one indexed (a caller then selects a client's rows by a
    comparison over the whole table)."""
    frames = _row_frames(clinic)
    hit = _kept(_SHARED, ("client_rows", tuple(map(id, frames)), ()), frames, ["client_id"])
    return None if hit is None else hit[0]


def _expected(reference: ClinicData, measure: str):
    """The expected-response model from reference data, or the reason it cannot be built."""
    def compute():
        try:
            return _stat("expected_response")(reference.observations, measure=measure), ""
        except ValueError as exc:
            return None, str(exc)
    return shared("expected_response", (reference.observations,), (measure,), compute)


def _tunnel_method(expected) -> str:
    return (f"On-track signal: expected recovery curve after Finch, Lambert & Schaalje (2001), "
            f"log-linear in session number and conditioned on the intake score, learned from "
            f"{expected.n_clients} reference clients; 'at risk' beyond the {expected.inner:.0%} "
            f"and 'not on track' beyond the {expected.outer:.0%} band of the reference "
            f"residuals, in the worse direction. A prompt to review, not a verdict.")


def methods(sections: list[Section]) -> Section:
    """The methods footnote: which method and thresholds produced each label."""
    rows = [line for s in sections if s.method for line in s.method.split("\n")]
    measures_used = {s.facts["measure"] for s in sections if "measure" in s.facts}
    for name in sorted(measures_used):
        m = get_measure(name)
        bits = [m.describe_cutoff()]
        if m.reliable_change:
            bits.append(_w("common.reliable_change", points=m.reliable_change))
        src = m.sources.get("cutoff") or m.sources.get("reliable_change")
        rows.append(_w("common.measure_line", measure=name, details="; ".join(bits),
                       source=_w("common.source", source=src) if src else ""))
    rows.append(_w("common.diary_days", days=MIN_DIARY_DAYS))
    sec = Section("methods", "")  # sits under the notebook's own "Methods" heading
    sec.table = pd.DataFrame({_w("common.methods_header"): rows})
    return sec


