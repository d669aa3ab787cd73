"""inlet: turn documents and recordings into a searchable knowledge base.

    >>> import inlet
    >>> inlet.ingest(["~/papers", "~/recordings"], collection="research")   # doctest: +SKIP
    >>> inlet.search("ask not what your country can do for you")            # doctest: +SKIP

Results are polars DataFrames (search hits, errors) or small objects with a notebook view.
One private module per concern: ``_jobs`` (submitting work), ``_search``, ``_library`` (what
is stored), ``_reports`` (analytics); the ``inlet`` command lives in ``inlet.cli``. Each name
is imported from its module when it is first used, so ``import inlet`` itself is instant.

For apps built on inlet (the dashboard, a web backend) four public modules hold what a
notebook does not need: ``inlet.config`` (the settings object every function takes),
``inlet.uploads`` (checking and keeping uploaded files),
``inlet.formats`` (sizes and times written as inlet writes them) and ``inlet.records`` (kinds
of source, job statuses). ``inlet.api`` is the HTTP API (``inlet serve``), an app of this facade.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from inlet._health import health, status
    from inlet._jobs import JobSummary, cancel, ingest, keep_serving, retry, submit, wait
    from inlet._library import collections, delete, labels, set_labels, show, sources, thumbnail
    from inlet._reports import error_classes, errors, export, job_sources, jobs, stats
    from inlet._search import (
        DEFAULT_SEARCH_MODE,
        SEARCH_MODES,
        preload,
        reindex,
        search,
        search_needs_embedder,
        suggest,
    )
    from pipelines.errors import InletError

_HOMES = {
    "inlet._health": ("health", "status"),
    "inlet._jobs": ("JobSummary", "cancel", "ingest", "keep_serving", "retry", "submit", "wait"),
    "inlet._library": ("collections", "delete", "labels", "set_labels", "show", "sources", "thumbnail"),
    "inlet._reports": ("error_classes", "errors", "export", "job_sources", "jobs", "stats"),
    "inlet._search": (
        "DEFAULT_SEARCH_MODE", "SEARCH_MODES", "preload", "reindex", "search", "search_needs_embedder",
        "suggest",
    ),
    "pipelines.errors": ("InletError",),
}  # fmt: skip
"""Where each public name lives. A name is imported on first use (PEP 562), so ``import inlet``
and the ``inlet`` command load only what they use: ``inlet --help`` imports no store, no
frame library and no Prefect."""
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> _typing.Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'inlet' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "DEFAULT_SEARCH_MODE",
    "InletError",
    "JobSummary",
    "SEARCH_MODES",
    "cancel",
    "collections",
    "delete",
    "error_classes",
    "errors",
    "export",
    "health",
    "status",
    "ingest",
    "job_sources",
    "jobs",
    "keep_serving",
    "labels",
    "preload",
    "reindex",
    "retry",
    "search",
    "search_needs_embedder",
    "set_labels",
    "show",
    "sources",
    "stats",
    "submit",
    "suggest",
    "thumbnail",
    "wait",
]
__version__ = "0.1.0"
