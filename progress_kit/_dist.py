"""The normal and Student t quantiles and tail areas the statistics use on every report, without
importing :mod:`scipy.stats`.

``scipy.stats`` costs about 0.7 s of CPU to import (its hundred distributions are built on import),
more than the pandas import itself, and every command that draws one report paid it for a few
``ppf`` and ``sf`` calls. These stand-ins call the very :mod:`scipy.special` functions that
``scipy.stats.norm`` and ``scipy.stats.t`` call (``ndtri``, ``ndtr``, ``stdtrit``, ``stdtr``)
and give the same answers bit for bit, including at the edges (a probability outside [0, 1] or a
degree of freedom that is not positive gives NaN; tests/test_dist.py compares them with
``scipy.stats`` on a grid). Anything else, ``stats.theilslopes`` say, is taken from
``scipy.stats`` itself when first used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

__all__: list[str] = []  # private: the statistics modules import ``norm`` and ``stats`` from here


def _result(out: np.ndarray) -> Any:
    return out[()]  # a 0-d result as a NumPy scalar, as scipy.stats returns it


def _valid_df(df: Any) -> np.ndarray:
    df = np.asarray(df, dtype=float)
    return df, df > 0


class _Norm:
    """``scipy.stats.norm``'s ``ppf``, ``cdf`` and ``sf`` (standard normal)."""

    @staticmethod
    def ppf(q: Any) -> Any:
        q = np.asarray(q, dtype=float)
        return _result(np.where((q >= 0) & (q <= 1), special.ndtri(q), np.nan))

    @staticmethod
    def cdf(x: Any) -> Any:
        return _result(np.asarray(special.ndtr(np.asarray(x, dtype=float))))

    @staticmethod
    def sf(x: Any) -> Any:
        return _result(np.asarray(special.ndtr(-np.asarray(x, dtype=float))))


class _T:
    """``scipy.stats.t``'s ``ppf``, ``cdf`` and ``sf``."""

    @staticmethod
    def ppf(q: Any, df: Any) -> Any:
        q = np.asarray(q, dtype=float)
        df, ok = _valid_df(df)
        with np.errstate(invalid="ignore"):
            out = special.stdtrit(np.where(ok, df, 1.0), q)
        out = np.where(q == 0, -np.inf, np.where(q == 1, np.inf, out))  # the support's ends
        return _result(np.where(ok & (q >= 0) & (q <= 1), out, np.nan))

    @staticmethod
    def cdf(x: Any, df: Any) -> Any:
        df, ok = _valid_df(df)
        out = special.stdtr(np.where(ok, df, 1.0), np.asarray(x, dtype=float))
        return _result(np.where(ok, out, np.nan))

    @staticmethod
    def sf(x: Any, df: Any) -> Any:
        df, ok = _valid_df(df)
        out = special.stdtr(np.where(ok, df, 1.0), -np.asarray(x, dtype=float))
        return _result(np.where(ok, out, np.nan))


norm = _Norm()
t = _T()


class _Stats:
    """``from ._dist import stats``: ``stats.norm`` and ``stats.t`` from here, the rest of
    ``scipy.stats`` imported when first asked for."""

    norm = norm
    t = t

    def __getattr__(self, name: str) -> Any:
        import scipy.stats

        return getattr(scipy.stats, name)


stats = _Stats()
