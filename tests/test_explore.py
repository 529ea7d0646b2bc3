"""pk.explore: the widget's state changes, driven as the clicks would drive them (no browser).

The browser test (tests/test_browser.py, ``make test-browser``) drives the same widget in
JupyterLab in Chromium.
"""

from __future__ import annotations

import html

import pandas as pd
import pytest

pytest.importorskip("ipywidgets")

import progress_kit as pk  # noqa: E402
from progress_kit.explorer import STATUS_ORDER, Explorer, explore  # noqa: E402


@pytest.fixture(scope="module")
def clinic():
    return pk.demo_data(n_clients=16, months=4, seed=3, end="2026-04-30")


@pytest.fixture(scope="module")
def flags(clinic):
    # the status as the reports compute it: each client on their problem's measure
    quest = clinic.observations[clinic.observations["measure"] != "mood"]
    quest = quest[quest["measure"].map(lambda m: pk.get_measure(m).kind) != "diary"]
    return pk.client_flags(quest, sessions=clinic.sessions, clients=clinic.clients,
                           items=clinic.items if len(clinic.items) else None,
                           as_of=max(clinic.observations["date"].max(),
                                     clinic.sessions["date"].max()))


@pytest.fixture(scope="module")
def _shared(clinic):
    return explore(clinic)


@pytest.fixture()
def ex(_shared):
    """One explorer for the module (each takes seconds to draw), back in its first state."""
    _shared.measure_picker.value = "PHQ-9"
    _shared.client_picker.value = _shared.clients[0]
    _shared.sort_by("status", ascending=True)
    _shared.tabs.selected_index = 0
    return _shared


def _two_clients_with_different_status(flags):
    first = flags.index[0]
    other = next(c for c in flags.index if flags.loc[c, "status"] != flags.loc[first, "status"])
    return first, other


def test_explore_returns_a_widget_with_both_views(ex):
    import ipywidgets

    assert isinstance(ex, Explorer) and isinstance(ex, ipywidgets.Widget)
    assert [ex.tabs.get_title(i) for i in range(2)] == ["Client", "Cohort"]
    assert ex.measure_picker.value == "PHQ-9" and "GAD-7" in ex.measure_picker.options
    assert ex.client_picker.value == ex.clients[0]
    assert bytes(ex.chart.value).startswith(b"\x89PNG") and bytes(ex.jacobson_chart.value)[:4] == b"\x89PNG"


def test_changing_the_client_redraws_chart_status_gains_and_diary(ex, flags):
    first, other = _two_clients_with_different_status(flags)
    ex.client_picker.value = first
    before = (ex.chart.value, ex.status.value, ex.diary_chart.value)
    assert f">{flags.loc[first, 'status']}<" in ex.status.value
    ex.client_picker.value = other
    assert ex.chart.value != before[0] and ex.diary_chart.value != before[2]
    assert f">{flags.loc[other, 'status']}<" in ex.status.value
    assert ex.status.value != before[1]
    # the reasons and the rules come from client_flags, not from the explorer
    reasons = flags.loc[other, "reasons"]
    if reasons:
        assert html.escape(reasons.split(";")[0]) in ex.status.value
    assert "Rules:" in ex.status.value
    assert "Sudden gains" in ex.gains.value


def test_client_view_shows_only_that_clients_data(ex, flags):
    first, other = _two_clients_with_different_status(flags)
    ex.client_picker.value = other
    assert other in ex.status.value and first not in ex.status.value
    assert first not in ex.gains.value and first not in ex.chart_note.value


def test_changing_the_measure_redraws_and_reflags(ex):
    ex.measure_picker.value = "PHQ-9"
    phq_chart, phq_jacobson = ex.chart.value, ex.jacobson_chart.value
    ex.measure_picker.value = "GAD-7"
    assert ex.chart.value != phq_chart and ex.jacobson_chart.value != phq_jacobson
    assert "GAD-7" in ex.jacobson_text.value
    # the status does not change with the chart's measure: it is the client's own status,
    # judged on their problem's measure, as in the reports (computed once)
    assert set(ex._flags) == {None}
    assert "judged on" in ex.status.value


def test_flags_table_sorts_by_status_then_any_column(ex, flags):
    order = ex.table_order
    ranks = [STATUS_ORDER[flags.loc[c, "status"]] for c in order]
    assert ranks == sorted(ranks), "most urgent first by default"
    assert ex.table.children[0].description.startswith("client")
    ex.sort_by("client_id")
    assert ex.table_order == sorted(flags.index)
    ex.sort_by("client_id")                        # a second click reverses
    assert ex.table_order == sorted(flags.index, reverse=True)
    assert ex.table.children[0].description.endswith("▼")
    ex.sort_by("latest_score", ascending=False)
    latest = [flags.loc[c, "latest_score"] for c in ex.table_order]
    present = [x for x in latest if pd.notna(x)]
    assert present == sorted(present, reverse=True)
    # the header button does what sort_by does
    status_header = ex.table.children[list(ex._header_buttons).index("status")]
    status_header.click()
    assert [STATUS_ORDER[flags.loc[c, "status"]] for c in ex.table_order] == sorted(ranks)
    with pytest.raises(ValueError, match="no column 'bogus'"):
        ex.sort_by("bogus")


def test_choosing_a_client_in_the_table_opens_the_client_view(ex, flags):
    ex.tabs.selected_index = 1
    target = ex.table_order[-1]
    button = ex._row_widgets[target][0]
    assert button.description == target
    button.click()
    assert ex.tabs.selected_index == 0 and ex.client_picker.value == target
    assert target in ex.status.value
    with pytest.raises(ValueError, match="no client 'nobody'"):
        ex.open_client("nobody")


def test_explore_a_data_folder(clinic, tmp_path):
    folder = clinic.write(tmp_path / "clinic")
    third = clinic.clients["client_id"].iloc[2]
    ex = explore(folder, measure="GAD-7", client=third)
    assert ex.measure_picker.value == "GAD-7" and ex.client_picker.value == third


def test_bad_input_is_a_clear_error(clinic, tmp_path):
    with pytest.raises(ValueError, match="ClinicData .* or a data-folder path, not int"):
        explore(42)
    with pytest.raises(ValueError, match="is not a data folder"):
        explore(tmp_path / "missing")
    with pytest.raises(ValueError, match="no 'CORE-10' scores in the data; there are PHQ-9, GAD-7"):
        explore(clinic, measure="CORE-10")
    with pytest.raises(ValueError, match="no client 'X'"):
        explore(clinic, client="X")


def test_widget_needs_no_network(ex):
    """Everything the widget shows is inline: PNG bytes and escaped HTML, no links or scripts."""
    texts = [ex.header.value, ex.status.value, ex.chart_note.value, ex.gains.value,
             ex.diary_text.value, ex.jacobson_text.value]
    assert not any("http" in t or "<script" in t for t in texts)


def test_a_chart_has_the_pixels_savefig_would_give():
    """The explorer draws a figure once (layout once, no second draw) and encodes the RGB pixels
    itself: the image must be what matplotlib's own savefig gives."""
    import io

    import numpy as np
    from matplotlib.figure import Figure
    from PIL import Image

    from progress_kit.explorer import _png

    def draw(ax):
        ax.plot([1, 2, 3, 4], [20, 14, 15, 9], marker="o")
        ax.axhspan(10, 15, alpha=0.2)
        ax.set_title("PHQ-9")
        ax.set_xlabel("session")

    fig = Figure(figsize=(7.2, 3.2), layout="constrained", dpi=96)
    draw(fig.add_subplot())
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    ours = np.asarray(Image.open(io.BytesIO(_png(draw, (7.2, 3.2)))).convert("RGB"))
    theirs = np.asarray(Image.open(buf).convert("RGB"))
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)


def test_going_back_to_a_measure_shows_what_was_drawn_for_it(ex):
    ex.measure_picker.value = "PHQ-9"
    rows, jacobson = ex._row_widgets, ex.jacobson_chart.value
    diary = ex.diary_chart.value
    ex.measure_picker.value = "GAD-7"
    # the flags table is the same for every measure (each client judged on their own problem's
    # measure): its rows are kept, not built again; the diary does not depend on the measure
    assert ex._row_widgets is rows and ex.diary_chart.value == diary
    assert ex.jacobson_chart.value != jacobson
    ex.measure_picker.value = "PHQ-9"
    assert ex._row_widgets is rows and ex.jacobson_chart.value == jacobson
    shown = [c for c in ex.table.children if c in {w for r in rows.values() for w in r}]
    assert len(shown) == 6 * min(len(rows), 200)


# ------------------------------------------------------------------ episodes of care (issue 26)
@pytest.fixture(scope="module")
def returning():
    clinic = pk.demo_data(n_clients=12, months=4, seed=3, end="2026-04-30", episodes=True)
    twice = clinic.clients.loc[clinic.clients["client_id"].duplicated(), "client_id"]
    return clinic, twice.iloc[0]


def test_a_returning_client_gets_an_episode_picker_on_the_current_episode(returning):
    clinic, cid = returning
    ex = explore(clinic, client=cid)
    eps = clinic.clients[clinic.clients["client_id"] == cid].sort_values("start_date")
    assert [v for _, v in ex.episode_picker.options] == eps["episode_id"].tolist() == ["1", "2"]
    assert ex.episode_picker.value == "2" and ex.episode_picker.layout.display is None
    assert ex.episode_picker.options[1][0].startswith("2 (current): ")
    assert bytes(ex.episodes_chart.value).startswith(b"\x89PNG")
    # the status is client_flags' judgement of the current episode, reasons and all
    quest = clinic.observations[clinic.observations["measure"].isin(ex.measures)]
    flags = pk.client_flags(quest, sessions=clinic.sessions, clients=clinic.clients,
                            as_of=ex.as_of)
    assert html.escape(flags.loc[cid, "reasons"].split(";")[0]) in ex.status.value
    assert "second episode: the first ended" in ex.status.value
    first = clinic.observations[(clinic.observations["client_id"] == cid)
                                & (clinic.observations["measure"] == "PHQ-9")]
    current = first[first["episode_id"] == "2"]
    assert f"first {current['score'].iloc[0]:g}," in ex.chart_note.value
    now_chart, long_term = ex.chart.value, ex.episodes_chart.value

    # the earlier episode, as it stood at its end; the long-term chart stays as it was
    ex.episode_picker.value = "1"
    assert ex.episodes_chart.value == long_term
    earlier = first[first["episode_id"] == "1"]
    assert f"first {earlier['score'].iloc[0]:g}, latest {earlier['score'].iloc[-1]:g}" in \
        ex.chart_note.value
    end = eps["end_date"].iloc[0]
    assert f"as it stood at its end, {end:%d %b %Y}" in ex.status.value
    then = pk.client_flags(quest, sessions=clinic.sessions, clients=clinic.clients, as_of=end)
    assert then.loc[cid, "episode_id"] == "1"
    assert f">{then.loc[cid, 'status']}<" in ex.status.value
    assert ex.chart.value != now_chart
    assert pd.Timestamp(end) in ex._flags

    # another client: the picker goes to their current episode, or hides for a single one
    single = next(c for c in ex.clients if (clinic.clients["client_id"] == c).sum() == 1)
    ex.client_picker.value = single
    assert ex.episode_picker.layout.display == "none"
    assert ex.episodes_chart.layout.display == "none" and bytes(ex.episodes_chart.value) == b""
    ex.client_picker.value = cid
    assert ex.episode_picker.value == "2" and "second episode" in ex.status.value


def test_without_episodes_the_picker_stays_hidden(ex):
    assert ex.episode_picker.layout.display == "none" and ex.episode_picker.options == ()
