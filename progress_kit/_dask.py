"""The one-way hook between the statistics modules and the Dask dispatch.

The statistics modules (change, outcomes, trajectories) ask :func:`is_dask_collection` and hand a
dask collection to :func:`dask_dispatch`. They never import :mod:`progress_kit.distributed`:
that module imports them, and registers its partition-wise implementations here when it is
imported (``progress_kit/__init__.py`` does so). Imports therefore flow one way:
``distributed`` -> statistics -> ``_dask``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {}


def is_dask_collection(obj: Any) -> bool:
    """True for a dask DataFrame (checked by type, so dask need not be installed)."""
    return type(obj).__module__.split(".")[0] in ("dask", "dask_expr")


def register(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: ``fn`` is the Dask implementation of the statistic ``name``."""
    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        _IMPLEMENTATIONS[name] = fn
        return fn

    return add


def dask_dispatch(name: str, *args: Any, **kwargs: Any) -> Any:
    """Run the registered Dask implementation of ``name``."""
    try:
        fn = _IMPLEMENTATIONS[name]
    except KeyError:
        raise RuntimeError(f"no Dask implementation of {name!r} is registered; "
                           "import progress_kit (which imports progress_kit.distributed)") from None
    return fn(*args, **kwargs)
