"""An interactive explorer for JupyterLab: ``pk.explore(data)``.

``import progress_kit`` does not import this module (nor ipywidgets): ``pk.explore`` loads it on
first use.

One widget with two views of a clinic:

* **Client**: pick a client and a questionnaire; the client report's headline chart, redrawn with
  the report's own section and plot functions; the status and its reasons from
  :func:`progress_kit.client_flags`; sudden gains; and the diary (last two weeks, gaps as gaps).
  For a returning client (episodes of care) an episode picker, on the current episode by
  default: an earlier episode is shown as it stood at its end, and the long-term chart of
  every episode is drawn under the status.
* **Cohort**: the Jacobson plot of the questionnaire and the flags table of every client,
  sortable by any column; choosing a client there opens it in the client view.

It is built from ipywidgets only (no other JavaScript, nothing fetched from the network): the
charts are PNG images drawn by matplotlib in the kernel. The explorer is an internal tool, like
the client and cohort reports: it shows the service's own clients by ID, so keep notebooks that
hold its output under the same rules as ``reports/``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from .data import EPISODE, ClinicData, load_data
from .measures import get_measure

__all__ = ["explore", "Explorer"]

STATUS_ORDER = {"alert": 0, "watch": 1, "on track": 2, "no flags": 3, "insufficient data": 4}
"""Most urgent first: the default order of the flags table."""
_STATUS_COLOUR = {"alert": "#D55E00", "watch": "#E69F00", "on track": "#009E73", "no flags": "#33658A",
                  "insufficient data": "#7F7F7F"}
MAX_ROWS = 200
"""Rows the cohort table shows at once (a widget per cell; more would make the page slow)."""
_COLUMNS = {"client_id": ("client", "90px"), "status": ("status", "110px"),
            "latest_score": ("latest", "60px"), "severity": ("severity", "130px"),
            "n_scores": ("scores", "55px"), "reasons": ("reasons", "1fr")}


def _client_flags(observations: pd.DataFrame, **kwargs) -> pd.DataFrame:
    from .flags import client_flags  # layer 3: the one place the status rules live

    return client_flags(observations, **kwargs)


def _png(draw: Callable[[Any], Any], figsize: tuple[float, float]) -> bytes:
    """Draw on a fresh Axes and return the PNG (a bare Figure: no pyplot state, no inline echo).

    As the reports draw their figures (``reports.notebook._figure_png``): constrained layout
    runs once and the figure is drawn once (``savefig`` does both twice), and the opaque RGB
    pixels go to the kit's own PNG encoder: about half the time of a redraw.
    """
    from matplotlib.figure import Figure

    from .reports._png import figure_png

    fig = Figure(figsize=figsize, layout="constrained", dpi=96, facecolor="white")
    draw(fig.add_subplot())
    return figure_png(fig)


def _as_clinic(data: ClinicData | str | Path) -> ClinicData:
    if isinstance(data, ClinicData):
        return data
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_dir():
            raise ValueError(f"pk.explore: {str(path)!r} is not a data folder (expected a folder "
                             "with observations, clients and sessions tables, e.g. data/demo)")
        return load_data(path, errors="report")
    raise ValueError(f"pk.explore takes a ClinicData (pk.load_data, pk.demo_data) or a data-folder "
                     f"path, not {type(data).__name__}")


def _questionnaires(obs: pd.DataFrame) -> list[str]:
    """Questionnaire measures in the data, PHQ-9 and GAD-7 first (the diary is its own panel)."""
    present = [m for m in pd.unique(obs["measure"]) if get_measure(m).kind != "diary"]
    return [m for m in ("PHQ-9", "GAD-7") if m in present] + sorted(
        m for m in present if m not in ("PHQ-9", "GAD-7"))


def _section_html(sec) -> str:
    """A report section's words and table (no figure), escaped, with its method in small print."""
    body = sec.to_html(level=4)
    if sec.method:
        body += f'<p style="font-size:85%;line-height:1.3;color:#444">Method: {html.escape(sec.method)}</p>'
    return f'<div style="line-height:1.4">{body}</div>'  # the widget's own line height is a row


def _sort_key(column: str) -> Callable[[pd.Series], pd.Series]:
    if column == "status":
        return lambda s: s.map(STATUS_ORDER).fillna(len(STATUS_ORDER))
    return lambda s: s.astype("string").str.lower() if s.dtype == object or str(s.dtype) == "string" \
        else s


class Explorer(w.VBox):
    """The widget that :func:`explore` returns (an ipywidgets ``VBox``).

    The pickers and panels are public attributes, so a notebook (or a test) can drive it:
    ``client_picker``, ``measure_picker``, ``tabs`` (0 client view, 1 cohort view), ``chart``
    (PNG), ``status``, ``gains``, ``diary_text``, ``diary_chart``, ``jacobson_chart``,
    ``table``; ``episode_picker`` (shown for a returning client only; its value is an
    ``episode_id``) and ``episodes_chart`` (the long-term chart); :meth:`open_client` and
    :meth:`sort_by` do what the clicks do.
    """

    def __init__(self, clinic: ClinicData, *, measure: str | None = None, client: str | None = None):
        super().__init__()
        from .reports.context import client_data  # layer 4, below this interface
        from .reports.sections import client as client_sections
        from .reports.sections import cohort as cohort_sections

        self._client_data, self._cs, self._cohort = client_data, client_sections, cohort_sections
        self.clinic = clinic
        self._cohort_ctx: Any = None
        obs = clinic.observations
        if obs.empty:
            raise ValueError("pk.explore: the data hold no observations")
        self.measures = _questionnaires(obs)
        if not self.measures:
            raise ValueError("pk.explore: the data hold no questionnaire scores (only diary entries)")
        measure = measure or self.measures[0]
        if measure not in self.measures:
            raise ValueError(f"pk.explore: no {measure!r} scores in the data; there are "
                             f"{', '.join(self.measures)}")
        # everything is shown as at the last day with data; the report month is that day's month
        self.as_of = pd.Timestamp(max(obs["date"].max(), clinic.sessions["date"].max()
                                      if len(clinic.sessions) else obs["date"].max()))
        self.month = self.as_of.strftime("%Y-%m")
        ids = pd.Index(clinic.clients["client_id"]).union(pd.Index(pd.unique(obs["client_id"])))
        self.clients = [str(c) for c in ids.sort_values()]
        if client is not None and client not in self.clients:
            raise ValueError(f"pk.explore: no client {client!r} in the data")
        self._flags: dict[str, pd.DataFrame] = {}
        self.sort_column, self.ascending = "status", True

        self.client_picker = w.Dropdown(options=self.clients, value=client or self.clients[0],
                                        description="Client")
        self.client_picker.add_class("pk-client-picker")
        self.measure_picker = w.Dropdown(options=self.measures, value=measure, description="Measure")
        self.measure_picker.add_class("pk-measure-picker")
        # episodes of care: the client's episodes, the current one chosen (hidden for a client
        # with one episode)
        self.episode_picker = w.Dropdown(options=[], description="Episode")
        self.episode_picker.add_class("pk-episode-picker")
        self.episodes_chart = w.Image(format="png").add_class("pk-episodes-chart")
        self._setting_episodes = False
        self._long_term: dict[tuple[str, str], bytes | None] = {}  # (client, measure): PNG
        self.status = w.HTML().add_class("pk-status")
        self.chart = w.Image(format="png").add_class("pk-chart")
        self.chart_note = w.HTML()
        self.gains = w.HTML().add_class("pk-gains")
        self.diary_text = w.HTML().add_class("pk-diary")
        self.diary_chart = w.Image(format="png").add_class("pk-diary-chart")
        client_view = w.VBox([self.status, self.episodes_chart, self.chart_note, self.chart,
                              self.gains,
                              w.HTML("<h4>Diary</h4>"), self.diary_text, self.diary_chart])

        self.jacobson_text = w.HTML()
        self.jacobson_chart = w.Image(format="png").add_class("pk-jacobson")
        self.table_note = w.HTML()
        self.table = w.GridBox(layout=w.Layout(
            grid_template_columns=" ".join(width for _, width in _COLUMNS.values()),
            grid_gap="2px 8px", align_items="center")).add_class("pk-flags-table")
        cohort_view = w.VBox([self.jacobson_text, self.jacobson_chart,
                              w.HTML("<h4>Flags (click a column to sort, a client to open it)</h4>"),
                              self.table_note, self.table])

        self.tabs = w.Tab(children=[client_view, cohort_view])
        self.tabs.set_title(0, "Client")
        self.tabs.set_title(1, "Cohort")
        self.header = w.HTML()
        self.children = [self.header, w.HBox([self.client_picker, self.measure_picker,
                                              self.episode_picker]), self.tabs]
        self.add_class("pk-explorer")
        self._row_widgets: dict[str, list] = {}
        self._header_buttons: dict[str, Any] = {}
        self._table_rows: tuple[dict[str, list], pd.DataFrame] | None = None  # built once
        self._jacobson: dict[str, tuple[str, bytes | None]] = {}  # per measure: text and PNG
        self._diary: dict[str, tuple[str, bytes | None]] = {}  # per client: text and PNG

        self.client_picker.observe(lambda _: self._new_client(), names="value")
        self.measure_picker.observe(lambda _: self._draw_all(), names="value")
        self.episode_picker.observe(lambda _: None if self._setting_episodes
                                    else self._draw_client(), names="value")
        self._set_episodes()
        self._draw_all()

    # ------------------------------------------------------------------ state

    def flags(self, measure: str | None = None, as_of: pd.Timestamp | None = None
              ) -> pd.DataFrame:
        """``client_flags`` as the reports compute it: each client judged on their problem's
        measure (the clients table), every questionnaire able to raise an alert. Computed once;
        ``measure`` is accepted for compatibility and does not change the status, so the
        explorer never contradicts a report. ``as_of`` (an earlier episode's end) gives the
        status as it stood then, also computed once."""
        key = None if as_of is None else pd.Timestamp(as_of)
        if key not in self._flags:
            items = getattr(self.clinic, "items", None)
            kwargs = {"items": items} if items is not None and len(items) else {}
            obs = self.clinic.observations
            quest = obs[obs["measure"].isin(self.measures)]
            self._flags[key] = _client_flags(quest, sessions=self.clinic.sessions,
                                             clients=self.clinic.clients,
                                             as_of=self.as_of if key is None else key, **kwargs)
        return self._flags[key]

    def episodes(self, client_id: str) -> pd.DataFrame:
        """The client's episodes of care up to the data's last day, in order (``episode_id``,
        ``start_date``, ``end_date``, ``status``, ``number``); empty without episodes."""
        cl = self.clinic.clients
        if EPISODE not in cl.columns:
            return pd.DataFrame(columns=[EPISODE, "start_date", "end_date", "status", "number"])
        from .reports.context import _episodes_until

        return _episodes_until(cl[cl["client_id"] == client_id], self.as_of)

    def open_client(self, client_id: str) -> None:
        """Show ``client_id`` in the client view (what clicking a client in the table does)."""
        if client_id not in self.clients:
            raise ValueError(f"no client {client_id!r} in the data")
        self.client_picker.value = client_id
        self.tabs.selected_index = 0

    def sort_by(self, column: str, ascending: bool | None = None) -> None:
        """Sort the flags table (what clicking a header does: a second click reverses)."""
        if column not in _COLUMNS:
            raise ValueError(f"the flags table has no column {column!r}; "
                             f"sort by one of {', '.join(_COLUMNS)}")
        if ascending is None:
            ascending = not self.ascending if column == self.sort_column else True
        self.sort_column, self.ascending = column, ascending
        self._arrange_table()

    @property
    def table_order(self) -> list[str]:
        """Client IDs in the order the flags table shows them."""
        return list(self._order)

    # ------------------------------------------------------------------ drawing

    def _draw_all(self) -> None:
        m = self.measure_picker.value
        flags = self.flags(m)
        counts = flags["status"].value_counts()
        summary = ", ".join(f"{int(counts[s])} {s}" for s in STATUS_ORDER if s in counts)
        self.header.value = (f"<b>{len(self.clients)} clients</b>, data up to "
                             f"{self.as_of:%d %b %Y}. Status, each on their problem's measure: "
                             f"{html.escape(summary)}. Charts: {html.escape(m)}.")
        self._draw_client()
        self._draw_cohort()

    def _new_client(self) -> None:
        self._set_episodes()
        self._draw_client()

    def _set_episodes(self) -> None:
        """The episode picker for the chosen client: every episode, the current one chosen;
        shown only when there is more than one."""
        eps = self.episodes(self.client_picker.value)
        last = len(eps) - 1

        def label(k: int, e: pd.Series) -> str:
            end = ("" if k == last and pd.isna(e["end_date"]) else
                   f" to {e['end_date']:%d %b %Y}" if pd.notna(e["end_date"]) else "")
            return (f"{int(e['number'])}{' (current)' if k == last else ''}: "
                    f"{'from ' if not end else ''}{e['start_date']:%d %b %Y}{end}")

        self._setting_episodes = True
        try:
            self.episode_picker.options = [(label(k, e), str(e[EPISODE]))
                                           for k, (_, e) in enumerate(eps.iterrows())]
            self.episode_picker.value = str(eps[EPISODE].iloc[-1]) if len(eps) else None
        finally:
            self._setting_episodes = False
        self.episode_picker.layout.display = None if len(eps) > 1 else "none"

    def _chosen(self, cid: str) -> tuple[Any, pd.Timestamp | None]:
        """The report data of the chosen episode and the day its status is judged on (None:
        the data's last day, for the current episode; an earlier one as it stood at its end)."""
        eps = self.episodes(cid)
        ep = self.episode_picker.value
        if len(eps) < 2 or ep is None or ep == str(eps[EPISODE].iloc[-1]):
            return self._client_data(self.clinic, cid, self.month), None
        rd = self._client_data(self.clinic, cid, self.month, episode=ep)
        row = eps[eps[EPISODE].astype(str) == ep].iloc[0]
        last = rd.observations["date"].max() if len(rd.observations) else row["start_date"]
        as_of = pd.Timestamp(row["end_date"] if pd.notna(row["end_date"]) else last)
        rd.end = max(as_of, last) if pd.notna(last) else as_of
        rd.start = rd.end.replace(day=1)
        return rd, rd.end

    def _draw_client(self) -> None:
        cid, m = self.client_picker.value, self.measure_picker.value
        rd, as_of = self._chosen(cid)
        self._draw_status(cid, m, as_of)
        # a returning client's long-term chart, the same whichever episode is chosen: drawn
        # once per client and measure
        if (cid, m) not in self._long_term:
            now = rd if as_of is None else self._client_data(self.clinic, cid, self.month)
            history = self._cs.long_term(now, m)
            self._long_term[cid, m] = None if history is None else _png(history.plot, (7.2, 2.2))
        png = self._long_term[cid, m]
        self.episodes_chart.value = b"" if png is None else png
        self.episodes_chart.layout.display = "none" if png is None else None
        # the client report's own page-1 chart: severity bands, cut-off, reliable-change band,
        # expected-response band (the service itself as reference) and sudden gains
        gains = self._cs.sudden_gains(rd, m)
        track = self._cs.on_track(rd, self.clinic, m, figure=False)
        sec = self._cs.headline(rd, m, track, gains)
        self.chart_note.value = _section_html(self._cs.questionnaire(rd, m, figure=False))
        self._show_png(self.chart, sec.plot, (7.2, 3.2))
        self.gains.value = _section_html(gains)
        if cid not in self._diary:  # the diary does not depend on the measure: drawn once
            diary = self._cs.diary_month(rd)
            self._diary[cid] = (html.escape(diary.message), None if diary.plot is None
                                else _png(diary.plot, (7.2, 2.6)))
        text, png = self._diary[cid]
        self.diary_text.value = text
        self.diary_chart.value = b"" if png is None else png
        self.diary_chart.layout.display = "none" if png is None else None

    @staticmethod
    def _show_png(image: Any, plot: Callable | None, figsize: tuple[float, float]) -> None:
        image.value = b"" if plot is None else _png(plot, figsize)
        image.layout.display = "none" if plot is None else None

    def _draw_status(self, cid: str, measure: str, as_of: pd.Timestamp | None = None) -> None:
        flags = self.flags(measure, as_of)
        if cid not in flags.index:
            self.status.value = ("<p><b>Status: no questionnaire scores for this client.</b></p>")
            return
        row = flags.loc[cid]
        then = ("" if as_of is None else
                f"<p><i>Episode {html.escape(str(row.get(EPISODE, '')))} as it stood at its end, "
                f"{as_of:%d %b %Y}: an earlier episode of care.</i></p>")
        status = str(row["status"])
        colour = _STATUS_COLOUR.get(status, "#111")
        latest = "–" if pd.isna(row.get("latest_score")) else f"{row['latest_score']:g}"
        severity = "" if pd.isna(row.get("severity")) else f" ({row['severity']})"
        reasons = str(row["reasons"]) if pd.notna(row.get("reasons")) and row["reasons"] else \
            "no flag raised"
        rules = html.escape(flags.attrs.get("method", ""))
        self.status.value = (
            f'<p><span style="background:{colour};color:#fff;padding:1px 6px;border-radius:3px">'
            f'<b class="pk-status-label">{html.escape(status)}</b></span> '
            f"<b>{html.escape(cid)}</b>, judged on {html.escape(str(row['primary_measure']))}: "
            f"latest {latest}"
            f"{html.escape(severity)}, {int(row['n_scores'])} score(s).</p>{then}"
            f"<p>{html.escape(reasons)}</p>"
            f'<p style="font-size:85%;line-height:1.3;color:#444">Rules: {rules}</p>')

    def _draw_cohort(self) -> None:
        m = self.measure_picker.value
        if m not in self._jacobson:  # the same data and measure give the same plot: drawn once
            if self._cohort_ctx is None:  # the internal audience: the explorer names clients
                self._cohort_ctx = self._cohort.Cohort(self.clinic, self.month)
            sec = self._cohort.jacobson(self._cohort_ctx, measure=m)
            self._jacobson[m] = (_section_html(sec), None if sec.plot is None
                                 else _png(sec.plot, sec.figsize))
        text, png = self._jacobson[m]
        self.jacobson_text.value = text
        self.jacobson_chart.value = b"" if png is None else png
        self.jacobson_chart.layout.display = "none" if png is None else None
        self._build_rows()
        self._arrange_table()

    def _build_rows(self) -> None:
        """One row of widgets per client, built once and kept: the flags table is the same
        for every measure (:meth:`flags`), so switching the measure only shows the rows again
        (building them took 0.11 s of a measure's first visit); sorting only re-orders them."""
        if not self._header_buttons:
            for col, (label, _) in _COLUMNS.items():
                b = w.Button(description=label, layout=w.Layout(width="auto")).add_class("pk-sort")
                b.on_click(lambda _, c=col: self.sort_by(c))
                self._header_buttons[col] = b
        if self._table_rows is not None:
            self._row_widgets, self._flags_frame = self._table_rows
            return
        flags = self.flags().reset_index()
        self._row_widgets = {}
        for rec in flags.itertuples(index=False):
            cid = str(rec.client_id)
            b = w.Button(description=cid, tooltip=f"open {cid} in the client view",
                         layout=w.Layout(width="auto")).add_class("pk-open-client")
            b.on_click(lambda _, c=cid: self.open_client(c))
            colour = _STATUS_COLOUR.get(str(rec.status), "#111")
            cells = [b, w.HTML(f'<span style="color:{colour}"><b>{html.escape(str(rec.status))}</b></span>'),
                     w.HTML("–" if pd.isna(rec.latest_score) else f"{rec.latest_score:g}"),
                     w.HTML("–" if pd.isna(rec.severity) else html.escape(str(rec.severity))),
                     w.HTML(str(int(rec.n_scores))),
                     w.HTML(html.escape(str(rec.reasons or "")))]
            self._row_widgets[cid] = cells
        self._flags_frame = flags
        self._table_rows = (self._row_widgets, flags)

    def _arrange_table(self) -> None:
        flags = self._flags_frame
        col = self.sort_column
        # ties (e.g. equal status) keep the client order, so the table is stable
        ordered = flags.sort_values([col, "client_id"], ascending=[self.ascending, True],
                                    key=_sort_key(col) if col != "client_id" else None,
                                    na_position="last", kind="stable")
        self._order = [str(c) for c in ordered["client_id"]]
        shown = self._order[:MAX_ROWS]
        for c, b in self._header_buttons.items():
            arrow = (" ▲" if self.ascending else " ▼") if c == col else ""
            b.description = _COLUMNS[c][0] + arrow
        self.table.children = tuple(self._header_buttons.values()) + tuple(
            cell for cid in shown for cell in self._row_widgets[cid])
        self.table_note.value = (f"Showing the first {MAX_ROWS} of {len(self._order)} clients."
                                 if len(self._order) > MAX_ROWS else "")


def explore(data: ClinicData | str | Path, *, measure: str | None = None,
            client: str | None = None) -> Explorer:
    """An interactive explorer of a clinic for JupyterLab (ipywidgets).

    Parameters
    ----------
    data : ClinicData or path
        A clinic (``pk.load_data``, ``pk.demo_data``) or a data folder, which is loaded with
        ``errors="report"`` (bad rows are listed in ``clinic.problems``, not used).
    measure : str, optional
        The questionnaire to start with (default PHQ-9 when there is one).
    client : str, optional
        The client to start with (default the first ID).

    Returns
    -------
    Explorer
        An ipywidgets VBox: a client view (client and measure pickers,
        the client report's trajectory chart with its cut-off and reliable-change band, the status
        and reasons from ``pk.client_flags``, sudden gains, the diary) and a cohort view (the
        Jacobson plot and the sortable flags table; clicking a client opens it).

    Notes
    -----
    Every number comes from the functions the reports use (``client_flags``, the client and cohort
    report sections), so the explorer and the monthly reports never disagree. Everything is shown
    as at the last date in the data. The charts are PNGs drawn in the kernel: the widget needs no
    network and no JavaScript beyond ipywidgets.

    Examples
    --------
    >>> import progress_kit as pk
    >>> ex = pk.explore(pk.demo_data(n_clients=8, months=3, seed=1, end="2026-03-31"))
    >>> ex.tabs.selected_index = 1          # the cohort view ...
    >>> ex.open_client("C003")              # ... where clicking C003 does this
    >>> ex.client_picker.value, ex.tabs.selected_index
    ('C003', 0)
    """
    return Explorer(_as_clinic(data), measure=measure, client=client)
