"""Every piece of text the dashboard shows, in one place (STYLE habit 15).

Pages import these constants; tests assert on the same constants, so wording can change here
without breaking a test. Strings with ``{…}`` fields are filled with ``str.format``.
"""

from __future__ import annotations

# --- app -----------------------------------------------------------------------------------
APP_TITLE = "inlet"
APP_ICON = ":material/manage_search:"

# --- navigation ----------------------------------------------------------------------------
UPLOAD_NAV = "Upload"
UPLOAD_ICON = ":material/upload_file:"
JOBS_NAV = "Jobs"
JOBS_ICON = ":material/pending_actions:"
SEARCH_NAV = "Search"
SEARCH_ICON = ":material/search:"
LIBRARY_NAV = "Library"
LIBRARY_ICON = ":material/library_books:"
STATISTICS_NAV = "Statistics"
STATISTICS_ICON = ":material/monitoring:"
ERRORS_NAV = "Errors"
ERRORS_ICON = ":material/error:"
HEALTH_NAV = "Health"
HEALTH_ICON = ":material/health_and_safety:"
NAV_WORK = "Work"
NAV_FIND = "Find"
NAV_WATCH = "Watch"

# --- shared --------------------------------------------------------------------------------
ALL = "All"
STORE_CAPTION = "Store: `{home}`"
EMPTY_STORE = (
    "Nothing is indexed yet. Add documents and recordings from a terminal with "
    "`inlet ingest PATH` (for example `inlet ingest ~/papers --collection research`), "
    "then come back to this page."
)
KIND_LABELS = {
    "pdf": "PDF",
    "text": "Text",
    "html": "Web page",
    "docx": "Word",
    "pptx": "PowerPoint",
    "xlsx": "Excel",
    "odt": "OpenDocument text",
    "ods": "OpenDocument spreadsheet",
    "odp": "OpenDocument presentation",
    "epub": "E-book",
    "email": "E-mail",
    "image": "Image",
    "audio": "Audio",
    "video": "Video",
}
KIND_ICONS = {
    "pdf": ":material/picture_as_pdf:",
    "text": ":material/article:",
    "html": ":material/web:",
    "docx": ":material/description:",
    "pptx": ":material/slideshow:",
    "xlsx": ":material/table_chart:",
    "odt": ":material/description:",
    "ods": ":material/table_chart:",
    "odp": ":material/slideshow:",
    "epub": ":material/menu_book:",
    "email": ":material/mail:",
    "image": ":material/image:",
    "audio": ":material/graphic_eq:",
    "video": ":material/movie:",
}
UNKNOWN_ICON = ":material/draft:"
UNKNOWN_KIND = "not identified"
FAILED = "{message}  \n**What to do:** {hint}"

# --- search page ---------------------------------------------------------------------------
SEARCH_TITLE = "Search"
SEARCH_INTRO = (
    "Find passages in your documents and recordings, each with the page or the second it comes from."
)
QUERY_LABEL = "Search for"
QUERY_PLACEHOLDER = "a question or a few words, e.g. ask not what your country can do for you"
MODE_LABEL = "Match by"
MODE_OPTIONS = {"hybrid": "Both", "vector": "Meaning", "text": "Keywords"}
MODE_HELP = (
    "**Meaning** finds passages that say the same thing in other words (vector search). "
    "**Keywords** finds the words themselves; put a phrase in double quotes. "
    "**Both** merges the two rankings (best on the SciFact benchmark). Misspelt words still match."
)
COLLECTION_LABEL = "Collection"
KIND_LABEL = "Kind"
LIMIT_LABEL = "Results"
SUGGESTIONS_LABEL = "Suggestions"
MORE_FILTERS = "More filters: file, language, date"
FILE_LABEL = "File"
LANGUAGE_LABEL = "Language"
DATES_LABEL = "Ingested between"
DATES_HELP = "Only sources ingested on these days (the first and the last day included)."
LOADING_MODEL = "Loading the embedding model (once per dashboard process)…"
SEARCHING = "Searching…"
NO_HITS = "No passages match “{query}”. Try other words, another mode, or “{all}” collections."
HITS_CAPTION = "{n} passages, best first."
SCORE_LABELS = {"vector": "similarity", "text": "keyword score", "hybrid": "fused score"}
SCORE = "{label} {score:.3f}"
IN_COLLECTION = "collection `{collection}`"
MEDIA_MISSING = "The recording is no longer at `{path}`, so it cannot be played here."
STILL_CAPTION = "at {at}"
POSTER_CAPTION = "the video's poster: its most detailed picture"
SEARCH_FAILED = "The search failed."

# --- library page --------------------------------------------------------------------------
LIBRARY_TITLE = "Library"
LIBRARY_INTRO = "What is indexed, per collection and kind, and what went wrong."
METRIC_SOURCES = "Sources"
METRIC_CHUNKS = "Passages"
METRIC_COLLECTIONS = "Collections"
METRIC_JOBS = "Jobs"
METRIC_ERRORS = "Errors"
COLLECTIONS_HEADER = "Collections"
KINDS_HEADER = "Kinds"
CATEGORY_LABEL = "Category"
KEYWORD_LABEL = "Keyword"
NO_CATEGORY = "no category"
SUMMARIES_HEADER = "What is in each source"
SUMMARIES_CAPTION = (
    "Keywords, the most central sentences (copied from the source, with their place) and the "
    "category: the collection's label the source is most similar to. The first {shown} of {total} sources."
)
NO_SUMMARY = "No summary: the source was indexed without the analyse stage, or has no full sentences."
LABELS_HEADER = "Labels"
LABELS_CAPTION = (
    "Each source of a collection gets the label its text is most similar to. One label a line, "
    "`name: description` (the description helps: a few words of what belongs there). Saving "
    "categorises the collection again at once; nothing is embedded again but the labels."
)
LABELS_COLLECTION = "Collection"
LABELS_BOX = "Labels, one a line"
LABELS_PLACEHOLDER = "biology: cells, proteins, disease\nphysics: particles, energy, motion"
LABELS_SAVE = "Save labels"
LABELS_CLEAR = "Clear labels"
LABELS_SAVED = "{collection}: {categorised} of {sources} sources categorised."
LABELS_CLEARED = "{collection}: labels and categories cleared."
LABELS_INVALID = "Labels not saved: {message}"
SOURCES_HEADER = "Sources"
ERRORS_HEADER = "Recent errors"
NO_ERRORS = "No errors recorded."
ERRORS_CAPTION = (
    "The latest {shown} of {total} errors, newest first. `inlet errors --json` lists them all with details."
)

# Column headings of the library tables (keys are the helpers' column names).
COLUMNS = {
    "collection": "Collection",
    "kind": "Kind",
    "sources": "Sources",
    "chunks": "Passages",
    "model": "Embedding model",
    "file": "File",
    "length": "Length",
    "size": "Size",
    "language": "Language",
    "ingested_at": "Ingested",
    "category": "Category",
    "keywords": "Keywords",
    "path": "Path",
    "at": "When",
    "class": "Error",
    "message": "Message",
    "hint": "What to do",
    "stage": "Stage",
    "retryable": "Retried",
    "what": "What",
    "rows": "Rows",
    "package": "Package",
    "version": "Version",
    "stage_label": "Stage",
    "status": "Status",
    "progress": "Progress",
    "job_id": "Job",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "success": "Success",
    "queries": "Queries",
    "no_results": "Without results",
    "p50_ms": "Median ms",
    "p95_ms": "95th pct. ms",
    "mode": "Mode",
}
PAGES = "{n} pages"
ONE_PAGE = "1 page"

# --- upload page ---------------------------------------------------------------------------
UPLOAD_TITLE = "Upload"
UPLOAD_INTRO = (
    "Drop documents and recordings here. Each file is checked (its kind from its content, its size, "
    "its length) before it is kept; the files that pass become one job."
)
UPLOAD_LABEL = "Files to add"
UPLOAD_HELP = (
    "PDF, text or Markdown, web pages (HTML, XHTML), Word (DOCX), PowerPoint (PPTX), Excel (XLSX), OpenDocument (ODT, ODS, ODP), EPUB e-books, e-mail (EML), "
    "images and scans read by OCR (PNG, JPEG, TIFF, WebP, BMP, GIF), audio (WAV, MP3, M4A, FLAC, OGG) "
    "and video (MP4, MKV, MOV, WebM). Speech is transcribed in the language spoken, stretch by stretch "
    "(English by the fast English model); video hits show a still of their second. "
    "The kind comes from the content, not the name."
)
UPLOAD_LIMITS = (
    "Limits: PDF {pdf}, text {text}, web page {html}, Word {docx}, PowerPoint {pptx}, Excel {xlsx}, OpenDocument text {odt}, spreadsheet {ods}, presentation {odp}, EPUB {epub}, e-mail {email}, "
    "image {image}, audio {audio}, video {video}; recordings up to {seconds}, PDFs up to {pages} pages, up to "
    "{ocr_pages} pages read by OCR per file, workbooks up to {cells} cells with a value, images up to {pixels} "
    "megapixels, video pictures up to {video_pixels} megapixels."
)
VIDEO_FACTS_HEAD = "Video"
VIDEO_SOUND = "{codec} sound"
VIDEO_NO_SOUND = "no sound track"
UPLOAD_COLLECTION_LABEL = "Collection"
UPLOAD_COLLECTION_HELP = "An existing collection, or type a new name."
UPLOAD_PRIORITY_LABEL = "Priority"
PRIORITY_OPTIONS = {"high": "High", "normal": "Normal", "low": "Low"}
UPLOAD_BUTTON = "Check and submit"
UPLOAD_NOTHING = "Choose or drop at least one file first."
UPLOAD_BAD_COLLECTION = "Give the collection a name (letters, digits, dashes)."
UPLOAD_CHECKING = "Checking {n} files…"
UPLOAD_REJECTED = "**{name}** was not accepted: {message}.  \n**What to do:** {hint}"
UPLOAD_NONE_ACCEPTED = "No file was accepted, so nothing was queued."
UPLOAD_ACCEPTED = "{n} files accepted ({names}) and queued as job `{job_id}`."
UPLOAD_ONE_ACCEPTED = "1 file accepted ({names}) and queued as job `{job_id}`."
UPLOAD_SEE_JOB = "Follow the job"
UPLOAD_SUBMIT_FAILED = "The files were kept in `{folder}` but the job could not be submitted: {message}"

# --- jobs page -----------------------------------------------------------------------------
JOBS_TITLE = "Jobs"
JOBS_INTRO = "Running and recent jobs, refreshed every {seconds} seconds."
NO_JOBS = "No job has been submitted yet. Add files on the Upload page, or run `inlet ingest PATH`."
JOB_LABEL = "Job {job_id} · {collection} · {status}"
JOB_STATUS = {
    "queued": "queued",
    "running": "running",
    "completed": "done",
    "partially_failed": "done, some files failed",
    "failed": "failed",
    "cancelled": "cancelled",
}
JOB_PROGRESS = "{percent}% · {eta}"
ETA = "about {clock} left"
ETA_UNKNOWN = "time left not known yet"
ETA_DONE = "finished"
JOB_SUMMARY = (
    "{sources} files, {failed} failed · priority {priority} · submitted {submitted} · finished {finished}"
)
JOB_SUMMARY_RUNNING = "{sources} files, {failed} failed · priority {priority} · submitted {submitted}"
LAST_MESSAGE = "Last: {message}"
STUCK = (
    "No progress for a while: the worker puts a stuck job back on its queue, and fails what is still "
    "unfinished as `stuck` if it sticks again."
)
REQUEUED = " · requeued {requeues}× (stuck)"
WORKER_RESTARTED = "The local worker had stopped with jobs left; a new one was started and resumes them."
CANCEL = "Cancel job"
CANCEL_OUTCOME = {
    "cancelled": "Job `{job_id}` was cancelled before it started.",
    "cancelling": "Job `{job_id}` stops before its next step; what is indexed stays.",
    "finished": "Job `{job_id}` had already finished.",
    "unknown": "No job `{job_id}` is known.",
}
RETRY_FAILED = "Retry failed files"
RETRIED = "Failed files of `{job_id}` resubmitted as job `{new_id}`."
NOTHING_TO_RETRY = "Job `{job_id}` has no failed file to retry."
PREFECT_LINK = "Flow run in Prefect"
SHOW_ALL_JOBS = "Show all jobs"
SELECTED_JOB = "Showing job `{job_id}` (from the link)."
JOB_NOT_FOUND = "No job `{job_id}` is known in this store."
RECENT_JOBS = "Recent jobs"
SOURCE_STAGE = {
    "validate": "checking",
    "extract": "extracting text",
    "transcribe": "transcribing",
    "chunk": "splitting",
    "embed": "embedding",
    "analyse": "analysing",
    "index": "indexing",
}
SOURCE_STATUS = {
    "pending": "waiting",
    "running": "working",
    "retrying": "retrying",
    "ingested": "done",
    "unchanged": "unchanged",
    "failed": "failed",
    "cancelled": "cancelled",
}

# --- statistics page -----------------------------------------------------------------------
STATISTICS_TITLE = "Statistics"
STATISTICS_INTRO = "How the work went: throughput, stage durations, success rates, retries and errors."
NO_STATISTICS = "No work has been recorded yet; the charts appear after the first job."
THROUGHPUT_HEADER = "Files finished over time"
STAGES_HEADER = "Stage durations"
STAGES_CAPTION = "Seconds per stage: median and 95th percentile over every recorded run of the stage."
SECONDS_AXIS = "seconds"
MEMORY_HEADER = "Peak memory per file"
MEMORY_CAPTION = (
    "Resident memory at its peak while a file went through the stage: the bounded parser's for "
    "PDFs, web pages, documents and images, the worker's own for the stages it runs itself."
)
MEMORY_MEDIAN = "median MB"
MEMORY_MAX = "largest MB"
SUCCESS_HEADER = "Success by kind and collection"
RETRIES_HEADER = "Retries"
RETRIES_TEXT = "{retries} retries of {retried} stages; {recovered} of them then succeeded."
ERRORS_OVER_TIME_HEADER = "Errors over time"
SEARCHES_HEADER = "Searches"
METRIC_SUCCESS_RATE = "Success rate"
METRIC_QUEUED = "Queued"
METRIC_RUNNING = "Running"
METRIC_ERRORS_24H = "Errors, last 24 h"

# --- errors page ---------------------------------------------------------------------------
ERRORS_TITLE = "Errors"
ERRORS_INTRO = "Failures grouped by what went wrong, with what to do about each."
ERROR_GROUP = "{label} · {count}"
ERROR_GROUP_FILES = "Files"
RETRY_GROUP = "Retry all ({n})"
RETRY_ONE = "Retry"
RETRY_SUBMITTED = "Resubmitted as job `{job_id}`."
RETRY_NOT_RETRYABLE = "Fix the file first: retrying it unchanged would fail the same way."
DETAIL = "Detail (newest)"
ERROR_CLASSES = "Kinds of error"
GROUP_TEXT = "{message}  \n**What to do:** {hint}"

# --- health page ---------------------------------------------------------------------------
HEALTH_TITLE = "Health"
HEALTH_INTRO = "What this dashboard runs on: models, stores, where jobs run, versions."
MODELS_HEADER = "Models"
MODEL_ROLE = {
    "embed": "Embedding",
    "whisper": "Transcription (English)",
    "whisper_multilingual": "Transcription (other languages)",
    "embed_multilingual": "Embedding (multilingual collections)",
}
MODEL_FOUND = "installed at `{where}`"
MODEL_MISSING = "not installed: {message}"
MODEL_INSTALL = "To install: `{hint}`"
MODEL_OFF = "off: `INLET_WHISPER_MULTILINGUAL_MODEL` is empty, so every recording is transcribed as English"
MODEL_LOADED = "loaded in this dashboard"
MODEL_NOT_LOADED = "not loaded here yet (loaded on first search)"
MODEL_IN_WORKER = "loaded by the worker when a recording is ingested"
MODEL_MULTILINGUAL_IN_WORKER = (
    "loaded by the worker when a recording is ingested (it tells the language of each stretch of speech)"
)
MODEL_MULTILINGUAL_EMBED = "loaded when a collection made with `--model usem3` is ingested or searched"
BREAKERS_HEADER = "Circuit breakers"
BREAKERS_CAPTION = (
    "After failing several times in a row, a model or the store is not tried again until its "
    "cool-down ends; meanwhile files fail at once as dependency_unavailable."
)
BREAKER_NAMES = {"embedder": "Embedding model", "transcriber": "Transcription model", "store": "Store"}
BREAKER_CLOSED = "working"
BREAKER_OPEN = "resting after {failures} failures in a row (last: {error_class}: {message})"
BREAKER_HALF_OPEN = "cool-down over: the next file tries it again (last: {error_class}: {message})"
STORES_HEADER = "Stores"
STORE_ROWS = "{rows} rows"
MODE_HEADER = "Where jobs run"
MODE_EMBEDDED = (
    "Embedded: a local worker process, started on demand, runs the jobs on its own Prefect server; "
    "it is not running now and starts with the next job (or run `inlet worker` to keep it up)."
)
MODE_EMBEDDED_UP = (
    "Embedded: the local worker (pid {pid}) runs the jobs on its own Prefect server. "
    "[Open the Prefect UI]({ui}) for flow runs, deployments and schedules."
)
MODE_SERVER = "Server: jobs go to the Prefect server at `{url}`."
SERVER_UP = "The Prefect server answers."
SERVER_DOWN = "The Prefect server at `{url}` does not answer: {reason}"
VERSIONS_HEADER = "Versions"
