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


class _Binom:
    """``scipy.stats.binom``'s ``ppf`` and ``cdf`` where a funnel plot calls them (probabilities
    strictly between 0 and 1, whole ``n >= 1``, ``0 < p < 1``): the same :mod:`scipy.special`
    ufuncs ``scipy.stats.binom`` calls there, so the same answers bit for bit
    (tests/test_dist.py). Anything else, or a SciPy without those ufuncs, is ``scipy.stats``'s."""

    @staticmethod
    def _fns():
        from scipy.special import _ufuncs

        return getattr(_ufuncs, "_binom_ppf", None), getattr(_ufuncs, "_binom_cdf", None)

    @staticmethod
    def _plain(n: np.ndarray, p: np.ndarray) -> bool:
        return bool(n.dtype.kind in "iu" and (n >= 1).all() and ((p > 0) & (p < 1)).all())

    def ppf(self, q: Any, n: Any, p: Any) -> Any:
        q, n, p = np.asarray(q, dtype=float), np.asarray(n), np.asarray(p, dtype=float)
        ppf, _ = self._fns()
        if ppf is None or not self._plain(n, p) or not ((q > 0) & (q < 1)).all():
            import scipy.stats

            return scipy.stats.binom.ppf(q, n, p)
        out = np.asarray(ppf(*np.broadcast_arrays(q, n, p)), dtype=float) + 0  # + loc, as scipy
        return _result(out)

    def cdf(self, k: Any, n: Any, p: Any) -> Any:
        k, n, p = np.asarray(k, dtype=float), np.asarray(n), np.asarray(p, dtype=float)
        _, cdf = self._fns()
        if cdf is None or not self._plain(n, p) or np.isnan(k).any():
            import scipy.stats

            return scipy.stats.binom.cdf(k, n, p)
        k, n, p = np.broadcast_arrays(k, n, p)
        out = np.zeros(k.shape)
        out[k >= n] = 1.0  # the support is 0 .. n; below it, 0
        inside = (k >= 0) & (k < n) & np.isfinite(k)
        if inside.any():
            out[inside] = np.clip(cdf(np.floor(k[inside]), n[inside], p[inside]), 0, 1)
        return _result(out)


norm = _Norm()
t = _T()
binom = _Binom()


class _Stats:
    """``from ._dist import stats``: ``stats.norm`` and ``stats.t`` from here, the rest of
    ``scipy.stats`` imported when first asked for."""

    norm = norm
    t = t

    def __getattr__(self, name: str) -> Any:
        import scipy.stats

        return getattr(scipy.stats, name)


stats = _Stats()
