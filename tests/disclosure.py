"""An attacker for published outcome tables (issue 22): what can a reader work back?

Given every publication table of a month (the service's and each therapist's rates, the funnel
table, last month's tables), the attacker bounds every exact count consistent with all of it:

- a printed count ``v`` is one of ``max(5, v-2) .. v+2`` (rounding to the nearest 5; a count
  shown is never below 5), a ``*`` is any count from 0 (0-4, or a larger count withheld to
  protect another: the docs say either);
- a printed rate (and its interval) must be the one the rule derives from the printed counts;
  a printed rate also tells that the other side (denominator minus numerator) is 5 or more;
- the relations a reader knows: each rate's denominator = numerator + other side (so the
  complements across outcomes), the service = the sum of its therapists, a quarter or 12 months
  = the sum of their months, and the order of the counts (ended >= finished >= cases >=
  recovered >= reliably recovered; reliably recovered <= reliably improved).

Each relation is solved for every cell in turn (bounds propagation, vectorised over units and
periods, repeated until nothing changes). A cell whose bounds meet is *pinned*: the reader knows
it exactly (a ``*`` proven 0 included). :func:`certify` then confirms the opposite for every
printed cell with an integer program: a second exact table, consistent with everything printed,
in which that cell differs (a witness), so "not pinned" is proven, not assumed.

:func:`exact_pairs` is the attacker of the old rule (rates from the unrounded counts): every
(numerator, denominator) consistent with a printed row; the 7/12 of issue 22 is its test case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from progress_kit.outcomes import _COUNTS, _RATES, wilson_interval

BIG = 10**6  # "any count": larger than every count a test builds
NOT = [f"not_{o}" for o, _, _ in _RATES]
VARS = _COUNTS + NOT
_V = {v: i for i, v in enumerate(VARS)}
_ORDER = [("finished", "ended"), ("case_finished", "finished"), ("recovery", "case_finished"),
          ("reliable_recovery", "recovery"), ("reliable_recovery", "reliable_improvement"),
          ("reliable_improvement", "finished"), ("reliable_deterioration", "finished")]


def _r5(x):
    return (np.asarray(x, dtype=np.int64) + 2) // 5 * 5


class Published:
    """Everything printed, as bounds on the exact counts of (unit, period, count)."""

    def __init__(self, units: list[str], periods: list[str], service: str | None = "service",
                 sums: dict[str, list[str]] | None = None):
        self.units, self.periods = list(units), list(periods)
        self.service = service  # the unit that is the sum of the others (None: no total)
        self.sums = sums or {}  # period -> the periods it adds up
        shape = (len(self.units), len(self.periods), len(VARS))
        self.lo = np.zeros(shape, dtype=np.int64)
        self.hi = np.full(shape, BIG, dtype=np.int64)
        self.printed = np.zeros(shape, dtype=bool)  # cells a reader sees (numerators, denominators)
        self.rated = np.zeros(shape, dtype=bool)  # other sides a printed rate vouches for
        self.findings: list[str] = []

    def _cell(self, unit, period, var) -> tuple[int, int, int]:
        return self.units.index(unit), self.periods.index(period), _V[var]

    def count(self, unit, period, var, text: str) -> None:
        """A printed count: ``*`` or a multiple of 5."""
        u, p, k = self._cell(unit, period, var)
        self.printed[u, p, k] = True
        text = str(text).strip()
        if text == "*":
            return
        v = int(text)
        if v % 5 or v < 5:
            self.findings.append(f"{unit} {period} {var}: printed {text!r} is not a published count")
        self.lo[u, p, k] = max(self.lo[u, p, k], max(5, v - 2))
        self.hi[u, p, k] = min(self.hi[u, p, k], v + 2)

    def rate(self, unit, period, outcome, num_text, den_text, rate, ci=None, digits: int = 4) -> None:
        """A printed rate row: the counts, the rate and interval (NaN: withheld)."""
        num, den = next((n, d) for o, n, d in _RATES if o == outcome)
        self.count(unit, period, num, num_text)
        self.count(unit, period, den, den_text)
        if rate is None or not np.isfinite(rate):
            return
        if "*" in (str(num_text), str(den_text)):
            self.findings.append(f"{unit} {period} {outcome}: a rate beside a withheld count")
            return
        x, n = int(num_text), int(den_text)
        want = [x / n] + (list(wilson_interval(x, n)) if ci is not None else [])
        got = [rate] + (list(ci) if ci is not None else [])
        if any(round(float(a), digits) != round(float(b), digits) for a, b in zip(want, got, strict=True)):
            self.findings.append(f"{unit} {period} {outcome}: printed rate {got} is not the one "
                                 f"of the printed counts {x} of {n}")
        u, p, k = self._cell(unit, period, f"not_{outcome}")
        self.rated[u, p, k] = True
        self.lo[u, p, k] = max(self.lo[u, p, k], 5)  # a rate is shown only with 5 on each side

    # ------------------------------------------------------------------ the reader's algebra
    @staticmethod
    def _sum(lo, hi, total, parts) -> None:
        """total = sum(parts) (last axis of ``parts``): tighten the bounds in place. A cell can
        be a total in one row and a part in another, or repeat: bounds only ever tighten."""
        p_lo, p_hi = lo[parts], hi[parts]
        s_lo, s_hi = p_lo.sum(axis=-1), p_hi.sum(axis=-1)
        t_lo, t_hi = np.maximum(lo[total], s_lo), np.minimum(hi[total], s_hi)
        np.maximum.at(lo, total.ravel(), t_lo.ravel())
        np.minimum.at(hi, total.ravel(), t_hi.ravel())
        np.maximum.at(lo, parts.ravel(), (t_lo[..., None] - (s_hi[..., None] - p_hi)).ravel())
        np.minimum.at(hi, parts.ravel(), (t_hi[..., None] - (s_lo[..., None] - p_lo)).ravel())

    def relations(self):
        """(total, parts) index arrays over the flattened cells, grouped by shape."""
        U, P, K = self.lo.shape
        cell = np.arange(U * P * K).reshape(U, P, K)
        groups = []
        # den = num + other side, for every unit and period
        dens = np.array([_V[d] for _, _, d in _RATES])
        nums = np.array([_V[n] for _, n, _ in _RATES])
        nots = np.array([_V[f"not_{o}"] for o, _, _ in _RATES])
        groups.append((cell[:, :, dens], np.stack([cell[:, :, nums], cell[:, :, nots]], axis=-1)))
        if self.service is not None and len(self.units) > 1:
            s = self.units.index(self.service)
            others = [u for u in range(U) if u != s]
            groups.append((cell[s], np.moveaxis(cell[others], 0, -1)))
        for total, parts in self.sums.items():
            t = self.periods.index(total)
            idx = [self.periods.index(q) for q in parts]
            groups.append((cell[:, t], np.moveaxis(cell[:, idx], 1, -1)))
        return groups

    def solve(self, max_rounds: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of every exact count consistent with everything printed."""
        lo, hi = self.lo.reshape(-1).copy(), self.hi.reshape(-1).copy()
        U, P, K = self.lo.shape
        cell = np.arange(U * P * K).reshape(U, P, K)
        small = np.array([_V[a] for a, _ in _ORDER])
        large = np.array([_V[b] for _, b in _ORDER])
        groups = self.relations()
        a, b = cell[:, :, small].ravel(), cell[:, :, large].ravel()  # a <= b
        for _ in range(max_rounds):
            before = (lo.copy(), hi.copy())
            for total, parts in groups:
                self._sum(lo, hi, total, parts)
            np.minimum.at(hi, a, hi[b])
            np.maximum.at(lo, b, lo[a])
            if (lo > hi).any():
                raise ValueError("the printed tables are inconsistent with the stated rule")
            if (lo == before[0]).all() and (hi == before[1]).all():
                break
        return lo.reshape(self.lo.shape), hi.reshape(self.hi.shape)

    def pinned(self) -> list[str]:
        """Every printed count (and every other side a rate vouches for) a reader knows exactly."""
        lo, hi = self.solve()
        watch = self.printed | self.rated
        # the other side of every printed pair counts too (issue 22: "and their difference")
        for o, n, d in _RATES:
            both = self.printed[:, :, _V[n]] & self.printed[:, :, _V[d]]
            watch[:, :, _V[f"not_{o}"]] |= both
        out = [f"{self.units[u]} {self.periods[p]} {VARS[k]} = {lo[u, p, k]}"
               for u, p, k in zip(*np.nonzero(watch & (lo == hi)), strict=True)]
        return self.findings + out

    # ------------------------------------------------------------------ proof by witness
    def certify(self, truth: np.ndarray, rounds: int = 40, seed: int = 0) -> list[str]:
        """Printed cells for which no second consistent table was found (should be none).

        ``truth``: the exact counts, shape (units, periods, counts). Integer programs (HiGHS)
        search for consistent tables that differ from the truth in the cells not yet shown to
        vary, first many at once, then one at a time.
        """
        from scipy.optimize import Bounds, LinearConstraint, milp

        lo, hi = self.solve()
        n = lo.size
        rows = []
        for total, parts in self.relations():
            t, ps = total.reshape(-1), parts.reshape(len(total.reshape(-1)), -1)
            for ti, pi in zip(t, ps, strict=True):
                rows.append((ti, pi))
        U, P, K = lo.shape
        cell = np.arange(n).reshape(U, P, K)
        order = [(cell[:, :, _V[a]].reshape(-1), cell[:, :, _V[b]].reshape(-1)) for a, b in _ORDER]
        from scipy.sparse import lil_matrix

        eq = lil_matrix((len(rows), n))
        for r, (t, ps) in enumerate(rows):
            eq[r, t] = 1
            for p in ps:
                eq[r, p] -= 1
        m = sum(len(a) for a, _ in order)
        ineq = lil_matrix((m, n))
        r = 0
        for a, b in order:
            for i, j in zip(a, b, strict=True):
                ineq[r, i], ineq[r, j] = 1, -1
                r += 1
        cons = [LinearConstraint(eq.tocsr(), 0, 0), LinearConstraint(ineq.tocsr(), -np.inf, 0)]
        bounds = Bounds(lo.reshape(-1).astype(float), np.minimum(hi, 10**5).reshape(-1).astype(float))
        t = truth.reshape(-1).astype(float)
        if ((t < bounds.lb) | (t > bounds.ub)).any():
            return ["the exact counts are not consistent with the printed tables"]
        watch = (self.printed | self.rated).reshape(-1).copy()
        for o, nn, d in _RATES:
            both = (self.printed[:, :, _V[nn]] & self.printed[:, :, _V[d]]).reshape(-1)
            watch[cell[:, :, _V[f"not_{o}"]].reshape(-1)[both]] = True
        todo = set(np.flatnonzero(watch & (lo.reshape(-1) < hi.reshape(-1))))
        rng = np.random.default_rng(seed)

        def differs(c: np.ndarray) -> None:
            res = milp(c, constraints=cons, bounds=bounds, integrality=np.ones(n))
            if res.x is not None:
                moved = np.flatnonzero(np.round(res.x) != t)
                todo.difference_update(moved.tolist())

        flat_lo, flat_hi = lo.reshape(-1), np.minimum(hi, 10**5).reshape(-1)
        for _ in range(rounds):  # many cells at once: push each the way it has room to go
            if not todo:
                break
            c = np.zeros(n)
            idx = np.fromiter(todo, dtype=np.int64)
            # a few at a time: pushing every cell at once pits totals against their parts
            idx = rng.choice(idx, size=max(1, len(idx) // 6), replace=False)
            up = np.where(t[idx] <= flat_lo[idx], True, np.where(t[idx] >= flat_hi[idx], False,
                                                                   rng.random(len(idx)) < 0.5))
            c[idx] = np.where(up, -1.0, 1.0)  # milp minimises
            differs(c)
        self.single_cell_programs = len(todo)
        for i in sorted(todo.copy()):  # then one at a time, both ways
            if i not in todo:
                continue
            for sign in ((-1.0, 1.0) if t[i] <= flat_lo[i] else (1.0, -1.0)):
                c = np.zeros(n)
                c[i] = sign
                differs(c)
                if i not in todo:
                    break
        stuck = [f"{self.units[u]} {self.periods[p]} {VARS[k]} (no second value found)"
                 for u, p, k in (np.unravel_index(i, lo.shape) for i in sorted(todo))]
        fixed = [f"{self.units[u]} {self.periods[p]} {VARS[k]} = {lo[u, p, k]}"
                 for u, p, k in zip(*np.nonzero(watch.reshape(lo.shape) & (lo == hi)), strict=True)]
        return self.findings + fixed + stuck


def exact_counts(outcomes: pd.DataFrame, by: str) -> pd.DataFrame:
    """The exact counts and other sides per group (+ ``service``), columns :data:`VARS`."""
    from progress_kit.outcomes import outcome_counts, with_complements

    per = with_complements(outcome_counts(outcomes, by))[VARS]
    per.index = per.index.astype(str)
    per.loc["service"] = per.sum()
    return per


def from_service_rates(by_group: pd.DataFrame, total: pd.DataFrame, key: str) -> Published:
    """The reader's view of ``service_rates(out, by=key)`` published with ``service_rates(out)``."""
    units = [*map(str, pd.unique(by_group[key])), "service"]
    pub = Published(units, ["all"])
    both = pd.concat([by_group.assign(_unit=by_group[key].astype(str)), total.assign(_unit="service")])
    cols = [both[c].to_numpy() for c in ("_unit", "outcome", "numerator", "denominator", "rate",
                                          "ci_low", "ci_high")]
    for unit, outcome, num, den, rate, lo, hi in zip(*cols, strict=True):
        pub.rate(unit, "all", outcome, num, den, rate, (lo, hi))
    return pub


def exact_pairs(num_text: str, den_text: str, rate: float, ci=None, digits: int = 4,
                limit: int = 200) -> list[tuple[int, int]]:
    """Every (numerator, denominator) consistent with one row printed under the *old* rule:
    counts rounded or ``*``, the rate and its Wilson interval from the exact counts, printed to
    ``digits`` places."""
    def span(text):
        if str(text) == "*":
            return np.arange(0, 5)
        v = int(text)
        return np.arange(max(5, v - 2), v + 3)

    x, n = np.meshgrid(span(num_text), span(den_text)[:limit], indexing="ij")
    x, n = x.ravel(), n.ravel()
    ok = (x <= n) & (n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok &= np.round(x / np.where(n > 0, n, 1), digits) == round(rate, digits)
        if ci is not None:
            lo, hi = wilson_interval(x, n)
            ok &= np.round(lo, digits) == round(ci[0], digits)
            ok &= np.round(hi, digits) == round(ci[1], digits)
    return list(zip(x[ok].tolist(), n[ok].tolist(), strict=True))
