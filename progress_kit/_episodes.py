"""Per-episode statistics through one combined key (issue 26, episodes of care).

Where the observations carry an ``episode_id`` column (:func:`progress_kit.load_data` adds it
when the clients table has one), a statistic runs per (client, episode): every frame's
``client_id`` is replaced by one integer code per (client_id, episode_id) pair, the unchanged
statistic runs on those codes, and its per-client index is turned back into a
(``client_id``, ``episode_id``) MultiIndex. The statistics' vectorised internals thus stay as they
are, and data without the column never come here (their path is byte for byte the old one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ._dask import is_dask_collection
from .data import EPISODE

INDEX = ["client_id", EPISODE]
METHOD = "per episode of care: one result per (client_id, episode_id)"


def has_episodes(frame: Any, subject: str = "client_id") -> bool:
    """True when ``frame`` carries episodes for ``subject`` (only ``client_id`` has them).

    A dask collection with the column is refused: the partition-wise implementations group by
    client only.
    """
    if subject != "client_id" or frame is None or EPISODE not in getattr(frame, "columns", ()):
        return False
    if is_dask_collection(frame):
        raise ValueError("episodes (an episode_id column) are not supported for dask input yet: "
                         "compute() the frame first, or drop episode_id for one episode per "
                         "client")
    return True


def _codes(frame: pd.DataFrame, name: str) -> tuple[pd.Series, pd.Series]:
    if EPISODE not in frame.columns:
        raise ValueError(f"{name} has no {EPISODE!r} column, but the observations have one: "
                         "give every table its episodes (progress_kit.load_data does, or "
                         "progress_kit.assign_episodes)")
    episode = frame[EPISODE]
    if episode.isna().any():
        raise ValueError(f"{name} has rows without an {EPISODE} (a row between two episodes?); "
                         "progress_kit.load_data lists and leaves out such rows")
    return frame["client_id"], episode


def keyed(frames: dict[str, pd.DataFrame | None]) -> tuple[dict, pd.MultiIndex]:
    """The frames with ``client_id`` replaced by one integer per (client, episode), and the
    (client_id, episode_id) pair of each integer (sorted, so codes sort as the pairs do).

    Vectorised: the client and the episode columns are factorised apart (sorted), their codes
    combined into one integer, and the integers numbered by one ``np.unique``.
    """
    given = {k: f for k, f in frames.items() if f is not None}
    columns = {k: _codes(f, k) for k, f in given.items()}
    client = pd.concat([c.astype(str) for c, _ in columns.values()], ignore_index=True) \
        if columns else pd.Series([], dtype=str)
    episode = pd.concat([e.astype(str) for _, e in columns.values()], ignore_index=True) \
        if columns else pd.Series([], dtype=str)
    c_code, c_uniq = pd.factorize(client, sort=True)
    e_code, e_uniq = pd.factorize(episode, sort=True)
    combined = c_code.astype(np.int64) * max(len(e_uniq), 1) + e_code
    uniq, codes = np.unique(combined, return_inverse=True)
    pairs = pd.MultiIndex.from_arrays(
        [np.asarray(c_uniq, dtype=object)[uniq // max(len(e_uniq), 1)],
         np.asarray(e_uniq, dtype=object)[uniq % max(len(e_uniq), 1)]], names=INDEX)
    out: dict[str, pd.DataFrame | None] = dict.fromkeys(frames)
    start = 0
    for k, f in given.items():
        part = codes[start:start + len(f)]
        start += len(f)
        out[k] = f.drop(columns=EPISODE).assign(client_id=part.astype(np.int64))
    return out, pairs


def decoded(result: pd.DataFrame, pairs: pd.MultiIndex, subject: str = "client_id"
            ) -> pd.DataFrame:
    """``result`` indexed by (client_id, episode_id) instead of the integer codes; the same for
    ``attrs["excluded"]``; ``attrs["method"]`` says it is per episode."""
    attrs = dict(result.attrs)
    out = result.copy()
    out.index = pairs[np.asarray(result.index, dtype=np.int64)]
    excluded = attrs.get("excluded")
    if isinstance(excluded, pd.DataFrame) and subject in excluded.columns:
        at = pairs[excluded[subject].to_numpy(dtype=np.int64)]
        excluded = excluded.drop(columns=subject)
        excluded.insert(0, EPISODE, at.get_level_values(EPISODE))
        excluded.insert(0, subject, at.get_level_values("client_id"))
        attrs["excluded"] = excluded.reset_index(drop=True)
    attrs["method"] = add_to_method(attrs["method"], METHOD) if "method" in attrs else METHOD
    out.attrs = attrs
    return out


def add_to_method(method: str, text: str) -> str:
    """``method`` with one more clause: after "; " or, when it ends a sentence, as a new one
    (not again when it is there already, e.g. from an input's attrs)."""
    method = method.rstrip()
    if text.lower() in method.lower():
        return method
    return f"{method} {text[0].upper()}{text[1:]}." if method.endswith(".") else \
        f"{method}; {text}"


def decoded_column(result: pd.DataFrame, pairs: pd.MultiIndex, column: str = "client_id"
                   ) -> pd.DataFrame:
    """A long ``result`` whose ``column`` holds the integer codes: the client IDs again, with
    ``episode_id`` beside them."""
    attrs = dict(result.attrs)
    at = pairs[result[column].to_numpy(dtype=np.int64)]
    out = result.copy()
    out[column] = at.get_level_values("client_id").to_numpy(dtype=object)
    out.insert(out.columns.get_loc(column) + 1, EPISODE,
               at.get_level_values(EPISODE).to_numpy(dtype=object))
    attrs["method"] = add_to_method(attrs["method"], METHOD) if "method" in attrs else METHOD
    out.attrs = attrs
    return out


def per_episode(fn: Callable[..., Any], frames: dict[str, pd.DataFrame | None], *,
                column: str | None = None, **kwargs: Any) -> Any:
    """``fn(**frames, **kwargs)`` per (client, episode): its result indexed by (client_id,
    episode_id), or with ``column`` (a long result) holding client_id with episode_id beside it.
    """
    coded, pairs = keyed(frames)
    result = fn(**coded, **kwargs)
    return decoded(result, pairs) if column is None else decoded_column(result, pairs, column)


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth")


def ordinal(k: np.ndarray) -> np.ndarray:
    """1 -> 'first', 2 -> 'second', ... ; beyond ten 'episode 11'."""
    k = np.asarray(k, dtype=np.int64)
    names = np.array(_ORDINALS, dtype=object)
    return np.where(k <= len(names), names[np.clip(k - 1, 0, len(names) - 1)],
                    "episode " + k.astype(str).astype(object))


def episodes_of(observations: pd.DataFrame, clients: pd.DataFrame | None,
                as_of: Any = None) -> pd.DataFrame:
    """Every (client, episode) in order: ``start``, ``end`` (the clients table's dates; without
    it the first and last observation), ``number`` (1 = the client's first by start date) and
    ``dated_end`` (True where ``end`` is a recorded end date). Episodes starting after a date
    ``as_of`` are left out."""
    if clients is not None and EPISODE in clients.columns and "start_date" in clients.columns:
        eps = pd.DataFrame({"client_id": clients["client_id"].astype(str).to_numpy(),
                            EPISODE: clients[EPISODE].astype(str).to_numpy(),
                            "start": clients["start_date"].to_numpy(),
                            "end": (clients["end_date"] if "end_date" in clients.columns
                                    else pd.Series(pd.NaT, index=clients.index)).to_numpy()})
        eps["dated_end"] = eps["end"].notna()
    else:
        key = [observations["client_id"].astype(str), observations[EPISODE].astype(str)]
        eps = observations.groupby(key, sort=False)["date"].agg(["min", "max"])
        eps = eps.rename(columns={"min": "start", "max": "end"}).reset_index()
        eps.columns = ["client_id", EPISODE, "start", "end"]
        eps["dated_end"] = False
    if as_of is not None and pd.api.types.is_datetime64_any_dtype(eps["start"]):
        eps = eps[eps["start"] <= pd.Timestamp(as_of)]
    eps = eps.sort_values(["client_id", "start"], kind="stable", ignore_index=True)
    eps["number"] = eps.groupby("client_id").cumcount().to_numpy() + 1
    return eps


def in_pairs(frame: pd.DataFrame, pairs: pd.MultiIndex, name: str) -> np.ndarray:
    """Mask of the rows of ``frame`` whose (client_id, episode_id) is among ``pairs``.

    Vectorised: both columns factorised together with the pairs' levels, the codes combined into
    one integer and looked up with ``np.isin``.
    """
    client, episode = _codes(frame, name)
    n = len(frame)
    c_code, _ = pd.factorize(pd.concat([client.astype(str), pd.Series(
        pairs.get_level_values(0).astype(str))], ignore_index=True))
    e_code, e_uniq = pd.factorize(pd.concat([episode.astype(str), pd.Series(
        pairs.get_level_values(1).astype(str))], ignore_index=True))
    key = c_code.astype(np.int64) * max(len(e_uniq), 1) + e_code
    return np.isin(key[:n], key[n:])


def only(frame: pd.DataFrame | None, pairs: pd.MultiIndex, name: str) -> pd.DataFrame | None:
    """The rows of ``frame`` whose (client_id, episode_id) is among ``pairs``, without the
    ``episode_id`` column."""
    if frame is None:
        return None
    return frame[in_pairs(frame, pairs, name)].drop(columns=EPISODE).reset_index(drop=True)
