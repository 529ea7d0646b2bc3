"""Work a report's sections skip when its result is not shown (docs/performance.md, round five):
the diary's "what there is" summary is computed only when there is no two-week trend."""

import dataclasses

import pandas as pd
import pytest

import progress_kit as pk
from progress_kit.reports import notebook as rn
from progress_kit.reports.context import clients_active_in
from progress_kit.reports.sections import client as sc

MONTH = "2026-10"


@pytest.fixture(scope="module")
def clinic():
    return pk.demo_data(n_clients=12, months=4, seed=2, end="2026-10-31")


def _with_diary(clinic):
    for cid in clients_active_in(clinic, MONTH):
        rd = rn.client_data(clinic, cid, MONTH)
        if not rd.diary.empty and (rd.diary["date"] >= rd.start).any():
            return rd
    pytest.skip("no client with a diary this month")


def test_summary_is_skipped_when_a_trend_is_shown(clinic, monkeypatch):
    rd = _with_diary(clinic)
    calls = []
    real = sc._window_summary
    monkeypatch.setattr(sc, "_window_summary", lambda *a, **k: calls.append(1) or real(*a, **k))
    sec = sc.diary_month(rd)
    assert "Two-week trend" in sec.message and "What there is" not in sec.message
    assert not calls


def test_summary_is_said_when_the_diary_is_too_sparse_for_a_trend(clinic):
    rd = _with_diary(clinic)
    last = rd.diary["date"].max()
    # keep every fourth of the last two weeks' diary days: fewer than 7, so no trend
    recent = rd.diary[rd.diary["date"] > last - pd.Timedelta(days=14)]
    keep_days = sorted(recent["date"].unique())[::4]
    thin = rd.diary[(rd.diary["date"] <= last - pd.Timedelta(days=14))
                    | rd.diary["date"].isin(keep_days)]
    sec = sc.diary_month(dataclasses.replace(rd, diary=thin, derived={}))
    assert "No two-week trend" in sec.message and "What there is: " in sec.message
