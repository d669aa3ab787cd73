"""``/v1/search``, ``/v1/sources``, ``/v1/collections``: searching and what is stored, through
``inlet.search``, ``inlet.suggest``, ``inlet.reindex``, ``inlet.sources``, ``inlet.show``,
``inlet.delete``, ``inlet.labels`` and ``inlet.set_labels``; ``/v1/sources/{id}/file`` serves the
original file (with range requests) and ``/v1/sources/{id}/thumbnail?t=SECONDS`` a video's still
at a second (``inlet.thumbnail``; without ``t``, its poster).
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

import inlet
from inlet.api.bodies import read_json
from inlet.api.jobs import settings_of
from inlet.api.problems import JSON, Problem
from inlet.records import KINDS

router = APIRouter(tags=["search and library"])

SOURCE_KEYS = ("source_id", "file", "kind", "collection", "pages", "duration_s", "chunks", "language", "size",
               "model", "ingested_at", "keywords", "summary", "category", "category_score")  # fmt: skip
_SOURCE_ID = re.compile(r"^[0-9a-f]{6,64}$")
_MEDIA_TYPES = {"pdf": "application/pdf", "text": "text/plain; charset=utf-8"}


def _source_id(value: str) -> str:
    if not _SOURCE_ID.match(value):
        raise Problem(
            "unknown_resource", f"{value!r} is not a source id (hexadecimal, as GET /v1/sources lists)."
        )
    return value


def file_link(hit: dict[str, Any]) -> str:
    """The original file of a hit, at its page (``#page=``) or its seconds (``#t=``, a media
    fragment a browser's player seeks to)."""
    url = f"/v1/sources/{hit['source_id']}/file"
    if hit.get("time_start") is not None:
        end = f",{hit['time_end']:.1f}" if hit.get("time_end") is not None else ""
        return f"{url}#t={hit['time_start']:.1f}{end}"
    if hit.get("page_start") is not None:
        return f"{url}#page={hit['page_start']}"
    return url


def thumbnail_link(hit: dict[str, Any]) -> str:
    """The still of a video hit at its first second."""
    return f"/v1/sources/{hit['source_id']}/thumbnail?t={float(hit.get('time_start') or 0.0):.1f}"


@router.get("/v1/search", response_class=JSON)
def search(
    request: Request,
    q: Annotated[
        str, Query(description='Words or a question; "a phrase" and -word in text and hybrid modes.')
    ],
    mode: Annotated[
        str, Query(description=f"One of {', '.join(inlet.SEARCH_MODES)}.")
    ] = inlet.DEFAULT_SEARCH_MODE,
    collection: str | None = None,
    kind: Annotated[
        list[str] | None, Query(description=f"Only these kinds (repeatable): {', '.join(KINDS)}.")
    ] = None,
    source: str | None = None,
    file: str | None = None,
    language: str | None = None,
    category: Annotated[str | None, Query(description="Only sources of this category.")] = None,
    keyword: Annotated[str | None, Query(description="Only sources with this keyword.")] = None,
    since: Annotated[
        str | None, Query(description="Ingested on or after: YYYY-MM-DD or an ISO time.")
    ] = None,
    until: Annotated[
        str | None, Query(description="Ingested on or before: YYYY-MM-DD or an ISO time.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 5,
) -> dict[str, Any]:
    """Search what was ingested, as ``inlet search`` does: each hit with its highlighted
    ``snippet`` (matches between ``**``), its ``citation`` and a link to the original file at
    the cited page or second; ``category`` and ``keywords`` are those of the hit's source."""
    if mode not in inlet.SEARCH_MODES:
        raise Problem(
            "invalid_request", f"mode must be one of {', '.join(inlet.SEARCH_MODES)}, not {mode!r}."
        )
    unknown = sorted(set(kind or ()) - set(KINDS))
    if unknown:
        raise Problem("invalid_request", f"kind must be among {', '.join(KINDS)}, not {', '.join(unknown)}.")
    hits = inlet.search(
        q, mode=mode, collection=collection, kind=kind or None, source=source, file=file, language=language,
        since=since, until=until, category=category, keyword=keyword, limit=limit, settings=settings_of(request),
    ).to_dicts()  # fmt: skip
    for hit in hits:
        hit["links"] = {"source": f"/v1/sources/{hit['source_id']}", "file": file_link(hit)}
        if hit.get("kind") == "video":
            hit["links"]["thumbnail"] = thumbnail_link(hit)
    return {"query": q, "mode": mode, "results": hits}


@router.get("/v1/search/suggest", response_class=JSON)
def suggest(
    request: Request,
    q: Annotated[str, Query(description="The partial query typed so far.")],
    collection: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 8,
) -> dict[str, Any]:
    """Completions of a partial query (titles first, then the last word completed)."""
    words = inlet.suggest(q, collection=collection, limit=limit, settings=settings_of(request))
    return {"prefix": q, "suggestions": words}


@router.post("/v1/reindex", response_class=JSON)
def reindex(request: Request, collection: str | None = None) -> Any:
    """Rebuild the search indexes (searches keep answering meanwhile); what was rebuilt."""
    return dict(inlet.reindex(collection, settings=settings_of(request)))


@router.get("/v1/sources", response_class=JSON)
def list_sources(
    request: Request,
    collection: str | None = None,
    kind: str | None = None,
    category: str | None = None,
    keyword: str | None = None,
) -> dict[str, Any]:
    """The ingested sources, newest first: one row per source and collection, with the
    ``keywords``, ``summary`` (sentences of the source with their citations) and ``category``
    the analyse stage found."""
    if kind is not None and kind not in KINDS:
        raise Problem("invalid_request", f"kind must be one of {', '.join(KINDS)}, not {kind!r}.")
    rows = inlet.sources(
        collection, kind=kind, category=category, keyword=keyword, settings=settings_of(request)
    ).to_dicts()
    return {"sources": [{k: r[k] for k in SOURCE_KEYS} | {"links": _source_links(r)} for r in rows]}


def _source_links(row: dict[str, Any]) -> dict[str, str]:
    return {"self": f"/v1/sources/{row['source_id']}", "file": f"/v1/sources/{row['source_id']}/file"}


@router.get("/v1/sources/{source_id}", response_class=JSON)
def show_source(request: Request, source_id: str) -> dict[str, Any]:
    """What was extracted from one source, as ``inlet show`` gives it: its text by page, or its
    transcript by second."""
    shown = inlet.show(_source_id(source_id), settings=settings_of(request))
    shown.pop("path", None)  # where the server keeps it is its own business
    return shown | {"links": _source_links(shown)}


@router.delete("/v1/sources/{source_id}", response_class=JSON)
def delete_source(
    request: Request, source_id: str, collection: str | None = None, purge_cache: bool = False
) -> Any:
    """Remove a source from the index (from ``collection`` only, when given), as ``inlet delete``."""
    return inlet.delete(
        _source_id(source_id), collection=collection, purge_cache=purge_cache, settings=settings_of(request)
    )


@router.get("/v1/collections", response_class=JSON)
def list_collections(request: Request) -> dict[str, Any]:
    """The collections: sources, chunks, kinds, pages, seconds of audio, last ingest and the
    embedding model each was made with (``model``)."""
    return {"collections": inlet.collections(settings=settings_of(request)).to_dicts()}


@router.get("/v1/collections/{name}/labels", response_class=JSON)
def get_labels(request: Request, name: str) -> dict[str, Any]:
    """A collection's labels (``name``, ``description``), in order."""
    return {"collection": name, "labels": inlet.labels(name, settings=settings_of(request))}


@router.put("/v1/collections/{name}/labels", response_class=JSON)
async def put_labels(request: Request, name: str) -> Any:
    """Replace a collection's labels and categorise its sources again, as ``inlet collections
    set-labels``: the body is ``{"labels": ["biology: cells, proteins, disease", ...]}`` (an
    empty list clears them)."""
    body = await read_json(request)
    labels = body.get("labels") if isinstance(body, dict) else None
    if not isinstance(labels, list) or not all(isinstance(t, str) for t in labels):
        raise Problem("invalid_request", 'Send {"labels": ["name: description", ...]} ([] clears them).')
    s = settings_of(request)
    return await run_in_threadpool(lambda: inlet.set_labels(name, labels, settings=s))


@router.delete("/v1/collections/{name}/labels", response_class=JSON)
def delete_labels(request: Request, name: str) -> Any:
    """Remove a collection's labels, and so its sources' categories."""
    return inlet.set_labels(name, None, settings=settings_of(request))


@router.delete("/v1/collections/{name}", response_class=JSON)
def delete_collection(request: Request, name: str, purge_cache: bool = False) -> Any:
    """Remove a whole collection from the index; job history and errors stay."""
    return inlet.delete(collection=name, purge_cache=purge_cache, settings=settings_of(request))


@router.get(
    "/v1/sources/{source_id}/file",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {"description": "A byte range of it"},
    },
)
def source_file(request: Request, source_id: str) -> FileResponse:
    """The original file as it was ingested. Range requests are answered with 206, so a
    browser's player can seek to a cited second (``#t=`` in the search hits' file link) and a
    PDF viewer open a cited page (``#page=``)."""
    wanted = _source_id(source_id)
    rows = [r for r in inlet.sources(settings=settings_of(request)).to_dicts() if r["source_id"] == wanted]
    if not rows:
        raise Problem("unknown_resource", f"No ingested source has the id {wanted}.")
    row = rows[0]
    path = Path(row["path"])
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    if size is None or not path.is_file() or (row["size"] is not None and size != row["size"]):
        raise Problem(
            "file_gone", f"{row['file']} is no longer at the place it was ingested from, or it changed."
        )
    media = (
        _MEDIA_TYPES.get(row["kind"]) or mimetypes.guess_type(row["file"])[0] or "application/octet-stream"
    )
    return FileResponse(path, media_type=media, filename=row["file"], content_disposition_type="inline")


@router.get(
    "/v1/sources/{source_id}/thumbnail",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def source_thumbnail(
    request: Request,
    source_id: str,
    t: Annotated[
        float | None,
        Query(ge=0, description="The second of the video (a hit's time_start); none: the poster."),
    ] = None,
) -> FileResponse:
    """A JPEG still (320 pixels wide) of a video at second ``t``: the key frame at or before it,
    as ``inlet.thumbnail`` makes it (video hits of ``/v1/search`` link to theirs); without ``t``
    the video's poster, its most detailed key frame that is not black."""
    try:
        path = inlet.thumbnail(_source_id(source_id), t, settings=settings_of(request))
    except FileNotFoundError as exc:
        raise Problem("file_gone", str(exc)) from exc
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})
