"""The report figures keep every label inside the figure when drawn the batch's way (a blank
made ahead, kept ticks, glyphs and text layouts: reports/_png.py): the worst cases of the
registry and of the demo clinics (3-digit ticks, the longest severity band names and legend
entries, a returning client's episodes, the cohort charts)."""

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk
from progress_kit.reports import _png as pp
from progress_kit.reports import notebook as rn
from progress_kit.reports import steps


def _texts(fig) -> list:
    """Every text a reader sees: titles, axis labels, drawn tick labels, legend entries, notes."""
    out = []
    for ax in fig.axes:
        out += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label,
                *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            out += [t.label1 for t in axis._update_ticks() if t.label1.get_visible()]
        if ax.get_legend() is not None:
            out += ax.get_legend().get_texts()
    return [t for t in out if t.get_visible() and t.get_text().strip()]


def _inside(fig) -> list[str]:
    """The texts of a drawn figure whose box is not inside the figure (1 px of tolerance)."""
    renderer = fig.canvas.get_renderer()
    w, h = fig.canvas.get_width_height(physical=True)
    return [t.get_text() for t in _texts(fig)
            if not (lambda b: b.x0 >= -1 and b.y0 >= -1 and b.x1 <= w + 1 and b.y1 <= h + 1)(
                t.get_window_extent(renderer))]


def _draw_twice(figsize, plot) -> list:
    """Draw ``plot`` on a new blank, then again on a blank made ahead (ticks made too)."""
    out = []
    for _ in range(2):
        fig, ax = pp.blank_axes(figsize, rn.FIG_DPI)
        plot(ax)
        pp.figure_png(fig)
        out.append(fig)
        pp.keep_blank_axes()
    return out


def _scores(measure: str, values) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.date_range("2026-03-02", periods=len(values), freq="7D"),
                         "score": np.asarray(values, float), "measure": measure})


@pytest.mark.parametrize("measure, values", [
    ("OQ-45", [172, 150, 141, 120, 118, 96, 80, 66, 61, 40, 38, 35, 20, 12]),  # 3-digit ticks
    ("CORE-10", [38, 33, 30, 24, 22, 19, 16, 14, 13, 9, 7]),  # the longest band names
    ("ORS", [12.4, 15.1, 19.8, 24.9, 30.2, 33.3, 39.9])])  # higher = better, decimals
def test_headline_and_trajectory_labels_stay_inside(measure, values):
    scores = _scores(measure, values).assign(session=range(len(values)))
    gains = pd.DataFrame({"type": ["gain"], "session": [2]})
    figures = [*_draw_twice((7.2, 2.6), lambda ax: pk.plot_headline(
                   scores, measure, gains=gains, ax=ax)),
               *_draw_twice((7.2, 1.8), lambda ax: pk.plot_trajectory(
                   scores[["date", "score"]], measure, ax=ax))]
    for fig in figures:
        assert _inside(fig) == []


@pytest.fixture(scope="module")
def episodes_clinic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("episodes")
    pk.demo_data(n_clients=60, months=6, seed=0, end="2026-11-30", episodes=True).write(folder)
    return rn.load_clinic(str(folder))


@pytest.mark.slow
def test_report_figures_of_the_demo_clinic_stay_inside(episodes_clinic):
    """C010, C023 and the returning client C029 of the episodes demo clinic, and the cohort
    charts (the internal Jacobson plot apart: below), each drawn as a report child draws it."""
    clinic, checked, clipped = episodes_clinic, set(), []
    parts = [steps.client_sections(rn.client_data(clinic, c, "2026-11"), clinic)
             for c in ("C010", "C023", "C029")]
    internal = steps.cohort_sections(clinic, "2026-11", audience="internal")
    internal["outcomes"] = [s for s in internal["outcomes"] if s.key != "jacobson"]
    parts += [internal, steps.cohort_sections(clinic, "2026-11", audience="publication")]
    for sec in _figures(parts):
        for fig in _draw_twice(sec.figsize, sec.plot):
            clipped += [(sec.key, text) for text in _inside(fig)]
        checked.add(sec.key)
    assert {"headline", "episodes", "diary", "trend", "recovery", "jacobson"} <= checked
    assert clipped == []


@pytest.mark.slow
def test_the_internal_jacobson_plot_stays_inside(episodes_clinic):
    """Its square box was shrunk about its centre after constrained layout placed it, which cut
    the y label and the legend's 'reliable-change boundary' at the figure's edges: the box now
    keeps its left edge (anchor W) and the section's figure is 4.3 in high, not 4.6."""
    internal = steps.cohort_sections(episodes_clinic, "2026-11", audience="internal")
    sec, = [s for s in internal["outcomes"] if s.key == "jacobson"]
    for fig in _draw_twice(sec.figsize, sec.plot):
        assert _inside(fig) == []


def _figures(parts):
    def flat(x):
        if isinstance(x, dict):
            for y in x.values():
                yield from flat(y)
        elif isinstance(x, list | tuple):
            for y in x:
                yield from flat(y)
        elif x is not None:
            yield x

    return list({id(s): s for s in flat(parts) if getattr(s, "plot", None)}.values())
