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


def _pairs(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    if EPISODE not in frame.columns:
        raise ValueError(f"{name} has no {EPISODE!r} column, but the observations have one: "
                         "give every table its episodes (progress_kit.load_data does, or "
                         "progress_kit.assign_episodes)")
    episode = frame[EPISODE]
    if episode.isna().any():
        raise ValueError(f"{name} has rows without an {EPISODE} (a row between two episodes?); "
                         "progress_kit.load_data lists and leaves out such rows")
    return (frame["client_id"].astype(str).to_numpy(dtype=object),
            episode.astype(str).to_numpy(dtype=object))


def keyed(frames: dict[str, pd.DataFrame | None]) -> tuple[dict, pd.MultiIndex]:
    """The frames with ``client_id`` replaced by one integer per (client, episode), and the
    (client_id, episode_id) pair of each integer (sorted, so codes sort as the pairs do)."""
    given = {k: f for k, f in frames.items() if f is not None}
    pairs = {k: _pairs(f, k) for k, f in given.items()}
    both = pd.MultiIndex.from_arrays(
        [np.concatenate([p[0] for p in pairs.values()] or [np.zeros(0, object)]),
         np.concatenate([p[1] for p in pairs.values()] or [np.zeros(0, object)])], names=INDEX)
    codes, uniques = both.factorize(sort=True)
    out: dict[str, pd.DataFrame | None] = dict.fromkeys(frames)
    start = 0
    for k, f in given.items():
        part = codes[start:start + len(f)]
        start += len(f)
        out[k] = f.drop(columns=EPISODE).assign(client_id=part.astype(np.int64))
    return out, pd.MultiIndex.from_arrays(
        [uniques.get_level_values(0), uniques.get_level_values(1)], names=INDEX)


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
    if "method" in attrs:
        attrs["method"] = f"{attrs['method']}; {METHOD}"
    out.attrs = attrs
    return out


def per_episode(fn: Callable[..., pd.DataFrame], frames: dict[str, pd.DataFrame | None],
                **kwargs: Any) -> pd.DataFrame:
    """``fn(**frames, **kwargs)`` per (client, episode), indexed by (client_id, episode_id)."""
    coded, pairs = keyed(frames)
    return decoded(fn(**coded, **kwargs), pairs)
