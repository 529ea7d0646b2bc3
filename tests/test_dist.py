"""progress_kit._dist: the light normal and t functions give scipy.stats's answers bit for bit."""

import numpy as np
import pytest
import scipy.stats

from progress_kit._dist import norm, stats, t

Q = np.array([0.0, 1e-300, 1e-12, 0.001, 0.025, 0.05, 0.1, 0.5, 0.8, 0.9, 0.95, 0.975, 0.995,
              1 - 1e-12, 1.0, -0.1, 1.1, np.nan])
X = np.array([-np.inf, -40.0, -3.2, -1.96, -0.5, 0.0, 0.3, 1.0, 1.96, 2.5, 8.0, 40.0, np.inf, np.nan])
DF = np.array([0.5, 1.0, 2.0, 3.0, 7.0, 29.0, 30.5, 120.0, 1e6, np.inf, 0.0, -2.0, np.nan])


def _same(a, b):
    assert np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # NaN where NaN, else equal bits
    assert type(a) is type(b)


def test_norm_matches_scipy_stats():
    _same(norm.ppf(Q), scipy.stats.norm.ppf(Q))
    _same(norm.cdf(X), scipy.stats.norm.cdf(X))
    _same(norm.sf(X), scipy.stats.norm.sf(X))
    for q in (0.975, 0.5, 0.0):
        _same(norm.ppf(q), scipy.stats.norm.ppf(q))  # a scalar stays a NumPy scalar


@pytest.mark.parametrize("df", list(DF))
def test_t_matches_scipy_stats(df):
    with np.errstate(all="ignore"):
        _same(t.ppf(Q, df), scipy.stats.t.ppf(Q, df))
        _same(t.sf(X, df), scipy.stats.t.sf(X, df))
        _same(t.cdf(X, df), scipy.stats.t.cdf(X, df))
        _same(t.ppf(0.975, df), scipy.stats.t.ppf(0.975, df))


def test_t_broadcasts_like_scipy_stats():
    q, df = Q[:, None], DF[None, :]
    with np.errstate(all="ignore"):
        _same(t.ppf(q, df), scipy.stats.t.ppf(q, df))
        _same(t.sf(X[:, None], df), scipy.stats.t.sf(X[:, None], df))


def test_anything_else_comes_from_scipy_stats():
    assert stats.theilslopes is scipy.stats.theilslopes
    assert stats.norm is norm and stats.t is t


@pytest.mark.parametrize("target", [1e-6, 0.01, 0.1, 1 / 3, 0.5, 0.77, 0.99, 1 - 1e-9])
def test_binom_matches_scipy_stats_where_a_funnel_calls_it(target):
    from progress_kit._dist import binom

    rng = np.random.default_rng(int(target * 1e6))
    n = np.r_[1, 2, 3, 5, 10, 17, 50, 100, 333, 1000, 10**5, rng.integers(1, 5000, 60)]
    for q in (1e-9, 0.001, 0.025, 0.5, 0.975, 0.999, 1 - 1e-12):
        r = binom.ppf(q, n, target)
        _same(r, scipy.stats.binom.ppf(q, n, target))
        for k in (r, r - 1, r + 0.5, np.full(len(n), -np.inf), n + 3.0):
            _same(binom.cdf(k, n, target), scipy.stats.binom.cdf(k, n, target))
    # outside the funnel's domain: scipy.stats's own answers
    _same(binom.ppf(np.array([0.0, 1.0]), 10, target), scipy.stats.binom.ppf([0.0, 1.0], 10, target))
    _same(binom.cdf(np.array([3.0, np.nan]), 10, target), scipy.stats.binom.cdf([3.0, np.nan], 10, target))


def test_binom_falls_back_to_scipy_stats_without_the_private_ufuncs(monkeypatch):
    """A SciPy without scipy.special._ufuncs._binom_ppf/_binom_cdf: scipy.stats.binom itself."""
    from progress_kit._dist import _Binom, binom

    monkeypatch.setattr(_Binom, "_fns", staticmethod(lambda: (None, None)))
    n = np.array([1, 10, 37, 1000])
    for q in (0.001, 0.025, 0.975):
        r = binom.ppf(q, n, 0.3)
        _same(r, scipy.stats.binom.ppf(q, n, 0.3))
        _same(binom.cdf(r - 1, n, 0.3), scipy.stats.binom.cdf(r - 1, n, 0.3))


def test_funnel_limits_are_scipy_stats_binomials_without_importing_it(monkeypatch):
    import subprocess
    import sys

    import progress_kit as pk
    from progress_kit import _dist

    n = [1, 4, 10, 37, 100, 1000, 25000]
    light = pk.funnel_limits(0.42, n, levels=(0.95, 0.998, 0.5))
    monkeypatch.setattr(_dist, "binom", scipy.stats.binom)
    import pandas as pd

    pd.testing.assert_frame_equal(light, pk.funnel_limits(0.42, n, levels=(0.95, 0.998, 0.5)),
                                  check_exact=True)
    code = ("import sys, progress_kit as pk; pk.funnel_limits(0.5, [10, 100]); "
            "sys.exit('scipy.stats._stats_py' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
