"""inlet: turn documents and recordings into a searchable knowledge base.

    >>> import inlet
    >>> inlet.ingest(["~/papers", "~/recordings"], collection="research")   # doctest: +SKIP
    >>> inlet.search("ask not what your country can do for you")            # doctest: +SKIP

Results are polars DataFrames (search hits, errors) or small objects with a notebook view.
"""

from inlet.api import JobSummary, errors, ingest, search, show, stats

__all__ = ["JobSummary", "errors", "ingest", "search", "show", "stats"]
__version__ = "0.1.0"
