"""Expected treatment response and on-track signals (Finch, Lambert & Schaalje, 2001).

:func:`expected_response` learns, from a reference cohort, how scores usually move over sessions
given the intake score, and how far clients usually stray from that course (empirical percentile
bands of the residuals). :func:`on_track` compares each client's scores with the course expected
for their intake and gives a signal per session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _episodes
from .measures import Measure, get_measure
from .trajectories import _select_sessions

__all__ = ["ExpectedResponse", "expected_response", "on_track", "on_track_plot_data",
           "SIGNALS"]

#: The on-track signals, from best to worst, and "insufficient data".
SIGNALS = ("on track", "at risk", "not on track", "insufficient data")


@dataclass(frozen=True)
class ExpectedResponse:
    """An expected-treatment-response model learned by :func:`expected_response`.

    Attributes
    ----------
    measure : str
        Registry name of the measure.
    coef : tuple of float
        ``(b0, b1)`` of ``score_s = intake + (b0 + b1 * intake) * log(1 + s)``.
    bands : DataFrame
        Indexed by session ``s`` (1, 2, ...; the last row serves all later sessions): ``n``
        reference residuals and their quantiles ``q_low`` (1 - outer), ``q_low_inner``
        (1 - inner), ``q_high_inner`` (inner) and ``q_high`` (outer).
    inner, outer : float
        The quantile levels of the inner (at-risk) and outer (not-on-track) bands.
    n_clients : int
        Reference clients used (those with at least 2 scores).
    """

    measure: str
    coef: tuple[float, float]
    bands: pd.DataFrame
    inner: float
    outer: float
    n_clients: int

    def curve(self, intake: float | np.ndarray, session: int | np.ndarray) -> pd.DataFrame:
        """Expected score and bands for an intake score at the given session numbers (0 = intake).

        Returns a DataFrame with ``session``, ``expected``, ``lower``, ``upper`` (outer band),
        ``inner_lower`` and ``inner_upper``; at session 0 the band collapses to the intake.
        """
        intake = np.asarray(intake, dtype=float)
        session = np.asarray(session, dtype=np.int64)
        intake, session = np.broadcast_arrays(intake, session)
        m = get_measure(self.measure)
        exp_ = self.coef[0] + self.coef[1] * intake
        expected = intake + exp_ * np.log1p(session)
        last = int(self.bands.index.max())
        row = np.clip(session, 1, last)
        q = self.bands.reindex(np.arange(1, last + 1)).ffill().to_numpy()
        cols = {c: i for i, c in enumerate(self.bands.columns)}
        zero = session == 0
        out = pd.DataFrame({"session": session.ravel(), "expected": expected.ravel()})
        for name, col in (("lower", "q_low"), ("inner_lower", "q_low_inner"),
                          ("inner_upper", "q_high_inner"), ("upper", "q_high")):
            out[name] = np.where(zero, 0.0, q[row - 1, cols[col]]).ravel() + out["expected"]
        hi = m.max if np.isfinite(m.max) else np.inf
        for c in ("expected", "lower", "inner_lower", "inner_upper", "upper"):
            out[c] = out[c].clip(m.min, hi)
        return out


def _session_numbers(d: pd.DataFrame, subject: str, time: str,
                     session: str | None) -> np.ndarray:
    if session is None:
        return d.groupby(subject, sort=False).cumcount().to_numpy()
    s = d[session].to_numpy(dtype=float)
    first = d.groupby(subject, sort=False)[session].transform("min").to_numpy(dtype=float)
    return (s - first).astype(np.int64)


def _prepare(data: pd.DataFrame, subject: str, time: str, value: str, measure: str,
             session: str | None) -> pd.DataFrame:
    d = _select_sessions(data, subject, time, value, measure, session,
                         "expected one per session")
    out = pd.DataFrame({"subject": d[subject].to_numpy(), "time": d[time].to_numpy(),
                        "score": d[value].to_numpy(dtype=float)})
    out["session"] = _session_numbers(d, subject, time, session)
    out["intake"] = out.groupby("subject", sort=False)["score"].transform("first")
    out["n_so_far"] = out.groupby("subject", sort=False).cumcount() + 1
    return out


def expected_response(reference: pd.DataFrame, *, measure: str, subject: str = "client_id",
                      time: str = "date", value: str = "score", session: str | None = None,
                      inner: float = 0.75, outer: float = 0.90, min_per_session: int = 20,
                      max_session: int | None = None) -> ExpectedResponse:
    """Learn an expected treatment response and its tolerance bands from a reference cohort.

    Parameters
    ----------
    reference : DataFrame
        Long table of past clients' scores (``pk.read_observations()`` format).
    measure : str
        Registry name; rows of other measures are ignored.
    subject, time, value : str
        Column names.
    session : str, optional
        Column of session numbers. Default: each client's scores in time order are sessions
        0 (intake), 1, 2, ...
    inner, outer : float
        Quantile levels of the at-risk and not-on-track bands (one-sided, in the bad direction;
        the good-direction bands use 1 - level).
    min_per_session : int
        Sessions with fewer reference residuals than this share the band of the last session
        that has enough (later sessions are sparse in any cohort).
    max_session : int, optional
        Ignore reference scores after this session.

    Returns
    -------
    ExpectedResponse
        Use it with :func:`on_track`; ``.curve(intake, sessions)`` gives the tunnel. Where
        ``reference`` has an ``episode_id`` column, each episode of care is a course from its
        own intake (``n_clients`` then counts courses).

    Notes
    -----
    Following Finch, Lambert & Schaalje (2001), the course is log-linear in session number and
    conditioned on intake severity :math:`y_0`:

    .. math:: \\hat y_s = y_0 + (b_0 + b_1 y_0)\\,\\log(1 + s),

    fitted by least squares to the change from intake, :math:`y_s - y_0`, of every reference
    score after the intake (so clients with more scores weigh more). The tolerance band at
    session :math:`s` is given by empirical quantiles of the residuals :math:`y_s - \\hat y_s`
    at that session, not by a normal approximation, so skewed deviations (a minority of
    deteriorating clients) shape the band as they do in the reference data. Finch et al. fitted
    a multilevel model and used it to generate the curves for each intake score; with a fixed
    log-linear form, OLS on pooled change scores gives the same mean curve.

    Assumptions: the reference cohort resembles the clients to be monitored (same measure,
    setting and session spacing); the mixture of courses in the reference is the yardstick, so
    a cohort full of deteriorators widens the band. At least ``min_per_session`` reference
    clients should reach session 1.

    References
    ----------
    Finch, A. E., Lambert, M. J. & Schaalje, B. G. (2001). Psychotherapy quality control: the
    statistical generation of expected recovery curves for integration into an early warning
    system. Clinical Psychology & Psychotherapy 8(4), 231-242.
    Lambert, M. J., Whipple, J. L., Bishop, M. J., et al. (2002). Comparison of empirically
    derived and rationally derived methods for identifying patients at risk for treatment
    failure. Clinical Psychology & Psychotherapy 9(3), 149-164.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = np.tile(np.arange(8), 300)
    >>> intake = np.repeat(rng.uniform(10, 24, 300), 8)
    >>> noise = np.where(s > 0, rng.normal(0, 2, s.size), 0)
    >>> y = intake + (-0.5 - 0.15 * intake) * np.log1p(s) + noise
    >>> ref = pd.DataFrame({"client_id": np.repeat(np.arange(300), 8).astype(str), "date": s,
    ...                     "measure": "PHQ-9", "score": y})
    >>> er = expected_response(ref, measure="PHQ-9")
    >>> er.curve(20.0, [0, 4])[["session", "expected", "upper"]].round(1)
       session  expected  upper
    0        0      20.0   20.0
    1        4      14.3   17.4
    """
    if not 0.5 < inner < outer < 1:
        raise ValueError(f"need 0.5 < inner < outer < 1, got inner={inner}, outer={outer}")
    if _episodes.has_episodes(reference, subject):
        # each episode of care is a course of its own, from its own intake
        reference = _episodes.keyed({"reference": reference})[0]["reference"]
    d = _prepare(reference, subject, time, value, measure, session)
    n_scores = d.groupby("subject", sort=False)["score"].transform("size")
    d = d[n_scores >= 2]
    if max_session is not None:
        d = d[d["session"] <= max_session]
    later = d[d["session"] > 0]
    n_clients = int(later["subject"].nunique())
    if n_clients < min_per_session:
        raise ValueError(f"the reference has {n_clients} clients with 2 or more {measure} "
                         f"scores; at least min_per_session={min_per_session} are needed")
    ls = np.log1p(later["session"].to_numpy(dtype=float))
    x = np.column_stack([ls, ls * later["intake"].to_numpy()])
    change = later["score"].to_numpy() - later["intake"].to_numpy()
    coef, *_ = np.linalg.lstsq(x, change, rcond=None)
    resid = change - x @ coef
    frame = pd.DataFrame({"session": later["session"].to_numpy(), "r": resid})
    counts = frame.groupby("session")["r"].size()
    enough = counts.index[counts >= min_per_session]
    last = int(enough.max()) if len(enough) else 1
    # sessions beyond the last well-populated one pool their residuals with it
    frame["session"] = frame["session"].clip(upper=last)
    levels = {"q_low": 1 - outer, "q_low_inner": 1 - inner, "q_high_inner": inner,
              "q_high": outer}
    grouped = frame.groupby("session")["r"]
    bands = pd.DataFrame({name: grouped.quantile(q) for name, q in levels.items()})
    bands.insert(0, "n", grouped.size())
    bands.index.name = "session"
    return ExpectedResponse(measure=measure, coef=(float(coef[0]), float(coef[1])),
                            bands=bands, inner=inner, outer=outer, n_clients=n_clients)


def _signal(score: np.ndarray, band: pd.DataFrame, n_so_far: np.ndarray, m: Measure):
    if m.direction == -1:  # lower is better: worse = above the band
        bad_outer = score > band["upper"].to_numpy()
        bad_inner = score > band["inner_upper"].to_numpy()
    else:
        bad_outer = score < band["lower"].to_numpy()
        bad_inner = score < band["inner_lower"].to_numpy()
    return np.select([n_so_far < 2, bad_outer, bad_inner],
                     ["insufficient data", "not on track", "at risk"], "on track")


def on_track(observations: pd.DataFrame, expected: ExpectedResponse, *, measure: str,
             subject: str = "client_id", time: str = "date", value: str = "score",
             session: str | None = None) -> pd.DataFrame:
    """Compare each client's course with the expected response: one row per client and session.

    Parameters
    ----------
    observations : DataFrame
        Long table of the clients to monitor.
    expected : ExpectedResponse
        From :func:`expected_response` on a reference cohort, for the same measure.
    measure : str
        Registry name; must match ``expected.measure``.
    subject, time, value, session : str
        Column names, as in :func:`expected_response` (sessions numbered the same way).

    Returns
    -------
    DataFrame
        Columns ``client_id`` (the subject; followed by ``episode_id`` when ``observations``
        has one, sessions then counted from each episode's intake), ``session`` (0 = intake),
        the ``time`` column,
        ``score``, ``expected``, ``lower`` and ``upper`` (the outer band), ``inner_lower``,
        ``inner_upper`` and ``signal``.

    Notes
    -----
    The signal at a session uses the score of that session against the band for the client's
    intake score:

    * ``insufficient data``: fewer than 2 scores so far (the intake alone);
    * ``not on track``: the score lies beyond the outer band in the bad direction (above it
      when lower is better), i.e. worse than ``expected.outer`` of the reference clients at that
      session and intake;
    * ``at risk``: beyond the inner band in the bad direction, but not the outer one;
    * ``on track``: otherwise, including any score better than expected.

    The latest session's row is the client's current status. A signal is a prompt to review
    the case with the client, not a verdict: with percentile bands about ``1 - outer`` of
    clients who follow the reference cohort's mix of courses are flagged at any one session.

    References
    ----------
    Finch, A. E., Lambert, M. J. & Schaalje, B. G. (2001). Clin Psychol Psychother 8, 231-242.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> s = np.tile(np.arange(8), 200)
    >>> intake = np.repeat(rng.uniform(10, 24, 200), 8)
    >>> y = intake - 0.25 * intake * np.log1p(s) + np.where(s > 0, rng.normal(0, 2, s.size), 0)
    >>> ref = pd.DataFrame({"client_id": np.repeat(np.arange(200), 8).astype(str), "date": s,
    ...                     "measure": "PHQ-9", "score": y})
    >>> er = expected_response(ref, measure="PHQ-9")
    >>> new = pd.DataFrame({"client_id": "x", "date": [0, 1, 2, 3], "measure": "PHQ-9",
    ...                     "score": [20.0, 18, 22, 24]})
    >>> on_track(new, er, measure="PHQ-9")["signal"].tolist()
    ['insufficient data', 'on track', 'not on track', 'not on track']
    """
    if not isinstance(expected, ExpectedResponse):
        raise ValueError("expected must be the result of expected_response(), not "
                         f"{type(expected).__name__}")
    if _episodes.has_episodes(observations, subject):
        return _episodes.per_episode(
            on_track, {"observations": observations}, column="client_id", expected=expected,
            measure=measure, subject=subject, time=time, value=value, session=session)
    if expected.measure != measure:
        raise ValueError(f"the expected response was learned for {expected.measure}, "
                         f"not {measure}")
    m = get_measure(measure)
    d = _prepare(observations, subject, time, value, measure, session)
    band = expected.curve(d["intake"].to_numpy(), d["session"].to_numpy())
    out = pd.DataFrame({"client_id": d["subject"].to_numpy(), "session": d["session"].to_numpy(),
                        time: d["time"].to_numpy(), "score": d["score"].to_numpy()})
    for c in ("expected", "lower", "upper", "inner_lower", "inner_upper"):
        out[c] = band[c].to_numpy()
    out["signal"] = _signal(out["score"].to_numpy(), band, d["n_so_far"].to_numpy(), m)
    return out


def on_track_plot_data(observations: pd.DataFrame, expected: ExpectedResponse, client_id: str,
                       *, measure: str, n_sessions: int | None = None,
                       subject: str = "client_id", time: str = "date",
                       value: str = "score") -> pd.DataFrame:
    """Tidy data for an on-track tunnel plot of one client.

    Returns one row per session from 0 to ``n_sessions`` (default: the client's last session
    or the reference's last band session, whichever is later): ``session``, ``expected``,
    ``lower``, ``upper``, ``inner_lower``, ``inner_upper`` (the tunnel for the client's intake),
    ``score`` and ``signal`` (NaN and missing for sessions not yet held).

    Examples
    --------
    >>> er = ExpectedResponse("PHQ-9", (-0.5, -0.15), pd.DataFrame(
    ...     {"n": [50], "q_low": [-3.0], "q_low_inner": [-1.0], "q_high_inner": [1.0],
    ...      "q_high": [3.0]}, index=pd.Index([1], name="session")), 0.75, 0.9, 50)
    >>> obs = pd.DataFrame({"client_id": "a", "date": [0, 1], "measure": "PHQ-9",
    ...                     "score": [20.0, 17]})
    >>> on_track_plot_data(obs, er, "a", measure="PHQ-9", n_sessions=2)[
    ...     ["session", "expected", "upper", "score", "signal"]].round(2)
       session  expected  upper  score             signal
    0        0     20.00  20.00   20.0  insufficient data
    1        1     17.57  20.57   17.0           on track
    2        2     16.15  19.15    NaN                NaN
    """
    rows = on_track(observations, expected, measure=measure, subject=subject, time=time,
                    value=value)
    rows = rows[rows["client_id"] == client_id]
    if rows.empty:
        raise ValueError(f"no {measure} scores for {subject} {client_id!r}")
    last = int(rows["session"].max())
    n = n_sessions if n_sessions is not None else max(last, int(expected.bands.index.max()))
    tunnel = expected.curve(float(rows["score"].iloc[0]), np.arange(0, n + 1))
    return tunnel.merge(rows[["session", "score", "signal"]], on="session", how="left")
