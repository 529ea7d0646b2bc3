"""Charts: each returns an Axes, draws on a given one, shows gaps as gaps, and survives greyscale."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import progress_kit as pk

matplotlib.use("Agg")


def _ax():
    return Figure().add_subplot()


@pytest.fixture
def scores():
    return pd.DataFrame({"date": pd.to_datetime(["2026-08-03", "2026-08-10", "2026-08-17",
                                                 "2026-10-05", "2026-10-12"]),
                         "score": [20.0, 18, 15, 11, 8]})


def test_trajectory_cutoff_band_and_gap(scores):
    ax = _ax()
    assert pk.plot_trajectory(scores, "PHQ-9", ax=ax) is ax
    lines = [ln for ln in ax.get_lines() if ln.get_label() != "_nolegend_"]
    score_lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1 and ln.get_marker() == "o"]
    assert len(score_lines) == 2, "the seven-week pause breaks the line"
    labels = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "clinical cut-off (PHQ-9 ≥ 10)" in labels
    assert "no reliable change from first score (±6)" in labels
    assert any(ln.get_linestyle() == "--" for ln in lines)  # cut-off differs by style, not colour
    assert ax.get_ylim()[0] < 0 < 27 < ax.get_ylim()[1] < 28


def test_trajectory_new_axes_and_one_score():
    ax = pk.plot_trajectory(pd.DataFrame({"date": [pd.Timestamp("2026-10-01")], "score": [12.0]}),
                            "GAD-7")
    assert ax.figure is not None and ax.get_ylabel() == "GAD-7 score"


def test_daily_trend_leaves_missing_days_blank():
    days = pd.date_range("2026-10-18", periods=14)
    mood = np.r_[5, 6, np.nan, np.nan, 7, 6, 5, 6, 7, 8, np.nan, 6, 7, 7.0]
    d = pd.DataFrame({"date": days, "mood": mood, "homework": np.r_[[2.0] * 10, [np.nan] * 4]})
    ax = pk.plot_daily_trend(d, ax=_ax())
    mood_line = [ln for ln in ax.get_lines() if ln.get_label().startswith("mood")][0]
    y = np.asarray(mood_line.get_ydata(), dtype=float)
    assert np.isnan(y).sum() == 3 and len(y) == 14
    markers = {ln.get_marker() for ln in ax.get_lines() if ln.get_label() in ("mood (1-10)",
                                                                             "homework done (0-5)")}
    assert len(markers) == 2


def test_jacobson_suppresses_small_counts_in_legend():
    r = pd.DataFrame({"pre": [18.0, 15, 20, 16, 14, 19, 22], "post": [8.0, 16, 9, 7, 6, 5, 21],
                      "category": ["recovered"] * 6 + ["unchanged"]})
    ax = pk.plot_jacobson(r, measure="PHQ-9", ax=_ax(), suppress_below=5)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "recovered (6)" in labels and "unchanged (<5)" in labels
    assert ax.get_xlabel() == "first PHQ-9 score"


def test_lag_and_tunnel_return_axes():
    p = pd.DataFrame({"x_within": [-1.0, 0, 1, 1], "y_within": [-0.5, 0, 0.5, 0.5]})
    ax = pk.plot_lag(p, estimate=0.5, ax=_ax())
    assert "estimated effect (+0.50 per point)" in [t.get_text() for t in ax.get_legend().get_texts()]
    t = pd.DataFrame({"session": [1, 2, 3], "score": [18.0, 16, 15], "expected": [18.0, 15, 13],
                      "lower": [14.0, 11, 9], "upper": [22.0, 19, 17],
                      "signal": ["on track", "on track", "not on track"]})
    ax = pk.plot_tunnel(t, measure="PHQ-9")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "expected range (outer band)" in labels and "not on track" in labels


def test_palette_is_colour_blind_safe_okabe_ito():
    assert pk.CLINICAL_COLOURS["vermillion"] == "#D55E00"
    assert pk.CLINICAL_COLOURS["blue"] == "#0072B2"


def test_long_term_chart_of_a_returning_client():
    import matplotlib.dates as mdates

    d = pd.DataFrame({"episode_id": ["E1"] * 4 + ["E2"] * 5,
                      "date": pd.to_datetime(["2024-02-05", "2024-02-12", "2024-02-19",
                                              "2024-02-26", "2025-03-03", "2025-03-10",
                                              "2025-03-17", "2025-05-05", "2025-05-12"]),
                      "score": [19.0, 14, 10, 7, 17, 15, 14, 11, 9]})
    episodes = pd.DataFrame({"episode_id": ["E2", "E1"],
                             "start_date": pd.to_datetime(["2025-02-24", "2024-02-05"]),
                             "end_date": pd.to_datetime([None, "2024-03-04"])})
    ax = _ax()
    assert pk.plot_episodes(d, "PHQ-9", episodes=episodes, ax=ax) is ax
    drawn = [ln for ln in ax.get_lines() if ln.get_label().startswith("_episode")]
    # no line reaches across the year between the episodes, nor across the seven weeks
    # without a score inside the second one: E1 one piece, E2 two
    assert sorted(len(ln.get_xdata()) for ln in drawn) == [2, 3, 4]
    for ln in drawn:
        x = pd.to_datetime(pd.Series(ln.get_xdata()))
        assert x.dt.year.nunique() == 1 and (x.diff().dt.days.dropna() <= 14).all()
    # the earlier episode faint and in a colour of its own, the current one bold black
    first = [ln for ln in drawn if ln.get_label().startswith("_episode 1")]
    now = [ln for ln in drawn if ln.get_label().startswith("_episode 2")]
    assert all(ln.get_alpha() < 0.5 for ln in first) and all(ln.get_alpha() == 1 for ln in now)
    assert {ln.get_color() for ln in now} == {"#000000"}
    assert {ln.get_color() for ln in first} != {"#000000"}
    assert first[0].get_marker() != now[0].get_marker()  # greyscale: markers differ too
    # the current episode's start (the clients table's, not its first score) is marked
    (start,) = [ln for ln in ax.get_lines() if ln.get_label() == "current episode began"]
    assert pd.Timestamp(start.get_xdata()[0]) == pd.Timestamp("2025-02-24")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["episode 1: Feb 2024 to Mar 2024", "episode 2 (current): from Feb 2025"]
    lo, hi = ax.get_xlim()
    assert mdates.num2date(lo).year == 2024 and mdates.num2date(hi).year == 2025


@pytest.mark.parametrize("plot", ["trajectory", "headline"])
def test_a_title_does_not_collide_with_the_direction_note(plot):
    """Untitled (as in the reports), which way is worse sits above the axes' top right; with a
    title, which it could overlap, it moves into the y label, and a title longer than the
    figure wraps instead of being cut at its edge."""
    import matplotlib

    matplotlib.use("Agg")
    d = pd.DataFrame({"date": pd.to_datetime(["2026-01-05", "2026-01-12", "2026-03-02"]),
                      "score": [18.0, 15, 9]})

    def draw(title=None):
        if plot == "trajectory":
            return pk.plot_trajectory(d, "PHQ-9", title=title)
        course = d.assign(session=[0, 1, 8])
        return pk.plot_headline(course, "PHQ-9", title=title)

    plain = draw()
    assert "higher = worse" in [t.get_text() for t in plain.texts]
    assert plain.get_ylabel() == "PHQ-9 score"
    long = "Client C010: PHQ-9 scores since the start of the second episode of care, by week"
    titled = draw(long)
    assert "higher = worse" not in [t.get_text() for t in titled.texts]
    assert titled.get_ylabel() == "PHQ-9 score (higher = worse)"
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = titled.figure
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    extent = titled._left_title.get_window_extent(canvas.get_renderer())
    assert fig.bbox.x0 <= extent.x0 and extent.x1 <= fig.bbox.x1  # wrapped inside the figure


def test_the_direction_note_is_not_repeated_and_avoids_any_title():
    """Drawn again on the same axes, untitled then titled, the note is shown once; a title the
    caller set in the centre or on the right also moves it into the y label."""
    import matplotlib

    matplotlib.use("Agg")
    d = pd.DataFrame({"date": pd.to_datetime(["2026-01-05", "2026-01-12"]), "score": [18.0, 15]})
    ax = pk.plot_trajectory(d, "PHQ-9")
    pk.plot_trajectory(d, "PHQ-9", ax=ax)
    assert [t.get_text() for t in ax.texts].count("higher = worse") == 1
    pk.plot_trajectory(d, "PHQ-9", ax=ax, title="Client C010")
    assert "higher = worse" not in [t.get_text() for t in ax.texts]
    assert ax.get_ylabel() == "PHQ-9 score (higher = worse)"
    for loc in ("center", "right"):
        ax = pk.plot_trajectory(d, "GAD-7", ax=_titled(loc))
        assert "higher = worse" not in [t.get_text() for t in ax.texts], loc
        assert ax.get_ylabel() == "GAD-7 score (higher = worse)", loc


def _titled(loc: str):
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    ax.set_title("the caller's own title", loc=loc)
    return ax
