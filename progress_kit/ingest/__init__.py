"""Read outside sources into the kit's tables: FHIR, REDCap and other wide exports, SQL databases.

Each reader returns the same validated tables as :func:`progress_kit.load_data` (observations and
items, plus stub clients where the source has none) with every problem listed. See
``docs/ingest.md``.
"""

from ._common import ImportedData
from .fhir import *  # noqa: F403
from .fhir import __all__ as _fhir_all
from .redcap import *  # noqa: F403
from .redcap import __all__ as _redcap_all
from .sql import *  # noqa: F403
from .sql import __all__ as _sql_all
from .wide import *  # noqa: F403
from .wide import __all__ as _wide_all

__all__ = ["ImportedData", *_fhir_all, *_redcap_all, *_sql_all, *_wide_all]
