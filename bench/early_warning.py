"""Exploration for issue 21 part 4: which not-on-track rule at session 4 warns of deterioration?

Run: ``python -m bench.early_warning [--clients N] [--seed S]`` (from the repository root).

Each candidate rule sees only the scores at sessions 0..4 (0 = intake) and is judged against
the final outcome "reliable deterioration" (last minus first PHQ-9 >= 6) on the simulated
services of ``tests/trajectory_sim.py`` (published trajectory classes plus a deteriorating
class of 3%, 8%, 15% or 25%). For each rule it prints sensitivity and specificity at the rule's
stated default threshold, sensitivity at matched specificity 0.80 and 0.90 (threshold tuned on
the rule's continuous score; for comparison only, never a recommended setting) and the AUC.

Rules (SEdiff = RC / 1.96 = 3.06 for PHQ-9; SEM = SEdiff / sqrt(2) = 2.16):

a  ``current``: residual at session 4 around an intake-dependent curve
   ``y0 + (b0 + b1*y0) * log(1+s)`` fitted by least squares on the same service, flagged
   beyond the 90% quantile of the service's residuals at that session (in-sample; the kit's
   leave-one-out version is the same for large n). Flags ~10% whatever the base rate.
b  ``rise3``: y4 - y0 >= 3.
c  ``rci_z``: y4 - y0 >= z * SEdiff (one-sided reliable rise), z = 1.0 (3.06 points).
d  ``robust_exp``: y4 - E(y0, 4) >= z * SEdiff, with E the same curve fitted by median (L1)
   regression on the service (a deteriorating minority barely moves a median), z = 1.28.
d' ``ls_exp``: as d but with the least-squares curve (shows the drag of deteriorators).
With ``--at S`` every rule reads sessions S-1 and S in place of 3 and 4 (the slope is then over 0..S).

e1 ``mean34``: (y3 + y4)/2 - y0 >= z * SEM * sqrt(1.5) (the SD of that difference), z = 1.0.
e2 ``slope04``: 4 * OLS slope over sessions 0..4 >= z * 4 * SEM / sqrt(10), z = 1.0.
e3 ``rise3|mean34``, ``rise3|robust_exp``: flag if either fires.
g  ``two-step`` (recommended): y4 - y0 >= RC/2 (3 points), or both y3 - y0 and y4 - y0
   >= RC/3 (2 points): an outer limit on one score and an inner limit on two successive
   scores (a Western Electric-style run rule), both anchored at intake.
g6 ``two-step mean`` (recommended): y4 - y0 >= RC/2 (3 points), or the mean of the last two
   scores (y3 + y4)/2 - y0 >= RC/3 (2 points). Per-session limit for the current score:
   L(s) = min(y0 + RC/2, 2*(y0 + RC/3) - y_{s-1}); flag when y_s >= L(s).
f  ``nn_exp``: Lutz et al. (2005)-style nearest neighbours: E = median score at session 4 of
   the service's other clients with the same intake score; flag y4 - E >= z * SEdiff, z = 1.28.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.trajectory_sim import simulate_service  # noqa: E402

RC = 6.0
SEDIFF = RC / 1.96
SEM = SEDIFF / np.sqrt(2.0)
AT = 4


def wide(obs, n_max: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Scores as an (n_clients, n_max) array (NaN past the end) and the count per client."""
    code, _ = obs["client_id"].factorize()
    k = np.bincount(code)
    y = np.full((k.size, n_max), np.nan)
    y[code, obs["session"].to_numpy()] = obs["score"].to_numpy()
    return y, k


def _design(y: np.ndarray):
    n, m = y.shape
    s = np.broadcast_to(np.arange(m), y.shape)
    ok = ~np.isnan(y) & (s >= 1)
    y0 = np.broadcast_to(y[:, :1], y.shape)[ok]
    ls = np.log1p(s[ok])
    return np.column_stack([ls, ls * y0]), (y[ok] - y0)


def fit_curve(y: np.ndarray, robust: bool) -> np.ndarray:
    """(b0, b1) of y_s - y0 = (b0 + b1*y0) log(1+s); least squares or L1 by IRLS."""
    x, d = _design(y)
    beta = np.linalg.lstsq(x, d, rcond=None)[0]
    if robust:
        for _ in range(50):
            w = 1.0 / np.maximum(np.abs(d - x @ beta), 0.05)
            xw = x * w[:, None]
            new = np.linalg.solve(x.T @ xw, xw.T @ d)
            if np.allclose(new, beta, atol=1e-6):
                break
            beta = new
    return beta


def expected(y0: np.ndarray, s: int, beta: np.ndarray) -> np.ndarray:
    return y0 + (beta[0] + beta[1] * y0) * np.log1p(s)


def scores(y: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """Continuous score and default threshold (flag when score >= threshold) per rule."""
    y0, y3, y4 = y[:, 0], y[:, AT - 1], y[:, AT]
    b_ls, b_l1 = fit_curve(y, False), fit_curve(y, True)
    r_ls = y4 - expected(y0, AT, b_ls)
    q90 = np.quantile(r_ls, 0.90)
    r_l1 = y4 - expected(y0, AT, b_l1)
    m34 = (y3 + y4) / 2 - y0
    s = np.arange(AT + 1) - AT / 2
    slope4 = 4 * (y[:, :AT + 1] @ s) / (s @ s)
    nn = np.empty_like(y4)
    for v in np.unique(y0):  # at most 28 intake values
        who = y0 == v
        tot, cnt = np.median(y4[who]), who.sum()
        # the median of the others is ~ the median of all for the counts here; exact LOO
        # matters only for tiny groups, where we fall back to the robust curve
        nn[who] = tot if cnt >= 30 else expected(v, AT, b_l1)
    r_nn = y4 - nn
    eps = 1e-9  # thresholds at the boundary count as reached (issue 21 part 5)
    return {
        "a current (LS curve, service q90)": (r_ls, q90 + eps),
        "b rise3: y4-y0>=3": (y4 - y0, 3 - eps),
        "b' rise2: y4-y0>=2 (RC/3)": (y4 - y0, 2 - eps),
        "c rci z=1.0: y4-y0>=3.06": (y4 - y0, 1.0 * SEDIFF - eps),
        "c rci z=1.28: y4-y0>=3.92": (y4 - y0, 1.28 * SEDIFF - eps),
        "d robust curve +1.28*SEdiff": (r_l1, 1.28 * SEDIFF - eps),
        "d' LS curve +1.28*SEdiff": (r_ls, 1.28 * SEDIFF - eps),
        "e1 mean34-y0>=1.0*2.65": (m34, 1.0 * SEM * np.sqrt(1.5) - eps),
        "e1 mean34-y0>=2.5": (m34, 2.5 - eps),
        "e2 4*slope04>=1.0*2.74": (slope4, 1.0 * 4 * SEM / np.sqrt(10) - eps),
        "f nn (same intake) +1.28*SEdiff": (r_nn, 1.28 * SEDIFF - eps),
        "_step": (y4 - y3, np.inf),  # helper: y4 - y3, for the run rule
    }


def combos(sc: dict) -> dict[str, np.ndarray]:
    flag = {k: v[0] >= v[1] for k, v in sc.items()}
    flag["e3 rise3 OR mean34>=2.5"] = flag["b rise3: y4-y0>=3"] | flag["e1 mean34-y0>=2.5"]
    d3, d4 = sc["b rise3: y4-y0>=3"][0] - sc["_step"][0], sc["b rise3: y4-y0>=3"][0]
    flag["g two-step: d4>=RC/2 or d3,d4>=RC/3"] = (d4 >= RC / 2 - 1e-9) | (
        (d3 >= RC / 3 - 1e-9) & (d4 >= RC / 3 - 1e-9))
    flag["g6 two-step mean: d4>=RC/2 or mean(d3,d4)>=RC/3"] = (d4 >= RC / 2 - 1e-9) | (
        (d3 + d4) / 2 >= RC / 3 - 1e-9)
    flag.pop("_step")
    flag["e3 rise3 OR robust curve"] = (flag["b rise3: y4-y0>=3"]
                                        | flag["d robust curve +1.28*SEdiff"])
    return flag


def sens_spec(flag: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    return float(flag[truth].mean()), float((~flag[~truth]).mean())


def at_spec(score: np.ndarray, truth: np.ndarray, target: float) -> float:
    """Best sensitivity over thresholds (flag score >= t) with specificity >= target."""
    best = 0.0
    for t in np.unique(score):
        f = score >= t
        se, sp = sens_spec(f, truth)
        if sp >= target:
            best = max(best, se)
    return best


def rise_at_spec(d: np.ndarray, truth: np.ndarray, target: float) -> float:
    """Sensitivity of "y4 - y0 >= c" at specificity ``target``, interpolating between integer
    thresholds c (the rule's ROC hull, i.e. randomising between neighbouring thresholds)."""
    pts = sorted(sens_spec(d >= c, truth)[::-1] for c in range(-27, 29))  # (spec, sens)
    sp, se = np.array(pts).T
    return float(np.interp(target, sp, se))


def auc(score: np.ndarray, truth: np.ndarray) -> float:
    from scipy.stats import rankdata
    r = rankdata(score)
    n1, n0 = truth.sum(), (~truth).sum()
    return float((r[truth].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def evaluate(n: int, share: float, seed: int, **kw) -> list[dict]:
    obs, truth = simulate_service(n, share, seed, **kw)
    y, k = wide(obs)
    use = k >= AT + 2
    y = y[use]
    last = y[np.arange(len(y)), k[use] - 1]
    rd = last - y[:, 0] >= RC
    sc = scores(y)
    fl = combos(sc)
    rows = []
    d = sc["b rise3: y4-y0>=3"][0]
    for name, f in fl.items():
        se, sp = sens_spec(f, rd)
        row = {"method": name, "share": share, "base_rate": rd.mean(), "n": int(use.sum()),
               "sens": se, "spec": sp, "flag_rate": f.mean()}
        row["rise_rule@same_spec"] = rise_at_spec(d, rd, sp)
        if name in sc:
            row.update({"sens@spec.80": at_spec(sc[name][0], rd, 0.80),
                        "sens@spec.90": at_spec(sc[name][0], rd, 0.90),
                        "auc": auc(sc[name][0], rd)})
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    import pandas as pd
    p = argparse.ArgumentParser(prog="python -m bench.early_warning")
    p.add_argument("--clients", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--robustness", action="store_true")
    p.add_argument("--at", type=int, default=4, help="session judged (2 or more; 0 = intake)")
    a = p.parse_args(argv)
    global AT
    AT = a.at
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 500)
    settings = [("default", {})]
    if a.robustness:
        settings += [("noise x0.75", {"noise_scale": 0.75}), ("noise x1.25", {"noise_scale": 1.25}),
                     ("6-8 scores", {"sessions": (6, 8)}), ("12-20 scores", {"sessions": (12, 20)}),
                     ("late onset 0..4", {"max_onset": 4})]
    for label, kw in settings:
        rows = []
        for share in (0.03, 0.08, 0.15, 0.25):
            rows += evaluate(a.clients, share, a.seed, **kw)
        df = pd.DataFrame(rows)
        print(f"\n## {label}: session {AT}, n = {a.clients} per service, seed {a.seed}\n")
        print(df.round(3).to_markdown(index=False))


if __name__ == "__main__":
    main()
